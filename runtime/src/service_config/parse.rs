//! The service config's JSON, field by field, into a [`ServiceConfig`]: each rule of
//! `doc/service_config.md` and gRFC A6 checked where its field is read.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use serde_json::Value;
use tonic::Code;

use super::json::At;
use super::{
    AttemptPolicy, HedgingPolicy, MAX_ATTEMPTS_CAP, MethodConfig, RetryPolicy, RetryThrottling,
    ServiceConfig, ServiceConfigError,
};
use crate::LoadBalancing;

type Result<T> = std::result::Result<T, ServiceConfigError>;

pub(super) fn service_config(value: &Value) -> Result<ServiceConfig> {
    let root = At::root(value);
    root.object()?;
    let mut methods = HashMap::new();
    if let Some(list) = root.field("methodConfig") {
        for entry in list.elements()? {
            let config = Arc::new(method_config(&entry)?);
            let Some(names) = entry.field("name") else {
                continue;
            };
            for name in names.elements()? {
                let key = method_name(&name)?;
                match methods.entry(key) {
                    Entry::Occupied(taken) => {
                        return Err(name.error(format!(
                            "duplicate name {}: another methodConfig has it",
                            shown_name(taken.key())
                        )));
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(config.clone());
                    }
                }
            }
        }
    }
    // The list wins over the deprecated single name when both are set.
    let load_balancing = match root.field("loadBalancingConfig") {
        Some(list) => Some(load_balancing_config(&list)?),
        None => match root.field("loadBalancingPolicy") {
            Some(policy) => Some(load_balancing_policy(&policy)?),
            None => None,
        },
    };
    let retry_throttling = root
        .field("retryThrottling")
        .map(|at| retry_throttling(&at))
        .transpose()?;
    let health_check_service = match root.field("healthCheckConfig") {
        Some(health) => {
            health.object()?;
            health
                .field("serviceName")
                .map(|name| name.string().map(str::to_owned))
                .transpose()?
        }
        None => None,
    };
    Ok(ServiceConfig {
        methods,
        load_balancing,
        retry_throttling,
        health_check_service,
    })
}

/// A method name's lookup key: `/service/method`, `service`, or `""` for all methods.
fn method_name(name: &At<'_>) -> Result<String> {
    name.object()?;
    let text = |field: &str| -> Result<String> {
        name.field(field)
            .map(|at| at.string().map(str::to_owned))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let service = text("service")?;
    let method = text("method")?;
    match (service.is_empty(), method.is_empty()) {
        (true, false) => Err(name.error(format!(
            "method {method:?} needs a service; only an empty name may leave the service out"
        ))),
        (true, true) => Ok(String::new()),
        (false, true) => Ok(service),
        (false, false) => Ok(format!("/{service}/{method}")),
    }
}

fn shown_name(key: &str) -> String {
    if key.is_empty() {
        "{} (the default for all methods)".to_owned()
    } else {
        format!("{key:?}")
    }
}

fn method_config(entry: &At<'_>) -> Result<MethodConfig> {
    entry.object()?;
    let retry = entry.field("retryPolicy");
    let hedging = entry.field("hedgingPolicy");
    let policy = match (retry, hedging) {
        (Some(_), Some(hedging)) => {
            return Err(
                hedging.error("a methodConfig may have a retryPolicy or a hedgingPolicy, not both")
            );
        }
        (Some(retry), None) => Some(AttemptPolicy::Retry(retry_policy(&retry)?)),
        (None, Some(hedging)) => Some(AttemptPolicy::Hedging(hedging_policy(&hedging)?)),
        (None, None) => None,
    };
    let size = |field: &str| -> Result<Option<usize>> {
        entry
            .field(field)
            .map(|at| {
                let bytes = at.unsigned()?;
                Ok(usize::try_from(bytes).unwrap_or(usize::MAX))
            })
            .transpose()
    };
    Ok(MethodConfig {
        timeout: entry.field("timeout").map(|at| at.duration()).transpose()?,
        wait_for_ready: entry
            .field("waitForReady")
            .map(|at| at.bool())
            .transpose()?,
        max_request_message_bytes: size("maxRequestMessageBytes")?,
        max_response_message_bytes: size("maxResponseMessageBytes")?,
        policy,
    })
}

/// A field the policy cannot do without.
fn required<'a>(policy: &At<'a>, field: &str) -> Result<At<'a>> {
    policy
        .field(field)
        .ok_or_else(|| policy.error(format!("{field} is required")))
}

/// `maxAttempts`: at least 2 (the first attempt and one more), lowered to gRPC's cap of 5.
fn max_attempts(policy: &At<'_>) -> Result<u32> {
    let at = required(policy, "maxAttempts")?;
    let attempts = at.unsigned()?;
    if attempts < 2 {
        return Err(at.error(format!("must be at least 2, got {attempts}")));
    }
    Ok(u32::try_from(attempts).map_or(MAX_ATTEMPTS_CAP, |n| n.min(MAX_ATTEMPTS_CAP)))
}

fn retry_policy(policy: &At<'_>) -> Result<RetryPolicy> {
    policy.object()?;
    let max_attempts = max_attempts(policy)?;
    let positive_duration = |field: &str| {
        let at = required(policy, field)?;
        let duration = at.duration()?;
        if duration.is_zero() {
            return Err(at.error("must be greater than 0s"));
        }
        Ok(duration)
    };
    let initial_backoff = positive_duration("initialBackoff")?;
    let max_backoff = positive_duration("maxBackoff")?;
    let multiplier = required(policy, "backoffMultiplier")?;
    let backoff_multiplier = multiplier.number()?;
    if backoff_multiplier <= 0.0 || !backoff_multiplier.is_finite() {
        return Err(multiplier.error(format!("must be greater than 0, got {backoff_multiplier}")));
    }
    let codes = required(policy, "retryableStatusCodes")?;
    let retryable_status_codes = status_codes(&codes)?;
    if retryable_status_codes.is_empty() {
        return Err(codes.error("must name at least one status code"));
    }
    Ok(RetryPolicy {
        max_attempts,
        initial_backoff,
        max_backoff,
        backoff_multiplier,
        retryable_status_codes,
    })
}

fn hedging_policy(policy: &At<'_>) -> Result<HedgingPolicy> {
    policy.object()?;
    Ok(HedgingPolicy {
        max_attempts: max_attempts(policy)?,
        hedging_delay: policy
            .field("hedgingDelay")
            .map(|at| at.duration())
            .transpose()?
            .unwrap_or_default(),
        non_fatal_status_codes: policy
            .field("nonFatalStatusCodes")
            .map(|at| status_codes(&at))
            .transpose()?
            .unwrap_or_default(),
    })
}

/// A list of status codes; OK is refused, as it never ends a call in failure.
fn status_codes(list: &At<'_>) -> Result<Vec<Code>> {
    list.elements()?
        .iter()
        .map(|at| {
            let code = at.code()?;
            if code == Code::Ok {
                return Err(at.error("OK is not a failure, so it cannot be retried"));
            }
            Ok(code)
        })
        .collect()
}

fn retry_throttling(at: &At<'_>) -> Result<RetryThrottling> {
    at.object()?;
    let tokens = required(at, "maxTokens")?;
    let max_tokens = tokens.number()?;
    if !(max_tokens > 0.0 && max_tokens <= 1000.0) {
        return Err(tokens.error(format!(
            "must be greater than 0 and at most 1000, got {max_tokens}"
        )));
    }
    let ratio = required(at, "tokenRatio")?;
    let token_ratio = ratio.number()?;
    if token_ratio <= 0.0 || !token_ratio.is_finite() {
        return Err(ratio.error(format!("must be greater than 0, got {token_ratio}")));
    }
    Ok(RetryThrottling {
        max_tokens,
        token_ratio,
    })
}

/// The policies rgrpc implements, by their service config names.
fn supported_policy(name: &str) -> Option<LoadBalancing> {
    match name {
        "pick_first" => Some(LoadBalancing::PickFirst),
        "round_robin" => Some(LoadBalancing::RoundRobin),
        _ => None,
    }
}

/// `loadBalancingConfig`: a list of `{"policy_name": {config}}`, in order of preference;
/// the first policy rgrpc implements wins.
fn load_balancing_config(list: &At<'_>) -> Result<LoadBalancing> {
    let mut seen = Vec::new();
    for entry in list.elements()? {
        let object = entry.object()?;
        let mut names = object.keys();
        let (Some(name), None) = (names.next(), names.next()) else {
            return Err(entry.error(format!(
                "must have exactly one field, the policy's name, got {}",
                object.len()
            )));
        };
        if let Some(policy) = supported_policy(name) {
            return Ok(policy);
        }
        seen.push(name.clone());
    }
    Err(list.error(format!(
        "none of the policies {seen:?} is supported (supported: pick_first, round_robin)"
    )))
}

/// The deprecated `loadBalancingPolicy` name (gRPC accepts any case).
fn load_balancing_policy(at: &At<'_>) -> Result<LoadBalancing> {
    let name = at.string()?;
    supported_policy(&name.to_ascii_lowercase()).ok_or_else(|| {
        at.error(format!(
            "unsupported policy {name:?} (supported: pick_first, round_robin)"
        ))
    })
}

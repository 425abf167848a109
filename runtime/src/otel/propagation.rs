//! W3C trace context across calls: a client call sends its span's OpenTelemetry context in
//! `traceparent` and `tracestate`, and a server call's span takes the context it receives
//! as its parent. Spans are `tracing` spans, made OpenTelemetry spans by the program's
//! `tracing-opentelemetry` layer; without one (or with the span disabled), nothing is sent
//! or read.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Client: writes the context of `span` (the call's) into the request `headers`, replacing
/// any the caller set.
pub(crate) fn inject(span: &Span, headers: &mut HeaderMap) {
    if span.is_disabled() {
        return;
    }
    let context = span.context();
    if context.span().span_context().is_valid() {
        // The span's state replaces the caller's, even when it has none.
        headers.remove(TRACESTATE);
        TraceContextPropagator::new().inject_context(&context, &mut Headers(headers));
    }
}

/// Server: makes the context in the request `headers`, if they carry a valid one, the
/// parent of `span` (the call's, not yet entered).
pub(crate) fn adopt_parent(span: &Span, headers: &HeaderMap) {
    if span.is_disabled() || !headers.contains_key(TRACEPARENT) {
        return;
    }
    // From an empty context, not the thread's current one: the parent is the caller's.
    let parent =
        TraceContextPropagator::new().extract_with_context(&Context::new(), &ReadHeaders(headers));
    if parent.span().span_context().is_valid() {
        // Fails only without an OpenTelemetry layer: then there is nothing to link.
        let _ = span.set_parent(parent);
    }
}

/// Request headers the propagator writes to.
struct Headers<'a>(&'a mut HeaderMap);

impl Injector for Headers<'_> {
    fn set(&mut self, key: &str, value: String) {
        // An empty `tracestate` says nothing: it is left out.
        if value.is_empty() {
            return;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Request headers the propagator reads from.
struct ReadHeaders<'a>(&'a HeaderMap);

impl Extractor for ReadHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

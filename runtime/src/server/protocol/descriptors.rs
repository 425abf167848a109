//! The schemas behind Connect's JSON codec and GET: the descriptors every generated service
//! embeds, in one prost-reflect pool built on the first request that needs it, so a server
//! that only speaks protobuf pays nothing for it.

use std::sync::OnceLock;

use prost::Message as _;
use prost_reflect::{DescriptorPool, MethodDescriptor};
use prost_types::FileDescriptorProto;
use prost_types::method_options::IdempotencyLevel;

/// The services of one server and their files, their pool made once.
pub(crate) struct Descriptors {
    /// Each service's full name and serialized files, as the route table has them.
    services: Vec<(&'static str, &'static [&'static [u8]])>,
    pool: OnceLock<Pool>,
    /// Every method the services declare, as `/package.Service/Method`, sorted: made once,
    /// for interceptors (which ask on every call).
    paths: OnceLock<Vec<Box<str>>>,
}

struct Pool {
    pool: DescriptorPool,
    /// The services whose files did not make a pool, with why: a broken service leaves the
    /// others JSON.
    broken: Vec<(&'static str, String)>,
}

/// Why a method has no descriptor to transcode with.
#[derive(Debug)]
pub(crate) enum Missing {
    /// No such service or method here: the call would be UNIMPLEMENTED.
    Unknown,
    /// The service is served but says nothing of its schema.
    Undescribed(&'static str),
    /// The service's files did not decode or resolve.
    Broken(&'static str, String),
}

impl Missing {
    /// Why JSON (or GET) cannot be served for the method at `path`, in words for the client.
    pub(crate) fn explain(&self, path: &str, what: &str) -> String {
        match self {
            Missing::Unknown => format!("unknown method {path}"),
            Missing::Undescribed(service) => format!(
                "{what} needs the schema of {service}, and it has none: its code was generated \
                 with descriptors=false or it is served as Undescribed; call it with \
                 application/proto"
            ),
            Missing::Broken(service, why) => format!(
                "{what} needs the schema of {service}, whose embedded descriptors are unusable \
                 ({why}); call it with application/proto"
            ),
        }
    }
}

impl Descriptors {
    pub(crate) fn new(services: Vec<(&'static str, &'static [&'static [u8]])>) -> Self {
        Self {
            services,
            pool: OnceLock::new(),
            paths: OnceLock::new(),
        }
    }

    /// Whether a service here declares the method at `path` (`/package.Service/Method`).
    pub(crate) fn declares(&self, path: &str) -> bool {
        let paths = self.paths.get_or_init(|| {
            let pool = self.pool.get_or_init(|| Pool::build(&self.services));
            let mut paths: Vec<Box<str>> = (self.services.iter())
                .filter_map(|(name, _)| pool.pool.get_service_by_name(name))
                .flat_map(|service| {
                    (service.methods())
                        .map(|method| format!("/{}/{}", service.full_name(), method.name()).into())
                        .collect::<Vec<_>>()
                })
                .collect();
            paths.sort_unstable();
            paths
        });
        paths.binary_search_by(|known| (**known).cmp(path)).is_ok()
    }

    /// The descriptor of the method at `path` (`/package.Service/Method`).
    pub(crate) fn method(&self, path: &str) -> Result<MethodDescriptor, Missing> {
        let path = path.strip_prefix('/').unwrap_or(path);
        let (service, method) = path.split_once('/').ok_or(Missing::Unknown)?;
        let &(service, files) = self
            .services
            .iter()
            .find(|(name, _)| *name == service)
            .ok_or(Missing::Unknown)?;
        if files.is_empty() {
            return Err(Missing::Undescribed(service));
        }
        let pool = self.pool.get_or_init(|| Pool::build(&self.services));
        if let Some((_, why)) = pool.broken.iter().find(|(name, _)| *name == service) {
            return Err(Missing::Broken(service, why.clone()));
        }
        let Some(described) = pool.pool.get_service_by_name(service) else {
            return Err(Missing::Broken(
                service,
                "its files do not declare it".to_owned(),
            ));
        };
        described
            .methods()
            .find(|candidate| candidate.name() == method)
            .ok_or(Missing::Unknown)
    }
}

impl Pool {
    /// The well-known types (which generated code leaves out), then each service's files,
    /// a service at a time: a file already in the pool by name is skipped, and a service
    /// whose files fail is left out whole (prost-reflect rolls the batch back).
    fn build(services: &[(&'static str, &'static [&'static [u8]])]) -> Self {
        let mut pool = DescriptorPool::new();
        let mut broken = Vec::new();
        if let Err(why) = add(&mut pool, crate::standard::WELL_KNOWN_FILES) {
            tracing::warn!("the well-known types' descriptors do not build: {why}");
        }
        for &(service, files) in services {
            if files.is_empty() {
                continue;
            }
            if let Err(why) = add(&mut pool, files) {
                tracing::warn!("JSON is off for {service}: its descriptors do not build: {why}");
                broken.push((service, why));
            }
        }
        Self { pool, broken }
    }
}

/// Adds `files` to `pool` as one batch; the first of two files of one name wins.
fn add(pool: &mut DescriptorPool, files: &[&[u8]]) -> Result<(), String> {
    let mut decoded: Vec<FileDescriptorProto> = Vec::with_capacity(files.len());
    for &encoded in files {
        let file = FileDescriptorProto::decode(encoded).map_err(|err| err.to_string())?;
        if !decoded.iter().any(|seen| seen.name() == file.name()) {
            decoded.push(file);
        }
    }
    pool.add_file_descriptor_protos(decoded)
        .map_err(|err| err.to_string())
}

/// Whether `method` is declared free of side effects (`idempotency_level =
/// NO_SIDE_EFFECTS`), which is what lets Connect call it with GET.
pub(crate) fn has_no_side_effects(method: &MethodDescriptor) -> bool {
    method
        .method_descriptor_proto()
        .options
        .as_ref()
        .is_some_and(|options| options.idempotency_level() == IdempotencyLevel::NoSideEffects)
}

#[cfg(test)]
mod tests {
    use prost_types::method_options::IdempotencyLevel;
    use prost_types::{
        DescriptorProto, MethodDescriptorProto, MethodOptions, ServiceDescriptorProto,
    };

    use super::*;

    /// `t.proto`: service `t.S` with `Get` (no side effects) and `Put`, serialized as the
    /// plugin embeds files.
    fn files() -> &'static [&'static [u8]] {
        let method = |name: &str, level: Option<IdempotencyLevel>| MethodDescriptorProto {
            name: Some(name.into()),
            input_type: Some(".t.M".into()),
            output_type: Some(".t.M".into()),
            options: level.map(|level| MethodOptions {
                idempotency_level: Some(level.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let file = FileDescriptorProto {
            name: Some("t.proto".into()),
            package: Some("t".into()),
            message_type: vec![DescriptorProto {
                name: Some("M".into()),
                ..Default::default()
            }],
            service: vec![ServiceDescriptorProto {
                name: Some("S".into()),
                method: vec![
                    method("Get", Some(IdempotencyLevel::NoSideEffects)),
                    method("Put", Some(IdempotencyLevel::Idempotent)),
                ],
                ..Default::default()
            }],
            syntax: Some("proto3".into()),
            ..Default::default()
        };
        let encoded: &'static [u8] = Box::leak(file.encode_to_vec().into_boxed_slice());
        Box::leak(Box::new([encoded]))
    }

    #[test]
    fn a_method_is_found_by_its_path_with_its_idempotency() {
        let descriptors = Descriptors::new(vec![("t.S", files()), ("u.Undescribed", &[])]);
        let get = descriptors.method("/t.S/Get").unwrap();
        assert_eq!(get.input().full_name(), "t.M");
        assert!(has_no_side_effects(&get));
        assert!(!has_no_side_effects(
            &descriptors.method("/t.S/Put").unwrap()
        ));
        assert!(matches!(
            descriptors.method("/t.S/Nope"),
            Err(Missing::Unknown)
        ));
        assert!(matches!(
            descriptors.method("/v.S/Get"),
            Err(Missing::Unknown)
        ));
        assert!(matches!(
            descriptors.method("no-slash"),
            Err(Missing::Unknown)
        ));
        let missing = descriptors.method("/u.Undescribed/Get").unwrap_err();
        assert!(
            missing
                .explain("/u.Undescribed/Get", "JSON")
                .starts_with("JSON needs the schema of u.Undescribed, and it has none"),
            "{missing:?}"
        );
    }

    #[test]
    fn files_that_do_not_decode_leave_only_their_service_out() {
        const GARBAGE: &[&[u8]] = &[b"\xff\xff"];
        let descriptors = Descriptors::new(vec![("bad.S", GARBAGE), ("t.S", files())]);
        assert!(matches!(
            descriptors.method("/bad.S/Get"),
            Err(Missing::Broken("bad.S", _))
        ));
        assert!(descriptors.method("/t.S/Get").is_ok());
    }
}

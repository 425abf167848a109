// Every golden file of `fixtures/`, each in a module path matching its proto package.
// Included by this crate (edition 2024) and by `tests/edition2021`, so both editions compile
// exactly the same list. `include!` paths below are relative to this file.

/// `proto/hello.proto` (package `hello`).
pub mod hello {
    include!("../../fixtures/hello/expected/hello.rs");
}

/// `fixtures/packages`: nested packages, a package-less file and cross-package types.
pub mod packages {
    include!("../../fixtures/packages/expected/_.rs");

    pub mod a {
        pub mod b {
            include!("../../fixtures/packages/expected/a.b.rs");
        }
    }

    pub mod c {
        include!("../../fixtures/packages/expected/c.rs");
    }
}

/// `fixtures/comments`, through its include file.
pub mod comments_fixture {
    include!("../../fixtures/comments/expected/mod.rs");
}

/// `fixtures/multi_file`, through its include file.
pub mod multi_file_fixture {
    include!("../../fixtures/multi_file/expected/mod.rs");
}

/// `fixtures/naming`, through its include file.
pub mod naming_fixture {
    include!("../../fixtures/naming/expected/mod.rs");
}

/// `fixtures/nested_packages`, through its include file.
pub mod nested_packages_fixture {
    include!("../../fixtures/nested_packages/expected/mod.rs");
}

/// `fixtures/proto2`, through its include file.
pub mod proto2_fixture {
    include!("../../fixtures/proto2/expected/mod.rs");
}

/// `fixtures/services`, through its include file.
pub mod services_fixture {
    include!("../../fixtures/services/expected/mod.rs");
}

/// `fixtures/types`, through its include file.
pub mod types_fixture {
    include!("../../fixtures/types/expected/mod.rs");
}

/// `fixtures/well_known`, through its include file.
pub mod well_known_fixture {
    include!("../../fixtures/well_known/expected/mod.rs");
}

/// `fixtures/prost_options`: prost-build attributes and field types passed through.
pub mod prost_options_fixture {
    include!("../../fixtures/prost_options/expected/mod.rs");
}

/// `fixtures/services_only`: generated with `messages=false`, finding its messages through
/// `extern_path=.relay=crate::relay_messages`. These stand in for another generator's.
pub mod relay_messages {
    /// The message `relay.Ping`, as another generator would write it.
    #[derive(Clone, Copy, PartialEq, Eq, ::rgrpc::prost::Message)]
    #[prost(prost_path = "::rgrpc::prost")]
    pub struct Ping {
        /// Its sequence number.
        #[prost(uint64, tag = "1")]
        pub seq: u64,
    }
}

/// `fixtures/services_only`, through its include file.
pub mod services_only_fixture {
    include!("../../fixtures/services_only/expected/mod.rs");
}

/// `fixtures/file_layout` (`layout=file`): package `split.v1` spans two directories, each
/// with its own include file; both go in the one module of the package.
pub mod file_layout_fixture {
    pub mod split {
        pub mod v1 {
            include!("../../fixtures/file_layout/expected/split/one/split.v1.mod.rs");
            include!("../../fixtures/file_layout/expected/split/two/split.v1.mod.rs");
        }
    }

    pub mod other {
        include!("../../fixtures/file_layout/expected/other/other.mod.rs");
    }
}

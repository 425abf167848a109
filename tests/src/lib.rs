//! Every golden file of `fixtures/`, compiled as a user's crate would compile it: under
//! `deny(warnings)`, each in a module path matching its proto package. If a golden file
//! stops compiling, or prost and our resolver disagree on a type's path, this crate fails.
//!
//! The end-to-end tests in `tests/` use these modules as their generated code.

#![deny(warnings)]

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

//! The golden files compiled under edition 2021: generated code must build for users who
//! have not moved to 2024 (the main test crate covers 2024). Same layout as `rgrpc-tests`.

#![deny(warnings)]

pub mod hello {
    include!("../../../fixtures/hello/expected/hello.rs");
}

pub mod packages {
    include!("../../../fixtures/packages/expected/_.rs");

    pub mod a {
        pub mod b {
            include!("../../../fixtures/packages/expected/a.b.rs");
        }
    }

    pub mod c {
        include!("../../../fixtures/packages/expected/c.rs");
    }
}

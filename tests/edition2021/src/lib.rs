//! The golden files compiled under edition 2021: generated code must build for users who
//! have not moved to 2024 (the main test crate covers 2024). The same list as `rgrpc-tests`.

#![deny(warnings)]

include!("../../src/fixtures.rs");

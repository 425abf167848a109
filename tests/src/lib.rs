//! Every golden file of `fixtures/`, compiled as a user's crate would compile it: under
//! `deny(warnings)`, each in a module path matching its proto package. If a golden file
//! stops compiling, or prost and our resolver disagree on a type's path, this crate fails.
//!
//! The end-to-end tests in `tests/` use these modules as their generated code.

#![deny(warnings)]

include!("fixtures.rs");

//! Test support: a naive RFC 6962 implementation to check the fast code
//! against. Compiled only with the `testonly` feature; never used in
//! production paths.

pub mod reference;

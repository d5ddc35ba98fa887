//! The store passes the conformance suite every backend runs.

mod common;

#[test]
fn conformance() {
    vellum_store::conformance::run_all(common::fresh);
}

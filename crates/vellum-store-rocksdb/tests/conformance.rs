//! The store passes the conformance suite every backend runs: with its
//! default node cache, without one, and with one so small that most reads
//! mix cached and stored nodes.

mod common;

use vellum_store_rocksdb::StoreOptions;

#[test]
fn conformance() {
    vellum_store::conformance::run_all(common::fresh);
}

#[test]
fn conformance_without_a_node_cache() {
    let options = StoreOptions {
        node_cache_entries: 0,
        ..common::small_options()
    };
    vellum_store::conformance::run_all(|| common::fresh_with(&options));
}

#[test]
fn conformance_with_a_tiny_node_cache() {
    let options = StoreOptions {
        node_cache_entries: 8,
        ..common::small_options()
    };
    vellum_store::conformance::run_all(|| common::fresh_with(&options));
}

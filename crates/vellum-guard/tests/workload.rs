//! The synthetic workload of `vellum-bench anomalies`, small: every
//! detector meets its targets on the injected run (recall >= 0.95 at
//! precision >= 0.9), and the clean run of the same traffic raises no
//! alert at all. Simulated time: the result does not depend on the
//! machine.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use vellum_guard::AlertKind;
use vellum_guard::workload::{Spec, run, score};

fn spec(inject: bool) -> Spec {
    Spec {
        seed: 7,
        actors: 2_000,
        duration_ms: 40 * 60_000,
        rate: 50.0,
        injections: 5,
        inject,
    }
}

#[test]
fn every_detector_meets_its_targets_and_the_clean_run_is_silent() {
    let injected = run(&spec(true), &Spec::config()).unwrap();
    let scores = score(&injected.injected, &injected.alerts);
    for s in &scores {
        eprintln!("{s:?}");
    }
    for s in &scores {
        assert!(s.meets_targets(), "{:?} misses its targets: {s:?}", s.kind);
    }
    assert_eq!(scores.len(), AlertKind::ALL.len());

    let clean = run(&spec(false), &Spec::config()).unwrap();
    assert!(clean.injected.is_empty());
    assert!(
        clean.alerts.is_empty(),
        "the clean run alerted: {:#?}",
        clean.alerts
    );
}

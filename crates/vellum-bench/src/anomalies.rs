//! `anomalies`: the detectors of `vellum-guard` against a seeded synthetic
//! workload with anomalies of every kind injected at known times
//! (`vellum_guard::workload`: normal traffic, what is injected, how alerts
//! are scored). Simulated time: no server, no clock in the figures that
//! matter, and the same seed gives the same alerts on any machine.
//!
//! Two runs of the same normal traffic: one with the injections, scored
//! per detector (precision, recall, detection delay in simulated time),
//! and a clean one, which must raise no alert at all. Targets: recall >=
//! 0.95 at precision >= 0.9 for every detector, zero alerts on the clean
//! run; a missed target makes the exit status 1.
//!
//! Beside them, for information only (it is wall-clock time on a shared
//! machine): how long the detectors took, against generating the same
//! observations without them.

use std::time::Instant;

use anyhow::anyhow;
use serde_json::json;
use vellum_guard::workload::{KindScore, Spec, Workload, run, score};

use crate::cli::AnomaliesArgs;
use crate::report::{Output, thousands};

/// Runs the measurement; `Ok(false)` if a target was missed.
pub fn run_anomalies(a: AnomaliesArgs, out: &mut Output) -> anyhow::Result<bool> {
    let duration_ms = u64::try_from(a.duration.as_millis()).unwrap_or(u64::MAX);
    let spec = |inject| Spec {
        seed: a.seed,
        actors: a.actors,
        duration_ms,
        rate: a.rate as f64,
        injections: a.injections,
        inject,
    };
    let cfg = Spec::config();

    let t = Instant::now();
    let generated = Workload::new(&spec(true)).map_err(|e| anyhow!(e))?.count() as u64;
    let generation_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let injected = run(&spec(true), &cfg).map_err(|e| anyhow!(e))?;
    let detection_s = t.elapsed().as_secs_f64();
    let clean = run(&spec(false), &cfg).map_err(|e| anyhow!(e))?;
    let scores = score(&injected.injected, &injected.alerts);

    let met = scores.iter().all(KindScore::meets_targets) && clean.alerts.is_empty();
    let per_obs_us = (detection_s - generation_s).max(0.0) / injected.observations as f64 * 1e6;
    for s in &scores {
        out.result(&json!({
            "kind": "anomalies-detector",
            "detector": s.kind.as_str(),
            "injected": s.injected,
            "detected": s.detected,
            "alerts": s.alerts,
            "true_alerts": s.true_alerts,
            "precision": s.precision,
            "recall": s.recall,
            "delay_median_ms": s.delay_median_ms,
            "delay_max_ms": s.delay_max_ms,
            "meets_targets": s.meets_targets(),
        }));
    }
    out.result(&json!({
        "kind": "anomalies",
        "seed": a.seed,
        "actors": a.actors,
        "duration_ms": duration_ms,
        "rate": a.rate,
        "injections_per_detector": a.injections,
        "observations": injected.observations,
        "alerts": injected.alerts.len(),
        "injected": injected.injected.len(),
        "clean_observations": clean.observations,
        "clean_alerts": clean.alerts.len(),
        "clean_alert_list": clean.alerts,
        "tracked_at_end": injected.tracked,
        "targets_met": met,
        "detection_s": detection_s,
        "generation_s": generation_s,
        "detectors_us_per_observation": per_obs_us,
    }));

    let mut lines = vec![format!(
        "{:<22} {:>8} {:>8} {:>7} {:>6} {:>9} {:>7} {:>10} {:>10}  target",
        "detector",
        "injected",
        "detected",
        "alerts",
        "true",
        "precision",
        "recall",
        "delay p50",
        "delay max"
    )];
    let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
    let secs = |v: Option<u64>| v.map_or("-".to_owned(), |v| format!("{:.1} s", v as f64 / 1000.0));
    for s in &scores {
        lines.push(format!(
            "{:<22} {:>8} {:>8} {:>7} {:>6} {:>9} {:>7} {:>10} {:>10}  {}",
            s.kind.as_str(),
            s.injected,
            s.detected,
            s.alerts,
            s.true_alerts,
            opt(s.precision),
            opt(s.recall),
            secs(s.delay_median_ms),
            secs(s.delay_max_ms),
            if s.meets_targets() { "ok" } else { "MISSED" },
        ));
    }
    lines.push(format!(
        "clean run: {} observations, {} alerts (target: none)  {}",
        thousands(clean.observations as f64),
        clean.alerts.len(),
        if clean.alerts.is_empty() {
            "ok"
        } else {
            "MISSED"
        },
    ));
    for alert in clean.alerts.iter().take(10) {
        lines.push(format!(
            "  {} {} at {}",
            alert.kind, alert.subject, alert.at_ms
        ));
    }
    lines.push(format!(
        "injected run: {} observations, {} injections, {} alerts; tracked at the end: {} actors, {} submitters, {} identities, {} addresses, {} alerted subjects",
        thousands(injected.observations as f64),
        injected.injected.len(),
        injected.alerts.len(),
        injected.tracked.rate_actors,
        injected.tracked.rate_submitters,
        injected.tracked.denied_identities,
        injected.tracked.denied_addresses,
        injected.tracked.alerted_subjects,
    ));
    lines.push(format!(
        "wall clock (information only): generating {:.2} s, generating and detecting {:.2} s: about {:.2} us per observation in the detectors",
        generation_s, detection_s, per_obs_us,
    ));
    if generated != injected.observations {
        return Err(anyhow!(
            "the workload is not deterministic: {generated} observations, then {}",
            injected.observations
        ));
    }
    out.section(
        &format!(
            "anomalies (seed {}, {} actors, {} simulated, {}/s, up to {} injections per detector)",
            a.seed,
            thousands(a.actors as f64),
            simulated(a.duration),
            a.rate,
            a.injections,
        ),
        lines,
    );
    Ok(met)
}

/// A simulated length for people: `2h`, `90min`, `45s`.
fn simulated(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s > 0 && s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s > 0 && s.is_multiple_of(60) => format!("{}min", s / 60),
        _ => format!("{s}s"),
    }
}

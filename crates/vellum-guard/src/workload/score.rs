//! Alerts against the injected truth, per detector: precision, recall and
//! detection delay.

use std::collections::HashMap;

use serde::Serialize;

use super::Injected;
use crate::{Alert, AlertKind};

/// How long after an injection's last observation an alert still counts
/// as about it: two windows of the rate detectors.
pub const GRACE_MS: u64 = 120_000;

/// One detector's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindScore {
    /// The detector.
    pub kind: AlertKind,
    /// Anomalies injected.
    pub injected: usize,
    /// Of those, how many at least one alert named.
    pub detected: usize,
    /// Alerts raised.
    pub alerts: usize,
    /// Of those, how many named an injection under way.
    pub true_alerts: usize,
    /// `true_alerts / alerts`; `None` without alerts.
    pub precision: Option<f64>,
    /// `detected / injected`; `None` without injections.
    pub recall: Option<f64>,
    /// Median of the delays from an injection's start to its first alert.
    pub delay_median_ms: Option<u64>,
    /// The largest of those delays.
    pub delay_max_ms: Option<u64>,
}

impl KindScore {
    /// The targets of an injected run: something injected, recall >= 0.95
    /// and precision >= 0.9.
    pub fn meets_targets(&self) -> bool {
        self.injected > 0
            && self.recall.is_some_and(|r| r >= 0.95)
            && self.precision.is_some_and(|p| p >= 0.9)
    }
}

/// Scores `alerts` against `injected`, one line per kind in
/// [`AlertKind::ALL`] order.
pub fn score(injected: &[Injected], alerts: &[Alert]) -> Vec<KindScore> {
    let mut by_subject: HashMap<(AlertKind, &str), Vec<usize>> = HashMap::new();
    for (i, j) in injected.iter().enumerate() {
        by_subject
            .entry((j.kind, j.subject.as_str()))
            .or_default()
            .push(i);
    }
    let mut first_alert: Vec<Option<u64>> = vec![None; injected.len()];
    let mut alerts_of = [0usize; 12];
    let mut true_of = [0usize; 12];
    for a in alerts {
        alerts_of[a.kind.index()] += 1;
        let hit = by_subject
            .get(&(a.kind, a.subject.as_str()))
            .into_iter()
            .flatten()
            .find(|&&i| {
                let j = &injected[i];
                (j.start_ms..=j.end_ms + GRACE_MS).contains(&a.at_ms)
            });
        if let Some(&i) = hit {
            true_of[a.kind.index()] += 1;
            first_alert[i] = Some(first_alert[i].map_or(a.at_ms, |t| t.min(a.at_ms)));
        }
    }
    AlertKind::ALL
        .into_iter()
        .map(|kind| {
            let of_kind: Vec<usize> = (0..injected.len())
                .filter(|&i| injected[i].kind == kind)
                .collect();
            let mut delays: Vec<u64> = of_kind
                .iter()
                .filter_map(|&i| first_alert[i].map(|t| t - injected[i].start_ms))
                .collect();
            delays.sort_unstable();
            let (alerts, true_alerts) = (alerts_of[kind.index()], true_of[kind.index()]);
            KindScore {
                kind,
                injected: of_kind.len(),
                detected: delays.len(),
                alerts,
                true_alerts,
                precision: (alerts > 0).then(|| true_alerts as f64 / alerts as f64),
                recall: (!of_kind.is_empty()).then(|| delays.len() as f64 / of_kind.len() as f64),
                delay_median_ms: (!delays.is_empty()).then(|| delays[delays.len() / 2]),
                delay_max_ms: delays.last().copied(),
            }
        })
        .collect()
}

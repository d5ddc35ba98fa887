//! Scraping `GET /metrics` and reading it with a Prometheus text-format
//! parser nobody here wrote (`prometheus-parse`).

use std::collections::HashMap;

pub use prometheus_parse::{HistogramCount, Sample, Value};

/// Scrapes `base/metrics` (a whole exposition, content type checked by the
/// caller if it cares) and parses it.
pub async fn scrape(base: &str) -> Vec<Sample> {
    let r = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(r.status(), 200, "GET {base}/metrics");
    let text = r.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "not a whole exposition: {text}");
    parse(&text)
}

/// Parses an exposition.
pub fn parse(text: &str) -> Vec<Sample> {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).unwrap().samples
}

/// The sample `name` that has all of `labels` (and maybe more), if any.
pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    let want: HashMap<&str, &str> = labels.iter().copied().collect();
    samples.iter().find(|s| {
        s.metric == name
            && want
                .iter()
                .all(|(k, v)| s.labels.get(k).is_some_and(|x| x == *v))
    })
}

/// The value of the counter or gauge `name` with `labels`; fails the test
/// if there is none.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let s = find(samples, name, labels).unwrap_or_else(|| panic!("no sample {name} {labels:?}"));
    match s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{name}: unexpected {other:?}"),
    }
}

/// The cumulative buckets of the histogram `name` with `labels`.
pub fn histogram(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Vec<HistogramCount> {
    let s = find(samples, name, labels).unwrap_or_else(|| panic!("no histogram {name} {labels:?}"));
    match &s.value {
        Value::Histogram(h) => h.clone(),
        other => panic!("{name}: not a histogram: {other:?}"),
    }
}

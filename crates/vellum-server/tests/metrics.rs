//! `GET /metrics`: the Prometheus exposition, parsed by a parser nobody here
//! wrote (`prometheus-parse`), says what the log did.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::collections::HashMap;

use prometheus_parse::{Sample, Scrape, Value};
use vellum_proto::v1 as pb;
use vellum_testkit::TestServer;
use vellum_testkit::requests::{append, entries};

/// Scrapes `base/metrics`: the content type, and the samples by name.
async fn scrape(http: &reqwest::Client, base: &str) -> Vec<Sample> {
    let r = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        vellum_server::metrics::CONTENT_TYPE
    );
    let text = r.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "not a whole exposition: {text}");
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    Scrape::parse(lines).unwrap().samples
}

/// The value of the sample `name` with `labels` (all of them).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: HashMap<&str, &str> = labels.iter().copied().collect();
    let s = samples
        .iter()
        .find(|s| {
            s.metric == name
                && want
                    .iter()
                    .all(|(k, v)| s.labels.get(k).is_some_and(|x| x == *v))
        })
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"));
    match s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{name}: unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_say_what_the_log_did() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path()).http().start().await;
    server.first_checkpoint().await;
    let base = server.http_url().unwrap();
    let http = reqwest::Client::new();

    let before = scrape(&http, &base).await;
    assert_eq!(value(&before, "vellum_tree_size", &[]), 0.0);
    assert_eq!(value(&before, "vellum_append_calls_total", &[]), 0.0);

    let mut client = server.client().await;
    client
        .append(append(entries("m", 7), pb::WaitFor::Checkpoint))
        .await
        .unwrap();
    // The same entries again: answered as duplicates.
    client
        .append(append(entries("m", 3), pb::WaitFor::Durable))
        .await
        .unwrap();

    let after = scrape(&http, &base).await;
    assert_eq!(value(&after, "vellum_tree_size", &[]), 7.0);
    assert_eq!(value(&after, "vellum_checkpoint_size", &[]), 7.0);
    assert_eq!(value(&after, "vellum_append_calls_total", &[]), 2.0);
    assert_eq!(value(&after, "vellum_entries_answered_total", &[]), 10.0);
    assert_eq!(value(&after, "vellum_entries_duplicate_total", &[]), 3.0);
    assert!(value(&after, "vellum_rounds_total", &[]) >= 2.0);
    assert!(value(&after, "vellum_round_duration_seconds_total", &[]) > 0.0);
    assert_eq!(value(&after, "vellum_queue_entries", &[]), 0.0);
    assert!(value(&after, "vellum_checkpoint_age_seconds", &[]) >= 0.0);
    // This scrape's connection is open on the HTTP listener, the client's
    // on the gRPC one.
    assert!(value(&after, "vellum_connections_open", &[("listener", "http")]) >= 1.0);
    assert!(value(&after, "vellum_connections_open", &[("listener", "grpc")]) >= 1.0);
    assert_eq!(
        value(
            &after,
            "vellum_requests_denied_total",
            &[("reason", "unauthenticated")]
        ),
        0.0
    );
    server.stop().await;
}

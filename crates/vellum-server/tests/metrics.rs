//! `GET /metrics`: the Prometheus exposition, parsed by a parser nobody here
//! wrote (`prometheus-parse`), says what the log did: appends and rounds
//! (with their histograms), checkpoints, storage, events by outcome, and
//! the listeners' connections and refusals.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use vellum_event::{Actor, Outcome, OutcomeResult, Resource, Submitted};
use vellum_proto::v1 as pb;
use vellum_server::LogKind;
use vellum_testkit::TestServer;
use vellum_testkit::metrics::{histogram, scrape, value};
use vellum_testkit::requests::{append, entries};

/// Every exposition is served with the OpenMetrics content type.
async fn content_type(base: &str) -> String {
    let r = reqwest::get(format!("{base}/metrics")).await.unwrap();
    r.headers()["content-type"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_say_what_the_log_did() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path()).http().start().await;
    server.first_checkpoint().await;
    let base = server.http_url().unwrap();
    assert_eq!(
        content_type(&base).await,
        vellum_server::metrics::CONTENT_TYPE
    );
    let log = [("log", "default")];

    let before = scrape(&base).await;
    assert_eq!(value(&before, "vellum_tree_size", &log), 0.0);
    assert_eq!(value(&before, "vellum_append_calls_total", &log), 0.0);

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

    let after = scrape(&base).await;
    assert_eq!(value(&after, "vellum_tree_size", &log), 7.0);
    assert_eq!(value(&after, "vellum_checkpoint_size", &log), 7.0);
    assert_eq!(value(&after, "vellum_append_calls_total", &log), 2.0);
    assert_eq!(value(&after, "vellum_entries_answered_total", &log), 10.0);
    assert_eq!(value(&after, "vellum_entries_duplicate_total", &log), 3.0);
    let rounds = value(&after, "vellum_rounds_total", &log);
    assert!(rounds >= 2.0);
    assert_eq!(value(&after, "vellum_queue_entries", &log), 0.0);
    assert!(value(&after, "vellum_checkpoint_age_seconds", &log) >= 0.0);

    // Round sizes: every round in a bucket, the entries summed; the two
    // calls were rounds of 7 and 3 entries (unless the pool split them).
    let sizes = histogram(&after, "vellum_round_entries", &log);
    assert_eq!(sizes.last().unwrap().less_than, f64::INFINITY);
    assert_eq!(sizes.last().unwrap().count, rounds);
    assert_eq!(value(&after, "vellum_round_entries_sum", &log), 10.0);
    let up_to = |h: &[vellum_testkit::metrics::HistogramCount], bound: f64| {
        h.iter().find(|b| b.less_than == bound).unwrap().count
    };
    assert_eq!(up_to(&sizes, 1.0), 0.0, "no round of 1 entry");
    assert_eq!(up_to(&sizes, 8.0), rounds, "no round above 8 entries");
    // Durations: as many as rounds and calls, all within the last bucket.
    let d = histogram(&after, "vellum_round_duration_seconds", &log);
    assert_eq!(d.last().unwrap().count, rounds);
    assert!(value(&after, "vellum_round_duration_seconds_sum", &log) > 0.0);
    let seq = histogram(&after, "vellum_append_sequencing_seconds", &log);
    assert_eq!(seq.last().unwrap().count, 2.0, "one per accepted call");
    assert!(
        seq.windows(2).all(|w| w[0].count <= w[1].count),
        "cumulative buckets"
    );

    // The storage engine (RocksDB): no stall on an idle test log, and
    // the log's bytes are somewhere (memtables until a flush).
    assert_eq!(value(&after, "vellum_storage_write_stopped", &log), 0.0);
    assert!(
        value(&after, "vellum_storage_data_bytes", &log)
            + value(&after, "vellum_storage_memtable_bytes", &log)
            > 0.0
    );
    assert!(value(&after, "vellum_storage_pending_compaction_bytes", &log) >= 0.0);
    // The self-audit runs (on by default) and found nothing.
    assert!(value(&after, "vellum_self_audit_pass", &log) >= 1.0);
    assert_eq!(value(&after, "vellum_self_audit_failed", &log), 0.0);
    // Alerts by kind: every kind, none raised.
    assert_eq!(
        value(
            &after,
            "vellum_alerts_total",
            &[("kind", "rate_spike_actor")]
        ),
        0.0
    );
    assert_eq!(
        value(
            &after,
            "vellum_alerts_total",
            &[("kind", "self_audit_failed")]
        ),
        0.0
    );
    // A raw log has no events figures.
    assert!(vellum_testkit::metrics::find(&after, "vellum_events_recorded_total", &[]).is_none());

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

fn event(id: &str, result: OutcomeResult, event_id: Option<&str>) -> Submitted {
    Submitted {
        actor: Actor {
            id: "alice".into(),
            kind: "user".into(),
            on_behalf_of: None,
        },
        action: "document.read".into(),
        resource: Resource {
            kind: "document".into(),
            id: id.into(),
        },
        outcome: Outcome {
            result: Some(result),
            reason: None,
        },
        event_time: "2026-12-06T03:00:00Z".into(),
        attributes: Default::default(),
        payload: None,
        event_id: event_id.map(Into::into),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_events_by_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path())
        .http()
        .with(|o| o.kind = LogKind::Events)
        .start()
        .await;
    let base = server.http_url().unwrap();
    let mut c = server.client().await;
    let record = |e: Submitted| pb::RecordRequest {
        event: Some((&e).into()),
        wait: pb::WaitFor::Durable as i32,
    };
    for (i, r) in [
        OutcomeResult::Success,
        OutcomeResult::Success,
        OutcomeResult::Denied,
        OutcomeResult::Failure,
        OutcomeResult::Denied,
        OutcomeResult::Denied,
    ]
    .into_iter()
    .enumerate()
    {
        c.record(record(event(
            &format!("doc-{i}"),
            r,
            Some(&format!("e{i}")),
        )))
        .await
        .unwrap();
    }
    // A retry: the first index again, counted as a duplicate.
    let again = c
        .record(record(event("doc-0", OutcomeResult::Success, Some("e0"))))
        .await
        .unwrap();
    assert!(again.into_inner().duplicate);
    // Two refusals: no outcome, and an empty action.
    let mut bad = event("doc-9", OutcomeResult::Success, None);
    bad.outcome.result = None;
    assert!(c.record(record(bad)).await.is_err());
    let mut bad = event("doc-9", OutcomeResult::Success, None);
    bad.action = String::new();
    assert!(c.record(record(bad)).await.is_err());

    let m = scrape(&base).await;
    let by = |outcome| {
        value(
            &m,
            "vellum_events_recorded_total",
            &[("log", "default"), ("outcome", outcome)],
        )
    };
    assert_eq!(
        (by("success"), by("failure"), by("denied")),
        (2.0, 1.0, 3.0)
    );
    assert_eq!(
        value(&m, "vellum_events_duplicate_total", &[("log", "default")]),
        1.0
    );
    let refused = |reason| {
        value(
            &m,
            "vellum_events_refused_total",
            &[("log", "default"), ("reason", reason)],
        )
    };
    assert_eq!((refused("invalid"), refused("failed")), (2.0, 0.0));
    // Nothing refused reached the tree: six events.
    assert_eq!(value(&m, "vellum_tree_size", &[("log", "default")]), 6.0);
    server.stop().await;
}

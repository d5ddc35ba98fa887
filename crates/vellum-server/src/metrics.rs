//! Prometheus metrics at `GET /metrics` on the HTTP listener.
//!
//! Nothing is counted twice: the log and the listeners already keep their
//! counters ([`vellum_log::Stats`], [`ServerStats`]); a scrape reads them
//! and writes the text exposition format (OpenMetrics 1.0, which
//! Prometheus reads) with the Prometheus project's `prometheus-client`
//! crate. Names and units follow the Prometheus conventions: a `vellum_`
//! prefix, base units (seconds, bytes), `_total` on counters.
//!
//! When access control is on, `/metrics` needs the `audit` role, as the
//! tiles do: the counters say how busy the log is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use vellum_log::Log;

use crate::ServerStats;
use crate::net::ConnStats;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What a scrape reads.
#[derive(Debug)]
struct Sources {
    log: Log,
    server: Arc<ServerStats>,
    /// When the published checkpoint last changed, and its size then.
    published: Mutex<(u64, Instant)>,
}

/// The `/metrics` route for `log` and the server's counters.
pub fn router(log: Log, server: Arc<ServerStats>) -> Router {
    let size = log.published().map_or(0, |p| p.size.get());
    let sources = Arc::new(Sources {
        log: log.clone(),
        server,
        published: Mutex::new((size, Instant::now())),
    });
    // The checkpoint's age: each newly published checkpoint resets it.
    let watched = Arc::downgrade(&sources);
    let mut published = log.subscribe_published();
    tokio::spawn(async move {
        while published.changed().await.is_ok() {
            let size = published.borrow().as_ref().map_or(0, |p| p.size.get());
            let Some(s) = watched.upgrade() else { return };
            *s.published.lock().unwrap_or_else(|e| e.into_inner()) = (size, Instant::now());
        }
    });
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(sources)));
    Router::new()
        .route("/metrics", get(serve))
        .with_state(Arc::new(registry))
}

async fn serve(State(registry): State<Arc<Registry>>) -> axum::response::Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &registry) {
        Ok(()) => (
            [
                (http::header::CONTENT_TYPE, CONTENT_TYPE),
                (http::header::CACHE_CONTROL, "no-store"),
            ],
            text,
        )
            .into_response(),
        Err(_) => (
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the metrics\n",
        )
            .into_response(),
    }
}

#[derive(Debug)]
struct Scrape(Arc<Sources>);

fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// One counter.
fn counter(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: impl prometheus_client::encoding::EncodeCounterValue,
) -> std::fmt::Result {
    let c = ConstCounter::new(value);
    c.encode(e.encode_descriptor(name, help, unit, c.metric_type())?)
}

/// One gauge.
fn gauge(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: impl prometheus_client::encoding::EncodeGaugeValue,
) -> std::fmt::Result {
    let g = ConstGauge::new(value);
    g.encode(e.encode_descriptor(name, help, unit, g.metric_type())?)
}

/// A counter with one value per listener.
fn per_listener(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    grpc: u64,
    http: u64,
    gauge_type: bool,
) -> std::fmt::Result {
    let ty = if gauge_type {
        ConstGauge::new(0u64).metric_type()
    } else {
        ConstCounter::new(0u64).metric_type()
    };
    let mut m = e.encode_descriptor(name, help, None, ty)?;
    for (listener, v) in [("grpc", grpc), ("http", http)] {
        let labels = [("listener", listener)];
        let fm = m.encode_family(&labels)?;
        if gauge_type {
            ConstGauge::new(v).encode(fm)?;
        } else {
            ConstCounter::new(v).encode(fm)?;
        }
    }
    Ok(())
}

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let s = &self.0;
        let log = &s.log;
        let st = log.stats();
        let e = &mut e;
        counter(
            e,
            "vellum_append_calls",
            "Append calls accepted into the queue.",
            None,
            load(&st.accepted),
        )?;
        counter(
            e,
            "vellum_append_refused_full",
            "Append calls refused at once (RESOURCE_EXHAUSTED) for lack of queue space or by expected wait.",
            None,
            load(&st.pushbacks),
        )?;
        counter(
            e,
            "vellum_entries_answered",
            "Entries answered by sequencing rounds, duplicates included.",
            None,
            load(&st.round_entries),
        )?;
        counter(
            e,
            "vellum_entries_duplicate",
            "Entries that were already in the log.",
            None,
            load(&st.duplicates),
        )?;
        counter(
            e,
            "vellum_rounds",
            "Sequencing rounds committed.",
            None,
            load(&st.rounds),
        )?;
        counter(
            e,
            "vellum_round_duration_seconds",
            "Time spent in sequencing rounds.",
            None,
            load(&st.round_nanos) as f64 / 1e9,
        )?;
        gauge(
            e,
            "vellum_queue_entries",
            "Entries waiting in the append queue.",
            None,
            log.queued_entries() as u64,
        )?;
        gauge(
            e,
            "vellum_service_rate_entries_per_second",
            "Entries per second the sequencer gets through while it has a backlog (moving average).",
            None,
            load(&st.service_rate),
        )?;
        gauge(
            e,
            "vellum_tree_size",
            "Entries committed to the tree.",
            None,
            log.committed().size.get(),
        )?;
        let (size, since) = *s.published.lock().unwrap_or_else(|p| p.into_inner());
        gauge(
            e,
            "vellum_checkpoint_size",
            "Tree size of the latest published checkpoint.",
            None,
            size,
        )?;
        gauge(
            e,
            "vellum_checkpoint_age_seconds",
            "Time since the published checkpoint last changed.",
            None,
            since.elapsed().as_secs_f64(),
        )?;
        gauge(
            e,
            "vellum_witnessed_size",
            "Tree size of the latest checkpoint that met the witness policy (0 without witnesses).",
            None,
            log.witnessed().map_or(0, |p| p.size.get()),
        )?;
        counter(
            e,
            "vellum_witness_rounds",
            "Witness rounds finished.",
            None,
            load(&st.witness_rounds),
        )?;
        counter(
            e,
            "vellum_witness_rounds_below_policy",
            "Witness rounds whose checkpoint did not meet the policy.",
            None,
            load(&st.witness_rounds_below_policy),
        )?;
        let (g, h): (&ConnStats, &ConnStats) = (&s.server.grpc, &s.server.http);
        per_listener(
            e,
            "vellum_connections_accepted",
            "Connections accepted within the limit.",
            load(&g.accepted),
            load(&h.accepted),
            false,
        )?;
        per_listener(
            e,
            "vellum_connections_refused",
            "Connections closed at once because the limit was reached.",
            load(&g.refused),
            load(&h.refused),
            false,
        )?;
        per_listener(
            e,
            "vellum_connections_open",
            "Connections open now.",
            load(&g.open),
            load(&h.open),
            true,
        )?;
        per_listener(
            e,
            "vellum_tls_handshakes_failed",
            "TLS handshakes that failed or timed out.",
            load(&g.handshake_failed),
            load(&h.handshake_failed),
            false,
        )?;
        per_listener(
            e,
            "vellum_connections_idle_closed",
            "Connections closed by the idle timeout.",
            load(&g.idle_closed),
            load(&h.idle_closed),
            false,
        )?;
        let a = &s.server.access;
        let ty = ConstCounter::new(0u64).metric_type();
        let mut m = e.encode_descriptor(
            "vellum_requests_denied",
            "Calls refused by the access check, by reason.",
            None,
            ty,
        )?;
        for (reason, v) in [
            ("unauthenticated", load(&a.unauthenticated)),
            ("permission_denied", load(&a.permission_denied)),
        ] {
            ConstCounter::new(v).encode(m.encode_family(&[("reason", reason)])?)?;
        }
        Ok(())
    }
}

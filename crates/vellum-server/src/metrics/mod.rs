//! Prometheus metrics at `GET /metrics` on the HTTP listener.
//!
//! Nothing is counted twice: the logs, their recorders and the listeners
//! already keep their counters ([`vellum_log::Stats`],
//! [`EventStats`](crate::events::EventStats), [`ServerStats`]); a scrape
//! reads them, and the storage engine's own figures, and writes the text
//! exposition format (OpenMetrics 1.0, which Prometheus reads) with the
//! Prometheus project's `prometheus-client` crate. Names and units follow
//! the Prometheus conventions: a `vellum_` prefix, base units (seconds,
//! bytes), `_total` on counters. Every figure of a log carries a `log`
//! label (`default` for the server's default log).
//!
//! When access control is on, `/metrics` needs the `audit` role, as the
//! tiles do: the counters say how busy the log is.

mod encode;
mod log;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;
use vellum_log::Log;

use crate::ServerStats;
use crate::events::EventStats;
use crate::guard::AlertStats;
use encode::{Kind, Labels, family};

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A log whose figures `/metrics` shows.
#[derive(Clone, Debug)]
pub struct MetricsLog {
    /// Its name on this server (the `log` label).
    pub name: String,
    /// The log.
    pub log: Log,
    /// Its recorder's counters, for an events log.
    pub events: Option<Arc<EventStats>>,
}

/// The logs of a server being started, for [`router`].
pub(crate) fn logs_of(opened: &[crate::logs::Opened]) -> Vec<MetricsLog> {
    opened
        .iter()
        .map(|o| MetricsLog {
            name: o.name.clone(),
            log: o.log.clone(),
            events: o.service.recorder().map(|r| r.stats().clone()),
        })
        .collect()
}

/// The `/metrics` route for `logs` and the server's counters.
pub fn router(
    logs: Vec<MetricsLog>,
    server: Arc<ServerStats>,
    alerts: Option<Arc<AlertStats>>,
) -> Router {
    let logs = logs.into_iter().map(log::Watched::start).collect();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape {
        logs,
        server,
        alerts,
    }));
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
struct Scrape {
    logs: Vec<Arc<log::Watched>>,
    server: Arc<ServerStats>,
    alerts: Option<Arc<AlertStats>>,
}

fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        log::encode(&mut e, &self.logs)?;
        if let Some(a) = &self.alerts {
            encode_alerts(&mut e, a)?;
        }
        encode_server(&mut e, &self.server)
    }
}

/// The alerts' figures.
fn encode_alerts(e: &mut DescriptorEncoder<'_>, a: &AlertStats) -> std::fmt::Result {
    // Every kind the detectors raise, at 0 until it is recorded.
    let mut by_kind: std::collections::BTreeMap<String, u64> = vellum_guard::AlertKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), 0))
        .collect();
    for (k, n) in a.recorded.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        by_kind.insert(k.clone(), *n);
    }
    let recorded: Vec<(Labels, u64)> = by_kind
        .into_iter()
        .map(|(k, n)| (vec![("kind", k)], n))
        .collect();
    family(
        e,
        "vellum_alerts",
        "Alerts recorded in the log, by kind.",
        Kind::Counter,
        recorded,
    )?;
    let one = |v: &AtomicU64| [(Labels::new(), load(v))];
    family(
        e,
        "vellum_alerts_pending",
        "Alerts raised and not yet durable in the log (they are in the spool).",
        Kind::Gauge,
        one(&a.pending),
    )?;
    family(
        e,
        "vellum_alert_record_retries",
        "Attempts to record an alert that the log refused (retried with backoff).",
        Kind::Counter,
        one(&a.record_retries),
    )?;
    family(
        e,
        "vellum_alerts_rejected",
        "Alerts that could not make a valid entry (a bug), set aside in the spool as .rejected.",
        Kind::Counter,
        one(&a.rejected),
    )?;
    family(
        e,
        "vellum_alert_webhook",
        "Webhook notifications, by result: delivered, failed (an attempt, retried), dropped (given up; the alert is in the log).",
        Kind::Counter,
        [
            ("delivered", &a.webhook_delivered),
            ("failed", &a.webhook_failures),
            ("dropped", &a.webhook_dropped),
        ]
        .map(|(r, v)| (vec![("result", r.to_owned())], load(v))),
    )
}

/// The listeners' figures.
fn encode_server(e: &mut DescriptorEncoder<'_>, s: &ServerStats) -> std::fmt::Result {
    let (g, h) = (&*s.grpc, &*s.http);
    let per_listener = |f: fn(&crate::net::ConnStats) -> &AtomicU64| -> Vec<(Labels, u64)> {
        vec![
            (vec![("listener", "grpc".to_owned())], load(f(g))),
            (vec![("listener", "http".to_owned())], load(f(h))),
        ]
    };
    family(
        e,
        "vellum_connections_accepted",
        "Connections accepted within the limit.",
        Kind::Counter,
        per_listener(|c| &c.accepted),
    )?;
    family(
        e,
        "vellum_connections_refused",
        "Connections closed at once because the limit was reached.",
        Kind::Counter,
        per_listener(|c| &c.refused),
    )?;
    family(
        e,
        "vellum_connections_open",
        "Connections open now.",
        Kind::Gauge,
        per_listener(|c| &c.open),
    )?;
    family(
        e,
        "vellum_tls_handshakes_failed",
        "TLS handshakes that failed or timed out.",
        Kind::Counter,
        per_listener(|c| &c.handshake_failed),
    )?;
    family(
        e,
        "vellum_connections_idle_closed",
        "Connections closed by the idle timeout.",
        Kind::Counter,
        per_listener(|c| &c.idle_closed),
    )?;
    let a = &s.access;
    family(
        e,
        "vellum_requests_denied",
        "Calls refused by the access check, by reason.",
        Kind::Counter,
        [
            ("unauthenticated", load(&a.unauthenticated)),
            ("permission_denied", load(&a.permission_denied)),
        ]
        .map(|(r, v)| (vec![("reason", r.to_owned())], v)),
    )
}

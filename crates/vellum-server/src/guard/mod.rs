//! Guardrails while serving: alerts that cannot be dropped quietly.
//!
//! An alert is recorded in the log itself as an audit event (see
//! [`alerts`]), through a spool that survives a crash ([`spool`]); it is
//! then counted (`vellum_alerts_total{kind}`), streamed to `WatchAlerts`
//! subscribers and, when configured, posted to a webhook ([`webhook`])
//! that never holds anything up.

mod alerts;
mod spool;
mod watch;
mod webhook;

use std::time::Duration;

pub use alerts::{
    ALERT_ACTION_PREFIX, AlertRecord, AlertStats, AlertTarget, Alerts, RaisedAlert, SUBMITTER,
    now_ms,
};
pub use watch::{as_alert, watch};

/// Where alerts are also sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    /// The URL alerts are posted to (JSON).
    pub url: String,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Attempts per alert before the webhook gives up on it.
    pub max_attempts: u32,
}

impl WebhookConfig {
    /// A webhook at `url` with the default timeout (5 s) and attempts (8:
    /// about a minute of backoff).
    pub fn new(url: &str) -> WebhookConfig {
        WebhookConfig {
            url: url.to_owned(),
            timeout: Duration::from_secs(5),
            max_attempts: 8,
        }
    }
}

/// The guardrails' settings (`[guard]` in the configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardOptions {
    /// Record alerts in the log. On by default; off only for tests and
    /// benchmarks that measure the log without them.
    pub enabled: bool,
    /// The log alerts are recorded in. Default: the default log if it
    /// is an events log, else the first events log, else the default log
    /// (then alerts are canonical JSON entries without chain or index).
    pub alerts_log: Option<String>,
    /// Also post each alert here.
    pub webhook: Option<WebhookConfig>,
}

impl Default for GuardOptions {
    fn default() -> GuardOptions {
        GuardOptions {
            enabled: true,
            alerts_log: None,
            webhook: None,
        }
    }
}

/// Starts recording alerts for a server whose logs are `opened` (the
/// default log first), spooled under `data`, and lets each log's gRPC
/// service stream them; `None` when the guard is off.
///
/// # Errors
///
/// An `alerts_log` that names no log of the server, or a spool that
/// cannot be opened.
pub(crate) fn start(
    opts: &GuardOptions,
    data: &std::path::Path,
    opened: &mut [crate::logs::Opened],
) -> Result<Option<Alerts>, String> {
    if !opts.enabled {
        return Ok(None);
    }
    let target = match &opts.alerts_log {
        Some(name) => opened.iter().find(|l| &l.name == name).ok_or_else(|| {
            format!(
                "guard.alerts_log: no log named {name:?} on this server (logs: {})",
                opened
                    .iter()
                    .map(|l| l.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?,
        None => opened
            .iter()
            .find(|l| l.service.recorder().is_some())
            .or(opened.first())
            .ok_or("a server has at least its default log")?,
    };
    let t = match target.service.recorder() {
        Some(r) => AlertTarget::Events(r.clone()),
        None => AlertTarget::Raw(target.log.clone()),
    };
    let spool = data.join("alerts-spool");
    let alerts = Alerts::start(t, &target.name, &spool, opts.webhook.clone())
        .map_err(|e| format!("alert spool {}: {e}", spool.display()))?;
    for o in opened.iter_mut() {
        o.service = o.service.clone().with_alerts(alerts.clone());
    }
    Ok(Some(alerts))
}

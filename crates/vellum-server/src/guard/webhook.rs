//! Alerts sent to a webhook: one JSON `POST` per recorded alert, retried
//! with exponential backoff, from a queue of its own. Sequencing and
//! recording never wait for it: a full queue or a webhook that stays down
//! drops the notification (counted); the alert is in the log regardless.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::WebhookConfig;
use super::alerts::{AlertRecord, AlertStats, RaisedAlert};

/// Notifications waiting for the webhook.
const QUEUE: usize = 1024;

/// The webhook's queue.
#[derive(Debug)]
pub(crate) struct Webhook {
    tx: mpsc::Sender<Value>,
    stats: Arc<AlertStats>,
}

impl Webhook {
    /// Starts the sender task.
    pub(crate) fn start(cfg: WebhookConfig, stats: Arc<AlertStats>) -> Webhook {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(cfg, rx, stats.clone()));
        Webhook { tx, stats }
    }

    /// Queues the notification of a recorded alert; never waits.
    pub(crate) fn send(&self, alert: &RaisedAlert, rec: &AlertRecord) {
        let event: Value = serde_json::from_slice(&rec.bytes).unwrap_or(Value::Null);
        let body = json!({
            "kind": alert.kind,
            "subject": alert.subject,
            "at_ms": alert.at_ms,
            "alert_id": alert.id(),
            "index": rec.index,
            "evidence": alert.evidence,
            "event": event,
        });
        if self.tx.try_send(body).is_err() {
            self.stats.webhook_dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(kind = %alert.kind, "webhook queue full: notification dropped (the alert is in the log)");
        }
    }
}

async fn run(cfg: WebhookConfig, mut rx: mpsc::Receiver<Value>, stats: Arc<AlertStats>) {
    let client = match reqwest::Client::builder().timeout(cfg.timeout).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; alerts are not sent");
            return;
        }
    };
    while let Some(body) = rx.recv().await {
        let mut backoff = Duration::from_millis(200);
        let mut delivered = false;
        for attempt in 1..=cfg.max_attempts {
            let r = client
                .post(&cfg.url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .send()
                .await;
            match r {
                Ok(r) if r.status().is_success() => {
                    delivered = true;
                    break;
                }
                Ok(r) => tracing::warn!(status = %r.status(), attempt, "webhook refused the alert"),
                Err(e) => tracing::warn!(error = %e, attempt, "webhook unreachable"),
            }
            stats.webhook_failures.fetch_add(1, Ordering::Relaxed);
            if attempt < cfg.max_attempts {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
        if delivered {
            stats.webhook_delivered.fetch_add(1, Ordering::Relaxed);
        } else {
            stats.webhook_dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                attempts = cfg.max_attempts,
                "webhook gave up on an alert (it is in the log)"
            );
        }
    }
}

//! Alerts, recorded in the log itself: each alert becomes an audit event
//! (action `vellum.alert.<kind>`, submitted by [`SUBMITTER`], the evidence
//! in its payload), so that deleting or hiding an alert is as detectable as
//! any other rewrite of the log. Only then is it counted, streamed to
//! `WatchAlerts` subscribers and queued for the webhook.
//!
//! Raising never waits for the log: the alert is written to the spool
//! (synced) and handed to the writer task, which records it, retrying with
//! backoff while the log refuses (overload), and removes it from the spool
//! once durable.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, mpsc};
use vellum_event::{
    Actor, Attested, Limits, Outcome, OutcomeResult, Recorded, Resource, Submitted, Timestamp,
};
use vellum_log::{Log, Wait};

use super::spool::Spool;
use super::webhook::Webhook;
use crate::events::Recorder;

/// The submitter of the log's own events. No token may be named so (see
/// [`crate::access::RESERVED_NAMES`]), and clients may not use the
/// `vellum.` action prefix: an alert cannot be forged by a client.
pub const SUBMITTER: &str = "vellum";

/// The action prefix of alerts: `vellum.alert.<kind>`.
pub const ALERT_ACTION_PREFIX: &str = "vellum.alert.";

/// An alert as raised, before it is recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaisedAlert {
    /// What kind (snake_case, e.g. `denied_burst_identity`).
    pub kind: String,
    /// Who or what it is about (an actor, an address, a witness).
    pub subject: String,
    /// When it was raised, in Unix milliseconds by the log's clock.
    pub at_ms: u64,
    /// What an auditor needs to judge it: counts, window, baseline.
    pub evidence: Map<String, Value>,
}

impl RaisedAlert {
    /// The alert's id: a hash of its kind, subject and time, so that
    /// recording it again (after a crash) is answered as a duplicate.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        for part in [self.kind.as_bytes(), self.subject.as_bytes()] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.update(self.at_ms.to_be_bytes());
        h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The event that records this alert in the log named `log`.
    ///
    /// # Errors
    ///
    /// A kind or subject that does not make a valid event (too long, not
    /// printable): a bug of the detector that raised it.
    pub fn event(&self, log: &str) -> Result<vellum_event::Event, String> {
        let at = timestamp(self.at_ms)?;
        let mut payload = Map::new();
        payload.insert("subject".into(), Value::String(self.subject.clone()));
        payload.insert("evidence".into(), Value::Object(self.evidence.clone()));
        Submitted {
            actor: Actor {
                id: SUBMITTER.into(),
                kind: "system".into(),
                on_behalf_of: None,
            },
            action: format!("{ALERT_ACTION_PREFIX}{}", self.kind),
            resource: Resource {
                kind: "vellum-log".into(),
                id: log.into(),
            },
            outcome: Outcome {
                result: Some(OutcomeResult::Success),
                reason: Some(format!("{} alert on {}", self.kind, self.subject)),
            },
            event_time: at.to_string(),
            attributes: BTreeMap::from([("alert_id".to_owned(), self.id())]),
            payload: Some(serde_json::to_vec(&Value::Object(payload)).map_err(|e| e.to_string())?),
            event_id: Some(format!("alert-{}", self.id())),
        }
        .validate(&Limits::default())
        .map_err(|e| format!("alert {} on {:?}: {e}", self.kind, self.subject))
    }
}

/// What became of an alert.
enum Recording {
    /// Recorded (or found recorded: a duplicate).
    Done(AlertRecord, bool),
    /// It does not make a valid entry.
    Rejected(String),
    /// The log stopped.
    Stopped,
}

/// Why one attempt failed.
enum Failed {
    /// The alert does not make a valid entry: never.
    Invalid(String),
    /// The log stopped or is stopping: not in this process.
    Stopped(String),
    /// Overload or a wait: try again.
    Retry(String),
}

impl Failed {
    fn of(e: &vellum_log::LogError) -> Failed {
        let stopping = e.is_fatal()
            || matches!(
                e,
                vellum_log::LogError::ShuttingDown | vellum_log::LogError::NotSequencing
            );
        if stopping {
            Failed::Stopped(e.to_string())
        } else if e.is_retryable() {
            Failed::Retry(e.to_string())
        } else {
            Failed::Invalid(e.to_string())
        }
    }
}

fn timestamp(ms: u64) -> Result<Timestamp, String> {
    Timestamp::from_system_time(UNIX_EPOCH + Duration::from_millis(ms)).map_err(|e| e.to_string())
}

/// Unix milliseconds now (0 before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Where alerts are recorded.
#[derive(Clone, Debug)]
pub enum AlertTarget {
    /// An events log: alerts are events like any other (chained, indexed).
    Events(Recorder),
    /// A raw log: the alert's event with the log's attested fields, as
    /// canonical JSON, appended as an entry (no chain, no index).
    Raw(Log),
}

impl AlertTarget {
    fn log(&self) -> &Log {
        match self {
            AlertTarget::Events(r) => r.log(),
            AlertTarget::Raw(l) => l,
        }
    }
}

/// An alert as recorded: its index and the recorded event's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRecord {
    /// The entry's index.
    pub index: u64,
    /// The alert's kind.
    pub kind: String,
    /// The recorded event (RFC 8785 JSON).
    pub bytes: Bytes,
}

/// Alert counters, for metrics.
#[derive(Debug, Default)]
pub struct AlertStats {
    /// Alerts recorded in the log, by kind.
    pub recorded: Mutex<BTreeMap<String, u64>>,
    /// Alerts raised and not yet durable in the log.
    pub pending: AtomicU64,
    /// Attempts to record an alert that the log refused (then retried).
    pub record_retries: AtomicU64,
    /// Alerts that could not make a valid entry (a detector's bug), set
    /// aside in the spool as `.rejected`.
    pub rejected: AtomicU64,
    /// Alerts delivered to the webhook.
    pub webhook_delivered: AtomicU64,
    /// Webhook attempts that failed (then retried).
    pub webhook_failures: AtomicU64,
    /// Alerts the webhook gave up on (its queue full, or out of retries);
    /// they are in the log all the same.
    pub webhook_dropped: AtomicU64,
}

/// A raised alert on its way to the writer.
#[derive(Debug)]
struct Pending(RaisedAlert);

/// The alerts of one server: raise, subscribe, count.
#[derive(Clone, Debug)]
pub struct Alerts {
    tx: mpsc::UnboundedSender<Pending>,
    spool: Arc<Spool>,
    stats: Arc<AlertStats>,
    feed: broadcast::Sender<AlertRecord>,
    target: AlertTarget,
    log_name: String,
    /// Set to stop the writer (see [`Alerts::stop`]).
    stop: Arc<tokio::sync::watch::Sender<bool>>,
    writer: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// Tasks that raise alerts (the detectors), stopped first, each with
    /// a way to ask it for a last look.
    raisers: Arc<Mutex<Vec<Raiser>>>,
}

/// A task that raises alerts: it answers a flush request once it has
/// raised what it sees now.
type Raiser = (
    tokio::task::JoinHandle<()>,
    mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
);

impl Alerts {
    /// Starts recording alerts into `target` (named `log_name` on this
    /// server), spooled in `spool_dir`; alerts left in the spool by an
    /// earlier run are recorded first.
    ///
    /// # Errors
    ///
    /// The spool cannot be opened or read.
    pub fn start(
        target: AlertTarget,
        log_name: &str,
        spool_dir: &std::path::Path,
        webhook: Option<super::WebhookConfig>,
    ) -> std::io::Result<Alerts> {
        let spool = Arc::new(Spool::open(spool_dir)?);
        let stats = Arc::new(AlertStats::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let (feed, _) = broadcast::channel(1024);
        let webhook = webhook.map(|w| Webhook::start(w, stats.clone()));
        let left = spool.pending()?;
        if !left.is_empty() {
            tracing::warn!(
                alerts = left.len(),
                "recording alerts an earlier run raised"
            );
        }
        for a in left {
            stats.pending.fetch_add(1, Ordering::Relaxed);
            let _ = tx.send(Pending(a));
        }
        let writer = Writer {
            target: target.clone(),
            log_name: log_name.to_owned(),
            spool: spool.clone(),
            stats: stats.clone(),
            feed: feed.clone(),
            webhook,
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(writer.run(rx, stopped));
        Ok(Alerts {
            tx,
            spool,
            stats,
            feed,
            target,
            log_name: log_name.to_owned(),
            stop: Arc::new(stop),
            writer: Arc::new(Mutex::new(Some(task))),
            raisers: Arc::default(),
        })
    }

    /// Stops the writer before the logs shut down: it records what was
    /// raised so far, for up to `grace`; what is left stays in the spool
    /// and is recorded at the next start.
    pub async fn stop(&self, grace: Duration) {
        let raisers = std::mem::take(&mut *self.raisers.lock().unwrap_or_else(|e| e.into_inner()));
        for (task, flush) in raisers {
            let (done, flushed) = tokio::sync::oneshot::channel();
            if flush.send(done).await.is_ok() {
                let _ = tokio::time::timeout(grace, flushed).await;
            }
            task.abort();
            let _ = task.await;
        }
        self.stop.send_replace(true);
        let task = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut task) = task
            && tokio::time::timeout(grace, &mut task).await.is_err()
        {
            tracing::warn!(
                "alerts not recorded within {grace:?} stay in the spool for the next start"
            );
            task.abort();
            let _ = task.await;
        }
    }

    /// Raises `alert`: spooled (synced) before this returns, recorded in
    /// the log soon after. Never waits for the log.
    pub fn raise(&self, alert: RaisedAlert) {
        let evidence = Value::Object(alert.evidence.clone());
        tracing::warn!(kind = %alert.kind, subject = %alert.subject, %evidence, "alert");
        if let Err(e) = self.spool.put(&alert) {
            // Still recorded below, unless the process dies first.
            tracing::error!(error = %e, kind = %alert.kind, "cannot spool the alert");
        }
        self.stats.pending.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(Pending(alert));
    }

    /// Stops `task` (which raises alerts) when the alerts stop.
    pub(crate) fn attach(&self, raiser: Raiser) {
        self.raisers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(raiser);
    }

    /// Alerts recorded from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AlertRecord> {
        self.feed.subscribe()
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<AlertStats> {
        &self.stats
    }

    /// The log alerts are recorded in, and its name on this server.
    pub fn target(&self) -> (&Log, &str) {
        (self.target.log(), &self.log_name)
    }

    /// The recorder, when alerts go to an events log.
    pub fn recorder(&self) -> Option<&Recorder> {
        match &self.target {
            AlertTarget::Events(r) => Some(r),
            AlertTarget::Raw(_) => None,
        }
    }
}

struct Writer {
    target: AlertTarget,
    log_name: String,
    spool: Arc<Spool>,
    stats: Arc<AlertStats>,
    feed: broadcast::Sender<AlertRecord>,
    webhook: Option<Webhook>,
}

impl Writer {
    async fn run(
        self,
        mut rx: mpsc::UnboundedReceiver<Pending>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            let next = tokio::select! {
                biased;
                m = rx.recv() => m,
                _ = stop.wait_for(|s| *s) => rx.try_recv().ok(),
            };
            let Some(Pending(alert)) = next else {
                return;
            };
            let (rec, duplicate) = match self.record(&alert).await {
                Recording::Done(rec, duplicate) => (rec, duplicate),
                Recording::Rejected(why) => {
                    // A detector's bug, not the log's: the alert is kept
                    // aside for a person to read, and the next ones go on.
                    tracing::error!(error = %why, kind = %alert.kind, "an alert cannot be recorded; kept in the spool as .rejected");
                    if let Err(e) = self.spool.reject(&alert.id()) {
                        tracing::error!(error = %e, "cannot set the alert aside");
                    }
                    self.stats.pending.fetch_sub(1, Ordering::Relaxed);
                    self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                // The log stopped: the spool keeps the rest for the next start.
                Recording::Stopped => return,
            };
            if let Err(e) = self.spool.remove(&alert.id()) {
                tracing::warn!(error = %e, "cannot remove a recorded alert from the spool");
            }
            self.stats.pending.fetch_sub(1, Ordering::Relaxed);
            // A duplicate was recorded (and counted) by an earlier run that
            // stopped before it forgot the spooled copy. The webhook gets
            // it again: delivery is at least once (receivers dedup by
            // `alert_id`).
            if !duplicate {
                *self
                    .stats
                    .recorded
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(alert.kind.clone())
                    .or_default() += 1;
            }
            if let Some(w) = &self.webhook {
                w.send(&alert, &rec);
            }
            let _ = self.feed.send(rec);
        }
    }

    /// Records `alert`, retrying with backoff while the log refuses.
    async fn record(&self, alert: &RaisedAlert) -> Recording {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.try_record(alert).await {
                Ok((rec, duplicate)) => return Recording::Done(rec, duplicate),
                Err(Failed::Invalid(e)) => return Recording::Rejected(e),
                Err(Failed::Stopped(e)) => {
                    tracing::error!(error = %e, kind = %alert.kind, "cannot record the alert: the log stopped; it stays in the spool");
                    return Recording::Stopped;
                }
                Err(Failed::Retry(e)) => {
                    self.stats.record_retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, kind = %alert.kind, "recording the alert failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// One attempt: the record, or the error and whether to retry.
    async fn try_record(&self, alert: &RaisedAlert) -> Result<(AlertRecord, bool), Failed> {
        let event = alert.event(&self.log_name).map_err(Failed::Invalid)?;
        match &self.target {
            AlertTarget::Events(r) => {
                let at = r.record(event, SUBMITTER).await.map_err(|e| match &e {
                    crate::events::RecordFailure::Log(l) => Failed::of(l),
                    crate::events::RecordFailure::Invalid(m) => Failed::Invalid(m.clone()),
                    crate::events::RecordFailure::Stopped(m) => Failed::Stopped(m.clone()),
                })?;
                let rec = AlertRecord {
                    index: at.index.get(),
                    kind: alert.kind.clone(),
                    bytes: at.bytes,
                };
                Ok((rec, at.duplicate))
            }
            AlertTarget::Raw(log) => {
                // The log's fields, fixed by the alert (its time, no
                // chain), so that the same alert makes the same bytes and
                // a retry is answered with its first index.
                let attested = Attested {
                    submitter: SUBMITTER.into(),
                    received_at: timestamp(alert.at_ms).map_err(Failed::Invalid)?,
                    prev: None,
                };
                let rec =
                    Recorded::new(event, attested).map_err(|e| Failed::Invalid(e.to_string()))?;
                let bytes = Bytes::copy_from_slice(rec.canonical_bytes());
                let out = log
                    .append(vec![bytes.clone()], Wait::Durable)
                    .await
                    .map_err(|e| Failed::of(&e))?;
                let first = out
                    .results
                    .first()
                    .ok_or_else(|| Failed::Stopped("the log answered no index".to_owned()))?;
                let rec = AlertRecord {
                    index: first.index.get(),
                    kind: alert.kind.clone(),
                    bytes,
                };
                Ok((rec, first.duplicate))
            }
        }
    }
}

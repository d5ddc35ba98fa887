//! `WatchAlerts`: the recorded alerts from an index on, then the new ones.
//!
//! The history comes from the log itself (the events index's actor
//! `vellum` on an events log; a scan of the entries on a raw log), so a
//! subscriber that resumes after a break, or after a restart of the
//! server, misses nothing. The live part comes from the writer's feed,
//! subscribed before the history is read: an alert recorded meanwhile is
//! in one or both, and sent once (by index). A subscriber too slow for the
//! feed reads the history again from where it was.

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use vellum_event::Recorded;
use vellum_merkle::LeafIndex;

use super::alerts::{ALERT_ACTION_PREFIX, AlertRecord, Alerts, SUBMITTER};
use crate::events::Select;

/// Entries read per call while scanning.
const PAGE: u64 = 256;

/// The recorded alerts at or after `from`, then (with `follow`) each new
/// one. The stream ends with an error if the log cannot be read.
pub fn watch(
    alerts: Alerts,
    from: u64,
    follow: bool,
) -> ReceiverStream<Result<AlertRecord, String>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        if let Err(e) = run(&alerts, from, follow, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    ReceiverStream::new(rx)
}

async fn run(
    alerts: &Alerts,
    from: u64,
    follow: bool,
    tx: &mpsc::Sender<Result<AlertRecord, String>>,
) -> Result<(), String> {
    let mut live = alerts.subscribe();
    let mut next = from;
    loop {
        let size = alerts.target().0.committed().size.get();
        for rec in history(alerts, next, size).await? {
            next = rec.index + 1;
            if tx.send(Ok(rec)).await.is_err() {
                return Ok(());
            }
        }
        next = next.max(size);
        if !follow {
            return Ok(());
        }
        loop {
            match live.recv().await {
                Ok(rec) if rec.index >= next => {
                    next = rec.index + 1;
                    if tx.send(Ok(rec)).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                // Too slow for the feed: read the history again.
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }
}

/// The alert recorded as `bytes`, if it is one (the log's own event with
/// an alert action).
pub fn as_alert(index: u64, bytes: Bytes) -> Option<AlertRecord> {
    let r = Recorded::parse(&bytes).ok()?;
    if r.attested().submitter != SUBMITTER {
        return None;
    }
    let kind = r
        .event()
        .action()
        .strip_prefix(ALERT_ACTION_PREFIX)?
        .to_owned();
    Some(AlertRecord { index, kind, bytes })
}

/// The alerts at indices `[from, to)`, oldest first.
async fn history(alerts: &Alerts, from: u64, to: u64) -> Result<Vec<AlertRecord>, String> {
    if from >= to {
        return Ok(Vec::new());
    }
    let log = alerts.target().0;
    let read = |i: u64| async move {
        let index = LeafIndex::new(i).map_err(|e| e.to_string())?;
        let e = log
            .entries(index, 1)
            .await
            .map_err(|e| format!("entry {i}: {e}"))?;
        e.into_iter()
            .next()
            .ok_or_else(|| format!("entry {i} cannot be read"))
    };
    let mut out = Vec::new();
    match alerts.recorder() {
        Some(r) => {
            // The index holds entries a moment after they are appended.
            r.covering(to).await.map_err(|e| e.to_string())?;
            let select = Select::Actor(SUBMITTER.to_owned());
            let mut below = to;
            let mut indices = Vec::new();
            'pages: loop {
                let page = r
                    .lookup(&select, None, None, below, 1000)
                    .await
                    .map_err(|e| e.to_string())?;
                let Some(&last) = page.last() else { break };
                for i in page {
                    if i < from {
                        break 'pages;
                    }
                    indices.push(i);
                }
                below = last;
            }
            indices.reverse();
            for i in indices {
                if let Some(a) = as_alert(i, read(i).await?) {
                    out.push(a);
                }
            }
        }
        None => {
            let mut i = from;
            while i < to {
                let n = PAGE.min(to - i);
                let start = LeafIndex::new(i).map_err(|e| e.to_string())?;
                let page = log
                    .entries(start, n)
                    .await
                    .map_err(|e| format!("entries from {i}: {e}"))?;
                if page.is_empty() {
                    return Err(format!("entries from {i} cannot be read"));
                }
                let got = page.len() as u64;
                for (k, bytes) in page.into_iter().enumerate() {
                    if let Some(a) = as_alert(i + k as u64, bytes) {
                        out.push(a);
                    }
                }
                i += got;
            }
        }
    }
    Ok(out)
}

//! A tlog-tiles auditor: it trusts a log key (and optionally a witness
//! policy), reads a log only through its static HTTP API (C2SP tlog-tiles:
//! `checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`), and
//! checks that everything served is the one tree the checkpoint signs:
//!
//! 1. the checkpoint verifies against the policy (log signature, origin,
//!    witness quorum);
//! 2. every entry bundle is fetched and every leaf hash recomputed; every
//!    level-0 tile must hold those leaf hashes, every tile above must hold
//!    the hashes of the full tiles below it, and the root recomputed from the
//!    entries must be the signed root ([`check`]);
//! 3. with a state file ([`state`]), the new checkpoint must extend the one
//!    verified last time: the tree is continued from the kept right edge,
//!    so its root is a function of the old tree and the new entries alone;
//!    hashes verified last time must still be served unchanged; and only
//!    what is new is fetched. Progress is saved while the audit runs, so an
//!    interrupted audit continues where it stopped.
//!
//! The first resource that does not check out stops the audit, named by
//! its path ([`AuditError`]).
//!
//! This crate never depends on a store: it sees what any outsider sees.

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod check;
mod error;
pub mod fetch;
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryFutureExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vellum_merkle::{Hash, TreeSize};
use vellum_note::{Policy, VerifierKey};

pub use check::{Checker, Frontier, Step, plan};
pub use error::AuditError;
pub use fetch::Fetcher;
pub use state::State;

use state::{KeptCheckpoint, parse_kept};

/// What to audit and how.
#[derive(Clone, Debug)]
pub struct AuditOptions {
    /// The log's tlog-tiles prefix, e.g. `https://example.com/log/`.
    pub url: String,
    /// Whom to trust: the log key(s), witnesses and quorum.
    pub policy: Policy,
    /// If set, the checkpoint must be signed by exactly this log.
    pub log_key: Option<VerifierKey>,
    /// The state file: consistency with the last audit, incremental and
    /// resumable audits. `None` audits the whole log and remembers nothing.
    pub state: Option<PathBuf>,
    /// Bundles (with their tiles) fetched at once.
    pub parallel: usize,
    /// Draw a progress bar on stderr (only if it is a terminal).
    pub progress: bool,
    /// How often progress is saved to the state file during an audit.
    pub save_every: Duration,
    /// A bearer token sent with every request (a server with access
    /// control needs one with the `audit` role); only over https or to
    /// loopback.
    pub token: Option<String>,
    /// PEM certificate(s) of a private CA that an https server's
    /// certificate must chain to, instead of the public roots.
    pub ca_pem: Option<Vec<u8>>,
}

impl AuditOptions {
    /// Defaults: 16 bundles in flight, progress saved every 5 s, no bar.
    pub fn new(url: &str, policy: Policy) -> AuditOptions {
        AuditOptions {
            url: url.to_owned(),
            policy,
            log_key: None,
            state: None,
            parallel: 16,
            progress: false,
            save_every: Duration::from_secs(5),
            token: None,
            ca_pem: None,
        }
    }
}

/// What an audit verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// The log's origin.
    pub origin: String,
    /// The verified tree size.
    pub size: u64,
    /// Its root, recomputed from the entries and equal to the signed one.
    pub root: Hash,
    /// The size the state file had verified before, if any.
    pub previous: Option<u64>,
    /// The size an interrupted audit had reached, if this one continued it.
    pub resumed_at: Option<u64>,
    /// Entries fetched and hashed in this run.
    pub entries: u64,
    /// Hash tiles fetched and checked in this run.
    pub hash_tiles: u64,
    /// Entry bundles fetched and checked in this run.
    pub bundles: u64,
    /// Bytes received.
    pub bytes: u64,
    /// HTTP requests made (retries included).
    pub requests: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Policy witnesses whose cosignatures verified.
    pub cosigners: Vec<String>,
}

/// Audits the log. See the crate docs for what is checked.
///
/// # Errors
///
/// The first failure: a verdict on the log ([`AuditError::is_verdict`]) or
/// trouble that kept the audit from finishing.
pub async fn audit(opts: &AuditOptions) -> Result<AuditReport, AuditError> {
    let started = Instant::now();
    let fetcher = Arc::new(Fetcher::new(
        &opts.url,
        opts.parallel.max(1),
        opts.token.as_deref(),
        opts.ca_pem.as_deref(),
    )?);
    let note = fetcher.checkpoint().await?;
    let url = fetcher.url("checkpoint");
    let bad_checkpoint = |reason: String| AuditError::Checkpoint {
        url: url.clone(),
        reason,
    };
    let verified = opts
        .policy
        .check_checkpoint(&note)
        .map_err(|e| bad_checkpoint(e.to_string()))?;
    if let Some(key) = &opts.log_key
        && verified.log_key() != key
    {
        return Err(bad_checkpoint(format!(
            "signed by log {}, not by {key}",
            verified.log_key()
        )));
    }
    let text = String::from_utf8(note.to_vec()).map_err(|e| bad_checkpoint(e.to_string()))?;
    let target = parse_kept(&text).map_err(bad_checkpoint)?;
    let (size, root) = (target.checkpoint.size(), target.checkpoint.root());
    let origin = target.checkpoint.origin().to_owned();

    let state = match &opts.state {
        Some(p) => State::load(p)?,
        None => None,
    };
    if let (Some(s), Some(p)) = (&state, &opts.state)
        && s.origin != origin
    {
        return Err(AuditError::State {
            path: p.display().to_string(),
            reason: format!("it is the state of log {:?}, not of {origin:?}", s.origin),
        });
    }
    let previous = state.as_ref().and_then(|s| s.verified.as_ref());
    let progress = state.as_ref().and_then(|s| s.progress.as_ref());
    for (kept, _) in previous.iter().chain(progress.iter()).copied() {
        check_extends(kept, size, root)?;
    }
    let (start, roots) = match (progress, previous) {
        (Some((kept, f)), _) => (
            f.clone(),
            vec![(kept.checkpoint.size(), kept.checkpoint.root())],
        ),
        (None, Some((_, f))) => (f.clone(), Vec::new()),
        (None, None) => (Frontier::empty(), Vec::new()),
    };
    let resumed_at = progress.map(|(_, f)| f.size.get());
    let start_size = start.size;

    let bar = progress_bar(
        opts.progress,
        size.get() - start_size.get(),
        start_size.get(),
    );
    let checker = Checker::new(&start, size, roots)?;
    let keep = opts.state.clone().map(|path| Keeper {
        path,
        origin: origin.clone(),
        verified: previous.cloned(),
        target: target.clone(),
        every: opts.save_every,
        last: Instant::now(),
    });
    let (frontier, hash_tiles, bundles) = run_pipeline(
        fetcher.clone(),
        checker,
        start_size,
        size,
        root,
        opts.parallel,
        keep,
        bar.clone(),
    )
    .await?;
    bar.finish_and_clear();

    if let Some(path) = &opts.state {
        State {
            origin: origin.clone(),
            verified: Some((target, frontier)),
            progress: None,
        }
        .save(path)?;
    }
    let (bytes, requests) = fetcher.totals();
    Ok(AuditReport {
        origin,
        size: size.get(),
        root,
        previous: previous.map(|(k, _)| k.checkpoint.size().get()),
        resumed_at,
        entries: size.get() - start_size.get(),
        hash_tiles,
        bundles,
        bytes,
        requests,
        elapsed: started.elapsed(),
        cosigners: verified
            .cosignatures()
            .iter()
            .map(|c| c.witness().to_owned())
            .collect(),
    })
}

/// A checkpoint of `size` and `root` must extend `kept`, signed before.
fn check_extends(kept: &KeptCheckpoint, size: TreeSize, root: Hash) -> Result<(), AuditError> {
    let before = kept.checkpoint.size();
    if size < before {
        return Err(AuditError::Rollback {
            before: before.get(),
            now: size.get(),
        });
    }
    if size == before && root != kept.checkpoint.root() {
        return Err(AuditError::Fork {
            size: size.get(),
            before: kept.checkpoint.root(),
            now: root,
        });
    }
    Ok(())
}

fn progress_bar(show: bool, len: u64, start: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} entries ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style);
    }
    if start > 0 {
        bar.set_message(format!("continuing from {start}"));
    }
    bar
}

/// Saves progress to the state file now and then while the audit runs.
struct Keeper {
    path: PathBuf,
    origin: String,
    verified: Option<(KeptCheckpoint, Frontier)>,
    target: KeptCheckpoint,
    every: Duration,
    last: Instant,
}

impl Keeper {
    fn maybe_save(&mut self, checker: &Checker) -> Result<(), AuditError> {
        if self.last.elapsed() < self.every {
            return Ok(());
        }
        self.last = Instant::now();
        State {
            origin: self.origin.clone(),
            verified: self.verified.clone(),
            progress: Some((self.target.clone(), checker.frontier())),
        }
        .save(&self.path)
    }
}

/// One fetched step, in plan order.
type Fetched = Result<(Step, Bytes, Vec<Bytes>), AuditError>;

/// Fetches the steps from `start` to `size` (`parallel` at a time, in
/// order) and checks them on a blocking thread as they arrive.
#[allow(clippy::too_many_arguments)]
async fn run_pipeline(
    fetcher: Arc<Fetcher>,
    mut checker: Checker,
    start: TreeSize,
    size: TreeSize,
    root: Hash,
    parallel: usize,
    mut keep: Option<Keeper>,
    bar: ProgressBar,
) -> Result<(Frontier, u64, u64), AuditError> {
    let parallel = parallel.max(1);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Fetched>(parallel * 2);
    let producer = async move {
        let s = size.get();
        let mut fetched = futures::stream::iter(plan(start, size))
            .map(|step| {
                let f = fetcher.clone();
                async move {
                    let bundle = f.tile(step.bundle, s);
                    let tiles =
                        futures::future::try_join_all(step.tiles.iter().map(|t| f.tile(*t, s)));
                    let (b, t) = futures::future::try_join(bundle, tiles).await?;
                    Ok((step, b, t))
                }
            })
            .buffered(parallel);
        while let Some(item) = fetched.next().await {
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    };
    let consumer = tokio::task::spawn_blocking(move || {
        while let Some(item) = rx.blocking_recv() {
            let (step, bundle, tiles) = item?;
            let before = checker.size().get();
            let refs: Vec<&[u8]> = tiles.iter().map(|t| &t[..]).collect();
            checker.step(&step, &bundle, &refs)?;
            bar.inc(checker.size().get() - before);
            if let Some(k) = &mut keep {
                k.maybe_save(&checker)?;
            }
        }
        let (hash_tiles, bundles) = checker.counts();
        Ok::<_, AuditError>((checker.finish(root)?, hash_tiles, bundles))
    })
    .unwrap_or_else(|e| {
        Err(AuditError::Config(format!(
            "internal error: the checking thread failed: {e}"
        )))
    });
    let ((), result) = futures::join!(producer, consumer);
    result
}

//! The continuous self-audit: while the log serves, a background task
//! re-verifies the stored tree from the entries, with the checks of
//! [`fsck`](crate::fsck) (every leaf hash from its entry, every stored node
//! from its children, every dedup record, the committed head, every stored
//! checkpoint against the log key and the tree), so that a byte that rots
//! in an old record is found while the log runs, not when a client's proof
//! fails.
//!
//! How it goes:
//!
//! * It reads through the store, a page of leaves at a time
//!   ([`fsck::check_leaves`]), from 0 up to the committed size, on the
//!   blocking pool, and sleeps between pages to keep its pace
//!   ([`SelfAuditConfig::entries_per_second`]; a checkpoint size looked at
//!   counts as one entry). It takes no lock the sequencer needs: it only
//!   reads the store, whose reads never wait for a commit, and watches the
//!   committed head.
//! * Checkpoints are verified once the tree up to their size is
//!   ([`fsck::check_checkpoints`]), up to the latest the log signed (the
//!   publisher stores a checkpoint before it signs the next one); once at
//!   the committed size, the root folded from the stored right edge must be
//!   the committed root ([`fsck::check_head`]).
//! * Then it waits for the log to grow and goes on. A pass is complete when
//!   it first reaches the committed size; a new pass from 0 starts
//!   [`SelfAuditConfig::pass_interval`] after the last one started (at once
//!   if that one took longer), so that a flipped byte in an old record is
//!   found again later.
//! * Progress is saved in [`SelfAuditConfig::state_file`] (see `state`), so
//!   that a restart continues the pass where it was, not from zero.
//!
//! On a finding the log stops: its state becomes
//! [`LogState::Failed`](crate::LogState::Failed) with a message that names
//! the record, stored against recomputed (an [`fsck::Finding`]), so nothing
//! new is signed or published and appends are refused with that message;
//! it is logged at error level, saved, and shown in
//! [`SelfAuditStatus::failed`]. [`Log::watch_self_audit`] is the hook for
//! whatever raises an alert on it. A finding saved before a restart is
//! checked again when the log opens, before anything is signed: if the
//! record is still bad the log refuses to open
//! ([`StartupError::SelfAudit`](crate::StartupError::SelfAudit)); if it was
//! repaired the audit goes on.
//!
//! A read that fails (I/O) is no finding: it is logged and retried with a
//! backoff.

mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use vellum_note::VerifierKey;
use vellum_store::{LogStore, TreeHead};

use crate::error::StartupError;
use crate::fsck::{self, FsckError};
use crate::log::{Log, LogState};
use crate::publisher::Published;
use state::Saved;

/// How often progress is saved while the audit advances.
pub(crate) const SAVE_EVERY: Duration = Duration::from_secs(10);
/// The first and the longest pause after a failed read.
const RETRY: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(30));
/// The most leaves (or checkpoint sizes) one page reads.
const MAX_PAGE: u64 = fsck::PAGE;

/// The self-audit's settings (part of [`LogConfig`](crate::LogConfig)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfAuditConfig {
    /// Entries verified per second, at most (with their nodes and dedup
    /// records); 0 turns the self-audit off. Off in
    /// [`LogConfig::new`](crate::LogConfig::new); `vellum serve` runs it at
    /// [`SelfAuditConfig::DEFAULT_ENTRIES_PER_SECOND`].
    pub entries_per_second: u64,
    /// The time from the start of one full pass to the start of the next.
    /// Zero: the next pass starts as soon as one completes.
    pub pass_interval: Duration,
    /// Where progress is saved across restarts; `None`: in memory only
    /// (every start begins a new pass).
    pub state_file: Option<PathBuf>,
}

impl SelfAuditConfig {
    /// `vellum serve`'s pace: a few thousand entries a second re-verifies
    /// hundreds of millions of entries a day for a few percent of a core,
    /// and leaves the write path its throughput.
    pub const DEFAULT_ENTRIES_PER_SECOND: u64 = 5000;
    /// `vellum serve`'s interval between passes: a day.
    pub const DEFAULT_PASS_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

    /// The self-audit turned off.
    pub fn off() -> SelfAuditConfig {
        SelfAuditConfig {
            entries_per_second: 0,
            pass_interval: Self::DEFAULT_PASS_INTERVAL,
            state_file: None,
        }
    }

    /// The self-audit at [`SelfAuditConfig::DEFAULT_ENTRIES_PER_SECOND`],
    /// a pass a day, progress in memory (as `vellum serve` runs it, which
    /// sets the file).
    pub fn at_default_pace() -> SelfAuditConfig {
        SelfAuditConfig {
            entries_per_second: Self::DEFAULT_ENTRIES_PER_SECOND,
            ..SelfAuditConfig::off()
        }
    }

    /// Whether the self-audit runs.
    pub fn is_on(&self) -> bool {
        self.entries_per_second > 0
    }

    /// Leaves per page: a tenth of a second's work, so that the pace is
    /// kept smoothly.
    fn page(&self) -> u64 {
        (self.entries_per_second / 10).clamp(1, MAX_PAGE)
    }
}

/// Where the self-audit is: [`Log::self_audit`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelfAuditStatus {
    /// Whether it runs (the rest is zero when it does not).
    pub enabled: bool,
    /// The pass under way, from 1.
    pub pass: u64,
    /// Leaves `0..verified_up_to` (and every node they complete) are
    /// verified in this pass.
    pub verified_up_to: u64,
    /// Stored checkpoints verified in this pass.
    pub checkpoints_verified: u64,
    /// When a pass last completed (seconds since the epoch).
    pub last_pass_completed_unix: Option<u64>,
    /// The finding that stopped the log: which record, stored against
    /// recomputed.
    pub failed: Option<String>,
}

impl SelfAuditStatus {
    fn of(s: &Saved) -> SelfAuditStatus {
        SelfAuditStatus {
            enabled: true,
            pass: s.pass,
            verified_up_to: s.verified_up_to,
            checkpoints_verified: s.checkpoints_verified,
            last_pass_completed_unix: s.last_pass_completed_unix,
            failed: s.failed.clone(),
        }
    }
}

impl Log {
    /// A snapshot of the self-audit's progress.
    pub fn self_audit(&self) -> SelfAuditStatus {
        self.inner.self_audit.borrow().clone()
    }

    /// A receiver that sees every change of the self-audit's progress: the
    /// hook for alerts (wait for [`SelfAuditStatus::failed`]).
    pub fn watch_self_audit(&self) -> watch::Receiver<SelfAuditStatus> {
        self.inner.self_audit.subscribe()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What one step did.
enum Step {
    /// Verified this many units (leaves, checkpoint sizes, or the head).
    Worked(u64),
    /// Nothing left below the committed head and the signed checkpoint.
    CaughtUp,
}

/// The audit's position and the reads it makes; synchronous, run on the
/// blocking pool.
struct Auditor {
    store: Arc<dyn LogStore>,
    log_key: VerifierKey,
    page: u64,
    saved: Saved,
    /// The head checked last (in memory: cheap to check again).
    head_checked: Option<TreeHead>,
}

impl Auditor {
    /// One page of work towards `head`, and the checkpoints stored up to
    /// `signed`. Checkpoints whose tree is verified go first, so that a
    /// finding saved before a restart is met again by the first step after.
    fn step(&mut self, head: &TreeHead, signed: Option<u64>) -> Result<Step, FsckError> {
        let store = &*self.store;
        let s = &mut self.saved;
        if let Some(signed) = signed {
            let limit = signed.min(s.verified_up_to);
            if s.checkpoints_from <= limit {
                let last = (s.checkpoints_from + self.page - 1).min(limit);
                s.checkpoints_verified +=
                    fsck::check_checkpoints(store, &self.log_key, s.checkpoints_from, last)?;
                let n = last - s.checkpoints_from + 1;
                s.checkpoints_from = last + 1;
                return Ok(Step::Worked(n));
            }
        }
        let size = head.size.get();
        if s.verified_up_to < size {
            let to = (s.verified_up_to + self.page).min(size);
            fsck::check_leaves(store, s.verified_up_to, to)?;
            let n = to - s.verified_up_to;
            s.verified_up_to = to;
            return Ok(Step::Worked(n));
        }
        if self.head_checked.as_ref() != Some(head) {
            fsck::check_head(store, head)?;
            self.head_checked = Some(*head);
            return Ok(Step::Worked(1));
        }
        Ok(Step::CaughtUp)
    }

    /// Runs [`Auditor::step`] on the blocking pool.
    async fn step_blocking(
        mut self,
        head: TreeHead,
        signed: Option<u64>,
    ) -> (Auditor, Result<Step, FsckError>) {
        let task = tokio::task::spawn_blocking(move || {
            let r = self.step(&head, signed);
            (self, r)
        });
        match task.await {
            Ok(done) => done,
            // INVARIANT: the closure does not panic (no unwrap, no
            // indexing past a length it checked), and the blocking pool
            // is not shut down while the log runs.
            Err(e) => panic!("self-audit step task failed: {e}"),
        }
    }
}

/// The self-audit of a log that is opening: its progress loaded, and a
/// finding saved before the restart checked again.
pub(crate) struct Prepared {
    auditor: Auditor,
    config: SelfAuditConfig,
}

impl Prepared {
    pub(crate) fn status(&self) -> SelfAuditStatus {
        SelfAuditStatus::of(&self.auditor.saved)
    }
}

/// Loads the self-audit's progress for a log whose store holds `head` and
/// whose latest stored checkpoint is `signed`, before anything is signed.
///
/// # Errors
///
/// [`StartupError::SelfAudit`] when a finding saved before the restart is
/// still there; [`StartupError::Store`] when it cannot be checked.
pub(crate) async fn prepare(
    store: &Arc<dyn LogStore>,
    log_key: &VerifierKey,
    config: &SelfAuditConfig,
    head: TreeHead,
    signed: Option<u64>,
) -> Result<Prepared, StartupError> {
    let loaded = match &config.state_file {
        None => None,
        Some(path) => {
            let path = path.clone();
            match tokio::task::spawn_blocking(move || state::load(&path)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    // Safe: a new pass verifies everything again.
                    tracing::warn!(error = %e, "self-audit: starting a new pass");
                    None
                }
                Err(e) => return Err(StartupError::Config(format!("self-audit: {e}"))),
            }
        }
    };
    let saved = match loaded {
        Some(s)
            if s.verified_up_to > head.size.get() || s.checkpoints_from > head.size.get() + 1 =>
        {
            tracing::warn!(
                verified_up_to = s.verified_up_to,
                size = head.size.get(),
                "self-audit: the saved progress is beyond the stored tree; starting a new pass"
            );
            Saved::begin(s.pass + 1, now_ms(), s.last_pass_completed_unix)
        }
        Some(s) => s,
        None => Saved::begin(1, now_ms(), None),
    };
    let mut auditor = Auditor {
        store: store.clone(),
        log_key: log_key.clone(),
        page: config.page(),
        saved,
        head_checked: None,
    };
    if let Some(found) = auditor.saved.failed.clone() {
        // Before anything is signed: the checks that found it, again. The
        // step that failed is one of the next few (a checkpoint stored
        // while it ran may come first), so go on until both the leaves and
        // the checkpoints have moved past where they stood, or nothing is
        // left.
        let (leaves, checkpoints) = (auditor.saved.verified_up_to, auditor.saved.checkpoints_from);
        loop {
            let (back, r) = auditor.step_blocking(head, signed).await;
            auditor = back;
            match r {
                Err(FsckError::Corrupt(f)) => return Err(StartupError::SelfAudit(f.to_string())),
                Err(FsckError::Store(e)) => return Err(StartupError::Store(e)),
                Ok(Step::CaughtUp) => break,
                Ok(Step::Worked(_)) => {
                    let s = &auditor.saved;
                    let pending =
                        signed.is_some_and(|n| s.checkpoints_from <= n.min(s.verified_up_to));
                    if (s.verified_up_to > leaves || s.verified_up_to == head.size.get())
                        && (s.checkpoints_from > checkpoints || !pending)
                    {
                        break;
                    }
                }
            }
        }
        tracing::warn!(
            was = %found,
            "self-audit: the record it found corrupt before the restart verifies now; going on"
        );
        auditor.saved.failed = None;
    }
    Ok(Prepared {
        auditor,
        config: config.clone(),
    })
}

/// The running self-audit of one log.
pub(crate) struct Task {
    auditor: Auditor,
    config: SelfAuditConfig,
    committed: watch::Receiver<TreeHead>,
    signed: watch::Receiver<Option<Published>>,
    state: watch::Sender<LogState>,
    status: watch::Sender<SelfAuditStatus>,
    /// `true` (or dropped) when the log shuts down.
    stop: watch::Receiver<bool>,
}

impl Task {
    pub(crate) fn new(
        prepared: Prepared,
        committed: watch::Receiver<TreeHead>,
        signed: watch::Receiver<Option<Published>>,
        state: watch::Sender<LogState>,
        status: watch::Sender<SelfAuditStatus>,
        stop: watch::Receiver<bool>,
    ) -> Task {
        Task {
            auditor: prepared.auditor,
            config: prepared.config,
            committed,
            signed,
            state,
            status,
            stop,
        }
    }

    pub(crate) async fn run(mut self) {
        let rate = self.config.entries_per_second.max(1) as f64;
        let interval_ms = self.config.pass_interval.as_millis() as u64;
        let mut last_save = Instant::now();
        let mut dirty = true;
        let mut signed_open = true;
        let mut retry = RETRY.0;
        tracing::info!(
            pass = self.auditor.saved.pass,
            from = self.auditor.saved.verified_up_to,
            entries_per_second = self.config.entries_per_second,
            "self-audit started"
        );
        loop {
            if self.stopping() {
                break;
            }
            let head = *self.committed.borrow_and_update();
            let signed = self
                .signed
                .borrow_and_update()
                .as_ref()
                .map(|p| p.size.get());
            let began = Instant::now();
            let (auditor, r) = self.auditor.step_blocking(head, signed).await;
            self.auditor = auditor;
            match r {
                Err(FsckError::Corrupt(f)) => return self.fail(&f).await,
                Err(FsckError::Store(e)) => {
                    tracing::warn!(error = %e, retry_in = ?retry, "self-audit: cannot read the store");
                    if self.pause(retry).await {
                        break;
                    }
                    retry = (retry * 2).min(RETRY.1);
                }
                Ok(Step::Worked(n)) => {
                    retry = RETRY.0;
                    dirty = true;
                    self.status
                        .send_replace(SelfAuditStatus::of(&self.auditor.saved));
                    if last_save.elapsed() >= SAVE_EVERY {
                        self.save().await;
                        (last_save, dirty) = (Instant::now(), false);
                    }
                    let due = Duration::from_secs_f64(n as f64 / rate);
                    if self.pause(due.saturating_sub(began.elapsed())).await {
                        break;
                    }
                }
                Ok(Step::CaughtUp) => {
                    let s = &mut self.auditor.saved;
                    let now = now_ms();
                    if !s.pass_complete {
                        s.pass_complete = true;
                        s.last_pass_completed_unix = Some(now / 1000);
                        tracing::info!(
                            pass = s.pass,
                            size = head.size.get(),
                            checkpoints = s.checkpoints_verified,
                            "self-audit pass complete: the stored tree verifies"
                        );
                        self.status.send_replace(SelfAuditStatus::of(s));
                        self.save().await;
                        (last_save, dirty) = (Instant::now(), false);
                        continue;
                    }
                    let next_pass = s.pass_started_unix_ms.saturating_add(interval_ms);
                    if now >= next_pass {
                        *s = Saved::begin(s.pass + 1, now, s.last_pass_completed_unix);
                        self.auditor.head_checked = None;
                        self.status.send_replace(SelfAuditStatus::of(s));
                        self.save().await;
                        (last_save, dirty) = (Instant::now(), false);
                        continue;
                    }
                    let until_pass = Duration::from_millis(next_pass - now);
                    let until_save = if dirty {
                        SAVE_EVERY.saturating_sub(last_save.elapsed())
                    } else {
                        Duration::MAX
                    };
                    let wake = until_pass.min(until_save);
                    tokio::select! {
                        r = self.committed.changed() => {
                            // The sequencer let go of the log: it is shutting
                            // down or failed.
                            if r.is_err() {
                                break;
                            }
                        }
                        r = self.signed.changed(), if signed_open => {
                            signed_open = r.is_ok();
                        }
                        () = tokio::time::sleep(wake) => {
                            if dirty && last_save.elapsed() >= SAVE_EVERY {
                                self.save().await;
                                (last_save, dirty) = (Instant::now(), false);
                            }
                        }
                        _ = self.stop.changed() => {}
                    }
                }
            }
        }
        if dirty {
            self.save().await;
        }
    }

    fn stopping(&self) -> bool {
        // A dropped sender (the log is gone) counts as a stop.
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }

    /// Sleeps `d`, or less if the log shuts down: returns whether it does.
    async fn pause(&mut self, d: Duration) -> bool {
        if d.is_zero() {
            return self.stopping();
        }
        tokio::select! {
            () = tokio::time::sleep(d) => self.stopping(),
            _ = self.stop.changed() => true,
        }
    }

    /// Saves the progress; a failure is logged (the audit goes on, and a
    /// restart verifies again what was not saved).
    async fn save(&self) {
        let Some(path) = self.config.state_file.clone() else {
            return;
        };
        let saved = self.auditor.saved.clone();
        let done = tokio::task::spawn_blocking(move || state::save(&path, &saved)).await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "self-audit: cannot save its progress"),
            Err(e) => tracing::warn!(error = %e, "self-audit: cannot save its progress"),
        }
    }

    /// A finding: the log stops signing, the finding is logged, shown and
    /// saved.
    async fn fail(mut self, f: &fsck::Finding) {
        let message = format!("the self-audit found the stored data corrupt: {f}");
        // The status, then the state, with nothing between them: whoever
        // sees the log failed finds the finding in the status already. The
        // state stops the publisher (nothing more signed) and appends
        // (refused with this message).
        self.auditor.saved.failed = Some(message.clone());
        self.status
            .send_replace(SelfAuditStatus::of(&self.auditor.saved));
        self.state.send_if_modified(|s| {
            if matches!(s, LogState::Failed(_)) {
                false
            } else {
                *s = LogState::Failed(message);
                true
            }
        });
        tracing::error!(
            finding = %f,
            pass = self.auditor.saved.pass,
            "self-audit: the stored tree does not verify; the log stops signing"
        );
        self.save().await;
    }
}

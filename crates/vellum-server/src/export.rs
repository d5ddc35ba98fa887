//! Export: the log as static files at their tlog-tiles paths, so that any
//! web server, CDN or object store serves it read-only.
//!
//! ```text
//! <out>/checkpoint                   the exported checkpoint (replaced atomically, last)
//! <out>/tile/<L>/<N>[.p/<W>]         hash tiles
//! <out>/tile/entries/<N>[.p/<W>]     entry bundles
//! ```
//!
//! The bytes are those of the HTTP API, read from the store without
//! re-hashing by [`vellum_log::reader`] (the one home of store-backed
//! reads: tiles, roots and proofs).
//!
//! # Order, and what a crash at each step leaves
//!
//! 1. The checkpoint to export is checked against the store (its root must
//!    fold from the stored nodes), and the folder's current `checkpoint`, if
//!    any, too: same origin, not larger, and the store has the same root at
//!    its size. Otherwise the folder belongs to another log (or to a fork,
//!    or to a newer copy of this one) and nothing is written.
//! 2. Every tile and bundle the new tree has and the folder's checkpoint
//!    did not cover is written to a temporary file and renamed into place,
//!    so a reader never sees half a tile. A file already there (left by an
//!    interrupted export) is compared byte for byte instead; a difference
//!    is [`ExportError::Mismatch`] and stops the export: tiles are
//!    immutable, and a different one means the folder is not this log's.
//!    A crash here leaves extra tiles that the folder's checkpoint does not
//!    need yet; the next export checks them.
//! 3. Everything written is made durable: one `syncfs(2)` of the folder's
//!    file system on Linux (measured: ~3 ms per file with one `fsync` each,
//!    a few ms for the whole export with `syncfs`), one `fsync` per file
//!    and directory elsewhere.
//! 4. The checkpoint is written to a temporary file, synced, renamed over
//!    `checkpoint` and the folder synced. Only now does the folder claim the
//!    new size; before, it claims the old one, whose tiles are all there.
//! 5. Partial tiles whose full tile this export wrote are deleted
//!    (tlog-tiles allows it once the full tile exists; clients fall back to
//!    the full tile). A crash here leaves partial tiles that are still
//!    correct, only redundant.
//!
//! Incremental: the folder's checkpoint (checked in step 1) says which full
//! tiles are already there, so a second export writes only what is new and
//! reads no old file. [`ExportOptions`]/[`run_continuous`] repeat this while
//! a server runs.

use std::collections::HashSet;
use std::fs::{self, File};
use std::future::Future;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use vellum_log::reader::{read_tile, root_at};
use vellum_merkle::tiles::{Tile, TileKind};
use vellum_merkle::{Hash, TreeSize};
use vellum_note::{Checkpoint, Note};
use vellum_store::{LogStore, StoreError};

use vellum_store_rocksdb::{RocksStore, StoreOptions};

/// Why the data folder's store could not be opened (re-exported so that
/// callers can tell a running log, [`OpenError::Locked`], from the rest).
pub use vellum_store_rocksdb::OpenError;

use crate::embedded::Layout;
use crate::http::TileSource;

/// The name of the checkpoint file in an export folder.
pub const CHECKPOINT_FILE: &str = "checkpoint";

/// Continuous export while serving.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// The folder to export to.
    pub out: PathBuf,
    /// The least time between two exports: checkpoints published in
    /// between are coalesced into the next one.
    pub interval: Duration,
}

/// What an export did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// The exported tree size.
    pub size: u64,
    /// The size of the checkpoint the folder held before, if any.
    pub previous: Option<u64>,
    /// Tiles and bundles written.
    pub written: u64,
    /// Bytes written (tiles, bundles and the checkpoint).
    pub bytes: u64,
    /// Files that were already there and were compared byte for byte.
    pub verified: u64,
    /// Partial tiles deleted because their full tile now exists.
    pub removed_partials: u64,
}

/// Why an export failed. Nothing that the folder's checkpoint covers is
/// ever changed, whatever the error.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store holds no checkpoint yet.
    #[error("the log has no checkpoint to export yet")]
    NoCheckpoint,
    /// The checkpoint to export cannot be read.
    #[error("the checkpoint to export is malformed: {0}")]
    Checkpoint(String),
    /// The checkpoint does not describe the stored tree.
    #[error(
        "the checkpoint for size {size} has root {checkpoint}, but the stored tree has root \
         {stored} at that size: refusing to export"
    )]
    RootMismatch {
        /// The checkpoint's size.
        size: u64,
        /// Its root.
        checkpoint: Hash,
        /// The root folded from the stored nodes.
        stored: Hash,
    },
    /// The folder holds another log's export, a fork, or a newer copy.
    #[error("{path} does not belong to this log's export: {reason}")]
    Folder {
        /// The folder's checkpoint file.
        path: PathBuf,
        /// What did not match.
        reason: String,
    },
    /// A file that is already in the folder differs from the log's bytes.
    #[error(
        "{path} is already exported with different bytes ({existing} bytes on disk, {expected} \
         expected, first difference at byte {offset}): the folder is not this log's, or was \
         tampered with; refusing to continue"
    )]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Its length.
        existing: usize,
        /// The length it should have.
        expected: usize,
        /// The first differing byte.
        offset: usize,
    },
    /// The folder could not be written.
    #[error("{path}: {source}")]
    Io {
        /// What was being written or read.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The store failed.
    #[error("reading the store: {0}")]
    Store(#[from] StoreError),
    /// The data folder's store could not be opened.
    #[error("{0}")]
    Open(#[from] OpenError),
}

impl ExportError {
    /// Whether retrying later can help (I/O trouble), as opposed to a folder
    /// or store that is not what it should be.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ExportError::Io { .. })
            || matches!(self, ExportError::Store(e) if !e.is_fatal())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Exports the latest checkpoint of the embedded deployment in `data` (see
/// [`crate::embedded`]) to `out`. The store is opened for this alone: while
/// a server has it open, RocksDB's lock refuses ([`OpenError::Locked`]),
/// and the server's own continuous export ([`ExportOptions`]) is the way.
///
/// # Errors
///
/// [`ExportError::Open`], or those of [`export`].
pub fn export_data_dir(
    data: &Path,
    out: &Path,
    check_all: bool,
) -> Result<ExportReport, ExportError> {
    let layout = Layout::new(data);
    // Each node is read once: a cache would only hold what was read.
    let options = StoreOptions {
        create_if_missing: false,
        node_cache_entries: 0,
        ..StoreOptions::default()
    };
    let store = RocksStore::open(&layout.store(), &options)?;
    export_latest(&store, out, check_all)
}

/// Exports the latest checkpoint stored in `store` to `out`.
///
/// # Errors
///
/// [`ExportError::NoCheckpoint`], or those of [`export`].
pub fn export_latest(
    store: &dyn LogStore,
    out: &Path,
    check_all: bool,
) -> Result<ExportReport, ExportError> {
    let (_, note) = store
        .latest_checkpoint()?
        .ok_or(ExportError::NoCheckpoint)?;
    export(store, &note, out, check_all)
}

/// Exports the tree of the signed checkpoint `note` from `store` to `out`
/// (created if missing), incrementally from the checkpoint already there.
/// With `check_all`, every file the tree has is compared (or written), as
/// if the folder held no checkpoint.
///
/// # Errors
///
/// See [`ExportError`]; the module docs say what each step leaves.
pub fn export(
    store: &dyn LogStore,
    note: &[u8],
    out: &Path,
    check_all: bool,
) -> Result<ExportReport, ExportError> {
    let cp = parse_checkpoint(note).map_err(ExportError::Checkpoint)?;
    let size = cp.size();
    let stored = root_at(store, size)?;
    if stored != cp.root() {
        return Err(ExportError::RootMismatch {
            size: size.get(),
            checkpoint: cp.root(),
            stored,
        });
    }
    fs::create_dir_all(out).map_err(io(out))?;
    let previous = folder_checkpoint(store, out, &cp)?;
    let from = if check_all {
        TreeSize::ZERO
    } else {
        previous.unwrap_or(TreeSize::ZERO)
    };
    let mut w = Writer {
        out,
        dirs: HashSet::new(),
        written: Vec::new(),
        report: ExportReport {
            size: size.get(),
            previous: previous.map(TreeSize::get),
            ..ExportReport::default()
        },
    };
    let mut completed = Vec::new();
    for kind in kinds(size) {
        let (old_full, new_full) = (Tile::full_count(kind, from), Tile::full_count(kind, size));
        for index in old_full..new_full {
            // index < full_count(size) <= 2^63 / 256: always in range.
            let tile =
                Tile::new(kind, index, 256).map_err(|e| ExportError::Checkpoint(e.to_string()))?;
            w.put(store, tile)?;
            completed.push(tile);
        }
        if let Some(p) = Tile::partial_for_size(kind, size) {
            w.put(store, p)?;
        }
    }
    w.sync()?;
    w.replace_checkpoint(note)?;
    for tile in completed {
        let dir = out.join(format!("{}.p", tile.path()));
        match fs::remove_dir_all(&dir) {
            Ok(()) => w.report.removed_partials += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            // Redundant partial tiles are harmless; do not fail the export.
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot remove partial tiles")
            }
        }
    }
    Ok(w.report)
}

/// Every tile kind a tree of `size` has: hash tiles of each level, and
/// entry bundles.
fn kinds(size: TreeSize) -> Vec<TileKind> {
    let mut k: Vec<TileKind> = Tile::levels(size).map(TileKind::Hashes).collect();
    if !size.is_empty() {
        k.push(TileKind::Entries);
    }
    k
}

fn parse_checkpoint(note: &[u8]) -> Result<Checkpoint, String> {
    let note = Note::parse(note).map_err(|e| e.to_string())?;
    Checkpoint::parse(note.text()).map_err(|e| e.to_string())
}

/// The size of the checkpoint already in `out`, checked to be a prefix of
/// the tree being exported; `None` if the folder has none.
fn folder_checkpoint(
    store: &dyn LogStore,
    out: &Path,
    new: &Checkpoint,
) -> Result<Option<TreeSize>, ExportError> {
    let path = out.join(CHECKPOINT_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    let folder = |reason: String| ExportError::Folder {
        path: path.clone(),
        reason,
    };
    let old =
        parse_checkpoint(&bytes).map_err(|e| folder(format!("it is not a checkpoint ({e})")))?;
    if old.origin() != new.origin() {
        return Err(folder(format!(
            "it is a checkpoint of {:?}, this log is {:?}",
            old.origin(),
            new.origin()
        )));
    }
    if old.size() > new.size() {
        return Err(folder(format!(
            "it holds size {}, larger than the {} being exported (is the store an older copy?)",
            old.size(),
            new.size()
        )));
    }
    let stored = root_at(store, old.size())?;
    if stored != old.root() {
        return Err(folder(format!(
            "its root at size {} is {}, the stored tree's is {stored} (a fork)",
            old.size(),
            old.root()
        )));
    }
    Ok(Some(old.size()))
}

struct Writer<'a> {
    out: &'a Path,
    /// Directories known to exist.
    dirs: HashSet<PathBuf>,
    /// Files written, for the durability step off Linux.
    written: Vec<PathBuf>,
    report: ExportReport,
}

impl Writer<'_> {
    /// Writes `tile`, or checks the file already there.
    fn put(&mut self, store: &dyn LogStore, tile: Tile) -> Result<(), ExportError> {
        let bytes = read_tile(store, tile)?;
        let path = self.out.join(tile.path());
        match fs::read(&path) {
            Ok(existing) => {
                if existing != bytes {
                    let offset = existing
                        .iter()
                        .zip(&bytes)
                        .position(|(a, b)| a != b)
                        .unwrap_or(existing.len().min(bytes.len()));
                    return Err(ExportError::Mismatch {
                        path,
                        existing: existing.len(),
                        expected: bytes.len(),
                        offset,
                    });
                }
                self.report.verified += 1;
                return Ok(());
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
        let dir = path.parent().unwrap_or(self.out).to_path_buf();
        if !self.dirs.contains(&dir) {
            fs::create_dir_all(&dir).map_err(io(&dir))?;
            self.dirs.insert(dir);
        }
        let tmp = temp_name(&path);
        fs::write(&tmp, &bytes).map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        self.report.written += 1;
        self.report.bytes += bytes.len() as u64;
        if !cfg!(target_os = "linux") {
            self.written.push(path);
        }
        Ok(())
    }

    /// Makes every file written so far durable.
    fn sync(&mut self) -> Result<(), ExportError> {
        #[cfg(target_os = "linux")]
        {
            let f = File::open(self.out).map_err(io(self.out))?;
            rustix::fs::syncfs(&f).map_err(|e| io(self.out)(e.into()))?;
        }
        #[cfg(not(target_os = "linux"))]
        {
            for p in self.written.drain(..) {
                File::open(&p).and_then(|f| f.sync_all()).map_err(io(&p))?;
            }
            for d in &self.dirs {
                File::open(d).and_then(|f| f.sync_all()).map_err(io(d))?;
            }
        }
        Ok(())
    }

    /// Step 4: the new checkpoint, atomically and durably.
    fn replace_checkpoint(&mut self, note: &[u8]) -> Result<(), ExportError> {
        let path = self.out.join(CHECKPOINT_FILE);
        let tmp = temp_name(&path);
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(note)
            .and_then(|()| f.sync_all())
            .map_err(io(&tmp))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(io(&path))?;
        File::open(self.out)
            .and_then(|d| d.sync_all())
            .map_err(io(self.out))?;
        self.report.bytes += note.len() as u64;
        Ok(())
    }
}

/// A temporary name beside `path`: hidden, and unique to this process so
/// that two exporters of the same log cannot tear each other's files (the
/// bytes they rename into place are the same).
fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp{}", std::process::id()))
}

/// Exports `source` to `opts.out` whenever it publishes a new checkpoint, at
/// most once per `opts.interval`, until `stop` completes; then once more,
/// so that the folder ends with the last checkpoint published.
///
/// Retryable errors are logged and retried at the next checkpoint. A folder
/// that is not this log's, or a store that disagrees with its checkpoint,
/// stops the export (logged as an error); the log keeps serving.
pub async fn run_continuous(
    source: TileSource,
    opts: ExportOptions,
    stop: impl Future<Output = ()> + Send,
) {
    let mut published = source.subscribe();
    let mut last: Option<bytes::Bytes> = None;
    tokio::pin!(stop);
    let mut stopping = false;
    loop {
        let current = published.borrow_and_update().clone();
        if let Some(p) = current
            && last.as_ref() != Some(&p.note)
        {
            let store = source.store().clone();
            let out = opts.out.clone();
            let note = p.note.clone();
            let started = std::time::Instant::now();
            let r = tokio::task::spawn_blocking(move || export(&*store, &note, &out, false)).await;
            match r {
                Ok(Ok(report)) => {
                    tracing::debug!(
                        size = report.size,
                        written = report.written,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "exported"
                    );
                    last = Some(p.note);
                }
                Ok(Err(e)) if e.is_retryable() => {
                    tracing::warn!(out = %opts.out.display(), error = %e, "export failed; retrying at the next checkpoint");
                }
                Ok(Err(e)) => {
                    tracing::error!(out = %opts.out.display(), error = %e, "export stopped");
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "export task failed; export stopped");
                    return;
                }
            }
        }
        if stopping {
            return;
        }
        tokio::select! {
            () = &mut stop => stopping = true,
            r = published.changed() => {
                if r.is_err() {
                    stopping = true;
                } else {
                    tokio::select! {
                        () = &mut stop => stopping = true,
                        () = tokio::time::sleep(opts.interval) => {}
                    }
                }
            }
        }
    }
}

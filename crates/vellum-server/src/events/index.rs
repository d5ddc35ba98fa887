//! The events index on disk: a RocksDB database of its own
//! (`<data>/events-index/`, [`crate::embedded::Layout::events_index`]),
//! holding the keys of [`super::keys`], derived from the entries.
//!
//! # Crash behaviour
//!
//! Each recorder round writes its events' keys and the new watermark in
//! one `WriteBatch`, after the log's append is durable, with the WAL on
//! and no sync: it is derived data. A crash keeps a prefix of the batches
//! (RocksDB's point-in-time recovery), so the watermark always says which
//! entries the keys cover; a start takes in the entries above it
//! ([`open_for_log`]). An index that cannot be trusted (missing,
//! unreadable, of another format, or ahead of the log, or whose last entry
//! is not the log's) is rebuilt from the entries: an index never loses an
//! event, the entries are the truth.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use rocksdb::{
    DB, DBCompressionType, DBRecoveryMode, Options, ReadOptions, WriteBatch, WriteOptions,
};
use vellum_event::{Prev, Recorded, Timestamp};
use vellum_merkle::LeafIndex;
use vellum_store::LogStore;

use super::keys::{
    self, FORMAT_VERSION, Pair, TIME, VERSION_KEY, WATERMARK_KEY, Watermark, time_bytes,
};

/// Entries read (and, when catching up, keys written) per step: bounds the
/// memory a rebuild needs.
const PAGE: u64 = 1000;

/// How long a start waits for this process's previous recorder of the same
/// log to close the index (a restart within one process).
const CLOSE_WAIT: Duration = Duration::from_secs(30);

/// Why the index could not be used, built or checked.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// An entry is not a recorded event: the log is not an events log.
    #[error(
        "entry {index} is not a recorded audit event ({why}): this is not an events log, and a \
         raw log has no events index"
    )]
    NotAnEvent {
        /// The entry.
        index: u64,
        /// What the parser said.
        why: String,
    },
    /// The log's entries could not be read.
    #[error("cannot read entry {index}: {why}")]
    Read {
        /// The first entry asked for.
        index: u64,
        /// Why.
        why: String,
    },
    /// Another process holds the index (or the log's store).
    #[error("{dir} is in use by another vellum process ({detail}): stop the log first")]
    Locked {
        /// The folder.
        dir: PathBuf,
        /// RocksDB's message.
        detail: String,
    },
    /// The store could not be opened (offline commands).
    #[error(transparent)]
    Store(#[from] vellum_store_rocksdb::OpenError),
    /// RocksDB or the file system failed on the index.
    #[error("events index {dir}: {why}")]
    Db {
        /// The folder.
        dir: PathBuf,
        /// What failed.
        why: String,
    },
}

/// What [`IndexDb::each`] calls with each key and its value.
pub(crate) type EachKey<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), IndexError> + 'a;

/// What [`each_page`] calls with each page of events and its first index.
pub(crate) type EachPage<'a> = dyn FnMut(u64, &[Recorded]) -> Result<(), IndexError> + 'a;

/// What a start did to the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Opened {
    /// It covered every entry already.
    Current,
    /// It took in this many entries above its watermark.
    CaughtUp(u64),
    /// It was rebuilt from this many entries, for this reason.
    Rebuilt(u64, String),
}

/// Closes of an index in this process, counted, so that a start waiting
/// for the previous recorder to let go wakes when it does.
static CLOSES: Mutex<u64> = Mutex::new(0);
static CLOSED: Condvar = Condvar::new();

/// Counts a close when dropped (after the database, declared before it).
struct CloseSignal;

impl Drop for CloseSignal {
    fn drop(&mut self) {
        *CLOSES.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        CLOSED.notify_all();
    }
}

/// An open events index.
pub(crate) struct IndexDb {
    db: DB,
    dir: PathBuf,
    _closed: CloseSignal,
}

impl std::fmt::Debug for IndexDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexDb")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn options(create: bool) -> Options {
    let mut o = Options::default();
    o.create_if_missing(create);
    o.set_compression_type(DBCompressionType::Lz4);
    // A torn last batch is dropped, every batch before it kept: the
    // watermark and the keys travel in one batch, so they always agree.
    o.set_wal_recovery_mode(DBRecoveryMode::PointInTime);
    o.set_paranoid_checks(true);
    o.set_keep_log_file_num(2);
    o.set_max_log_file_size(1 << 20);
    o
}

/// Whether RocksDB's error is its lock being held, and by this process.
fn lock_holder(detail: &str) -> Option<bool> {
    if detail.contains("lock hold by current process") {
        Some(true)
    } else if detail.contains("/LOCK") {
        Some(false)
    } else {
        None
    }
}

/// `<dir>.new`: where an offline rebuild builds before it renames.
pub(crate) fn staging(dir: &Path) -> PathBuf {
    let mut s = dir.as_os_str().to_owned();
    s.push(".new");
    PathBuf::from(s)
}

impl IndexDb {
    /// Opens (or, with `create`, creates) the index in `dir`. When this
    /// process still has it open (a recorder of an earlier start, not yet
    /// dropped), waits for that one to close it.
    pub(crate) fn open(dir: &Path, create: bool) -> Result<IndexDb, IndexError> {
        let deadline = Instant::now() + CLOSE_WAIT;
        let mut seen = *CLOSES.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let detail = match DB::open(&options(create), dir) {
                Ok(db) => {
                    return Ok(IndexDb {
                        db,
                        dir: dir.to_path_buf(),
                        _closed: CloseSignal,
                    });
                }
                Err(e) => e.into_string(),
            };
            match lock_holder(&detail) {
                Some(true) => {
                    let closes = CLOSES.lock().unwrap_or_else(|e| e.into_inner());
                    let wait = deadline.saturating_duration_since(Instant::now());
                    let (closes, waited) = CLOSED
                        .wait_timeout_while(closes, wait, |c| *c == seen)
                        .unwrap_or_else(|e| e.into_inner());
                    if waited.timed_out() {
                        return Err(IndexError::Locked {
                            dir: dir.to_path_buf(),
                            detail,
                        });
                    }
                    seen = *closes;
                }
                Some(false) => {
                    return Err(IndexError::Locked {
                        dir: dir.to_path_buf(),
                        detail,
                    });
                }
                None => return Err(self_db_error(dir, detail)),
            }
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> IndexError {
        self_db_error(&self.dir, e.to_string())
    }

    /// Writes the format version and an empty watermark: a new index.
    pub(crate) fn init(&self) -> Result<(), IndexError> {
        let mut b = WriteBatch::default();
        b.put(VERSION_KEY, FORMAT_VERSION.to_be_bytes());
        b.put(
            WATERMARK_KEY,
            Watermark {
                count: 0,
                last: None,
            }
            .encode(),
        );
        self.db
            .write_opt(b, &WriteOptions::default())
            .map_err(|e| self.err(e))
    }

    /// The stored format version, if any.
    pub(crate) fn version(&self) -> Result<Option<Vec<u8>>, IndexError> {
        self.db.get(VERSION_KEY).map_err(|e| self.err(e))
    }

    /// The stored watermark; `None` when missing or unreadable.
    pub(crate) fn watermark(&self) -> Result<Option<Watermark>, IndexError> {
        Ok(self
            .db
            .get(WATERMARK_KEY)
            .map_err(|e| self.err(e))?
            .and_then(|v| Watermark::decode(&v)))
    }

    /// Writes `pairs` and the watermark `to` in one batch (WAL, no sync).
    pub(crate) fn write(&self, pairs: &[Pair], to: Watermark) -> Result<(), IndexError> {
        let mut b = WriteBatch::default();
        for (k, v) in pairs {
            b.put(k, v);
        }
        b.put(WATERMARK_KEY, to.encode());
        self.db
            .write_opt(b, &WriteOptions::default())
            .map_err(|e| self.err(e))
    }

    /// Makes everything written durable (offline rebuilds).
    pub(crate) fn sync(&self) -> Result<(), IndexError> {
        self.db.flush().map_err(|e| self.err(e))?;
        self.db.flush_wal(true).map_err(|e| self.err(e))
    }

    /// The heads of `resources`, in one read.
    pub(crate) fn heads(
        &self,
        resources: &[(String, String)],
    ) -> Result<Vec<Option<Prev>>, IndexError> {
        let keys = resources.iter().map(|(k, i)| keys::head_key(k, i));
        self.db
            .multi_get(keys)
            .into_iter()
            .map(|v| match v.map_err(|e| self.err(e))? {
                None => Ok(None),
                Some(v) => keys::decode_head(&v)
                    .map(Some)
                    .ok_or_else(|| self.err("a resource head is unreadable (run vellum fsck)")),
            })
            .collect()
    }

    /// The first recording of each (submitter, event id), in one read.
    pub(crate) fn seen(&self, pairs: &[(String, String)]) -> Result<Vec<Option<u64>>, IndexError> {
        let keys = pairs.iter().map(|(s, id)| keys::seen_key(s, id));
        self.db
            .multi_get(keys)
            .into_iter()
            .map(|v| match v.map_err(|e| self.err(e))? {
                None => Ok(None),
                Some(v) => keys::decode_index(&v)
                    .map(Some)
                    .ok_or_else(|| self.err("a retry record is unreadable (run vellum fsck)")),
            })
            .collect()
    }

    /// Up to `limit` indices below `below` under `prefix` (a resource, an
    /// actor, an action), newest first, whose event_time is in
    /// [`since`, `until`): a backward scan of the prefix.
    pub(crate) fn scan_back(
        &self,
        prefix: &[u8],
        below: u64,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<u64>, IndexError> {
        let (since, until) = (since.map(time_bytes), until.map(time_bytes));
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(prefix.to_vec());
        ro.set_iterate_upper_bound(keys::with_index(prefix, below));
        let mut it = self.db.raw_iterator_opt(ro);
        it.seek_to_last();
        let mut out = Vec::new();
        while out.len() < limit {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            if k.len() == prefix.len() + 8
                && since.is_none_or(|s| v >= &s[..])
                && until.is_none_or(|u| v < &u[..])
                && let Some(i) = keys::index_at_end(k)
            {
                out.push(i);
            }
            it.prev();
        }
        it.status().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Up to `limit` of the largest indices below `below` among the events
    /// whose event_time is in [`since`, `until`), newest first: one scan
    /// of the time range, keeping the best `limit`.
    pub(crate) fn scan_time(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        below: u64,
        limit: usize,
    ) -> Result<Vec<u64>, IndexError> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(since.map(keys::time_prefix).unwrap_or_else(|| vec![TIME]));
        ro.set_iterate_upper_bound(
            until
                .map(keys::time_prefix)
                .unwrap_or_else(|| vec![TIME + 1]),
        );
        let mut it = self.db.raw_iterator_opt(ro);
        it.seek_to_first();
        let mut best: BinaryHeap<Reverse<u64>> = BinaryHeap::with_capacity(limit + 1);
        while let Some(k) = it.key() {
            if k.len() == 1 + 12 + 8
                && let Some(i) = keys::index_at_end(k)
                && i < below
            {
                best.push(Reverse(i));
                if best.len() > limit {
                    best.pop();
                }
            }
            it.next();
        }
        it.status().map_err(|e| self.err(e))?;
        let mut out: Vec<u64> = best.into_iter().map(|Reverse(i)| i).collect();
        out.sort_unstable_by(|a, b| b.cmp(a));
        Ok(out)
    }

    /// Calls `f` with every key and value, in key order.
    pub(crate) fn each(&self, f: &mut EachKey<'_>) -> Result<(), IndexError> {
        let mut it = self.db.raw_iterator();
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            f(k, v)?;
            it.next();
        }
        it.status().map_err(|e| self.err(e))
    }
}

fn self_db_error(dir: &Path, why: String) -> IndexError {
    IndexError::Db {
        dir: dir.to_path_buf(),
        why,
    }
}

/// Reads the entries `from..to` of `store` as recorded events, a page at a
/// time, handing each page to `f` with its first index.
pub(crate) fn each_page(
    store: &dyn LogStore,
    from: u64,
    to: u64,
    f: &mut EachPage<'_>,
) -> Result<(), IndexError> {
    let mut i = from;
    while i < to {
        let read = |why: String| IndexError::Read { index: i, why };
        let start = LeafIndex::new(i).map_err(|e| read(e.to_string()))?;
        let page = store
            .read_entries(start, (to - i).min(PAGE))
            .map_err(|e| read(e.to_string()))?;
        if page.is_empty() {
            return Err(read("the store returned no entry".into()));
        }
        let mut events = Vec::with_capacity(page.len());
        for (k, bytes) in page.iter().enumerate() {
            let index = i + k as u64;
            events.push(Recorded::parse(bytes).map_err(|e| IndexError::NotAnEvent {
                index,
                why: e.to_string(),
            })?);
        }
        f(i, &events)?;
        i += events.len() as u64;
    }
    Ok(())
}

/// The keys of consecutive events from index `first`, and the watermark
/// after them.
pub(crate) fn page_keys<'a>(
    first: u64,
    events: impl IntoIterator<Item = &'a Recorded>,
) -> (Vec<Pair>, Watermark) {
    let mut pairs = Vec::new();
    let mut count = first;
    let mut last = None;
    for r in events {
        pairs.extend(keys::event_keys(count, r));
        last = Some(r);
        count += 1;
    }
    let to = Watermark {
        count,
        last: last.map(|r| r.leaf_hash().0),
    };
    (pairs, to)
}

/// Takes the entries `from..to` of `store` into `index`, one batch per
/// page, each with its watermark; `progress` gets the entries done.
pub(crate) fn take_in(
    index: &IndexDb,
    store: &dyn LogStore,
    from: u64,
    to: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<(), IndexError> {
    each_page(store, from, to, &mut |first, events| {
        let (pairs, wm) = page_keys(first, events);
        index.write(&pairs, wm)?;
        progress(wm.count);
        Ok(())
    })
}

/// The watermark of an existing index that can be caught up (its format
/// is this build's and what it took in is a prefix of the log of `size`
/// entries), or why it cannot be.
fn distrust(
    index: &IndexDb,
    store: &dyn LogStore,
    size: u64,
) -> Result<Result<Watermark, String>, IndexError> {
    match index.version()? {
        None => return Ok(Err("it has no format version".into())),
        Some(v) if v != FORMAT_VERSION.to_be_bytes() => {
            return Ok(Err(format!(
                "its format is not version {FORMAT_VERSION}, the one this build writes"
            )));
        }
        Some(_) => {}
    }
    let Some(wm) = index.watermark()? else {
        return Ok(Err("its watermark is missing or unreadable".into()));
    };
    if wm.count > size {
        return Ok(Err(format!(
            "it has taken in {} entries but the log holds {size} (an older copy of the log?)",
            wm.count
        )));
    }
    if let Some(last) = wm.last {
        let at = wm.count - 1;
        let start = LeafIndex::new(at).map_err(|e| IndexError::Read {
            index: at,
            why: e.to_string(),
        })?;
        let entry = store.read_entries(start, 1).map_err(|e| IndexError::Read {
            index: at,
            why: e.to_string(),
        })?;
        if entry.first().map(|b| vellum_merkle::leaf_hash(b).0) != Some(last) {
            return Ok(Err(format!(
                "its last entry ({at}) is not the log's (an index of another copy of the log?)"
            )));
        }
    }
    Ok(Ok(wm))
}

/// Opens the index of a log of `size` entries at start: catches it up from
/// its watermark, or rebuilds it when it cannot be trusted (see the module
/// docs). A rebuild left over by an interrupted `vellum reindex` is
/// removed: the caller holds the log's store, so none is running.
pub(crate) fn open_for_log(
    dir: &Path,
    store: &dyn LogStore,
    size: u64,
) -> Result<(IndexDb, Opened), IndexError> {
    let fs = |why: std::io::Error| self_db_error(dir, why.to_string());
    let new = staging(dir);
    if new.exists() {
        std::fs::remove_dir_all(&new).map_err(fs)?;
    }
    let why = if dir.exists() {
        match IndexDb::open(dir, false) {
            Err(e @ IndexError::Locked { .. }) => return Err(e),
            Err(e) => format!("it cannot be opened ({e})"),
            Ok(index) => match distrust(&index, store, size)? {
                Ok(wm) => {
                    take_in(&index, store, wm.count, size, &mut |_| {})?;
                    let opened = match size - wm.count {
                        0 => Opened::Current,
                        n => Opened::CaughtUp(n),
                    };
                    return Ok((index, opened));
                }
                Err(why) => why,
            },
        }
    } else {
        "it is missing".to_owned()
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(fs)?;
    }
    let index = IndexDb::open(dir, true)?;
    let built = index
        .init()
        .and_then(|()| take_in(&index, store, 0, size, &mut |_| {}));
    if let Err(e) = built {
        // A raw log started as an events log, or a read error: no index
        // is better than one that stops half-way.
        drop(index);
        let _ = std::fs::remove_dir_all(dir);
        return Err(e);
    }
    Ok((index, Opened::Rebuilt(size, why)))
}

//! The events index offline: `vellum reindex` rebuilds it from the
//! entries ([`reindex`]), `vellum fsck` compares it with them
//! ([`check_index`]). Both need the log stopped: they open its store,
//! whose RocksDB lock a running log holds.

use std::collections::BTreeMap;
use std::path::Path;

use vellum_store::LogStore;
use vellum_store_rocksdb::{OpenError, RocksStore, StoreOptions};

use super::index::{self, IndexDb, IndexError, staging};
use super::keys::{self, FORMAT_VERSION, META, VERSION_KEY, WATERMARK_KEY, Watermark};
use crate::embedded::Layout;

/// What [`reindex`] built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReindexReport {
    /// Events taken in (the log's size).
    pub events: u64,
    /// Distinct resources (each with its head).
    pub resources: u64,
    /// Distinct actors.
    pub actors: u64,
    /// Distinct actions.
    pub actions: u64,
    /// (submitter, event id) pairs kept for retries.
    pub event_ids: u64,
}

/// What [`check_index`] verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexCheck {
    /// Entries the index has taken in (its watermark): each key they make
    /// was compared.
    pub entries: u64,
    /// Keys compared.
    pub keys: u64,
    /// Entries of the log above the watermark: not corruption, the next
    /// start (or `vellum reindex`) takes them in.
    pub behind: u64,
}

/// Why [`check_index`] did not pass.
#[derive(Debug, thiserror::Error)]
pub enum IndexCheckFailure {
    /// The index disagrees with the entries (a verdict): the first
    /// missing, extra or different key, in words.
    #[error("the events index does not match the entries: {0}; `vellum reindex` rebuilds it")]
    Mismatch(String),
    /// The check could not run.
    #[error(transparent)]
    Trouble(#[from] IndexError),
}

/// Opens the stopped log's store, for reading its entries: the default
/// log's of `layout`, or the log `log` in the same database.
fn open_store(layout: &Layout, log: Option<&str>) -> Result<RocksStore, IndexError> {
    let options = StoreOptions {
        create_if_missing: false,
        node_cache_entries: 0,
        ..StoreOptions::default()
    };
    let names: Vec<String> = log.map(str::to_owned).into_iter().collect();
    let (default, mut named) =
        RocksStore::open_logs(&layout.store(), &options, &names).map_err(|e| match e {
            OpenError::Locked { dir, detail } => IndexError::Locked { dir, detail },
            e => IndexError::Store(e),
        })?;
    Ok(named.pop().unwrap_or(default))
}

fn io(dir: &Path) -> impl Fn(std::io::Error) -> IndexError + '_ {
    move |e| IndexError::Db {
        dir: dir.to_path_buf(),
        why: e.to_string(),
    }
}

fn sync_dir(dir: &Path) -> Result<(), IndexError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io(dir))
}

/// Rebuilds the events index of the stopped log in `layout` (or of its
/// log `log`, see [`Layout::named`]) from its
/// entries: into `events-index.new`, made durable, then renamed over
/// `events-index`, so that an interruption leaves the old index or none,
/// never half of one (a start rebuilds a missing index). `progress` gets
/// (entries done, entries in all).
///
/// # Errors
///
/// [`IndexError::Locked`] while the log runs; [`IndexError::NotAnEvent`]
/// for a raw log (nothing is left behind); read and write errors.
pub fn reindex(
    layout: &Layout,
    log: Option<&str>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ReindexReport, IndexError> {
    let store = open_store(layout, log)?;
    let layout = &log.map_or_else(|| layout.clone(), |name| layout.named(name));
    let size = store.tree_head().map_err(|e| IndexError::Read {
        index: 0,
        why: e.to_string(),
    })?;
    let size = size.size.get();
    let dir = layout.events_index();
    let new = staging(&dir);
    if new.exists() {
        std::fs::remove_dir_all(&new).map_err(io(&new))?;
    }
    let built = build(&new, &store, size, progress);
    let report = match built {
        Ok(r) => r,
        Err(e) => {
            // Nothing half-built is left: the old index, if any, stays.
            let _ = std::fs::remove_dir_all(&new);
            return Err(e);
        }
    };
    sync_dir(&new)?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::rename(&new, &dir).map_err(io(&dir))?;
    sync_dir(&layout.data)?;
    Ok(report)
}

/// Builds a new index in `dir` from the `size` entries of `store`, made
/// durable, and counts what it holds.
fn build(
    dir: &Path,
    store: &dyn LogStore,
    size: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ReindexReport, IndexError> {
    let index = IndexDb::open(dir, true)?;
    index.init()?;
    progress(0, size);
    index::take_in(&index, store, 0, size, &mut |done| progress(done, size))?;
    index.sync()?;
    let mut report = ReindexReport {
        events: size,
        ..ReindexReport::default()
    };
    // Keys are sorted, so a kind's distinct names are its changes of
    // prefix (the key without its 8-byte index).
    let mut last: Vec<u8> = Vec::new();
    index.each(&mut |k, _| {
        match k.first() {
            Some(&keys::HEAD) => report.resources += 1,
            Some(&keys::SEEN) => report.event_ids += 1,
            Some(&kind @ (keys::ACTOR | keys::ACTION)) => {
                let prefix = &k[..k.len().saturating_sub(8)];
                if prefix != last.as_slice() {
                    last = prefix.to_vec();
                    if kind == keys::ACTOR {
                        report.actors += 1;
                    } else {
                        report.actions += 1;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(report)
}

/// Compares the events index of the stopped log in `layout` with its
/// entries: the index every entry below the stored watermark makes,
/// rebuilt in memory, key by key with the stored one. An index behind the
/// log passes ([`IndexCheck::behind`]). `progress` gets (entries done,
/// entries in all).
///
/// # Errors
///
/// [`IndexCheckFailure::Mismatch`] naming the first missing, extra or
/// different key (which index, which event), an index ahead of the log or
/// of another format; [`IndexCheckFailure::Trouble`] when the check
/// cannot run (the log running, a read error).
pub fn check_index(
    layout: &Layout,
    log: Option<&str>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<IndexCheck, IndexCheckFailure> {
    let store = open_store(layout, log)?;
    let layout = &log.map_or_else(|| layout.clone(), |name| layout.named(name));
    let size = store
        .tree_head()
        .map_err(|e| IndexError::Read {
            index: 0,
            why: e.to_string(),
        })?
        .size
        .get();
    let dir = layout.events_index();
    let index = match IndexDb::open(&dir, false) {
        Ok(i) => i,
        Err(e @ IndexError::Locked { .. }) => return Err(e.into()),
        Err(e) => {
            return Err(IndexCheckFailure::Mismatch(format!(
                "it cannot be opened ({e})"
            )));
        }
    };
    let mismatch = |m: String| Err(IndexCheckFailure::Mismatch(m));
    match index.version()? {
        Some(v) if v == FORMAT_VERSION.to_be_bytes() => {}
        Some(_) => {
            return mismatch(format!(
                "its format is not version {FORMAT_VERSION}, the one this build reads"
            ));
        }
        None => return mismatch("it has no format version record".into()),
    }
    let Some(wm) = index.watermark()? else {
        return mismatch(
            "its watermark (how many entries it took in) is missing or unreadable".into(),
        );
    };
    if wm.count > size {
        return mismatch(format!(
            "it has taken in {} entries but the log holds {size} (an older copy of the log?)",
            wm.count
        ));
    }
    // The index the entries below the watermark make.
    let mut expected: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut last = Watermark {
        count: 0,
        last: None,
    };
    progress(0, wm.count);
    let read = index::each_page(&store, 0, wm.count, &mut |first, events| {
        let (pairs, to) = index::page_keys(first, events);
        expected.extend(pairs);
        last = to;
        progress(to.count, wm.count);
        Ok(())
    });
    match read {
        Ok(()) => {}
        Err(e @ IndexError::NotAnEvent { .. }) => return mismatch(e.to_string()),
        Err(e) => return Err(e.into()),
    }
    if last != wm {
        return mismatch(format!(
            "its watermark names entry {} with another leaf hash than the log's",
            wm.count.saturating_sub(1)
        ));
    }
    let mut want = expected.iter().peekable();
    let mut compared = 0u64;
    let mut first_difference: Option<String> = None;
    index.each(&mut |k, v| {
        if first_difference.is_some() {
            return Ok(());
        }
        if k == VERSION_KEY || k == WATERMARK_KEY {
            return Ok(());
        }
        compared += 1;
        match want.peek() {
            Some((wk, wv)) if wk.as_slice() < k => {
                first_difference = Some(format!("missing: {}", keys::describe(wk, wv)));
            }
            Some((wk, wv)) if wk.as_slice() == k => {
                if wv.as_slice() != v {
                    first_difference = Some(format!(
                        "different: {} holds {}, the entries make {}",
                        keys::describe(k, wv),
                        keys::value_words(k, v),
                        keys::value_words(k, wv)
                    ));
                }
                want.next();
            }
            _ => {
                let why = if k.first() == Some(&META) {
                    "an unknown record".to_owned()
                } else {
                    format!("no entry below {} makes it", wm.count)
                };
                first_difference = Some(format!("extra: {} ({why})", keys::describe(k, v)));
            }
        }
        Ok(())
    })?;
    if first_difference.is_none()
        && let Some((wk, wv)) = want.next()
    {
        first_difference = Some(format!("missing: {}", keys::describe(wk, wv)));
    }
    if let Some(d) = first_difference {
        return mismatch(d);
    }
    Ok(IndexCheck {
        entries: wm.count,
        keys: compared,
        behind: size - wm.count,
    })
}

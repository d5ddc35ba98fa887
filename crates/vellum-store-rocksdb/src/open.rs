//! Opening a store: create, or check that what is there is a Vellum store
//! this build can read, and load the head.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rocksdb::{Cache, DB, Options, WriteBatch};
use vellum_merkle::LeafIndex;
use vellum_merkle::compact::{fold_right, root_nodes};
use vellum_store::{LogStore, StoreError, TreeHead};

use crate::keys::{
    ALL_CFS, CF_ENTRIES, CF_META, LOG_CFS, META_CREATED_BY, META_SCHEMA_VERSION, META_TREE_HEAD,
    NAMESPACE_SEP, SCHEMA_VERSION, decode_head, encode_head, namespaced, u64_key, valid_namespace,
};
use crate::options::{StoreOptions, db_options, log_column_families, namespace_write_buffer};
use crate::store::{RocksStore, sync_write};

/// Why a store could not be opened. Every variant names the directory; none
/// of them changed anything on disk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// RocksDB's `LOCK` file is held: another process (or another
    /// [`RocksStore`] in this one) has the store open.
    #[error("another vellum process is using {dir} ({detail})")]
    Locked {
        /// The store's directory.
        dir: PathBuf,
        /// RocksDB's message.
        detail: String,
    },
    /// The directory holds something other than a Vellum store, or is
    /// missing or empty while creation was not allowed.
    #[error("{dir} is not a Vellum store: {why}")]
    NotAStore {
        /// The directory.
        dir: PathBuf,
        /// What was found instead.
        why: String,
    },
    /// The store was written by a newer Vellum with a layout this build
    /// does not know.
    #[error(
        "{dir} holds a Vellum store of schema version {found}; this build reads version \
         {supported} only: run a newer vellum"
    )]
    UnsupportedSchema {
        /// The directory.
        dir: PathBuf,
        /// The version stored.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The store's own records are inconsistent (run `vellum fsck`).
    #[error("the Vellum store in {dir} is corrupt: {detail}")]
    Corrupt {
        /// The directory.
        dir: PathBuf,
        /// What failed.
        detail: String,
    },
    /// RocksDB or the file system failed.
    #[error("cannot open the Vellum store in {dir}: {detail}")]
    Io {
        /// The directory.
        dir: PathBuf,
        /// What failed.
        detail: String,
    },
}

impl From<OpenError> for StoreError {
    fn from(e: OpenError) -> StoreError {
        match e {
            OpenError::Corrupt { .. } => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Io(e.to_string()),
        }
    }
}

/// What the directory holds before RocksDB touches it.
enum Found {
    /// Nothing (a missing or empty directory, or what an interrupted
    /// creation leaves): a store may be created.
    Nothing,
    /// A RocksDB database with these column families.
    Database(BTreeSet<String>),
}

impl RocksStore {
    /// Opens the store in `dir`, creating it if the directory is missing or
    /// empty and `options.create_if_missing` allows.
    ///
    /// Refuses, without changing anything, a directory that holds anything
    /// else, a store of another schema version, a store open in another
    /// process, and a store whose head does not match its data.
    ///
    /// The database may also hold other logs (see
    /// [`RocksStore::open_logs`]): they are opened, checked and left alone.
    ///
    /// # Errors
    ///
    /// [`OpenError`], whose message names the directory and the reason.
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<RocksStore, OpenError> {
        Ok(RocksStore::open_logs(dir, options, &[])?.0)
    }

    /// Opens the store in `dir` (as [`RocksStore::open`]) with the other
    /// logs `names` in the same database: each log is a set of column
    /// families of its own (`entries@<name>`, ...) with its own tree,
    /// head and checks, and all of them share one write-ahead log, so that
    /// the synced commits of several logs at the same moment cost one
    /// `fdatasync` (RocksDB's group commit). A name's column families are
    /// created if missing (when `options.create_if_missing` allows); logs
    /// already in the database and not named are opened and checked too
    /// (RocksDB opens all of a database's column families) but not
    /// returned. Returns the default log and the named ones, in order.
    ///
    /// # Errors
    ///
    /// [`OpenError`]; a name that is not a log name is
    /// [`OpenError::NotAStore`].
    pub fn open_logs(
        dir: &Path,
        options: &StoreOptions,
        names: &[String],
    ) -> Result<(RocksStore, Vec<RocksStore>), OpenError> {
        let d = || dir.to_path_buf();
        let not_a_store = |why: String| OpenError::NotAStore { dir: d(), why };
        if let Some(bad) = names.iter().find(|n| !valid_namespace(n)) {
            return Err(not_a_store(format!("{bad:?} is not a log name")));
        }
        let mut namespaces: BTreeSet<String> = names.iter().cloned().collect();
        let create = match inspect(dir)? {
            Found::Nothing if options.create_if_missing => true,
            Found::Nothing => {
                return Err(not_a_store(
                    "it is missing or empty, and creating a store was not allowed".into(),
                ));
            }
            Found::Database(all) => {
                let ours: BTreeSet<String> = ALL_CFS.iter().map(|s| s.to_string()).collect();
                let mut cfs = BTreeSet::new();
                for cf in all {
                    match namespaced(&cf) {
                        Some((_, name)) => {
                            namespaces.insert(name.to_owned());
                        }
                        None => {
                            cfs.insert(cf);
                        }
                    }
                }
                if cfs == ours {
                    false
                } else if cfs.is_subset(&ours) && options.create_if_missing {
                    // RocksDB creates a database with `default` first and
                    // the other column families one by one: a crash during
                    // creation leaves some of ours, all empty. Finish it,
                    // but only after checking (read-only) that they are
                    // empty, so that someone else's database is not touched.
                    if let Some(cf) = first_non_empty(dir, &cfs)? {
                        return Err(not_a_store(format!(
                            "it is a RocksDB database with column families {cfs:?} and data in \
                             {cf}, a Vellum store (schema {SCHEMA_VERSION}) has {ours:?}"
                        )));
                    }
                    true
                } else {
                    return Err(not_a_store(format!(
                        "it is a RocksDB database with column families {cfs:?}, a Vellum store \
                         (schema {SCHEMA_VERSION}) has {ours:?}"
                    )));
                }
            }
        };
        if create {
            std::fs::create_dir_all(dir).map_err(|e| OpenError::Io {
                dir: d(),
                detail: format!("creating the directory: {e}"),
            })?;
        }
        let cache = Cache::new_lru_cache(options.block_cache_bytes);
        let mut descriptors = log_column_families(&cache, "", options.write_buffer_bytes);
        for name in &namespaces {
            descriptors.extend(log_column_families(
                &cache,
                &format!("{NAMESPACE_SEP}{name}"),
                namespace_write_buffer(options),
            ));
        }
        // A named log's missing column families are made at open (a log
        // added to the configuration, or a crash while they were made);
        // its `initialise` then checks they are empty.
        let mut db_opts = db_options(create);
        db_opts.create_missing_column_families(options.create_if_missing);
        let db = Arc::new(
            DB::open_cf_descriptors(&db_opts, dir, descriptors).map_err(|e| classify(dir, e))?,
        );
        let view = |suffix: String, node_cache_entries: usize| -> Result<RocksStore, OpenError> {
            let store = RocksStore {
                db: db.clone(),
                dir: d(),
                cf_names: LOG_CFS.map(|kind| format!("{kind}{suffix}")),
                suffix,
                writer: Mutex::new(TreeHead::empty()),
                published: RwLock::new(TreeHead::empty()),
                checkpoint_lock: Mutex::new(()),
                node_cache: (node_cache_entries > 0)
                    .then(|| crate::store::NodeCache::new(node_cache_entries)),
            };
            let head = store.load_head()?;
            *store.writer.lock().unwrap_or_else(|e| e.into_inner()) = head;
            *store.published.write().unwrap_or_else(|e| e.into_inner()) = head;
            store.check_head(head)?;
            Ok(store)
        };
        let default = view(String::new(), options.node_cache_entries)?;
        let mut named = Vec::with_capacity(names.len());
        for name in &namespaces {
            // Every log is checked at open, named or not.
            let store = view(
                format!("{NAMESPACE_SEP}{name}"),
                options.node_cache_entries / 16,
            )
            .map_err(|e| in_log(name, e))?;
            if names.contains(name) {
                named.push((name.clone(), store));
            }
        }
        let mut ordered = Vec::with_capacity(names.len());
        for n in names {
            let i = named
                .iter()
                .position(|(m, _)| m == n)
                .ok_or_else(|| not_a_store(format!("log {n:?} was not opened")))?;
            ordered.push(named.swap_remove(i).1);
        }
        Ok((default, ordered))
    }

    /// Reads the schema version and the head, initialising a store that has
    /// none yet.
    fn load_head(&self) -> Result<TreeHead, OpenError> {
        let dir = || self.dir.clone();
        let fail = |detail: String| OpenError::Io { dir: dir(), detail };
        let meta = self.cf(CF_META).map_err(|e| fail(e.to_string()))?;
        let get = |key: &[u8]| {
            self.db
                .get_cf(meta, key)
                .map_err(|e| fail(format!("reading meta: {e}")))
        };
        let Some(version) = get(META_SCHEMA_VERSION)? else {
            return self.initialise();
        };
        let version = <[u8; 4]>::try_from(version.as_slice())
            .map(u32::from_be_bytes)
            .map_err(|_| OpenError::Corrupt {
                dir: dir(),
                detail: format!("meta/schema_version is {} bytes, not 4", version.len()),
            })?;
        if version != SCHEMA_VERSION {
            return Err(OpenError::UnsupportedSchema {
                dir: dir(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let head = get(META_TREE_HEAD)?.ok_or_else(|| OpenError::Corrupt {
            dir: dir(),
            detail: "meta/schema_version is set but meta/tree_head is missing".into(),
        })?;
        decode_head(&head).map_err(|e| corrupt(&self.dir, e))
    }

    /// Writes the records of a new store, in one synced batch. Done only if
    /// every column family is empty: a crash during creation leaves a
    /// database with no records, which the next open finishes the same way;
    /// anything else without a schema version is not ours to touch.
    fn initialise(&self) -> Result<TreeHead, OpenError> {
        for name in LOG_CFS {
            let cf = self.cf(name).map_err(|e| corrupt(&self.dir, e))?;
            let mut it = self.db.raw_iterator_cf(cf);
            it.seek_to_first();
            if it.valid() {
                return Err(OpenError::NotAStore {
                    dir: self.dir.clone(),
                    why: format!("it has data in column family {name} but no schema version"),
                });
            }
            it.status().map_err(|e| OpenError::Io {
                dir: self.dir.clone(),
                detail: e.to_string(),
            })?;
        }
        let head = TreeHead::empty();
        let meta = self.cf(CF_META).map_err(|e| corrupt(&self.dir, e))?;
        let mut wb = WriteBatch::default();
        wb.put_cf(meta, META_SCHEMA_VERSION, SCHEMA_VERSION.to_be_bytes());
        wb.put_cf(meta, META_TREE_HEAD, encode_head(&head));
        wb.put_cf(
            meta,
            META_CREATED_BY,
            concat!("vellum-store-rocksdb ", env!("CARGO_PKG_VERSION")),
        );
        self.db
            .write_opt(wb, &sync_write())
            .map_err(|e| OpenError::Io {
                dir: self.dir.clone(),
                detail: format!("writing the new store's records: {e}"),
            })?;
        Ok(head)
    }

    /// Checks the loaded head against the data, in `O(log size)`: the root
    /// folds from the stored right edge, and no entry lies beyond the head.
    /// Both hold after any crash (one batch writes all of them); a failure
    /// here is damage, and is reported before anyone reads or appends.
    fn check_head(&self, head: TreeHead) -> Result<(), OpenError> {
        let edge = self
            .read_nodes(&root_nodes(head.size))
            .map_err(|e| corrupt(&self.dir, e))?;
        let root = fold_right(&edge);
        if root != head.root {
            return Err(OpenError::Corrupt {
                dir: self.dir.clone(),
                detail: format!(
                    "meta/tree_head says size {} has root {}, the stored nodes give {root}",
                    head.size, head.root
                ),
            });
        }
        let entries = self.cf(CF_ENTRIES).map_err(|e| corrupt(&self.dir, e))?;
        let mut it = self.db.raw_iterator_cf(entries);
        it.seek(u64_key(head.size.get()));
        it.status().map_err(|e| OpenError::Io {
            dir: self.dir.clone(),
            detail: e.to_string(),
        })?;
        if let Some(k) = it.key() {
            return Err(OpenError::Corrupt {
                dir: self.dir.clone(),
                detail: format!(
                    "an entry (key {k:02x?}) is stored beyond the tree size {}",
                    head.size
                ),
            });
        }
        if let Some(last) = head.size.get().checked_sub(1) {
            // The last entry must be there: the node check covers leaf
            // hashes, this covers the entry bytes of the same batch.
            let last = LeafIndex::new(last)
                .map_err(|e| corrupt(&self.dir, StoreError::Corrupt(e.to_string())))?;
            self.read_entries(last, 1)
                .map_err(|e| corrupt(&self.dir, e))?;
        }
        Ok(())
    }
}

/// `e`, saying which log of the database it is about.
fn in_log(name: &str, e: OpenError) -> OpenError {
    match e {
        OpenError::Corrupt { dir, detail } => OpenError::Corrupt {
            dir,
            detail: format!("log {name:?}: {detail}"),
        },
        OpenError::Io { dir, detail } => OpenError::Io {
            dir,
            detail: format!("log {name:?}: {detail}"),
        },
        OpenError::NotAStore { dir, why } => OpenError::NotAStore {
            dir,
            why: format!("log {name:?}: {why}"),
        },
        other => other,
    }
}

fn corrupt(dir: &Path, e: StoreError) -> OpenError {
    match e {
        StoreError::Io(detail) => OpenError::Io {
            dir: dir.to_path_buf(),
            detail,
        },
        other => OpenError::Corrupt {
            dir: dir.to_path_buf(),
            detail: other.to_string(),
        },
    }
}

/// Looks at `dir` without opening a database there.
fn inspect(dir: &Path) -> Result<Found, OpenError> {
    let io = |detail: String| OpenError::Io {
        dir: dir.to_path_buf(),
        detail,
    };
    let listing = match std::fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(e) if dir.exists() && !dir.is_dir() => {
            return Err(OpenError::NotAStore {
                dir: dir.to_path_buf(),
                why: format!("it is not a directory ({e})"),
            });
        }
        Err(e) => return Err(io(format!("listing the directory: {e}"))),
    };
    let names = listing
        .map(|f| f.map(|f| f.file_name().to_string_lossy().into_owned()))
        .collect::<Result<Vec<String>, _>>()
        .map_err(|e| io(format!("listing the directory: {e}")))?;
    if names.iter().any(|n| n == "CURRENT") {
        let cfs = DB::list_cf(&Options::default(), dir)
            .map_err(|e| io(format!("reading the RocksDB manifest: {e}")))?;
        return Ok(Found::Database(cfs.into_iter().collect()));
    }
    // RocksDB writes CURRENT last when it creates a database: a crash
    // before that leaves only these files, and no data (no WAL, no SST).
    let creation_leftover = |n: &String| {
        ["LOCK", "IDENTITY", "LOG"].contains(&n.as_str())
            || ["LOG.old.", "MANIFEST-", "OPTIONS-"]
                .iter()
                .any(|p| n.starts_with(p))
            || n.ends_with(".dbtmp")
    };
    if names.iter().all(creation_leftover) {
        return Ok(Found::Nothing);
    }
    Err(OpenError::NotAStore {
        dir: dir.to_path_buf(),
        why: "it is not empty and holds no RocksDB database (no CURRENT file)".into(),
    })
}

/// The first of `cfs` in the database in `dir` that holds a key, read
/// without taking the lock or writing anything.
fn first_non_empty(dir: &Path, cfs: &BTreeSet<String>) -> Result<Option<String>, OpenError> {
    let db = DB::open_cf_for_read_only(&Options::default(), dir, cfs, false)
        .map_err(|e| classify(dir, e))?;
    for name in cfs {
        let Some(cf) = db.cf_handle(name) else {
            continue;
        };
        let mut it = db.raw_iterator_cf(cf);
        it.seek_to_first();
        it.status().map_err(|e| classify(dir, e))?;
        if it.valid() {
            return Ok(Some(name.clone()));
        }
    }
    Ok(None)
}

/// Tells a held lock apart from other open failures. RocksDB reports both
/// as IOError; the lock's message names the `LOCK` file ("While lock file:
/// <dir>/LOCK" from another process, "lock hold by current process" from
/// this one).
fn classify(dir: &Path, e: rocksdb::Error) -> OpenError {
    let detail = e.into_string();
    if detail.contains("/LOCK") || detail.contains("lock hold by current process") {
        OpenError::Locked {
            dir: dir.to_path_buf(),
            detail,
        }
    } else {
        OpenError::Io {
            dir: dir.to_path_buf(),
            detail,
        }
    }
}

//! Raw damage to a store on disk, for tests of what catches it (start-up,
//! `vellum fsck`). Behind the `testonly` feature: a build of the server or
//! the CLI never contains it.
//!
//! This is deliberately *not* a [`LogStore`](vellum_store::LogStore) method:
//! the store's contract is that stored entries and hashes are write-once,
//! and there is no call that changes one. Here the database is opened
//! directly, as a disk fault or an attacker with file access would change
//! it, bypassing every check of the store.

use std::path::Path;

use rocksdb::DB;
use vellum_merkle::Hash;
use vellum_store::StoreError;

use crate::keys::{CF_CHECKPOINTS, CF_DEDUP, CF_ENTRIES, CF_NODES, node_key, u64_key};
use crate::options::{StoreOptions, column_families, db_options};
use crate::store::{io, sync_write};

/// A stored record, by its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// The entry at this index.
    Entry(u64),
    /// The node hash at (level, index).
    Node(u8, u64),
    /// The dedup record of this leaf hash.
    Dedup(Hash),
    /// The checkpoint stored for this size.
    Checkpoint(u64),
}

impl Record {
    fn cf_and_key(&self) -> (&'static str, Vec<u8>) {
        match self {
            Record::Entry(i) => (CF_ENTRIES, u64_key(*i).to_vec()),
            Record::Node(l, i) => (CF_NODES, node_key(*l, *i).to_vec()),
            Record::Dedup(h) => (CF_DEDUP, h.as_bytes().to_vec()),
            Record::Checkpoint(s) => (CF_CHECKPOINTS, u64_key(*s).to_vec()),
        }
    }
}

/// Flips the bits of `mask` in byte `offset` of the stored value of
/// `record`, in the closed store in `dir`, with a synced write.
///
/// # Errors
///
/// [`StoreError::NotFound`] if the record or the byte does not exist,
/// [`StoreError::Io`] if RocksDB fails (e.g. the store is open elsewhere).
pub fn flip_byte(dir: &Path, record: Record, offset: usize, mask: u8) -> Result<(), StoreError> {
    let db = DB::open_cf_descriptors(
        &db_options(false),
        dir,
        column_families(&StoreOptions::default()),
    )
    .map_err(|e| io("open for raw damage", e))?;
    let (name, key) = record.cf_and_key();
    let cf = db
        .cf_handle(name)
        .ok_or_else(|| StoreError::Io(format!("column family {name} is not open")))?;
    let mut value = db
        .get_cf(cf, &key)
        .map_err(|e| io("raw read", e))?
        .ok_or_else(|| StoreError::NotFound(format!("{record:?}")))?;
    let byte = value
        .get_mut(offset)
        .ok_or_else(|| StoreError::NotFound(format!("byte {offset} of {record:?}")))?;
    *byte ^= mask;
    db.put_cf_opt(cf, &key, &value, &sync_write())
        .map_err(|e| io("raw write", e))
}

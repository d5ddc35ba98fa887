//! [`RocksGroup`]: the logs of one database committed together, one synced
//! write for the rounds of all of them.

use std::sync::Arc;

use rocksdb::WriteBatch;
use vellum_store::{CommitBatch, CommitGroup, LogStore, StoreError};

use crate::store::{RocksStore, io, sync_write};

/// Logs held in one database (see [`RocksStore::open_logs`]) as a
/// [`CommitGroup`]: a sequencing round that serves several of them writes
/// every log's batch into one `WriteBatch` and syncs it once.
///
/// Each log's batch is checked exactly as [`LogStore::commit`] checks it,
/// under that log's writer lock; the locks are taken in member order, so two
/// groups over the same stores cannot deadlock. One RocksDB write is atomic,
/// so a crash keeps all of a round's batches or none.
///
/// [`LogStore::commit`]: vellum_store::LogStore::commit
#[derive(Debug, Clone)]
pub struct RocksGroup {
    members: Vec<Arc<RocksStore>>,
}

impl RocksGroup {
    /// A group of `members`, numbered in this order.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidBatch`] when they are not all logs of one
    /// database (a group of one database's logs is what makes one write
    /// possible) or the same log appears twice.
    pub fn new(members: Vec<Arc<RocksStore>>) -> Result<RocksGroup, StoreError> {
        if let Some(first) = members.first() {
            for (i, m) in members.iter().enumerate() {
                if !Arc::ptr_eq(&m.db, &first.db) {
                    return Err(StoreError::InvalidBatch(format!(
                        "member {i} of the commit group is in another database"
                    )));
                }
                if members[..i].iter().any(|o| o.suffix == m.suffix) {
                    return Err(StoreError::InvalidBatch(format!(
                        "member {i} of the commit group is the same log as an earlier one"
                    )));
                }
            }
        }
        Ok(RocksGroup { members })
    }
}

impl CommitGroup for RocksGroup {
    fn commit_all(&self, batches: &[(usize, &CommitBatch)]) -> Result<(), StoreError> {
        let mut order: Vec<(usize, &CommitBatch)> = batches.to_vec();
        order.sort_unstable_by_key(|(m, _)| *m);
        if order.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(StoreError::InvalidBatch(
                "a commit group got two batches for one log".into(),
            ));
        }
        let mut staged = Vec::with_capacity(order.len());
        let mut wb = WriteBatch::default();
        for (m, batch) in order {
            let store = self.members.get(m).ok_or_else(|| {
                StoreError::InvalidBatch(format!(
                    "member {m} of a group of {} logs",
                    self.members.len()
                ))
            })?;
            let head = store.lock_writer();
            if store.stage(batch, &head, &mut wb)? {
                staged.push((store, batch, head));
            }
        }
        if staged.is_empty() {
            return Ok(());
        }
        // The one durable step for every log of the round; see
        // `RocksStore::commit` for what a crash or an error leaves.
        self.members[0]
            .db
            .write_opt(wb, &sync_write())
            .map_err(|e| io("commit", e))?;
        for (store, batch, mut head) in staged {
            store.applied(batch, &mut head);
        }
        Ok(())
    }

    fn member(&self, member: usize) -> Option<Arc<dyn LogStore>> {
        self.members
            .get(member)
            .map(|m| Arc::clone(m) as Arc<dyn LogStore>)
    }
}

//! Publications as the log's memory: before the log opens (and may sign),
//! the checkpoint it last exported is compared with the store. A store that
//! holds a smaller tree than was published, or another tree of the
//! published size, is an older copy of the data (a restored backup) or a
//! fork, and the log must not start on it.
//!
//! Witnesses are the other memory ([`vellum_log::memory`]); the signer's
//! journal outside the data folder is the third ([`crate::embedded`]).

use std::fs;
use std::path::{Path, PathBuf};

use vellum_log::reader::root_at;
use vellum_merkle::TreeSize;
use vellum_note::{SignedCheckpoint, VerifierKey};
use vellum_store::{LogStore, StoreError};

use crate::export::CHECKPOINT_FILE;

/// Why a publication stops the start.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The export holds a larger tree than the store.
    #[error(
        "the export folder {folder} publishes a tree of size {exported}, but the store holds \
         only {stored} entries: the data is an older copy than what was published (a restored \
         backup?). Refusing to start: continuing would sign a different tree of a size already \
         published (a fork). Put back the newest copy of the data, or fetch what is missing \
         with `vellum recover --from-tiles {folder}`"
    )]
    ExportAhead {
        /// The export folder.
        folder: PathBuf,
        /// The size of its checkpoint.
        exported: u64,
        /// The size of the stored tree.
        stored: u64,
    },
    /// The export holds another tree of a size the store has.
    #[error(
        "the export folder {folder} publishes a tree of size {size} with root {exported}, but \
         the store has root {stored} at that size: the stored history is not the one this log \
         published (a fork). Refusing to start"
    )]
    ExportForked {
        /// The export folder.
        folder: PathBuf,
        /// The size.
        size: u64,
        /// The published root.
        exported: vellum_merkle::Hash,
        /// The stored root.
        stored: vellum_merkle::Hash,
    },
    /// The export's checkpoint cannot be read or is not this log's.
    #[error(
        "the export folder {folder} holds a checkpoint that cannot be checked: {reason}. \
         Refusing to start until it is understood (is the folder another log's?)"
    )]
    ExportUnreadable {
        /// The export folder.
        folder: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The store could not be read.
    #[error("cannot read the store: {0}")]
    Store(#[from] StoreError),
}

/// The checkpoint in export folder `folder`, verified with the log's key;
/// `None` if the folder has none yet.
///
/// # Errors
///
/// [`MemoryError::ExportUnreadable`].
pub fn exported_checkpoint(
    folder: &Path,
    vkey: &VerifierKey,
) -> Result<Option<SignedCheckpoint>, MemoryError> {
    let unreadable = |reason: String| MemoryError::ExportUnreadable {
        folder: folder.to_path_buf(),
        reason,
    };
    let bytes = match fs::read(folder.join(CHECKPOINT_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e.to_string())),
    };
    SignedCheckpoint::open(&bytes, vkey, &[])
        .map(Some)
        .map_err(|e| unreadable(format!("it does not verify with the log key: {e}")))
}

/// Refuses a store that holds less than, or other than, the checkpoint
/// exported to `folder`. A folder with no checkpoint yet says nothing.
///
/// # Errors
///
/// [`MemoryError`].
pub fn check_export(
    store: &dyn LogStore,
    folder: &Path,
    vkey: &VerifierKey,
) -> Result<(), MemoryError> {
    let Some(cp) = exported_checkpoint(folder, vkey)? else {
        return Ok(());
    };
    let size = cp.checkpoint().size();
    let stored = store.tree_head()?.size;
    if size > stored {
        return Err(MemoryError::ExportAhead {
            folder: folder.to_path_buf(),
            exported: size.get(),
            stored: stored.get(),
        });
    }
    check_root(store, folder, size, cp.checkpoint().root())
}

fn check_root(
    store: &dyn LogStore,
    folder: &Path,
    size: TreeSize,
    exported: vellum_merkle::Hash,
) -> Result<(), MemoryError> {
    let stored = root_at(store, size)?;
    if stored != exported {
        return Err(MemoryError::ExportForked {
            folder: folder.to_path_buf(),
            size: size.get(),
            exported,
            stored,
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use bytes::Bytes;
    use vellum_merkle::{CompactRange, leaf_hash};
    use vellum_note::{Checkpoint, SigType, SignerKey, sign_note};
    use vellum_store::memory::MemoryStore;

    use super::*;

    /// A store with `n` entries, and the signed checkpoint of its first
    /// `at` entries.
    fn store_and_note(key: &SignerKey, n: u64, at: u64) -> (MemoryStore, Vec<u8>) {
        let store = MemoryStore::new();
        let mut edge = CompactRange::new();
        let mut root_at_size = None;
        let mut entries = Vec::new();
        for i in 0..n {
            let e = Bytes::from(format!("entry {i}"));
            let h = leaf_hash(&e);
            if edge.size().get() == at {
                root_at_size = Some(edge.root());
            }
            entries.push((e, h));
            edge.append(h, |_, _| {}).unwrap();
        }
        if edge.size().get() == at {
            root_at_size = Some(edge.root());
        }
        let mut edge2 = CompactRange::new();
        let batch = vellum_log::integrate::integrate(&mut edge2, entries).unwrap();
        store.commit(&batch).unwrap();
        let root = root_at_size.unwrap_or_else(|| {
            // A size the store does not reach: any root.
            leaf_hash(b"beyond")
        });
        let cp = Checkpoint::new(key.name(), TreeSize::new(at).unwrap(), root).unwrap();
        let note = sign_note(&cp.to_text(), &[key]).unwrap();
        (store, note.into_bytes())
    }

    #[test]
    fn a_store_behind_or_beside_the_export_is_refused() {
        let key = SignerKey::generate("example.com/log", SigType::Ed25519).unwrap();
        let vkey = key.verifier();
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path();

        // No checkpoint exported yet: nothing to compare.
        let (store, _) = store_and_note(&key, 5, 5);
        check_export(&store, folder, &vkey).unwrap();

        // The export has 5 of the store's 8: fine.
        let (store, note) = store_and_note(&key, 8, 5);
        fs::write(folder.join(CHECKPOINT_FILE), &note).unwrap();
        check_export(&store, folder, &vkey).unwrap();

        // The export has 9, the store 8: an older copy of the data.
        let (_, note) = store_and_note(&key, 9, 9);
        fs::write(folder.join(CHECKPOINT_FILE), &note).unwrap();
        let e = check_export(&store, folder, &vkey).unwrap_err();
        assert!(
            matches!(
                e,
                MemoryError::ExportAhead {
                    exported: 9,
                    stored: 8,
                    ..
                }
            ),
            "{e}"
        );

        // Same size, another tree: a fork.
        let other = MemoryStore::new();
        let entries: Vec<_> = (0..8)
            .map(|i| {
                let e = Bytes::from(format!("other {i}"));
                let h = leaf_hash(&e);
                (e, h)
            })
            .collect();
        let batch = vellum_log::integrate::integrate(&mut CompactRange::new(), entries).unwrap();
        other.commit(&batch).unwrap();
        let (_, note) = store_and_note(&key, 8, 8);
        fs::write(folder.join(CHECKPOINT_FILE), &note).unwrap();
        check_export(&store, folder, &vkey).unwrap();
        let e = check_export(&other, folder, &vkey).unwrap_err();
        assert!(
            matches!(e, MemoryError::ExportForked { size: 8, .. }),
            "{e}"
        );

        // Another log's checkpoint: not silently ignored.
        let stranger = SignerKey::generate("example.com/log", SigType::Ed25519).unwrap();
        let (_, note) = store_and_note(&stranger, 8, 8);
        fs::write(folder.join(CHECKPOINT_FILE), &note).unwrap();
        let e = check_export(&store, folder, &vkey).unwrap_err();
        assert!(matches!(e, MemoryError::ExportUnreadable { .. }), "{e}");
    }
}

//! Start-up: load the tree from storage and prove it is the tree that was
//! signed, before anything new is sequenced or signed.
//!
//! Checks, in order (each failure is a [`StartupError`] and the log does not
//! run):
//!
//! 1. the root recomputed from the stored right edge equals the stored root;
//! 2. the latest stored checkpoint verifies with the log key, and the stored
//!    tree has that checkpoint's root at its size;
//! 3. the signer's last signed checkpoint verifies, is not beyond the stored
//!    tree (else the data is older than the signer: a restored backup), and
//!    the stored tree has its root at its size (else a fork);
//! 4. the signer remembers at least the latest stored checkpoint (else the
//!    signer lost its state).
//!
//! The cost is `O(log size)` reads: start-up time does not grow with the log.

use std::sync::Arc;

use vellum_merkle::compact::root_nodes;
use vellum_merkle::{CompactRange, TreeSize};
use vellum_note::{SignedCheckpoint, VerifierKey};
use vellum_store::{LogStore, StoreError, TreeHead};

use crate::error::StartupError;
use crate::publisher::Published;
use crate::reader::root_at;
use crate::signer::Signer;

pub(crate) struct Recovered {
    pub edge: CompactRange,
    pub head: TreeHead,
    pub published: Option<Published>,
    pub signed: Option<TreeSize>,
}

fn open(note: &[u8], key: &VerifierKey, whose: &str) -> Result<SignedCheckpoint, StartupError> {
    SignedCheckpoint::open(note, key, &[])
        .map_err(|e| StartupError::BadCheckpoint(format!("{whose}: {e}")))
}

fn check_root(store: &dyn LogStore, cp: &SignedCheckpoint) -> Result<(), StartupError> {
    let size = cp.checkpoint().size();
    let stored = root_at(store, size)?;
    if stored != cp.checkpoint().root() {
        return Err(StartupError::CheckpointMismatch {
            size: size.get(),
            signed: cp.checkpoint().root(),
            stored,
        });
    }
    Ok(())
}

pub(crate) async fn recover(
    store: &Arc<dyn LogStore>,
    signer: &dyn Signer,
    log_key: &VerifierKey,
) -> Result<Recovered, StartupError> {
    let head = store.tree_head()?;
    let edge_hashes = store.read_nodes(&root_nodes(head.size))?;
    let edge = CompactRange::from_parts(head.size, edge_hashes)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if edge.root() != head.root {
        return Err(StartupError::RootMismatch {
            size: head.size.get(),
            stored: head.root,
            recomputed: edge.root(),
        });
    }

    let stored = match store.latest_checkpoint()? {
        None => None,
        Some((size, note)) => {
            let cp = open(&note, log_key, &format!("stored checkpoint {size}"))?;
            if cp.checkpoint().size() != size {
                return Err(StartupError::BadCheckpoint(format!(
                    "checkpoint stored under size {size} is for size {}",
                    cp.checkpoint().size()
                )));
            }
            check_root(&**store, &cp)?;
            Some((cp, note))
        }
    };

    let from_signer = signer
        .last_signed()
        .await
        .map_err(|e| StartupError::Signer(e.to_string()))?;
    let signed = match from_signer {
        None => None,
        Some(note) => {
            let cp = open(&note, log_key, "signer's last checkpoint")?;
            let size = cp.checkpoint().size();
            if size > head.size {
                return Err(StartupError::StoreBehindSigner {
                    signed: size.get(),
                    stored: head.size.get(),
                });
            }
            check_root(&**store, &cp)?;
            Some((cp, note))
        }
    };

    let signed_size = signed.as_ref().map(|(cp, _)| cp.checkpoint().size());
    if let Some((cp, _)) = &stored {
        let s = cp.checkpoint().size();
        if signed_size.is_none_or(|signed| signed < s) {
            return Err(StartupError::SignerBehindStore {
                signed: signed_size.map_or(0, TreeSize::get),
                stored: s.get(),
            });
        }
    }

    // The signer's checkpoint is at least as new as the stored one; store it
    // if the log crashed between signing and storing.
    // When the store holds the same checkpoint, serve its copy: it may carry
    // witness cosignatures that the signer's does not.
    let published = match signed {
        None => None,
        Some((cp, note)) => {
            let size = cp.checkpoint().size();
            let note = match stored {
                Some((s, stored_note)) if s.checkpoint().size() == size => stored_note,
                _ => {
                    store.put_checkpoint(size, &note)?;
                    note
                }
            };
            Some(Published {
                size,
                root: cp.checkpoint().root(),
                note,
            })
        }
    };
    Ok(Recovered {
        edge,
        head,
        published,
        signed: signed_size,
    })
}

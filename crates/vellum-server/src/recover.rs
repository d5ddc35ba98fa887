//! `vellum recover`: the explicit, recorded way back after a restore.
//!
//! A log refuses to start when its store is older than what it signed or
//! published (see [`crate::embedded`] and [`crate::memory`]). When a
//! restore was meant (the data folder put back onto a new machine, or an
//! old copy after a disk loss), this is the path:
//!
//! 1. With `from_tiles`, the entries the store lacks are read from a tiles
//!    export (`vellum serve --export`, `vellum export`): the folder's
//!    checkpoint is verified with the log key, the missing entries are
//!    integrated onto the stored tree, and they are written only if the
//!    resulting root is the published one. Nothing is taken on trust.
//! 2. With `witnesses`, each witness is shown the store's latest checkpoint:
//!    any that remembers a larger or another tree stops the recovery (the
//!    entries are still missing), and at least one must answer.
//! 3. The signer's memory (its journal outside the data folder) adopts the
//!    store's latest checkpoint if it is behind, with a consistency proof
//!    from what it remembers ([`vellum_signer::CheckpointSigner::adopt`]).
//!    The journal records the reason given and what was adopted, before
//!    the adopted checkpoint: the recovery is on record where the signer's
//!    history is.
//!
//! Without either source the signer's memory is only moved forward on the
//! operator's explicit word (`trust_store`), which is recorded as such.
//! Nothing here ever moves the signer's memory backwards: a signer that
//! remembers more than the store holds, after step 1, stops the recovery.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use vellum_log::memory::{Remembered, ask_witnesses};
use vellum_log::reader::{consistency, root_at};
use vellum_log::{StartupError, Witnessing};
use vellum_merkle::compact::root_nodes;
use vellum_merkle::tiles::{TILE_WIDTH, Tile, TileKind, parse_bundle};
use vellum_merkle::{CompactRange, leaf_hash};
use vellum_note::{SignedCheckpoint, VerifierKey};
use vellum_signer::{CheckpointSigner, SignerError, keyfile};
use vellum_store::{LogStore, StoreError};
use vellum_store_rocksdb::{OpenError, RocksStore, StoreOptions};

use crate::embedded::{DeployError, Layout, prepare_signer_state};
use crate::memory::{MemoryError, check_export, exported_checkpoint};

/// What to recover from.
#[derive(Debug)]
pub struct RecoverOptions {
    /// The deployment.
    pub layout: Layout,
    /// The key file, if not `<data>/log.key`.
    pub key: Option<PathBuf>,
    /// A tiles export to fetch missing entries from.
    pub from_tiles: Option<PathBuf>,
    /// Witnesses to ask (from a tlog-policy).
    pub witnesses: Option<Witnessing>,
    /// Adopt the store's checkpoint with neither source, on the operator's
    /// word.
    pub trust_store: bool,
    /// Why: recorded in the signer's journal.
    pub reason: String,
}

/// What a recovery did.
#[derive(Debug, Default)]
pub struct RecoverReport {
    /// Entries fetched from the tiles export.
    pub fetched: u64,
    /// The size of the store's latest checkpoint afterwards.
    pub size: u64,
    /// The signer's last signed size before (`None`: it remembered nothing).
    pub signer_before: Option<u64>,
    /// Whether the signer adopted the store's checkpoint.
    pub adopted: bool,
    /// Each witness's answer.
    pub witnesses: Vec<(String, Remembered)>,
}

/// Why a recovery stopped (nothing past the failing step was changed).
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// Neither a source nor the operator's explicit word.
    #[error(
        "nothing to check the data against: give --from-witnesses POLICY and/or --from-tiles \
         FOLDER, or --trust-store to adopt the store's latest checkpoint on your word alone \
         (recorded as such)"
    )]
    NoSource,
    /// The reason is required: it is the record.
    #[error("--reason is required and may not be empty: it is recorded in the signer's journal")]
    NoReason,
    /// The store could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The store could not be read or written.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The key or the signer's folder.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// The signer refused or failed.
    #[error("signer: {0}")]
    Signer(#[from] SignerError),
    /// The export disagrees with the store.
    #[error(transparent)]
    Export(#[from] MemoryError),
    /// The tiles folder lacks a file or holds a bad one.
    #[error("tiles folder {folder}: {reason}")]
    Tiles {
        /// The folder.
        folder: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The fetched entries do not make the published tree.
    #[error(
        "the entries fetched from {folder} onto the stored tree of size {stored} make root \
         {got} at size {size}, not the published {published}: the store's history is not the \
         one published there (a fork?). Nothing was written"
    )]
    FetchedRootMismatch {
        /// The folder.
        folder: PathBuf,
        /// The stored size.
        stored: u64,
        /// The published size.
        size: u64,
        /// The root computed.
        got: vellum_merkle::Hash,
        /// The root published.
        published: vellum_merkle::Hash,
    },
    /// A witness remembers more or another tree.
    #[error(transparent)]
    Witness(#[from] StartupError),
    /// No witness answered.
    #[error(
        "no witness answered ({0}): a recovery from witnesses needs at least one that remembers \
         this log; try again when they are reachable"
    )]
    NoWitnessAnswered(String),
    /// The store holds no signed checkpoint.
    #[error("the store holds no signed checkpoint: there is nothing to recover to")]
    NothingSigned,
    /// The signer remembers more than the store holds, even after fetching.
    #[error(
        "the signer remembers signing a tree of size {signed}, but the store holds only \
         {stored} entries: entries {stored}..{signed} are missing. Fetch them with --from-tiles \
         (an export of this log), or put back a newer copy of the data; the signer's memory is \
         never moved back"
    )]
    SignerAhead {
        /// The signer's size.
        signed: u64,
        /// The store's size.
        stored: u64,
    },
    /// The signer remembers another tree of a size the store holds.
    #[error(
        "the signer signed size {size} with another root than the store has at that size: the \
         store is not the history this signer signed (a fork). Nothing was changed"
    )]
    SignerForked {
        /// The size.
        size: u64,
    },
}

/// Runs a recovery (the log must be stopped: the store's lock keeps a
/// running one out).
///
/// # Errors
///
/// [`RecoverError`]; steps before the failing one keep their effect (a
/// fetch that verified stays written: those entries are the published
/// log's).
pub async fn recover(opts: RecoverOptions) -> Result<RecoverReport, RecoverError> {
    if opts.reason.trim().is_empty() {
        return Err(RecoverError::NoReason);
    }
    if opts.from_tiles.is_none() && opts.witnesses.is_none() && !opts.trust_store {
        return Err(RecoverError::NoSource);
    }
    let layout = &opts.layout;
    let key_path = opts.key.clone().unwrap_or_else(|| layout.key());
    let key = keyfile::load_key(&key_path).map_err(DeployError::Key)?;
    let vkey = key.verifier();
    let options = StoreOptions {
        create_if_missing: false,
        ..StoreOptions::default()
    };
    let store = RocksStore::open(&layout.store(), &options)?;
    let mut report = RecoverReport::default();

    if let Some(folder) = &opts.from_tiles {
        report.fetched = fetch_from_tiles(&store, folder, &vkey)?;
    }

    let (size, note) = store
        .latest_checkpoint()?
        .ok_or(RecoverError::NothingSigned)?;
    let cp = SignedCheckpoint::open(&note, &vkey, &[]).map_err(|e| {
        RecoverError::Store(StoreError::Corrupt(format!(
            "the stored checkpoint of size {size} does not verify with the log key: {e}"
        )))
    })?;
    if root_at(&store, size)? != cp.checkpoint().root() {
        return Err(RecoverError::Store(StoreError::Corrupt(format!(
            "the stored checkpoint of size {size} does not match the stored tree"
        ))));
    }
    report.size = size.get();

    if let Some(w) = &opts.witnesses {
        let answers = ask_witnesses(w, &note, size).await;
        for (witness, answer) in &answers {
            match answer {
                Remembered::Ahead(theirs) => {
                    return Err(StartupError::WitnessAhead {
                        witness: witness.clone(),
                        witness_size: *theirs,
                        size: size.get(),
                    }
                    .into());
                }
                Remembered::Forked => {
                    return Err(StartupError::WitnessForked {
                        witness: witness.clone(),
                        size: size.get(),
                    }
                    .into());
                }
                _ => {}
            }
        }
        if answers
            .iter()
            .all(|(_, a)| matches!(a, Remembered::Unknown(_)))
        {
            let why = answers
                .iter()
                .map(|(n, a)| format!("{n}: {a:?}"))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(RecoverError::NoWitnessAnswered(why));
        }
        report.witnesses = answers;
    }

    let state = prepare_signer_state(layout)?;
    let mut signer = CheckpointSigner::open(key, &state)?;
    let last = signer
        .last_signed()
        .map(|l| (l.checkpoint.size(), l.checkpoint.root()));
    report.signer_before = last.map(|(s, _)| s.get());
    let proof = match last {
        None => Vec::new(),
        Some((signed, _)) if signed > size => {
            // The store may hold the entries without their checkpoint (a
            // crash between signing and storing): start-up handles that.
            let stored = store.tree_head()?.size;
            if signed > stored {
                return Err(RecoverError::SignerAhead {
                    signed: signed.get(),
                    stored: stored.get(),
                });
            }
            Vec::new()
        }
        Some((signed, root)) => {
            if root_at(&store, signed)? != root {
                return Err(RecoverError::SignerForked { size: signed.get() });
            }
            consistency(&store, signed, size)?
        }
    };
    if last.is_none_or(|(signed, _)| signed < size) {
        let sources = [
            opts.from_tiles
                .as_ref()
                .map(|f| format!("tiles {}", f.display())),
            opts.witnesses.as_ref().map(|w| {
                format!(
                    "witnesses {}",
                    w.witnesses
                        .iter()
                        .map(|x| x.name())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }),
            opts.trust_store
                .then(|| "the operator's word (--trust-store)".to_owned()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" and ");
        let reason = format!(
            "vellum recover: checked against {sources}; fetched {} entries; reason: {}",
            report.fetched, opts.reason
        );
        report.adopted = signer.adopt(&note, &proof, &reason)?;
    }
    Ok(report)
}

/// Fetches the entries the store lacks from the tiles export `folder` and
/// writes them if they make the published tree. Returns how many.
fn fetch_from_tiles(
    store: &RocksStore,
    folder: &Path,
    vkey: &VerifierKey,
) -> Result<u64, RecoverError> {
    let tiles_err = |reason: String| RecoverError::Tiles {
        folder: folder.to_path_buf(),
        reason,
    };
    let cp = exported_checkpoint(folder, vkey)?
        .ok_or_else(|| tiles_err("it holds no checkpoint".into()))?;
    let (size, published) = (cp.checkpoint().size(), cp.checkpoint().root());
    let head = store.tree_head()?;
    if size <= head.size {
        // Nothing missing; the published tree must still be the stored one.
        check_export(store, folder, vkey)?;
        return Ok(0);
    }
    let edge_hashes = store.read_nodes(&root_nodes(head.size))?;
    let mut edge = CompactRange::from_parts(head.size, edge_hashes)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut entries = Vec::new();
    let first = head.size.get() / TILE_WIDTH;
    let last = (size.get() - 1) / TILE_WIDTH;
    for index in first..=last {
        let start = index * TILE_WIDTH;
        let width = (size.get() - start).min(TILE_WIDTH);
        let bundle = read_bundle(folder, index, width).map_err(tiles_err)?;
        let skip = head.size.get().saturating_sub(start) as usize;
        for e in bundle.into_iter().skip(skip) {
            let h = leaf_hash(&e);
            entries.push((e, h));
        }
    }
    let fetched = entries.len() as u64;
    let batch = vellum_log::integrate::integrate(&mut edge, entries)
        .map_err(|e| tiles_err(format!("cannot integrate: {e}")))?;
    if batch.new_head.root != published || batch.new_head.size != size {
        return Err(RecoverError::FetchedRootMismatch {
            folder: folder.to_path_buf(),
            stored: head.size.get(),
            size: size.get(),
            got: batch.new_head.root,
            published,
        });
    }
    store.commit(&batch)?;
    let note = std::fs::read(folder.join(crate::export::CHECKPOINT_FILE))
        .map_err(|e| tiles_err(e.to_string()))?;
    store.put_checkpoint(size, &note)?;
    tracing::warn!(
        fetched,
        from = head.size.get(),
        to = size.get(),
        folder = %folder.display(),
        "recovered missing entries from the tiles export"
    );
    Ok(fetched)
}

/// The entries of bundle `index` with `width` entries: the full bundle if
/// the folder has it (cut to `width`), else the partial one.
fn read_bundle(folder: &Path, index: u64, width: u64) -> Result<Vec<Bytes>, String> {
    let tile =
        |w: u64| Tile::new(TileKind::Entries, index, w).map_err(|e| format!("bundle {index}: {e}"));
    let full = tile(TILE_WIDTH)?;
    let (bytes, got) = match std::fs::read(folder.join(full.path())) {
        Ok(b) => (b, TILE_WIDTH),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && width < TILE_WIDTH => {
            let partial = tile(width)?;
            let b = std::fs::read(folder.join(partial.path()))
                .map_err(|e| format!("{}: {e}", partial.path()))?;
            (b, width)
        }
        Err(e) => return Err(format!("{}: {e}", full.path())),
    };
    let got = u16::try_from(got).map_err(|_| "bundle width beyond 256".to_owned())?;
    let entries = parse_bundle(&bytes, got).map_err(|e| format!("bundle {index}: {e}"))?;
    Ok(entries
        .into_iter()
        .take(width as usize)
        .map(Bytes::copy_from_slice)
        .collect())
}

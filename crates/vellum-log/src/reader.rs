//! Everything read from a store by plan, fetch and assemble: tree roots,
//! inclusion and consistency proofs, and the bytes of tlog-tiles tiles and
//! entry bundles. The one home of these reads: the log's read calls and
//! appends, its start-up checks and `fsck`, the server's HTTP tile API and
//! its export all use them. Nothing here writes.

use std::collections::{BTreeSet, HashMap};

use vellum_merkle::compact::{fold_right, root_nodes};
use vellum_merkle::proof::{plan_consistency, plan_inclusion};
use vellum_merkle::tiles::{Tile, TileKind, push_bundle_entry, tile_bytes};
use vellum_merkle::{Hash, LeafIndex, NodeId, TreeSize};
use vellum_store::{LogStore, StoreError};

/// The root of the stored tree at an earlier (or the current) size.
///
/// # Errors
///
/// A store error; `NotFound` if `size` is beyond the stored tree.
pub fn root_at(store: &dyn LogStore, size: TreeSize) -> Result<Hash, StoreError> {
    let hashes = store.read_nodes(&root_nodes(size))?;
    Ok(fold_right(&hashes))
}

/// The inclusion proof of `index` in the tree of `size`. The caller checks
/// `index < size <= stored size`.
///
/// # Errors
///
/// A store error.
pub fn inclusion(
    store: &dyn LogStore,
    index: LeafIndex,
    size: TreeSize,
) -> Result<Vec<Hash>, StoreError> {
    let plan = plan_inclusion(index, size).map_err(|e| StoreError::NotFound(e.to_string()))?;
    let hashes = store.read_nodes(plan.nodes())?;
    plan.assemble(&hashes)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Inclusion proofs of many leaves at one size, reading each needed node
/// once: proofs of entries of the same round share most of their nodes.
/// The caller checks `index < size <= stored size` for each.
///
/// # Errors
///
/// A store error.
pub fn inclusion_many(
    store: &dyn LogStore,
    indices: &[LeafIndex],
    size: TreeSize,
) -> Result<Vec<Vec<Hash>>, StoreError> {
    let plans = indices
        .iter()
        .map(|i| plan_inclusion(*i, size).map_err(|e| StoreError::NotFound(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<NodeId> = plans
        .iter()
        .flat_map(|p| p.nodes().iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let hashes = store.read_nodes(&ids)?;
    let by_id: HashMap<NodeId, Hash> = ids.into_iter().zip(hashes).collect();
    plans
        .iter()
        .map(|p| {
            let h: Vec<Hash> = p.nodes().iter().map(|id| by_id[id]).collect();
            p.assemble(&h)
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .collect()
}

/// The consistency proof from `from` to `to`. The caller checks
/// `from <= to <= stored size`.
///
/// # Errors
///
/// A store error.
pub fn consistency(
    store: &dyn LogStore,
    from: TreeSize,
    to: TreeSize,
) -> Result<Vec<Hash>, StoreError> {
    let plan = plan_consistency(from, to).map_err(|e| StoreError::NotFound(e.to_string()))?;
    let hashes = store.read_nodes(plan.nodes())?;
    plan.assemble(&hashes)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The tlog-tiles bytes of `tile`: its hashes concatenated, or for an entry
/// bundle each entry as a big-endian uint16 length and its bytes. Nothing
/// is hashed: a hash tile is a run of stored nodes (`read_node_range`), a
/// bundle a run of stored entries (`read_entries`). What the HTTP API
/// serves and what an export writes.
///
/// The caller checks first that the tile is available in the tree it
/// publishes ([`Tile::is_available_in`]); the store refuses anything that is
/// not complete in its own tree with [`StoreError::NotFound`].
///
/// # Errors
///
/// The store's error; [`StoreError::Corrupt`] for a stored entry longer
/// than a bundle can hold (the log refuses such entries at admission).
pub fn read_tile(store: &dyn LogStore, tile: Tile) -> Result<Vec<u8>, StoreError> {
    let width = u64::from(tile.width());
    match tile.kind() {
        TileKind::Hashes(_) => {
            let hashes =
                store.read_node_range(tile.node_level(), tile.first_node_index(), width)?;
            Ok(tile_bytes(&hashes))
        }
        TileKind::Entries => {
            let first = LeafIndex::new(tile.first_node_index())
                .map_err(|e| StoreError::NotFound(format!("{tile}: {e}")))?;
            let entries = store.read_entries(first, width)?;
            let len: usize = entries.iter().map(|e| e.len() + 2).sum();
            let mut bundle = Vec::with_capacity(len);
            for (i, e) in (first.get()..).zip(&entries) {
                push_bundle_entry(&mut bundle, e)
                    .map_err(|err| StoreError::Corrupt(format!("entry {i}: {err}")))?;
            }
            Ok(bundle)
        }
    }
}

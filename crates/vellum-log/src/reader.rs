//! Proofs from storage: plan with `vellum-merkle`, fetch from the store,
//! assemble. Nothing here writes.

use vellum_merkle::compact::{fold_right, root_nodes};
use vellum_merkle::proof::{plan_consistency, plan_inclusion};
use vellum_merkle::{Hash, LeafIndex, TreeSize};
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

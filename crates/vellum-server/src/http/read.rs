//! The bytes of one tile or entry bundle, read from the store: what the HTTP
//! API serves and what `export` writes. Nothing is hashed here: a hash tile
//! is a run of stored nodes (`read_node_range`), a bundle a run of stored
//! entries (`read_entries`).

use vellum_merkle::LeafIndex;
use vellum_merkle::tiles::{Tile, TileKind, push_bundle_entry, tile_bytes};
use vellum_store::{LogStore, StoreError};

/// The tlog-tiles bytes of `tile`: its hashes concatenated, or for an entry
/// bundle each entry as a big-endian uint16 length and its bytes.
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

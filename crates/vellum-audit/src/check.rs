//! The verification itself, without I/O: which tiles an audit needs
//! ([`plan`]), and a [`Checker`] that consumes them in order, recomputes
//! every leaf hash and every tree node from the entries, and compares.
//!
//! The tree is grown with a [`CompactRange`] from the entries alone. Each
//! node it completes at a level that is a multiple of 8 is a tile hash: at
//! level 0 the leaf hash of an entry (checked against the level-0 tile),
//! at level `8 * L` the hash of a full tile of level `L - 1` (checked against
//! the tile of level `L`). Nodes complete in index order, so each tile is
//! checked left to right and must be loaded before its first node
//! completes; [`plan`] loads it with the first bundle under it.
//!
//! Resuming from a [`Frontier`] (what an earlier audit verified): the edge
//! continues the tree, and the hashes of the rightmost partial tiles then
//! verified must be the prefixes of the tiles fetched now.

use vellum_merkle::tiles::{TILE_HEIGHT, Tile, TileKind, parse_bundle, parse_tile};
use vellum_merkle::{CompactRange, Hash, NodeId, TreeSize, leaf_hash};

use crate::error::AuditError;

/// Tile levels of a tree of up to 2^63 leaves.
const LEVELS: usize = 8;

/// What an audit has verified of a tree prefix: enough to continue it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frontier {
    /// The size verified.
    pub size: TreeSize,
    /// Its right edge ([`CompactRange::hashes`]).
    pub edge: Vec<Hash>,
    /// For each tile level, the hashes of the partial tile at `size` (empty
    /// when the level has none).
    pub tiles: Vec<Vec<Hash>>,
}

impl Frontier {
    /// The empty tree.
    pub fn empty() -> Frontier {
        Frontier {
            size: TreeSize::ZERO,
            edge: Vec::new(),
            tiles: Vec::new(),
        }
    }

    /// The root of the verified prefix.
    pub fn root(&self) -> Hash {
        vellum_merkle::compact::fold_right(&self.edge)
    }
}

/// The resources fetched for one step: an entry bundle, the level-0 tile
/// beside it, and the tiles of higher levels that start with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The entry bundle.
    pub bundle: Tile,
    /// Hash tiles, level 0 first.
    pub tiles: Vec<Tile>,
}

/// The steps that take a verified prefix of `start` leaves to `target`.
pub fn plan(start: TreeSize, target: TreeSize) -> impl Iterator<Item = Step> {
    let (s, t) = (start.get(), target.get());
    let w = vellum_merkle::tiles::TILE_WIDTH;
    let first = s / w;
    let end = if t > s { t.div_ceil(w) } else { first };
    (first..end).map(move |b| {
        // Every index here is below t / 256 < 2^55: Tile::new cannot fail.
        let tile = |kind, index: u64, width: u64| Tile::new(kind, index, width).ok();
        let width = (t - b * w).min(w);
        let mut tiles: Vec<Tile> = tile(TileKind::Hashes(0), b, width).into_iter().collect();
        for level in 1..LEVELS as u8 {
            let shift = u32::from(level) * u32::from(TILE_HEIGHT);
            let nodes = t >> shift;
            if nodes == 0 {
                break;
            }
            // Bundle b starts tile (level, b >> shift) when b is a multiple
            // of 256^level; the first step loads whatever tiles it is in.
            if b != first && b & ((1 << shift) - 1) != 0 {
                continue;
            }
            let index = b >> shift;
            if nodes <= index * w {
                continue;
            }
            tiles.extend(tile(
                TileKind::Hashes(level),
                index,
                (nodes - index * w).min(w),
            ));
        }
        Step {
            bundle: tile(TileKind::Entries, b, width).unwrap_or_else(|| unreachable!()),
            tiles,
        }
    })
}

#[derive(Debug)]
struct Loaded {
    tile: Tile,
    path: String,
    hashes: Vec<Hash>,
    /// The next position to check; everything before it is verified.
    next: usize,
}

/// Checks steps in order. See the module docs.
#[derive(Debug)]
pub struct Checker {
    range: CompactRange,
    target: TreeSize,
    /// The partial tiles of the frontier the audit started from.
    start_tiles: Vec<Vec<Hash>>,
    loaded: Vec<Option<Loaded>>,
    /// Signed roots to check on the way, by size, ascending.
    roots: Vec<(TreeSize, Hash)>,
    hash_tiles: u64,
    bundles: u64,
}

impl Checker {
    /// Continues from `from` towards `target`, checking the root at each
    /// size in `roots` (signed roots seen before) when the tree passes it.
    ///
    /// # Errors
    ///
    /// [`AuditError::State`] if the frontier is not a valid right edge.
    pub fn new(
        from: &Frontier,
        target: TreeSize,
        mut roots: Vec<(TreeSize, Hash)>,
    ) -> Result<Checker, AuditError> {
        let range = CompactRange::from_parts(from.size, from.edge.clone()).map_err(|e| {
            AuditError::State {
                path: String::new(),
                reason: e.to_string(),
            }
        })?;
        roots.retain(|(s, _)| *s > from.size && *s <= target);
        roots.sort();
        Ok(Checker {
            range,
            target,
            start_tiles: from.tiles.clone(),
            loaded: (0..LEVELS).map(|_| None).collect(),
            roots,
            hash_tiles: 0,
            bundles: 0,
        })
    }

    /// Leaves verified so far.
    pub fn size(&self) -> TreeSize {
        self.range.size()
    }

    /// Hash tiles and entry bundles checked so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.hash_tiles, self.bundles)
    }

    /// Checks one step: its tiles' prefixes (what earlier steps or audits
    /// verified), then every entry of the bundle and every node the entries
    /// complete.
    ///
    /// # Errors
    ///
    /// The first mismatch, naming the tile or entry.
    pub fn step(&mut self, step: &Step, bundle: &[u8], tiles: &[&[u8]]) -> Result<(), AuditError> {
        for (tile, bytes) in step.tiles.iter().zip(tiles) {
            self.load(*tile, bytes)?;
        }
        let bundle_tile = step.bundle;
        let entries =
            parse_bundle(bundle, step.bundle.width()).map_err(|e| AuditError::Malformed {
                path: bundle_tile.path(),
                reason: e.to_string(),
            })?;
        self.bundles += 1;
        let first = step.bundle.first_node_index();
        // Entries an earlier step or audit already added to the tree (only in
        // the first step of a resumed audit): their leaf hashes must still
        // be the verified ones at the front of the level-0 tile.
        let done =
            usize::try_from(self.range.size().get().saturating_sub(first)).unwrap_or(usize::MAX);
        let Some(l0) = &self.loaded[0] else {
            return Err(internal("no level-0 tile loaded for a bundle"));
        };
        for (position, e) in entries.iter().enumerate().take(done) {
            let computed = leaf_hash(e);
            if computed != l0.hashes[position] {
                return Err(AuditError::EntryMismatch {
                    index: first + position as u64,
                    bundle: bundle_tile,
                    tile: l0.tile,
                    position,
                    computed,
                    served: l0.hashes[position],
                });
            }
        }
        for (position, e) in entries.iter().enumerate().skip(done) {
            let mut failure = None;
            let loaded = &mut self.loaded;
            self.range
                .append(leaf_hash(e), |id, h| {
                    if failure.is_none() {
                        failure = check_node(loaded, id, h, bundle_tile, position).err();
                    }
                })
                .map_err(|e| internal(&e.to_string()))?;
            if let Some(f) = failure {
                return Err(f);
            }
            if let Some((size, root)) = self.roots.first()
                && *size == self.range.size()
            {
                let computed = self.range.root();
                if computed != *root {
                    return Err(AuditError::RootMismatch {
                        size: size.get(),
                        computed,
                        signed: *root,
                    });
                }
                self.roots.remove(0);
            }
        }
        Ok(())
    }

    fn load(&mut self, tile: Tile, bytes: &[u8]) -> Result<(), AuditError> {
        let path = tile.path();
        let hashes = parse_tile(bytes, tile.width()).map_err(|e| AuditError::Malformed {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let level = usize::from(tile.node_level() / TILE_HEIGHT);
        if let Some(prev) = &self.loaded[level]
            && prev.next < usize::from(prev.tile.width())
        {
            return Err(internal(&format!(
                "{} replaced before it was fully checked",
                prev.tile
            )));
        }
        // Nodes of this tile that are already in the tree: verified by the
        // audit we continue, and kept in its frontier.
        let complete = self.range.size().get() >> tile.node_level();
        let before = usize::try_from(complete.saturating_sub(tile.first_node_index()))
            .unwrap_or(usize::MAX)
            .min(hashes.len());
        if before > 0 {
            let verified = self
                .start_tiles
                .get(level)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if verified.len() != before {
                return Err(internal(&format!(
                    "the frontier has {} hashes of {path}, expected {before}",
                    verified.len()
                )));
            }
            if let Some(position) = (0..before).find(|i| verified[*i] != hashes[*i]) {
                return Err(AuditError::Changed {
                    path,
                    position,
                    before: verified[position],
                    now: hashes[position],
                });
            }
        }
        self.hash_tiles += 1;
        self.loaded[level] = Some(Loaded {
            tile,
            path,
            hashes,
            next: before,
        });
        Ok(())
    }

    /// The verified frontier at the current size, which must be the end of a
    /// step (a bundle boundary or the target).
    pub fn frontier(&self) -> Frontier {
        let size = self.range.size();
        let mut tiles = Vec::new();
        for level in 0..LEVELS {
            let shift = level as u32 * u32::from(TILE_HEIGHT);
            let width = ((size.get() >> shift) % vellum_merkle::tiles::TILE_WIDTH) as usize;
            let hashes = match (&self.loaded[level], width) {
                (_, 0) => Vec::new(),
                (Some(l), w) if l.tile.index() == (size.get() >> shift) >> TILE_HEIGHT => {
                    l.hashes[..w].to_vec()
                }
                // Not loaded in this run: unchanged since the start frontier.
                _ => self.start_tiles.get(level).cloned().unwrap_or_default(),
            };
            tiles.push(hashes);
        }
        while tiles.last().is_some_and(Vec::is_empty) {
            tiles.pop();
        }
        Frontier {
            size,
            edge: self.range.hashes().to_vec(),
            tiles,
        }
    }

    /// Ends the audit at the target: every loaded tile fully checked, and
    /// the recomputed root equal to the signed one.
    ///
    /// # Errors
    ///
    /// [`AuditError::RootMismatch`], or an internal error if steps are
    /// missing.
    pub fn finish(&self, signed_root: Hash) -> Result<Frontier, AuditError> {
        if self.range.size() != self.target {
            return Err(internal(&format!(
                "stopped at {} of {} entries",
                self.range.size(),
                self.target
            )));
        }
        for l in self.loaded.iter().flatten() {
            if l.next != usize::from(l.tile.width()) {
                return Err(internal(&format!("{} was not fully checked", l.path)));
            }
        }
        let computed = self.range.root();
        if computed != signed_root {
            return Err(AuditError::RootMismatch {
                size: self.target.get(),
                computed,
                signed: signed_root,
            });
        }
        Ok(self.frontier())
    }
}

/// Checks a node the tree just completed against its tile, if it is a tile
/// hash (level a multiple of 8).
fn check_node(
    loaded: &mut [Option<Loaded>],
    id: NodeId,
    computed: &Hash,
    bundle: Tile,
    entry_position: usize,
) -> Result<(), AuditError> {
    if !id.level().is_multiple_of(TILE_HEIGHT) {
        return Ok(());
    }
    let level = usize::from(id.level() / TILE_HEIGHT);
    let index = id.index();
    let Some(l) = loaded.get_mut(level).and_then(Option::as_mut) else {
        return Err(internal(&format!(
            "node {id} completed with no tile loaded"
        )));
    };
    let position = (index % vellum_merkle::tiles::TILE_WIDTH) as usize;
    if l.tile.index() != index >> TILE_HEIGHT || position != l.next || position >= l.hashes.len() {
        return Err(internal(&format!(
            "node {id} completed out of order for {} (next {})",
            l.path, l.next
        )));
    }
    let served = l.hashes[position];
    if served != *computed {
        return Err(if level == 0 {
            AuditError::EntryMismatch {
                index,
                bundle,
                tile: l.tile,
                position: entry_position,
                computed: *computed,
                served,
            }
        } else {
            AuditError::TileMismatch {
                path: l.path.clone(),
                position,
                level: id.level(),
                index,
                served,
                computed: *computed,
            }
        });
    }
    l.next += 1;
    Ok(())
}

fn internal(what: &str) -> AuditError {
    AuditError::Config(format!("internal error in the auditor: {what}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests;

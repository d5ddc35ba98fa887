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
mod tests {
    use super::*;
    use vellum_merkle::tiles::{push_bundle_entry, tile_bytes};

    /// A tree of `n` leaves with every tile, computed the slow way.
    struct Tree {
        entries: Vec<Vec<u8>>,
        nodes: std::collections::HashMap<NodeId, Hash>,
        root: Hash,
    }

    fn tree(n: u64) -> Tree {
        let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
        let mut range = CompactRange::new();
        let mut nodes = std::collections::HashMap::new();
        for e in &entries {
            range
                .append(leaf_hash(e), |id, h| {
                    nodes.insert(id, *h);
                })
                .unwrap();
        }
        Tree {
            root: range.root(),
            entries,
            nodes,
        }
    }

    impl Tree {
        fn bytes(&self, t: Tile) -> Vec<u8> {
            match t.kind() {
                TileKind::Entries => {
                    let mut b = Vec::new();
                    let first = t.first_node_index() as usize;
                    for e in &self.entries[first..first + usize::from(t.width())] {
                        push_bundle_entry(&mut b, e).unwrap();
                    }
                    b
                }
                TileKind::Hashes(_) => {
                    tile_bytes(&t.nodes().map(|id| self.nodes[&id]).collect::<Vec<_>>())
                }
            }
        }

        fn audit(
            &self,
            from: &Frontier,
            size: u64,
            corrupt: &dyn Fn(Tile, &mut Vec<u8>),
        ) -> Result<Frontier, AuditError> {
            let size = TreeSize::new(size).unwrap();
            let mut c = Checker::new(from, size, vec![]).unwrap();
            for step in plan(from.size, size) {
                let mut b = self.bytes(step.bundle);
                corrupt(step.bundle, &mut b);
                let tiles: Vec<Vec<u8>> = step
                    .tiles
                    .iter()
                    .map(|t| {
                        let mut v = self.bytes(*t);
                        corrupt(*t, &mut v);
                        v
                    })
                    .collect();
                let refs: Vec<&[u8]> = tiles.iter().map(Vec::as_slice).collect();
                c.step(&step, &b, &refs)?;
            }
            let root = root_of(&self.entries[..size.get() as usize]);
            c.finish(root)
        }
    }

    fn root_of(entries: &[Vec<u8>]) -> Hash {
        let mut r = CompactRange::new();
        for e in entries {
            r.append(leaf_hash(e), |_, _| {}).unwrap();
        }
        r.root()
    }

    #[test]
    fn plan_covers_every_tile_once() {
        let size = TreeSize::new(70_000).unwrap();
        let steps: Vec<Step> = plan(TreeSize::ZERO, size).collect();
        assert_eq!(steps.len(), 274);
        let tiles: Vec<Tile> = steps.iter().flat_map(|s| s.tiles.clone()).collect();
        // 273 full + 1 partial at level 0, 1 full + 1 partial at level 1,
        // one partial at level 2 (the specification's example).
        assert_eq!(tiles.len(), 274 + 2 + 1);
        assert!(tiles.contains(&Tile::new(TileKind::Hashes(1), 1, 17).unwrap()));
        assert!(tiles.contains(&Tile::new(TileKind::Hashes(2), 0, 1).unwrap()));
        assert_eq!(
            steps.last().unwrap().bundle,
            Tile::new(TileKind::Entries, 273, 112).unwrap()
        );
        assert_eq!(plan(size, size).count(), 0);
    }

    #[test]
    fn full_audits_pass_at_awkward_sizes() {
        let t = tree(66_000);
        for n in [1, 255, 256, 257, 65_535, 65_536, 65_537, 66_000] {
            let f = t.audit(&Frontier::empty(), n, &|_, _| {}).unwrap();
            assert_eq!(f.root(), root_of(&t.entries[..n as usize]), "{n}");
        }
    }

    #[test]
    fn resumed_audits_match_a_full_one() {
        let t = tree(66_000);
        let full = t.audit(&Frontier::empty(), 66_000, &|_, _| {}).unwrap();
        for (a, b) in [
            (1, 2),
            (300, 65_537),
            (65_536, 66_000),
            (256, 512),
            (1000, 1000),
        ] {
            let mid = t.audit(&Frontier::empty(), a, &|_, _| {}).unwrap();
            let end = t.audit(&mid, b, &|_, _| {}).unwrap();
            let direct = t.audit(&Frontier::empty(), b, &|_, _| {}).unwrap();
            assert_eq!(end, direct, "{a} -> {b}");
        }
        assert_eq!(full.size.get(), 66_000);
    }

    #[test]
    fn every_corruption_is_named() {
        let t = tree(70_000);
        // One flipped byte in a bundle, a level-0 tile, a level-1 tile.
        let flip = |target: Tile, at: usize| {
            move |tile: Tile, b: &mut Vec<u8>| {
                if tile == target {
                    b[at] ^= 1;
                }
            }
        };
        let bundle = Tile::new(TileKind::Entries, 5, 256).unwrap();
        let e = t
            .audit(&Frontier::empty(), 70_000, &flip(bundle, 40))
            .unwrap_err();
        assert!(
            matches!(&e, AuditError::EntryMismatch { bundle, index, .. } if bundle.path() == "tile/entries/005" && *index == 5 * 256 + 3),
            "{e}"
        );
        let l0 = Tile::new(TileKind::Hashes(0), 9, 256).unwrap();
        let e = t
            .audit(&Frontier::empty(), 70_000, &flip(l0, 32 * 7))
            .unwrap_err();
        assert!(
            matches!(&e, AuditError::EntryMismatch { tile, position: 7, .. } if tile.path() == "tile/0/009"),
            "{e}"
        );
        let l1 = Tile::new(TileKind::Hashes(1), 0, 256).unwrap();
        let e = t
            .audit(&Frontier::empty(), 70_000, &flip(l1, 32 * 200 + 5))
            .unwrap_err();
        assert!(
            matches!(&e, AuditError::TileMismatch { path, position: 200, .. } if path == "tile/1/000"),
            "{e}"
        );
        let l2 = Tile::new(TileKind::Hashes(2), 0, 1).unwrap();
        let e = t
            .audit(&Frontier::empty(), 70_000, &flip(l2, 0))
            .unwrap_err();
        assert!(
            matches!(&e, AuditError::TileMismatch { path, .. } if path == "tile/2/000.p/1"),
            "{e}"
        );
        // A length prefix that no longer adds up.
        let e = t
            .audit(&Frontier::empty(), 70_000, &flip(bundle, 0))
            .unwrap_err();
        assert!(
            matches!(&e, AuditError::Malformed { path, .. } if path == "tile/entries/005"),
            "{e}"
        );
    }

    #[test]
    fn history_changes_are_caught_on_resume() {
        let t = tree(1000);
        let mid = t.audit(&Frontier::empty(), 700, &|_, _| {}).unwrap();
        // The log now serves a different hash for an entry already verified
        // in the partial tile.
        let l0 = Tile::new(TileKind::Hashes(0), 2, 256).unwrap();
        let e = t
            .audit(&mid, 1000, &|tile, b| {
                if tile == l0 {
                    b[32 * 10] ^= 1;
                }
            })
            .unwrap_err();
        assert!(
            matches!(&e, AuditError::Changed { position: 10, .. }),
            "{e}"
        );
        // A different entry in the partial bundle.
        let bundle = Tile::new(TileKind::Entries, 2, 256).unwrap();
        let e = t
            .audit(&mid, 1000, &|tile, b| {
                if tile == bundle {
                    b[5] ^= 1;
                }
            })
            .unwrap_err();
        assert!(
            matches!(&e, AuditError::EntryMismatch { index: 512, .. }),
            "{e}"
        );
    }

    #[test]
    fn signed_roots_on_the_way_are_checked() {
        let t = tree(600);
        let size = TreeSize::new(600).unwrap();
        let bad = vec![(TreeSize::new(300).unwrap(), Hash([7; 32]))];
        let mut c = Checker::new(&Frontier::empty(), size, bad).unwrap();
        let mut err = None;
        for step in plan(TreeSize::ZERO, size) {
            let tiles: Vec<Vec<u8>> = step.tiles.iter().map(|x| t.bytes(*x)).collect();
            let refs: Vec<&[u8]> = tiles.iter().map(Vec::as_slice).collect();
            if let Err(e) = c.step(&step, &t.bytes(step.bundle), &refs) {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(
            err,
            Some(AuditError::RootMismatch { size: 300, .. })
        ));
        assert!(t.root != Hash::default());
    }
}

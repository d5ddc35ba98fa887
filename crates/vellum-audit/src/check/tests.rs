//! Unit tests of the parent module (kept apart to keep it under the
//! file-size limit of scripts/check-layering).

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

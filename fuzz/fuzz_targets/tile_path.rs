//! C2SP tlog-tiles coordinates: `Tile::parse` on arbitrary text, and
//! `Tile::new` / size arithmetic on arbitrary numbers.
//!
//! Properties:
//! * no panic, no overflow (built with overflow checks);
//! * round trip: a parsed path is the tile's one canonical path, and a tile
//!   built from numbers parses back from its path;
//! * accept ⇒ valid: a tile's nodes are valid node ids inside a 2^63-leaf
//!   tree and `Tile::for_node` puts them back in that tile; the partial tile
//!   of a size is available at that size but its full version is not; the
//!   last full tile is available and the next one is not.

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use vellum_merkle::tiles::{TILE_HEIGHT, TILE_WIDTH, Tile, TileKind};
use vellum_merkle::{MAX_TREE_SIZE, NodeId, TreeSize};

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = std::str::from_utf8(data)
        && let Ok(tile) = Tile::parse(path)
    {
        assert_eq!(tile.path(), path, "one canonical path per tile");
        check_tile(tile);
    }
    let mut u = Unstructured::new(data);
    let (Ok(level), Ok(index), Ok(width), Ok(size)) = (
        u.arbitrary::<u8>(),
        u.arbitrary::<u64>(),
        u.arbitrary::<u64>(),
        u.arbitrary::<u64>(),
    ) else {
        return;
    };
    let kind = if level == 255 {
        TileKind::Entries
    } else {
        TileKind::Hashes(level)
    };
    if let Ok(tile) = Tile::new(kind, index, width) {
        assert_eq!(
            Tile::parse(&tile.path()),
            Ok(tile),
            "a made tile parses back"
        );
        check_tile(tile);
    }
    if let Ok(size) = TreeSize::new(size % (MAX_TREE_SIZE + 1)) {
        check_size(kind, size);
    }
});

fn check_tile(tile: Tile) {
    assert!((1..=TILE_WIDTH).contains(&u64::from(tile.width())));
    assert_eq!(tile.is_full(), u64::from(tile.width()) == TILE_WIDTH);
    let nodes: Vec<NodeId> = tile.nodes().collect();
    assert_eq!(nodes.len(), usize::from(tile.width()));
    for n in [nodes[0], nodes[nodes.len() - 1]] {
        assert_eq!(NodeId::new(n.level(), n.index()), Ok(n));
        assert_eq!(n.level(), tile.node_level());
        if let TileKind::Hashes(_) = tile.kind() {
            let (t, sub, idx) = Tile::for_node(n);
            assert_eq!((t.kind(), t.index(), sub), (tile.kind(), tile.index(), 0));
            assert_eq!(idx, n.index() - tile.first_node_index());
            assert!(t.width() <= tile.width() || tile.is_full());
        }
    }
    let end = nodes[nodes.len() - 1].end();
    if let Ok(size) = TreeSize::new(end) {
        assert!(tile.is_available_in(size));
        assert!(!tile.is_available_in(TreeSize::new(end - 1).expect("smaller")));
    }
}

fn check_size(kind: TileKind, size: TreeSize) {
    let level = match kind {
        TileKind::Hashes(l) if l > 63 / TILE_HEIGHT => return,
        TileKind::Hashes(l) => l,
        TileKind::Entries => 0,
    };
    if let Some(p) = Tile::partial_for_size(kind, size) {
        assert!(!p.is_full());
        assert!(p.is_available_in(size), "{p:?} at {size}");
        assert!(!p.full().is_available_in(size));
    }
    let full = Tile::full_count(kind, size);
    if full > 0 {
        let last = Tile::new(kind, full - 1, TILE_WIDTH).expect("a tile inside the tree");
        assert!(last.is_available_in(size));
    }
    if let Ok(next) = Tile::new(kind, full, TILE_WIDTH) {
        assert!(!next.is_available_in(size));
    }
    let levels: Vec<u8> = Tile::levels(size).collect();
    assert_eq!(
        levels.contains(&level),
        size.get() >> (8 * u32::from(level)) > 0
    );
}

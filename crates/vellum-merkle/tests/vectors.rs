//! Interoperability with Go's reference implementation (golang.org/x/mod/sumdb/tlog):
//! every root, inclusion proof and consistency proof of `merkle.json`, and every
//! tile and entry bundle of the 66,536-leaf tree under `tiles/`, byte for byte.
//!
//! Proofs are produced the way a server produces them: plan, fetch the node
//! hashes from a map that plays the role of storage, assemble.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use vellum_merkle::compact::{fold_right, root_nodes};
use vellum_merkle::tiles::{self, Tile, TileKind};
use vellum_merkle::{
    CompactRange, Hash, LeafIndex, NodeId, TreeSize, leaf_hash, proof::plan_consistency,
    proof::plan_inclusion, proof::root_from_inclusion, proof::verify_consistency,
    proof::verify_inclusion,
};

/// The size of the tree under `tiles/`; `merkle.json` uses a prefix of the same leaves.
const TILES_TREE_SIZE: u64 = 66_536;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors")
}

#[derive(Deserialize)]
struct MerkleVectors {
    leaf_prefix: String,
    first_leaves: Vec<String>,
    roots: Vec<RootVector>,
    inclusion: Vec<InclusionVector>,
    consistency: Vec<ConsistencyVector>,
}

#[derive(Deserialize)]
struct RootVector {
    size: u64,
    root: String,
}

#[derive(Deserialize)]
struct InclusionVector {
    index: u64,
    size: u64,
    leaf_hash: String,
    root: String,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct ConsistencyVector {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Vec<String>,
}

fn merkle_vectors() -> MerkleVectors {
    let path = vectors_dir().join("merkle.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("merkle.json parses")
}

fn b64_hash(s: &str) -> Hash {
    let bytes = STANDARD.decode(s).expect("valid base64");
    Hash::from_slice(&bytes).expect("32-byte hash")
}

fn b64_proof(p: &[String]) -> Vec<Hash> {
    p.iter().map(|s| b64_hash(s)).collect()
}

fn size(n: u64) -> TreeSize {
    TreeSize::new(n).expect("size in range")
}

fn index(i: u64) -> LeafIndex {
    LeafIndex::new(i).expect("index in range")
}

/// The tree of the vectors, grown as a sequencer grows it: one leaf at a
/// time, every complete node written to "storage" exactly once.
struct Tree {
    prefix: String,
    /// Node hashes as storage would hold them.
    stored: HashMap<NodeId, Hash>,
    /// `roots[n]` is the root at size `n`, read from the compact range.
    roots: Vec<Hash>,
}

impl Tree {
    fn entry(&self, i: u64) -> Vec<u8> {
        format!("{}{i}", self.prefix).into_bytes()
    }

    fn fetch(&self, ids: &[NodeId], within: TreeSize) -> Vec<Hash> {
        ids.iter()
            .map(|id| {
                // A plan only ever names nodes that are complete, and so
                // stored, at the size it is planned for.
                assert!(
                    id.is_complete_in(within),
                    "{id} is not complete in {within}"
                );
                *self
                    .stored
                    .get(id)
                    .unwrap_or_else(|| panic!("{id} was never stored"))
            })
            .collect()
    }

    fn root(&self, n: u64) -> Hash {
        self.roots[usize::try_from(n).expect("small size")]
    }
}

/// Built once and shared by the tests of this file.
fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let prefix = merkle_vectors().leaf_prefix;
        let mut tree = Tree {
            prefix,
            stored: HashMap::new(),
            roots: Vec::new(),
        };
        let mut edge = CompactRange::new();
        tree.roots.push(edge.root());
        for i in 0..TILES_TREE_SIZE {
            let leaf = leaf_hash(&tree.entry(i));
            let stored = &mut tree.stored;
            let got = edge
                .append(leaf, |id, h| {
                    assert!(stored.insert(id, *h).is_none(), "{id} stored twice");
                })
                .expect("append");
            assert_eq!(got.get(), i);
            tree.roots.push(edge.root());
        }
        tree
    })
}

#[test]
fn leaves_are_named_as_the_vectors_say() {
    let v = merkle_vectors();
    let t = tree();
    assert!(!v.first_leaves.is_empty());
    for (i, name) in v.first_leaves.iter().enumerate() {
        assert_eq!(t.entry(i as u64), name.as_bytes(), "leaf {i}");
    }
}

#[test]
fn roots() {
    let v = merkle_vectors();
    let t = tree();
    assert!(v.roots.len() > 40, "only {} root vectors", v.roots.len());
    for r in &v.roots {
        let want = b64_hash(&r.root);
        // From the compact range at that size.
        assert_eq!(t.root(r.size), want, "root at size {}", r.size);
        // From the stored nodes of a larger tree: complete nodes never change.
        let ids = root_nodes(size(r.size));
        let from_store = fold_right(&t.fetch(&ids, size(r.size)));
        assert_eq!(
            from_store, want,
            "root from stored nodes at size {}",
            r.size
        );
        // A compact range rebuilt from the same nodes agrees too.
        let edge = CompactRange::from_parts(size(r.size), t.fetch(&ids, size(r.size)))
            .expect("edge length");
        assert_eq!(edge.root(), want);
    }
    assert_eq!(t.root(0), Hash::empty_root());
}

#[test]
fn inclusion_proofs() {
    let v = merkle_vectors();
    let t = tree();
    assert!(
        v.inclusion.len() > 800,
        "only {} inclusion vectors",
        v.inclusion.len()
    );
    for case in &v.inclusion {
        let what = format!("inclusion of {} in {}", case.index, case.size);
        let (i, n) = (index(case.index), size(case.size));
        let leaf = b64_hash(&case.leaf_hash);
        let root = b64_hash(&case.root);
        let want = b64_proof(&case.proof);
        assert_eq!(leaf, leaf_hash(&t.entry(case.index)), "{what}: leaf hash");
        assert_eq!(root, t.root(case.size), "{what}: root");

        let plan = plan_inclusion(i, n).expect("plan");
        assert_eq!(plan.proof_len(), want.len(), "{what}: planned length");
        let got = plan.assemble(&t.fetch(plan.nodes(), n)).expect("assemble");
        assert_eq!(got, want, "{what}: proof");

        assert_eq!(
            verify_inclusion(&leaf, i, n, &want, &root),
            Ok(()),
            "{what}"
        );
        assert_eq!(root_from_inclusion(&leaf, i, n, &want), Ok(root), "{what}");
    }
}

#[test]
fn consistency_proofs() {
    let v = merkle_vectors();
    let t = tree();
    assert!(
        v.consistency.len() > 800,
        "only {} consistency vectors",
        v.consistency.len()
    );
    for case in &v.consistency {
        let what = format!("consistency {} -> {}", case.size1, case.size2);
        let (n1, n2) = (size(case.size1), size(case.size2));
        let root1 = b64_hash(&case.root1);
        let root2 = b64_hash(&case.root2);
        let want = b64_proof(&case.proof);
        assert_eq!(root1, t.root(case.size1), "{what}: root1");
        assert_eq!(root2, t.root(case.size2), "{what}: root2");

        let plan = plan_consistency(n1, n2).expect("plan");
        assert_eq!(plan.proof_len(), want.len(), "{what}: planned length");
        let got = plan.assemble(&t.fetch(plan.nodes(), n2)).expect("assemble");
        assert_eq!(got, want, "{what}: proof");

        assert_eq!(
            verify_consistency(n1, &root1, n2, &root2, &want),
            Ok(()),
            "{what}"
        );
    }
}

/// The Go vectors never start from the empty tree; RFC 9162 says every tree
/// extends it, with an empty proof.
#[test]
fn consistency_from_the_empty_tree() {
    let t = tree();
    let empty = Hash::empty_root();
    for n in [0, 1, 2, 7, 64, 4097] {
        let plan = plan_consistency(TreeSize::ZERO, size(n)).expect("plan");
        assert!(plan.nodes().is_empty(), "from 0 to {n}");
        assert_eq!(
            verify_consistency(TreeSize::ZERO, &empty, size(n), &t.root(n), &[]),
            Ok(())
        );
    }
}

// ---------------------------------------------------------------------------
// tlog-tiles

/// The size and root of the `tiles/checkpoint` note (origin, size, root lines).
fn tiles_checkpoint() -> (u64, Hash) {
    let path = vectors_dir().join("tiles/checkpoint");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut lines = text.lines();
    let origin = lines.next().expect("origin line");
    assert!(!origin.is_empty());
    let n = lines
        .next()
        .expect("size line")
        .parse()
        .expect("decimal size");
    let root = b64_hash(lines.next().expect("root line"));
    (n, root)
}

/// Every regular file under `dir`, as a `/`-separated path relative to `base`.
fn files_under(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(base, &path, out);
        } else {
            let rel = path.strip_prefix(base).expect("under base");
            let parts: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_str().expect("UTF-8 file name"))
                .collect();
            out.push(parts.join("/"));
        }
    }
}

#[test]
fn tiles_checkpoint_matches_the_tree() {
    let (n, root) = tiles_checkpoint();
    assert_eq!(n, TILES_TREE_SIZE);
    assert_eq!(root, tree().root(TILES_TREE_SIZE));
}

#[test]
fn tiles_and_entry_bundles() {
    let t = tree();
    let n = size(TILES_TREE_SIZE);
    let base = vectors_dir().join("tiles");
    let mut paths = Vec::new();
    files_under(&base, &base.join("tile"), &mut paths);

    let mut checked: BTreeMap<TileKind, Vec<Tile>> = BTreeMap::new();
    for rel in &paths {
        let tile = Tile::parse(rel).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(tile.path(), *rel, "path round trip");
        assert!(tile.is_available_in(n), "{rel} not available at {n}");
        let bytes = std::fs::read(base.join(rel)).expect("read tile");

        let width = tile.width();
        let want = match tile.kind() {
            TileKind::Hashes(_) => {
                let ids: Vec<NodeId> = tile.nodes().collect();
                assert_eq!(ids.len(), usize::from(width));
                let hashes = t.fetch(&ids, n);
                assert_eq!(
                    tiles::parse_tile(&bytes, width).expect("parse tile"),
                    hashes
                );
                tiles::tile_bytes(&hashes)
            }
            TileKind::Entries => {
                let mut bundle = Vec::new();
                let mut entries = Vec::new();
                for id in tile.nodes() {
                    assert_eq!(id.level(), 0);
                    let e = t.entry(id.index());
                    tiles::push_bundle_entry(&mut bundle, &e).expect("entry fits");
                    entries.push(e);
                }
                let parsed = tiles::parse_bundle(&bytes, width).expect("parse bundle");
                assert_eq!(
                    parsed,
                    entries.iter().map(Vec::as_slice).collect::<Vec<_>>()
                );
                bundle
            }
        };
        assert!(bytes == want, "{rel}: bytes differ");
        checked.entry(tile.kind()).or_default().push(tile);
    }

    // Nothing was skipped: 259 full level-0 tiles and the partial 259.p/1..=232
    // (every width the tree passed through), level 1: 000 and 001.p/1..=3,
    // level 2: 000.p/1, and 259 full entry bundles plus 259.p/232.
    let total: usize = checked.values().map(Vec::len).sum();
    assert_eq!(total, paths.len());
    assert_eq!(total, 756);

    // The directory holds exactly the tiles that the tile arithmetic says a
    // tree of this size has, plus the narrower partials it passed through.
    let levels: Vec<u8> = Tile::levels(n).collect();
    assert_eq!(levels, vec![0, 1, 2]);
    for kind in levels
        .iter()
        .map(|l| TileKind::Hashes(*l))
        .chain([TileKind::Entries])
    {
        let tiles = &checked[&kind];
        let full = Tile::full_count(kind, n);
        let partial = Tile::partial_for_size(kind, n).expect("this size has partial tiles");
        let mut want: Vec<Tile> = (0..full)
            .map(|i| Tile::new(kind, i, 256).expect("tile"))
            .collect();
        let widths = match kind {
            // Hash tiles for every width; entry bundles only for the last size.
            TileKind::Hashes(_) => 1..=u64::from(partial.width()),
            TileKind::Entries => u64::from(partial.width())..=u64::from(partial.width()),
        };
        want.extend(widths.map(|w| Tile::new(kind, partial.index(), w).expect("tile")));
        let mut got = tiles.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{kind:?}");
    }
}

/// `Tile::for_node` names a tile that holds the node's subtree and is in the
/// vectors (at full width when it is not the rightmost tile).
#[test]
fn tile_for_node_is_a_published_tile() {
    let n = size(TILES_TREE_SIZE);
    for level in [0u8, 3, 7, 8, 12, 16] {
        let count = TILES_TREE_SIZE >> level;
        for i in (0..count).step_by(97).chain([count - 1]) {
            let node = NodeId::new(level, i).expect("node");
            let (tile, sub, pos) = Tile::for_node(node);
            assert_eq!(tile.node_level() + sub, level);
            assert!(tile.is_available_in(n), "{node}: {}", tile.path());
            // The node's leaves at the tile's base level are the last
            // `2^sub` hashes of the tile.
            let end = tile.first_node_index() + u64::from(tile.width());
            assert_eq!(end, (i + 1) << sub, "{node}");
            assert_eq!(pos, i - (tile.first_node_index() >> sub), "{node}");
            // Tiles left of the edge are published only at full width.
            let published = if tile.index() < Tile::full_count(tile.kind(), n) {
                tile.full()
            } else {
                tile
            };
            let file = vectors_dir().join("tiles").join(published.path());
            assert!(file.is_file(), "{node}: no {}", published.path());
        }
    }
}

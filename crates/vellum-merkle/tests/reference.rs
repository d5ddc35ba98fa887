//! The fast code against `testonly::reference`, the literal recursive
//! transcription of RFC 6962 section 2.1: roots whatever the batching of the
//! appends, a sequencer resuming from stored nodes, inclusion and
//! consistency proofs planned, fetched from storage and assembled.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::Index;
use vellum_merkle::compact::{fold_right, root_nodes};
use vellum_merkle::proof::{
    plan_consistency, plan_inclusion, root_from_inclusion, verify_consistency, verify_inclusion,
};
use vellum_merkle::testonly::reference;
use vellum_merkle::{CompactRange, Hash, LeafIndex, NodeId, TreeSize, leaf_hash};

fn size(n: usize) -> TreeSize {
    TreeSize::new(n as u64).expect("size in range")
}

fn index(i: usize) -> LeafIndex {
    LeafIndex::new(i as u64).expect("index in range")
}

/// `n` distinct entries; `salt` makes the trees of different cases differ.
fn entries(n: usize, salt: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("entry {salt}/{i}").into_bytes())
        .collect()
}

/// Write-once storage, as the store contract has it: a key is written once
/// and never changes.
#[derive(Default)]
struct Store(BTreeMap<NodeId, Hash>);

impl Store {
    fn commit(&mut self, writes: Vec<(NodeId, Hash)>) {
        for (id, h) in writes {
            assert!(self.0.insert(id, h).is_none(), "{id} written twice");
        }
    }

    fn fetch(&self, ids: &[NodeId]) -> Vec<Hash> {
        ids.iter()
            .map(|id| *self.0.get(id).unwrap_or_else(|| panic!("{id} not stored")))
            .collect()
    }

    /// The edge of the tree at `n`, from storage, as start-up rebuilds it.
    fn edge(&self, n: TreeSize) -> CompactRange {
        let hashes = self.fetch(&root_nodes(n));
        CompactRange::from_parts(n, hashes).expect("edge length")
    }
}

/// Appends every entry to a fresh tree and stores what it hands out.
fn grow(entries: &[Vec<u8>]) -> (CompactRange, Store) {
    let mut edge = CompactRange::new();
    let mut writes = Vec::new();
    for e in entries {
        edge.append(leaf_hash(e), |id, h| writes.push((id, *h)))
            .expect("append");
    }
    let mut store = Store::default();
    store.commit(writes);
    (edge, store)
}

/// The number of complete nodes in a tree of `n` leaves: `n` at level 0,
/// `n / 2` at level 1, and so on.
fn complete_nodes(n: usize) -> usize {
    (0..usize::BITS).map(|l| n >> l).sum()
}

/// Splits `0..n` at the given (sorted, deduplicated) cut points.
fn batches(n: usize, cuts: &[Index]) -> Vec<std::ops::Range<usize>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(n + 1)).collect();
    points.extend([0, n]);
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|w| w[0]..w[1]).collect()
}

/// A sequencer that handles the appends in batches. Each batch starts from the
/// edge rebuilt from storage (as after a restart), appends, and commits the
/// batch's writes in one go. Whatever the batching, the edge, the root and
/// the stored nodes are those of appending everything at once.
fn check_batched_growth(data: &[Vec<u8>], cuts: &[Index]) -> Result<(), TestCaseError> {
    let n = data.len();
    let (whole, whole_store) = grow(data);
    prop_assert_eq!(whole.size(), size(n));
    prop_assert_eq!(whole.root(), reference::root(data));
    prop_assert_eq!(whole_store.0.len(), complete_nodes(n));

    let mut store = Store::default();
    let mut edge = CompactRange::new();
    for batch in batches(n, cuts) {
        let mut resumed = store.edge(edge.size());
        prop_assert_eq!(&resumed, &edge, "edge rebuilt from storage");
        let mut writes = Vec::new();
        for i in batch.clone() {
            let got = resumed
                .append(leaf_hash(&data[i]), |id, h| writes.push((id, *h)))
                .expect("append");
            prop_assert_eq!(got, index(i));
        }
        // Exactly the nodes completed by this batch, nothing else.
        prop_assert_eq!(
            writes.len(),
            complete_nodes(batch.end) - complete_nodes(batch.start)
        );
        for (id, _) in &writes {
            prop_assert!(id.end() > batch.start as u64 && id.end() <= batch.end as u64);
        }
        store.commit(writes);
        edge = resumed;
        prop_assert_eq!(edge.root(), reference::root(&data[..batch.end]));
        prop_assert_eq!(
            fold_right(&store.fetch(&root_nodes(edge.size()))),
            edge.root()
        );
    }
    prop_assert_eq!(&edge, &whole);
    prop_assert_eq!(&store.0, &whole_store.0);
    // Every stored node hashes the leaves it covers.
    for (id, h) in &store.0 {
        let (b, e) = (id.begin() as usize, id.end() as usize);
        prop_assert_eq!(*h, reference::root(&data[b..e]), "node {}", id);
    }
    Ok(())
}

fn check_inclusion(
    data: &[Vec<u8>],
    store: &Store,
    root: &Hash,
    i: usize,
) -> Result<(), TestCaseError> {
    let n = size(data.len());
    let plan = plan_inclusion(index(i), n).expect("plan");
    for id in plan.nodes() {
        prop_assert!(id.is_complete_in(n), "{} not complete in {}", id, n);
    }
    let proof = plan.assemble(&store.fetch(plan.nodes())).expect("assemble");
    prop_assert_eq!(plan.proof_len(), proof.len());
    prop_assert_eq!(
        &proof,
        &reference::inclusion(i, data),
        "index {} size {}",
        i,
        n
    );
    let leaf = leaf_hash(&data[i]);
    prop_assert_eq!(verify_inclusion(&leaf, index(i), n, &proof, root), Ok(()));
    prop_assert_eq!(root_from_inclusion(&leaf, index(i), n, &proof), Ok(*root));
    Ok(())
}

fn check_consistency(data: &[Vec<u8>], store: &Store, m: usize) -> Result<(), TestCaseError> {
    let (n1, n2) = (size(m), size(data.len()));
    let plan = plan_consistency(n1, n2).expect("plan");
    for id in plan.nodes() {
        prop_assert!(id.is_complete_in(n2), "{} not complete in {}", id, n2);
    }
    let proof = plan.assemble(&store.fetch(plan.nodes())).expect("assemble");
    prop_assert_eq!(plan.proof_len(), proof.len());
    let want = if m == 0 {
        Vec::new()
    } else {
        reference::consistency(m, data)
    };
    prop_assert_eq!(&proof, &want, "{} -> {}", m, data.len());
    let root1 = reference::root(&data[..m]);
    let root2 = reference::root(data);
    prop_assert_eq!(verify_consistency(n1, &root1, n2, &root2, &proof), Ok(()));
    Ok(())
}

proptest! {
    #[test]
    fn growth_small(n in 0usize..300, salt: u64, cuts in prop::collection::vec(any::<Index>(), 0..12)) {
        check_batched_growth(&entries(n, salt), &cuts)?;
    }

    #[test]
    fn inclusion_small(
        n in 1usize..300,
        salt: u64,
        picks in prop::collection::vec(any::<Index>(), 1..16),
    ) {
        let data = entries(n, salt);
        let (edge, store) = grow(&data);
        let root = edge.root();
        // The edges of the tree are where off-by-ones live: always check them.
        let mut indices: Vec<usize> = picks.iter().map(|p| p.index(n)).collect();
        indices.extend([0, n / 2, n - 1]);
        for i in indices {
            check_inclusion(&data, &store, &root, i)?;
        }
    }

    #[test]
    fn consistency_small(
        n in 1usize..300,
        salt: u64,
        picks in prop::collection::vec(any::<Index>(), 1..16),
    ) {
        let data = entries(n, salt);
        let (_, store) = grow(&data);
        let mut olds: Vec<usize> = picks.iter().map(|p| p.index(n + 1)).collect();
        olds.extend([0, 1, n / 2, n - 1, n]);
        for m in olds {
            check_consistency(&data, &store, m)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn growth_large(n in 300usize..5000, salt: u64, cuts in prop::collection::vec(any::<Index>(), 0..12)) {
        let data = entries(n, salt);
        let (whole, _) = grow(&data);
        prop_assert_eq!(whole.root(), reference::root(&data));
        // The full per-node check is quadratic; on large trees check the
        // batching and the roots at the cuts.
        let mut store = Store::default();
        let mut edge = CompactRange::new();
        for batch in batches(n, &cuts) {
            let mut resumed = store.edge(edge.size());
            let mut writes = Vec::new();
            for e in &data[batch.clone()] {
                resumed.append(leaf_hash(e), |id, h| writes.push((id, *h))).expect("append");
            }
            store.commit(writes);
            edge = resumed;
            prop_assert_eq!(edge.root(), reference::root(&data[..batch.end]));
        }
        prop_assert_eq!(&edge, &whole);
        prop_assert_eq!(store.0.len(), complete_nodes(n));
    }

    #[test]
    fn proofs_large(n in 300usize..5000, salt: u64, picks in prop::collection::vec(any::<Index>(), 1..8)) {
        let data = entries(n, salt);
        let (edge, store) = grow(&data);
        let root = edge.root();
        for p in &picks {
            check_inclusion(&data, &store, &root, p.index(n))?;
            check_consistency(&data, &store, p.index(n + 1))?;
        }
        check_inclusion(&data, &store, &root, n - 1)?;
        check_consistency(&data, &store, n - 1)?;
    }
}

/// Every index and every pair of sizes of every tree up to 100 leaves: the
/// shapes where RFC 6962 promotes nodes are all small.
#[test]
fn exhaustive_small_trees() {
    const N: usize = 100;
    let data = entries(N, 0);
    for n in 1..=N {
        let tree = &data[..n];
        let (edge, store) = grow(tree);
        let root = edge.root();
        assert_eq!(root, reference::root(tree));
        for i in 0..n {
            check_inclusion(tree, &store, &root, i).expect("inclusion");
        }
        for m in 0..=n {
            check_consistency(tree, &store, m).expect("consistency");
        }
    }
}

/// The hand-worked examples of RFC 6962 section 2.1.3 (seven leaves a..g; the
/// proofs name the nodes of its figure).
#[test]
fn rfc6962_examples() {
    let data: Vec<&[u8]> = vec![b"a", b"b", b"c", b"d", b"e", b"f", b"g"];
    let h = |r: std::ops::Range<usize>| reference::root(&data[r]);
    let (c, d, g, i, j, k, l) = (
        h(2..3),
        h(3..4),
        h(0..2),
        h(4..6),
        h(6..7),
        h(0..4),
        h(4..7),
    );
    assert_eq!(reference::inclusion(0, &data), vec![h(1..2), h(2..4), l]);
    assert_eq!(reference::inclusion(3, &data), vec![c, g, l]);
    assert_eq!(reference::inclusion(4, &data), vec![h(5..6), j, k]);
    assert_eq!(reference::inclusion(6, &data), vec![i, k]);
    assert_eq!(reference::consistency(3, &data), vec![c, d, g, l]);
    assert_eq!(reference::consistency(4, &data), vec![l]);
    assert_eq!(reference::consistency(6, &data), vec![i, j, k]);

    let entries: Vec<Vec<u8>> = data.iter().map(|e| e.to_vec()).collect();
    let (edge, store) = grow(&entries);
    for m in [3, 4, 6] {
        check_consistency(&entries, &store, m).expect("consistency");
    }
    for idx in 0..7 {
        check_inclusion(&entries, &store, &edge.root(), idx).expect("inclusion");
    }
}

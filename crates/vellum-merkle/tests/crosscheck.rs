//! Cross-checks against two independent Rust Merkle tree crates.
//!
//! * `ct-merkle` 0.3 implements RFC 6962 itself (SHA-256 over its own entry
//!   storage). Roots, inclusion and consistency proofs must be identical, and
//!   each side must accept the other's proofs. Its index helpers also give
//!   proof lengths for trees of up to 2^63 leaves without building them.
//! * `rs_merkle` 1.5 is a generic Merkle tree; RFC 6962 hashing is ours to
//!   supply through its `Hasher` trait (below). What was found, and what the
//!   tests pin down:
//!   - Tree shape: the same as RFC 6962 at *every* size, not only powers of
//!     two. rs_merkle pairs nodes left to right level by level and promotes a
//!     lone last node unchanged (its default `concat_and_hash(left, None)`
//!     returns `left`); that builds exactly RFC 6962's left-balanced tree
//!     (`k` = largest power of two below `n` on the left). Checked for every
//!     size up to 1,100, for 2^k - 1, 2^k, 2^k + 1 up to 2^16 + 1, and for the
//!     66,536-leaf tree of the tile vectors; also through its incremental
//!     `insert` + `commit` in uneven batches.
//!   - Hashing: its stock `algorithms::Sha256` has no domain separation
//!     (node = SHA-256(left || right), no 0x01; its leaves are whatever the
//!     caller passes). With it the roots differ from RFC 6962 at every size
//!     >= 2 and agree only at size 1, where the root is the leaf itself.
//!   - The empty tree: `root()` is `None`, not SHA-256("").
//!   - Proofs: for a single leaf, its (multi-)proof lists the same hashes in
//!     the same order as RFC 6962's audit path; each side verifies the other's.

use std::collections::HashMap;

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use proptest::prelude::*;
use rs_merkle::{Hasher, MerkleProof, MerkleTree};
use sha2::{Digest, Sha256};
use vellum_merkle::proof::{
    plan_consistency, plan_inclusion, verify_consistency, verify_inclusion,
};
use vellum_merkle::{CompactRange, Hash, LeafIndex, MAX_TREE_SIZE, NodeId, TreeSize, leaf_hash};

/// RFC 6962 hashing for rs_merkle, written against `sha2` directly so that
/// it shares no code with `vellum_merkle::hash`.
#[derive(Clone, Debug)]
struct Rfc6962;

impl Hasher for Rfc6962 {
    type Hash = [u8; 32];

    /// The leaf hash: SHA-256(0x00 || entry).
    fn hash(data: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([0x00]);
        h.update(data);
        h.finalize().into()
    }

    /// The node hash SHA-256(0x01 || left || right); a node with no right
    /// sibling is promoted unchanged, as rs_merkle's default does.
    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => {
                let mut h = Sha256::new();
                h.update([0x01]);
                h.update(left);
                h.update(right);
                h.finalize().into()
            }
            None => *left,
        }
    }
}

type CtTree = MemoryBackedTree<Sha256, Vec<u8>>;
type CtDigest = ct_merkle::digest::Output<Sha256>;

fn entry(i: usize) -> Vec<u8> {
    format!("crosscheck entry {i}").into_bytes()
}

fn size(n: usize) -> TreeSize {
    TreeSize::new(n as u64).expect("size in range")
}

fn index(i: usize) -> LeafIndex {
    LeafIndex::new(i as u64).expect("index in range")
}

fn ct_digest(h: &Hash) -> CtDigest {
    h.0.into()
}

fn ct_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

/// Our tree of `n` entries: roots at every size and every stored node.
struct Ours {
    leaves: Vec<Hash>,
    roots: Vec<Hash>,
    stored: HashMap<NodeId, Hash>,
}

impl Ours {
    fn grow(n: usize) -> Ours {
        let mut edge = CompactRange::new();
        let mut ours = Ours {
            leaves: Vec::with_capacity(n),
            roots: vec![edge.root()],
            stored: HashMap::new(),
        };
        for i in 0..n {
            let leaf = leaf_hash(&entry(i));
            let stored = &mut ours.stored;
            edge.append(leaf, |id, h| {
                stored.insert(id, *h);
            })
            .expect("append");
            ours.leaves.push(leaf);
            ours.roots.push(edge.root());
        }
        ours
    }

    fn inclusion(&self, i: usize, n: usize) -> Vec<Hash> {
        let plan = plan_inclusion(index(i), size(n)).expect("plan");
        let hashes: Vec<Hash> = plan.nodes().iter().map(|id| self.stored[id]).collect();
        plan.assemble(&hashes).expect("assemble")
    }

    fn consistency(&self, m: usize, n: usize) -> Vec<Hash> {
        let plan = plan_consistency(size(m), size(n)).expect("plan");
        let hashes: Vec<Hash> = plan.nodes().iter().map(|id| self.stored[id]).collect();
        plan.assemble(&hashes).expect("assemble")
    }

    fn raw_leaves(&self, n: usize) -> Vec<[u8; 32]> {
        self.leaves[..n].iter().map(|h| h.0).collect()
    }
}

/// Sizes where shapes change: every size up to 1,100, and 2^k - 1, 2^k,
/// 2^k + 1 beyond, up to the tile vectors' 66,536.
fn shape_sizes() -> Vec<usize> {
    let mut sizes: Vec<usize> = (1..=1100).collect();
    for k in 11..=16 {
        sizes.extend([(1 << k) - 1, 1 << k, (1 << k) + 1]);
    }
    sizes.push(66_536);
    sizes
}

#[test]
fn leaf_hashes_agree() {
    for e in [
        &b""[..],
        b"a",
        b"crosscheck entry 7",
        &[0u8; 64],
        &[0xff; 1000],
    ] {
        let ours = leaf_hash(e);
        let mut direct = Sha256::new();
        direct.update([0x00]);
        direct.update(e);
        assert_eq!(ours.0, <[u8; 32]>::from(direct.finalize()));
        assert_eq!(ours.0, Rfc6962::hash(e));
        // ct-merkle hashes entries itself; a one-entry tree's root is the leaf hash.
        let mut ct = CtTree::new();
        ct.push(e.to_vec());
        assert_eq!(ct.root().as_bytes()[..], ours.0[..]);
    }
}

#[test]
fn rs_merkle_roots_agree_at_every_size() {
    let sizes = shape_sizes();
    let ours = Ours::grow(*sizes.iter().max().expect("sizes"));
    for &n in &sizes {
        let tree = MerkleTree::<Rfc6962>::from_leaves(&ours.raw_leaves(n));
        assert_eq!(tree.root(), Some(ours.roots[n].0), "size {n}");
    }
    // The empty tree has no root in rs_merkle; RFC 6962 says SHA-256("").
    assert_eq!(MerkleTree::<Rfc6962>::from_leaves(&[]).root(), None);
    assert_eq!(ours.roots[0], Hash::empty_root());
}

#[test]
fn rs_merkle_incremental_commits_agree() {
    let n = 3000;
    let ours = Ours::grow(n);
    let mut tree = MerkleTree::<Rfc6962>::new();
    let mut appended = 0;
    // Uneven batches, so commits land on every kind of size.
    let mut batch = 1;
    while appended < n {
        let end = (appended + batch).min(n);
        for leaf in &ours.leaves[appended..end] {
            tree.insert(leaf.0);
        }
        assert_eq!(
            tree.uncommitted_root(),
            Some(ours.roots[end].0),
            "uncommitted {end}"
        );
        tree.commit();
        appended = end;
        assert_eq!(tree.root(), Some(ours.roots[appended].0), "size {appended}");
        batch = batch % 37 + 1;
    }
}

#[test]
fn rs_merkle_stock_sha256_is_not_rfc6962() {
    use rs_merkle::algorithms::Sha256 as Stock;
    let ours = Ours::grow(64);
    for n in 1..=64 {
        let root = MerkleTree::<Stock>::from_leaves(&ours.raw_leaves(n)).root();
        // Without the 0x01 node prefix only the one-leaf tree (root = leaf) agrees.
        assert_eq!(root == Some(ours.roots[n].0), n == 1, "size {n}");
    }
}

#[test]
fn rs_merkle_proofs_agree() {
    let ours = Ours::grow(4100);
    let mut cases: Vec<(usize, usize)> = Vec::new();
    for n in 1..=130 {
        cases.extend((0..n).map(|i| (i, n)));
    }
    for n in [255, 256, 257, 1000, 1023, 1024, 1025, 4095, 4096, 4097] {
        cases.extend([0, 1, n / 2, n - 2, n - 1].map(|i| (i, n)));
    }
    let mut tree_size = 0;
    let mut tree = MerkleTree::<Rfc6962>::new();
    for (i, n) in cases {
        if n != tree_size {
            tree = MerkleTree::<Rfc6962>::from_leaves(&ours.raw_leaves(n));
            tree_size = n;
        }
        let theirs = tree.proof(&[i]);
        let ours_proof = ours.inclusion(i, n);
        let ours_raw: Vec<[u8; 32]> = ours_proof.iter().map(|h| h.0).collect();
        assert_eq!(theirs.proof_hashes(), &ours_raw[..], "{i} in {n}");
        let root = ours.roots[n];
        let leaf = ours.leaves[i];
        // Each side verifies the other's proof.
        assert!(
            MerkleProof::<Rfc6962>::new(ours_raw).verify(root.0, &[i], &[leaf.0], n),
            "rs_merkle rejects our proof of {i} in {n}"
        );
        let theirs_hashes: Vec<Hash> = theirs.proof_hashes().iter().map(|h| Hash(*h)).collect();
        assert_eq!(
            verify_inclusion(&leaf, index(i), size(n), &theirs_hashes, &root),
            Ok(())
        );
    }
}

#[test]
fn ct_merkle_roots_and_proofs_agree() {
    const N: usize = 130;
    let ours = Ours::grow(1100);
    let mut ct = CtTree::new();
    assert_eq!(ct.root().as_bytes()[..], Hash::empty_root().0[..]);
    for n in 1..=1100 {
        ct.push(entry(n - 1));
        let root = ours.roots[n];
        assert_eq!(ct.root().as_bytes()[..], root.0[..], "root at {n}");
        if n > N && n != 1024 && n != 1100 {
            continue;
        }
        let ct_root = ct.root();
        // Inclusion: every index.
        for i in 0..n {
            let proof = ours.inclusion(i, n);
            let theirs = ct.prove_inclusion(i);
            assert_eq!(
                theirs.as_bytes(),
                &ct_bytes(&proof)[..],
                "inclusion {i} in {n}"
            );
            let digests: Vec<CtDigest> = proof.iter().map(ct_digest).collect();
            let ours_for_ct = InclusionProof::<Sha256>::from_digests(&digests);
            assert!(
                ct_root
                    .verify_inclusion(&entry(i), i as u64, &ours_for_ct)
                    .is_ok(),
                "ct-merkle rejects our proof of {i} in {n}"
            );
        }
        // Consistency: every old size, including the tree itself.
        for m in 1..=n {
            let proof = ours.consistency(m, n);
            let theirs = ct.prove_consistency(n - m);
            assert_eq!(
                theirs.as_bytes(),
                &ct_bytes(&proof)[..],
                "consistency {m} -> {n}"
            );
            let old = RootHash::<Sha256>::new(ct_digest(&ours.roots[m]), m as u64);
            let digests: Vec<CtDigest> = proof.iter().map(ct_digest).collect();
            let ours_for_ct = ConsistencyProof::<Sha256>::from_digests(&digests);
            assert!(
                ct_root.verify_consistency(&old, &ours_for_ct).is_ok(),
                "ct-merkle rejects our proof {m} -> {n}"
            );
            let theirs_hashes: Vec<Hash> = theirs
                .as_bytes()
                .chunks(32)
                .map(|c| Hash::from_slice(c).expect("32 bytes"))
                .collect();
            assert_eq!(
                verify_consistency(size(m), &ours.roots[m], size(n), &root, &theirs_hashes),
                Ok(())
            );
        }
    }
}

/// One documented difference: RFC 9162 lets any tree extend the empty tree
/// with an empty proof; ct-merkle refuses an empty old tree.
#[test]
fn ct_merkle_refuses_the_empty_old_tree() {
    let mut ct = CtTree::new();
    ct.push(entry(0));
    let empty = RootHash::<Sha256>::new(ct_digest(&Hash::empty_root()), 0);
    let proof = ConsistencyProof::<Sha256>::from_digests(std::iter::empty());
    assert!(ct.root().verify_consistency(&empty, &proof).is_err());
    let root = Hash::from_slice(&ct.root().as_bytes()[..]).expect("32 bytes");
    assert_eq!(
        verify_consistency(TreeSize::ZERO, &Hash::empty_root(), size(1), &root, &[]),
        Ok(())
    );
}

/// Proof lengths for trees far too large to build, from ct-merkle's index
/// helpers (its limit, 2^63 leaves, is ours).
#[test]
fn ct_merkle_proof_lengths_for_huge_trees() {
    let two32 = 1u64 << 32;
    let sizes = [
        two32 - 1,
        two32,
        two32 + 1,
        MAX_TREE_SIZE / 3,
        MAX_TREE_SIZE - 1,
        MAX_TREE_SIZE,
    ];
    for &n in &sizes {
        for i in [0, 1, n / 2, n - 2, n - 1] {
            check_inclusion_len(i, n);
        }
        for m in [1, 2, 3, two32 - 1, two32, n / 2, n - 1, n] {
            if m <= n {
                check_consistency_len(m, n);
            }
        }
    }
}

fn check_inclusion_len(i: u64, n: u64) {
    let ours = plan_inclusion(
        LeafIndex::new(i).expect("index"),
        TreeSize::new(n).expect("size"),
    )
    .expect("plan")
    .proof_len();
    assert_eq!(
        ours,
        ct_merkle::indices_for_inclusion_proof(n, i).len(),
        "{i} in {n}"
    );
}

fn check_consistency_len(m: u64, n: u64) {
    let ours = plan_consistency(
        TreeSize::new(m).expect("size"),
        TreeSize::new(n).expect("size"),
    )
    .expect("plan")
    .proof_len();
    let theirs = ct_merkle::indices_for_consistency_proof(m, n - m).len();
    assert_eq!(ours, theirs, "{m} -> {n}");
}

proptest! {
    #[test]
    fn proof_lengths_agree_with_ct_merkle(n in 1..=MAX_TREE_SIZE, a: u64, b: u64) {
        check_inclusion_len(a % n, n);
        check_consistency_len(b % n + 1, n);
    }
}

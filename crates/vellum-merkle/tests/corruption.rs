//! A catalogue of corrupted proofs: each one must be rejected, with the error
//! variant that names what is wrong, and no input may panic.
//!
//! The expected outcome of every check comes from a small model of RFC 6962
//! proofs written here from the recursive definitions of section 2.1.1
//! (PATH) and 2.1.2 (SUBPROOF), over tree sizes only. For each proof hash it
//! says on which side of the running hash it goes (inclusion) or whether it
//! is the seed, part of the old tree too, or of the new tree only
//! (consistency). Folding a proof along that shape is what any correct
//! verifier computes, whatever the size of the tree, so the model predicts
//! the exact result (variant and hashes) of the verifiers for trees far too
//! large to build, and for arbitrary inputs. `model_agrees_with_reference`
//! checks the model itself against `testonly::reference`.
//!
//! One consequence of RFC 6962 that the catalogue spells out rather than hides:
//! an inclusion or consistency proof binds the tree *shape* its hashes are
//! folded in, not the size. When another size gives the same shape (e.g.
//! leaf 0 of 5 and of 6 leaves: three right siblings each), the proof for one
//! verifies against the same root presented under the other size. A
//! checkpoint's signature, which binds size and root together, is what rules
//! that out; the verifier cannot.

use std::collections::HashMap;

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use vellum_merkle::proof::{
    ConsistencyError, InclusionError, plan_consistency, plan_inclusion, root_from_inclusion,
    verify_consistency, verify_inclusion,
};
use vellum_merkle::testonly::reference;
use vellum_merkle::{Hash, LeafIndex, MAX_TREE_SIZE, RangeError, TreeSize, leaf_hash};

// ---------------------------------------------------------------------------
// The model.

/// The side of the running hash a proof hash is put on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    /// `node(proof_hash, running)`
    Left,
    /// `node(running, proof_hash)`
    Right,
}

/// What a consistency proof hash is to the two trees.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    /// The old tree's last complete subtree, where both walks start. Absent
    /// when the old tree is perfect: its root is the old root itself.
    Seed,
    /// A left sibling: part of both the old and the new root.
    Both,
    /// A right sibling: part of the new root only.
    NewOnly,
}

/// `k` of RFC 6962: the largest power of two smaller than `n > 1`.
fn split(n: u64) -> u64 {
    let mut k = 1;
    while k < n - k {
        k *= 2;
    }
    k
}

/// PATH(m, D[n]) with every hash replaced by its side (`m < n`).
fn path_shape(m: u64, n: u64) -> Vec<Side> {
    if n == 1 {
        return Vec::new();
    }
    let k = split(n);
    let mut shape;
    if m < k {
        shape = path_shape(m, k);
        shape.push(Side::Right);
    } else {
        shape = path_shape(m - k, n - k);
        shape.push(Side::Left);
    }
    shape
}

/// PROOF(m, D[n]) with every hash replaced by its role (`0 < m < n`).
fn consistency_shape(m: u64, n: u64) -> Vec<Role> {
    fn subproof(m: u64, n: u64, whole_old_tree: bool, out: &mut Vec<Role>) {
        if m == n {
            if !whole_old_tree {
                out.push(Role::Seed);
            }
            return;
        }
        let k = split(n);
        if m <= k {
            subproof(m, k, whole_old_tree, out);
            out.push(Role::NewOnly);
        } else {
            subproof(m - k, n - k, false, out);
            out.push(Role::Both);
        }
    }
    let mut out = Vec::new();
    subproof(m, n, true, &mut out);
    out
}

/// The RFC 6962 interior node hash, written against `sha2` directly.
fn node(l: &Hash, r: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l.0);
    h.update(r.0);
    Hash(h.finalize().into())
}

fn fold_path(leaf: &Hash, proof: &[Hash], shape: &[Side]) -> Hash {
    assert_eq!(proof.len(), shape.len());
    proof
        .iter()
        .zip(shape)
        .fold(*leaf, |acc, (p, side)| match side {
            Side::Left => node(p, &acc),
            Side::Right => node(&acc, p),
        })
}

/// The (old, new) roots a consistency proof folds to.
fn fold_consistency(root1: &Hash, proof: &[Hash], shape: &[Role]) -> (Hash, Hash) {
    assert_eq!(proof.len(), shape.len());
    let mut steps = proof.iter().zip(shape).peekable();
    let start = match steps.peek() {
        Some((p, Role::Seed)) => {
            let p = **p;
            steps.next();
            p
        }
        _ => *root1,
    };
    steps.fold((start, start), |(old, new), (p, role)| match role {
        Role::Seed => panic!("the seed is only ever first"),
        Role::Both => (node(p, &old), node(p, &new)),
        Role::NewOnly => (old, node(&new, p)),
    })
}

/// What a correct verifier answers, error for error.
fn model_inclusion(
    leaf: &Hash,
    i: u64,
    n: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), InclusionError> {
    if i >= n {
        return Err(InclusionError::IndexOutOfRange { index: i, size: n });
    }
    let shape = path_shape(i, n);
    if shape.len() != proof.len() {
        return Err(InclusionError::WrongLength {
            expected: shape.len(),
            got: proof.len(),
        });
    }
    let calculated = fold_path(leaf, proof, &shape);
    if calculated != *root {
        return Err(InclusionError::RootMismatch {
            expected: *root,
            calculated,
        });
    }
    Ok(())
}

/// What a correct verifier answers, error for error.
fn model_consistency(
    m: u64,
    root1: &Hash,
    n: u64,
    root2: &Hash,
    proof: &[Hash],
) -> Result<(), ConsistencyError> {
    if m > n {
        return Err(ConsistencyError::SizesOutOfOrder { size1: m, size2: n });
    }
    let shape = if m == 0 || m == n {
        Vec::new()
    } else {
        consistency_shape(m, n)
    };
    if shape.len() != proof.len() {
        return Err(ConsistencyError::WrongLength {
            size1: m,
            size2: n,
            expected: shape.len(),
            got: proof.len(),
        });
    }
    if m == 0 && *root1 != Hash::empty_root() {
        return Err(ConsistencyError::OldRootMismatch {
            expected: *root1,
            calculated: Hash::empty_root(),
        });
    }
    if m == n {
        if root1 != root2 {
            return Err(ConsistencyError::SameSizeDifferentRoots {
                size: m,
                root1: *root1,
                root2: *root2,
            });
        }
        return Ok(());
    }
    if m == 0 {
        // Every tree extends the empty tree.
        return Ok(());
    }
    let (old, new) = fold_consistency(root1, proof, &shape);
    if old != *root1 {
        return Err(ConsistencyError::OldRootMismatch {
            expected: *root1,
            calculated: old,
        });
    }
    if new != *root2 {
        return Err(ConsistencyError::NewRootMismatch {
            expected: *root2,
            calculated: new,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Helpers.

fn size(n: u64) -> TreeSize {
    TreeSize::new(n).expect("size in range")
}

fn index(i: u64) -> LeafIndex {
    LeafIndex::new(i).expect("index in range")
}

fn entries(n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("corruption {i}").into_bytes())
        .collect()
}

/// Deterministic stand-in hashes for trees too large to build.
fn synthetic(tag: &str, i: u64) -> Hash {
    let mut h = Sha256::new();
    h.update(tag.as_bytes());
    h.update(i.to_be_bytes());
    Hash(h.finalize().into())
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut out = *h;
    out.0[bit / 8] ^= 1 << (bit % 8);
    out
}

fn verify_incl(
    leaf: &Hash,
    i: u64,
    n: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), InclusionError> {
    verify_inclusion(leaf, index(i), size(n), proof, root)
}

fn verify_cons(
    m: u64,
    root1: &Hash,
    n: u64,
    root2: &Hash,
    proof: &[Hash],
) -> Result<(), ConsistencyError> {
    verify_consistency(size(m), root1, size(n), root2, proof)
}

/// Every flipped bit is checked for its error variant and root fields; the
/// exact calculated root is compared with the model's for every so many
/// bits only, since the model folds the whole proof again each time.
const MODEL_EVERY_NTH_BIT: usize = 15;

/// Which bits of each proof hash to flip: all of them for small trees; a
/// spread for the synthetic large ones, whose point is the size arithmetic.
#[derive(Clone, Copy)]
enum Bits {
    All,
    Spread,
}

impl Bits {
    fn positions(self) -> Vec<usize> {
        match self {
            Bits::All => (0..256).collect(),
            Bits::Spread => vec![0, 7, 8, 100, 255],
        }
    }
}

// ---------------------------------------------------------------------------
// The catalogue.

/// A valid inclusion claim and the things to corrupt it with.
struct InclusionCase<'a> {
    leaf: Hash,
    i: u64,
    n: u64,
    proof: &'a [Hash],
    root: Hash,
    /// A leaf hash that is not the one at `i`.
    other_leaf: Hash,
    /// The leaf at `i ^ 1`, when the tree has one.
    sibling_leaf: Option<Hash>,
    /// A root that is not this tree's.
    other_root: Hash,
}

/// Runs every corruption of an inclusion claim; returns how many it checked.
fn inclusion_catalogue(c: &InclusionCase<'_>, bits: Bits) -> usize {
    let what = format!("inclusion of {} in {}", c.i, c.n);
    let (i, n, proof, leaf, root) = (c.i, c.n, c.proof, &c.leaf, &c.root);
    let mut checked = 0;
    let mut flips_without_model = 0;
    let mut check =
        |got: Result<(), InclusionError>, want: Result<(), InclusionError>, how: &str| {
            assert_eq!(got, want, "{what}, {how}");
            checked += 1;
        };
    assert_eq!(
        verify_incl(leaf, i, n, proof, root),
        Ok(()),
        "{what}: the honest proof"
    );
    assert_eq!(
        model_inclusion(leaf, i, n, proof, root),
        Ok(()),
        "{what}: model"
    );

    // Every bit of every proof hash.
    for k in 0..proof.len() {
        for bit in bits.positions() {
            let mut bad = proof.to_vec();
            bad[k] = flip(&bad[k], bit);
            let got = verify_incl(leaf, i, n, &bad, root);
            assert!(
                matches!(got, Err(InclusionError::RootMismatch { expected, calculated })
                    if expected == *root && calculated != *root),
                "{what}, hash {k} bit {bit}: {got:?}"
            );
            if bit % MODEL_EVERY_NTH_BIT == 0 {
                check(got, model_inclusion(leaf, i, n, &bad, root), "flipped bit");
            } else {
                flips_without_model += 1;
            }
        }
    }

    // Index off by one: a proof is bound to its leaf's position.
    for j in [i.checked_sub(1), i.checked_add(1)].into_iter().flatten() {
        if j >= MAX_TREE_SIZE {
            assert_eq!(LeafIndex::new(j), Err(RangeError::LeafIndex(j)));
            continue;
        }
        let got = verify_incl(leaf, j, n, proof, root);
        assert!(got.is_err(), "{what}: accepted at index {j}");
        check(
            got,
            model_inclusion(leaf, j, n, proof, root),
            "index off by one",
        );
    }
    // The proof for i presented as the proof for its sibling i ^ 1, with
    // either leaf.
    let j = i ^ 1;
    if j < n {
        let got = verify_incl(leaf, j, n, proof, root);
        assert!(got.is_err(), "{what}: accepted as {j}");
        check(got, model_inclusion(leaf, j, n, proof, root), "as i ^ 1");
        if let Some(sib) = &c.sibling_leaf {
            let got = verify_incl(sib, j, n, proof, root);
            assert!(got.is_err(), "{what}: accepted for leaf {j}");
            check(
                got,
                model_inclusion(sib, j, n, proof, root),
                "leaf i ^ 1 as i ^ 1",
            );
        }
    }

    // Size off by one: rejected unless the other size folds the hashes in
    // exactly the same shape (see the module documentation).
    for m in [n - 1, n + 1] {
        if m > MAX_TREE_SIZE {
            assert_eq!(TreeSize::new(m), Err(RangeError::TreeSize(m)));
            continue;
        }
        let got = verify_incl(leaf, i, m, proof, root);
        let same_shape = i < m && path_shape(i, m) == path_shape(i, n);
        assert_eq!(got.is_ok(), same_shape, "{what}: at size {m}: {got:?}");
        check(
            got,
            model_inclusion(leaf, i, m, proof, root),
            "size off by one",
        );
    }

    // Truncated and extended proofs.
    let len = proof.len();
    let wrong_len = |got: usize| -> Result<(), InclusionError> {
        Err(InclusionError::WrongLength { expected: len, got })
    };
    if len > 0 {
        check(
            verify_incl(leaf, i, n, &proof[1..], root),
            wrong_len(len - 1),
            "drop first",
        );
        check(
            verify_incl(leaf, i, n, &proof[..len - 1], root),
            wrong_len(len - 1),
            "drop last",
        );
    }
    for extra in [*root, *leaf, proof.first().copied().unwrap_or(c.other_root)] {
        let mut longer = proof.to_vec();
        longer.push(extra);
        check(
            verify_incl(leaf, i, n, &longer, root),
            wrong_len(len + 1),
            "append",
        );
        longer.pop();
        longer.insert(0, extra);
        check(
            verify_incl(leaf, i, n, &longer, root),
            wrong_len(len + 1),
            "prepend",
        );
    }
    if len > 1 {
        // Same hashes, wrong order.
        let mut reversed = proof.to_vec();
        reversed.reverse();
        if reversed != proof {
            let got = verify_incl(leaf, i, n, &reversed, root);
            assert!(
                matches!(got, Err(InclusionError::RootMismatch { .. })),
                "{what}: reversed"
            );
            check(
                got,
                model_inclusion(leaf, i, n, &reversed, root),
                "reversed",
            );
        }
    }

    // Wrong leaf, wrong root, and the root presented as a leaf.
    for (bad_leaf, how) in [(c.other_leaf, "other leaf"), (flip(leaf, 0), "leaf bit")] {
        let got = verify_incl(&bad_leaf, i, n, proof, root);
        assert!(
            matches!(got, Err(InclusionError::RootMismatch { .. })),
            "{what}: {how}"
        );
        check(got, model_inclusion(&bad_leaf, i, n, proof, root), how);
    }
    for (bad_root, how) in [(c.other_root, "other root"), (flip(root, 255), "root bit")] {
        let want = Err(InclusionError::RootMismatch {
            expected: bad_root,
            calculated: *root,
        });
        check(verify_incl(leaf, i, n, proof, &bad_root), want, how);
    }
    if n > 1 {
        let got = verify_incl(root, i, n, proof, root);
        assert!(got.is_err(), "{what}: root as leaf");
    }

    // An index outside the tree, for every function that takes one.
    let out = Err(InclusionError::IndexOutOfRange { index: n, size: n });
    if n < MAX_TREE_SIZE {
        check(
            verify_incl(leaf, n, n, proof, root),
            out.clone(),
            "index = size",
        );
        assert_eq!(
            root_from_inclusion(leaf, index(n), size(n), proof),
            out.clone().map(|()| *root)
        );
        assert_eq!(plan_inclusion(index(n), size(n)).map(|_| ()), out);
    }
    checked + flips_without_model
}

/// A valid consistency claim, `0 < m < n`.
struct ConsistencyCase<'a> {
    m: u64,
    n: u64,
    proof: &'a [Hash],
    root1: Hash,
    root2: Hash,
}

/// Runs every corruption of a consistency claim; returns how many it checked.
fn consistency_catalogue(c: &ConsistencyCase<'_>, bits: Bits) -> usize {
    let what = format!("consistency {} -> {}", c.m, c.n);
    let (m, n, proof, root1, root2) = (c.m, c.n, c.proof, &c.root1, &c.root2);
    assert!(0 < m && m < n);
    let mut checked = 0;
    let mut flips_without_model = 0;
    let mut check =
        |got: Result<(), ConsistencyError>, want: Result<(), ConsistencyError>, how: &str| {
            assert_eq!(got, want, "{what}, {how}");
            checked += 1;
        };
    assert_eq!(
        verify_cons(m, root1, n, root2, proof),
        Ok(()),
        "{what}: the honest proof"
    );
    assert_eq!(
        model_consistency(m, root1, n, root2, proof),
        Ok(()),
        "{what}: model"
    );

    // Every bit of every proof hash: a hash the old tree is built from leads
    // to the wrong old root; one only in the new tree to the wrong new root.
    let shape = consistency_shape(m, n);
    for (k, role) in shape.iter().enumerate() {
        for bit in bits.positions() {
            let mut bad = proof.to_vec();
            bad[k] = flip(&bad[k], bit);
            let got = verify_cons(m, root1, n, root2, &bad);
            let right_variant = match role {
                Role::Seed | Role::Both => matches!(
                    got,
                    Err(ConsistencyError::OldRootMismatch { expected, calculated })
                        if expected == *root1 && calculated != *root1
                ),
                Role::NewOnly => matches!(
                    got,
                    Err(ConsistencyError::NewRootMismatch { expected, calculated })
                        if expected == *root2 && calculated != *root2
                ),
            };
            assert!(
                right_variant,
                "{what}, hash {k} ({role:?}) bit {bit}: {got:?}"
            );
            if bit % MODEL_EVERY_NTH_BIT == 0 {
                check(
                    got,
                    model_consistency(m, root1, n, root2, &bad),
                    "flipped bit",
                );
            } else {
                flips_without_model += 1;
            }
        }
    }

    // Sizes off by one: rejected unless the other sizes give the same shape.
    for (m2, n2) in [(m - 1, n), (m + 1, n), (m, n - 1), (m, n + 1)] {
        if n2 > MAX_TREE_SIZE {
            continue;
        }
        let got = verify_cons(m2, root1, n2, root2, proof);
        if got.is_ok() {
            assert!(
                0 < m2 && m2 < n2 && consistency_shape(m2, n2) == shape,
                "{what}: accepted as {m2} -> {n2}"
            );
        }
        check(
            got,
            model_consistency(m2, root1, n2, root2, proof),
            "sizes off by one",
        );
    }

    // Truncated and extended proofs.
    let len = proof.len();
    let wrong_len = |got: usize| -> Result<(), ConsistencyError> {
        Err(ConsistencyError::WrongLength {
            size1: m,
            size2: n,
            expected: len,
            got,
        })
    };
    check(
        verify_cons(m, root1, n, root2, &proof[1..]),
        wrong_len(len - 1),
        "drop first",
    );
    check(
        verify_cons(m, root1, n, root2, &proof[..len - 1]),
        wrong_len(len - 1),
        "drop last",
    );
    for extra in [*root1, *root2, proof[0]] {
        let mut longer = proof.to_vec();
        longer.push(extra);
        check(
            verify_cons(m, root1, n, root2, &longer),
            wrong_len(len + 1),
            "append",
        );
        longer.pop();
        longer.insert(0, extra);
        check(
            verify_cons(m, root1, n, root2, &longer),
            wrong_len(len + 1),
            "prepend",
        );
    }
    // A proof where none is due: equal sizes, or from the empty tree.
    let none_due = |size1: u64, size2: u64| -> Result<(), ConsistencyError> {
        Err(ConsistencyError::WrongLength {
            size1,
            size2,
            expected: 0,
            got: len,
        })
    };
    check(
        verify_cons(n, root2, n, root2, proof),
        none_due(n, n),
        "same size with proof",
    );
    let empty = Hash::empty_root();
    check(
        verify_cons(0, &empty, n, root2, proof),
        none_due(0, n),
        "from empty with proof",
    );

    // Swapped roots, wrong roots, sizes out of order. A wrong old root is
    // not always an old-root mismatch: when the old tree is perfect the walk
    // starts from the old root given, and if no proof hash is a left sibling
    // the old root is never recomputed, so the error shows in the new root.
    let old_root_recomputed = shape.iter().any(|r| *r != Role::NewOnly);
    for (bad1, bad2, how) in [
        (*root2, *root1, "swapped roots"),
        (flip(root1, 3), *root2, "root1 bit"),
    ] {
        let got = verify_cons(m, &bad1, n, &bad2, proof);
        let variant = if old_root_recomputed {
            matches!(got, Err(ConsistencyError::OldRootMismatch { .. }))
        } else {
            matches!(got, Err(ConsistencyError::NewRootMismatch { .. }))
        };
        assert!(variant, "{what}: {how}: {got:?}");
        check(got, model_consistency(m, &bad1, n, &bad2, proof), how);
    }
    let bad2 = flip(root2, 200);
    check(
        verify_cons(m, root1, n, root2, &[]),
        wrong_len(0),
        "empty proof",
    );
    check(
        verify_cons(m, root1, n, &bad2, proof),
        Err(ConsistencyError::NewRootMismatch {
            expected: bad2,
            calculated: *root2,
        }),
        "root2 bit",
    );
    let backwards = Err(ConsistencyError::SizesOutOfOrder { size1: n, size2: m });
    check(
        verify_cons(n, root2, m, root1, proof),
        backwards.clone(),
        "sizes out of order",
    );
    assert_eq!(plan_consistency(size(n), size(m)).map(|_| ()), backwards);

    // Same size, different roots: the evidence of a fork.
    for s in [m, n] {
        check(
            verify_cons(s, root1, s, root2, &[]),
            Err(ConsistencyError::SameSizeDifferentRoots {
                size: s,
                root1: *root1,
                root2: *root2,
            }),
            "fork",
        );
    }
    // From the empty tree, the old root must be the empty-tree hash.
    check(
        verify_cons(0, root1, n, root2, &[]),
        Err(ConsistencyError::OldRootMismatch {
            expected: *root1,
            calculated: empty,
        }),
        "non-empty root at size 0",
    );
    checked + flips_without_model
}

// ---------------------------------------------------------------------------
// Small trees: every pair of sizes up to 33, real hashes.

const SMALL: u64 = 33;

struct SmallTrees {
    data: Vec<Vec<u8>>,
    /// `roots[n]` is the root of the first `n` entries.
    roots: Vec<Hash>,
}

fn small_trees() -> SmallTrees {
    let data = entries(SMALL + 1);
    let roots = (0..=data.len())
        .map(|n| reference::root(&data[..n]))
        .collect();
    SmallTrees { data, roots }
}

#[test]
fn model_agrees_with_reference() {
    let t = small_trees();
    for n in 1..=SMALL {
        let tree = &t.data[..n as usize];
        let root = t.roots[n as usize];
        for i in 0..n {
            let proof = reference::inclusion(i as usize, tree);
            let leaf = leaf_hash(&tree[i as usize]);
            assert_eq!(path_shape(i, n).len(), proof.len(), "{i} in {n}");
            assert_eq!(
                fold_path(&leaf, &proof, &path_shape(i, n)),
                root,
                "{i} in {n}"
            );
        }
        for m in 1..n {
            let proof = reference::consistency(m as usize, tree);
            let shape = consistency_shape(m, n);
            assert_eq!(shape.len(), proof.len(), "{m} -> {n}");
            let root1 = t.roots[m as usize];
            assert_eq!(
                fold_consistency(&root1, &proof, &shape),
                (root1, root),
                "{m} -> {n}"
            );
            // The old tree is perfect exactly when there is no seed.
            assert_eq!(shape[0] != Role::Seed, m.is_power_of_two(), "{m} -> {n}");
        }
    }
}

#[test]
fn inclusion_catalogue_small_trees() {
    let t = small_trees();
    let mut checked = 0;
    let mut accepted_at_other_size = 0;
    for n in 1..=SMALL {
        let tree = &t.data[..n as usize];
        for i in 0..n {
            let proof = reference::inclusion(i as usize, tree);
            let leaf = leaf_hash(&tree[i as usize]);
            let case = InclusionCase {
                leaf,
                i,
                n,
                proof: &proof,
                root: t.roots[n as usize],
                // Entry SMALL is in none of these trees.
                other_leaf: leaf_hash(&t.data[SMALL as usize]),
                sibling_leaf: tree.get((i ^ 1) as usize).map(|e| leaf_hash(e)),
                other_root: t.roots[n as usize + 1],
            };
            if n == 1 {
                // A one-leaf tree: its root is the leaf, any other leaf fails.
                assert_eq!(case.root, leaf);
            }
            checked += inclusion_catalogue(&case, Bits::All);
            for m in [n - 1, n + 1] {
                if i < m && path_shape(i, m) == path_shape(i, n) {
                    accepted_at_other_size += 1;
                }
            }
        }
    }
    // Leaf 0 of 5 leaves and of 6 share a shape; the catalogue accepts it
    // there (see the module documentation), and checks that it happens.
    let proof = reference::inclusion(0, &t.data[..5]);
    let leaf = leaf_hash(&t.data[0]);
    assert_eq!(verify_incl(&leaf, 0, 6, &proof, &t.roots[5]), Ok(()));
    assert!(accepted_at_other_size > 0);
    assert!(checked > 100_000, "only {checked} corruptions checked");
}

#[test]
fn consistency_catalogue_small_trees() {
    let t = small_trees();
    let mut checked = 0;
    for n in 2..=SMALL {
        let tree = &t.data[..n as usize];
        for m in 1..n {
            let proof = reference::consistency(m as usize, tree);
            let case = ConsistencyCase {
                m,
                n,
                proof: &proof,
                root1: t.roots[m as usize],
                root2: t.roots[n as usize],
            };
            checked += consistency_catalogue(&case, Bits::All);
        }
    }
    // The same-shape case of consistency proofs: from 1 leaf to 5 and to 6.
    let proof = reference::consistency(1, &t.data[..5]);
    assert_eq!(verify_cons(1, &t.roots[1], 6, &t.roots[5], &proof), Ok(()));
    assert!(checked > 100_000, "only {checked} corruptions checked");
}

/// The degenerate claims the catalogue above cannot reach from a proper
/// `m < n` pair.
#[test]
fn degenerate_sizes() {
    let t = small_trees();
    let empty = Hash::empty_root();
    let some = t.roots[3];
    // Empty tree to empty tree.
    assert_eq!(verify_cons(0, &empty, 0, &empty, &[]), Ok(()));
    assert_eq!(
        verify_cons(0, &some, 0, &some, &[]),
        Err(ConsistencyError::OldRootMismatch {
            expected: some,
            calculated: empty
        })
    );
    // The empty tree to a "size 0" tree with another root: a fork at size 0.
    assert_eq!(
        verify_cons(0, &empty, 0, &some, &[]),
        Err(ConsistencyError::SameSizeDifferentRoots {
            size: 0,
            root1: empty,
            root2: some
        })
    );
    // A tree to itself.
    assert_eq!(verify_cons(3, &some, 3, &some, &[]), Ok(()));
    // No inclusion proof exists in the empty tree.
    let leaf = leaf_hash(&t.data[0]);
    assert_eq!(
        verify_incl(&leaf, 0, 0, &[], &empty),
        Err(InclusionError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        plan_inclusion(index(0), TreeSize::ZERO).map(|_| ()),
        Err(InclusionError::IndexOutOfRange { index: 0, size: 0 })
    );
    // A one-leaf tree: the proof is empty and the root is the leaf hash.
    assert_eq!(verify_incl(&leaf, 0, 1, &[], &leaf), Ok(()));
    assert_eq!(
        verify_incl(&leaf, 0, 1, &[leaf], &leaf),
        Err(InclusionError::WrongLength {
            expected: 0,
            got: 1
        })
    );
    // Assembling with the wrong number of fetched hashes.
    let plan = plan_inclusion(index(3), size(7)).expect("plan");
    let err = plan
        .assemble(&[leaf; 2])
        .expect_err("two hashes for a four-node plan");
    assert_eq!((err.expected, err.got), (plan.nodes().len(), 2));
}

/// The checked constructors are the only way in: nothing past 2^63.
#[test]
fn constructors_refuse_out_of_range() {
    for n in [MAX_TREE_SIZE + 1, MAX_TREE_SIZE + 2, u64::MAX - 1, u64::MAX] {
        assert_eq!(TreeSize::new(n), Err(RangeError::TreeSize(n)));
    }
    for i in [MAX_TREE_SIZE, MAX_TREE_SIZE + 1, u64::MAX] {
        assert_eq!(LeafIndex::new(i), Err(RangeError::LeafIndex(i)));
    }
    assert!(TreeSize::new(MAX_TREE_SIZE).is_ok());
    assert!(LeafIndex::new(MAX_TREE_SIZE - 1).is_ok());
    assert_eq!(size(MAX_TREE_SIZE).checked_add(1), Err(RangeError::Full));
    assert_eq!(size(MAX_TREE_SIZE).next_index(), Err(RangeError::Full));
}

// ---------------------------------------------------------------------------
// Large trees: synthetic hashes folded along the model's shape.

const TWO_32: u64 = 1 << 32;

fn large_sizes() -> Vec<u64> {
    vec![
        TWO_32 - 1,
        TWO_32,
        TWO_32 + 1,
        (TWO_32 << 1) + 3,
        MAX_TREE_SIZE / 2 + 1,
        MAX_TREE_SIZE - 1,
        MAX_TREE_SIZE,
    ]
}

#[test]
fn inclusion_catalogue_large_trees() {
    let mut checked = 0;
    for n in large_sizes() {
        for i in [0, 1, n / 2 - 1, n / 2, n - 2, n - 1, TWO_32 - 1, TWO_32] {
            if i >= n {
                continue;
            }
            let shape = path_shape(i, n);
            let plan = plan_inclusion(index(i), size(n)).expect("plan");
            assert_eq!(plan.proof_len(), shape.len(), "{i} in {n}");
            for id in plan.nodes() {
                assert!(id.is_complete_in(size(n)), "{i} in {n}: {id}");
            }
            let proof: Vec<Hash> = (0..shape.len() as u64)
                .map(|k| synthetic("path", k))
                .collect();
            let leaf = synthetic("leaf", i);
            let root = fold_path(&leaf, &proof, &shape);
            assert_eq!(
                root_from_inclusion(&leaf, index(i), size(n), &proof),
                Ok(root)
            );
            let case = InclusionCase {
                leaf,
                i,
                n,
                proof: &proof,
                root,
                other_leaf: synthetic("leaf", i + 1),
                sibling_leaf: Some(synthetic("leaf", i ^ 1)),
                other_root: synthetic("root", n),
            };
            checked += inclusion_catalogue(&case, Bits::Spread);
        }
    }
    assert!(checked > 1000, "only {checked} corruptions checked");
}

#[test]
fn consistency_catalogue_large_trees() {
    let mut checked = 0;
    let sizes = large_sizes();
    let olds = [
        1,
        2,
        3,
        TWO_32 - 1,
        TWO_32,
        TWO_32 + 1,
        MAX_TREE_SIZE / 2,
        MAX_TREE_SIZE - 1,
    ];
    for &n in &sizes {
        for &m in olds.iter().chain(&sizes) {
            if m == 0 || m >= n {
                continue;
            }
            let shape = consistency_shape(m, n);
            let plan = plan_consistency(size(m), size(n)).expect("plan");
            assert_eq!(plan.proof_len(), shape.len(), "{m} -> {n}");
            let proof: Vec<Hash> = (0..shape.len() as u64)
                .map(|k| synthetic("cons", k))
                .collect();
            let given_root1 = synthetic("root1", m);
            let (root1, root2) = fold_consistency(&given_root1, &proof, &shape);
            let case = ConsistencyCase {
                m,
                n,
                proof: &proof,
                root1,
                root2,
            };
            checked += consistency_catalogue(&case, Bits::Spread);
        }
    }
    assert!(checked > 1000, "only {checked} corruptions checked");
}

// ---------------------------------------------------------------------------
// Arbitrary input: the verifiers return, and say exactly what the model says.

/// Sizes and indices where the arithmetic has edges, and anything at all.
fn interesting_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0u64..80,
        (TWO_32 - 40)..(TWO_32 + 40),
        (MAX_TREE_SIZE - 80)..=(MAX_TREE_SIZE + 80),
        (u64::MAX - 80)..=u64::MAX,
    ]
}

fn hashes(max: usize) -> impl Strategy<Value = Vec<Hash>> {
    prop::collection::vec(any::<[u8; 32]>().prop_map(Hash), 0..max)
}

/// A size through its checked constructor, or `None` after checking the error.
fn checked_size(raw: u64) -> Result<Option<TreeSize>, TestCaseError> {
    match TreeSize::new(raw) {
        Ok(s) => {
            prop_assert!(raw <= MAX_TREE_SIZE);
            Ok(Some(s))
        }
        Err(e) => {
            prop_assert!(raw > MAX_TREE_SIZE);
            prop_assert_eq!(e, RangeError::TreeSize(raw));
            Ok(None)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_inclusion_input(
        size_raw in interesting_u64(),
        index_raw in interesting_u64(),
        index_inside: bool,
        proof in hashes(70),
        leaf in any::<[u8; 32]>().prop_map(Hash),
        root in any::<[u8; 32]>().prop_map(Hash),
        fit_length: bool,
        honest_root: bool,
    ) {
        let Some(n) = checked_size(size_raw)? else { return Ok(()) };
        let raw = if index_inside && size_raw > 0 { index_raw % size_raw } else { index_raw };
        let i = match LeafIndex::new(raw) {
            Ok(i) => i,
            Err(e) => {
                prop_assert!(raw >= MAX_TREE_SIZE);
                prop_assert_eq!(e, RangeError::LeafIndex(raw));
                return Ok(());
            }
        };
        let (iv, nv) = (i.get(), n.get());
        let mut proof = proof;
        // Make acceptance reachable: the right length, and a root the
        // hashes really fold to.
        let mut root = root;
        if iv < nv {
            let shape = path_shape(iv, nv);
            if fit_length {
                proof.resize(shape.len(), leaf);
            }
            if honest_root && proof.len() == shape.len() {
                root = fold_path(&leaf, &proof, &shape);
            }
        }
        let want = model_inclusion(&leaf, iv, nv, &proof, &root);
        prop_assert_eq!(verify_inclusion(&leaf, i, n, &proof, &root), want.clone());
        match root_from_inclusion(&leaf, i, n, &proof) {
            Ok(calculated) => {
                prop_assert_eq!(calculated, fold_path(&leaf, &proof, &path_shape(iv, nv)));
                prop_assert_eq!(want.is_ok(), calculated == root);
            }
            Err(e) => prop_assert_eq!(Err(e), want),
        }
        match plan_inclusion(i, n) {
            Ok(plan) => prop_assert_eq!(plan.proof_len(), path_shape(iv, nv).len()),
            Err(e) => prop_assert_eq!(e, InclusionError::IndexOutOfRange { index: iv, size: nv }),
        }
    }

    #[test]
    fn arbitrary_consistency_input(
        size1_raw in interesting_u64(),
        size2_raw in interesting_u64(),
        ordered: bool,
        proof in hashes(130),
        root1 in any::<[u8; 32]>().prop_map(Hash),
        root2 in any::<[u8; 32]>().prop_map(Hash),
        fit_length: bool,
        honest_roots: bool,
    ) {
        let Some(n2) = checked_size(size2_raw)? else { return Ok(()) };
        let raw1 = if ordered { size1_raw % (size2_raw + 1) } else { size1_raw };
        let Some(n1) = checked_size(raw1)? else { return Ok(()) };
        let (m, n) = (n1.get(), n2.get());
        let mut proof = proof;
        let (mut root1, mut root2) = (root1, root2);
        if 0 < m && m < n {
            let shape = consistency_shape(m, n);
            if fit_length {
                proof.resize(shape.len(), root1);
            }
            if honest_roots && proof.len() == shape.len() {
                (root1, root2) = fold_consistency(&root1, &proof, &shape);
            }
        } else if honest_roots {
            if m == 0 {
                root1 = Hash::empty_root();
            }
            if m == n {
                root2 = root1;
            }
            if fit_length {
                proof.clear();
            }
        }
        let want = model_consistency(m, &root1, n, &root2, &proof);
        prop_assert_eq!(verify_consistency(n1, &root1, n2, &root2, &proof), want);
        match plan_consistency(n1, n2) {
            Ok(plan) => {
                let len = if m == 0 || m == n { 0 } else { consistency_shape(m, n).len() };
                prop_assert_eq!(plan.proof_len(), len);
            }
            Err(e) => prop_assert_eq!(e, ConsistencyError::SizesOutOfOrder { size1: m, size2: n }),
        }
    }
}

/// A proof taken from a real tree verifies against that tree's root and
/// nothing else, across a few random trees, so that the catalogue is not
/// only about the fixed tree above.
#[test]
fn stored_proofs_of_random_trees() {
    let data = entries(70);
    let mut stored = HashMap::new();
    let mut edge = vellum_merkle::CompactRange::new();
    for e in &data {
        edge.append(leaf_hash(e), |id, h| {
            stored.insert(id, *h);
        })
        .expect("append");
    }
    let n = data.len() as u64;
    let root = edge.root();
    for i in [0, 31, 32, 63, 64, 69] {
        let plan = plan_inclusion(index(i), size(n)).expect("plan");
        let fetched: Vec<Hash> = plan.nodes().iter().map(|id| stored[id]).collect();
        let proof = plan.assemble(&fetched).expect("assemble");
        let case = InclusionCase {
            leaf: leaf_hash(&data[i as usize]),
            i,
            n,
            proof: &proof,
            root,
            other_leaf: leaf_hash(b"not in the tree"),
            sibling_leaf: data.get((i ^ 1) as usize).map(|e| leaf_hash(e)),
            other_root: reference::root(&data[..69]),
        };
        inclusion_catalogue(&case, Bits::Spread);
    }
}

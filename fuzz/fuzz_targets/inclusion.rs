//! `verify_inclusion` / `root_from_inclusion` on structured input: a small
//! tree (up to 300 leaves) whose every answer the naive reference knows,
//! an index, a size (in the tree, or any number up to u64::MAX), a leaf
//! hash, a proof (the true one, corrupted step by step, or made up) and a
//! root (the true one or made up).
//!
//! Properties:
//! * no panic, no overflow, for any index and size (near u64::MAX too);
//! * accept ⇒ valid: whenever the verifier accepts against the true root
//!   of a tree the reference knows, the leaf is that tree's leaf at that
//!   index and the proof is exactly the reference's audit path (anything
//!   else would be a second preimage of SHA-256); any accepted proof leads
//!   to the root it was accepted for;
//! * complete: the true leaf, path and root are accepted;
//! * precise: an index outside the tree is `IndexOutOfRange`, a proof of
//!   the wrong length is `WrongLength` with the reference's length.

#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use vellum_fuzz::proofs::{corrupt, entries, hash};
use vellum_merkle::proof::{root_from_inclusion, verify_inclusion};
use vellum_merkle::testonly::reference;
use vellum_merkle::{InclusionError, LeafIndex, TreeSize, leaf_hash};

const MAX_LEAVES: u64 = 300;

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let n = u.int_in_range(1..=MAX_LEAVES)?;
    let all = entries(n);
    // Mostly sizes and indices inside the known tree; sometimes anything.
    let size: u64 = if u.ratio(7, 8)? {
        u.int_in_range(0..=n)?
    } else {
        u.arbitrary()?
    };
    let index: u64 = match u.int_in_range(0..=7u8)? {
        0 => u.arbitrary()?,
        1 => size,
        2 => size.wrapping_sub(1),
        _ => u.int_in_range(0..=size.saturating_sub(1))?,
    };
    let known = size <= n && index < size;
    let tree = &all[..size.min(n) as usize];
    let true_leaf = known.then(|| leaf_hash(&all[index as usize]));
    let true_root = (size <= n).then(|| reference::root(tree));
    let true_path = known.then(|| reference::inclusion(index as usize, tree));

    let leaf = match true_leaf {
        Some(l) if u.ratio(3, 4)? => l,
        _ => hash(u)?,
    };
    let mut proof = match &true_path {
        Some(p) if u.ratio(3, 4)? => p.clone(),
        _ => {
            let len = u.int_in_range(0..=70usize)?;
            (0..len).map(|_| hash(u)).collect::<Result<_>>()?
        }
    };
    corrupt(u, &mut proof)?;
    let root = match true_root {
        Some(r) if u.ratio(3, 4)? => r,
        _ => hash(u)?,
    };

    let (Ok(li), Ok(ts)) = (LeafIndex::new(index), TreeSize::new(size)) else {
        return Ok(());
    };
    let result = verify_inclusion(&leaf, li, ts, &proof, &root);
    let computed = root_from_inclusion(&leaf, li, ts, &proof);
    if index >= size {
        let want = InclusionError::IndexOutOfRange { index, size };
        assert_eq!(result, Err(want.clone()));
        assert_eq!(computed, Err(want));
        return Ok(());
    }
    if let Some(path) = &true_path
        && path.len() != proof.len()
    {
        let want = InclusionError::WrongLength {
            expected: path.len(),
            got: proof.len(),
        };
        assert_eq!(result, Err(want));
    }
    if result.is_ok() {
        assert_eq!(computed, Ok(root), "an accepted proof leads to its root");
        if Some(root) == true_root {
            assert_eq!(
                Some(leaf),
                true_leaf,
                "accepted a leaf that is not in the tree"
            );
            assert_eq!(
                Some(&proof),
                true_path.as_ref(),
                "accepted a path that is not the path"
            );
        }
    }
    if Some(leaf) == true_leaf && Some(&proof) == true_path.as_ref() && Some(root) == true_root {
        assert_eq!(result, Ok(()), "the true path is accepted");
    }
    Ok(())
}

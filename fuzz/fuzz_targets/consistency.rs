//! `verify_consistency` on structured input: a small tree (up to 300
//! leaves) the naive reference knows, two sizes (in the tree, or any number
//! up to u64::MAX), two roots (true, the empty tree's, or made up) and a
//! proof (the true one, corrupted step by step, or made up).
//!
//! Properties:
//! * no panic, no overflow, for any sizes (near u64::MAX too);
//! * accept ⇒ valid: whenever the verifier accepts with the true new root
//!   of a tree the reference knows, the old root is the true root of the
//!   old size and the proof is exactly the reference's (anything else
//!   would be a SHA-256 collision); a size never shrinks; two roots of one
//!   size are accepted only when equal; from size 0 only the empty root;
//! * complete: the true roots and proof are accepted;
//! * precise: sizes out of order are `SizesOutOfOrder`, a proof of the
//!   wrong length is `WrongLength` with the reference's length.

#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use vellum_fuzz::proofs::{corrupt, entries, hash};
use vellum_merkle::proof::verify_consistency;
use vellum_merkle::testonly::reference;
use vellum_merkle::{ConsistencyError, Hash, TreeSize};

const MAX_LEAVES: u64 = 300;

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn size(u: &mut Unstructured<'_>, n: u64) -> Result<u64> {
    if u.ratio(7, 8)? {
        u.int_in_range(0..=n)
    } else {
        u.arbitrary()
    }
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let n = u.int_in_range(1..=MAX_LEAVES)?;
    let all = entries(n);
    let (a, b) = (size(u, n)?, size(u, n)?);
    // Mostly in order; sometimes not.
    let (m, k) = if u.ratio(7, 8)? {
        (a.min(b), a.max(b))
    } else {
        (a, b)
    };
    let true_root = |s: u64| (s <= n).then(|| reference::root(&all[..s as usize]));
    let (true1, true2) = (true_root(m), true_root(k));
    let true_proof = (m <= k && k <= n).then(|| {
        if m == 0 || m == k {
            Vec::new()
        } else {
            reference::consistency(m as usize, &all[..k as usize])
        }
    });
    let root = |t: Option<Hash>, u: &mut Unstructured<'_>| -> Result<Hash> {
        Ok(match u.int_in_range(0..=7u8)? {
            0 => hash(u)?,
            1 => Hash::empty_root(),
            _ => t.unwrap_or(Hash::empty_root()),
        })
    };
    let root1 = root(true1, u)?;
    let root2 = root(true2, u)?;
    let mut proof = match &true_proof {
        Some(p) if u.ratio(3, 4)? => p.clone(),
        _ => {
            let len = u.int_in_range(0..=70usize)?;
            (0..len).map(|_| hash(u)).collect::<Result<_>>()?
        }
    };
    corrupt(u, &mut proof)?;

    let (Ok(s1), Ok(s2)) = (TreeSize::new(m), TreeSize::new(k)) else {
        return Ok(());
    };
    let result = verify_consistency(s1, &root1, s2, &root2, &proof);
    if m > k {
        assert_eq!(
            result,
            Err(ConsistencyError::SizesOutOfOrder { size1: m, size2: k })
        );
        return Ok(());
    }
    if let Some(p) = &true_proof
        && p.len() != proof.len()
    {
        let want = ConsistencyError::WrongLength {
            size1: m,
            size2: k,
            expected: p.len(),
            got: proof.len(),
        };
        assert_eq!(result, Err(want));
    }
    if result.is_ok() {
        if m == 0 {
            assert_eq!(root1, Hash::empty_root(), "from size 0 only the empty root");
            assert!(proof.is_empty());
        }
        if m == k {
            assert_eq!(root1, root2, "one size, one root");
            assert!(proof.is_empty());
        }
        if Some(root2) == true2 {
            assert_eq!(
                Some(root1),
                true1,
                "accepted an old root that is not the tree's"
            );
            assert_eq!(
                Some(&proof),
                true_proof.as_ref(),
                "accepted a proof that is not the proof"
            );
        }
    }
    if Some(root1) == true1 && Some(root2) == true2 && Some(&proof) == true_proof.as_ref() {
        assert_eq!(result, Ok(()), "the true proof is accepted");
    }
    Ok(())
}

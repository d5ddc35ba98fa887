//! RFC 6962 section 2.1, transcribed as literally as possible: recursive,
//! quadratic, and obviously right. Property tests compare everything the
//! crate computes against these functions.

use crate::hash::{Hash, leaf_hash, node_hash};

/// The largest power of two strictly smaller than `n` (`n > 1`).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]): the Merkle tree hash of a list of entries.
pub fn root(entries: &[impl AsRef<[u8]>]) -> Hash {
    match entries.len() {
        0 => Hash::empty_root(),
        1 => leaf_hash(entries[0].as_ref()),
        n => {
            let k = split(n);
            node_hash(&root(&entries[..k]), &root(&entries[k..]))
        }
    }
}

/// PATH(m, D[n]): the audit path of entry `m`.
pub fn inclusion(m: usize, entries: &[impl AsRef<[u8]>]) -> Vec<Hash> {
    let n = entries.len();
    assert!(m < n, "reference inclusion: index out of range");
    if n == 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut p = inclusion(m, &entries[..k]);
        p.push(root(&entries[k..]));
        p
    } else {
        let mut p = inclusion(m - k, &entries[k..]);
        p.push(root(&entries[..k]));
        p
    }
}

/// PROOF(m, D[n]): the consistency proof from the first `m` entries to all of
/// them (`0 < m <= n`).
pub fn consistency(m: usize, entries: &[impl AsRef<[u8]>]) -> Vec<Hash> {
    assert!(
        m > 0 && m <= entries.len(),
        "reference consistency: bad sizes"
    );
    subproof(m, entries, true)
}

/// SUBPROOF(m, D[n], b).
fn subproof(m: usize, entries: &[impl AsRef<[u8]>], b: bool) -> Vec<Hash> {
    let n = entries.len();
    if m == n {
        return if b { Vec::new() } else { vec![root(entries)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &entries[..k], b);
        p.push(root(&entries[k..]));
        p
    } else {
        let mut p = subproof(m - k, &entries[k..], false);
        p.push(root(&entries[..k]));
        p
    }
}

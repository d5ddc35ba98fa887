//! Checks on answers, so that a broken answer is never counted as a
//! success. Every append answer gets the cheap checks (one result per
//! entry, no entry reported as a duplicate: the run's entries are unique);
//! a sample gets the full ones (the checkpoint's signature by the log key,
//! the entries' inclusion proofs against its root, with `vellum-merkle`).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use vellum_merkle::proof::verify_inclusion;
use vellum_merkle::{Hash, LeafIndex, TreeSize, leaf_hash};
use vellum_note::{SignedCheckpoint, VerifierKey};
use vellum_proto::v1 as pb;

use crate::entries::EntryGen;

/// Verifies checkpoints (cached: answers of one round share one) and
/// inclusion proofs.
#[derive(Debug)]
pub struct Verifier {
    vkey: VerifierKey,
    opened: Mutex<HashMap<Bytes, (TreeSize, Hash)>>,
}

impl Verifier {
    /// A verifier for the log with key `vkey`.
    pub fn new(vkey: VerifierKey) -> Verifier {
        Verifier {
            vkey,
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// The size and root of a signed checkpoint, once its signature checks.
    ///
    /// # Errors
    ///
    /// Why the note does not verify.
    pub fn checkpoint(&self, note: &Bytes) -> Result<(TreeSize, Hash), String> {
        let mut cache = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache.get(note) {
            return Ok(*v);
        }
        let cp = SignedCheckpoint::open(note, &self.vkey, &[])
            .map_err(|e| format!("checkpoint does not verify: {e}"))?;
        let v = (cp.checkpoint().size(), cp.checkpoint().root());
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(note.clone(), v);
        Ok(v)
    }

    /// Checks that `proof` proves `entry` at `index` in the tree of `size`
    /// with root `root`.
    ///
    /// # Errors
    ///
    /// Why it does not.
    pub fn inclusion(
        &self,
        entry: &[u8],
        index: u64,
        proof: &[Bytes],
        size: TreeSize,
        root: &Hash,
    ) -> Result<(), String> {
        let index = LeafIndex::new(index).map_err(|e| format!("index {index}: {e}"))?;
        let proof = proof
            .iter()
            .map(|h| Hash::from_slice(h).map_err(|e| format!("proof hash: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        verify_inclusion(&leaf_hash(entry), index, size, &proof, root)
            .map_err(|e| format!("inclusion proof of index {index} at size {size}: {e}"))
    }
}

/// Checks an append answer for the entries `first..first + n` of `entries`.
/// `full` asks for the signature and proof checks too (`verifier` must then
/// be given when the answer carries a checkpoint).
///
/// # Errors
///
/// Why the answer cannot be counted.
pub fn check_append(
    resp: &pb::AppendResponse,
    entries: &EntryGen,
    first: u64,
    n: usize,
    checkpoint_wait: bool,
    full: Option<&Verifier>,
) -> Result<bool, String> {
    if let Some(e) = &resp.error {
        return Err(format!(
            "error {} in an answer counted as success: {}",
            e.code, e.message
        ));
    }
    if resp.results.len() != n {
        return Err(format!("{} results for {n} entries", resp.results.len()));
    }
    if let Some(r) = resp.results.iter().find(|r| r.duplicate) {
        return Err(format!(
            "index {} reported as a duplicate, but every entry of the run is new",
            r.index
        ));
    }
    if !checkpoint_wait {
        return Ok(false);
    }
    if resp.checkpoint.is_empty() {
        return Err("a checkpoint wait answered without a checkpoint".into());
    }
    let Some(v) = full else {
        return Ok(false);
    };
    let (size, root) = v.checkpoint(&resp.checkpoint)?;
    // The first and the last entry: the two ends of the call's range.
    let mut picks = vec![0];
    if n > 1 {
        picks.push(n - 1);
    }
    for i in picks {
        let r = &resp.results[i];
        v.inclusion(
            &entries.entry(first + i as u64),
            r.index,
            &r.inclusion_proof,
            size,
            &root,
        )?;
    }
    Ok(true)
}

//! `TlogProof::parse` and `TlogProof::verify` on arbitrary input:
//! `<proof file> [NUL <entry>]` (the entry is empty when there is no NUL).
//!
//! Properties:
//! * no panic;
//! * round trip: an accepted file formats back to exactly its bytes, and
//!   `TlogProof::new` from its parts gives the same value;
//! * accept ⇒ valid: when `verify` accepts, the index is inside the signed
//!   tree, the leaf hash is the entry's, the inclusion proof leads from it to
//!   the signed root (recomputed here), and the checkpoint opens with the
//!   log key by itself; under the fixed witness policy, acceptance means a
//!   policy witness's cosignature verifies.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_fuzz::{keys, split_once};
use vellum_merkle::{leaf_hash, proof::root_from_inclusion};
use vellum_note::{Policy, SignedCheckpoint, TlogProof};

fuzz_target!(|data: &[u8]| {
    let (file, entry) = split_once(data);
    let entry = entry.unwrap_or_default();
    let Ok(proof) = TlogProof::parse(file) else {
        return;
    };
    assert_eq!(
        proof.format().as_bytes(),
        file,
        "a parsed proof formats back"
    );
    let rebuilt = TlogProof::new(
        proof.extra().map(<[u8]>::to_vec),
        proof.index(),
        proof.inclusion().to_vec(),
        proof.checkpoint().to_vec(),
    )
    .expect("the parts of a parsed proof are valid");
    assert_eq!(rebuilt, proof);

    let k = keys();
    let none = Policy::quorum_none(k.log_vkey()).expect("an Ed25519 key");
    if let Ok(v) = proof.verify(entry, &none) {
        let cp = v.checkpoint().checkpoint();
        assert_eq!(v.index(), proof.index());
        assert_eq!(v.leaf_hash(), leaf_hash(entry));
        assert!(cp.size().contains(proof.index()));
        let root = root_from_inclusion(&v.leaf_hash(), v.index(), cp.size(), proof.inclusion())
            .expect("an accepted proof has the right length");
        assert_eq!(root, cp.root(), "the proof leads to the signed root");
        let opened = SignedCheckpoint::open(proof.checkpoint(), &k.log_vkey(), &[])
            .expect("an accepted checkpoint opens with the log key");
        assert_eq!(opened.checkpoint(), cp);
    }
    if let Ok(v) = proof.verify(entry, &k.policy()) {
        let text = v.checkpoint().checkpoint().to_text();
        assert!(
            !v.checkpoint().cosignatures().is_empty(),
            "the quorum needs a witness"
        );
        let [w1, w2] = k.witness_verifiers();
        let by_witness = v.checkpoint().note().verified().iter().any(|s| {
            let w = match s.name() {
                n if n == w1.verifier_key().name() => &w1,
                n if n == w2.verifier_key().name() => &w2,
                _ => return false,
            };
            w.verify_cosignature(&text, s.signature().signature())
                .is_some()
        });
        assert!(by_witness, "a policy witness's cosignature verifies");
    }
});

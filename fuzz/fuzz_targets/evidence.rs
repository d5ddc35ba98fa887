//! A split-view evidence file: `Evidence::parse` and `Evidence::verify` on
//! arbitrary bytes, trusting the vectors' log key, then the fixed policy.
//!
//! Properties:
//! * no panic;
//! * round trip: an accepted file is exactly `to_file_text` of what was
//!   parsed;
//! * accept ⇒ valid: evidence that verifies holds two checkpoints that each
//!   open with the log's key, from one origin, and that really conflict in
//!   the way the kind says: `split-view` one size and two roots,
//!   `rollback` a smaller size, `inconsistent` a larger size and a proof
//!   that fails `verify_consistency` (checked again here).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_client::{Evidence, EvidenceKind, Trust};
use vellum_fuzz::keys;
use vellum_merkle::proof::verify_consistency;
use vellum_note::SignedCheckpoint;

fuzz_target!(|data: &[u8]| {
    let Ok(evidence) = Evidence::parse(data) else {
        return;
    };
    assert_eq!(
        evidence.to_file_text(),
        data,
        "parsed evidence formats back"
    );
    let k = keys();
    for trust in [Trust::Key(k.log_vkey()), Trust::Policy(k.policy())] {
        let Ok(v) = evidence.verify(&trust) else {
            continue;
        };
        assert_eq!(v.kind, evidence.kind());
        let log = v.trusted.log_key().clone();
        let a = SignedCheckpoint::open(evidence.trusted_note(), &log, &[])
            .expect("the trusted checkpoint opens");
        let b = SignedCheckpoint::open(evidence.offending_note(), &log, &[])
            .expect("the offending checkpoint opens with the same log key");
        let (a, b) = (a.checkpoint(), b.checkpoint());
        assert_eq!(a.origin(), b.origin());
        match v.kind {
            EvidenceKind::SplitView => {
                assert_eq!(a.size(), b.size());
                assert_ne!(a.root(), b.root());
            }
            EvidenceKind::Rollback => assert!(b.size() < a.size()),
            EvidenceKind::Inconsistent => {
                assert!(b.size() > a.size());
                let proof = evidence
                    .proof()
                    .expect("an inconsistency comes with its proof");
                assert!(
                    verify_consistency(a.size(), &a.root(), b.size(), &b.root(), proof).is_err()
                );
            }
        }
    }
});

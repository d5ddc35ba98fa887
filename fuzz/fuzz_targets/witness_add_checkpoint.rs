//! The whole tlog-witness protocol without HTTP: `Witness::add_checkpoint`
//! on a fresh state folder, fed up to eight request bodies separated by NUL
//! bytes, then a restart from the same folder. The witness trusts the
//! vectors' log and a second log.
//!
//! Properties:
//! * no panic, and no 5xx: on a working disk every refusal is the
//!   request's fault (400, 403, 404, 409, 413, 422);
//! * accept ⇒ valid: a cosignature is returned only for a note validly
//!   signed by the origin's trusted key, with a consistency proof from the
//!   latest cosigned checkpoint that verifies (checked again here), and the
//!   returned line is this witness's valid cosignature of that checkpoint;
//!   the cosigned size never decreases;
//! * a refusal changes nothing; a 409 names the size the witness holds;
//! * durability: after a restart the witness holds what it held before.

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vellum_fuzz::{keys, scratch_dir, split_all};
use vellum_merkle::proof::verify_consistency;
use vellum_merkle::{Hash, TreeSize};
use vellum_note::{SignedCheckpoint, parse_signature_lines};
use vellum_witness::{AddCheckpointRequest, OriginStatus, TrustedLogs, Witness};

const NOW: u64 = 1_700_000_000;

fn held(list: &[OriginStatus], origin: &str) -> (TreeSize, Hash) {
    list.iter()
        .find(|s| s.origin() == origin)
        .and_then(|s| s.latest())
        .map_or((TreeSize::ZERO, Hash::empty_root()), |c| {
            (c.size(), c.root())
        })
}

fn open(dir: &std::path::Path) -> Witness {
    let k = keys();
    let logs = TrustedLogs::from_keys([k.log_vkey(), k.other_log.verifier()])
        .expect("two Ed25519 keys with distinct names");
    Witness::open(k.witnesses[0].clone(), logs, dir)
        .expect("a fresh state folder opens")
        .with_clock(Arc::new(|| Some(NOW)))
}

fuzz_target!(|data: &[u8]| {
    let dir = scratch_dir();
    let witness = open(dir.path());
    for body in split_all(data, 8) {
        let before = witness.state().list();
        match witness.add_checkpoint(body) {
            Ok(line) => {
                let req = AddCheckpointRequest::parse(body).expect("an accepted body parses");
                let cp = req.claimed();
                let log = witness.logs().get(cp.origin()).expect("a trusted origin");
                let opened = SignedCheckpoint::open(&req.note().to_bytes(), log.key(), &[])
                    .expect("the note is signed by the origin's key");
                assert_eq!(opened.checkpoint(), cp);
                let (old, old_root) = held(&before, cp.origin());
                assert_eq!(req.old_size(), old);
                assert!(cp.size() >= old, "the cosigned size never decreases");
                verify_consistency(old, &old_root, cp.size(), &cp.root(), req.proof())
                    .expect("the witness cosigned only with a proof that verifies");
                let sigs = parse_signature_lines(&line).expect("the reply is signature lines");
                assert_eq!(sigs.len(), 1);
                assert!(sigs[0].is_by(witness.name(), witness.verifier().verifier_key().key_id()));
                assert_eq!(
                    witness
                        .verifier()
                        .verify_cosignature(&cp.to_text(), sigs[0].signature()),
                    Some(NOW)
                );
                assert_eq!(
                    held(&witness.state().list(), cp.origin()),
                    (cp.size(), cp.root())
                );
            }
            Err(e) => {
                assert!(!e.is_internal(), "a 5xx on a working disk: {e}");
                assert!(
                    matches!(e.status(), 400 | 403 | 404 | 409 | 413 | 422),
                    "{e}"
                );
                assert_eq!(witness.state().list(), before, "a refusal changes nothing");
                if let Some(latest) = e.conflict_size() {
                    let req = AddCheckpointRequest::parse(body).expect("a 409 body parses");
                    assert_eq!(held(&before, req.claimed().origin()).0.get(), latest);
                }
            }
        }
    }
    let last = witness.state().list();
    drop(witness);
    let again = open(dir.path());
    assert_eq!(again.state().list(), last, "a restart keeps the state");
});

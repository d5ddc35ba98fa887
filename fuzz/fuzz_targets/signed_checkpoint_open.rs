//! `SignedCheckpoint::open` on arbitrary bytes, with the vectors' log key
//! and the two fixed witnesses as further trusted keys.
//!
//! Properties:
//! * no panic;
//! * round trip: an opened checkpoint's note is byte for byte the input;
//! * accept ⇒ valid: the log's signature verifies on its own, the origin is
//!   the key's name, the checkpoint is what its text says, each witness
//!   reported as signing has a valid cosignature; opening with fewer trusted
//!   keys still succeeds; and a quorum-none policy for the same key accepts
//!   exactly the notes `open` accepts (two verification paths, one answer).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_fuzz::{LOG_ORIGIN, keys};
use vellum_note::{Checkpoint, NoteVerifier, Policy, SignedCheckpoint};

fuzz_target!(|data: &[u8]| {
    let k = keys();
    let log = k.log_vkey();
    let [w1, w2] = k.witness_verifiers();
    let with_witnesses = SignedCheckpoint::open(data, &log, &[&w1, &w2]);
    let alone = SignedCheckpoint::open(data, &log, &[]);
    let policy = Policy::quorum_none(log.clone()).expect("an Ed25519 key");
    let by_policy = policy.check_checkpoint(data);
    assert_eq!(
        alone.is_ok(),
        by_policy.is_ok(),
        "open and the policy disagree: {alone:?} / {by_policy:?}"
    );
    if let (Ok(a), Ok(p)) = (&alone, &by_policy) {
        assert_eq!(a.checkpoint(), p.checkpoint());
    }
    let Ok(sc) = with_witnesses else {
        return;
    };
    let alone = alone.expect("fewer trusted keys cannot refuse a note");
    assert_eq!(alone.checkpoint(), sc.checkpoint());
    assert_eq!(sc.to_bytes(), data, "an opened note formats back");
    assert_eq!(sc.checkpoint().origin(), LOG_ORIGIN);
    let text = sc.note().text();
    assert_eq!(
        &Checkpoint::parse(text).expect("opened text parses"),
        sc.checkpoint()
    );
    let by_log = sc.verified().signature_by(0).expect("the log signed");
    assert!(log.verify(text.as_bytes(), by_log.signature().signature()));
    for (i, w) in [&w1, &w2].into_iter().enumerate() {
        if let Some(s) = sc.verified().signature_by(1 + i) {
            assert!(
                w.verify_cosignature(text, s.signature().signature())
                    .is_some()
            );
        }
    }
});

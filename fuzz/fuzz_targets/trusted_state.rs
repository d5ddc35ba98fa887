//! The client's trusted-state file: arbitrary bytes as the file, opened
//! with `TrustedState::open` under the vectors' log key, then under the
//! fixed witness policy.
//!
//! Properties:
//! * no panic;
//! * accept ⇒ valid: a state that opens holds a checkpoint whose note is
//!   the file, byte for byte, that opens with the log's key, with the size
//!   and root reported; under the policy, its cosignatures are by policy
//!   witnesses.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_client::{Trust, TrustedState};
use vellum_fuzz::{keys, scratch_dir};
use vellum_note::SignedCheckpoint;

fuzz_target!(|data: &[u8]| {
    let dir = scratch_dir();
    let path = dir.path().join("log.checkpoint");
    std::fs::write(&path, data).expect("writing the scratch state file");
    let k = keys();
    for trust in [Trust::Key(k.log_vkey()), Trust::Policy(k.policy())] {
        let Ok(state) = TrustedState::open(&path, &trust) else {
            continue;
        };
        let cp = state
            .checkpoint()
            .expect("an existing file is a checkpoint or an error");
        assert_eq!(cp.note(), data);
        let opened = SignedCheckpoint::open(data, cp.log_key(), &[])
            .expect("a trusted checkpoint opens with its log key");
        assert_eq!(
            (opened.checkpoint().size(), opened.checkpoint().root()),
            (cp.size(), cp.root())
        );
        assert_eq!(opened.checkpoint().origin(), cp.origin());
        if let Trust::Policy(p) = &trust {
            assert!(!cp.cosignatures().is_empty());
            for c in cp.cosignatures() {
                assert!(p.witnesses().iter().any(|w| w.name() == c.witness()));
            }
        }
    }
});

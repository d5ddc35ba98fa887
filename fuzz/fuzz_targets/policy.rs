//! `Policy::parse_bytes` and `Policy::check_checkpoint` on arbitrary input:
//! `<policy> NUL <signed note>`, or a note alone (checked against the fixed
//! policy: two logs, two witnesses, a quorum of one witness).
//!
//! Properties:
//! * no panic;
//! * round trip: an accepted policy's `to_text` parses back to an equal
//!   policy, and formats the same again;
//! * accept ⇒ valid: a checkpoint the policy accepts is signed by a policy
//!   log whose name is its origin (the signature verifies through
//!   `SignedCheckpoint::open`), every cosignature reported is a policy
//!   witness's and verifies with that witness's key at the timestamp
//!   reported, and those witnesses satisfy the quorum; a refusal for the
//!   quorum comes with what is unmet.

#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use vellum_fuzz::{keys, split_once};
use vellum_note::{Policy, PolicyError, SignedCheckpoint};

fuzz_target!(|data: &[u8]| {
    let (first, rest) = split_once(data);
    let (policy, note) = match rest {
        Some(note) => match Policy::parse_bytes(first) {
            Ok(p) => {
                let text = p.to_text();
                let again = Policy::parse(&text).expect("a formatted policy parses");
                assert_eq!(again, p, "policy round trip");
                assert_eq!(again.to_text(), text);
                (p, note)
            }
            Err(_) => return,
        },
        None => (keys().policy(), first),
    };
    match policy.check_checkpoint(note) {
        Ok(v) => {
            let cp = v.checkpoint();
            let log = v.log_key();
            assert!(policy.logs().iter().any(|l| l.key() == log));
            assert_eq!(cp.origin(), log.name());
            let opened = SignedCheckpoint::open(note, log, &[])
                .expect("an accepted checkpoint opens with its log's key");
            assert_eq!(opened.checkpoint(), cp);
            let text = cp.to_text();
            let mut names = BTreeSet::new();
            for c in v.cosignatures() {
                let w = policy
                    .witnesses()
                    .iter()
                    .find(|w| w.name() == c.witness())
                    .expect("a cosignature by a policy witness");
                let valid = v.note().verified().iter().any(|s| {
                    s.name() == w.key().verifier_key().name()
                        && s.key_id() == w.key().verifier_key().key_id()
                        && w.key().verify_cosignature(&text, s.signature().signature())
                            == Some(c.timestamp())
                });
                assert!(valid, "the cosignature of {} verifies", c.witness());
                names.insert(c.witness().to_owned());
            }
            assert!(policy.evaluate(&names), "the quorum is met");
            assert!(policy.unmet(&names).is_empty());
        }
        Err(PolicyError::QuorumNotMet {
            unmet, cosigned, ..
        }) => {
            assert!(!unmet.is_empty());
            assert!(!policy.evaluate(&cosigned.into_iter().collect()));
        }
        Err(_) => {}
    }
});

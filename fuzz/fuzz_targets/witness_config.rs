//! A witness's trusted-log list: `TrustedLogs::parse` on arbitrary text.
//!
//! Properties:
//! * no panic;
//! * accept ⇒ valid: at least one log, every key Ed25519, one key per
//!   origin, each origin its key's name; and the general tlog-policy parser
//!   reads the same text as a policy with exactly these logs, no witness,
//!   no group and quorum `none` (a `witness` or `group` line can never slip
//!   through the witness's narrower reading).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_note::{Policy, SigType};
use vellum_witness::TrustedLogs;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(logs) = TrustedLogs::parse(text) else {
        return;
    };
    assert!(!logs.is_empty());
    for l in logs.iter() {
        assert_eq!(l.key().sig_type(), SigType::Ed25519);
        assert_eq!(l.origin(), l.key().name());
        assert_eq!(logs.get(l.origin()), Some(l));
    }
    let policy = Policy::parse(text)
        .or_else(|_| Policy::parse(&format!("{text}\nquorum none\n")))
        .expect("a trusted-log list is a policy");
    assert!(
        policy.witnesses().is_empty(),
        "a witness line slipped through"
    );
    assert!(policy.groups().is_empty(), "a group line slipped through");
    assert_eq!(policy.quorum_name(), "none");
    assert_eq!(policy.logs().len(), logs.len());
    for l in policy.logs() {
        let t = logs.get(l.key().name()).expect("the same origins");
        assert_eq!((t.key(), t.url()), (l.key(), l.url()));
    }
});

//! `Checkpoint::parse` on arbitrary text, and cosigning what it accepts.
//!
//! Properties:
//! * no panic;
//! * round trip: an accepted checkpoint's `to_text` is exactly the input
//!   (one spelling: decimal without leading zero, canonical base64), and
//!   `Checkpoint::new(..).with_extensions(..)` builds the same value;
//! * a cosigner cosigns exactly the texts that parse, and its cosignature
//!   verifies for that text only.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_fuzz::keys;
use vellum_note::Checkpoint;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Checkpoint::parse(text);
    let witness = &keys().witnesses[0];
    let cosigned = witness.cosign(text, 1_700_000_000);
    assert_eq!(
        parsed.is_ok(),
        cosigned.is_ok(),
        "cosign parses what it signs"
    );
    let Ok(cp) = parsed else {
        return;
    };
    assert_eq!(cp.to_text(), text, "a parsed checkpoint formats back");
    let rebuilt = Checkpoint::new(cp.origin(), cp.size(), cp.root())
        .and_then(|c| c.with_extensions(cp.extensions().to_vec()))
        .expect("the parts of a parsed checkpoint are valid");
    assert_eq!(rebuilt, cp);
    let sig = cosigned.expect("checked above");
    let v = witness.verifier();
    assert_eq!(
        v.verify_cosignature(text, sig.signature()),
        Some(1_700_000_000)
    );
    let other = format!("{}x\n", text);
    assert_eq!(v.verify_cosignature(&other, sig.signature()), None);
});

//! The key text forms: `VerifierKey::parse` (vkeys), `SignerKey::parse`
//! (`PRIVATE+KEY+...`), and their cosignature/v1 wrappers, on arbitrary
//! text.
//!
//! Properties:
//! * no panic;
//! * round trip: an accepted key formats to the input (white space trimmed;
//!   the hex key id in lower case) and parses back to an equal key;
//! * accept ⇒ valid: the key id is the one computed from name, type and
//!   public key; a private key's signatures verify under its public key;
//!   the cosignature/v1 parsers accept exactly the 0x04 keys.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_note::{
    CosignatureVerifier, CosignerKey, NoteSigner, SigType, SignerKey, VerifierKey, key_id,
    sign_note,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());

    let vkey = VerifierKey::parse(text);
    let cosigner_v = CosignatureVerifier::parse(text);
    assert_eq!(
        cosigner_v.is_ok(),
        matches!(&vkey, Ok(k) if k.sig_type() == SigType::CosignatureV1)
    );
    if let Ok(k) = vkey {
        let shown = k.to_string();
        assert!(shown.eq_ignore_ascii_case(trimmed) && shown.len() == trimmed.len());
        assert_eq!(VerifierKey::parse(&shown), Ok(k.clone()));
        assert_eq!(k.key_id(), key_id(k.name(), k.sig_type(), &k.public_key()));
        assert!(!k.verify_raw(b"message", &[0u8; 64]));
    }

    let private = SignerKey::parse(text);
    let cosigner = CosignerKey::parse(text);
    assert_eq!(
        cosigner.is_ok(),
        matches!(&private, Ok(k) if k.sig_type() == SigType::CosignatureV1)
    );
    if let Ok(k) = private {
        let shown = k.to_text();
        assert!(shown.eq_ignore_ascii_case(trimmed) && shown.len() == trimmed.len());
        let again = SignerKey::parse(&shown).expect("a formatted key parses");
        assert_eq!(again.verifier(), k.verifier());
        let v = k.verifier();
        assert_eq!(k.key_id(), key_id(k.name(), k.sig_type(), &v.public_key()));
        assert!(v.verify_raw(b"message", &k.sign(b"message")));
        assert!(!v.verify_raw(b"massage", &k.sign(b"message")));
        if k.sig_type() == SigType::Ed25519 {
            let note = sign_note("text\n", &[&k as &dyn NoteSigner]).expect("signing works");
            let note = vellum_note::Note::parse(note.as_bytes()).expect("a signed note parses");
            assert!(note.verify(&[&v]).is_ok());
        }
    }
});

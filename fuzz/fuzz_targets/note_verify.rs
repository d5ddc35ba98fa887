//! `Note::parse`, `Note::verify`, `parse_signature_lines` and
//! `Note::add_signature_lines` on arbitrary bytes.
//!
//! Properties:
//! * no panic;
//! * round trip: an accepted note formats back to exactly the input bytes
//!   (signed-note has one spelling per note: canonical base64, one blank
//!   line), and so do accepted signature lines;
//! * accept ⇒ valid: against the fixed key set (two Ed25519 logs, two
//!   cosignature/v1 witnesses), every signature `verify` reports as verified
//!   is by the key it names and verifies on its own; every signature it
//!   leaves unverified is by an unknown key; `InvalidSignature` names a
//!   known key whose signature really fails; `NoVerifiedSignature` means no
//!   known key signed. Verifying with one key at a time agrees.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_fuzz::keys;
use vellum_note::{Note, NoteError, NoteVerifier, parse_signature_lines};

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = Note::parse(data) {
        check_note(&note, data);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        check_signature_lines(s);
    }
});

fn check_note(note: &Note, data: &[u8]) {
    assert_eq!(note.format().as_bytes(), data, "a parsed note formats back");
    assert!(!note.signatures().is_empty() && note.signatures().len() <= 100);
    assert!(note.text().ends_with('\n'));

    let boxed = keys().all_verifiers();
    let verifiers: Vec<&dyn NoteVerifier> = boxed.iter().map(|b| b.as_ref()).collect();
    let text = note.text().as_bytes();
    let known = |name: &str, id: u32| {
        verifiers
            .iter()
            .position(|v| v.name() == name && v.key_id() == id)
    };
    match note.verify(&verifiers) {
        Ok(v) => {
            assert!(!v.verified().is_empty());
            assert_eq!(v.text(), note.text());
            for s in v.verified() {
                let i = s.verifier_index();
                assert_eq!(known(s.name(), s.key_id()), Some(i));
                assert!(
                    verifiers[i].verify(text, s.signature().signature()),
                    "a verified signature verifies on its own"
                );
            }
            for s in v.unverified() {
                assert_eq!(
                    known(s.name(), s.key_id()),
                    None,
                    "unverified means unknown"
                );
            }
            // Every signature by a known key verified (else the note fails).
            for s in note.signatures() {
                if let Some(i) = known(s.name(), s.key_id()) {
                    assert!(verifiers[i].verify(text, s.signature()));
                    assert!(v.is_signed_by(i));
                }
            }
            // One key at a time: exactly the keys reported verify alone.
            for (i, one) in verifiers.iter().enumerate() {
                assert_eq!(note.verify(&[*one]).is_ok(), v.is_signed_by(i));
            }
        }
        Err(NoteError::InvalidSignature { name, key_id }) => {
            let i = known(&name, key_id).expect("an invalid signature is by a known key");
            assert!(
                note.signatures()
                    .iter()
                    .any(|s| s.is_by(&name, key_id) && !verifiers[i].verify(text, s.signature())),
                "InvalidSignature names a signature that fails"
            );
        }
        Err(NoteError::NoVerifiedSignature { .. }) => {
            assert!(
                note.signatures()
                    .iter()
                    .all(|s| known(s.name(), s.key_id()).is_none()),
                "no known key signed"
            );
        }
        Err(e) => panic!("verify of a parsed note failed with {e:?}"),
    }
}

fn check_signature_lines(s: &str) {
    let Ok(sigs) = parse_signature_lines(s) else {
        return;
    };
    let again: String = sigs.iter().map(|x| x.to_line()).collect();
    assert_eq!(again, s, "signature lines format back");
    // Adding them to a note keeps every limit, or changes nothing.
    let base = keys().signed_checkpoint(1, vellum_merkle::Hash([1; 32]), &[0], 1);
    let mut note = Note::parse(base.as_bytes()).expect("a fixed note parses");
    let before = note.clone();
    match note.add_signature_lines(s) {
        Ok(()) => {
            assert!(note.signatures().len() <= 100);
            for x in &sigs {
                assert!(
                    note.signatures()
                        .iter()
                        .any(|y| y.is_by(x.name(), x.key_id()))
                );
            }
            assert_eq!(Note::parse(note.format().as_bytes()).as_ref(), Ok(&note));
        }
        Err(_) => assert_eq!(note, before, "a refused addition changes nothing"),
    }
}

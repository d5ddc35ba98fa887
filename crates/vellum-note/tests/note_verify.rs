//! The signed-note verification rules: which signatures count, which are
//! ignored, and which sink the whole note.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use common::{key, signature};
use vellum_note::note::{MAX_SIGNATURES, NoteVerifier};
use vellum_note::{Note, NoteError, NoteSignature, NoteSigner, SigType, sign_note};

const TEXT: &str = "example.com/log\n7\n2FtC3tT5bsOmj5A+J79EWPQPcIEKpLsfdUtcGtF/gK4=\n";

/// A syntactically fine signature by a key nobody knows.
fn unknown(i: u32) -> NoteSignature {
    NoteSignature::new(
        &format!("unknown.example/{i}"),
        0x1000 + i,
        vec![i as u8; 64],
    )
    .unwrap()
}

fn note(signatures: Vec<NoteSignature>) -> Vec<u8> {
    Note::new(TEXT.to_owned(), signatures).unwrap().to_bytes()
}

#[test]
fn sixteen_signatures_fifteen_unknown_one_known() {
    let log = key("example.com/log", SigType::Ed25519, 1);
    let mut sigs: Vec<_> = (0..15).map(unknown).collect();
    sigs.insert(7, signature(&log, TEXT));
    let parsed = Note::parse(&note(sigs)).unwrap();
    let v = parsed.verify(&[&log.verifier()]).unwrap();
    assert_eq!(v.verified().len(), 1);
    assert_eq!(v.verified()[0].verifier_index(), 0);
    assert_eq!(v.unverified().len(), 15);
    assert_eq!(v.text(), TEXT);
}

#[test]
fn the_signature_limit_is_exact() {
    let log = key("example.com/log", SigType::Ed25519, 1);
    let mut sigs: Vec<_> = (0..MAX_SIGNATURES as u32 - 1).map(unknown).collect();
    sigs.push(signature(&log, TEXT));
    let at_limit = note(sigs.clone());
    Note::parse(&at_limit)
        .unwrap()
        .verify(&[&log.verifier()])
        .unwrap();
    let over = format!(
        "{}{}",
        String::from_utf8(at_limit).unwrap(),
        unknown(999).to_line()
    );
    assert_eq!(
        Note::parse(over.as_bytes()),
        Err(NoteError::TooManySignatures {
            max: MAX_SIGNATURES
        })
    );
    sigs.push(unknown(1000));
    assert_eq!(
        Note::new(TEXT.to_owned(), sigs),
        Err(NoteError::TooManySignatures {
            max: MAX_SIGNATURES
        })
    );
}

#[test]
fn same_name_other_id_and_same_id_other_name_are_ignored() {
    let log = key("example.com/log", SigType::Ed25519, 1);
    let good = signature(&log, TEXT);
    // Garbage signatures that would fail if anyone tried to verify them.
    let same_name = NoteSignature::new(log.name(), log.key_id() ^ 1, vec![0; 64]).unwrap();
    let same_id = NoteSignature::new("example.com/log2", log.key_id(), vec![0; 64]).unwrap();
    let parsed = Note::parse(&note(vec![
        same_name.clone(),
        good.clone(),
        same_id.clone(),
    ]))
    .unwrap();
    let v = parsed.verify(&[&log.verifier()]).unwrap();
    assert_eq!(v.verified().len(), 1);
    assert_eq!(v.verified()[0].signature(), &good);
    assert_eq!(v.unverified(), &[same_name.clone(), same_id.clone()]);
    // Without the real signature nothing verifies.
    let parsed = Note::parse(&note(vec![same_name, same_id])).unwrap();
    assert!(matches!(
        parsed.verify(&[&log.verifier()]),
        Err(NoteError::NoVerifiedSignature { found }) if found.len() == 2
    ));
}

#[test]
fn a_known_key_signing_twice_counts_once() {
    let log = key("example.com/log", SigType::Ed25519, 1);
    let good = signature(&log, TEXT);
    let parsed = Note::parse(&note(vec![
        good.clone(),
        unknown(1),
        good.clone(),
        unknown(1),
    ]))
    .unwrap();
    let v = parsed.verify(&[&log.verifier()]).unwrap();
    assert_eq!(v.verified().len(), 1);
    assert_eq!(
        v.unverified(),
        &[unknown(1)],
        "identical unknown lines once"
    );
}

#[test]
fn a_known_key_whose_signature_fails_sinks_the_note() {
    let log = key("example.com/log", SigType::Ed25519, 1);
    let witness = key("witness.example", SigType::Ed25519, 2);
    let good = signature(&log, TEXT);
    let mut bytes = signature(&witness, TEXT).signature().to_vec();
    bytes[10] ^= 0x40;
    let bad = NoteSignature::new(witness.name(), witness.key_id(), bytes).unwrap();
    let parsed = Note::parse(&note(vec![good.clone(), bad.clone()])).unwrap();
    let want = Err(NoteError::InvalidSignature {
        name: witness.name().into(),
        key_id: witness.key_id(),
    });
    assert_eq!(parsed.verify(&[&log.verifier(), &witness.verifier()]), want);
    // Even when the bad one repeats a key that already verified.
    let mut bytes = good.signature().to_vec();
    bytes[0] ^= 1;
    let bad_dup = NoteSignature::new(log.name(), log.key_id(), bytes).unwrap();
    let parsed = Note::parse(&note(vec![good, bad_dup])).unwrap();
    assert!(matches!(
        parsed.verify(&[&log.verifier()]),
        Err(NoteError::InvalidSignature { .. })
    ));
    // Without the witness's key, its bad signature is just unknown.
    let parsed = Note::parse(&note(vec![signature(&log, TEXT), bad])).unwrap();
    assert_eq!(
        parsed
            .verify(&[&log.verifier()])
            .unwrap()
            .unverified()
            .len(),
        1
    );
}

#[test]
fn wrong_length_signatures_from_known_keys_fail() {
    let log = key("example.com/log", SigType::Ed25519, 1);
    for len in [1, 63, 65] {
        let bad = NoteSignature::new(log.name(), log.key_id(), vec![0; len]).unwrap();
        let parsed = Note::parse(&note(vec![bad])).unwrap();
        assert!(matches!(
            parsed.verify(&[&log.verifier()]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }
}

#[test]
fn two_verifiers_with_one_identity_are_refused() {
    let log = key("example.com/log", SigType::Ed25519, 1);
    let parsed = Note::parse(&note(vec![signature(&log, TEXT)])).unwrap();
    let v = log.verifier();
    assert_eq!(
        parsed.verify(&[&v, &v]),
        Err(NoteError::AmbiguousVerifier {
            name: v.name().into(),
            key_id: v.key_id(),
        })
    );
}

#[test]
fn multi_signer_notes_verify_with_any_subset_of_keys() {
    let a = key("a.example", SigType::Ed25519, 1);
    let b = key("b.example", SigType::Ed25519, 2);
    let signed = sign_note(TEXT, &[&a as &dyn NoteSigner, &b]).unwrap();
    let parsed = Note::parse(signed.as_bytes()).unwrap();
    let both = parsed.verify(&[&b.verifier(), &a.verifier()]).unwrap();
    let order: Vec<_> = both.verified().iter().map(|s| s.verifier_index()).collect();
    assert_eq!(order, [1, 0], "note order, indices into the verifier slice");
    let only_b = parsed.verify(&[&b.verifier()]).unwrap();
    assert_eq!(only_b.unverified().len(), 1);
    assert!(only_b.is_signed_by(0));
}

#[test]
fn signing_refuses_bad_inputs() {
    let a = key("a.example", SigType::Ed25519, 1);
    let w = key("w.example", SigType::CosignatureV1, 1);
    assert_eq!(
        sign_note("no newline", &[&a as &dyn NoteSigner]),
        Err(NoteError::TextMissingFinalNewline)
    );
    assert_eq!(
        sign_note("tab\there\n", &[&a as &dyn NoteSigner]),
        Err(NoteError::ControlCharacter {
            line: 1,
            byte: b'\t'
        })
    );
    assert_eq!(sign_note(TEXT, &[]), Err(NoteError::NoSignatures));
    assert!(matches!(
        sign_note(TEXT, &[&a as &dyn NoteSigner, &a]),
        Err(NoteError::DuplicateSigner { .. })
    ));
    assert!(matches!(
        sign_note(TEXT, &[&w as &dyn NoteSigner]),
        Err(NoteError::WrongSignerType { .. })
    ));
}

#[test]
fn a_text_with_blank_lines_and_dashes_round_trips() {
    let a = key("a.example", SigType::Ed25519, 1);
    let text = "first\n\n\u{2014} not a signature\n\n";
    let signed = sign_note(text, &[&a as &dyn NoteSigner]).unwrap();
    let parsed = Note::parse(signed.as_bytes()).unwrap();
    assert_eq!(parsed.text(), text);
    parsed.verify(&[&a.verifier()]).unwrap();
}

#[test]
fn a_cosigner_key_as_plain_verifier_verifies_nothing() {
    // A type-0x04 VerifierKey must not accept a plain Ed25519 signature over
    // the text, even one made by the same secret key.
    let seed = [5u8; 32];
    let w = vellum_note::SignerKey::from_seed("w.example", SigType::CosignatureV1, &seed).unwrap();
    let raw = w.sign(TEXT.as_bytes()).to_vec();
    assert!(!NoteVerifier::verify(&w.verifier(), TEXT.as_bytes(), &raw));
}

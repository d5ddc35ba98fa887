//! tlog-cosignature v1 in notes: round trips, timestamps, and refusals.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use common::{checkpoint_text, key, signature};
use vellum_note::note::NoteVerifier;
use vellum_note::{
    CheckpointError, CosignatureVerifier, CosignerKey, Note, NoteError, NoteSignature, SigType,
    SignedCheckpoint, cosignature_timestamp,
};

fn cosigner(seed: u8) -> CosignerKey {
    CosignerKey::new(key(
        &format!("witness.example/{seed}"),
        SigType::CosignatureV1,
        seed,
    ))
    .unwrap()
}

#[test]
fn cosigned_checkpoint_round_trip() {
    let log = key("example.com/log", SigType::Ed25519, 1);
    let (w1, w2) = (cosigner(2), cosigner(3));
    let text = checkpoint_text("example.com/log", 10);
    let mut note = Note::new(text.clone(), vec![signature(&log, &text)]).unwrap();
    // A witness's add-checkpoint response, attached to the log's note.
    let response = w1.cosign(&text, 1_700_000_000).unwrap().to_line()
        + &w2.cosign(&text, 1_700_000_001).unwrap().to_line();
    note.add_signature_lines(&response).unwrap();
    let bytes = note.to_bytes();

    let (v1, v2) = (w1.verifier(), w2.verifier());
    let opened = SignedCheckpoint::open(&bytes, &log.verifier(), &[&v1, &v2]).unwrap();
    let verified = opened.verified();
    assert_eq!(verified.verified().len(), 3);
    let ts1 = verified.signature_by(1).unwrap().signature().signature();
    let ts2 = verified.signature_by(2).unwrap().signature().signature();
    assert_eq!(cosignature_timestamp(ts1), Ok(1_700_000_000));
    assert_eq!(cosignature_timestamp(ts2), Ok(1_700_000_001));
    assert_eq!(v1.verify_cosignature(&text, ts1), Some(1_700_000_000));
}

#[test]
fn a_fresh_cosignature_replaces_the_old_one() {
    let log = key("example.com/log", SigType::Ed25519, 1);
    let w = cosigner(2);
    let text = checkpoint_text("example.com/log", 10);
    let mut note = Note::new(text.clone(), vec![signature(&log, &text)]).unwrap();
    note.add_signatures([w.cosign(&text, 100).unwrap()])
        .unwrap();
    note.add_signatures([w.cosign(&text, 200).unwrap()])
        .unwrap();
    assert_eq!(note.signatures().len(), 2);
    assert_eq!(
        cosignature_timestamp(note.signatures()[1].signature()),
        Ok(200)
    );
}

#[test]
fn a_cosignature_of_another_checkpoint_fails() {
    let log = key("example.com/log", SigType::Ed25519, 1);
    let w = cosigner(2);
    let text = checkpoint_text("example.com/log", 10);
    let other = checkpoint_text("example.com/log", 11);
    let cosig = w.cosign(&other, 5).unwrap();
    let v = w.verifier();
    assert!(!NoteVerifier::verify(
        &v,
        text.as_bytes(),
        cosig.signature()
    ));
    let note = Note::new(text.clone(), vec![signature(&log, &text), cosig]).unwrap();
    assert_eq!(
        SignedCheckpoint::open(&note.to_bytes(), &log.verifier(), &[&v]),
        Err(CheckpointError::Note(NoteError::InvalidSignature {
            name: w.name().into(),
            key_id: w.key_id(),
        }))
    );
}

#[test]
fn a_changed_timestamp_fails() {
    let w = cosigner(2);
    let text = checkpoint_text("example.com/log", 10);
    let mut sig = w.cosign(&text, 5).unwrap().signature().to_vec();
    sig[7] = 6;
    assert_eq!(w.verifier().verify_cosignature(&text, &sig), None);
}

#[test]
fn a_cosignature_verifier_refuses_a_plain_ed25519_signature_by_the_same_key() {
    // The same secret key, used as a type-0x01 signer over the bare text.
    let seed = 4;
    let plain = key("witness.example/4", SigType::Ed25519, seed);
    let w = cosigner(seed);
    let text = checkpoint_text("example.com/log", 10);
    let raw = plain.sign(text.as_bytes());
    let v = w.verifier();
    assert!(!NoteVerifier::verify(&v, text.as_bytes(), &raw));
    // Even dressed up as 72 bytes with a timestamp in front.
    let mut dressed = 0u64.to_be_bytes().to_vec();
    dressed.extend_from_slice(&raw);
    assert!(!NoteVerifier::verify(&v, text.as_bytes(), &dressed));
    // In a note under the cosigner's identity, it is a bad known signature.
    let log = key("example.com/log", SigType::Ed25519, 1);
    let forged = NoteSignature::new(w.name(), w.key_id(), dressed).unwrap();
    let note = Note::new(text.clone(), vec![signature(&log, &text), forged]).unwrap();
    assert!(matches!(
        SignedCheckpoint::open(&note.to_bytes(), &log.verifier(), &[&v]),
        Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
    ));
}

#[test]
fn timestamps_above_2_63_are_refused_when_verifying() {
    let w = cosigner(2);
    let text = checkpoint_text("example.com/log", 10);
    let mut sig = w.cosign(&text, 1).unwrap().signature().to_vec();
    sig[0] = 0x80;
    assert_eq!(w.verifier().verify_cosignature(&text, &sig), None);
    assert!(w.cosign(&text, u64::MAX).is_err());
}

#[test]
fn cosigner_keys_round_trip_in_text_form() {
    let w = CosignerKey::generate("witness.example/gen").unwrap();
    let back = CosignerKey::parse(&w.signer_key().to_text()).unwrap();
    assert_eq!(back.verifier(), w.verifier());
    let vkey = w.verifier().verifier_key().to_string();
    assert_eq!(CosignatureVerifier::parse(&vkey).unwrap(), w.verifier());
    assert!(vkey.starts_with("witness.example/gen+"));
}

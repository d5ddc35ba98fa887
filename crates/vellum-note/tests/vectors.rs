//! The interoperability vectors made with Go's golang.org/x/mod/sumdb/note:
//! byte-exact signing, opening, and every note that must be rejected.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use base64::Engine as _;
use common::{note_vectors, read_vector};
use vellum_merkle::Hash;
use vellum_note::{
    CheckpointError, Note, NoteError, NoteSigner, SigType, SignedCheckpoint, SignerKey,
    VerifierKey, sign_note,
};

#[test]
fn key_pair_matches() {
    let v = note_vectors();
    let sk = SignerKey::parse(&v.private_key).unwrap();
    assert_eq!(sk.name(), v.key_name);
    assert_eq!(sk.sig_type(), SigType::Ed25519);
    assert_eq!(sk.verifier().to_string(), v.verifier_key);
    assert_eq!(VerifierKey::parse(&v.verifier_key).unwrap(), sk.verifier());
    assert_eq!(sk.to_text().as_str(), v.private_key);
}

#[test]
fn signing_reproduces_every_checkpoint_byte_for_byte() {
    let v = note_vectors();
    let sk = SignerKey::parse(&v.private_key).unwrap();
    assert_eq!(v.checkpoints.len(), 5);
    for cp in &v.checkpoints {
        let signed = sign_note(&cp.text, &[&sk as &dyn NoteSigner]).unwrap();
        assert_eq!(signed, cp.signed_note, "size {}", cp.size);
    }
}

#[test]
fn every_checkpoint_opens_with_its_size_and_root() {
    let v = note_vectors();
    let vk = VerifierKey::parse(&v.verifier_key).unwrap();
    for cp in &v.checkpoints {
        let opened = SignedCheckpoint::open(cp.signed_note.as_bytes(), &vk, &[]).unwrap();
        let root = base64::engine::general_purpose::STANDARD
            .decode(&cp.root)
            .unwrap();
        assert_eq!(opened.checkpoint().size().get(), cp.size);
        assert_eq!(opened.checkpoint().root(), Hash::from_slice(&root).unwrap());
        assert_eq!(opened.checkpoint().origin(), v.key_name);
        assert_eq!(opened.checkpoint().to_text(), cp.text);
        assert_eq!(opened.to_bytes(), cp.signed_note.as_bytes());
        assert_eq!(opened.verified().verified().len(), 1);
        assert!(opened.verified().unverified().is_empty());
    }
}

#[test]
fn tiles_checkpoint_opens() {
    let v = note_vectors();
    let vk = VerifierKey::parse(&v.verifier_key).unwrap();
    let bytes = read_vector("tiles/checkpoint");
    let opened = SignedCheckpoint::open(&bytes, &vk, &[]).unwrap();
    assert_eq!(opened.checkpoint().size().get(), 66_536);
    assert_eq!(opened.to_bytes(), bytes);
}

#[test]
fn every_must_reject_note_is_rejected_for_its_reason() {
    let v = note_vectors();
    let vk = VerifierKey::parse(&v.verifier_key).unwrap();
    let bad_signature = NoteError::InvalidSignature {
        name: v.key_name.clone(),
        key_id: vk.key_id(),
    };
    let expected: Vec<(&str, NoteError)> = vec![
        (
            "crlf_line_endings",
            NoteError::ControlCharacter {
                line: 1,
                byte: b'\r',
            },
        ),
        ("missing_blank_line", NoteError::MissingBlankLine),
        ("no_signature", NoteError::NoSignatures),
        ("origin_changed", bad_signature.clone()),
        ("signature_bit_flip", bad_signature.clone()),
        ("size_changed", bad_signature),
    ];
    for (name, want) in &expected {
        let note = &v.must_reject[*name];
        let got = SignedCheckpoint::open(note.as_bytes(), &vk, &[]).unwrap_err();
        assert_eq!(got, CheckpointError::Note(want.clone()), "{name}: {got}");
    }
    // A signature under the log's name by another key: unknown, so ignored,
    // which leaves no trusted signature.
    let got = SignedCheckpoint::open(v.must_reject["other_key_signature"].as_bytes(), &vk, &[])
        .unwrap_err();
    match got {
        CheckpointError::Note(NoteError::NoVerifiedSignature { found }) => {
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].0, v.key_name);
            assert_ne!(found[0].1, vk.key_id());
        }
        other => panic!("other_key_signature: {other}"),
    }
    assert_eq!(
        v.must_reject.len(),
        expected.len() + 1,
        "a new case needs a test"
    );
}

#[test]
fn origin_must_be_the_log_name() {
    // A well-signed checkpoint whose origin is not the signing key's name.
    let sk = SignerKey::from_seed("example.com/log", SigType::Ed25519, &[9; 32]).unwrap();
    let text = common::checkpoint_text("example.com/other", 3);
    let note = sign_note(&text, &[&sk as &dyn NoteSigner]).unwrap();
    assert_eq!(
        SignedCheckpoint::open(note.as_bytes(), &sk.verifier(), &[]),
        Err(CheckpointError::OriginMismatch {
            origin: "example.com/other".into(),
            key_name: "example.com/log".into(),
        })
    );
    // And a note that is not a checkpoint at all.
    let note = sign_note("hello\n", &[&sk as &dyn NoteSigner]).unwrap();
    assert_eq!(
        SignedCheckpoint::open(note.as_bytes(), &sk.verifier(), &[]),
        Err(CheckpointError::TooFewLines { found: 1 })
    );
    // A cosigner key is no log key.
    let w = SignerKey::from_seed("example.com/log", SigType::CosignatureV1, &[9; 32]).unwrap();
    assert!(matches!(
        SignedCheckpoint::open(note.as_bytes(), &w.verifier(), &[]),
        Err(CheckpointError::WrongLogKeyType { .. })
    ));
}

#[test]
fn parsed_vectors_format_back_identically() {
    let v = note_vectors();
    for cp in &v.checkpoints {
        let note = Note::parse(cp.signed_note.as_bytes()).unwrap();
        assert_eq!(note.format(), cp.signed_note);
        assert_eq!(note.text(), cp.text);
    }
}

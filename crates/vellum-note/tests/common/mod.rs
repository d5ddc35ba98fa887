//! Shared helpers for the integration tests: the interoperability vectors
//! and small note builders.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use serde::Deserialize;
use vellum_note::{NoteSignature, NoteSigner, SigType, SignerKey};

/// The repository's interoperability vectors.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors")
}

pub fn read_vector(rel: &str) -> Vec<u8> {
    let path = vectors_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[derive(Debug, Deserialize)]
pub struct NoteVectors {
    pub checkpoints: Vec<CheckpointVector>,
    pub key_name: String,
    pub must_reject: std::collections::BTreeMap<String, String>,
    pub private_key: String,
    pub verifier_key: String,
}

#[derive(Debug, Deserialize)]
pub struct CheckpointVector {
    pub size: u64,
    pub root: String,
    pub text: String,
    pub signed_note: String,
}

pub fn note_vectors() -> NoteVectors {
    serde_json::from_slice(&read_vector("note.json")).expect("note.json parses")
}

/// A deterministic key, so failures reproduce.
pub fn key(name: &str, sig_type: SigType, seed: u8) -> SignerKey {
    SignerKey::from_seed(name, sig_type, &[seed; 32]).expect("valid name")
}

/// A signature line by `signer` over `text`.
pub fn signature(signer: &SignerKey, text: &str) -> NoteSignature {
    let bytes = NoteSigner::sign(signer, text.as_bytes()).expect("Ed25519 key");
    NoteSignature::new(signer.name(), signer.key_id(), bytes).expect("valid signature")
}

/// A checkpoint text.
pub fn checkpoint_text(origin: &str, size: u64) -> String {
    format!("{origin}\n{size}\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
}

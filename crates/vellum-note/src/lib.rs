//! C2SP signed notes and what Vellum builds on them: checkpoints,
//! cosignatures, tlog-proof files and tlog-policy trust policies, with
//! Ed25519 keys in note text form.
//!
//! Pure computation: no I/O, no async. Every parser is strict, bounded in
//! size, and returns a precise error instead of panicking.
//!
//! * [`keys`]: [`SignerKey`], [`VerifierKey`], [`key_id`] (signed-note key text forms).
//! * [`note`]: [`Note`], [`Note::verify`], [`sign_note`] (C2SP signed-note).
//! * [`checkpoint`]: [`Checkpoint`], [`SignedCheckpoint`] (C2SP tlog-checkpoint).
//! * [`cosignature`]: [`CosignerKey`], [`CosignatureVerifier`] (C2SP tlog-cosignature v1).
//! * [`policy`]: [`Policy`] (C2SP tlog-policy).
//! * [`tlog_proof`]: [`TlogProof`] (C2SP tlog-proof v1).
//!
//! ```
//! use vellum_merkle::{Hash, LeafIndex, TreeSize, leaf_hash};
//! use vellum_note::{Checkpoint, NoteSigner, Policy, SigType, SignerKey, TlogProof, sign_note};
//!
//! // A one-entry log signs its checkpoint.
//! let log = SignerKey::generate("example.com/log", SigType::Ed25519)?;
//! let entry = b"hello";
//! let checkpoint = Checkpoint::new("example.com/log", TreeSize::new(1)?, leaf_hash(entry))?;
//! let note = sign_note(&checkpoint.to_text(), &[&log as &dyn NoteSigner])?;
//!
//! // Anyone with the log's public key and this file can check the entry.
//! let proof = TlogProof::new(None, LeafIndex::new(0)?, vec![], note.into_bytes())?;
//! let policy = Policy::quorum_none(log.verifier())?;
//! let verified = TlogProof::parse(proof.format())?.verify(entry, &policy)?;
//! assert_eq!(verified.tree_size().get(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod cosignature;
pub mod keys;
pub mod note;
pub mod policy;
mod text;
pub mod tlog_proof;

pub use checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
pub use cosignature::{
    CosignatureError, CosignatureVerifier, CosignerKey, cosignature_timestamp, cosigned_message,
};
pub use keys::{KeyError, SigType, SignerKey, VerifierKey, key_id};
pub use note::{
    Note, NoteError, NoteSignature, NoteSigner, NoteVerifier, VerifiedNote, VerifiedSignature,
    parse_signature_lines, sign_note,
};
pub use policy::{
    Policy, PolicyError, PolicyGroup, PolicyLog, PolicyWitness, Threshold, VerifiedCheckpoint,
    WitnessCosignature,
};
pub use text::DecimalError;
pub use tlog_proof::{ProofFileError, TlogProof, VerifiedProof};

//! What the fuzz targets share: one fixed set of keys (so that seeds signed
//! once keep verifying), the framing of multi-part inputs, and scratch
//! folders for the targets that touch files.
//!
//! Every target states, at its top, the property it checks. The three kinds:
//!
//! * **no panic**: any input gives `Ok` or an error, never a panic, an
//!   overflow (targets are built with overflow checks) or a hang;
//! * **round trip**: where a formatter exists, what was accepted formats
//!   back to the same bytes (the formats here have one spelling per value),
//!   or at least parses back to the same value;
//! * **accept ⇒ valid**: whatever a verifier accepts is re-checked by other
//!   means (the naive reference tree, another verifier, the signature), so a
//!   verifier that says yes too easily is caught, not only one that crashes.

#![forbid(unsafe_code)]

use std::path::Path;
use std::sync::OnceLock;

use vellum_merkle::{Hash, TreeSize};
use vellum_note::{
    Checkpoint, CosignatureVerifier, CosignerKey, NoteSigner, NoteVerifier, Policy, SigType,
    SignerKey, VerifierKey, sign_note,
};

/// The log key of the interoperability vectors (`testdata/vectors/note.json`):
/// seeds copied from the vectors verify under it.
pub const LOG_PRIVATE_KEY: &str =
    "PRIVATE+KEY+example.com/vellum-test+7da66be6+AVlZ93DqT1O0zTR8EWvTiHbvEbULtp/9egjAy3marz74";
/// Its vkey.
pub const LOG_VKEY: &str =
    "example.com/vellum-test+7da66be6+AcsxU+FUGGR6gpL9cSC1rSGLF/TvI/zr1SbsynEDqkNK";
/// Its name: the origin of its checkpoints.
pub const LOG_ORIGIN: &str = "example.com/vellum-test";

/// Separates the parts of a two-part text input (policy and note, proof file
/// and entry, one request and the next). None of the text formats allows a
/// NUL byte, so a part never contains one by accident.
pub const SEP: u8 = 0;

/// The fixed keys every target verifies with.
#[derive(Debug)]
pub struct Keys {
    /// The vectors' log key (Ed25519, 0x01).
    pub log: SignerKey,
    /// A second log (Ed25519), for policies with two logs and notes signed
    /// by a log nobody asked about.
    pub other_log: SignerKey,
    /// Two witnesses (cosignature/v1, 0x04).
    pub witnesses: [CosignerKey; 2],
}

/// The fixed keys (made once per process).
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let seeded = |name: &str, t: SigType, seed: u8| {
            SignerKey::from_seed(name, t, &[seed; 32]).expect("fixed key names are valid")
        };
        Keys {
            log: SignerKey::parse(LOG_PRIVATE_KEY).expect("the vectors' key parses"),
            other_log: seeded("example.com/other-log", SigType::Ed25519, 2),
            witnesses: [
                CosignerKey::new(seeded("witness.example/w1", SigType::CosignatureV1, 3))
                    .expect("a 0x04 key"),
                CosignerKey::new(seeded("witness.example/w2", SigType::CosignatureV1, 4))
                    .expect("a 0x04 key"),
            ],
        }
    })
}

impl Keys {
    /// The log's verifier key.
    pub fn log_vkey(&self) -> VerifierKey {
        self.log.verifier()
    }

    /// The witnesses' verifiers.
    pub fn witness_verifiers(&self) -> [CosignatureVerifier; 2] {
        [self.witnesses[0].verifier(), self.witnesses[1].verifier()]
    }

    /// A tlog-policy over the fixed keys: both logs, both witnesses, and a
    /// quorum of one of the two witnesses.
    pub fn policy_text(&self) -> String {
        let [w1, w2] = self.witness_verifiers();
        format!(
            "log {} https://log.example/\nlog {}\nwitness W1 {} https://w1.example/\n\
             witness W2 {}\ngroup ANY any W1 W2\nquorum ANY\n",
            self.log.verifier(),
            self.other_log.verifier(),
            w1.verifier_key(),
            w2.verifier_key(),
        )
    }

    /// [`Keys::policy_text`], parsed.
    pub fn policy(&self) -> Policy {
        Policy::parse(&self.policy_text()).expect("the fixed policy parses")
    }

    /// Every fixed public key as a note verifier: the two logs first, then
    /// the two witnesses.
    pub fn all_verifiers(&self) -> Vec<Box<dyn NoteVerifier>> {
        let [w1, w2] = self.witness_verifiers();
        vec![
            Box::new(self.log.verifier()),
            Box::new(self.other_log.verifier()),
            Box::new(w1),
            Box::new(w2),
        ]
    }

    /// A checkpoint note of the vectors' log, signed by it and cosigned by
    /// the witnesses in `cosigners` (indices into [`Keys::witnesses`]) at
    /// `timestamp`. For seeds.
    pub fn signed_checkpoint(
        &self,
        size: u64,
        root: Hash,
        cosigners: &[usize],
        timestamp: u64,
    ) -> String {
        let size = TreeSize::new(size).expect("seed sizes are small");
        let text = Checkpoint::new(LOG_ORIGIN, size, root)
            .expect("a valid origin")
            .to_text();
        let note = sign_note(&text, &[&self.log as &dyn NoteSigner]).expect("signing works");
        let mut note = vellum_note::Note::parse(note.as_bytes()).expect("a note parses");
        let cosignatures = cosigners.iter().map(|&i| {
            self.witnesses[i]
                .cosign(&text, timestamp)
                .expect("cosigning a checkpoint works")
        });
        note.add_signatures(cosignatures)
            .expect("a few signatures fit");
        note.format()
    }
}

/// Splits `data` at the first [`SEP`]: `(before, Some(after))`, or
/// `(data, None)` when there is none.
pub fn split_once(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|&b| b == SEP) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    }
}

/// Splits `data` at every [`SEP`], keeping at most `max` parts (the last
/// part keeps the rest, separators included).
pub fn split_all(data: &[u8], max: usize) -> Vec<&[u8]> {
    data.splitn(max, |&b| b == SEP).collect()
}

/// Reads length-prefixed frames (`u16` big-endian length, then the bytes),
/// at most `max`; a short last frame takes what is left. For inputs whose
/// parts may hold any byte (protobuf messages).
pub fn frames(mut data: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while out.len() < max {
        let Some((len, rest)) = data.split_first_chunk::<2>() else {
            break;
        };
        let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
        let (frame, rest) = rest.split_at(len);
        out.push(frame);
        data = rest;
    }
    out
}

/// The framing [`frames`] reads, for seeds.
pub fn frame(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        let len = u16::try_from(p.len()).expect("seed frames are small");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// A fresh scratch folder, in memory (`/dev/shm`) when the system has one:
/// the targets that write files fsync, and on tmpfs that costs nothing.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("vellum-fuzz-");
        b
    };
    if shm.is_dir()
        && let Ok(dir) = builder.tempdir_in(shm)
    {
        return dir;
    }
    builder.tempdir().expect("a temporary folder")
}

/// The proof targets' inputs: the entries of a test tree, arbitrary hashes,
/// and a proof corrupted a few steps at a time.
pub mod proofs {
    use arbitrary::{Result, Unstructured};
    use vellum_merkle::Hash;

    /// The entries of a test tree of `n` leaves.
    pub fn entries(n: u64) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("vellum test entry {i}").into_bytes())
            .collect()
    }

    /// A made-up hash.
    ///
    /// # Errors
    ///
    /// When the input runs out.
    pub fn hash(u: &mut Unstructured<'_>) -> Result<Hash> {
        Ok(Hash(u.arbitrary()?))
    }

    /// Corrupts a proof a few steps at a time, the way the corruption
    /// catalogue does by hand: flip a bit, drop, insert, swap, duplicate.
    ///
    /// # Errors
    ///
    /// When the input runs out.
    pub fn corrupt(u: &mut Unstructured<'_>, proof: &mut Vec<Hash>) -> Result<()> {
        for _ in 0..u.int_in_range(0..=3u8)? {
            let len = proof.len();
            match u.int_in_range(0..=5u8)? {
                0 if len > 0 => {
                    let (i, bit) = (u.choose_index(len)?, u.int_in_range(0..=255usize)?);
                    proof[i].0[bit / 8] ^= 1 << (bit % 8);
                }
                1 if len > 0 => {
                    proof.remove(u.choose_index(len)?);
                }
                2 => {
                    let i = u.int_in_range(0..=len)?;
                    proof.insert(i, hash(u)?);
                }
                3 if len > 1 => {
                    let (i, j) = (u.choose_index(len)?, u.choose_index(len)?);
                    proof.swap(i, j);
                }
                4 if len > 0 => {
                    let i = u.choose_index(len)?;
                    proof.insert(i, proof[i]);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

//! The on-disk form of one origin's state, and its atomic replacement.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vellum_note::{CheckpointError, Note, NoteError};

use super::{StateError, StoredCheckpoint};

/// The first line of every state file.
const MAGIC: &str = "vellum-witness-state/v1";
/// Largest state file read: a note and two short lines.
const MAX_STATE_FILE: u64 = vellum_note::note::MAX_NOTE_SIZE as u64 + 256;

/// Why a state file was refused at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorruptState {
    /// Larger than any file this module writes.
    #[error("the file is {size} bytes, larger than any state file")]
    TooLarge {
        /// The size found.
        size: u64,
    },
    /// The first line is not the format's.
    #[error("the first line is not {MAGIC:?}")]
    BadHeader,
    /// No well-formed checksum line.
    #[error("the second line is not \"sha256 <64 hex digits>\"")]
    BadChecksumLine,
    /// The note does not hash to the recorded checksum.
    #[error(
        "the checkpoint does not match its recorded SHA-256 (recorded {recorded}, computed {computed})"
    )]
    ChecksumMismatch {
        /// The checksum in the file.
        recorded: String,
        /// The checksum of the note in the file.
        computed: String,
    },
    /// The stored note does not parse.
    #[error("the stored note does not parse: {0}")]
    Note(NoteError),
    /// The stored note's text is not a checkpoint.
    #[error("the stored note is not a checkpoint: {0}")]
    Checkpoint(CheckpointError),
    /// The file holds another origin's checkpoint.
    #[error("the file holds a checkpoint for {found:?}, expected {expected:?}")]
    OriginMismatch {
        /// The origin the file name is for.
        expected: String,
        /// The origin in the file.
        found: String,
    },
}

/// The file contents for `stored`.
pub(super) fn encode(stored: &StoredCheckpoint) -> Vec<u8> {
    let note = stored.note().to_bytes();
    let mut out = format!("{MAGIC}\nsha256 {}\n", hex(&Sha256::digest(&note))).into_bytes();
    out.extend_from_slice(&note);
    out
}

/// Reads file contents for `origin`, refusing anything [`encode`] would
/// not have written.
fn decode(origin: &str, bytes: &[u8]) -> Result<StoredCheckpoint, CorruptState> {
    let rest = bytes
        .strip_prefix(MAGIC.as_bytes())
        .and_then(|r| r.strip_prefix(b"\n"))
        .ok_or(CorruptState::BadHeader)?;
    let nl = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(CorruptState::BadChecksumLine)?;
    let (line, note) = (&rest[..nl], &rest[nl + 1..]);
    let recorded = line
        .strip_prefix(b"sha256 ")
        .filter(|h| h.len() == 64 && h.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or(CorruptState::BadChecksumLine)?;
    let computed = hex(&Sha256::digest(note));
    if recorded != computed.as_bytes() {
        return Err(CorruptState::ChecksumMismatch {
            recorded: String::from_utf8_lossy(recorded).into_owned(),
            computed,
        });
    }
    let note = Note::parse(note).map_err(CorruptState::Note)?;
    let stored = StoredCheckpoint::new(note).map_err(CorruptState::Checkpoint)?;
    if stored.origin() != origin {
        return Err(CorruptState::OriginMismatch {
            expected: origin.to_owned(),
            found: stored.origin().to_owned(),
        });
    }
    Ok(stored)
}

/// `dir/<hex SHA-256(origin)>`.
pub(super) fn file_path(dir: &Path, origin: &str) -> PathBuf {
    dir.join(hex(&Sha256::digest(origin.as_bytes())))
}

pub(super) fn temp_path(path: &Path) -> PathBuf {
    path.with_extension("tmp")
}

pub(super) fn read_file(path: &Path, origin: &str) -> Result<Option<StoredCheckpoint>, StateError> {
    let read_err = |source| StateError::Read {
        path: path.to_owned(),
        source,
    };
    let corrupt = |reason| StateError::Corrupt {
        path: path.to_owned(),
        origin: origin.to_owned(),
        reason,
    };
    let len = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e)),
    };
    if len > MAX_STATE_FILE {
        return Err(corrupt(CorruptState::TooLarge { size: len }));
    }
    let bytes = fs::read(path).map_err(read_err)?;
    decode(origin, &bytes).map(Some).map_err(corrupt)
}

/// Replaces `path` with `contents` atomically and durably.
///
/// Commit order, and what a crash after each step leaves:
/// 1. write and fsync `path.tmp`: the old file is the state; the temporary
///    is removed at the next open;
/// 2. rename over `path`: the old or the new file (rename is atomic), the
///    new one complete since it was fsynced first;
/// 3. fsync the folder: the new file, durably. Only now may a cosignature
///    be returned.
pub(super) fn replace_file(path: &Path, contents: &[u8]) -> Result<(), StateError> {
    let tmp = temp_path(path);
    let write_err = |source| StateError::Write {
        path: tmp.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(write_err)?;
    file.write_all(contents).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    drop(file);
    let ambiguous = |source| StateError::Ambiguous {
        path: path.to_owned(),
        source,
    };
    // A failed rename may still have happened (e.g. on a network file
    // system), so from here on every error is ambiguous.
    fs::rename(&tmp, path).map_err(ambiguous)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(ambiguous)?;
    Ok(())
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;
    use crate::state::WitnessState;
    use vellum_merkle::{Hash, TreeSize};
    use vellum_note::{Checkpoint, NoteSigner, SigType, SignerKey, sign_note};

    fn stored(key: &SignerKey, size: u64, root: Hash) -> StoredCheckpoint {
        let cp = Checkpoint::new(key.name(), TreeSize::new(size).unwrap(), root).unwrap();
        let note = sign_note(&cp.to_text(), &[key as &dyn NoteSigner]).unwrap();
        StoredCheckpoint::new(Note::parse(note.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn corrupt_files_are_refused() {
        let key = SignerKey::generate("o.example/log", SigType::Ed25519).unwrap();
        let origin = key.name().to_owned();
        let good = encode(&stored(&key, 3, Hash([3; 32])));
        let other = SignerKey::generate("x", SigType::Ed25519).unwrap();
        let mut flipped = good.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 1;
        type Check = fn(&CorruptState) -> bool;
        let cases: Vec<(Vec<u8>, Check)> = vec![
            (b"garbage".to_vec(), |r| {
                matches!(r, CorruptState::BadHeader)
            }),
            (good[..good.len() - 5].to_vec(), |r| {
                matches!(r, CorruptState::ChecksumMismatch { .. })
            }),
            (flipped, |r| {
                matches!(r, CorruptState::ChecksumMismatch { .. })
            }),
            (format!("{MAGIC}\nsha256 xyz\n").into_bytes(), |r| {
                matches!(r, CorruptState::BadChecksumLine)
            }),
            (encode(&stored(&other, 1, Hash([1; 32]))), |r| {
                matches!(r, CorruptState::OriginMismatch { .. })
            }),
            (Vec::new(), |r| matches!(r, CorruptState::BadHeader)),
        ];
        for (bytes, check) in cases {
            let dir = tempfile::tempdir().unwrap();
            fs::write(file_path(dir.path(), &origin), &bytes).unwrap();
            match WitnessState::open(dir.path(), [origin.as_str()]) {
                Err(StateError::Corrupt { reason, .. }) => assert!(check(&reason), "{reason}"),
                other => panic!("expected a corrupt-state error, got {other:?}"),
            }
        }
    }
}

//! The auditor's memory between runs: the last checkpoint it verified with
//! the [`Frontier`] of that tree, and, while an audit is under way, how far
//! it got towards the checkpoint it is verifying (so that an interrupted
//! audit continues where it stopped).
//!
//! One JSON file, replaced atomically (temporary file, `fsync`, rename,
//! `fsync` of the folder): a crash leaves the old state or the new one.
//! The file is the auditor's own trusted storage, like a witness's: its
//! notes are not re-verified on load, but each frontier must fold to its
//! checkpoint's root (which catches a damaged file).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use vellum_merkle::{HASH_LEN, Hash, TreeSize};
use vellum_note::{Checkpoint, Note};

use crate::check::Frontier;
use crate::error::AuditError;

/// The `format` value of this version of the file.
const FORMAT: &str = "vellum-audit-state/v1";

/// Largest state file read (a frontier is a few KiB; notes up to 1 MiB).
const MAX_STATE_SIZE: u64 = 8 << 20;

/// A checkpoint as kept in the state: its signed note and what was parsed
/// from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptCheckpoint {
    /// The signed note, as served.
    pub note: String,
    /// Its checkpoint.
    pub checkpoint: Checkpoint,
}

/// The state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// The log's origin.
    pub origin: String,
    /// The last fully verified checkpoint and its frontier.
    pub verified: Option<(KeptCheckpoint, Frontier)>,
    /// An audit under way: the checkpoint it verifies and how far it got.
    pub progress: Option<(KeptCheckpoint, Frontier)>,
}

#[derive(Serialize, Deserialize)]
struct FileForm {
    format: String,
    origin: String,
    verified: Option<Part>,
    progress: Option<Part>,
}

#[derive(Serialize, Deserialize)]
struct Part {
    /// The signed note of the checkpoint.
    checkpoint: String,
    /// The verified tree size (the checkpoint's, or less while in progress).
    size: u64,
    /// The right edge, base64 hashes, largest subtree first.
    edge: Vec<String>,
    /// Per tile level, the partial tile at `size` (base64 of its bytes).
    tiles: Vec<String>,
}

fn bad(path: &Path, reason: impl Into<String>) -> AuditError {
    AuditError::State {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn hashes(path: &Path, b64: &str) -> Result<Vec<Hash>, AuditError> {
    let raw = B64
        .decode(b64)
        .map_err(|e| bad(path, format!("bad base64: {e}")))?;
    if raw.len() % HASH_LEN != 0 {
        return Err(bad(
            path,
            "a hash list whose length is not a multiple of 32",
        ));
    }
    Ok(raw
        .chunks_exact(HASH_LEN)
        .map(|c| Hash::from_slice(c).unwrap_or_default())
        .collect())
}

/// Parses a signed note's checkpoint (signatures are not checked here).
pub fn parse_kept(note: &str) -> Result<KeptCheckpoint, String> {
    let parsed = Note::parse(note.as_bytes()).map_err(|e| e.to_string())?;
    let checkpoint = Checkpoint::parse(parsed.text()).map_err(|e| e.to_string())?;
    Ok(KeptCheckpoint {
        note: note.to_owned(),
        checkpoint,
    })
}

impl Part {
    fn load(self, path: &Path) -> Result<(KeptCheckpoint, Frontier), AuditError> {
        let kept =
            parse_kept(&self.checkpoint).map_err(|e| bad(path, format!("checkpoint: {e}")))?;
        let size = TreeSize::new(self.size).map_err(|e| bad(path, e.to_string()))?;
        if size > kept.checkpoint.size() {
            return Err(bad(path, "a frontier beyond its checkpoint"));
        }
        let mut edge = Vec::with_capacity(self.edge.len());
        for h in &self.edge {
            let one = hashes(path, h)?;
            if one.len() != 1 {
                return Err(bad(path, "an edge entry that is not one hash"));
            }
            edge.extend(one);
        }
        if edge.len() != size.get().count_ones() as usize {
            return Err(bad(
                path,
                format!("size {size} needs {} edge hashes", size.get().count_ones()),
            ));
        }
        let tiles = self
            .tiles
            .iter()
            .map(|t| hashes(path, t))
            .collect::<Result<Vec<_>, _>>()?;
        let frontier = Frontier { size, edge, tiles };
        if size == kept.checkpoint.size() && frontier.root() != kept.checkpoint.root() {
            return Err(bad(
                path,
                "the verified tree does not fold to its checkpoint's root (damaged file?)",
            ));
        }
        Ok((kept, frontier))
    }

    fn from(kept: &KeptCheckpoint, f: &Frontier) -> Part {
        Part {
            checkpoint: kept.note.clone(),
            size: f.size.get(),
            edge: f.edge.iter().map(|h| B64.encode(h.as_bytes())).collect(),
            tiles: f
                .tiles
                .iter()
                .map(|t| B64.encode(vellum_merkle::tiles::tile_bytes(t)))
                .collect(),
        }
    }
}

impl State {
    /// Reads the state at `path`; `None` if there is no file yet.
    ///
    /// # Errors
    ///
    /// [`AuditError::State`] for an unreadable or invalid file.
    pub fn load(path: &Path) -> Result<Option<State>, AuditError> {
        let bytes = match File::open(path) {
            Ok(f) => {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(
                    &mut std::io::Read::take(f, MAX_STATE_SIZE + 1),
                    &mut buf,
                )
                .map_err(|e| bad(path, e.to_string()))?;
                if buf.len() as u64 > MAX_STATE_SIZE {
                    return Err(bad(path, "larger than any state file"));
                }
                buf
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(bad(path, e.to_string())),
        };
        let form: FileForm = serde_json::from_slice(&bytes)
            .map_err(|e| bad(path, format!("not a state file: {e}")))?;
        if form.format != FORMAT {
            return Err(bad(
                path,
                format!("format {:?}, this auditor reads {FORMAT:?}", form.format),
            ));
        }
        let verified = form.verified.map(|p| p.load(path)).transpose()?;
        let progress = form.progress.map(|p| p.load(path)).transpose()?;
        for (k, _) in verified.iter().chain(&progress) {
            if k.checkpoint.origin() != form.origin {
                return Err(bad(path, "a checkpoint of another origin"));
            }
        }
        Ok(Some(State {
            origin: form.origin,
            verified,
            progress,
        }))
    }

    /// Replaces the state at `path` atomically and durably.
    ///
    /// # Errors
    ///
    /// [`AuditError::State`] if it cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), AuditError> {
        let form = FileForm {
            format: FORMAT.into(),
            origin: self.origin.clone(),
            verified: self.verified.as_ref().map(|(k, f)| Part::from(k, f)),
            progress: self.progress.as_ref().map(|(k, f)| Part::from(k, f)),
        };
        let json = serde_json::to_vec_pretty(&form).map_err(|e| bad(path, e.to_string()))?;
        let tmp = temp_path(path);
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&json)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, path)?;
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            File::open(dir)?.sync_all()
        };
        write().map_err(|e| bad(path, format!("cannot write: {e}")))
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;
    use vellum_merkle::{CompactRange, leaf_hash};

    #[test]
    fn round_trips_and_rejects_damage() {
        let mut r = CompactRange::new();
        for i in 0..300u32 {
            r.append(leaf_hash(&i.to_be_bytes()), |_, _| {}).unwrap();
        }
        let cp = Checkpoint::new("example.com/log", r.size(), r.root()).unwrap();
        let key =
            vellum_note::SignerKey::generate("example.com/log", vellum_note::SigType::Ed25519)
                .unwrap();
        let note =
            vellum_note::sign_note(&cp.to_text(), &[&key as &dyn vellum_note::NoteSigner]).unwrap();
        let kept = parse_kept(&note).unwrap();
        let f = Frontier {
            size: r.size(),
            edge: r.hashes().to_vec(),
            tiles: vec![vec![Hash([1; 32]); 44], vec![Hash([2; 32])]],
        };
        let s = State {
            origin: "example.com/log".into(),
            verified: Some((kept.clone(), f.clone())),
            progress: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        assert_eq!(State::load(&p).unwrap(), None);
        s.save(&p).unwrap();
        assert_eq!(State::load(&p).unwrap(), Some(s.clone()));

        let mut damaged = s;
        damaged.verified = Some((
            kept,
            Frontier {
                edge: vec![Hash([9; 32]); 3],
                ..f
            },
        ));
        damaged.save(&p).unwrap();
        assert!(matches!(State::load(&p), Err(AuditError::State { .. })));
        fs::write(&p, b"{}").unwrap();
        assert!(State::load(&p).is_err());
    }
}

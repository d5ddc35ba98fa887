//! The witness's durable state: for each trusted origin, the latest
//! checkpoint it cosigned.
//!
//! # Layout
//!
//! One small file per origin in the state folder, named by the lower-case hex
//! SHA-256 of the origin (origins are arbitrary text; hashes are safe file
//! names):
//!
//! ```text
//! vellum-witness-state/v1
//! sha256 <hex SHA-256 of the note below>
//! <the signed checkpoint note: its text and the trusted log's signature>
//! ```
//!
//! # Contract
//!
//! * Check-and-persist is atomic per origin: [`WitnessState::lock`] returns
//!   a guard that MUST be held across the check against the stored
//!   checkpoint, [`OriginGuard::persist`], and building the reply.
//! * The stored size MUST NOT decrease: [`OriginGuard::persist`] refuses a
//!   smaller one ([`StateError::Rollback`]).
//! * [`OriginGuard::persist`] returns only once the new state is durable
//!   (file and folder fsynced). When it fails, the caller MUST NOT return a
//!   cosignature.
//! * A file is replaced by write-to-temporary, fsync, rename, fsync(folder):
//!   a crash at any point leaves the old file or the new one, never a torn
//!   one.
//! * One process per state folder: the per-origin locks live in memory.
//!   Two witnesses sharing a folder could roll each other back.
//! * Opening reads one file per trusted origin (O(number of logs)); a file
//!   that is not exactly what this module writes stops the start-up.

mod file;

pub use file::CorruptState;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use vellum_merkle::{Hash, TreeSize};
use vellum_note::{Checkpoint, CheckpointError, Note};

use file::{file_path, read_file, replace_file, temp_path};

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state folder could not be created or opened.
    #[error("state folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A state file could not be read.
    #[error("reading state file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A state file is corrupt: the witness refuses to start rather than
    /// forget what it cosigned.
    #[error(
        "state file {path} for origin {origin:?} is corrupt: {reason}; restore it from a backup that is not older than the last cosignature, never delete it"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The origin it is for.
        origin: String,
        /// What is wrong.
        reason: CorruptState,
    },
    /// Writing failed before the new file replaced the old one: the old
    /// state stands, and the witness may go on.
    #[error("writing state file {path} failed (the previous state is unchanged): {source}")]
    Write {
        /// The temporary file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Writing failed at or after the rename: the file on disk may hold the
    /// old or the new state. The origin is out of service until a restart
    /// reloads it from disk (DESIGN: an ambiguous storage error is fatal).
    #[error("state file {path}: the write may or may not have landed: {source}")]
    Ambiguous {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// An earlier ambiguous write took this origin out of service.
    #[error(
        "origin {origin:?} is out of service after an earlier storage failure ({reason}); restart the witness"
    )]
    OutOfService {
        /// The origin.
        origin: String,
        /// The earlier failure.
        reason: String,
    },
    /// A lock holder panicked: the in-memory state may disagree with the
    /// disk, so the origin is refused until a restart.
    #[error("the state lock for origin {origin:?} was poisoned by a panic; restart the witness")]
    Poisoned {
        /// The origin.
        origin: String,
    },
    /// Not a trusted origin (a bug in the caller: origins are checked first).
    #[error("no state is kept for origin {origin:?}")]
    UnknownOrigin {
        /// The origin.
        origin: String,
    },
    /// The new checkpoint would make the stored size smaller (a bug in the
    /// caller, refused here as the last line of defence).
    #[error("refusing to roll origin {origin:?} back from size {stored} to {attempted}")]
    Rollback {
        /// The origin.
        origin: String,
        /// The stored size.
        stored: u64,
        /// The smaller size.
        attempted: u64,
    },
    /// The new checkpoint is for another origin (a bug in the caller).
    #[error("a checkpoint for {found:?} cannot be stored as origin {origin:?}")]
    OriginMismatch {
        /// The origin locked.
        origin: String,
        /// The checkpoint's origin.
        found: String,
    },
}

impl StateError {
    /// Whether the failure is in this witness's storage rather than a
    /// caller bug (both are server errors; this one may heal on restart).
    pub fn is_storage(&self) -> bool {
        !matches!(
            self,
            StateError::UnknownOrigin { .. }
                | StateError::Rollback { .. }
                | StateError::OriginMismatch { .. }
        )
    }
}

/// The latest checkpoint cosigned for one origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
}

impl StoredCheckpoint {
    /// A record of `note`, whose text MUST be a checkpoint that the caller
    /// verified, and whose signatures SHOULD be only the verified ones (a
    /// forged line stored here would be kept as if it were evidence).
    ///
    /// # Errors
    ///
    /// The [`CheckpointError`] when the text is not a checkpoint.
    pub fn new(note: Note) -> Result<StoredCheckpoint, CheckpointError> {
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(StoredCheckpoint { checkpoint, note })
    }

    /// The origin.
    pub fn origin(&self) -> &str {
        self.checkpoint.origin()
    }

    /// The tree size.
    pub fn size(&self) -> TreeSize {
        self.checkpoint.size()
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        self.checkpoint.root()
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note (text and the log's signature).
    pub fn note(&self) -> &Note {
        &self.note
    }
}

/// One origin's entry, behind its lock.
#[derive(Debug)]
struct Slot {
    /// `None` until the first cosignature for the origin.
    latest: Option<StoredCheckpoint>,
    /// Set by an ambiguous write; the origin is refused from then on.
    broken: Option<String>,
}

/// The state of one origin, for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginStatus {
    origin: String,
    latest: Option<StoredCheckpoint>,
    out_of_service: Option<String>,
}

impl OriginStatus {
    /// The origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The latest checkpoint cosigned, `None` before the first.
    pub fn latest(&self) -> Option<&StoredCheckpoint> {
        self.latest.as_ref()
    }

    /// Why the origin is out of service, if it is.
    pub fn out_of_service(&self) -> Option<&str> {
        self.out_of_service.as_deref()
    }
}

/// The durable state of a witness: one locked slot per trusted origin.
#[derive(Debug)]
pub struct WitnessState {
    dir: PathBuf,
    // The map is fixed at open; only the slots change, each under its lock.
    slots: BTreeMap<String, Arc<Mutex<Slot>>>,
}

impl WitnessState {
    /// Opens (creating it if needed) the state folder `dir` for `origins`,
    /// reading each origin's file if it exists. Files for other origins are
    /// left alone; a leftover temporary file from a crash is removed.
    ///
    /// # Errors
    ///
    /// [`StateError::Folder`], [`StateError::Read`], or
    /// [`StateError::Corrupt`] for a file that is not a valid state file.
    pub fn open<'a, I>(dir: &Path, origins: I) -> Result<WitnessState, StateError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let folder_err = |source| StateError::Folder {
            path: dir.to_owned(),
            source,
        };
        fs::create_dir_all(dir).map_err(folder_err)?;
        // The folder's own entry must be durable before any file in it is
        // trusted to be: fsyncing the folder alone does not make its name
        // in the parent durable.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(folder_err)?;
        }
        let mut slots = BTreeMap::new();
        for origin in origins {
            let path = file_path(dir, origin);
            // A temporary file was never renamed, so it was never the state
            // and no cosignature depended on it.
            match fs::remove_file(temp_path(&path)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(StateError::Folder { path, source }),
            }
            let latest = read_file(&path, origin)?;
            slots.insert(
                origin.to_owned(),
                Arc::new(Mutex::new(Slot {
                    latest,
                    broken: None,
                })),
            );
        }
        Ok(WitnessState {
            dir: dir.to_owned(),
            slots,
        })
    }

    /// The state folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Locks `origin`'s slot. Hold the guard across check, persist and the
    /// reply; other origins are not blocked.
    ///
    /// # Errors
    ///
    /// [`StateError::UnknownOrigin`], [`StateError::Poisoned`],
    /// [`StateError::OutOfService`].
    pub fn lock(&self, origin: &str) -> Result<OriginGuard<'_>, StateError> {
        let (origin, slot) =
            self.slots
                .get_key_value(origin)
                .ok_or_else(|| StateError::UnknownOrigin {
                    origin: origin.to_owned(),
                })?;
        let guard = slot.lock().map_err(|_| StateError::Poisoned {
            origin: origin.to_owned(),
        })?;
        if let Some(reason) = &guard.broken {
            return Err(StateError::OutOfService {
                origin: origin.to_owned(),
                reason: reason.clone(),
            });
        }
        Ok(OriginGuard {
            origin,
            path: file_path(&self.dir, origin),
            slot: guard,
        })
    }

    /// Every trusted origin with its latest cosigned checkpoint, in origin
    /// order. Each origin is locked briefly in turn, so the list is not one
    /// snapshot across origins.
    pub fn list(&self) -> Vec<OriginStatus> {
        self.slots
            .iter()
            .map(|(origin, slot)| match slot.lock() {
                Ok(s) => OriginStatus {
                    origin: origin.clone(),
                    latest: s.latest.clone(),
                    out_of_service: s.broken.clone(),
                },
                Err(p) => OriginStatus {
                    origin: origin.clone(),
                    latest: p.get_ref().latest.clone(),
                    out_of_service: Some("state lock poisoned by a panic".to_owned()),
                },
            })
            .collect()
    }
}

/// Exclusive access to one origin's state.
#[derive(Debug)]
pub struct OriginGuard<'a> {
    origin: &'a str,
    path: PathBuf,
    slot: MutexGuard<'a, Slot>,
}

impl OriginGuard<'_> {
    /// The latest checkpoint cosigned for the origin, `None` before the
    /// first.
    pub fn latest(&self) -> Option<&StoredCheckpoint> {
        self.slot.latest.as_ref()
    }

    /// The latest cosigned size (0 before the first cosignature).
    pub fn size(&self) -> TreeSize {
        self.latest().map_or(TreeSize::ZERO, StoredCheckpoint::size)
    }

    /// The latest cosigned root (the empty-tree root before the first
    /// cosignature, which is what a size of 0 means).
    pub fn root(&self) -> Hash {
        self.latest()
            .map_or_else(Hash::empty_root, StoredCheckpoint::root)
    }

    /// Makes `new` the origin's latest checkpoint, durably, then in memory.
    /// Storing what is already stored writes nothing.
    ///
    /// # Errors
    ///
    /// [`StateError::OriginMismatch`], [`StateError::Rollback`] (nothing
    /// written); [`StateError::Write`] (nothing changed);
    /// [`StateError::Ambiguous`] (the origin is now out of service). On any
    /// error the caller MUST NOT hand out a cosignature.
    pub fn persist(&mut self, new: StoredCheckpoint) -> Result<(), StateError> {
        if new.origin() != self.origin {
            return Err(StateError::OriginMismatch {
                origin: self.origin.to_owned(),
                found: new.origin().to_owned(),
            });
        }
        if new.size() < self.size() {
            return Err(StateError::Rollback {
                origin: self.origin.to_owned(),
                stored: self.size().get(),
                attempted: new.size().get(),
            });
        }
        if self.latest() == Some(&new) {
            return Ok(());
        }
        match replace_file(&self.path, &file::encode(&new)) {
            Ok(()) => {
                // Memory follows disk: a crash before this line leaves the
                // new state on disk, which a restart loads.
                self.slot.latest = Some(new);
                Ok(())
            }
            Err(e @ StateError::Ambiguous { .. }) => {
                self.slot.broken = Some(e.to_string());
                Err(e)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;
    use file::hex;
    use sha2::{Digest, Sha256};
    use vellum_note::{NoteSigner, SigType, SignerKey, sign_note};

    fn stored(key: &SignerKey, size: u64, root: Hash) -> StoredCheckpoint {
        let cp = Checkpoint::new(key.name(), TreeSize::new(size).unwrap(), root).unwrap();
        let note = sign_note(&cp.to_text(), &[key as &dyn NoteSigner]).unwrap();
        StoredCheckpoint::new(Note::parse(note.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn persist_reload_and_no_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let key = SignerKey::generate("o.example/log", SigType::Ed25519).unwrap();
        let origin = key.name().to_owned();
        let state = WitnessState::open(dir.path(), [origin.as_str()]).unwrap();
        {
            let mut g = state.lock(&origin).unwrap();
            assert_eq!(g.size(), TreeSize::ZERO);
            assert_eq!(g.root(), Hash::empty_root());
            g.persist(stored(&key, 5, Hash([5; 32]))).unwrap();
            assert!(matches!(
                g.persist(stored(&key, 4, Hash([4; 32]))),
                Err(StateError::Rollback {
                    stored: 5,
                    attempted: 4,
                    ..
                })
            ));
            let other = SignerKey::generate("other", SigType::Ed25519).unwrap();
            assert!(matches!(
                g.persist(stored(&other, 6, Hash([6; 32]))),
                Err(StateError::OriginMismatch { .. })
            ));
        }
        drop(state);
        let state = WitnessState::open(dir.path(), [origin.as_str()]).unwrap();
        let list = state.list();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].latest().unwrap().size().get(), 5);
        assert_eq!(list[0].latest().unwrap().root(), Hash([5; 32]));
        assert!(matches!(
            state.lock("nope"),
            Err(StateError::UnknownOrigin { .. })
        ));
        // The file has the documented name and no temporary is left.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [hex(&Sha256::digest(origin.as_bytes()))]);
    }

    #[test]
    fn failed_write_changes_nothing_and_leftover_temp_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let key = SignerKey::generate("o.example/log", SigType::Ed25519).unwrap();
        let origin = key.name().to_owned();
        let path = file_path(dir.path(), &origin);
        fs::write(temp_path(&path), b"half a write").unwrap();
        let state_dir = dir.path().join("state");
        let state = WitnessState::open(dir.path(), [origin.as_str()]).unwrap();
        assert!(!temp_path(&path).exists());
        drop(state);

        let state = WitnessState::open(&state_dir, [origin.as_str()]).unwrap();
        state
            .lock(&origin)
            .unwrap()
            .persist(stored(&key, 1, Hash([1; 32])))
            .unwrap();
        fs::remove_dir_all(&state_dir).unwrap();
        let mut g = state.lock(&origin).unwrap();
        assert!(matches!(
            g.persist(stored(&key, 2, Hash([2; 32]))),
            Err(StateError::Write { .. })
        ));
        assert_eq!(g.size().get(), 1, "memory must not run ahead of disk");
    }
}

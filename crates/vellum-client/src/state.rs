//! The trusted state on disk: the last checkpoint the client verified and
//! proved consistent with everything it trusted before.
//!
//! The file holds the signed note, verbatim, and nothing else, so it can be
//! read with any C2SP tool. It is replaced atomically: the new note is
//! written to a temporary file in the same folder and synced, renamed over
//! the old file, and the folder is synced. A crash at any point leaves
//! either the old note or the new one, never a mix (a stray temporary file
//! at worst, which the next save replaces).
//!
//! Two processes must not advance the same file at once: each would check
//! its own step, and the last rename would win. Give each its own file.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::ClientError;
use crate::trust::{Trust, TrustedCheckpoint};

/// Largest state file read: a checkpoint note is a few hundred bytes, a few
/// kilobytes with many cosignatures.
const MAX_STATE_SIZE: u64 = 1 << 20;

/// The last verified checkpoint, kept in a file.
#[derive(Debug)]
pub struct TrustedState {
    path: PathBuf,
    checkpoint: Option<TrustedCheckpoint>,
}

impl TrustedState {
    /// Opens the state kept in `path`, verifying the stored note against
    /// `trust`. A missing file is an empty state: the first
    /// [`Client::update_trusted`](crate::Client::update_trusted) then trusts
    /// the log's latest checkpoint (trust on first use).
    ///
    /// # Errors
    ///
    /// [`ClientError::State`] when the file cannot be read,
    /// [`ClientError::StateInvalid`] when it does not verify.
    pub fn open(path: impl Into<PathBuf>, trust: &Trust) -> Result<TrustedState, ClientError> {
        let path = path.into();
        let io = |source| ClientError::State {
            path: path.clone(),
            source,
        };
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(f) => {
                f.take(MAX_STATE_SIZE + 1)
                    .read_to_end(&mut bytes)
                    .map_err(io)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TrustedState {
                    path,
                    checkpoint: None,
                });
            }
            Err(e) => return Err(io(e)),
        }
        if bytes.len() as u64 > MAX_STATE_SIZE {
            return Err(ClientError::StateInvalid {
                path,
                reason: format!("larger than {MAX_STATE_SIZE} bytes"),
            });
        }
        let checkpoint = trust.check(&bytes).map_err(|e| ClientError::StateInvalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(TrustedState {
            path,
            checkpoint: Some(checkpoint),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The trusted checkpoint, if any yet.
    pub fn checkpoint(&self) -> Option<&TrustedCheckpoint> {
        self.checkpoint.as_ref()
    }

    /// Replaces the trusted checkpoint, on disk first (atomically), then in
    /// memory. Only the client calls this, after checking consistency.
    pub(crate) fn replace(&mut self, checkpoint: TrustedCheckpoint) -> Result<(), ClientError> {
        write_atomic(&self.path, checkpoint.note()).map_err(|source| ClientError::State {
            path: self.path.clone(),
            source,
        })?;
        self.checkpoint = Some(checkpoint);
        Ok(())
    }
}

/// Write to a temporary file, sync, rename, sync the folder.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the state path names no file"))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // The rename is durable only once the folder is synced.
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

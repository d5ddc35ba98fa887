//! Key files: note-text private keys in files only their owner can read.
//!
//! A key file holds one line, `PRIVATE+KEY+<name>+<id>+<base64>`. It is
//! created with mode 0600 and never overwritten; it is refused at load if
//! group or others may read or write it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use vellum_note::{KeyError, SignerKey};
use zeroize::Zeroizing;

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read or created.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Others than the owner may access the file.
    #[error(
        "key file {path} has mode {mode:04o}; a private key must be readable by its owner only \
         (run: chmod 600 {path})"
    )]
    InsecureMode {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold a valid private key.
    #[error("key file {path} does not hold a private key: {source}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: KeyError,
    },
    /// Refused to replace an existing key.
    #[error("key file {0} already exists; refusing to overwrite a key")]
    Exists(PathBuf),
}

/// Reads a private key, refusing files that others may access.
///
/// # Errors
///
/// [`KeyFileError::InsecureMode`], [`KeyFileError::Io`] or
/// [`KeyFileError::BadKey`].
pub fn load_key(path: &Path) -> Result<SignerKey, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::InsecureMode {
            path: path.to_owned(),
            mode,
        });
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
    SignerKey::parse(text.trim_end_matches('\n')).map_err(|source| KeyFileError::BadKey {
        path: path.to_owned(),
        source,
    })
}

/// Writes `key` to a new file with mode 0600 and makes it durable.
///
/// # Errors
///
/// [`KeyFileError::Exists`] if the file exists, [`KeyFileError::Io`].
pub fn write_key(path: &Path, key: &SignerKey) -> Result<(), KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyFileError::Exists(path.to_owned())
            } else {
                io(e)
            }
        })?;
    let mut text = key.to_text();
    text.push('\n');
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    // The umask may have taken bits away, never added them; make sure anyway.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vellum_note::SigType;

    #[test]
    fn round_trip_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        let key = SignerKey::generate("example.com/log", SigType::Ed25519).unwrap();
        write_key(&path, &key).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = load_key(&path).unwrap();
        assert_eq!(loaded.verifier().to_string(), key.verifier().to_string());
        assert!(matches!(
            write_key(&path, &key),
            Err(KeyFileError::Exists(_))
        ));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_key(&path).unwrap_err();
        assert!(matches!(
            err,
            KeyFileError::InsecureMode { mode: 0o640, .. }
        ));
        assert!(err.to_string().contains("chmod 600"));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "not a key\n").unwrap();
        assert!(matches!(load_key(&path), Err(KeyFileError::BadKey { .. })));
    }
}

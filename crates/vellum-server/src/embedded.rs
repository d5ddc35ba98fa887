//! The embedded deployment: one data folder holding the RocksDB store, the
//! signer's journal and (by default) the log key.
//!
//! ```text
//! <data>/log/       RocksDB: entries, nodes, dedup, checkpoints
//! <data>/signer/    the signer's journal (its memory of what it signed)
//! <data>/log.key    the private key, mode 0600 (unless --key names another)
//! <data>/log.vkey   the public verifier key, for clients
//! ```
//!
//! The signer's journal sits beside the store so that the embedded default
//! is one folder to back up; a restored backup of the *store alone* is then
//! caught at start-up. Restoring the whole folder rewinds both, which only
//! witnesses (other parties) can catch: production runs the signer apart.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vellum_log::{Log, LogConfig, Signer, StartupError, Witnessing};
use vellum_note::{SigType, SignerKey, VerifierKey};
use vellum_signer::keyfile::{self, KeyFileError};
use vellum_signer::{CheckpointSigner, SignerError};
use vellum_store::LogStore;
use vellum_store_rocksdb::{OpenError, RocksStore, StoreOptions};

use crate::local_signer::LocalSigner;

/// Why the deployment could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The data folder could not be created or read.
    #[error("data folder {path}: {source}")]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The key file is missing, unreadable, unsafe or invalid.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// A new key could not be made.
    #[error("cannot generate a key for origin {origin:?}: {reason}")]
    Keygen {
        /// The origin asked for.
        origin: String,
        /// Why.
        reason: String,
    },
    /// The key and the origin disagree.
    #[error(
        "the log key is for origin {key:?} but --origin is {origin:?}; a log keeps its origin \
         for life (leave out --origin, or use another --data folder)"
    )]
    OriginMismatch {
        /// The key's name.
        key: String,
        /// The origin given.
        origin: String,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] OpenError),
    /// The signer could not be opened.
    #[error("signer: {0}")]
    Signer(#[from] SignerError),
    /// The log refused to start.
    #[error(transparent)]
    Startup(#[from] StartupError),
}

/// Where an embedded deployment keeps its data.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The data folder.
    pub data: PathBuf,
}

impl Layout {
    /// The RocksDB folder.
    pub fn store(&self) -> PathBuf {
        self.data.join("log")
    }
    /// The signer journal folder.
    pub fn signer(&self) -> PathBuf {
        self.data.join("signer")
    }
    /// The default key file.
    pub fn key(&self) -> PathBuf {
        self.data.join("log.key")
    }
    /// The public key file.
    pub fn vkey(&self) -> PathBuf {
        self.data.join("log.vkey")
    }
}

/// The key of an embedded log: `key` if given, else `<data>/log.key`,
/// generated on first start for `origin` (or a random origin).
///
/// # Errors
///
/// [`DeployError`] with a message an operator can act on.
pub fn load_or_create_key(
    layout: &Layout,
    key: Option<&Path>,
    origin: Option<&str>,
) -> Result<(SignerKey, bool), DeployError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&layout.data)
        .map_err(|source| DeployError::DataDir {
            path: layout.data.clone(),
            source,
        })?;
    let path = key.map(Path::to_path_buf).unwrap_or_else(|| layout.key());
    let (signer_key, created) = if key.is_some() || path.exists() {
        (keyfile::load_key(&path)?, false)
    } else {
        let origin = origin.map(str::to_owned).unwrap_or_else(random_origin);
        let k =
            SignerKey::generate(&origin, SigType::Ed25519).map_err(|e| DeployError::Keygen {
                origin: origin.clone(),
                reason: e.to_string(),
            })?;
        keyfile::write_key(&path, &k)?;
        (k, true)
    };
    if let Some(o) = origin
        && o != signer_key.name()
    {
        return Err(DeployError::OriginMismatch {
            key: signer_key.name().to_owned(),
            origin: o.to_owned(),
        });
    }
    // The public key beside the data, for clients; rewritten each start so
    // it always matches the key in use.
    let vkey_path = layout.vkey();
    fs::write(&vkey_path, format!("{}\n", signer_key.verifier())).map_err(|source| {
        DeployError::DataDir {
            path: vkey_path,
            source,
        }
    })?;
    Ok((signer_key, created))
}

/// A fresh origin for a demo log, unique enough not to collide with
/// another demo's checkpoints in a witness.
fn random_origin() -> String {
    let mut b = [0u8; 4];
    // Without randomness the origin is still valid, only less unique.
    let _ = getrandom::fill(&mut b);
    format!(
        "vellum.localhost/{:02x}{:02x}{:02x}{:02x}",
        b[0], b[1], b[2], b[3]
    )
}

/// Opens the store, the in-process signer and the log of an embedded
/// deployment.
///
/// # Errors
///
/// [`DeployError`].
pub async fn open_log(
    layout: &Layout,
    key: SignerKey,
    config: LogConfig,
    store_options: &StoreOptions,
    witnessing: Option<Witnessing>,
) -> Result<(Log, VerifierKey), DeployError> {
    let vkey = key.verifier();
    let signer: Arc<dyn Signer> = Arc::new(LocalSigner::new(CheckpointSigner::open(
        key,
        &layout.signer(),
    )?));
    let log = open_with_signer(
        layout,
        signer,
        vkey.clone(),
        config,
        store_options,
        witnessing,
    )
    .await?;
    Ok((log, vkey))
}

/// Opens the store and the log with a signer that lives elsewhere.
///
/// # Errors
///
/// [`DeployError`].
pub async fn open_with_signer(
    layout: &Layout,
    signer: Arc<dyn Signer>,
    vkey: VerifierKey,
    config: LogConfig,
    store_options: &StoreOptions,
    witnessing: Option<Witnessing>,
) -> Result<Log, DeployError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&layout.data)
        .map_err(|source| DeployError::DataDir {
            path: layout.data.clone(),
            source,
        })?;
    let vkey_path = layout.vkey();
    fs::write(&vkey_path, format!("{vkey}\n")).map_err(|source| DeployError::DataDir {
        path: vkey_path,
        source,
    })?;
    let store: Arc<dyn LogStore> = Arc::new(RocksStore::open(&layout.store(), store_options)?);
    Ok(Log::builder(store, signer, vkey)
        .config(config)
        .witnessing(witnessing)
        .open()
        .await?)
}

/// Why [`fsck`] did not report a clean store.
#[derive(Debug, thiserror::Error)]
pub enum FsckFailure {
    /// The store could not be opened (its open-time checks may have found
    /// the corruption already: see [`FsckFailure::is_corruption`]).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The full check found corruption or could not read the store.
    #[error(transparent)]
    Check(#[from] vellum_log::fsck::FsckError),
}

impl FsckFailure {
    /// Whether the data was found corrupt (a verdict), rather than the check
    /// being unable to run.
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            FsckFailure::Open(OpenError::Corrupt { .. })
                | FsckFailure::Check(vellum_log::fsck::FsckError::Corrupt(_))
        )
    }
}

/// Re-verifies the whole store of an embedded deployment offline (see
/// [`vellum_log::fsck`]): never creates a store, writes nothing, and needs
/// the log stopped (RocksDB's lock keeps a running log out).
///
/// # Errors
///
/// [`FsckFailure`].
pub fn fsck(
    layout: &Layout,
    vkey: &VerifierKey,
    progress: &mut dyn FnMut(vellum_log::fsck::Progress),
) -> Result<vellum_log::fsck::FsckReport, FsckFailure> {
    // Each node is read once: a cache would only hold what was read.
    let options = StoreOptions {
        create_if_missing: false,
        node_cache_entries: 0,
        ..StoreOptions::default()
    };
    let store = RocksStore::open(&layout.store(), &options)?;
    Ok(vellum_log::fsck::fsck(&store, vkey, progress)?)
}

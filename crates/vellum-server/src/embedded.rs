//! The embedded deployment: one data folder holding the RocksDB store and
//! (by default) the log key, and beside it the signer's memory.
//!
//! ```text
//! <data>/log/         RocksDB: entries, nodes, dedup, checkpoints
//! <data>/log.key      the private key, mode 0600 (unless --key names another)
//! <data>/log.vkey     the public verifier key, for clients
//! <data>/events-index/  RocksDB: an events log's indexes (by resource,
//!                     actor, action and time; heads; retries), derived
//!                     from the entries: rebuilt when lost (`vellum
//!                     reindex`), checked by `vellum fsck` (docs/EVENTS.md)
//! <data>.signer/      the signer's journal (its memory of what it signed),
//!                     mode 0700 (unless --signer-state names another folder)
//! ```
//!
//! The signer's journal lives *outside* the data folder on purpose: a
//! restored backup of the data folder does not bring an old journal back
//! with it, so the signer still remembers the newest tree it signed, and the
//! start is refused ([`vellum_log::StartupError::StoreBehindSigner`]) instead
//! of a new history being signed over sizes already signed. Back up the data
//! folder; do not restore the signer's folder over a newer one. A deliberate
//! restore onto a new machine goes through `vellum recover` (see
//! [`crate::recover`]).
//!
//! Older versions kept the journal at `<data>/signer`; the first start of
//! this version moves it to `<data>.signer` (one `rename`, logged).

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vellum_log::{Log, LogConfig, Sequencing, Signer, StartupError, Witnessing};
use vellum_note::{SigType, SignerKey, VerifierKey};
use vellum_signer::keyfile::{self, KeyFileError};
use vellum_signer::{CheckpointSigner, SignerError};
use vellum_store::LogStore;
use vellum_store_rocksdb::{OpenError, RocksGroup, RocksStore, StoreOptions};

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
    /// The signer's memory was put where a restore of the data rewinds it.
    #[error(
        "the signer's state folder {state} is inside the data folder {data}: a restored backup \
         of the data would rewind the signer's memory with it and the log could sign over \
         sizes it already signed. Keep it outside (the default is <data>.signer)"
    )]
    SignerStateInsideData {
        /// The signer's folder.
        state: PathBuf,
        /// The data folder.
        data: PathBuf,
    },
    /// The old journal could not be moved out of the data folder.
    #[error(
        "cannot move the signer's journal from {from} to {to}: {source}. Move it by hand (or \
         name its place with --signer-state) and start again"
    )]
    MoveSignerState {
        /// The old place.
        from: PathBuf,
        /// The new place.
        to: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A publication of this log remembers more than the store holds.
    #[error(transparent)]
    Memory(#[from] crate::memory::MemoryError),
}

/// Where an embedded deployment keeps its data.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The data folder.
    pub data: PathBuf,
    /// The signer's journal folder, if not the default `<data>.signer`.
    pub signer_state: Option<PathBuf>,
}

impl Layout {
    /// The layout of data folder `data`, with the signer's memory in its
    /// default place.
    pub fn new(data: impl Into<PathBuf>) -> Layout {
        Layout {
            data: data.into(),
            signer_state: None,
        }
    }

    /// The RocksDB folder.
    pub fn store(&self) -> PathBuf {
        self.data.join("log")
    }
    /// The events index of an events log: derived data, rebuilt from the
    /// entries when lost or stale (docs/EVENTS.md, "The index").
    pub fn events_index(&self) -> PathBuf {
        self.data.join("events-index")
    }
    /// The folders of the log named `name` of this deployment (`[[logs]]`):
    /// its key, vkey and events index in `<data>/logs/<name>/`, its
    /// embedded signer's journal in `<data>.signers/<name>/` (outside the
    /// data folder, as the default log's is). Its records are in this
    /// layout's store, as column families of their own.
    pub fn named(&self, name: &str) -> Layout {
        let mut signers = self.data.clone().into_os_string();
        signers.push(".signers");
        Layout {
            data: self.data.join("logs").join(name),
            signer_state: Some(PathBuf::from(signers).join(name)),
        }
    }
    /// The signer journal folder: `--signer-state`, else `<data>.signer`
    /// beside the data folder (`vellum-data` -> `vellum-data.signer`).
    pub fn signer(&self) -> PathBuf {
        if let Some(s) = &self.signer_state {
            return s.clone();
        }
        // `data/` and `data` name the same folder; "." is the current one.
        let data = std::path::absolute(&self.data).unwrap_or_else(|_| self.data.clone());
        let data: PathBuf = data.components().collect();
        let mut name = data.as_os_str().to_owned();
        name.push(".signer");
        PathBuf::from(name)
    }
    /// Where versions before the signer's memory moved out kept it.
    pub fn old_signer(&self) -> PathBuf {
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
    /// The self-audit's progress (`vellum_log::self_audit`).
    pub fn self_audit(&self) -> PathBuf {
        self.data.join("self-audit")
    }
}

/// Whether `inner` is `outer` or inside it (both made absolute, and
/// resolved through symbolic links where they exist).
pub fn is_inside(inner: &Path, outer: &Path) -> bool {
    let resolve = |p: &Path| -> PathBuf {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        // Resolve the longest existing ancestor, keep the rest as written.
        let mut existing = abs.clone();
        let mut rest = Vec::new();
        loop {
            if let Ok(real) = fs::canonicalize(&existing) {
                let mut out = real;
                for part in rest.iter().rev() {
                    out.push(part);
                }
                return out;
            }
            match (
                existing.file_name().map(ToOwned::to_owned),
                existing.parent(),
            ) {
                (Some(name), Some(parent)) => {
                    rest.push(name);
                    existing = parent.to_path_buf();
                }
                _ => return abs.components().collect(),
            }
        }
    };
    resolve(inner).starts_with(resolve(outer))
}

/// Prepares the signer's memory folder: refuses one inside the data folder
/// (a restore would rewind it with the data), moves a journal left at the
/// old place `<data>/signer` to it, and creates it with mode 0700.
///
/// # Errors
///
/// [`DeployError::SignerStateInsideData`], [`DeployError::DataDir`].
pub fn prepare_signer_state(layout: &Layout) -> Result<PathBuf, DeployError> {
    let state = layout.signer();
    if is_inside(&state, &layout.data) {
        return Err(DeployError::SignerStateInsideData {
            state,
            data: layout.data.clone(),
        });
    }
    let old = layout.old_signer();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DeployError::DataDir { path, source }
    };
    let state_empty = match fs::read_dir(&state) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(io(&state)(e)),
    };
    if old.is_dir() {
        if state_empty {
            // One rename: the journal is either at the old place or at the
            // new one, never half moved.
            if state.exists() {
                fs::remove_dir(&state).map_err(io(&state))?;
            }
            fs::rename(&old, &state).map_err(|source| DeployError::MoveSignerState {
                from: old.clone(),
                to: state.clone(),
                source,
            })?;
            sync_parent(&state).map_err(io(&state))?;
            sync_parent(&old).map_err(io(&old))?;
            tracing::warn!(
                from = %old.display(),
                to = %state.display(),
                "moved the signer's journal out of the data folder, so that a restored backup \
                 of the data cannot rewind it"
            );
        } else {
            tracing::warn!(
                stale = %old.display(),
                used = %state.display(),
                "the data folder holds a signer journal from before it moved out (a restored \
                 old backup?); it is ignored: the signer's memory is the one outside"
            );
        }
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&state)
        .map_err(io(&state))?;
    Ok(state)
}

/// Makes a rename or creation in `path`'s parent durable.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::File::open(parent)?.sync_all()
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
    create_data_dir(layout)?;
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

/// Creates `layout`'s data folder (and its parents), mode 0700, if missing.
fn create_data_dir(layout: &Layout) -> Result<(), DeployError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&layout.data)
        .map_err(|source| DeployError::DataDir {
            path: layout.data.clone(),
            source,
        })
}

/// Opens the store of `layout` (creating its data folder, mode 0700) with
/// the other logs `names` in the same database (see
/// [`RocksStore::open_logs`]): the default log's store first, then one per
/// name.
///
/// # Errors
///
/// [`DeployError`].
pub fn open_stores(
    layout: &Layout,
    options: &StoreOptions,
    names: &[String],
) -> Result<(Arc<RocksStore>, Vec<Arc<RocksStore>>), DeployError> {
    create_data_dir(layout)?;
    let (default, named) = RocksStore::open_logs(&layout.store(), options, names)?;
    Ok((Arc::new(default), named.into_iter().map(Arc::new).collect()))
}

/// A log's store, and, when it shares its database with other logs, the
/// thread that sequences them together (see [`sequence_together`]).
#[derive(Clone, Debug)]
pub struct LogSlot {
    /// The log's store.
    pub store: Arc<RocksStore>,
    /// The shared sequencing thread and this log's member number in it;
    /// `None`: a thread of the log's own.
    pub sequencing: Option<(Sequencing, usize)>,
}

impl From<Arc<RocksStore>> for LogSlot {
    fn from(store: Arc<RocksStore>) -> LogSlot {
        LogSlot {
            store,
            sequencing: None,
        }
    }
}

/// One sequencing thread for the logs of one database (see
/// [`open_stores`]): each round takes what all of them have pooled and
/// commits it with one synced write, instead of a round, a thread and a
/// write per log. Returns the thread (stop it with
/// [`Sequencing::shutdown`] after the logs) and a slot per store, in order.
///
/// # Errors
///
/// The stores are not of one database, or the thread cannot start.
pub fn sequence_together(
    stores: Vec<Arc<RocksStore>>,
) -> Result<(Sequencing, Vec<LogSlot>), DeployError> {
    let group = RocksGroup::new(stores.clone())
        .map_err(|e| DeployError::Startup(StartupError::Store(e)))?;
    let sequencing = Sequencing::start(Arc::new(group)).map_err(|e| {
        DeployError::Startup(StartupError::Config(format!(
            "cannot start the sequencer thread: {e}"
        )))
    })?;
    let slots = stores
        .into_iter()
        .enumerate()
        .map(|(i, store)| LogSlot {
            store,
            sequencing: Some((sequencing.clone(), i)),
        })
        .collect();
    Ok((sequencing, slots))
}

/// Opens the in-process signer and the log of an embedded deployment on
/// `store` (see [`open_stores`]); `export` is the tiles export folder, if
/// the log has one, checked as the log's memory before the log opens.
///
/// # Errors
///
/// [`DeployError`].
pub async fn open_log(
    layout: &Layout,
    key: SignerKey,
    config: LogConfig,
    store: impl Into<LogSlot>,
    witnessing: Option<Witnessing>,
    export: Option<&Path>,
) -> Result<(Log, VerifierKey), DeployError> {
    let vkey = key.verifier();
    let state = prepare_signer_state(layout)?;
    let signer: Arc<dyn Signer> = Arc::new(LocalSigner::new(CheckpointSigner::open(key, &state)?));
    let log = open_with_signer(
        layout,
        signer,
        vkey.clone(),
        config,
        store,
        witnessing,
        export,
    )
    .await?;
    Ok((log, vkey))
}

/// Opens the log on `store` with a signer that lives elsewhere.
///
/// # Errors
///
/// [`DeployError`].
pub async fn open_with_signer(
    layout: &Layout,
    signer: Arc<dyn Signer>,
    vkey: VerifierKey,
    config: LogConfig,
    store: impl Into<LogSlot>,
    witnessing: Option<Witnessing>,
    export: Option<&Path>,
) -> Result<Log, DeployError> {
    let LogSlot { store, sequencing } = store.into();
    create_data_dir(layout)?;
    let mut config = config;
    if config.self_audit.is_on() && config.self_audit.state_file.is_none() {
        config.self_audit.state_file = Some(layout.self_audit());
    }
    let vkey_path = layout.vkey();
    fs::write(&vkey_path, format!("{vkey}\n")).map_err(|source| DeployError::DataDir {
        path: vkey_path,
        source,
    })?;
    let store: Arc<dyn LogStore> = store;
    // Before the log opens (and may sign): a publication that remembers a
    // larger or another tree means the data went back in time.
    if let Some(out) = export {
        crate::memory::check_export(&*store, out, &vkey)?;
    }
    let mut builder = Log::builder(store, signer, vkey)
        .config(config)
        .witnessing(witnessing);
    if let Some((sequencing, member)) = &sequencing {
        builder = builder.sequencing(sequencing, *member);
    }
    Ok(builder.open().await?)
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
    fsck_log(layout, None, vkey, progress)
}

/// As [`fsck`], for the log named `log` in the same database (`None`: the
/// default log).
///
/// # Errors
///
/// [`FsckFailure`].
pub fn fsck_log(
    layout: &Layout,
    log: Option<&str>,
    vkey: &VerifierKey,
    progress: &mut dyn FnMut(vellum_log::fsck::Progress),
) -> Result<vellum_log::fsck::FsckReport, FsckFailure> {
    // Each node is read once: a cache would only hold what was read.
    let options = StoreOptions {
        create_if_missing: false,
        node_cache_entries: 0,
        ..StoreOptions::default()
    };
    let names: Vec<String> = log.map(str::to_owned).into_iter().collect();
    let (default, mut named) = RocksStore::open_logs(&layout.store(), &options, &names)?;
    let store = named.pop().unwrap_or(default);
    Ok(vellum_log::fsck::fsck(&store, vkey, progress)?)
}

//! Alerts raised and not yet durable in the log, one file each, so that a
//! crash between raising an alert and recording it loses nothing: the next
//! start records what the spool holds. Recording is idempotent (an alert's
//! event id is a hash of the alert, and the log answers a retried event
//! with its first index), so an alert recorded just before a crash, whose
//! file was not yet removed, is not recorded twice.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::alerts::RaisedAlert;

/// The spool folder.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// Opens (creating, mode 0700) the spool in `dir`.
    pub(crate) fn open(dir: &Path) -> std::io::Result<Spool> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        Ok(Spool {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Writes `alert` durably: a temporary file, fsync, rename, fsync of
    /// the folder. Once this returns, a crash does not lose the alert.
    pub(crate) fn put(&self, alert: &RaisedAlert) -> std::io::Result<()> {
        let id = alert.id();
        let tmp = self.dir.join(format!(".{id}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(alert).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, self.path(&id))?;
        std::fs::File::open(&self.dir)?.sync_all()
    }

    /// Forgets the alert `id` (recorded in the log).
    pub(crate) fn remove(&self, id: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Sets the alert `id` aside (`<id>.rejected`): it cannot be recorded,
    /// and a person should read why (the server's log says).
    pub(crate) fn reject(&self, id: &str) -> std::io::Result<()> {
        std::fs::rename(self.path(id), self.dir.join(format!("{id}.rejected")))
    }

    /// Every alert the spool holds, oldest first. A file that does not
    /// parse (a crash cannot make one: files appear by rename) is an error.
    pub(crate) fn pending(&self) -> std::io::Result<Vec<RaisedAlert>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir)? {
            let path = e?.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let bytes = std::fs::read(&path)?;
            let a: RaisedAlert = serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::other(format!("alert spool file {}: {e}", path.display()))
            })?;
            out.push(a);
        }
        out.sort_by_key(|a| a.at_ms);
        Ok(out)
    }
}

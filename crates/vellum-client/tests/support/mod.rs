//! Real servers in-process, on temporary data folders.

#![allow(dead_code)] // Each test file uses a part of this module.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use vellum_note::VerifierKey;
use vellum_server::{Running, ServeOptions};

/// A running log and how to reach it.
pub struct Server {
    pub running: Running,
    pub url: String,
    pub data: PathBuf,
}

impl Server {
    pub fn vkey(&self) -> VerifierKey {
        self.running.vkey.clone()
    }

    /// Waits until the log has signed its first checkpoint (the empty tree
    /// for a new log), which it does in the background after starting.
    pub async fn first_checkpoint(&self) {
        let mut published = self.running.log.subscribe_published();
        published
            .wait_for(|p| p.is_some())
            .await
            .expect("the log publishes a checkpoint");
    }

    pub async fn stop(self) {
        self.running.stop().await.expect("clean stop");
    }
}

/// Starts a log on `data` (created if missing), with `key` instead of
/// `<data>/log.key` if given, on a free loopback port.
pub async fn serve(data: &Path, key: Option<&Path>) -> Server {
    let mut opts = ServeOptions::embedded();
    opts.data = data.to_owned();
    opts.listen = "127.0.0.1:0".parse().expect("an address");
    opts.key = key.map(Path::to_owned);
    let running = vellum_server::start(opts).await.expect("server starts");
    let url = format!("http://{}", running.grpc_addr);
    Server {
        running,
        url,
        data: data.to_owned(),
    }
}

/// Copies a stopped log's folder, modes included (the key must stay 0600).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create the copy");
    fs::set_permissions(to, fs::metadata(from).expect("stat").permissions()).expect("chmod");
    for e in fs::read_dir(from).expect("list") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            // fs::copy keeps the permission bits.
            fs::copy(e.path(), &target).expect("copy a file");
        }
    }
}

/// Copies a key file with mode 0600.
pub fn copy_key(from: &Path, to: &Path) {
    fs::copy(from, to).expect("copy the key");
    fs::set_permissions(to, fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

/// `n` distinct entries tagged with `tag`.
pub fn entries(tag: &str, n: usize) -> Vec<Bytes> {
    (0..n)
        .map(|i| Bytes::from(format!("{tag} entry {i}")))
        .collect()
}

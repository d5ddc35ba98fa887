//! Copies of data folders and key files, with their permission bits: a
//! log's key must stay 0600, and its folders keep their modes, as a backup
//! tool that preserves them would.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Copies the folder `from` to `to` (created), recursively, modes
/// included, as a file-level backup tool would: RocksDB's `LOCK` file is
/// left out (it belongs to the process that holds the store, and a new
/// one is made by the next open).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    fs::set_permissions(to, fs::metadata(from).expect("stat").permissions()).expect("chmod");
    for e in fs::read_dir(from).unwrap_or_else(|e| panic!("list {}: {e}", from.display())) {
        let e = e.expect("a folder entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("a file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else if e.file_name() != "LOCK" {
            // fs::copy keeps the permission bits.
            fs::copy(e.path(), &target)
                .unwrap_or_else(|err| panic!("copy {}: {err}", e.path().display()));
        }
    }
}

/// Copies a key file and gives the copy mode 0600.
pub fn copy_key(from: &Path, to: &Path) {
    fs::copy(from, to).unwrap_or_else(|e| panic!("copy the key {}: {e}", from.display()));
    fs::set_permissions(to, fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

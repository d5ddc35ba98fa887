//! Corruption and rollback of a data folder, as an operator meets them:
//! `vellum fsck` names a flipped byte in an entry, a node, a dedup record
//! or a checkpoint; `vellum serve` refuses a store whose right edge was
//! damaged, and an older copy of the store, before it signs anything new;
//! its self-audit finds a flipped byte deeper in the tree while it serves,
//! and stops.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::Path;

use bytes::Bytes;
use vellum_log::{LogConfig, Wait};
use vellum_merkle::{TreeSize, leaf_hash};
use vellum_server::embedded::{self, Layout};
use vellum_signer::journal::Journal;
use vellum_store::LogStore;
use vellum_store_rocksdb::testonly::{Record, flip_byte};
use vellum_store_rocksdb::{RocksStore, StoreOptions};
use vellum_testkit::files::copy_dir;
use vellum_testkit::process::{self, Server, Started, assert_ok, assert_rejected, stderr, vellum};

const ORIGIN: &str = "example.com/fsck-test";
/// Entries in the test log: 100 = 64 + 32 + 4, so the right edge is the
/// nodes (6, 0), (5, 2) and (2, 24).
const SIZE: u64 = 100;

fn entry(i: u64) -> Bytes {
    Bytes::from(format!("audit record {i}"))
}

/// A data folder holding a log of `SIZE` entries, signed in ten rounds of
/// ten (so ten checkpoints are stored), stopped cleanly.
fn make_log(data: &Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let layout = Layout::new(data);
        let (key, _) = embedded::load_or_create_key(&layout, None, Some(ORIGIN)).unwrap();
        let (store, _) = embedded::open_stores(&layout, &StoreOptions::default(), &[]).unwrap();
        let (log, _) = embedded::open_log(&layout, key, LogConfig::new(ORIGIN), store, None, None)
            .await
            .unwrap();
        for round in 0..SIZE / 10 {
            let batch = (round * 10..round * 10 + 10).map(entry).collect();
            log.append(batch, Wait::Checkpoint).await.unwrap();
        }
        log.shutdown().await;
    });
}

fn fsck(data: &Path) -> std::process::Output {
    vellum(["fsck".as_ref(), "--data".as_ref(), data.as_os_str()])
}

/// Records in the signer's journal: what it has signed (and refused).
fn journal_records(data: &Path) -> usize {
    Journal::read_all(&Layout::new(data).signer())
        .unwrap()
        .len()
}

/// How many checkpoints the store holds, counted through the store itself.
fn stored_checkpoints(data: &Path) -> usize {
    let options = StoreOptions {
        create_if_missing: false,
        ..StoreOptions::default()
    };
    let store = RocksStore::open(&data.join("log"), &options).unwrap();
    (0..=SIZE)
        .filter(|s| {
            store
                .checkpoint_at(TreeSize::new(*s).unwrap())
                .unwrap()
                .is_some()
        })
        .count()
}

/// A copy of the clean log with one byte of `record` flipped.
fn damaged(
    clean: &Path,
    dir: &Path,
    name: &str,
    record: Record,
    offset: usize,
) -> std::path::PathBuf {
    let data = dir.join(name);
    copy_dir(clean, &data);
    // The signer's memory lives beside the data folder: the copy is of the
    // whole deployment.
    copy_dir(&Layout::new(clean).signer(), &Layout::new(&data).signer());
    flip_byte(&data.join("log"), record, offset, 0x01).unwrap();
    data
}

#[test]
fn fsck_passes_a_clean_log_and_names_each_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    make_log(&clean);

    let out = fsck(&clean);
    assert_ok(&out);
    let err = stderr(&out);
    let stored = stored_checkpoints(&clean);
    assert!(stored >= 10, "one checkpoint per waited append at least");
    assert!(
        err.contains(&format!(
            "100 entries, 97 nodes, 100 dedup records and {stored} checkpoints verified"
        )),
        "{err}"
    );
    let out = vellum([
        "fsck".as_ref(),
        "--quiet".as_ref(),
        "--data".as_ref(),
        clean.as_os_str(),
    ]);
    assert_ok(&out);
    assert!(out.stderr.is_empty(), "--quiet: {}", stderr(&out));

    let d = damaged(&clean, dir.path(), "entry", Record::Entry(37), 3);
    assert_rejected(&fsck(&d), &["entry 37 is corrupt"]);

    let d = damaged(&clean, dir.path(), "leaf", Record::Node(0, 5), 0);
    assert_rejected(&fsck(&d), &["node (level 0, index 5) is corrupt"]);

    // Not on the right edge, so only a full check can find it.
    let d = damaged(&clean, dir.path(), "inner", Record::Node(1, 3), 31);
    assert_rejected(&fsck(&d), &["node (level 1, index 3) is corrupt"]);

    let d = damaged(
        &clean,
        dir.path(),
        "dedup",
        Record::Dedup(leaf_hash(&entry(42))),
        7,
    );
    assert_rejected(&fsck(&d), &["dedup record of entry 42"]);

    let d = damaged(&clean, dir.path(), "checkpoint", Record::Checkpoint(50), 40);
    assert_rejected(&fsck(&d), &["checkpoint stored for size 50 is bad"]);

    // Nothing to check is trouble, not a verdict.
    let out = fsck(&dir.path().join("nothing-here"));
    process::assert_fails(&out, 2, &["holds no log store"]);
}

#[test]
fn a_damaged_right_edge_stops_serve_before_it_signs() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    make_log(&clean);
    let data = damaged(&clean, dir.path(), "edge", Record::Node(2, 24), 0);
    let before = journal_records(&data);

    match Server::start(&data, &["--origin", ORIGIN]) {
        Started::Up(_) => panic!("vellum serve started on a store with a damaged right edge"),
        Started::Refused(status, err) => {
            assert_eq!(status.code(), Some(2), "{err}");
            assert!(err.contains("is corrupt"), "{err}");
            assert!(err.contains("size 100"), "{err}");
        }
    }
    assert_eq!(journal_records(&data), before, "nothing new may be signed");
    assert_rejected(&fsck(&data), &["corrupt"]);
}

#[test]
fn an_older_copy_of_the_store_is_refused_with_the_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backup = dir.path().join("backup");
    let server = Server::start_ok(&data, &["--origin", ORIGIN]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(vellum_client::UnverifiedClient::connect(&server.url))
        .unwrap();
    let append = |from: u64, to: u64| {
        rt.block_on(client.append(
            (from..to).map(entry).collect(),
            vellum_client::Wait::Checkpoint,
        ))
        .unwrap()
    };
    append(0, 30);
    // A backup of the store taken while the log runs (idle: every write it
    // acknowledged is synced), then the log goes on.
    copy_dir(&data.join("log"), &backup);
    append(30, 45);
    append(45, 60);
    // An open connection would hold up the server's graceful stop: the
    // runtime that drives it goes too.
    drop(client);
    drop(rt);
    let (status, err) = server.terminate();
    assert_eq!(status.code(), Some(0), "{err}");

    // The old store comes back; the signer's journal stays as it is.
    std::fs::remove_dir_all(data.join("log")).unwrap();
    copy_dir(&backup, &data.join("log"));
    let before = journal_records(&data);
    match Server::start(&data, &["--origin", ORIGIN]) {
        Started::Up(_) => panic!("vellum serve started on an older copy of its store"),
        Started::Refused(status, err) => {
            assert_eq!(status.code(), Some(2), "{err}");
            assert!(
                err.contains(
                    "the signer remembers signing a tree of size 60, but the store holds only \
                     30 entries"
                ),
                "{err}"
            );
            assert!(err.contains("an older copy"), "{err}");
        }
    }
    assert_eq!(journal_records(&data), before, "nothing new may be signed");
    // The old copy itself is intact: fsck has nothing to say about it.
    assert_ok(&fsck(&data));
}

#[test]
fn the_self_audit_of_serve_finds_a_flipped_inner_node_and_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    make_log(&clean);
    // Node (1, 3) is not on the right edge: the start-up checks cannot see
    // it, the self-audit must.
    let data = damaged(&clean, dir.path(), "inner", Record::Node(1, 3), 0);
    let before = journal_records(&data);
    let says = "node (level 1, index 3) is corrupt";

    // The default pace verifies 100 entries at once: the server may stop
    // before or after its banner is out.
    let (status, err) = match Server::start(&data, &["--origin", ORIGIN]) {
        Started::Refused(status, err) => (status, err),
        Started::Up(mut server) => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let status = loop {
                if let Some(s) = server.child.try_wait().unwrap() {
                    break s;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the self-audit did not stop the server"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            };
            let mut err = server.banner.clone();
            while let Some(line) = server.next_line(std::time::Duration::from_secs(2)) {
                err.push_str(&line);
                err.push('\n');
            }
            (status, err)
        }
    };
    assert!(!status.success(), "{err}");
    assert!(err.contains(says), "{err}");
    assert!(err.contains("self-audit"), "{err}");
    assert_eq!(journal_records(&data), before, "nothing new may be signed");

    // The finding was kept: the next start refuses before it signs.
    match Server::start(&data, &["--origin", ORIGIN]) {
        Started::Up(_) => panic!("vellum serve started over a finding of its self-audit"),
        Started::Refused(status, err) => {
            assert_eq!(status.code(), Some(2), "{err}");
            assert!(err.contains(says), "{err}");
        }
    }
    assert_eq!(journal_records(&data), before, "nothing new may be signed");
    assert_rejected(&fsck(&data), &[says]);
}

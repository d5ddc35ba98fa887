//! A witness remembers what it cosigned across restarts, refuses to start on
//! a corrupt state file, and hands out no cosignature when it cannot persist.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::fs;

use common::{TestLog, TestWitness, post};
use vellum_note::CosignerKey;
use vellum_witness::{StateError, TrustedLogs, Witness};

fn logs(log: &TestLog) -> TrustedLogs {
    TrustedLogs::from_keys([log.key.verifier()]).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sizes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let key = CosignerKey::generate("witness.example/w1").unwrap();
    let mut log = TestLog::new("a.example/log");
    log.grow_to(30);
    let http = reqwest::Client::new();

    let w = TestWitness::start(dir.path(), key.clone(), logs(&log)).await;
    assert_eq!(
        post(&http, &w.add_checkpoint_url(), log.body(0, 10))
            .await
            .status,
        200
    );
    assert_eq!(
        post(&http, &w.add_checkpoint_url(), log.body(10, 20))
            .await
            .status,
        200
    );
    w.stop().await;

    let w = TestWitness::start(dir.path(), key.clone(), logs(&log)).await;
    let url = w.add_checkpoint_url();
    for old in [0, 10] {
        let a = post(&http, &url, log.body(old, 30)).await;
        assert_eq!((a.status, a.body.as_str()), (409, "20\n"));
    }
    let a = post(&http, &url, log.body(20, 30)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    w.stop().await;

    let w = Witness::open(key, logs(&log), dir.path()).unwrap();
    let list = w.state().list();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].origin(), log.origin());
    let latest = list[0].latest().unwrap();
    assert_eq!((latest.size().get(), latest.root()), (30, log.root(30)));
    assert_eq!(latest.note().text(), log.checkpoint_text(30));
}

#[test]
fn a_corrupt_state_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let key = CosignerKey::generate("witness.example/w1").unwrap();
    let mut log = TestLog::new("a.example/log");
    log.grow_to(10);
    let w = Witness::open(key.clone(), logs(&log), dir.path()).unwrap();
    w.add_checkpoint(&log.body(0, 10)).unwrap();
    drop(w);
    let file = fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let good = fs::read(&file).unwrap();

    let mut flipped = good.clone();
    let i = flipped.len() / 2;
    flipped[i] ^= 0x01;
    for bad in [
        flipped,
        good[..good.len() / 2].to_vec(),
        b"not a state file".to_vec(),
        vec![],
    ] {
        fs::write(&file, &bad).unwrap();
        let err = Witness::open(key.clone(), logs(&log), dir.path()).unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("corrupt") && msg.contains(log.origin()),
            "{msg}"
        );
        assert!(msg.contains(&file.display().to_string()), "{msg}");
    }
    fs::write(&file, &good).unwrap();
    assert!(Witness::open(key, logs(&log), dir.path()).is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn no_cosignature_without_a_durable_state() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("state");
    let key = CosignerKey::generate("witness.example/w1").unwrap();
    let mut log = TestLog::new("a.example/log");
    log.grow_to(20);
    let http = reqwest::Client::new();
    let w = TestWitness::start(&dir, key, logs(&log)).await;
    let url = w.add_checkpoint_url();
    assert_eq!(post(&http, &url, log.body(0, 10)).await.status, 200);

    // The folder disappears: the write fails before anything is replaced.
    fs::remove_dir_all(&dir).unwrap();
    let a = post(&http, &url, log.body(10, 20)).await;
    assert_eq!(a.status, 500);
    assert!(!a.body.contains('\u{2014}'), "no cosignature: {}", a.body);
    assert_eq!(
        w.witness.state().list()[0].latest().unwrap().size().get(),
        10
    );

    // The folder is back: the witness goes on from what it had persisted.
    fs::create_dir_all(&dir).unwrap();
    let a = post(&http, &url, log.body(10, 20)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    w.stop().await;
}

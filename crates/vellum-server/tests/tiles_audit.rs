//! Export and audit: the auditor passes against the server and against an
//! export served by a static web server nobody here wrote, names the place
//! when one byte is changed, resumes, and catches a rollback; exports are
//! incremental and refuse a folder that is not the log's.

#![allow(clippy::unwrap_used)]

mod tiles_support;

use std::path::Path;
use std::time::Duration;

use tiles_support::{ORIGIN, StaticServer, append, server};
use vellum_audit::{AuditError, AuditOptions, audit};
use vellum_note::{Policy, VerifierKey};
use vellum_server::Running;
use vellum_server::export::{ExportError, ExportOptions, export, export_latest};

fn options(url: &str, vkey: &VerifierKey, state: Option<&Path>) -> AuditOptions {
    let mut o = AuditOptions::new(url, Policy::quorum_none(vkey.clone()).unwrap());
    o.log_key = Some(vkey.clone());
    o.state = state.map(Path::to_path_buf);
    // Python's http.server listens with a backlog of 5: more connections
    // at once overflow it, and each dropped SYN costs a one-second
    // retransmission. Two bundles in flight stay under it.
    o.parallel = 2;
    o
}

/// Exports the running log's latest published checkpoint.
fn export_now(running: &Running, out: &Path) -> vellum_server::export::ExportReport {
    let note = running.log.published().unwrap().note;
    export(&**running.log.store(), &note, out, false).unwrap()
}

fn flip(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0x20;
    std::fs::write(path, b).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_the_server_and_a_static_export() {
    let dir = tempfile::tempdir().unwrap();
    let running = server(dir.path(), None).await;
    let url = format!("http://{}/", running.http_addr.unwrap());
    let state = dir.path().join("audit.state");
    let vkey = running.vkey.clone();

    append(&running.log, 0, 1000, 1000).await;
    let early = dir.path().join("early");
    export_now(&running, &early);
    let r = audit(&options(&url, &vkey, Some(&state))).await.unwrap();
    assert_eq!((r.size, r.entries, r.previous), (1000, 1000, None));
    assert_eq!(r.root, running.log.published().unwrap().root);

    append(&running.log, 1000, 70_000, 4096).await;
    let r = audit(&options(&url, &vkey, Some(&state))).await.unwrap();
    assert_eq!(
        (r.size, r.entries, r.previous),
        (70_000, 69_000, Some(1000))
    );
    // 274 bundles from 1000 on: bundle 3 (again) to 273.
    assert_eq!(r.bundles, 274 - 3);

    // The same log as files, served by python3 -m http.server.
    let out = dir.path().join("export");
    let report = export_now(&running, &out);
    assert_eq!(report.size, 70_000);
    let web = StaticServer::start(&out).await;
    let full = audit(&options(&web.url, &vkey, None)).await.unwrap();
    assert_eq!(
        (full.size, full.root, full.entries),
        (70_000, r.root, 70_000)
    );
    assert_eq!((full.bundles, full.hash_tiles), (274, 274 + 2 + 1));
    // Nothing new: the state agrees and nothing is fetched but the checkpoint.
    let again = audit(&options(&web.url, &vkey, Some(&state)))
        .await
        .unwrap();
    assert_eq!((again.entries, again.requests), (0, 1));

    // A copy of an earlier state of the log is a rollback for the state.
    let old = StaticServer::start(&early).await;
    let e = audit(&options(&old.url, &vkey, Some(&state)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            AuditError::Rollback {
                before: 70_000,
                now: 1000
            }
        ),
        "{e}"
    );
    assert!(e.is_verdict());
    // Another log's key: the checkpoint does not verify.
    let other = vellum_note::SignerKey::generate(ORIGIN, vellum_note::SigType::Ed25519).unwrap();
    let e = audit(&options(&web.url, &other.verifier(), None))
        .await
        .unwrap_err();
    assert!(matches!(e, AuditError::Checkpoint { .. }), "{e}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_changed_byte_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let running = server(dir.path(), None).await;
    append(&running.log, 0, 70_000, 4096).await;
    let out = dir.path().join("export");
    export_now(&running, &out);
    let vkey = running.vkey.clone();
    running.stop().await.unwrap();
    let web = StaticServer::start(&out).await;
    let run = || {
        let o = options(&web.url, &vkey, None);
        async move { audit(&o).await }
    };

    type Expected = &'static dyn Fn(&AuditError) -> bool;
    let cases: [(&str, usize, Expected); 5] = [
        // A byte of an entry (entries are "vellum test entry N": byte 40 of
        // bundle 5 is in entry 5 * 256 + 1).
        (
            "tile/entries/005",
            40,
            &|e| matches!(e, AuditError::EntryMismatch { bundle, index: 1281, .. } if bundle.path() == "tile/entries/005"),
        ),
        // A leaf hash.
        (
            "tile/0/007",
            32 * 9 + 3,
            &|e| matches!(e, AuditError::EntryMismatch { tile, index: 1801, position: 9, .. } if tile.path() == "tile/0/007"),
        ),
        // A hash of a full level-1 tile.
        (
            "tile/1/000",
            32 * 100,
            &|e| matches!(e, AuditError::TileMismatch { path, position: 100, level: 8, .. } if path == "tile/1/000"),
        ),
        // The partial level-2 tile.
        (
            "tile/2/000.p/1",
            31,
            &|e| matches!(e, AuditError::TileMismatch { path, position: 0, .. } if path == "tile/2/000.p/1"),
        ),
        // A length prefix in the partial bundle.
        (
            "tile/entries/273.p/112",
            0,
            &|e| matches!(e, AuditError::Malformed { path, .. } if path == "tile/entries/273.p/112"),
        ),
    ];
    for (path, at, expected) in cases {
        let file = out.join(path);
        let original = std::fs::read(&file).unwrap();
        flip(&file, at);
        let e = run().await.unwrap_err();
        assert!(expected(&e), "{path}: {e}");
        assert!(e.is_verdict());
        assert!(e.to_string().contains(path), "{e}");
        std::fs::write(&file, original).unwrap();
    }
    // A missing bundle is a verdict naming it too.
    let file = out.join("tile/entries/100");
    let original = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    let e = run().await.unwrap_err();
    assert!(
        matches!(&e, AuditError::Missing { path, status: 404, .. } if path == "tile/entries/100"),
        "{e}"
    );
    std::fs::write(&file, original).unwrap();
    run().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_audit_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let running = server(dir.path(), None).await;
    append(&running.log, 0, 40_000, 4096).await;
    let out = dir.path().join("export");
    export_now(&running, &out);
    let vkey = running.vkey.clone();
    running.stop().await.unwrap();
    let web = StaticServer::start(&out).await;
    let state = dir.path().join("state");
    let mut o = options(&web.url, &vkey, Some(&state));
    o.save_every = Duration::ZERO;

    // The audit stops at a bundle the server does not have...
    let file = out.join("tile/entries/100");
    let original = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(matches!(audit(&o).await, Err(AuditError::Missing { .. })));
    // ...and continues from where it got once it is back.
    std::fs::write(&file, original).unwrap();
    let r = audit(&o).await.unwrap();
    assert_eq!(r.resumed_at, Some(100 * 256));
    assert_eq!(
        (r.size, r.entries, r.previous),
        (40_000, 40_000 - 100 * 256, None)
    );
    let full = audit(&options(&web.url, &vkey, None)).await.unwrap();
    assert_eq!(full.root, r.root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_incremental_and_refuse_other_folders() {
    let dir = tempfile::tempdir().unwrap();
    let running = server(dir.path(), None).await;
    let store = running.log.store().clone();
    let out = dir.path().join("export");

    append(&running.log, 0, 300, 300).await;
    let first = export_latest(&*store, &out, false).unwrap();
    // Level 0: tile 0 and 1.p/44; level 1: 0.p/1; bundles 0 and 1.p/44.
    assert_eq!((first.size, first.previous, first.written), (300, None, 5));
    assert!(out.join("tile/0/001.p/44").is_file());
    let again = export_latest(&*store, &out, false).unwrap();
    assert_eq!(
        (again.previous, again.written, again.verified),
        (Some(300), 0, 3)
    );

    append(&running.log, 300, 600, 300).await;
    let second = export_latest(&*store, &out, false).unwrap();
    // New: tile 1 (full), 2.p/88, 1/000.p/2, bundles 1 and 2.p/88.
    assert_eq!((second.previous, second.written), (Some(300), 5));
    assert_eq!(second.removed_partials, 2);
    assert!(!out.join("tile/0/001.p").exists());
    assert!(!out.join("tile/entries/001.p").exists());
    assert!(
        out.join("tile/1/000.p/1").is_file(),
        "kept: tile/1/000 is not full"
    );
    let mut files = tiles_support::files(&out);
    files.retain(|f| !f.starts_with("checkpoint"));
    assert_eq!(files.len(), 2 + 1 + 2 + 2 + 1);

    // A tile the folder's checkpoint covers is trusted; --check-all reads it.
    flip(&out.join("tile/0/000"), 5);
    export_latest(&*store, &out, false).unwrap();
    let e = export_latest(&*store, &out, true).unwrap_err();
    assert!(matches!(&e, ExportError::Mismatch { offset: 5, .. }), "{e}");
    assert!(e.to_string().contains("tile/0/000"), "{e}");

    // Another log's folder is refused before anything is written.
    let other = tempfile::tempdir().unwrap();
    let foreign = tiles_support::vectors().join("checkpoint");
    std::fs::copy(&foreign, other.path().join("checkpoint")).unwrap();
    let e = export_latest(&*store, other.path(), false).unwrap_err();
    assert!(matches!(e, ExportError::Folder { .. }), "{e}");
    assert!(!other.path().join("tile").exists());
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_export_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let running = server(
        dir.path(),
        Some(ExportOptions {
            out: out.clone(),
            interval: Duration::from_millis(20),
        }),
    )
    .await;
    let vkey = running.vkey.clone();
    append(&running.log, 0, 5000, 700).await;
    let last = running.log.published().unwrap();
    running.stop().await.unwrap();
    assert_eq!(std::fs::read(out.join("checkpoint")).unwrap(), last.note);
    let web = StaticServer::start(&out).await;
    let r = audit(&options(&web.url, &vkey, None)).await.unwrap();
    assert_eq!((r.size, r.root), (5000, last.root));
}

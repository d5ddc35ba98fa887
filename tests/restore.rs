//! A restored backup must not roll the log back silently: the operator's
//! scenario as processes. `vellum serve` runs, its data folder is copied
//! while it runs, more is appended, the log stops, the old copy is put
//! back, and the next start is refused, by each of the log's memories in
//! turn: the signer's journal outside the data folder, a tiles export, and a
//! witness. Then the intended way back (`vellum recover`) works and is
//! recorded in the signer's journal.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use vellum_client::{UnverifiedClient, Wait};
use vellum_note::Note;
use vellum_signer::journal::{Journal, RecordKind};
use vellum_testkit::files::copy_dir;
use vellum_testkit::process::{Daemon, Server, Started, keygen, stderr, stdout, vellum};

const ORIGIN: &str = "example.com/restore";

fn entry(i: u64) -> Bytes {
    Bytes::from(format!("audit record {i}"))
}

/// Appends entries `from..to` in calls of 100 and waits as told.
fn append(server: &Server, from: u64, to: u64, wait: Wait) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = UnverifiedClient::connect(&server.url).await.unwrap();
        let mut i = from;
        while i < to {
            let end = (i + 100).min(to);
            client
                .append((i..end).map(entry).collect(), wait)
                .await
                .unwrap();
            i = end;
        }
    });
}

/// The size of the checkpoint the log serves.
fn served_size(server: &Server) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let note = rt.block_on(async {
        let client = UnverifiedClient::connect(&server.url).await.unwrap();
        client.checkpoint().await.unwrap()
    });
    checkpoint_size(&note)
}

fn checkpoint_size(note: &[u8]) -> u64 {
    let note = Note::parse(note).unwrap();
    note.text().lines().nth(1).unwrap().parse().unwrap()
}

/// Puts `backup` back in place of `live`.
fn restore(backup: &Path, live: &Path) {
    std::fs::remove_dir_all(live).unwrap();
    copy_dir(backup, live);
}

/// Where the embedded signer keeps its memory for data folder `data`.
fn signer_state(data: &Path) -> PathBuf {
    vellum_server::embedded::Layout::new(data).signer()
}

/// Waits until the export folder's checkpoint has `size`.
fn wait_for_export(folder: &Path, size: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(note) = std::fs::read(folder.join("checkpoint"))
            && checkpoint_size(&note) == size
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the export never reached size {size}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[track_caller]
fn refused(started: Started<Server>) -> String {
    match started {
        Started::Up(_) => panic!("vellum serve started on a restored older copy of its data"),
        Started::Refused(status, err) => {
            assert_eq!(status.code(), Some(2), "{err}");
            err
        }
    }
}

fn journal_kinds(state: &Path) -> Vec<(RecordKind, String)> {
    Journal::read_all(state)
        .unwrap()
        .into_iter()
        .map(|r| (r.kind, String::from_utf8_lossy(&r.payload).into_owned()))
        .collect()
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

#[test]
fn a_restored_data_folder_is_refused_by_the_signer_memory_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backup = dir.path().join("backup");
    let origin = [os("--origin"), os(ORIGIN)];

    let server = Server::start_ok(&data, &origin);
    append(&server, 0, 300, Wait::Checkpoint);
    // A backup taken while the log runs (idle between calls: every write it
    // acknowledged is synced), then the log goes on.
    copy_dir(&data, &backup);
    append(&server, 300, 600, Wait::Checkpoint);
    let (status, err) = server.terminate();
    assert_eq!(status.code(), Some(0), "{err}");

    // The signer's memory is not in the data folder, so the restore does
    // not bring an old one back.
    assert!(!data.join("signer").exists());
    let state = signer_state(&data);
    let before = journal_kinds(&state).len();

    restore(&backup, &data);
    let err = refused(Server::start(&data, &origin));
    assert!(
        err.contains(
            "the signer remembers signing a tree of size 600, but the store holds only 300 entries"
        ),
        "{err}"
    );
    assert_eq!(
        journal_kinds(&state).len(),
        before,
        "nothing new was signed"
    );

    // `vellum doctor` calls this deployment what it is.
    let out = vellum([os("doctor"), os("--data"), data.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("warning  rollback      single point of rollback"),
        "{}",
        stdout(&out)
    );

    // Recovery never moves the signer's memory back, even on the operator's
    // word: the entries 300..600 are gone from this copy.
    let out = vellum([
        os("recover"),
        os("--data"),
        data.as_os_str(),
        os("--trust-store"),
        os("--reason"),
        os("test"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("entries 300..600 are missing"),
        "{}",
        stderr(&out)
    );
    assert_eq!(journal_kinds(&state).len(), before);
}

#[test]
fn an_export_refuses_a_restored_copy_and_recover_fetches_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let export = dir.path().join("export");
    let backup = dir.path().join("backup");
    let args = [
        os("--origin"),
        os(ORIGIN),
        os("--export"),
        export.as_os_str(),
        os("--export-interval"),
        os("10ms"),
    ];

    let server = Server::start_ok(&data, &args);
    append(&server, 0, 300, Wait::Checkpoint);
    wait_for_export(&export, 300);
    // A backup of the whole machine: the data and the signer's memory.
    copy_dir(&data, &backup.join("data"));
    copy_dir(&signer_state(&data), &backup.join("signer"));
    append(&server, 300, 700, Wait::Checkpoint);
    wait_for_export(&export, 700);
    let (status, err) = server.terminate();
    assert_eq!(status.code(), Some(0), "{err}");

    restore(&backup.join("data"), &data);
    restore(&backup.join("signer"), &signer_state(&data));
    let err = refused(Server::start(&data, &args));
    assert!(
        err.contains("publishes a tree of size 700, but the store holds only 300 entries"),
        "{err}"
    );

    // The way back: the missing entries come from the export, checked
    // against its signed root, and the signer adopts the result.
    let out = vellum([
        os("recover"),
        os("--data"),
        data.as_os_str(),
        os("--from-tiles"),
        export.as_os_str(),
        os("--reason"),
        os("restore drill 7"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "ok 700");
    assert!(
        stderr(&out).contains("fetched 400 entries"),
        "{}",
        stderr(&out)
    );
    let records = journal_kinds(&signer_state(&data));
    let n = records.len();
    assert_eq!(records[n - 2].0, RecordKind::Recovered);
    assert!(
        records[n - 2].1.contains("restore drill 7") && records[n - 2].1.contains("size 700"),
        "{}",
        records[n - 2].1
    );
    assert_eq!(records[n - 1].0, RecordKind::Signed);

    let server = Server::start_ok(&data, &args);
    assert_eq!(served_size(&server), 700);
    append(&server, 700, 710, Wait::Checkpoint);
    assert_eq!(served_size(&server), 710);
    let (status, err) = server.terminate();
    assert_eq!(status.code(), Some(0), "{err}");
    let out = vellum([os("fsck"), os("--data"), data.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_witness_refuses_a_restored_copy_and_confirms_a_new_machine() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log_vkey = keygen(d, ORIGIN, false);
    let key = d.join(format!("{}.key", ORIGIN.replace('/', "_")));
    let logs = d.join("logs");
    std::fs::write(&logs, format!("log {log_vkey}\n")).unwrap();
    let wname = "witness.example.org";
    let wvkey = keygen(d, wname, true);
    let wkey = d.join(format!("{wname}.key"));
    let witness = Daemon::start_ok(&[
        os("witness"),
        os("--logs"),
        logs.as_os_str(),
        os("--state"),
        d.join("w-state").as_os_str(),
        os("--key"),
        wkey.as_os_str(),
        os("--listen"),
        os("127.0.0.1:0"),
    ]);
    let policy = d.join("policy");
    std::fs::write(
        &policy,
        format!(
            "log {log_vkey}\nwitness w0 {wvkey} {}\nquorum w0\n",
            witness.field("http")
        ),
    )
    .unwrap();

    let data = d.join("data");
    let backup = d.join("backup");
    let args = [
        os("--key"),
        key.as_os_str(),
        os("--witness-policy"),
        policy.as_os_str(),
    ];
    let server = Server::start_ok(&data, &args);
    append(&server, 0, 200, Wait::Witnessed);
    copy_dir(&data, &backup.join("data"));
    copy_dir(&signer_state(&data), &backup.join("signer"));
    append(&server, 200, 450, Wait::Witnessed);
    let (status, err) = server.terminate();
    assert_eq!(status.code(), Some(0), "{err}");
    let latest = d.join("latest");
    copy_dir(&data, &latest);

    // The whole machine rewound: only the witness remembers.
    restore(&backup.join("data"), &data);
    restore(&backup.join("signer"), &signer_state(&data));
    let err = refused(Server::start(&data, &args));
    assert!(
        err.contains(
            "witness w0 has cosigned a tree of size 450 for this log, but the store holds a \
             signed tree of only size 200"
        ),
        "{err}"
    );

    // A new machine with the latest backup of the data and no signer
    // memory: refused until the operator recovers on purpose.
    restore(&latest, &data);
    std::fs::remove_dir_all(signer_state(&data)).unwrap();
    let err = refused(Server::start(&data, &args));
    assert!(err.contains("the signer has lost its state"), "{err}");
    assert!(err.contains("vellum recover"), "{err}");

    let out = vellum([
        os("recover"),
        os("--data"),
        data.as_os_str(),
        os("--key"),
        key.as_os_str(),
        os("--from-witnesses"),
        policy.as_os_str(),
        os("--reason"),
        os("moved to a new host"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "ok 450");
    assert!(
        stderr(&out).contains("witness w0: cosigned this checkpoint"),
        "{}",
        stderr(&out)
    );
    let records = journal_kinds(&signer_state(&data));
    assert_eq!(
        records.len(),
        2,
        "a new journal: the recovery, then the checkpoint"
    );
    assert_eq!(records[0].0, RecordKind::Recovered);
    assert!(
        records[0].1.contains("moved to a new host"),
        "{}",
        records[0].1
    );
    assert!(records[0].1.contains("witnesses w0"), "{}", records[0].1);

    let server = Server::start_ok(&data, &args);
    append(&server, 450, 460, Wait::Witnessed);
    assert_eq!(served_size(&server), 460);
    drop(witness);
}

#[test]
fn the_signer_memory_may_not_live_inside_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let inside = data.join("journal");
    let err = refused(Server::start(
        &data,
        &[
            os("--origin"),
            os(ORIGIN),
            os("--signer-state"),
            inside.as_os_str(),
        ],
    ));
    assert!(err.contains("is inside the data folder"), "{err}");
    let out = vellum([
        os("doctor"),
        os("--json"),
        os("--data"),
        data.as_os_str(),
        os("--signer-state"),
        inside.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["verdict"], "error");
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "signer-state")
        .unwrap();
    assert_eq!(finding["severity"], "error");
}

#[test]
fn a_journal_in_the_old_place_moves_out_of_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let origin = [os("--origin"), os(ORIGIN)];
    let server = Server::start_ok(&data, &origin);
    append(&server, 0, 50, Wait::Checkpoint);
    let (status, err) = server.terminate();
    assert_eq!(status.code(), Some(0), "{err}");

    // As an older version left it: the journal inside the data folder.
    let state = signer_state(&data);
    std::fs::rename(&state, data.join("signer")).unwrap();
    let server = Server::start_ok(&data, &origin);
    assert!(state.is_dir() && !data.join("signer").exists());
    assert_eq!(served_size(&server), 50);
    append(&server, 50, 60, Wait::Checkpoint);
    assert_eq!(served_size(&server), 60);
}

//! The events index as an operator meets it, with the real binary: the
//! index `vellum reindex` rebuilds from scratch is the one the server
//! wrote online, key for key; a lost or stale index comes back complete at
//! the next start and no history misses an event; `vellum fsck` names a
//! key that was deleted, altered or added, and `vellum reindex` repairs
//! it; reindex refuses a running log and a raw log, leaving nothing
//! half-built.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::Path;

use rocksdb::{DB, Options};
use tempfile::TempDir;
use vellum_event::{Actor, Outcome, OutcomeResult, Recorded, Resource, Submitted};
use vellum_merkle::Hash;
use vellum_proto::v1 as pb;
use vellum_testkit::files::copy_dir;
use vellum_testkit::process::{
    Server, assert_fails, assert_ok, stderr, stdout, vellum, vellum_stdin,
};

/// Event `n` of a varied set: three actors, four actions, two resource
/// kinds and four ids (one with a `/`), times before 1970 and after 2038,
/// every third with an event id.
fn varied(n: usize) -> Submitted {
    let ids = ["doc-1", "doc-2", "a/b", "doc-1/editors"];
    let times = [
        "2026-12-05T10:00:00Z",
        "1969-07-20T20:17:40.5Z",
        "2040-02-29T23:59:59.999999999Z",
        "2026-12-05T10:00:00Z",
        "2001-09-09T01:46:40Z",
    ];
    Submitted {
        actor: Actor {
            id: ["alice", "bob", "carol"][n % 3].into(),
            kind: "user".into(),
            on_behalf_of: None,
        },
        action: [
            "document.create",
            "document.update",
            "permission.grant",
            "document.delete",
        ][n % 4]
            .into(),
        resource: Resource {
            kind: if n.is_multiple_of(5) {
                "permission"
            } else {
                "document"
            }
            .into(),
            id: ids[n % ids.len()].into(),
        },
        outcome: Outcome {
            result: Some(OutcomeResult::Success),
            reason: None,
        },
        event_time: times[n % times.len()].into(),
        attributes: Default::default(),
        payload: Some(format!(r#"{{"n":{n}}}"#).into_bytes()),
        event_id: n.is_multiple_of(3).then(|| format!("req-{n}")),
    }
}

/// Records `events` through the server's gRPC API with `writers`
/// concurrent clients (so that rounds carry several events), then one more
/// (`varied(1)`) waited for with a checkpoint. Returns the answers.
fn record_all(url: &str, events: Vec<Submitted>, writers: usize) -> Vec<pb::RecordResponse> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let connect = || async {
            pb::log_client::LogClient::connect(url.to_owned())
                .await
                .unwrap()
        };
        let mut tasks = Vec::new();
        let per = events.len().div_ceil(writers);
        for chunk in events.chunks(per).map(<[Submitted]>::to_vec) {
            let mut c = connect().await;
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for e in chunk {
                    let req = pb::RecordRequest {
                        event: Some((&e).into()),
                        wait: pb::WaitFor::Durable as i32,
                    };
                    out.push(c.record(req).await.unwrap().into_inner());
                }
                out
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.extend(t.await.unwrap());
        }
        // A checkpoint over everything, for the histories: one more event
        // (with no event id, so never a duplicate).
        let mut c = connect().await;
        let last = pb::RecordRequest {
            event: Some((&varied(1)).into()),
            wait: pb::WaitFor::Checkpoint as i32,
        };
        out.push(c.record(last).await.unwrap().into_inner());
        out
    })
}

/// Every key and value of the index in `dir`, read without changing it.
fn dump(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = DB::open_for_read_only(&Options::default(), dir, false).unwrap();
    let mut it = db.raw_iterator();
    it.seek_to_first();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        out.push((k.to_vec(), v.to_vec()));
        it.next();
    }
    it.status().unwrap();
    out
}

/// The watermark's count: how many entries the index says it took in.
fn watermark(dump: &[(Vec<u8>, Vec<u8>)]) -> u64 {
    let (_, v) = dump.iter().find(|(k, _)| k == b"mwatermark").unwrap();
    u64::from_be_bytes(v[..8].try_into().unwrap())
}

/// `kind ‖ len ‖ s ‖ ...`: a key prefix as the index writes it.
fn prefix(kind: u8, parts: &[&str]) -> Vec<u8> {
    let mut k = vec![kind];
    for p in parts {
        k.extend_from_slice(&(p.len() as u32).to_be_bytes());
        k.extend_from_slice(p.as_bytes());
    }
    k
}

fn stop(server: Server) {
    let (status, rest) = server.terminate();
    assert!(status.success(), "{status}: {rest}");
}

fn cli(args: &[&str], data: &Path) -> std::process::Output {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    all.extend(["--data".as_ref(), data.as_os_str()]);
    vellum(all)
}

/// `vellum serve` with its info log, so that the banner shows what the
/// start did to the index.
fn start_logged(data: &Path) -> Server {
    let mut cmd = Server::command(data, &["--log-kind", "events"]);
    cmd.env("VELLUM_LOG", "info");
    Server::start_command(cmd).expect_up()
}

/// Exit 0, whatever is on stdout.
#[track_caller]
fn assert_success(out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
}

/// Exit `code` with an error that mentions every one of `needles`.
#[track_caller]
fn assert_names(out: &std::process::Output, code: i32, needles: &[&str]) {
    assert_fails(out, code, needles);
    for n in needles {
        assert!(stderr(out).contains(n), "{n:?} in {}", stderr(out));
    }
}

/// `vellum history --json` of every event in time (since year 0): the
/// indices listed, verified by the command.
fn every_event(server: &Server) -> Vec<u64> {
    let out = server.run(&[
        "history",
        "--vkey",
        &server.vkey,
        "--since",
        "0000-01-01T00:00:00Z",
        "--json",
    ]);
    assert_success(&out);
    stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn reindex_from_scratch_equals_the_online_index() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let index = data.join("events-index");
    let server = Server::start_ok(&data, &["--log-kind", "events"]);
    let mut events: Vec<Submitted> = (0..60).map(varied).collect();
    // Retries of recorded event ids: answered as duplicates, stored once.
    events.extend([varied(3), varied(6)]);
    let answers = record_all(&server.url, events, 6);
    assert_eq!(answers.iter().filter(|a| a.duplicate).count(), 2);
    stop(server);

    let online = dump(&index);
    assert_eq!(watermark(&online), 61, "the server indexed every entry");
    // 4 keys per event, a retry key per event id (20 of the 61), a head
    // per resource (8: two kinds, four ids each), the version and the
    // watermark.
    assert_eq!(online.len(), 61 * 4 + 20 + 8 + 2);

    let out = cli(&["reindex"], &data);
    assert_ok(&out);
    assert_eq!(stdout(&out), "ok\n");
    assert!(
        stderr(&out).contains("61 events taken in: 8 resources, 3 actors, 4 actions, 20 event ids"),
        "{}",
        stderr(&out)
    );
    assert!(!data.join("events-index.new").exists());
    let rebuilt = dump(&index);
    if let Some((a, b)) = online.iter().zip(&rebuilt).find(|(a, b)| a != b) {
        panic!("first difference: online {a:?}, rebuilt {b:?}");
    }
    assert_eq!(online, rebuilt);
    assert_ok(&cli(&["fsck"], &data));
}

#[test]
fn a_lost_or_stale_index_comes_back_complete_on_the_next_start() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let index = data.join("events-index");
    let old = dir.path().join("old-index");

    let server = Server::start_ok(&data, &["--log-kind", "events"]);
    record_all(&server.url, (0..11).map(varied).collect(), 3);
    stop(server);
    copy_dir(&index, &old);
    let server = Server::start_ok(&data, &["--log-kind", "events"]);
    record_all(&server.url, (11..22).map(varied).collect(), 3);
    stop(server);

    // A stale copy (an older backup of the folder): behind, which is not
    // corruption, and caught up at the next start.
    std::fs::remove_dir_all(&index).unwrap();
    copy_dir(&old, &index);
    let out = cli(&["fsck"], &data);
    assert_ok(&out);
    assert!(
        stderr(&out).contains(
            "events index behind by 12 entries; the next start or `vellum reindex` catches up"
        ),
        "{}",
        stderr(&out)
    );
    let server = start_logged(&data);
    assert!(
        server.banner.contains("events index caught up 12 entries"),
        "{}",
        server.banner
    );
    assert_eq!(every_event(&server), (0..24).rev().collect::<Vec<u64>>());
    // The heads were caught up too: a new event on doc-2 names the newest
    // one before it.
    let newest_on_doc2 = {
        let out = server.run(&[
            "history",
            "--vkey",
            &server.vkey,
            "--resource",
            "document/doc-2",
            "--json",
        ]);
        assert_success(&out);
        let first = stdout(&out).lines().next().unwrap().to_owned();
        serde_json::from_str::<serde_json::Value>(&first).unwrap()
    };
    let mut e = varied(1);
    e.event_id = None;
    let r = &record_all(&server.url, vec![e], 1)[0];
    let prev = Recorded::parse(&r.recorded)
        .unwrap()
        .attested()
        .prev
        .unwrap();
    assert_eq!(prev.index, newest_on_doc2["index"].as_u64().unwrap());
    assert_eq!(
        Hash(prev.leaf_hash).to_string(),
        newest_on_doc2["leaf_hash"].as_str().unwrap()
    );
    stop(server);

    // A lost index (the folder deleted): rebuilt from the entries.
    std::fs::remove_dir_all(&index).unwrap();
    let server = start_logged(&data);
    assert!(
        server
            .banner
            .contains("events index rebuilt from 26 entries: it is missing"),
        "{}",
        server.banner
    );
    assert_eq!(every_event(&server), (0..26).rev().collect::<Vec<u64>>());
    let out = server.run(&[
        "history",
        "--vkey",
        &server.vkey,
        "--resource",
        "document/doc-2",
    ]);
    assert_success(&out);
    stop(server);
    let out = cli(&["fsck"], &data);
    assert_ok(&out);
    assert!(!stderr(&out).contains("behind"), "{}", stderr(&out));
}

#[test]
fn fsck_names_a_corrupted_index_and_reindex_repairs_it() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let index = data.join("events-index");
    let server = Server::start_ok(&data, &["--log-kind", "events"]);
    record_all(&server.url, (0..20).map(varied).collect(), 2);
    stop(server);
    let out = cli(&["fsck"], &data);
    assert_ok(&out);
    assert!(
        stderr(&out).contains("events index: 99 keys for 21 entries match the entries"),
        "{}",
        stderr(&out)
    );

    let keys = dump(&index);
    let bob = prefix(b'a', &["bob"]);
    let (bobs_key, _) = keys.iter().find(|(k, _)| k.starts_with(&bob)).unwrap();
    let bobs_event = u64::from_be_bytes(bobs_key[bob.len()..].try_into().unwrap());
    let head = prefix(b'h', &["document", "doc-2"]);
    let mut stray = vec![b't'];
    // 2000-01-01T00:00:00Z as the index writes a time, then event 5.
    stray.extend_from_slice(&(946_684_800u64 ^ (1 << 63)).to_be_bytes());
    stray.extend_from_slice(&0u32.to_be_bytes());
    stray.extend_from_slice(&5u64.to_be_bytes());

    type Corruption = Box<dyn Fn(&DB)>;
    let cases: Vec<(Corruption, String)> = vec![
        (
            Box::new({
                let k = bobs_key.clone();
                move |db: &DB| db.delete(&k).unwrap()
            }),
            format!("missing: the actor index, actor \"bob\", event {bobs_event}"),
        ),
        (
            Box::new({
                let k = head.clone();
                move |db: &DB| db.put(&k, [0u8; 40]).unwrap()
            }),
            "different: the resource heads, resource document/doc-2".into(),
        ),
        (
            Box::new({
                let k = stray.clone();
                move |db: &DB| db.put(&k, []).unwrap()
            }),
            "extra: the time index, event_time 2000-01-01T00:00:00Z, event 5".into(),
        ),
        (
            Box::new(|db: &DB| db.delete(b"mversion").unwrap()),
            "it has no format version record".into(),
        ),
    ];
    for (corrupt, needle) in cases {
        {
            let db = DB::open(&Options::default(), &index).unwrap();
            corrupt(&db);
        }
        let out = cli(&["fsck"], &data);
        assert_names(
            &out,
            1,
            &["the events index does not match the entries", &needle],
        );
        assert!(
            stderr(&out).contains("`vellum reindex` rebuilds it"),
            "{}",
            stderr(&out)
        );
        assert_ok(&cli(&["reindex", "--quiet"], &data));
        assert_ok(&cli(&["fsck"], &data));
        assert_eq!(dump(&index), keys, "reindex restored every key");
    }
}

#[test]
fn reindex_refuses_a_running_log_and_a_raw_log() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("events");
    let server = Server::start_ok(&data, &["--log-kind", "events"]);
    record_all(&server.url, (0..3).map(varied).collect(), 1);
    let before = std::fs::read_dir(data.join("events-index"))
        .unwrap()
        .count();
    let out = cli(&["reindex"], &data);
    assert_names(
        &out,
        2,
        &["is in use by another vellum process", "stop the log first"],
    );
    assert_eq!(
        std::fs::read_dir(data.join("events-index"))
            .unwrap()
            .count(),
        before,
        "the running log's index is left alone"
    );
    stop(server);

    let raw = dir.path().join("raw");
    let server = Server::start_ok(&raw, &[] as &[&str]);
    let out = vellum_stdin(["append", "--server", &server.url, "-"], b"one\ntwo\n");
    assert_success(&out);
    stop(server);
    let out = cli(&["reindex"], &raw);
    assert_names(
        &out,
        2,
        &["entry 0 is not a recorded audit event", "not an events log"],
    );
    assert!(!raw.join("events-index").exists());
    assert!(!raw.join("events-index.new").exists());
    // fsck of a raw log has no index to check.
    assert_ok(&cli(&["fsck"], &raw));
}

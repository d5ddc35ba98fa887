//! The whole tlog-witness status-code table, over HTTP, with real trees,
//! real proofs and real signatures.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use common::{Answer, TestLog, TestWitness, now, post};
use vellum_merkle::Hash;
use vellum_note::{
    NoteSignature, NoteSigner, SigType, SignerKey, VerifierKey, parse_signature_lines, sign_note,
};
use vellum_witness::{AddCheckpointRequest, MAX_BODY_SIZE};

const TEXT: &str = "text/plain; charset=utf-8";
const SIZE: &str = "text/x.tlog.size";

fn assert_answer(a: &Answer, status: u16, needle: &str) {
    assert_eq!(a.status, status, "body: {}", a.body);
    assert_eq!(a.content_type.as_deref(), Some(TEXT), "{}", a.body);
    assert!(
        a.body.contains(needle),
        "{status}: {:?} does not mention {needle:?}",
        a.body
    );
}

fn assert_conflict(a: &Answer, size: u64) {
    assert_eq!(a.status, 409, "body: {}", a.body);
    assert_eq!(a.content_type.as_deref(), Some(SIZE));
    assert_eq!(a.body, format!("{size}\n"));
}

/// Checks a 200: one line, by the witness key, over exactly this
/// checkpoint, timestamped now.
fn assert_cosigned(a: &Answer, w: &TestWitness, checkpoint_text: &str) {
    assert_eq!(a.status, 200, "body: {}", a.body);
    assert_eq!(a.content_type.as_deref(), Some(TEXT));
    let sigs = parse_signature_lines(&a.body).unwrap();
    assert_eq!(sigs.len(), 1);
    assert!(sigs[0].is_by(w.key.name(), w.key.key_id()));
    let ts = w
        .key
        .verifier()
        .verify_cosignature(checkpoint_text, sigs[0].signature())
        .expect("the cosignature verifies with the witness's vkey");
    assert!(ts.abs_diff(now()) <= 60, "timestamp {ts} is not recent");
    // And through the vkey the witness publishes.
    let published = VerifierKey::parse(&w.witness.vkey()).unwrap();
    assert_eq!(published, *w.key.verifier().verifier_key());
}

/// A note with `text` and the given signature lines, built by hand so that
/// bad signatures can be made.
fn note_with(text: &str, sigs: &[NoteSignature]) -> Vec<u8> {
    let mut out = format!("{text}\n");
    for s in sigs {
        out.push_str(&s.to_line());
    }
    out.into_bytes()
}

fn signature_of(key: &SignerKey, text: &str) -> NoteSignature {
    let bytes = NoteSigner::sign(key, text.as_bytes()).unwrap();
    NoteSignature::new(key.name(), key.key_id(), bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_code_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new("a.example/log");
    log.grow_to(40);
    let mut fresh = TestLog::new("c.example/log");
    fresh.grow_to(8);
    let mut untrusted = TestLog::new("b.example/log");
    untrusted.grow_to(5);
    let w = TestWitness::for_logs(dir.path(), &[&log, &fresh]).await;
    let url = w.add_checkpoint_url();
    let http = reqwest::Client::new();

    // 404: an origin the witness does not know.
    let a = post(&http, &url, untrusted.body(0, 5)).await;
    assert_answer(&a, 404, "unknown log origin \"b.example/log\"");

    // 403: no signature by the trusted key.
    let text = log.checkpoint_text(10);
    let stranger = SignerKey::generate("stranger.example", SigType::Ed25519).unwrap();
    let body = |note: Vec<u8>| AddCheckpointRequest::encode(0, &[], &note);
    let a = post(
        &http,
        &url,
        body(note_with(&text, &[signature_of(&stranger, &text)])),
    )
    .await;
    assert_answer(&a, 403, "not validly signed");
    // 403: a key with the log's name but not the log's key (another id).
    let impostor = SignerKey::generate(log.origin(), SigType::Ed25519).unwrap();
    assert_ne!(impostor.key_id(), log.key.key_id());
    let a = post(
        &http,
        &url,
        body(note_with(&text, &[signature_of(&impostor, &text)])),
    )
    .await;
    assert_answer(&a, 403, "no signature from a trusted key");
    // 403: the log's name and id, a bad signature.
    let good = signature_of(&log.key, &text);
    let mut bad = good.signature().to_vec();
    bad[10] ^= 0x40;
    let forged = NoteSignature::new(log.origin(), log.key.key_id(), bad).unwrap();
    let a = post(
        &http,
        &url,
        body(note_with(&text, std::slice::from_ref(&forged))),
    )
    .await;
    assert_answer(&a, 403, "does not verify");
    // 403 even next to a good one: a bad signature by a known key rejects
    // the note.
    let a = post(&http, &url, body(note_with(&text, &[good, forged]))).await;
    assert_answer(&a, 403, "does not verify");
    // 403: the right key over another text.
    let other = signature_of(&log.key, &log.checkpoint_text(11));
    let a = post(&http, &url, body(note_with(&text, &[other]))).await;
    assert_eq!(a.status, 403);

    // 400: old size beyond the checkpoint (checked before the stored size).
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(12, &[], &log.checkpoint(10)),
    )
    .await;
    assert_answer(&a, 400, "old size 12 is larger than the checkpoint size 10");

    // 400: malformed bodies.
    let cp = String::from_utf8(log.checkpoint(10)).unwrap();
    let h = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=";
    let malformed: Vec<(String, &str)> = vec![
        (cp.clone(), "line 1 must be \"old <size>\""),
        (format!("\n{cp}"), "line 1 must be \"old <size>\""),
        (format!("old 00\n\n{cp}"), "leading zero"),
        (format!("old 010\n\n{cp}"), "leading zero"),
        (format!("old -1\n\n{cp}"), "not a valid decimal"),
        (
            format!("old 5\n{}\n{cp}", format!("{h}\n").repeat(64)),
            "64 consistency proof lines, at most 63",
        ),
        (
            format!("old 5\n{h}\nnot*base64\n\n{cp}"),
            "line 3 is not a base64",
        ),
        (format!("old 5\nAAAA\n\n{cp}"), "line 2 is not a base64"),
        (format!("old 0\n{cp}"), "line 2 is not a base64"),
        ("old 0\n".to_owned(), "no empty line"),
        ("old 0\n\nhello\n".to_owned(), "not a valid signed note"),
        (
            format!(
                "old 0\n\nhello\n\n{}",
                signature_of(&log.key, "hello\n").to_line()
            ),
            "not a checkpoint",
        ),
    ];
    for (b, needle) in malformed {
        let a = post(&http, &url, b.clone().into_bytes()).await;
        assert_answer(&a, 400, needle);
    }

    // 422: a first request (old 0) must carry an empty proof.
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(0, &[Hash([7; 32])], &fresh.checkpoint(8)),
    )
    .await;
    assert_answer(&a, 422, "has 0 hashes, got 1");

    // Nothing so far was cosigned.
    assert!(
        w.witness
            .state()
            .list()
            .iter()
            .all(|s| s.latest().is_none())
    );

    // 200: the first checkpoint, from 0.
    let a = post(&http, &url, log.body(0, 10)).await;
    assert_cosigned(&a, &w, &log.checkpoint_text(10));

    // 409: old size behind or ahead of the stored one.
    let a = post(&http, &url, log.body(5, 20)).await;
    assert_conflict(&a, 10);
    let a = post(&http, &url, log.body(15, 20)).await;
    assert_conflict(&a, 10);
    let a = post(&http, &url, log.body(0, 20)).await;
    assert_conflict(&a, 10);
    // 409: same size, another root (a fork at 5).
    let mut fork = log.fork(5, "fork");
    fork.grow_to(12);
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(10, &[], &fork.checkpoint(10)),
    )
    .await;
    assert_conflict(&a, 10);

    // 422: bad proofs from the right old size.
    let mut flipped = log.proof(10, 20);
    flipped[0].0[0] ^= 1;
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(10, &flipped, &log.checkpoint(20)),
    )
    .await;
    assert_answer(&a, 422, "does not verify");
    let mut truncated = log.proof(10, 20);
    truncated.pop();
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(10, &truncated, &log.checkpoint(20)),
    )
    .await;
    assert_answer(&a, 422, "hashes, got");
    // A proof for other sizes.
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(10, &log.proof(9, 20), &log.checkpoint(20)),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.body);
    // The fork extends to 12 with a proof that is real for the fork but
    // cannot lead to the cosigned root at 10.
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(10, &fork.proof(10, 12), &fork.checkpoint(12)),
    )
    .await;
    assert_answer(&a, 422, "old root");
    // Same size and root, but a proof where none is due.
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(10, &[Hash([1; 32])], &log.checkpoint(10)),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.body);

    // Still 10 after all these refusals.
    let size_of = |origin: &str| {
        w.witness
            .state()
            .list()
            .into_iter()
            .find(|s| s.origin() == origin)
            .and_then(|s| s.latest().map(|c| c.size().get()))
    };
    assert_eq!(size_of(log.origin()), Some(10));

    // 200: onwards with a real proof, then the same again (idempotent).
    let a = post(&http, &url, log.body(10, 40)).await;
    assert_cosigned(&a, &w, &log.checkpoint_text(40));
    for _ in 0..2 {
        let a = post(&http, &url, log.body(40, 40)).await;
        assert_cosigned(&a, &w, &log.checkpoint_text(40));
    }
    assert_eq!(size_of(log.origin()), Some(40));
    assert_eq!(size_of(fresh.origin()), None);

    // 413: past the body limit.
    let a = post(&http, &url, vec![b'x'; MAX_BODY_SIZE + 1]).await;
    assert_answer(&a, 413, "limit");

    w.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_tree_and_info_routes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new("a.example/log");
    log.grow_to(3);
    let w = TestWitness::for_logs(dir.path(), &[&log]).await;
    let http = reqwest::Client::new();
    let url = w.add_checkpoint_url();

    // A size-0 checkpoint is cosigned from 0 only with the empty-tree root.
    let a = post(&http, &url, log.body(0, 0)).await;
    assert_cosigned(&a, &w, &log.checkpoint_text(0));
    let wrong = format!(
        "{}\n0\n{}\n",
        log.origin(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    );
    let note = sign_note(&wrong, &[&log.key as &dyn NoteSigner]).unwrap();
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(0, &[], note.as_bytes()),
    )
    .await;
    assert_conflict(&a, 0);
    let a = post(&http, &url, log.body(0, 3)).await;
    assert_cosigned(&a, &w, &log.checkpoint_text(3));

    for path in ["/", "/health"] {
        let r = http.get(format!("{}{path}", w.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], TEXT);
        let body = r.text().await.unwrap();
        assert_eq!(body, format!("{}\n{}\n", w.key.name(), w.witness.vkey()));
    }
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    w.stop().await;
}

//! Extra signature lines in the submitted note: ignored when they are by
//! unknown keys, never stored, never echoed.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use common::{TestLog, TestWitness, post};
use vellum_note::{
    CosignerKey, Note, NoteSignature, NoteSigner, SigType, SignerKey, parse_signature_lines,
};
use vellum_witness::AddCheckpointRequest;

#[tokio::test(flavor = "multi_thread")]
async fn forged_lines_change_nothing_and_are_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new("a.example/log");
    log.grow_to(20);
    let w = TestWitness::for_logs(dir.path(), &[&log]).await;
    let http = reqwest::Client::new();
    let url = w.add_checkpoint_url();

    let text = log.checkpoint_text(10);
    let genuine = Note::parse(&log.checkpoint(10)).unwrap().signatures()[0].clone();
    // A real signature by a key the witness does not know.
    let stranger = SignerKey::generate("stranger.example", SigType::Ed25519).unwrap();
    let by_stranger = NoteSignature::new(
        stranger.name(),
        stranger.key_id(),
        NoteSigner::sign(&stranger, text.as_bytes()).unwrap(),
    )
    .unwrap();
    // A line claiming the log's name with a wrong id.
    let wrong_id = NoteSignature::new(log.origin(), log.key.key_id() ^ 1, vec![0x5a; 64]).unwrap();
    // A line claiming to be this witness's cosignature.
    let fake_cosig = NoteSignature::new(w.key.name(), w.key.key_id(), vec![0xa5; 72]).unwrap();
    let forged = [by_stranger, wrong_id, fake_cosig];

    // Forged lines alone: refused, nothing stored.
    let only_forged = Note::new(text.clone(), forged.to_vec()).unwrap();
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(0, &[], &only_forged.to_bytes()),
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(w.witness.state().list()[0].latest().is_none());

    // Forged lines around the genuine one: cosigned, and only the genuine
    // line is kept.
    let mut sigs = vec![forged[0].clone(), genuine.clone()];
    sigs.extend_from_slice(&forged[1..]);
    let note = Note::new(text.clone(), sigs).unwrap();
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(0, &[], &note.to_bytes()),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let lines = parse_signature_lines(&a.body).unwrap();
    assert_eq!(lines.len(), 1);
    for f in &forged {
        assert!(
            !a.body.contains(f.to_line().trim_end()),
            "forged line echoed"
        );
    }
    assert!(
        w.key
            .verifier()
            .verify_cosignature(&text, lines[0].signature())
            .is_some()
    );
    let stored = w.witness.state().list()[0].latest().cloned().unwrap();
    assert_eq!(stored.size().get(), 10);
    assert_eq!(stored.note().signatures(), std::slice::from_ref(&genuine));

    // The same request without the forged lines is the same state: nothing
    // is rewritten on disk.
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let before = std::fs::read(&file).unwrap();
    for f in &forged {
        assert!(!String::from_utf8_lossy(&before).contains(f.to_line().trim_end()));
    }
    let a = post(&http, &url, log.body(10, 10)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // A forged line cannot move the state either: a checkpoint at 20 signed
    // only by forgeries is refused, and 10 stands.
    let text20 = log.checkpoint_text(20);
    let wrong = NoteSignature::new(log.origin(), log.key.key_id() ^ 1, vec![1; 64]).unwrap();
    let forged20 = Note::new(text20, vec![wrong]).unwrap();
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(10, &log.proof(10, 20), &forged20.to_bytes()),
    )
    .await;
    assert_eq!(a.status, 403);
    assert_eq!(
        w.witness.state().list()[0].latest().unwrap().size().get(),
        10
    );
    // A genuine cosigner key of another witness in the note is just another
    // unknown key.
    let other_witness = CosignerKey::generate("other.example/w").unwrap();
    let mut note20 = Note::parse(&log.checkpoint(20)).unwrap();
    note20
        .add_signatures([other_witness.cosign(&log.checkpoint_text(20), 1).unwrap()])
        .unwrap();
    let a = post(
        &http,
        &url,
        AddCheckpointRequest::encode(10, &log.proof(10, 20), &note20.to_bytes()),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(parse_signature_lines(&a.body).unwrap().len(), 1);
    w.stop().await;
}

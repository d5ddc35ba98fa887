//! The trusted state across appends, and the two attacks it exists for: a
//! forked log (same key, another history) and a rolled-back log (an older
//! copy of the data). Each produces evidence a third party can check.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::Path;

use tempfile::TempDir;
use vellum_client::{
    Client, ClientError, Evidence, EvidenceError, EvidenceKind, Step, Trust, TrustedState, Wait,
};
use vellum_note::{SigType, SignerKey};
use vellum_testkit::TestServer;
use vellum_testkit::files::{copy_dir, copy_key};
use vellum_testkit::requests::entries;

/// A log on `data`, with `key` instead of `<data>/log.key` if given.
async fn serve(data: &Path, key: Option<&Path>) -> TestServer {
    let mut server = TestServer::builder(data).data(data);
    if let Some(key) = key {
        server = server.key(key);
    }
    server.start().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_advances_through_proofs_and_survives_reopening() {
    let dir = TempDir::new().unwrap();
    let server = serve(&dir.path().join("log"), None).await;
    server.first_checkpoint().await;
    let trust = Trust::Key(server.vkey());
    let client = Client::connect(&server.url, trust.clone()).await.unwrap();
    let path = dir.path().join("state");

    let mut state = TrustedState::open(&path, &trust).unwrap();
    assert!(state.checkpoint().is_none());
    // A new log has signed the empty tree: trusted on first use.
    let step = client.update_trusted(&mut state).await.unwrap();
    assert_eq!(
        step,
        Step::Initialized {
            size: 0u64.try_into_size()
        }
    );

    let mut size = 0;
    for (round, n) in [1usize, 2, 5, 1, 9].into_iter().enumerate() {
        client
            .append(entries(&format!("round {round}"), n), Wait::Checkpoint)
            .await
            .unwrap();
        let step = client.update_trusted(&mut state).await.unwrap();
        let new = size + n as u64;
        assert_eq!(
            step,
            Step::Advanced {
                from: size.try_into_size(),
                to: new.try_into_size()
            }
        );
        size = new;
        // The file holds exactly the trusted note.
        assert_eq!(
            std::fs::read(&path).unwrap(),
            state.checkpoint().unwrap().note()
        );
    }
    assert_eq!(
        client.update_trusted(&mut state).await.unwrap(),
        Step::Unchanged {
            size: size.try_into_size()
        }
    );

    // Reopened, it is the same checkpoint, verified again.
    let reopened = TrustedState::open(&path, &trust).unwrap();
    assert_eq!(reopened.checkpoint(), state.checkpoint());
    // No stray temporary file: the state, the data folder and the signer's
    // memory beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);

    // A state file that another key signed, or that is damaged, is refused.
    let other = SignerKey::generate(&server.running.origin, SigType::Ed25519).unwrap();
    assert!(matches!(
        TrustedState::open(&path, &Trust::Key(other.verifier())),
        Err(ClientError::StateInvalid { .. })
    ));
    let mut damaged = std::fs::read(&path).unwrap();
    damaged[0] ^= 1;
    std::fs::write(&path, damaged).unwrap();
    assert!(matches!(
        TrustedState::open(&path, &trust),
        Err(ClientError::StateInvalid { .. })
    ));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forked_log_is_a_split_view_with_evidence() {
    let dir = TempDir::new().unwrap();
    let a = serve(&dir.path().join("a"), None).await;
    // The fork: the same key, another data folder, other entries.
    let key = dir.path().join("forked.key");
    copy_key(&a.data.join("log.key"), &key);
    let b = serve(&dir.path().join("b"), Some(&key)).await;
    assert_eq!(a.vkey(), b.vkey());
    let trust = Trust::Key(a.vkey());

    let ca = Client::connect(&a.url, trust.clone()).await.unwrap();
    let cb = Client::connect(&b.url, trust.clone()).await.unwrap();
    ca.append(entries("honest", 3), Wait::Checkpoint)
        .await
        .unwrap();
    cb.append(entries("forked", 3), Wait::Checkpoint)
        .await
        .unwrap();

    let path = dir.path().join("state");
    let mut state = TrustedState::open(&path, &trust).unwrap();
    ca.update_trusted(&mut state).await.unwrap();
    let trusted_note = std::fs::read(&path).unwrap();

    // Same size, another root.
    let err = cb.update_trusted(&mut state).await.unwrap_err();
    let ClientError::SplitView(evidence) = &err else {
        panic!("expected a split view, got {err:?}");
    };
    assert_eq!(evidence.kind(), EvidenceKind::SplitView);
    assert!(evidence.proof().is_none());
    assert_eq!(evidence.trusted_note(), trusted_note.as_slice());
    let verified = evidence.verify(&trust).unwrap();
    assert_eq!(verified.kind, EvidenceKind::SplitView);
    assert_eq!(verified.trusted.size(), verified.offending.size());
    assert_ne!(verified.trusted.root(), verified.offending.root());
    round_trips(evidence, &trust);
    // Nothing moved.
    assert_eq!(std::fs::read(&path).unwrap(), trusted_note);
    assert_eq!(state.checkpoint().unwrap().note(), trusted_note.as_slice());

    // The fork grows: the larger tree does not extend the trusted one.
    cb.append(entries("forked more", 2), Wait::Checkpoint)
        .await
        .unwrap();
    let err = cb.update_trusted(&mut state).await.unwrap_err();
    let ClientError::SplitView(evidence) = &err else {
        panic!("expected a split view, got {err:?}");
    };
    assert_eq!(evidence.kind(), EvidenceKind::Inconsistent);
    assert!(evidence.proof().is_some());
    let verified = evidence.verify(&trust).unwrap();
    assert!(verified.proof_failure.is_some());
    round_trips(evidence, &trust);
    assert_eq!(std::fs::read(&path).unwrap(), trusted_note);

    // The same conflict through `consistency` between two checkpoints.
    let old = ca.checkpoint().await.unwrap();
    let new = cb.checkpoint().await.unwrap();
    assert!(matches!(
        cb.consistency(&old, &new).await,
        Err(ClientError::SplitView(_))
    ));

    // The honest log still advances the state.
    ca.append(entries("honest more", 4), Wait::Checkpoint)
        .await
        .unwrap();
    assert!(matches!(
        ca.update_trusted(&mut state).await.unwrap(),
        Step::Advanced { .. }
    ));

    // Evidence does not verify under another key, nor once tampered with.
    let other = SignerKey::generate(&a.running.origin, SigType::Ed25519).unwrap();
    assert!(matches!(
        evidence.verify(&Trust::Key(other.verifier())),
        Err(EvidenceError::BadSignature { .. })
    ));
    let text = String::from_utf8(evidence.to_file_text()).unwrap();
    let claimed_rollback = text.replacen("inconsistent", "rollback", 1);
    assert!(matches!(
        Evidence::parse(claimed_rollback.as_bytes())
            .unwrap()
            .verify(&trust),
        Err(EvidenceError::WrongKind { .. })
    ));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolled_back_log_is_detected_with_evidence() {
    let dir = TempDir::new().unwrap();
    let live = dir.path().join("live");
    let old_copy = dir.path().join("backup");
    let trust;

    {
        let server = serve(&live, None).await;
        trust = Trust::Key(server.vkey());
        let client = Client::connect(&server.url, trust.clone()).await.unwrap();
        client
            .append(entries("before", 5), Wait::Checkpoint)
            .await
            .unwrap();
        server.stop().await;
    }
    // A backup of the whole machine at size 5 (the data and the signer's
    // memory beside it), taken while the log was stopped.
    copy_dir(&live, &old_copy);
    copy_dir(
        &vellum_server::embedded::Layout::new(&live).signer(),
        &vellum_server::embedded::Layout::new(&old_copy).signer(),
    );

    let path = dir.path().join("state");
    let mut state = TrustedState::open(&path, &trust).unwrap();
    {
        let server = serve(&live, None).await;
        let client = Client::connect(&server.url, trust.clone()).await.unwrap();
        client
            .append(entries("after", 4), Wait::Checkpoint)
            .await
            .unwrap();
        client.update_trusted(&mut state).await.unwrap();
        assert_eq!(state.checkpoint().unwrap().size().get(), 9);
        server.stop().await;
    }

    // The operator restores the whole machine: the log starts (no witness
    // or export remembers more; its signer's memory was restored with it),
    // and serves the size-5 checkpoint again.
    let server = serve(&old_copy, None).await;
    let client = Client::connect(&server.url, trust.clone()).await.unwrap();
    assert_eq!(client.checkpoint().await.unwrap().size().get(), 5);
    let err = client.update_trusted(&mut state).await.unwrap_err();
    let ClientError::Rollback(evidence) = &err else {
        panic!("expected a rollback, got {err:?}");
    };
    assert_eq!(evidence.kind(), EvidenceKind::Rollback);
    let verified = evidence.verify(&trust).unwrap();
    assert_eq!(verified.trusted.size().get(), 9);
    assert_eq!(verified.offending.size().get(), 5);
    round_trips(evidence, &trust);
    assert_eq!(state.checkpoint().unwrap().size().get(), 9);
    // A reopened state still refuses it.
    let mut reopened = TrustedState::open(&path, &trust).unwrap();
    assert!(matches!(
        client.update_trusted(&mut reopened).await,
        Err(ClientError::Rollback(_))
    ));
    server.stop().await;
}

/// The evidence survives its file format, and still verifies after it.
fn round_trips(evidence: &Evidence, trust: &Trust) {
    let text = evidence.to_file_text();
    let parsed = Evidence::parse(&text).unwrap();
    assert_eq!(&parsed, evidence);
    assert_eq!(parsed.to_file_text(), text);
    parsed.verify(trust).unwrap();
}

/// Test shorthand: a `u64` as a tree size.
trait TryIntoSize {
    fn try_into_size(self) -> vellum_merkle::TreeSize;
}

impl TryIntoSize for u64 {
    fn try_into_size(self) -> vellum_merkle::TreeSize {
        vellum_merkle::TreeSize::new(self).unwrap()
    }
}

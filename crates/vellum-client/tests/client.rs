//! The client against a real server: appends at each wait level, proofs,
//! reads, and the refusals.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use bytes::Bytes;
use tempfile::TempDir;
use vellum_client::{Client, ClientError, Trust, Wait};
use vellum_merkle::leaf_hash;
use vellum_note::{Policy, SigType, SignerKey, TlogProof};
use vellum_testkit::TestServer;
use vellum_testkit::requests::entries;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_at_each_wait_level() {
    let dir = TempDir::new().unwrap();
    let server = TestServer::builder(dir.path()).start().await;
    let client = Client::connect(&server.url, server.vkey()).await.unwrap();
    let policy = Policy::quorum_none(server.vkey()).unwrap();

    // Durable: an index, no proof.
    let out = client
        .append(vec![Bytes::from("first")], Wait::Durable)
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].index.get(), 0);
    assert!(!out[0].duplicate);
    assert!(out[0].proof.is_none());

    // Checkpoint: a proof per entry that any tlog-proof verifier accepts.
    let batch = entries("batch", 5);
    let out = client
        .append(batch.clone(), Wait::Checkpoint)
        .await
        .unwrap();
    assert_eq!(out.len(), 5);
    for (i, (a, entry)) in out.iter().zip(&batch).enumerate() {
        assert_eq!(a.index.get(), 1 + i as u64);
        let proof = a.proof.as_ref().unwrap();
        let reparsed = TlogProof::parse(proof.format()).unwrap();
        let verified = reparsed.verify(entry, &policy).unwrap();
        assert_eq!(verified.index(), a.index);
        assert!(verified.tree_size().get() >= 6);
        // The proof is for these bytes only.
        assert!(reparsed.verify(b"something else", &policy).is_err());
    }

    // A duplicate gets the existing index, and a proof for it.
    let out = client
        .append(vec![Bytes::from("first")], Wait::Checkpoint)
        .await
        .unwrap();
    assert_eq!(out[0].index.get(), 0);
    assert!(out[0].duplicate);
    out[0]
        .proof
        .as_ref()
        .unwrap()
        .verify(b"first", &policy)
        .unwrap();

    // Witnessed: this log has no witnesses; the gRPC code is kept.
    let err = client
        .append(vec![Bytes::from("w")], Wait::Witnessed)
        .await
        .unwrap_err();
    match &err {
        ClientError::Status { code, message } => {
            assert_eq!(*code, tonic::Code::FailedPrecondition, "{message}");
            assert!(message.contains("witness"), "{message}");
        }
        other => panic!("expected a status, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("FAILED_PRECONDITION"), "{err}");

    // Nothing to append is refused before any call.
    assert!(matches!(
        client.append(vec![], Wait::Durable).await,
        Err(ClientError::InvalidArgument(_))
    ));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_and_reads() {
    let dir = TempDir::new().unwrap();
    let server = TestServer::builder(dir.path()).start().await;
    let client = Client::connect(&server.url, Trust::Key(server.vkey()))
        .await
        .unwrap();
    let policy = Policy::quorum_none(server.vkey()).unwrap();

    let first = entries("a", 3);
    client
        .append(first.clone(), Wait::Checkpoint)
        .await
        .unwrap();
    let old = client.checkpoint().await.unwrap();
    assert_eq!(old.size().get(), 3);
    assert_eq!(old.origin(), server.running.origin);

    let second = entries("b", 4);
    client
        .append(second.clone(), Wait::Checkpoint)
        .await
        .unwrap();
    let new = client.checkpoint().await.unwrap();
    assert_eq!(new.size().get(), 7);

    // By index: the entry comes with a proof against the latest checkpoint.
    let (entry, proof) = client.entry_and_proof(4).await.unwrap();
    assert_eq!(entry, second[1]);
    assert_eq!(proof.verify(&entry, &policy).unwrap().tree_size().get(), 7);
    assert_eq!(client.prove(0).await.unwrap().index().get(), 0);

    // By content.
    let proof = client.prove_entry(&first[2]).await.unwrap();
    assert_eq!(proof.index().get(), 2);
    proof.verify(&first[2], &policy).unwrap();
    let err = client.prove_entry(b"never appended").await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Status {
                code: tonic::Code::NotFound,
                ..
            }
        ),
        "{err:?}"
    );

    // Beyond the log.
    let err = client.prove(7).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Status {
                code: tonic::Code::NotFound,
                ..
            }
        ),
        "{err:?}"
    );

    // Consistency between two verified checkpoints, and the refusals.
    let proof = client.consistency(&old, &new).await.unwrap();
    assert!(!proof.is_empty());
    assert!(client.consistency(&new, &new).await.unwrap().is_empty());
    assert!(matches!(
        client.consistency(&new, &old).await,
        Err(ClientError::InvalidArgument(_))
    ));

    // Entries as served (not verified, but they are what was appended).
    let page = client.entries(1, 10).await.unwrap();
    assert_eq!(page.len(), 6);
    assert_eq!(page[0], first[1]);
    assert_eq!(leaf_hash(&page[5]), leaf_hash(&second[3]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_what_does_not_verify() {
    let dir = TempDir::new().unwrap();
    let server = TestServer::builder(dir.path()).start().await;
    server.first_checkpoint().await;

    // Another key with the same name: the log's signature does not verify.
    let impostor = SignerKey::generate(&server.running.origin, SigType::Ed25519).unwrap();
    let client = Client::connect(&server.url, impostor.verifier())
        .await
        .unwrap();
    let err = client.checkpoint().await.unwrap_err();
    assert!(matches!(err, ClientError::BadCheckpoint { .. }), "{err:?}");
    assert!(err.is_verification_failure());
    let err = client
        .append(vec![Bytes::from("x")], Wait::Checkpoint)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::BadCheckpoint { .. }), "{err:?}");
    assert!(err.to_string().contains("index 0"), "{err}");

    // A key for another origin.
    let other = SignerKey::generate("example.com/other", SigType::Ed25519).unwrap();
    let client = Client::connect(&server.url, other.verifier())
        .await
        .unwrap();
    assert!(matches!(
        client.prove(0).await,
        Err(ClientError::BadCheckpoint { .. })
    ));

    // A witness key cannot be a log's trust.
    let witness = SignerKey::generate("w.example", SigType::CosignatureV1).unwrap();
    assert!(matches!(
        Client::connect(&server.url, witness.verifier()).await,
        Err(ClientError::BadTrust(_))
    ));

    // A policy whose quorum the log cannot meet.
    let cosigner = vellum_note::CosignerKey::generate("w.example").unwrap();
    let policy = Policy::parse(&format!(
        "log {}\nwitness w {}\nquorum w\n",
        server.vkey(),
        cosigner.verifier().verifier_key()
    ))
    .unwrap();
    let client = Client::connect(&server.url, policy).await.unwrap();
    let err = client.checkpoint().await.unwrap_err();
    assert!(err.to_string().contains("quorum"), "{err}");

    let url = server.url.clone();
    server.stop().await;

    // Nothing listening.
    let err = Client::connect(&url, impostor.verifier())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert!(err.is_retryable());

    // Not a URL the client speaks.
    for bad in ["127.0.0.1:6962", "https://127.0.0.1:6962", "http://"] {
        assert!(
            matches!(
                Client::connect(bad, impostor.verifier()).await,
                Err(ClientError::InvalidUrl { .. } | ClientError::Transport { .. })
            ),
            "{bad}"
        );
    }
}

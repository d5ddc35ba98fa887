//! The gRPC API end to end on 127.0.0.1: codes and messages, health,
//! reflection, streams, and a signer in its own (in-test) server.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use tonic::Code;
use tonic::transport::Channel;
use vellum_note::{SigType, SignedCheckpoint, SignerKey, VerifierKey};
use vellum_proto::v1 as pb;
use vellum_server::Running;
use vellum_server::grpc::signer::{SignerAddr, SignerService};
use vellum_testkit::{TestServer, requests};

async fn server(dir: &std::path::Path) -> (Running, pb::log_client::LogClient<Channel>) {
    let server = TestServer::builder(dir)
        .with(|o| o.tuning.max_entries_per_call = Some(100))
        .start()
        .await;
    let client = server.client().await;
    (server.running, client)
}

fn append(entries: Vec<Bytes>, wait: pb::WaitFor) -> pb::AppendRequest {
    requests::append_with_id(entries, wait, 7)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (running, mut c) = server(dir.path()).await;
    let r = c
        .append(append(
            vec![Bytes::from("one"), Bytes::from("two")],
            pb::WaitFor::Checkpoint,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.request_id, 7);
    assert_eq!(
        r.results.iter().map(|x| x.index).collect::<Vec<_>>(),
        vec![0, 1]
    );
    let cp = SignedCheckpoint::open(&r.checkpoint, &running.vkey, &[]).unwrap();
    assert!(cp.checkpoint().size().get() >= 2);
    assert_eq!(r.results[0].inclusion_proof.len(), 1);

    let got = c
        .get_checkpoint(pb::GetCheckpointRequest::default())
        .await
        .unwrap()
        .into_inner();
    let latest = SignedCheckpoint::open(&got.checkpoint, &running.vkey, &[]).unwrap();
    // The checkpoint of a given size, as signed.
    let size = latest.checkpoint().size().get();
    let at = c
        .get_checkpoint(pb::GetCheckpointRequest { size })
        .await
        .unwrap()
        .into_inner();
    let at = SignedCheckpoint::open(&at.checkpoint, &running.vkey, &[]).unwrap();
    assert_eq!(at.checkpoint(), latest.checkpoint());
    let none = c
        .get_checkpoint(pb::GetCheckpointRequest { size: 1_000_000 })
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::NotFound);
    let e = c
        .get_entry_and_proof(pb::GetEntryAndProofRequest {
            index: 1,
            tree_size: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(&e.entry[..], b"two");
    assert!(!e.checkpoint.is_empty());
    let by_hash = c
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            leaf: Some(pb::get_inclusion_proof_request::Leaf::LeafHash(
                Bytes::copy_from_slice(&vellum_merkle::leaf_hash(b"one").0),
            )),
            tree_size: 2,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_hash.index, 0);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_the_right_codes_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (running, mut c) = server(dir.path()).await;
    c.append(append(vec![Bytes::from("base")], pb::WaitFor::Durable))
        .await
        .unwrap();
    let code = |r: Result<tonic::Response<_>, tonic::Status>| {
        r.map(|_: tonic::Response<pb::AppendResponse>| ())
            .unwrap_err()
            .code()
    };
    assert_eq!(
        code(c.append(append(vec![], pb::WaitFor::Durable)).await),
        Code::InvalidArgument
    );
    assert_eq!(
        code(
            c.append(append(
                vec![Bytes::from(vec![0u8; 65_536])],
                pb::WaitFor::Durable
            ))
            .await
        ),
        Code::InvalidArgument
    );
    assert_eq!(
        code(
            c.append(append(
                (0..101).map(|i| Bytes::from(format!("{i}"))).collect(),
                pb::WaitFor::Durable
            ))
            .await
        ),
        Code::InvalidArgument
    );
    let bad_wait = pb::AppendRequest {
        entries: vec![Bytes::from("x")],
        wait: 99,
        request_id: 0,
    };
    assert_eq!(code(c.append(bad_wait).await), Code::InvalidArgument);
    // Over the message limit (8 MiB by default): refused by the transport.
    let huge = (0..200).map(|_| Bytes::from(vec![1u8; 60_000])).collect();
    let err = c
        .append(append(huge, pb::WaitFor::Durable))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument
        ),
        "{err:?}"
    );

    let st = |r: Result<tonic::Response<pb::GetInclusionProofResponse>, tonic::Status>| {
        r.unwrap_err().code()
    };
    let inc = |leaf, size| pb::GetInclusionProofRequest {
        leaf,
        tree_size: size,
    };
    use pb::get_inclusion_proof_request::Leaf;
    assert_eq!(
        st(c.get_inclusion_proof(inc(None, 0)).await),
        Code::InvalidArgument
    );
    assert_eq!(
        st(c.get_inclusion_proof(inc(Some(Leaf::Index(5)), 1)).await),
        Code::NotFound
    );
    assert_eq!(
        st(
            c.get_inclusion_proof(inc(Some(Leaf::Index(u64::MAX)), u64::MAX))
                .await
        ),
        Code::NotFound
    );
    assert_eq!(
        st(
            c.get_inclusion_proof(inc(Some(Leaf::LeafHash(Bytes::from_static(b"short"))), 0))
                .await
        ),
        Code::InvalidArgument
    );
    let cons = c
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            from_size: 5,
            to_size: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(cons.code(), Code::InvalidArgument);
    let ent = c
        .get_entries(pb::GetEntriesRequest {
            start: u64::MAX,
            count: 10,
        })
        .await
        .unwrap_err();
    assert_eq!(ent.code(), Code::NotFound);

    // Nothing above changed the log, and it still serves.
    running.log.flush().await.unwrap();
    assert_eq!(running.log.committed().size.get(), 1);
    c.append(append(vec![Bytes::from("after")], pb::WaitFor::Durable))
        .await
        .unwrap();
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_answer_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let (running, mut c) = server(dir.path()).await;
    let reqs: Vec<pb::AppendRequest> = (0..50u64)
        .map(|i| pb::AppendRequest {
            entries: if i == 25 {
                vec![]
            } else {
                vec![Bytes::from(format!("s{i}"))]
            },
            wait: pb::WaitFor::Durable as i32,
            request_id: i,
        })
        .collect();
    let mut out = c
        .append_stream(tokio_stream::iter(reqs))
        .await
        .unwrap()
        .into_inner();
    let mut seen = std::collections::BTreeMap::new();
    while let Some(r) = out.message().await.unwrap() {
        seen.insert(r.request_id, r);
    }
    assert_eq!(seen.len(), 50);
    let bad = &seen[&25];
    assert_eq!(
        bad.error.as_ref().unwrap().code,
        Code::InvalidArgument as i32
    );
    assert!(
        seen.values()
            .filter(|r| r.error.is_none())
            .all(|r| r.results.len() == 1)
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection() {
    let dir = tempfile::tempdir().unwrap();
    let (running, _) = server(dir.path()).await;
    let channel = Channel::from_shared(format!("http://{}", running.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let r = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "vellum.v1.Log".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut refl = ServerReflectionClient::new(channel);
    let req = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = refl
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"vellum.v1.Log".to_owned()), "{names:?}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_in_its_own_server() {
    let dir = tempfile::tempdir().unwrap();
    let key = SignerKey::generate("example.com/remote-signed", SigType::Ed25519).unwrap();
    let vkey: VerifierKey = key.verifier();
    let signer = vellum_server::LocalSigner::new(
        vellum_signer::CheckpointSigner::open(key, &dir.path().join("journal")).unwrap(),
    );
    let addr = SignerAddr::Unix(dir.path().join("signer.sock"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let signer_task = {
        let addr = addr.clone();
        let svc = SignerService::new(signer, vkey.clone());
        tokio::spawn(async move {
            vellum_server::grpc::serve_signer(&addr, None, svc, || {}, async {
                let _ = stopped.await;
            })
            .await
        })
    };
    // Wait for the socket.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !dir.path().join("signer.sock").exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the signer never bound its socket"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let running = TestServer::builder(dir.path())
        .with(|o| o.signer = Some(addr))
        .start()
        .await
        .running;
    assert_eq!(running.vkey, vkey);
    assert!(
        !dir.path().join("data/log.key").exists(),
        "no key in the log's folder"
    );
    let r = running
        .log
        .append(
            vec![Bytes::from("signed elsewhere")],
            vellum_log::Wait::Checkpoint,
        )
        .await
        .unwrap();
    let (cp, _) = r.proofs.unwrap();
    SignedCheckpoint::open(&cp.note, &vkey, &[]).unwrap();
    running.stop().await.unwrap();
    let _ = stop.send(());
    signer_task.await.unwrap().unwrap();
}

//! `vellum history` against an events log, as a process: the table and the
//! JSON lines, and a log that lies (a version left out, two events
//! swapped, the oldest cut off, another log's event) caught with exit 1
//! naming the event.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::net::SocketAddr;

use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};
use vellum_event::{Actor, Outcome, OutcomeResult, Resource, Submitted};
use vellum_proto::v1 as pb;
use vellum_proto::v1::log_client::LogClient;
use vellum_server::LogKind;
use vellum_testkit::TestServer;
use vellum_testkit::process::{assert_fails, stderr, stdout, vellum};

fn event(actor: &str, action: &str, resource: &str, n: usize) -> Submitted {
    Submitted {
        actor: Actor {
            id: actor.into(),
            kind: "user".into(),
            on_behalf_of: None,
        },
        action: action.into(),
        resource: Resource {
            kind: "document".into(),
            id: resource.into(),
        },
        outcome: Outcome {
            result: Some(OutcomeResult::Success),
            reason: None,
        },
        event_time: format!("2026-12-05T10:{n:02}:00Z"),
        attributes: Default::default(),
        payload: Some(format!(r#"{{"version":{n}}}"#).into_bytes()),
        event_id: None,
    }
}

/// An events log holding, on `doc-1`, 5 versions by alice and bob in turn,
/// and one event on `doc-2`.
async fn log_with_history(dir: &std::path::Path) -> TestServer {
    let server = TestServer::builder(dir)
        .with(|o| o.kind = LogKind::Events)
        .start()
        .await;
    let mut c = server.client().await;
    for n in 0..5 {
        let actor = if n % 2 == 0 { "alice" } else { "bob" };
        let e = event(actor, "document.update", "doc-1", n);
        c.record(pb::RecordRequest {
            event: Some((&e).into()),
            wait: pb::WaitFor::Checkpoint as i32,
        })
        .await
        .unwrap();
    }
    let e = event("carol", "document.create", "doc-2", 9);
    c.record(pb::RecordRequest {
        event: Some((&e).into()),
        wait: pb::WaitFor::Checkpoint as i32,
    })
    .await
    .unwrap();
    server
}

async fn history(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || vellum(args))
        .await
        .unwrap()
}

fn args(url: &str, vkey: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["history", "--server", url, "--vkey", vkey]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    a.extend(extra.iter().map(|s| (*s).to_owned()));
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_and_verifies() {
    let dir = TempDir::new().unwrap();
    let server = log_with_history(dir.path()).await;
    let vkey = server.vkey().to_string();

    let out = history(args(
        &server.url,
        &vkey,
        &["--resource", "document/doc-1", "--json"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let indices: Vec<u64> = lines.iter().map(|l| l["index"].as_u64().unwrap()).collect();
    assert_eq!(indices, [4, 3, 2, 1, 0], "newest first");
    assert_eq!(lines[0]["event"]["payload"]["version"], 4);
    assert_eq!(lines[0]["event"]["prev"]["index"], 3);
    assert_eq!(lines[0]["leaf_hash"].as_str().unwrap().len(), 64);

    let out = history(args(&server.url, &vkey, &["--actor", "bob"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("TIME"), "{table}");
    assert_eq!(
        table.lines().count(),
        3,
        "a header and bob's two events: {table}"
    );
    assert!(
        table.contains("document/doc-1") && table.contains(r#"{"version":3}"#),
        "{table}"
    );

    let out = history(args(
        &server.url,
        &vkey,
        &[
            "--action",
            "document.update",
            "--since",
            "2026-12-05T10:01:00Z",
            "--until",
            "2026-12-05T10:03:00Z",
            "--json",
        ],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 2);

    // A time range alone: every event in it, whatever its resource, actor
    // or action, newest first.
    let out = history(args(
        &server.url,
        &vkey,
        &["--since", "2026-12-05T10:03:00Z", "--json"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let indices: Vec<u64> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(indices, [5, 4, 3]);
    // Nothing to select by is a usage error.
    let out = history(args(&server.url, &vkey, &[])).await;
    assert_fails(&out, 2, &["--since and/or --until"]);
    server.stop().await;
}

/// How the lying log changes a ListEvents answer.
#[derive(Clone, Copy, Debug)]
enum Lie {
    LeaveOutAVersion,
    Swap,
    CutTheOldest,
    AnotherLogsEvent,
}

#[derive(Clone)]
struct Liar {
    honest: LogClient<Channel>,
    other: LogClient<Channel>,
    lie: Lie,
}

#[tonic::async_trait]
impl pb::log_server::Log for Liar {
    async fn append(
        &self,
        _: Request<pb::AppendRequest>,
    ) -> Result<Response<pb::AppendResponse>, Status> {
        Err(Status::unimplemented("liar"))
    }
    type AppendStreamStream = tokio_stream::Empty<Result<pb::AppendResponse, Status>>;
    type WatchAlertsStream = tokio_stream::Empty<Result<pb::RecordedAlert, Status>>;
    async fn watch_alerts(
        &self,
        _: Request<pb::WatchAlertsRequest>,
    ) -> Result<Response<Self::WatchAlertsStream>, Status> {
        Err(Status::unimplemented("liar"))
    }
    async fn append_stream(
        &self,
        _: Request<Streaming<pb::AppendRequest>>,
    ) -> Result<Response<Self::AppendStreamStream>, Status> {
        Err(Status::unimplemented("liar"))
    }
    async fn get_checkpoint(
        &self,
        r: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        self.honest.clone().get_checkpoint(r.into_inner()).await
    }
    async fn get_inclusion_proof(
        &self,
        _: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::GetInclusionProofResponse>, Status> {
        Err(Status::unimplemented("liar"))
    }
    async fn get_consistency_proof(
        &self,
        r: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::GetConsistencyProofResponse>, Status> {
        self.honest
            .clone()
            .get_consistency_proof(r.into_inner())
            .await
    }
    async fn get_entries(
        &self,
        _: Request<pb::GetEntriesRequest>,
    ) -> Result<Response<pb::GetEntriesResponse>, Status> {
        Err(Status::unimplemented("liar"))
    }
    async fn get_entry_and_proof(
        &self,
        _: Request<pb::GetEntryAndProofRequest>,
    ) -> Result<Response<pb::GetEntryAndProofResponse>, Status> {
        Err(Status::unimplemented("liar"))
    }
    async fn record(
        &self,
        _: Request<pb::RecordRequest>,
    ) -> Result<Response<pb::RecordResponse>, Status> {
        Err(Status::unimplemented("liar"))
    }
    async fn list_events(
        &self,
        r: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let req = r.into_inner();
        let mut page = self
            .honest
            .clone()
            .list_events(req.clone())
            .await?
            .into_inner();
        match self.lie {
            Lie::LeaveOutAVersion => {
                page.events.remove(2);
            }
            Lie::Swap => page.events.swap(1, 2),
            Lie::CutTheOldest => {
                page.events.pop();
            }
            Lie::AnotherLogsEvent => {
                let other = self.other.clone().list_events(req).await?.into_inner();
                page.events[1] = other.events[1].clone();
            }
        }
        Ok(Response::new(page))
    }
}

async fn serve_liar(liar: Liar) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(pb::log_server::LogServer::new(liar))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_lies_about_a_history_is_caught() {
    let dir = TempDir::new().unwrap();
    let honest = log_with_history(&dir.path().join("honest")).await;
    // The same events on another log (another key): its entries differ only
    // in what the log attests, and its proofs are against its own tree.
    let other = log_with_history(&dir.path().join("other")).await;
    let vkey = honest.vkey().to_string();
    let honest_client = honest.client().await;
    let other_client = other.client().await;
    for (lie, needle) in [
        (Lie::LeaveOutAVersion, "the chain breaks at event 3"),
        // 4, 2, 3, ...: 4 names 3 as its prev, but 2 follows.
        (Lie::Swap, "the chain breaks at event 4"),
        (Lie::CutTheOldest, "versions were left out"),
        (Lie::AnotherLogsEvent, "event 3"),
    ] {
        let addr = serve_liar(Liar {
            honest: honest_client.clone(),
            other: other_client.clone(),
            lie,
        })
        .await;
        let url = format!("http://{addr}");
        let out = history(args(&url, &vkey, &["--resource", "document/doc-1"])).await;
        assert_fails(&out, 1, &[needle]);
    }
    honest.stop().await;
    other.stop().await;
}

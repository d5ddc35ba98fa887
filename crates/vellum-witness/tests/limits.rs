//! The server's limits: a body that does not arrive in time (408), and a
//! request beyond the concurrency limit, answered 503 at once.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::TestLog;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vellum_note::CosignerKey;
use vellum_witness::{HttpOptions, InFlight, TrustedLogs, Witness, http::router_with_gauge};

/// Sends a request head promising `length` body bytes, and no body.
async fn stalled_request(addr: std::net::SocketAddr, length: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /add-checkpoint HTTP/1.1\r\nHost: witness\r\nContent-Length: {length}\r\n\r\nold 0\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

/// Waits until `n` requests hold a slot, failing the test after 20 s.
async fn wait_for_in_flight(in_flight: &InFlight, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while in_flight.get() != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} requests in flight, never {n}",
            in_flight.get()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn read_status(s: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_bodies_time_out_and_excess_requests_are_shed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new("a.example/log");
    log.grow_to(3);
    let witness = Witness::open(
        CosignerKey::generate("witness.example/w1").unwrap(),
        TrustedLogs::from_keys([log.key.verifier()]).unwrap(),
        dir.path(),
    )
    .unwrap();
    let options = HttpOptions {
        max_concurrent_requests: 1,
        body_timeout: Duration::from_secs(2),
        ..HttpOptions::default()
    };
    let in_flight = InFlight::new();
    let app = router_with_gauge(Arc::new(witness), &options, in_flight.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut slow = stalled_request(addr, 1000).await;
    // Wait until the server reads the stalled body, holding the one slot.
    wait_for_in_flight(&in_flight, 1).await;
    let http = reqwest::Client::new();
    let shed = http
        .post(format!("http://{addr}/add-checkpoint"))
        .body(log.body(0, 3))
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status().as_u16(), 503);
    // Shed at once, not queued: answered while the slow request still holds
    // the slot, which it keeps until its body times out.
    assert_eq!(
        in_flight.get(),
        1,
        "the 503 came only after the slot was free: the request was queued"
    );

    assert_eq!(read_status(&mut slow).await, "HTTP/1.1 408 Request Timeout");
    wait_for_in_flight(&in_flight, 0).await;
    // The slot is free again.
    let ok = http
        .post(format!("http://{addr}/add-checkpoint"))
        .body(log.body(0, 3))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

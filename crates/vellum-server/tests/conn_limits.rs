//! Connection limits and stalled clients, on both listeners: past
//! `max_connections` a new connection is closed at once; idle connections
//! (that send nothing) are closed after the idle timeout, and TLS
//! connections that never start a handshake after the handshake timeout;
//! either way a normal client is served again afterwards.
//!
//! No assertion is on speed: every wait is bounded by a generous deadline
//! that only turns a hang into a failure.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod secure_support;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use secure_support::{options, pki};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use vellum_client::{ClientOptions, UnverifiedClient, Wait};
use vellum_server::{Running, start};

/// Long enough for a loaded CI machine; a hang fails the test instead of
/// stalling it.
const DEADLINE: Duration = Duration::from_secs(60);
const LIMIT: usize = 3;

async fn idle_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(TcpStream::connect(addr).await.unwrap());
    }
    v
}

/// Waits until the server closes `s` (EOF or reset) without sending a
/// byte; fails on a byte or on the deadline.
async fn closed_without_a_byte(s: &mut TcpStream) {
    let mut b = [0u8; 64];
    let r = tokio::time::timeout(DEADLINE, s.read(&mut b))
        .await
        .expect("the server did not close the connection");
    match r {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("the server sent {n} bytes to a connection over the limit"),
    }
}

/// Waits until the server closes `s` (EOF or reset), reading what it sends
/// first (an HTTP/2 server opens with its SETTINGS); fails on the deadline.
async fn closed_by_server(s: &mut TcpStream) {
    let mut b = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let r = tokio::time::timeout_at(deadline, s.read(&mut b))
            .await
            .expect("the server did not close the connection");
        match r {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

async fn grpc_append(running: &Running, entry: &str) -> Result<(), String> {
    let url = format!("http://{}", running.grpc_addr);
    let c = UnverifiedClient::connect_with(&url, &ClientOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    c.append(vec![entry.to_owned().into()], Wait::Durable)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

async fn http_get(running: &Running) -> Result<u16, String> {
    let url = format!("http://{}/checkpoint", running.http_addr.unwrap());
    // A fresh client each time: no pooled connection from an earlier try.
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    c.get(url)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

/// Retries `f` until it succeeds (the server frees a slot when it notices
/// a closed connection, which takes a moment), within the deadline.
async fn eventually<T, F: Future<Output = Result<T, String>>>(mut f: impl FnMut() -> F) -> T {
    let start = tokio::time::Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if start.elapsed() > DEADLINE => panic!("never served: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_holds_and_frees_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.limits.max_connections = LIMIT;
    let running = start(opts).await.unwrap();
    running
        .log
        .append(vec!["seed".into()], vellum_log::Wait::Checkpoint)
        .await
        .unwrap();

    for (name, addr, stats) in [
        ("gRPC", running.grpc_addr, &running.stats.grpc),
        ("HTTP", running.http_addr.unwrap(), &running.stats.http),
    ] {
        let held = idle_connections(addr, LIMIT).await;
        // Each connection over the limit is closed without a byte.
        let mut over = idle_connections(addr, 2).await;
        for s in &mut over {
            closed_without_a_byte(s).await;
        }
        assert!(stats.refused.load(Ordering::Relaxed) >= 2, "{name}");
        // A normal client is refused too while the slots are held.
        match name {
            "gRPC" => assert!(grpc_append(&running, "refused").await.is_err()),
            _ => assert!(http_get(&running).await.is_err()),
        }
        assert_eq!(stats.open.load(Ordering::Relaxed), LIMIT as u64, "{name}");
        drop(held);
        // Once the idle ones are gone, it is served.
        match name {
            "gRPC" => eventually(|| grpc_append(&running, "served")).await,
            _ => assert_eq!(eventually(|| http_get(&running)).await, 200),
        }
    }
    // Only the appends that were served are in the log.
    assert_eq!(running.log.committed().size.get(), 2);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_are_closed_by_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.limits.max_connections = LIMIT;
    opts.limits.idle_timeout = Duration::from_secs(1);
    let running = start(opts).await.unwrap();
    for (name, addr, stats) in [
        ("gRPC", running.grpc_addr, &running.stats.grpc),
        ("HTTP", running.http_addr.unwrap(), &running.stats.http),
    ] {
        // The stalled clients fill every slot and never send a byte.
        let mut held = idle_connections(addr, LIMIT).await;
        for s in &mut held {
            closed_by_server(s).await;
        }
        eventually(|| async {
            let n = stats.idle_closed.load(Ordering::Relaxed);
            if n >= LIMIT as u64 {
                Ok(())
            } else {
                Err(format!("{name}: {n} idle connections counted"))
            }
        })
        .await;
        // The sockets are still open on this side: the slots were freed by
        // the server, not by the client leaving.
        match name {
            "gRPC" => eventually(|| grpc_append(&running, "after idle")).await,
            _ => assert_eq!(eventually(|| http_get(&running)).await, 200),
        }
        drop(held);
    }
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_connection_without_a_handshake_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"), "CA");
    let mut opts = options(dir.path());
    opts.tls = Some(pki.files.clone());
    opts.limits.max_connections = LIMIT;
    opts.limits.tls_handshake_timeout = Duration::from_millis(500);
    let running = start(opts).await.unwrap();
    let mut held = idle_connections(running.grpc_addr, LIMIT).await;
    for s in &mut held {
        closed_by_server(s).await;
    }
    // Counted (the count may land just after the close is seen here).
    eventually(|| async {
        let n = running.stats.grpc.handshake_failed.load(Ordering::Relaxed);
        if n >= LIMIT as u64 {
            Ok(())
        } else {
            Err(format!("{n} failed handshakes counted"))
        }
    })
    .await;
    // Slots are free again: a TLS client is served.
    let o = ClientOptions {
        ca_pem: Some(pki.ca_pem.clone()),
        ..ClientOptions::default()
    };
    let url = format!("https://localhost:{}", running.grpc_addr.port());
    eventually(|| async {
        let c = UnverifiedClient::connect_with(&url, &o)
            .await
            .map_err(|e| e.to_string())?;
        c.append(vec!["tls".into()], Wait::Durable)
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    drop(held);
    running.stop().await.unwrap();
}

//! Experiment behind a finding of the load generator: the same log served
//! twice, on the server's own listener (as `vellum serve` does) and on a
//! second listener whose accepted sockets get `TCP_NODELAY`, so that
//! `vellum-bench ... --server URL` can measure both in one process.
//!
//! tonic ignores `Server::tcp_nodelay` with `serve_with_incoming*` (its
//! docs say so); `vellum_server::grpc::serve` passes a `TcpListenerStream`,
//! so Nagle's algorithm stays on for every connection. A response written
//! in two pieces then waits for the client's delayed ACK (~40 ms on Linux).
//!
//! ```text
//! cargo run --release --example nodelay -- 120   # serve for 120 s
//! ```

use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use vellum_proto::v1::log_server::LogServer;
use vellum_server::grpc::LogService;
use vellum_server::{Limits, ServeOptions};

fn main() -> anyhow::Result<()> {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let tmp = tempfile::tempdir()?;
        let mut opts = ServeOptions::embedded();
        opts.data = tmp.path().join("data");
        opts.listen = "127.0.0.1:0".parse()?;
        let running = vellum_server::start(opts).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let nodelay_addr = listener.local_addr()?;
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter.set_serving::<LogServer<LogService>>().await;
        let svc = LogServer::new(LogService::new(running.log.clone(), Limits::default()))
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let server = tokio::spawn(
            Server::builder()
                .add_service(health)
                .add_service(svc)
                .serve_with_incoming_shutdown(
                    incoming,
                    tokio::time::sleep(Duration::from_secs(secs)),
                ),
        );
        println!("vkey {}", running.vkey);
        println!("as-served http://{}", running.grpc_addr);
        println!("nodelay http://{nodelay_addr}");
        server.await??;
        running.stop().await?;
        anyhow::Ok(())
    })
}

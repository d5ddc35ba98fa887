//! A real log server in this process: the embedded defaults, a data folder
//! under the test's temporary folder, gRPC (and HTTP, if asked) on free
//! loopback ports.
//!
//! ```no_run
//! # async fn f(dir: &std::path::Path) {
//! use vellum_testkit::TestServer;
//! let server = TestServer::builder(dir)
//!     .http()
//!     .with(|o| o.tuning.max_entries_per_call = Some(100))
//!     .start()
//!     .await;
//! let mut client = server.client().await;
//! # drop(client);
//! server.stop().await;
//! # }
//! ```

use std::path::{Path, PathBuf};

use tonic::transport::Channel;
use vellum_note::VerifierKey;
use vellum_proto::v1 as pb;
use vellum_server::{Running, ServeError, ServeOptions};

/// A running log and how to reach it.
#[derive(Debug)]
pub struct TestServer {
    /// The server itself: its log, counters and addresses.
    pub running: Running,
    /// `http://<gRPC address>`.
    pub url: String,
    /// The data folder.
    pub data: PathBuf,
}

/// How a [`TestServer`] starts: [`ServeOptions::embedded`], with the test's
/// changes.
#[derive(Debug)]
pub struct Builder {
    opts: ServeOptions,
}

impl TestServer {
    /// A server whose data folder is `<dir>/data`, listening for gRPC on a
    /// free loopback port, with no HTTP listener.
    pub fn builder(dir: &Path) -> Builder {
        let mut opts = ServeOptions::embedded();
        opts.data = dir.join("data");
        opts.listen = "127.0.0.1:0".parse().expect("a loopback address");
        Builder { opts }
    }

    /// The log's verifier key.
    pub fn vkey(&self) -> VerifierKey {
        self.running.vkey.clone()
    }

    /// `http://<HTTP address>`, if the server has an HTTP listener.
    pub fn http_url(&self) -> Option<String> {
        self.running.http_addr.map(|a| format!("http://{a}"))
    }

    /// A connected channel to the gRPC listener.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .expect("a valid URL")
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.url))
    }

    /// A client of the `Log` service over a new connection.
    pub async fn client(&self) -> pb::log_client::LogClient<Channel> {
        pb::log_client::LogClient::new(self.channel().await)
    }

    /// Waits until the log has signed its first checkpoint (the empty tree
    /// for a new log), which it does in the background after starting.
    pub async fn first_checkpoint(&self) {
        let mut published = self.running.log.subscribe_published();
        tokio::time::timeout(crate::DEADLINE, published.wait_for(|p| p.is_some()))
            .await
            .expect("a first checkpoint within the deadline")
            .expect("the log publishes a checkpoint");
    }

    /// Stops the server cleanly, failing the test if it cannot.
    pub async fn stop(self) {
        self.running.stop().await.expect("a clean stop");
    }
}

impl Builder {
    /// The data folder, instead of `<dir>/data`.
    #[must_use]
    pub fn data(mut self, data: &Path) -> Builder {
        data.clone_into(&mut self.opts.data);
        self
    }

    /// This key file instead of `<data>/log.key`.
    #[must_use]
    pub fn key(mut self, key: &Path) -> Builder {
        self.opts.key = Some(key.to_owned());
        self
    }

    /// The origin of a new log.
    #[must_use]
    pub fn origin(mut self, origin: &str) -> Builder {
        self.opts.origin = Some(origin.to_owned());
        self
    }

    /// An HTTP (tlog-tiles) listener on a free loopback port.
    #[must_use]
    pub fn http(mut self) -> Builder {
        self.opts.http = Some("127.0.0.1:0".parse().expect("a loopback address"));
        self
    }

    /// Any other change to the options (tuning, limits, TLS, access, ...).
    #[must_use]
    pub fn with(mut self, change: impl FnOnce(&mut ServeOptions)) -> Builder {
        change(&mut self.opts);
        self
    }

    /// The options as they stand, for a test that starts the server itself
    /// or expects the start to fail.
    pub fn options(self) -> ServeOptions {
        self.opts
    }

    /// Starts the server, returning the start's error.
    ///
    /// # Errors
    ///
    /// Whatever [`vellum_server::start`] refuses.
    pub async fn try_start(self) -> Result<TestServer, ServeError> {
        let data = self.opts.data.clone();
        let running = vellum_server::start(self.opts).await?;
        Ok(TestServer {
            url: format!("http://{}", running.grpc_addr),
            running,
            data,
        })
    }

    /// Starts the server, failing the test if it does not start.
    pub async fn start(self) -> TestServer {
        match self.try_start().await {
            Ok(s) => s,
            Err(e) => panic!("the test server did not start: {e}"),
        }
    }
}

//! Helpers: real trees, real proofs, real signed checkpoints, and a real
//! witness served on 127.0.0.1.

#![allow(dead_code, clippy::unwrap_used)] // Each test file uses a part; a panic is the failure report.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vellum_merkle::{CompactRange, Hash, NodeId, TreeSize, leaf_hash, proof};
use vellum_note::{Checkpoint, CosignerKey, NoteSigner, SigType, SignerKey, sign_note};
use vellum_witness::{AddCheckpointRequest, TrustedLogs, Witness};

/// A log: a key and a tree grown leaf by leaf, every complete node kept.
pub struct TestLog {
    pub key: SignerKey,
    tag: String,
    entries: Vec<Vec<u8>>,
    edge: CompactRange,
    nodes: HashMap<NodeId, Hash>,
    /// roots[s] is the root at size s.
    roots: Vec<Hash>,
}

impl TestLog {
    pub fn new(origin: &str) -> TestLog {
        TestLog::with_key(
            SignerKey::generate(origin, SigType::Ed25519).unwrap(),
            "main",
        )
    }

    pub fn with_key(key: SignerKey, tag: &str) -> TestLog {
        TestLog {
            key,
            tag: tag.to_owned(),
            entries: Vec::new(),
            edge: CompactRange::new(),
            nodes: HashMap::new(),
            roots: vec![Hash::empty_root()],
        }
    }

    /// The same log (same key) that agrees on the first `at` entries and
    /// then diverges: a fork.
    pub fn fork(&self, at: u64, tag: &str) -> TestLog {
        let mut fork = TestLog::with_key(self.key.clone(), tag);
        for e in &self.entries[..at as usize] {
            fork.append(e.clone());
        }
        fork
    }

    fn append(&mut self, entry: Vec<u8>) {
        let nodes = &mut self.nodes;
        self.edge
            .append(leaf_hash(&entry), |id, h| {
                nodes.insert(id, *h);
            })
            .unwrap();
        self.entries.push(entry);
        self.roots.push(self.edge.root());
    }

    pub fn grow_to(&mut self, size: u64) {
        while (self.entries.len() as u64) < size {
            let entry = format!("{} entry {}", self.tag, self.entries.len()).into_bytes();
            self.append(entry);
        }
    }

    pub fn origin(&self) -> &str {
        self.key.name()
    }

    pub fn root(&self, size: u64) -> Hash {
        self.roots[size as usize]
    }

    pub fn checkpoint_text(&self, size: u64) -> String {
        Checkpoint::new(self.origin(), TreeSize::new(size).unwrap(), self.root(size))
            .unwrap()
            .to_text()
    }

    /// The checkpoint at `size`, signed by the log.
    pub fn checkpoint(&self, size: u64) -> Vec<u8> {
        sign_note(&self.checkpoint_text(size), &[&self.key as &dyn NoteSigner])
            .unwrap()
            .into_bytes()
    }

    /// A real consistency proof: plan, fetch from the node map, assemble.
    pub fn proof(&self, old: u64, new: u64) -> Vec<Hash> {
        let plan =
            proof::plan_consistency(TreeSize::new(old).unwrap(), TreeSize::new(new).unwrap())
                .unwrap();
        let hashes: Vec<Hash> = plan.nodes().iter().map(|id| self.nodes[id]).collect();
        plan.assemble(&hashes).unwrap()
    }

    /// The add-checkpoint body for `old` -> `new`.
    pub fn body(&self, old: u64, new: u64) -> Vec<u8> {
        AddCheckpointRequest::encode(old, &self.proof(old, new), &self.checkpoint(new))
    }
}

/// A witness served on 127.0.0.1 until stopped.
pub struct TestWitness {
    pub url: String,
    pub witness: Arc<Witness>,
    pub key: CosignerKey,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestWitness {
    pub async fn start(dir: &Path, key: CosignerKey, logs: TrustedLogs) -> TestWitness {
        let witness = Arc::new(Witness::open(key.clone(), logs, dir).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(vellum_witness::serve(
            listener,
            Arc::clone(&witness),
            async move {
                let _ = rx.await;
            },
        ));
        TestWitness {
            url,
            witness,
            key,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// A fresh witness trusting `logs`.
    pub async fn for_logs(dir: &Path, logs: &[&TestLog]) -> TestWitness {
        let key = CosignerKey::generate("witness.example/w1").unwrap();
        let logs = TrustedLogs::from_keys(logs.iter().map(|l| l.key.verifier())).unwrap();
        TestWitness::start(dir, key, logs).await
    }

    pub fn add_checkpoint_url(&self) -> String {
        format!("{}/add-checkpoint", self.url)
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }
}

/// A raw POST: status, content type, body.
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

pub async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) -> Answer {
    let r = http.post(url).body(body).send().await.unwrap();
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = r.text().await.unwrap();
    Answer {
        status,
        content_type,
        body,
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

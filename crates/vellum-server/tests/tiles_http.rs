//! The tlog-tiles HTTP API: byte-identical to the Go reference vectors,
//! headers and statuses as documented in `vellum_server::http`, and bad
//! paths refused before the store is touched.

#![allow(clippy::unwrap_used)]

mod tiles_support;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tiles_support::{ORIGIN, VECTOR_SIZE, append, entry, get, server, vectors};
use vellum_log::{Log, LogConfig, Wait};
use vellum_merkle::tiles::{Tile, TileKind};
use vellum_merkle::{Hash, LeafIndex, NodeId, TreeSize};
use vellum_note::{Checkpoint, Note, SigType, SignedCheckpoint, SignerKey};
use vellum_server::LocalSigner;
use vellum_server::http::{self, HttpConfig, TileSource};
use vellum_signer::CheckpointSigner;
use vellum_store::memory::MemoryStore;
use vellum_store::{CommitBatch, LogStore, StoreError, TreeHead};

/// Every partial tile of a tree of `size`, checked against the vector file
/// of the same path when there is one; and the next width must be 404.
async fn check_partials(c: &reqwest::Client, base: &str, size: u64) -> usize {
    let s = TreeSize::new(size).unwrap();
    let mut kinds: Vec<TileKind> = Tile::levels(s).map(TileKind::Hashes).collect();
    kinds.push(TileKind::Entries);
    let mut compared = 0;
    for kind in kinds {
        let Some(p) = Tile::partial_for_size(kind, s) else {
            continue;
        };
        let got = get(c, &format!("{base}{}", p.path())).await;
        assert_eq!(got.status, 200, "{p} at size {size}");
        if let Ok(want) = std::fs::read(vectors().join(p.path())) {
            assert_eq!(got.body, want, "{p} at size {size}");
            compared += 1;
        }
        if p.width() < 255 {
            let next = Tile::new(kind, p.index(), u64::from(p.width()) + 1).unwrap();
            assert_eq!(
                get(c, &format!("{base}{}", next.path())).await.status,
                404,
                "{next}"
            );
        }
    }
    compared
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_vector_tiles_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let running = server(dir.path(), None).await;
    let base = format!("http://{}/", running.http_addr.unwrap());
    let c = reqwest::Client::new();
    let log = &running.log;

    // Checkpoints at every multiple of 4,096, then at the sizes where the
    // level-1 partial tile is 1, 2 and 3 wide, then at every size whose
    // level-0 partial tile the vectors hold (widths 1..=232 of tile 259).
    let mut compared = 0;
    let mut size = 0;
    for (to, batch) in [(65_536, 4096), (66_304, 256), (VECTOR_SIZE, 1)] {
        while size < to {
            let next = (size + batch).min(to);
            append(log, size, next, batch).await;
            size = next;
            compared += check_partials(&c, &base, size).await;
        }
    }
    // 232 level-0 partials, 3 level-1, the level-2 one and the final bundle.
    assert!(compared > 232 + 3 + 1, "{compared}");

    // Every file of the vectors, byte for byte.
    let tiles = vectors().join("tile");
    let all = tiles_support::files(&tiles);
    assert_eq!(all.len(), 756);
    for rel in &all {
        let want = std::fs::read(tiles.join(rel)).unwrap();
        let got = get(&c, &format!("{base}tile/{rel}")).await;
        assert_eq!(got.status, 200, "tile/{rel}");
        assert!(got.body == want, "tile/{rel} differs from the vector");
    }

    // The checkpoint: our key, the vectors' tree.
    let got = get(&c, &format!("{base}checkpoint")).await;
    let cp = SignedCheckpoint::open(&got.body, &running.vkey, &[]).unwrap();
    let vector_text = std::fs::read_to_string(vectors().join("checkpoint")).unwrap();
    let vector = Checkpoint::parse(Note::parse(vector_text.as_bytes()).unwrap().text()).unwrap();
    assert_eq!(cp.checkpoint().size(), vector.size());
    assert_eq!(cp.checkpoint().root(), vector.root());
    assert_eq!(cp.checkpoint().origin(), ORIGIN);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_and_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let running = server(dir.path(), None).await;
    let base = format!("http://{}/", running.http_addr.unwrap());
    let c = reqwest::Client::new();
    append(&running.log, 0, 300, 300).await;

    let cp = get(&c, &format!("{base}checkpoint")).await;
    assert_eq!(cp.status, 200);
    assert_eq!(cp.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(cp.header("cache-control"), Some("no-cache"));
    assert_eq!(&cp.body[..], &running.log.published().unwrap().note[..]);

    for (path, len) in [
        ("tile/0/000", 8192),
        ("tile/0/001.p/44", 44 * 32),
        ("tile/0/001.p/3", 3 * 32),
        ("tile/1/000.p/1", 32),
        ("tile/entries/000", 0),
        ("tile/entries/001.p/44", 0),
    ] {
        let t = get(&c, &format!("{base}{path}")).await;
        assert_eq!(t.status, 200, "{path}");
        assert_eq!(
            t.header("content-type"),
            Some("application/octet-stream"),
            "{path}"
        );
        assert_eq!(
            t.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{path}"
        );
        assert!(t.header("content-encoding").is_none());
        if len > 0 {
            assert_eq!(t.body.len(), len, "{path}");
        }
    }
    let bundle = get(&c, &format!("{base}tile/entries/001.p/44")).await;
    let entries = vellum_merkle::tiles::parse_bundle(&bundle.body, 44).unwrap();
    assert_eq!(entries[0], &entry(256)[..]);

    let head = c.head(format!("{base}tile/0/000")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "8192");

    let status = |code: u16, paths: &[&str]| {
        let (c, base) = (c.clone(), base.clone());
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        async move {
            for p in paths {
                let r = get(&c, &format!("{base}{p}")).await;
                assert_eq!(r.status, code, "{p}");
                assert_eq!(r.header("cache-control"), Some("no-store"), "{p}");
            }
        }
    };
    // Beyond the tree, or beyond any tree.
    status(
        404,
        &[
            "tile/0/001.p/45",
            "tile/0/001",
            "tile/0/002.p/1",
            "tile/1/000",
            "tile/1/000.p/2",
            "tile/2/000.p/1",
            "tile/entries/001",
            "tile/entries/x001/000",
            "tile/7/001",
            "tile/7/x001/000",
            "tile/9/000",
            "",
            "tiles/0/000",
            "checkpoint/x",
        ],
    )
    .await;
    // Not tlog-tiles paths: not the canonical spelling of any tile.
    status(
        400,
        &[
            "tile/0/1",
            "tile/00/000",
            "tile/0/0000",
            "tile/0/x000/000",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/01",
            "tile/64/000",
            "tile/-1/000",
            "tile/0/%30%30%30",
            "tile/entries/000.p/1/",
            "tile/entries",
            "tile/x",
        ],
    )
    .await;
    let post = c.post(format!("{base}tile/0/000")).send().await.unwrap();
    assert_eq!(post.status(), 405);
    running.stop().await.unwrap();
}

/// A store that counts reads, to show which requests reach it.
struct Counting {
    inner: MemoryStore,
    reads: AtomicU64,
}

impl Counting {
    fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }
    fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }
}

impl LogStore for Counting {
    fn tree_head(&self) -> Result<TreeHead, StoreError> {
        self.read();
        self.inner.tree_head()
    }
    fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        self.read();
        self.inner.read_nodes(ids)
    }
    fn read_node_range(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        self.read();
        self.inner.read_node_range(level, start, count)
    }
    fn read_entries(&self, start: LeafIndex, count: u64) -> Result<Vec<Bytes>, StoreError> {
        self.read();
        self.inner.read_entries(start, count)
    }
    fn find_leaves(&self, h: &[Hash]) -> Result<Vec<Option<LeafIndex>>, StoreError> {
        self.read();
        self.inner.find_leaves(h)
    }
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        self.inner.commit(batch)
    }
    fn put_checkpoint(&self, size: TreeSize, note: &[u8]) -> Result<(), StoreError> {
        self.inner.put_checkpoint(size, note)
    }
    fn latest_checkpoint(&self) -> Result<Option<(TreeSize, Bytes)>, StoreError> {
        self.read();
        self.inner.latest_checkpoint()
    }
    fn checkpoint_at(&self, size: TreeSize) -> Result<Option<Bytes>, StoreError> {
        self.read();
        self.inner.checkpoint_at(size)
    }
}

/// A log on a counting in-memory store, served on a free port.
async fn counted_log(
    dir: &std::path::Path,
    config: HttpConfig,
) -> (
    Arc<Counting>,
    Log,
    String,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let store = Arc::new(Counting {
        inner: MemoryStore::new(),
        reads: AtomicU64::new(0),
    });
    let key = SignerKey::generate(ORIGIN, SigType::Ed25519).unwrap();
    let vkey = key.verifier();
    let signer = Arc::new(LocalSigner::new(CheckpointSigner::open(key, dir).unwrap()));
    let log = Log::builder(store.clone(), signer, vkey)
        .config(LogConfig::new(ORIGIN))
        .open()
        .await
        .unwrap();
    log.append((0..300).map(entry).collect(), Wait::Checkpoint)
        .await
        .unwrap();
    let listener = http::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let task = tokio::spawn(http::serve(
        listener,
        TileSource::from_log(&log),
        config,
        std::future::pending(),
    ));
    (store, log, base, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_never_touch_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (store, log, base, task) = counted_log(dir.path(), HttpConfig::default()).await;
    let c = reqwest::Client::new();
    // The log is idle: no round pending (flush), and the published
    // checkpoint covers every committed entry, so the publisher has nothing
    // to read. From here only requests may read the store.
    log.flush().await.unwrap();
    let mut published = log.subscribe_published();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        published.wait_for(|p| p.as_ref().is_some_and(|p| p.size == log.committed().size)),
    )
    .await
    .expect("the publisher catches up with the committed tree")
    .unwrap();
    let before = store.reads();
    for (p, code) in [
        ("tile/0/1", 400),
        ("tile/0/x000/001", 400),
        ("tile/0/%30%30%30", 400),
        ("tile/9/000", 404),
        ("tile/7/001", 404),
        ("tile/0/001.p/45", 404),
        ("tile/0/002", 404),
        ("tile/1/000", 404),
        ("tile/entries/x999/x999/x999/999", 404),
        ("tile/entries/001", 404),
        ("nothing", 404),
    ] {
        assert_eq!(get(&c, &format!("{base}{p}")).await.status, code, "{p}");
    }
    assert_eq!(store.reads(), before, "a refused path reached the store");
    assert_eq!(get(&c, &format!("{base}checkpoint")).await.status, 200);
    assert_eq!(
        store.reads(),
        before,
        "the checkpoint is served from memory"
    );

    // A good path reads once; the cache answers the second time.
    assert_eq!(get(&c, &format!("{base}tile/0/001.p/44")).await.status, 200);
    let after = store.reads();
    assert_eq!(after, before + 1);
    assert_eq!(get(&c, &format!("{base}tile/0/001.p/44")).await.status, 200);
    assert_eq!(store.reads(), after);
    task.abort();
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_are_gzipped_when_asked_and_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let config = HttpConfig {
        gzip_bundles: true,
        ..HttpConfig::default()
    };
    let (_store, log, base, task) = counted_log(dir.path(), config).await;
    let c = reqwest::Client::new();
    let url = format!("{base}tile/entries/000");
    let plain = get(&c, &url).await;
    assert!(plain.header("content-encoding").is_none());
    assert_eq!(plain.header("vary"), Some("accept-encoding"));
    let r = c
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let zipped = r.bytes().await.unwrap();
    assert!(zipped.len() < plain.body.len());
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain.body);
    // Hash tiles are never compressed.
    let r = c
        .get(format!("{base}tile/0/000"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    task.abort();
    log.shutdown().await;
}

#[test]
fn tiles_beyond_loopback_need_the_insecure_flag() {
    let mut opts = vellum_server::ServeOptions::embedded();
    opts.http = Some("0.0.0.0:7080".parse().unwrap());
    let e = vellum_server::run::check_safety(&opts).unwrap_err();
    assert!(
        e.to_string()
            .contains("refusing to serve tiles on 0.0.0.0:7080"),
        "{e}"
    );
    opts.insecure_remote = true;
    vellum_server::run::check_safety(&opts).unwrap();
}

//! A log with three witnesses and a 2-of-3 policy, over real HTTP: one
//! witness down still meets the policy; two down does not, sequencing goes
//! on, and witnessing recovers when they return.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use vellum_log::Wait;
use vellum_note::{CosignerKey, Policy, SigType, SignerKey};
use vellum_testkit::TestServer;
use vellum_testkit::metrics::{scrape, value};
use vellum_witness::Witness;
use vellum_witness::config::TrustedLogs;

const ORIGIN: &str = "example.com/witnessed-log";

struct RunningWitness {
    witness: Arc<Witness>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start_witness(
    key_text: &str,
    log: &vellum_note::VerifierKey,
    state: &Path,
    addr: SocketAddr,
) -> RunningWitness {
    let key = CosignerKey::parse(key_text).unwrap();
    let logs = TrustedLogs::from_keys([log.clone()]).unwrap();
    let witness = Arc::new(Witness::open(key, logs, state).unwrap());
    // The port was ours a moment ago; retry briefly while the OS releases it.
    let mut tries = 0;
    let listener = loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(e) if tries < 50 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("rebind {addr}: {e}"),
        }
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(vellum_witness::http::serve(
        listener,
        witness.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    RunningWitness {
        witness,
        stop,
        task,
    }
}

impl RunningWitness {
    /// The largest size of this log the witness has cosigned (its durable
    /// state, as it answers requests from it).
    fn cosigned_size(&self) -> u64 {
        self.witness
            .state()
            .list()
            .iter()
            .find(|s| s.origin() == ORIGIN)
            .and_then(|s| s.latest())
            .map_or(0, |c| c.size().get())
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Polls `cond` until it holds; fails the test after 20 s.
async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn entries(prefix: &str, n: u64) -> Vec<Bytes> {
    (0..n)
        .map(|i| Bytes::from(format!("{prefix} {i}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_witnesses() {
    let dir = tempfile::tempdir().unwrap();
    let log_key = SignerKey::generate(ORIGIN, SigType::Ed25519).unwrap();
    let log_vkey = log_key.verifier();
    let key_path = dir.path().join("log.key");
    vellum_signer::keyfile::write_key(&key_path, &log_key).unwrap();

    // Three witnesses on fixed ports (so they can come back on the same URL).
    let mut keys = Vec::new();
    let mut addrs = Vec::new();
    for i in 0..3 {
        let k = CosignerKey::generate(&format!("example.com/witness{i}")).unwrap();
        keys.push(k.signer_key().to_text().to_string());
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        addrs.push(l.local_addr().unwrap());
    }
    let mut policy_text = format!("log {log_vkey}\n");
    for (i, (k, a)) in keys.iter().zip(&addrs).enumerate() {
        let v = CosignerKey::parse(k).unwrap().verifier();
        policy_text.push_str(&format!("witness w{i} {} http://{a}\n", v.verifier_key()));
    }
    policy_text.push_str("group two 2 w0 w1 w2\nquorum two\n");
    let policy = Policy::parse(&policy_text).unwrap();

    let state = |i: usize| dir.path().join(format!("witness{i}"));
    let mut witnesses = Vec::new();
    for i in 0..3 {
        witnesses.push(Some(
            start_witness(&keys[i], &log_vkey, &state(i), addrs[i]).await,
        ));
    }

    let server = TestServer::builder(dir.path())
        .http()
        .key(&key_path)
        .with(|o| {
            o.witness_policy = Some(policy.clone());
            o.publish_below_policy = false;
            o.witness_timeout = Duration::from_millis(500);
        })
        .start()
        .await;
    let log = server.running.log.clone();

    let cosigners =
        |note: &[u8]| -> usize { policy.check_checkpoint(note).unwrap().cosignatures().len() };

    // All three up.
    let r = log.append(entries("a", 5), Wait::Witnessed).await.unwrap();
    let (cp, _) = r.proofs.unwrap();
    assert!(cosigners(&cp.note) >= 2);
    assert!(
        policy.evaluate(
            &policy
                .check_checkpoint(&cp.note)
                .unwrap()
                .cosignatures()
                .iter()
                .map(|c| c.witness().to_owned())
                .collect()
        )
    );

    // One down: still two cosignatures.
    witnesses[2].take().unwrap().stop().await;
    let r = log.append(entries("b", 5), Wait::Witnessed).await.unwrap();
    let (cp, _) = r.proofs.unwrap();
    assert_eq!(cosigners(&cp.note), 2);
    let served = log.published().unwrap();
    assert!(served.size >= cp.size);

    // Two down: sequencing goes on, nothing meets the policy.
    witnesses[1].take().unwrap().stop().await;
    let before = log.witnessed().unwrap().size;
    let r = log.append(entries("c", 5), Wait::Durable).await.unwrap();
    let last = r.results.last().unwrap().index.get();
    assert!(last >= before.get());
    // The log had its chance: the live witness cosigned a checkpoint that
    // covers the new entries, and a witness round finished after that, so
    // its outcome (not enough cosignatures) is decided.
    let live = witnesses[0].as_ref().unwrap();
    let rounds = || log.stats().witness_rounds.load(Ordering::SeqCst);
    let below = || {
        log.stats()
            .witness_rounds_below_policy
            .load(Ordering::SeqCst)
    };
    wait_until("w0 to cosign the new entries", || {
        live.cosigned_size() > last
    })
    .await;
    let (seen, below_seen) = (rounds(), below());
    wait_until("a witness round to finish", || rounds() > seen).await;
    assert!(below() > below_seen, "the round found the policy unmet");
    assert_eq!(
        log.witnessed().unwrap().size,
        before,
        "no checkpoint may meet a 2-of-3 policy with one witness"
    );
    assert_eq!(
        log.published().unwrap().size,
        before,
        "below-policy checkpoints are not served"
    );
    // The metrics say the same, per witness: w0 up and cosigning the new
    // entries, w1 and w2 down with their failures counted.
    let m = scrape(&server.http_url().unwrap()).await;
    let of = |w: &'static str| [("log", "default"), ("witness", w)];
    assert_eq!(value(&m, "vellum_witness_up", &of("w0")), 1.0);
    assert_eq!(value(&m, "vellum_witness_up", &of("w1")), 0.0);
    assert_eq!(value(&m, "vellum_witness_up", &of("w2")), 0.0);
    assert!(value(&m, "vellum_witness_cosigned_size", &of("w0")) > last as f64);
    assert!(value(&m, "vellum_witness_cosigned_size", &of("w1")) >= 10.0);
    assert!(value(&m, "vellum_witness_cosigned_size", &of("w1")) <= before.get() as f64);
    assert!(
        value(
            &m,
            "vellum_witness_last_cosigned_timestamp_seconds",
            &of("w0")
        ) > 1.7e9
    );
    let requests = |w, result| {
        let [l, w] = of(w);
        value(
            &m,
            "vellum_witness_requests_total",
            &[l, w, ("result", result)],
        )
    };
    assert!(requests("w2", "failed") + requests("w2", "timeout") >= 1.0);
    assert!(requests("w0", "cosigned") >= 3.0);
    assert_eq!(requests("w0", "failed") + requests("w0", "timeout"), 0.0);
    assert_eq!(
        value(&m, "vellum_witnessed_size", &[("log", "default")]),
        before.get() as f64
    );

    // They come back from their state: witnessing catches up.
    witnesses[1] = Some(start_witness(&keys[1], &log_vkey, &state(1), addrs[1]).await);
    witnesses[2] = Some(start_witness(&keys[2], &log_vkey, &state(2), addrs[2]).await);
    let mut w = log.subscribe_published();
    tokio::time::timeout(
        Duration::from_secs(20),
        w.wait_for(|p| p.as_ref().is_some_and(|p| p.size.get() > last)),
    )
    .await
    .expect("witnessing recovers")
    .unwrap();
    assert!(cosigners(&log.witnessed().unwrap().note) >= 2);

    server.stop().await;
    for w in witnesses.into_iter().flatten() {
        w.stop().await;
    }
}

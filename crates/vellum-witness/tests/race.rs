//! Racing add-checkpoint requests from the same old size: exactly one is
//! cosigned, whatever the interleaving, and the stored size is the winner's.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::sync::Arc;

use common::{TestLog, TestWitness, post};
use tokio::sync::Barrier;
use vellum_note::parse_signature_lines;

const N: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_winner_among_32_racing_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new("race.example/log");
    log.grow_to(10 + N as u64);
    let w = TestWitness::for_logs(dir.path(), &[&log]).await;
    let http = reqwest::Client::new();
    let url = w.add_checkpoint_url();

    let mut old = 10;
    assert_eq!(post(&http, &url, log.body(0, old)).await.status, 200);

    // Several rounds, each from the size the previous round's winner left.
    for round in 0..3 {
        // Half the requests extend the main history to different sizes, half
        // are forks from `old` (each consistent with it, all inconsistent
        // with one another).
        let mut requests: Vec<(Vec<u8>, String)> = Vec::new();
        for i in 0..N / 2 {
            let new = old + 1 + i as u64;
            log.grow_to(new);
            requests.push((log.body(old, new), log.checkpoint_text(new)));
        }
        for i in 0..N / 2 {
            let mut fork = log.fork(old, &format!("round {round} fork {i}"));
            let new = old + 1 + (i as u64 % 5);
            fork.grow_to(new);
            requests.push((fork.body(old, new), fork.checkpoint_text(new)));
        }
        let barrier = Arc::new(Barrier::new(N));
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|(body, text)| {
                let (http, url, barrier) = (http.clone(), url.clone(), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    (post(&http, &url, body).await, text)
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }

        let winners: Vec<_> = answers.iter().filter(|(a, _)| a.status == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one request wins");
        let (win, win_text) = winners[0];
        let sig = &parse_signature_lines(&win.body).unwrap()[0];
        assert!(
            w.key
                .verifier()
                .verify_cosignature(win_text, sig.signature())
                .is_some()
        );
        let stored = w
            .witness
            .state()
            .list()
            .remove(0)
            .latest()
            .cloned()
            .unwrap();
        assert_eq!(stored.note().text(), win_text.as_str());
        let winner_size = stored.size().get();
        for (a, _) in answers.iter().filter(|(a, _)| a.status != 200) {
            assert_eq!(a.status, 409, "{}", a.body);
            assert_eq!(a.content_type.as_deref(), Some("text/x.tlog.size"));
            assert_eq!(a.body, format!("{winner_size}\n"));
        }

        // Continue from the winner: if a fork won, so be it, the witness
        // follows that history from now on.
        if win_text != &log.checkpoint_text(winner_size) {
            let forked = answers.iter().position(|(a, _)| a.status == 200).unwrap();
            let fork_index = forked - N / 2;
            let mut fork = log.fork(old, &format!("round {round} fork {fork_index}"));
            fork.grow_to(winner_size);
            assert_eq!(&fork.checkpoint_text(winner_size), win_text);
            log = fork;
        }
        old = winner_size;
    }
    w.stop().await;
}

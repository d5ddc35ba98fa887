//! Bodies of `add-checkpoint` that the status-code table (status_codes.rs)
//! does not try: empty, not UTF-8, NUL bytes, sizes past `u64::MAX`, a
//! checkpoint whose size overflows. Each is a 400 naming the
//! problem, the witness's state does not move, and it cosigns a good
//! request afterwards.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use common::{TestLog, TestWitness, post};

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new("a.example/log");
    log.grow_to(12);
    let w = TestWitness::for_logs(dir.path(), &[&log]).await;
    let url = w.add_checkpoint_url();
    let http = reqwest::Client::new();
    let cp = String::from_utf8(log.checkpoint(10)).unwrap();

    let mut bad: Vec<(Vec<u8>, u16, &str)> = vec![
        (Vec::new(), 400, "no empty line"),
        (b"\xff\xfe\xfd".to_vec(), 400, "no empty line"),
        (b"old 0\n\n\0\0\0".to_vec(), 400, "control character 0x00"),
        (
            format!("old 18446744073709551616\n\n{cp}").into_bytes(),
            400,
            "does not fit in 64 bits",
        ),
        (
            format!("old 99999999999999999999999999\n\n{cp}").into_bytes(),
            400,
            "does not fit in 64 bits",
        ),
        (
            format!("old 18446744073709551615\n\n{cp}").into_bytes(),
            400,
            "larger than the maximum tree size",
        ),
    ];
    // A checkpoint whose size line is past u64::MAX (the signature then
    // does not matter: the note is not a checkpoint).
    let text = log
        .checkpoint_text(10)
        .replacen("\n10\n", "\n18446744073709551616\n", 1);
    let mut body = b"old 0\n\n".to_vec();
    body.extend_from_slice(text.as_bytes());
    body.extend_from_slice("\n— a.example/log AAAAAAAAAA==\n".as_bytes());
    bad.push((body, 400, "does not fit in 64 bits"));
    // Valid UTF-8 around an invalid byte inside the note.
    let mut body = format!("old 0\n\n{cp}").into_bytes();
    body[12] = 0xff;
    bad.push((body, 400, "not valid UTF-8"));

    for (body, status, needle) in bad {
        let shown = String::from_utf8_lossy(&body)
            .chars()
            .take(60)
            .collect::<String>();
        let a = post(&http, &url, body).await;
        assert_eq!(a.status, status, "{shown:?}: {}", a.body);
        assert!(a.body.contains(needle), "{shown:?}: {:?}", a.body);
        assert!(
            w.witness
                .state()
                .list()
                .iter()
                .all(|s| s.latest().is_none()),
            "{shown:?} moved the witness's state"
        );
    }

    // Still serving: a good request is cosigned.
    let a = post(&http, &url, log.body(0, 10)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    w.stop().await;
}

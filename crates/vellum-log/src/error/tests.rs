//! Each error's classification: retryable, fatal, and its message.

use super::*;

fn size(n: u64) -> TreeSize {
    TreeSize::new(n).unwrap()
}

/// Every variant, with whether it is retryable and whether it is fatal.
fn every_variant() -> Vec<(LogError, bool, bool)> {
    let index = LeafIndex::new(4).unwrap();
    vec![
        (LogError::NoEntries, false, false),
        (
            LogError::TooManyEntries {
                count: 11,
                limit: 10,
            },
            false,
            false,
        ),
        (
            LogError::EntryTooLarge {
                index: 1,
                len: 65_536,
                limit: 65_535,
            },
            false,
            false,
        ),
        (LogError::EmptyPage, false, false),
        (
            LogError::FromAfterTo {
                from: 5,
                to: size(3),
            },
            false,
            false,
        ),
        (
            LogError::OutOfRange(RangeError::TreeSize(u64::MAX)),
            false,
            false,
        ),
        (
            LogError::SizeBeyondTree {
                size: 10,
                committed: size(9),
            },
            false,
            false,
        ),
        (
            LogError::IndexBeyondTree {
                index: 9,
                size: size(9),
            },
            false,
            false,
        ),
        (
            LogError::EntryBeyondTree {
                index: 9,
                committed: size(9),
            },
            false,
            false,
        ),
        (LogError::NoCheckpointAt { size: size(3) }, false, false),
        (
            LogError::UnknownLeaf {
                leaf: Hash([1; 32]),
            },
            false,
            false,
        ),
        (LogError::NotSignedYet, false, false),
        (LogError::NoWitnesses, false, false),
        (LogError::LogFull(RangeError::Full), false, true),
        (
            LogError::QueueFull {
                limit: QueueLimit::Entries(8),
                expected_wait: None,
            },
            true,
            false,
        ),
        (LogError::ShuttingDown, true, false),
        (
            LogError::Stopped {
                reason: "commit failed".into(),
            },
            true,
            true,
        ),
        (LogError::NotSequencing, true, false),
        (LogError::Unanswered, true, false),
        (
            LogError::RoundFailed {
                cause: "commit failed".into(),
            },
            true,
            true,
        ),
        (
            LogError::StoppedBeforeCheckpoint {
                sequenced: vec![index],
            },
            true,
            false,
        ),
        (
            LogError::CheckpointTimeout {
                waited: Duration::from_secs(10),
                sequenced: vec![index],
            },
            true,
            false,
        ),
        (
            LogError::Read(StoreError::NotFound("node (0, 9)".into())),
            false,
            false,
        ),
        (
            LogError::Read(StoreError::Corrupt("bad node".into())),
            false,
            true,
        ),
        (
            LogError::Read(StoreError::Io("disk gone".into())),
            false,
            true,
        ),
        (
            LogError::Storage {
                during: "commit failed",
                error: StoreError::Io("disk gone".into()),
            },
            false,
            true,
        ),
        (LogError::Fatal("task lost".into()), false, true),
    ]
}

#[test]
fn each_variant_is_classified() {
    for (e, retryable, fatal) in every_variant() {
        assert_eq!(e.is_retryable(), retryable, "is_retryable of {e:?}");
        assert_eq!(e.is_fatal(), fatal, "is_fatal of {e:?}");
    }
}

#[test]
fn pushback_and_stops_are_retryable_bad_input_is_not() {
    let full = LogError::QueueFull {
        limit: QueueLimit::Bytes(1 << 20),
        expected_wait: Some(Duration::from_millis(40)),
    };
    assert!(full.is_retryable() && !full.is_fatal());
    assert!(LogError::ShuttingDown.is_retryable());
    assert!(
        !LogError::ShuttingDown.is_fatal(),
        "an orderly stop is no fault"
    );
    assert!(!LogError::NoEntries.is_retryable());
}

#[test]
fn a_store_error_keeps_its_meaning() {
    // Not found stays not found, not a string that says so.
    let e = LogError::Read(StoreError::NotFound("node (0, 9)".into()));
    assert!(matches!(e, LogError::Read(StoreError::NotFound(ref m)) if m == "node (0, 9)"));
    assert_eq!(e.to_string(), "not found: node (0, 9)");
}

#[test]
fn messages_are_those_the_api_documents() {
    let index = |n| LeafIndex::new(n).unwrap();
    assert_eq!(
        LogError::EntryTooLarge {
            index: 0,
            len: 1025,
            limit: 1024
        }
        .to_string(),
        "entry 0 is 1025 bytes; the limit is 1024 bytes"
    );
    assert_eq!(
        LogError::QueueFull {
            limit: QueueLimit::Delay {
                queued: 500,
                rate: 10_000,
                limit: Duration::from_millis(50)
            },
            expected_wait: None,
        }
        .to_string(),
        "the log's queue is full (500 entries waiting, about 50 ms of work at the 10000 \
         entries/s the log sequences; the limit is 50 ms); nothing was queued, retry later"
    );
    let timeout = LogError::CheckpointTimeout {
        waited: Duration::from_secs(1),
        sequenced: vec![index(4), index(5), index(9)],
    };
    assert!(
        timeout.to_string().contains("sequenced at indices 4..=9"),
        "{timeout}"
    );
    let stopped = LogError::StoppedBeforeCheckpoint {
        sequenced: vec![index(7)],
    };
    assert!(
        stopped.to_string().contains("(sequenced at index 7)"),
        "{stopped}"
    );
    assert!(LogError::Unanswered.to_string().contains("unknown"));
}

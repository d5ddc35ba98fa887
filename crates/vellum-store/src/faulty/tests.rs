//! The faulty store itself: each fault has the effect its docs promise,
//! before and after a crash.

use std::sync::Arc;

use super::*;
use crate::conformance::{Builder, entries};

fn size<S: LogStore>(s: &S) -> u64 {
    s.tree_head().unwrap().size.get()
}

fn is_io<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Io(_)))
}

#[test]
fn passes_conformance_when_unarmed() {
    crate::conformance::run_all(|| FaultyStore::new(MemoryStore::new()));
}

#[test]
fn passes_conformance_after_a_crash() {
    crate::conformance::run_all(|| FaultyStore::new(MemoryStore::new()).crash());
}

#[test]
fn each_fault_fires_once_with_its_effect_now_and_after_the_crash() {
    for (fault, visible, durable) in [
        (Fault::Fail, false, false),
        (Fault::LandThenFail, true, true),
        (Fault::VisibleNotDurable, true, false),
    ] {
        let s = FaultyStore::new(MemoryStore::new());
        let mut b = Builder::new();
        s.commit(&b.batch(&entries("f", 0..3))).unwrap();
        let at_three = b.clone();
        let second = b.batch(&entries("f", 3..5));
        s.arm(Op::Commit, 0, fault);
        assert!(is_io(s.commit(&second)), "{fault:?} must answer an error");
        assert!(s.all_fired(), "{fault:?} fires once");
        assert_eq!(size(&s), if visible { 5 } else { 3 }, "{fault:?} now");
        let after = s.crash();
        assert_eq!(
            size(&after),
            if durable { 5 } else { 3 },
            "{fault:?} after the crash"
        );
        assert!(is_io(s.tree_head()), "the crashed store answers nothing");
        // The restart is an ordinary store again, at the durable size.
        let mut b = if durable { b } else { at_three };
        after.commit(&b.batch(&entries("g", 0..1))).unwrap();
        assert_eq!(size(&after), if durable { 6 } else { 4 });
    }
}

#[test]
fn checkpoints_are_durable_only_when_the_write_landed() {
    for (fault, durable) in [
        (Fault::Fail, false),
        (Fault::LandThenFail, true),
        (Fault::VisibleNotDurable, false),
    ] {
        let s = FaultyStore::new(MemoryStore::new());
        s.commit(&Builder::new().batch(&entries("c", 0..2)))
            .unwrap();
        let two = TreeSize::new(2).unwrap();
        s.arm(Op::PutCheckpoint, 0, fault);
        assert!(is_io(s.put_checkpoint(two, b"note\n")));
        assert_eq!(
            s.checkpoint_at(two).unwrap().is_some(),
            fault != Fault::Fail,
            "{fault:?} now"
        );
        let after = s.crash();
        assert_eq!(after.checkpoint_at(two).unwrap().is_some(), durable);
        assert_eq!(size(&after), 2, "the commit before it stays durable");
    }
}

#[test]
fn skip_lets_calls_through_and_faults_fire_in_the_order_armed() {
    let s = FaultyStore::new(MemoryStore::new());
    let mut b = Builder::new();
    s.arm(Op::Commit, 1, Fault::Fail);
    s.arm(Op::Commit, 1, Fault::LandThenFail);
    s.arm(Op::PutCheckpoint, 0, Fault::Fail);
    s.commit(&b.batch(&entries("s", 0..1))).unwrap();
    let second = b.batch(&entries("s", 1..2));
    assert!(is_io(s.commit(&second)), "the first fault, after one skip");
    s.commit(&second).unwrap();
    assert!(!s.all_fired());
    let fourth = b.batch(&entries("s", 2..3));
    assert!(is_io(s.commit(&fourth)), "the second fault, one skip later");
    assert_eq!(size(&s), 3, "LandThenFail landed");
    assert!(!s.all_fired(), "the checkpoint fault waits for its op");
    assert!(is_io(s.put_checkpoint(TreeSize::new(1).unwrap(), b"n\n")));
    assert!(s.all_fired());
    s.commit(&b.batch(&entries("s", 3..4))).unwrap();
    assert_eq!(s.calls(Op::Commit), 5);
    assert_eq!(s.calls(Op::PutCheckpoint), 1);
}

#[test]
fn read_faults_fail_the_read_and_change_nothing() {
    let s = FaultyStore::new(MemoryStore::new());
    s.commit(&Builder::new().batch(&entries("r", 0..2)))
        .unwrap();
    s.arm(Op::Read, 0, Fault::Fail);
    s.arm(Op::Read, 1, Fault::LandThenFail);
    assert!(is_io(s.tree_head()));
    assert_eq!(size(&s), 2, "the skipped read");
    assert!(is_io(s.read_entries(LeafIndex::new(0).unwrap(), 1)));
    assert_eq!(
        s.read_entries(LeafIndex::new(0).unwrap(), 2).unwrap().len(),
        2
    );
    assert_eq!(s.calls(Op::Read), 4);
    assert_eq!(s.calls(Op::Commit), 1);
}

#[test]
#[should_panic(expected = "a read cannot be visible but not durable")]
fn a_read_cannot_be_armed_visible_not_durable() {
    FaultyStore::new(MemoryStore::new()).arm(Op::Read, 0, Fault::VisibleNotDurable);
}

#[test]
fn after_a_lost_write_later_writes_are_refused_until_the_crash() {
    let s = FaultyStore::new(MemoryStore::new());
    let mut b = Builder::new();
    s.commit(&b.batch(&entries("l", 0..2))).unwrap();
    let at_two = b.clone();
    s.arm(Op::Commit, 0, Fault::VisibleNotDurable);
    assert!(is_io(s.commit(&b.batch(&entries("l", 2..3)))));
    // An armed fault is not spent on a refused write.
    s.arm(Op::Commit, 0, Fault::LandThenFail);
    let err = s.commit(&b.batch(&entries("l", 3..4))).unwrap_err();
    assert!(err.to_string().contains("earlier write was lost"), "{err}");
    assert!(!s.all_fired());
    assert!(is_io(s.put_checkpoint(TreeSize::new(2).unwrap(), b"n\n")));
    assert_eq!(size(&s), 3, "reads still see the lost write");
    let after = s.crash();
    assert_eq!(size(&after), 2);
    let mut b = at_two;
    after.commit(&b.batch(&entries("m", 0..1))).unwrap();
    assert_eq!(size(&after), 3, "the restarted store takes writes");
}

#[test]
fn a_held_call_waits_counted_and_fails_if_the_store_crashes_meanwhile() {
    let s = Arc::new(FaultyStore::new(MemoryStore::new()));
    let mut b = Builder::new();
    s.hold(Op::Commit);
    let held = {
        let s = s.clone();
        let batch = b.batch(&entries("h", 0..2));
        std::thread::spawn(move || s.commit(&batch))
    };
    wait_until(|| s.in_flight(Op::Commit) == 1, "the commit to arrive");
    assert_eq!(size(&*s), 0, "a held commit has not landed");
    assert_eq!(s.calls(Op::Commit), 1);
    // Other operations are not held.
    assert!(
        s.checkpoint_at(TreeSize::new(1).unwrap())
            .unwrap()
            .is_none()
    );
    let after = s.crash();
    assert!(is_io(held.join().unwrap()), "the process is gone");
    assert_eq!(s.in_flight(Op::Commit), 0);
    assert_eq!(size(&after), 0);
    assert_eq!(after.calls(Op::Commit), 0, "a restart counts afresh");
}

#[test]
fn a_released_call_goes_on() {
    let s = Arc::new(FaultyStore::new(MemoryStore::new()));
    s.hold(Op::Commit);
    let held = {
        let s = s.clone();
        let batch = Builder::new().batch(&entries("r", 0..2));
        std::thread::spawn(move || s.commit(&batch))
    };
    wait_until(|| s.in_flight(Op::Commit) == 1, "the commit to arrive");
    s.release(Op::Commit);
    held.join().unwrap().unwrap();
    assert_eq!(size(&*s), 2);
    assert_eq!(s.in_flight(Op::Commit), 0);
    assert_eq!(size(&s.crash()), 2);
}

#[test]
#[should_panic(expected = "wrap an empty store")]
fn crash_refuses_a_store_that_was_not_empty() {
    let inner = MemoryStore::new();
    inner
        .commit(&Builder::new().batch(&entries("x", 0..1)))
        .unwrap();
    let _ = FaultyStore::new(inner).crash();
}

/// Polls `cond` until it holds, failing the test after a generous deadline.
fn wait_until(cond: impl Fn() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

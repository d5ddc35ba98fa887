//! The signer's journal read back at start-up: arbitrary bytes as one to
//! three segment files, then `Journal::read_all`, `Journal::open`, an
//! append, and a second open; and `CheckpointSigner::open` on the result.
//! Input: a first byte choosing the number of segments, then the segments
//! as length-prefixed frames (see `vellum_fuzz::frames`).
//!
//! Properties:
//! * no panic;
//! * accept ⇒ valid: a journal that opens reports as its state the last
//!   `Signed` record that `read_all` finds, and opening (which erases a torn
//!   tail) loses no record that `read_all` found;
//! * recovery works: after an open, an append succeeds and a re-open finds
//!   every earlier record and the new one, as the state;
//! * the signer refuses (never panics on) a journal whose last checkpoint
//!   is not its own, and starts from the one it finds otherwise.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_fuzz::{frames, keys, scratch_dir};
use vellum_signer::CheckpointSigner;
use vellum_signer::journal::{Journal, Record, RecordKind};

fn last_signed(records: &[Record]) -> Option<&[u8]> {
    records
        .iter()
        .rev()
        .find(|r| r.kind == RecordKind::Signed)
        .map(|r| r.payload.as_slice())
}

fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let segments = frames(rest, usize::from(count % 3) + 1);
    let dir = scratch_dir();
    let journal = dir.path().join("journal");
    std::fs::create_dir(&journal).expect("a scratch folder");
    for (i, bytes) in segments.iter().enumerate() {
        std::fs::write(journal.join(format!("{:016}.journal", i + 1)), bytes)
            .expect("writing a scratch segment");
    }
    let all = Journal::read_all(&journal);
    let Ok(mut j) = Journal::open(&journal) else {
        return;
    };
    // `open` reads only the newest segments; an older damaged one fails
    // `read_all` alone, by design. Compare records only when both read.
    let before = Journal::read_all(&journal).ok();
    if let (Ok(all), Some(before)) = (&all, &before) {
        assert_eq!(
            j.last_signed(),
            last_signed(all),
            "the state is the last Signed record"
        );
        assert_eq!(before, all, "opening lost a record");
    }
    j.append(RecordKind::Signed, b"appended after recovery")
        .expect("a recovered journal takes appends");
    drop(j);
    let j = Journal::open(&journal).expect("a journal re-opens after an append");
    assert_eq!(j.last_signed(), Some(&b"appended after recovery"[..]));
    drop(j);
    if let Some(before) = before {
        let after = Journal::read_all(&journal).expect("the journal reads back");
        assert_eq!(after.len(), before.len() + 1);
        assert_eq!(after[..before.len()], before[..]);
    }

    // The signer on a journal of foreign records: refuses, never panics.
    let k = keys();
    assert!(CheckpointSigner::open(k.log.clone(), &journal).is_err());
});

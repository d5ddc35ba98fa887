//! A witness's state file, read back at start-up: arbitrary bytes as the
//! state file of the vectors' log, then `Witness::open` and one request.
//! The first input byte chooses between the raw bytes and the bytes wrapped
//! in a valid header and checksum line (which a fuzzer cannot compute), so
//! that the note inside is reached too.
//!
//! Properties:
//! * no panic;
//! * accept ⇒ valid: a state that opens holds a checkpoint of the origin
//!   it is filed under (or nothing), and the witness then answers requests
//!   without failing (no 5xx) and without ever moving the state backwards.

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use vellum_fuzz::{LOG_ORIGIN, keys, scratch_dir};
use vellum_merkle::{Hash, MAX_TREE_SIZE};
use vellum_witness::{AddCheckpointRequest, TrustedLogs, Witness};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let contents = if mode & 1 == 1 {
        let mut c = format!(
            "vellum-witness-state/v1\nsha256 {}\n",
            hex(&Sha256::digest(rest))
        )
        .into_bytes();
        c.extend_from_slice(rest);
        c
    } else {
        rest.to_vec()
    };
    let dir = scratch_dir();
    let file = dir.path().join(hex(&Sha256::digest(LOG_ORIGIN.as_bytes())));
    std::fs::write(&file, &contents).expect("writing the scratch state file");
    let k = keys();
    let logs = TrustedLogs::from_keys([k.log_vkey()]).expect("one Ed25519 key");
    let Ok(witness) = Witness::open(k.witnesses[0].clone(), logs, dir.path()) else {
        return;
    };
    let witness = witness.with_clock(Arc::new(|| Some(1_700_000_000)));
    let list = witness.state().list();
    assert_eq!(list.len(), 1);
    let held = list[0].latest().map(|c| (c.origin().to_owned(), c.size()));
    if let Some((origin, _)) = &held {
        assert_eq!(origin, LOG_ORIGIN);
    }
    // The smallest step forward: a signed checkpoint one leaf larger, from
    // the size held, with a proof that cannot be right (the witness must
    // refuse it without failing).
    let size = held.map_or(0, |(_, s)| s.get());
    if size >= MAX_TREE_SIZE {
        return;
    }
    let note = k.signed_checkpoint(size + 1, Hash([7; 32]), &[], 0);
    let body = AddCheckpointRequest::encode(size, &[Hash([9; 32])], note.as_bytes());
    if let Err(e) = witness.add_checkpoint(&body) {
        assert!(!e.is_internal(), "{e}");
    }
    let after = witness.state().list();
    let now = after[0].latest().map_or(0, |c| c.size().get());
    assert!(now >= size);
});

//! The byte forms of tlog-tiles resources: `parse_tile` (hash tiles) and
//! `parse_bundle` (entry bundles) on arbitrary bytes, for a width taken
//! from the first two input bytes.
//!
//! Properties:
//! * no panic, no allocation beyond the input's size;
//! * round trip: an accepted tile is `tile_bytes` of its hashes, and an
//!   accepted bundle is its entries re-encoded with `push_bundle_entry`;
//! * accept ⇒ valid: a tile holds exactly `width` hashes and a bundle
//!   exactly `width` entries, each within the 65,535-byte limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_merkle::tiles::{
    MAX_ENTRY_SIZE, parse_bundle, parse_tile, push_bundle_entry, tile_bytes,
};

fuzz_target!(|data: &[u8]| {
    let Some((width, bytes)) = data.split_first_chunk::<2>() else {
        return;
    };
    // Widths past 256 are not tiles, but the parsers take any u16: they must
    // not care. Keep most of them in the range that matters.
    let raw = u16::from_be_bytes(*width);
    let width = if raw & 0x8000 == 0 { raw % 257 } else { raw };
    if let Ok(hashes) = parse_tile(bytes, width) {
        assert_eq!(hashes.len(), usize::from(width));
        assert_eq!(tile_bytes(&hashes), bytes);
    }
    if let Ok(entries) = parse_bundle(bytes, width) {
        assert_eq!(entries.len(), usize::from(width));
        let mut again = Vec::with_capacity(bytes.len());
        for e in &entries {
            assert!(e.len() <= MAX_ENTRY_SIZE);
            push_bundle_entry(&mut again, e).expect("an entry within the limit");
        }
        assert_eq!(again, bytes);
    }
});

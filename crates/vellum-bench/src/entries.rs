//! Entries that are unique across runs: a random run nonce and a counter
//! lead every entry, so the log's dedup never answers without doing the
//! work. Deterministic given (nonce, counter), so that an answer's
//! inclusion proof can be checked against the entry without keeping it.

use std::io::Write;

use bytes::Bytes;
use clap::ValueEnum;
use serde::Serialize;

/// The nonce and the counter, binary: the shortest unique prefix.
pub const MIN_ENTRY_SIZE: usize = 16;

/// What fills an entry after its unique prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Payload {
    /// JSON-like text over a 16-letter alphabet: compresses about 2:1, as
    /// structured audit records do (and as the store's own baseline
    /// entries, `vellum_store_rocksdb::baseline::synthetic_entries`).
    Text,
    /// Random bytes: does not compress, so bytes on disk are not flattered.
    Random,
}

/// Makes the entries of one run.
#[derive(Clone, Debug)]
pub struct EntryGen {
    nonce: u64,
    size: usize,
    payload: Payload,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A random 64-bit value (time-seeded if the OS has no randomness to give).
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        return splitmix(t ^ u64::from(std::process::id()));
    }
    u64::from_le_bytes(b)
}

impl EntryGen {
    /// Entries of `size` bytes with a fresh random nonce.
    ///
    /// # Errors
    ///
    /// When `size` cannot hold the unique prefix or exceeds the tlog-tiles
    /// limit.
    pub fn new(size: usize, payload: Payload) -> anyhow::Result<EntryGen> {
        Self::with_nonce(random_u64(), size, payload)
    }

    /// Entries of `size` bytes for a given nonce.
    ///
    /// # Errors
    ///
    /// As [`EntryGen::new`].
    pub fn with_nonce(nonce: u64, size: usize, payload: Payload) -> anyhow::Result<EntryGen> {
        anyhow::ensure!(
            (MIN_ENTRY_SIZE..=65_535).contains(&size),
            "entry size {size}: must be {MIN_ENTRY_SIZE} to 65535 bytes (a run nonce and a \
             counter make every entry unique)"
        );
        Ok(EntryGen {
            nonce,
            size,
            payload,
        })
    }

    /// The entry for counter `n`.
    pub fn entry(&self, n: u64) -> Bytes {
        let mut v = Vec::with_capacity(self.size + 8);
        if self.payload == Payload::Text {
            // Writing to a Vec cannot fail.
            let _ = write!(
                v,
                "{{\"run\":\"{:016x}\",\"seq\":{n},\"actor\":\"svc-{}\",\"data\":\"",
                self.nonce,
                n % 97
            );
            // The nonce and the counter must survive truncation.
            let unique = 8 + 16 + 8 + n.to_string().len();
            if unique > self.size {
                v.clear();
            }
        }
        if v.is_empty() {
            v.extend_from_slice(&self.nonce.to_be_bytes());
            v.extend_from_slice(&n.to_be_bytes());
        }
        let mut x = splitmix(self.nonce ^ n.rotate_left(17)) | 1;
        while v.len() < self.size {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for b in x.to_le_bytes() {
                v.push(match self.payload {
                    Payload::Text => b'a' + (b & 15),
                    Payload::Random => b,
                });
            }
        }
        v.truncate(self.size);
        Bytes::from(v)
    }

    /// Entries for counters `first..first + count`.
    pub fn batch(&self, first: u64, count: usize) -> Vec<Bytes> {
        (first..first + count as u64)
            .map(|n| self.entry(n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn unique_sized_and_deterministic() {
        for payload in [Payload::Text, Payload::Random] {
            for size in [16, 40, 256, 1000] {
                let g = EntryGen::with_nonce(7, size, payload).unwrap();
                let b = g.batch(1_000_000_000, 2000);
                assert!(b.iter().all(|e| e.len() == size));
                assert_eq!(b.iter().collect::<HashSet<_>>().len(), b.len());
                assert_eq!(g.entry(1_000_000_005), b[5]);
                let other = EntryGen::with_nonce(8, size, payload).unwrap();
                assert_ne!(other.entry(1_000_000_005), b[5]);
            }
        }
        assert!(EntryGen::new(15, Payload::Text).is_err());
    }
}

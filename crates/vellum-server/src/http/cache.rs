//! A bounded in-memory cache of served tile bodies.
//!
//! Every tile path names immutable bytes: stored nodes and entries are
//! write-once, so `tile/0/259.p/17` is the same 17 hashes for the life of
//! the log, whatever its size. The cache can therefore hold partial tiles as
//! well as full ones, and never needs invalidating.
//!
//! Eviction is generational (an approximate LRU with O(1) operations and no
//! per-hit bookkeeping beyond a move): a hit in the old generation moves the
//! entry to the new one; when the new generation reaches half the budget,
//! the old one is dropped whole and the new one becomes old. Everything used
//! within the last half-budget of insertions survives.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use vellum_merkle::tiles::Tile;

/// What is cached: a tile body, identity or gzip-encoded.
pub(crate) type Key = (Tile, bool);

#[derive(Debug, Default)]
struct Generations {
    new: HashMap<Key, Bytes>,
    new_bytes: usize,
    old: HashMap<Key, Bytes>,
}

/// The cache. A budget of 0 disables it.
#[derive(Debug)]
pub(crate) struct TileCache {
    budget: usize,
    inner: Mutex<Generations>,
}

impl TileCache {
    /// A cache holding at most about `budget` bytes of bodies.
    pub(crate) fn new(budget: usize) -> TileCache {
        TileCache {
            budget,
            inner: Mutex::new(Generations::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // Poisoned only if a thread panicked inside a map operation; the
        // maps hold immutable values, so whatever state they are in is fine.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self, key: &Key) -> Option<Bytes> {
        if self.budget == 0 {
            return None;
        }
        let mut g = self.lock();
        if let Some(b) = g.new.get(key) {
            return Some(b.clone());
        }
        let b = g.old.remove(key)?;
        Self::put(&mut g, self.budget, *key, b.clone());
        Some(b)
    }

    pub(crate) fn insert(&self, key: Key, body: Bytes) {
        if self.budget == 0 || body.len() > self.budget / 2 {
            return;
        }
        let mut g = self.lock();
        Self::put(&mut g, self.budget, key, body);
    }

    fn put(g: &mut Generations, budget: usize, key: Key, body: Bytes) {
        if g.new_bytes + body.len() > budget / 2 {
            g.old = std::mem::take(&mut g.new);
            g.new_bytes = 0;
        }
        g.new_bytes += body.len();
        if let Some(prev) = g.new.insert(key, body) {
            g.new_bytes -= prev.len();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;
    use vellum_merkle::tiles::TileKind;

    fn key(i: u64) -> Key {
        (Tile::new(TileKind::Hashes(0), i, 256).unwrap(), false)
    }

    #[test]
    fn bounded_and_keeps_recent() {
        let c = TileCache::new(10 * 100);
        for i in 0..100 {
            c.insert(key(i), Bytes::from(vec![0u8; 100]));
        }
        let held = (0..100).filter(|i| c.get(&key(*i)).is_some()).count();
        assert!(held <= 10, "{held} held");
        assert!(c.get(&key(99)).is_some());
        let g = c.lock();
        let bytes: usize = g.new.values().chain(g.old.values()).map(Bytes::len).sum();
        assert!(bytes <= 1000);
    }

    #[test]
    fn disabled_with_zero_budget() {
        let c = TileCache::new(0);
        c.insert(key(1), Bytes::from_static(b"x"));
        assert!(c.get(&key(1)).is_none());
    }
}

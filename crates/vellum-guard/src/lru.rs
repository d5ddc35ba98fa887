//! A map that holds at most `cap` keys and forgets the least recently
//! seen first: the bound on every detector table keyed by something a
//! client chooses, so that millions of actors or addresses cannot exhaust
//! memory. O(1) per operation: a hash map from key to slot, and the slots
//! in a doubly linked list in order of use, kept in one vector (freed
//! slots are reused, so it never holds more than `cap`).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// No slot.
const NIL: usize = usize::MAX;

#[derive(Debug)]
struct Slot<K, V> {
    key: K,
    value: V,
    /// Towards the most recently seen.
    newer: usize,
    /// Towards the least recently seen.
    older: usize,
}

/// The bounded map.
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    index: HashMap<K, usize>,
    slots: Vec<Slot<K, V>>,
    /// The most recently seen slot.
    newest: usize,
    /// The least recently seen slot: the next to go.
    oldest: usize,
    cap: usize,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    /// An empty map of at most `cap` keys (at least one).
    pub(crate) fn new(cap: usize) -> Lru<K, V> {
        Lru {
            index: HashMap::new(),
            slots: Vec::new(),
            newest: NIL,
            oldest: NIL,
            cap: cap.max(1),
        }
    }

    /// Keys held.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// The value of `key`, which becomes the most recently seen.
    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = *self.index.get(key)?;
        self.unlink(i);
        self.push_newest(i);
        Some(&mut self.slots[i].value)
    }

    /// The value of `key`, inserted from `make` if absent (forgetting the
    /// least recently seen key if the map is full); it becomes the most
    /// recently seen.
    pub(crate) fn get_or_insert_with<Q>(&mut self, key: &Q, make: impl FnOnce() -> (K, V)) -> &mut V
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(&i) = self.index.get(key) {
            self.unlink(i);
            self.push_newest(i);
            return &mut self.slots[i].value;
        }
        let (key, value) = make();
        self.insert(key, value)
    }

    /// Whether `key` is held (its place in the order does not change).
    #[cfg(test)]
    pub(crate) fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.index.contains_key(key)
    }

    /// Inserts `key` (absent) as the most recently seen, forgetting the
    /// least recently seen key if the map is full.
    pub(crate) fn insert(&mut self, key: K, value: V) -> &mut V {
        debug_assert!(!self.index.contains_key(&key));
        let i = if self.index.len() >= self.cap {
            // INVARIANT: the map is full and cap >= 1, so `oldest` is a
            // live slot; its storage is reused for the new key.
            let i = self.oldest;
            self.unlink(i);
            self.index.remove(&self.slots[i].key);
            self.slots[i].key = key.clone();
            self.slots[i].value = value;
            i
        } else {
            self.slots.push(Slot {
                key: key.clone(),
                value,
                newer: NIL,
                older: NIL,
            });
            self.slots.len() - 1
        };
        self.index.insert(key, i);
        self.push_newest(i);
        &mut self.slots[i].value
    }

    /// Takes slot `i` out of the order.
    fn unlink(&mut self, i: usize) {
        let (newer, older) = (self.slots[i].newer, self.slots[i].older);
        match newer {
            NIL => self.newest = older,
            n => self.slots[n].older = older,
        }
        match older {
            NIL => self.oldest = newer,
            o => self.slots[o].newer = newer,
        }
        self.slots[i].newer = NIL;
        self.slots[i].older = NIL;
    }

    /// Puts slot `i` (unlinked) first in the order.
    fn push_newest(&mut self, i: usize) {
        self.slots[i].older = self.newest;
        self.slots[i].newer = NIL;
        match self.newest {
            NIL => self.oldest = i,
            n => self.slots[n].newer = i,
        }
        self.newest = i;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn forgets_the_least_recently_seen() {
        let mut m: Lru<String, u32> = Lru::new(3);
        for (i, k) in ["a", "b", "c"].into_iter().enumerate() {
            m.insert(k.into(), i as u32);
        }
        // "a" is seen again, so "b" is now the least recently seen.
        *m.get_mut("a").unwrap() += 10;
        m.insert("d".into(), 3);
        assert_eq!(m.len(), 3);
        assert!(!m.contains("b"));
        assert_eq!(*m.get_mut("a").unwrap(), 10);
        m.insert("e".into(), 4);
        assert!(!m.contains("c"));
        assert!(m.contains("a") && m.contains("d") && m.contains("e"));
    }

    #[test]
    fn holds_its_bound_under_many_keys() {
        let mut m: Lru<u64, u64> = Lru::new(1000);
        for k in 0..100_000u64 {
            m.insert(k, k);
            if k % 7 == 0 {
                // Keep one old key warm: it must survive.
                m.get_mut(&0).unwrap();
            }
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.slots.len(), 1000);
        assert!(m.contains(&0));
        assert!(m.contains(&99_999));
        assert!(!m.contains(&1));
    }

    #[test]
    fn a_cap_of_one_keeps_the_last() {
        let mut m: Lru<u8, ()> = Lru::new(1);
        m.insert(1, ());
        m.insert(2, ());
        assert!(m.contains(&2) && !m.contains(&1));
    }
}

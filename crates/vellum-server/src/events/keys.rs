//! The keys of the events index (docs/EVENTS.md, "The index"): what each
//! recorded event puts in it, and how a key reads in words.
//!
//! Every key starts with one byte naming its kind; variable parts carry a
//! 4-byte big-endian length before their bytes, so no two (kind, id)
//! pairs share a key or a prefix; indices are 8 bytes big-endian, so a
//! backward scan of a prefix lists the newest event first.
//!
//! ```text
//! r ‖ kind ‖ id ‖ index            -> event_time   a resource's events
//! a ‖ actor ‖ index                -> event_time   an actor's events
//! c ‖ action ‖ index               -> event_time   an action's events
//! t ‖ event_time ‖ index           -> (empty)      every event by its time
//! s ‖ submitter ‖ event_id         -> index        retries (first recording)
//! h ‖ kind ‖ id                    -> index ‖ leaf hash   a resource's head
//! m ‖ "version"                    -> 4 B, FORMAT_VERSION
//! m ‖ "watermark"                  -> entries taken in (8 B) [‖ leaf hash of the last]
//! ```
//!
//! A time is 12 bytes: the Unix seconds as a big-endian `i64` with its
//! sign bit flipped (so that byte order is time order, before 1970
//! included), then the nanoseconds as a big-endian `u32`.

use vellum_event::{Prev, Recorded, Timestamp};

/// The layout this build reads and writes; any other is rebuilt.
pub(crate) const FORMAT_VERSION: u32 = 1;

pub(crate) const RESOURCE: u8 = b'r';
pub(crate) const ACTOR: u8 = b'a';
pub(crate) const ACTION: u8 = b'c';
pub(crate) const TIME: u8 = b't';
pub(crate) const SEEN: u8 = b's';
pub(crate) const HEAD: u8 = b'h';
pub(crate) const META: u8 = b'm';

/// The key of the format version.
pub(crate) const VERSION_KEY: &[u8] = b"mversion";
/// The key of the watermark: how many entries the index has taken in.
pub(crate) const WATERMARK_KEY: &[u8] = b"mwatermark";

/// One key and its value.
pub(crate) type Pair = (Vec<u8>, Vec<u8>);

/// How many entries the index has taken in, and the leaf hash of the last
/// of them (so that an index of another history of the same length is
/// told apart at start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Watermark {
    pub(crate) count: u64,
    pub(crate) last: Option<[u8; 32]>,
}

impl Watermark {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = self.count.to_be_bytes().to_vec();
        if let Some(h) = &self.last {
            v.extend_from_slice(h);
        }
        v
    }

    pub(crate) fn decode(v: &[u8]) -> Option<Watermark> {
        let count = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
        let last = match v.len() {
            8 if count == 0 => None,
            40 if count > 0 => Some(v[8..].try_into().ok()?),
            _ => return None,
        };
        Some(Watermark { count, last })
    }
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    // Entries are at most 65,535 bytes: every string fits a u32.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// `t` as 12 bytes whose order is time order.
pub(crate) fn time_bytes(t: Timestamp) -> [u8; 12] {
    let t = t.to_offset_date_time();
    let secs = (t.unix_timestamp() as u64) ^ (1 << 63);
    let mut out = [0u8; 12];
    out[..8].copy_from_slice(&secs.to_be_bytes());
    out[8..].copy_from_slice(&t.nanosecond().to_be_bytes());
    out
}

/// [`time_bytes`] read back, as RFC 3339 text (for messages).
fn time_text(b: &[u8]) -> Option<String> {
    let secs = (u64::from_be_bytes(b.get(..8)?.try_into().ok()?) ^ (1 << 63)) as i64;
    let nanos = u32::from_be_bytes(b.get(8..12)?.try_into().ok()?);
    let t = time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()?
        .replace_nanosecond(nanos)
        .ok()?;
    Timestamp::from_offset_date_time(t)
        .ok()
        .map(|t| t.to_string())
}

/// The prefix of a resource's events.
pub(crate) fn resource_prefix(kind: &str, id: &str) -> Vec<u8> {
    let mut k = vec![RESOURCE];
    push_str(&mut k, kind);
    push_str(&mut k, id);
    k
}

/// The prefix of an actor's events.
pub(crate) fn actor_prefix(actor: &str) -> Vec<u8> {
    let mut k = vec![ACTOR];
    push_str(&mut k, actor);
    k
}

/// The prefix of an action's events.
pub(crate) fn action_prefix(action: &str) -> Vec<u8> {
    let mut k = vec![ACTION];
    push_str(&mut k, action);
    k
}

/// The time index's key of `t`, before any index: the bound of a range.
pub(crate) fn time_prefix(t: Timestamp) -> Vec<u8> {
    let mut k = vec![TIME];
    k.extend_from_slice(&time_bytes(t));
    k
}

/// The key of a (submitter, event id) pair.
pub(crate) fn seen_key(submitter: &str, event_id: &str) -> Vec<u8> {
    let mut k = vec![SEEN];
    push_str(&mut k, submitter);
    push_str(&mut k, event_id);
    k
}

/// The key of a resource's head.
pub(crate) fn head_key(kind: &str, id: &str) -> Vec<u8> {
    let mut k = vec![HEAD];
    push_str(&mut k, kind);
    push_str(&mut k, id);
    k
}

/// `prefix ‖ index`.
pub(crate) fn with_index(prefix: &[u8], index: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The index at the end of a key.
pub(crate) fn index_at_end(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key[start..].try_into().ok()?))
}

/// A head's value read back.
pub(crate) fn decode_head(v: &[u8]) -> Option<Prev> {
    if v.len() != 40 {
        return None;
    }
    Some(Prev {
        index: u64::from_be_bytes(v[..8].try_into().ok()?),
        leaf_hash: v[8..].try_into().ok()?,
    })
}

/// An index value (of a seen key) read back.
pub(crate) fn decode_index(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.try_into().ok()?))
}

/// Every key event `index` puts in the index, in the order they are
/// written; a later event's head replaces an earlier one's.
pub(crate) fn event_keys(index: u64, r: &Recorded) -> Vec<Pair> {
    let e = r.event();
    let time = time_bytes(e.event_time()).to_vec();
    let res = e.resource();
    let mut out = vec![
        (
            with_index(&resource_prefix(&res.kind, &res.id), index),
            time.clone(),
        ),
        (
            with_index(&actor_prefix(&e.actor().id), index),
            time.clone(),
        ),
        (with_index(&action_prefix(e.action()), index), time.clone()),
        (with_index(&time_prefix(e.event_time()), index), Vec::new()),
    ];
    if let Some(id) = e.event_id() {
        out.push((
            seen_key(&r.attested().submitter, id),
            index.to_be_bytes().to_vec(),
        ));
    }
    let prev = r.as_prev(index);
    let mut head = prev.index.to_be_bytes().to_vec();
    head.extend_from_slice(&prev.leaf_hash);
    out.push((head_key(&res.kind, &res.id), head));
    out
}

/// Reads the length-prefixed strings and the rest of a key.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn string(&mut self) -> Option<String> {
        let len = u32::from_be_bytes(self.0.get(..4)?.try_into().ok()?) as usize;
        let s = self.0.get(4..4 + len)?;
        self.0 = &self.0[4 + len..];
        Some(String::from_utf8_lossy(s).into_owned())
    }

    fn index(&mut self) -> Option<u64> {
        let v = u64::from_be_bytes(self.0.get(..8)?.try_into().ok()?);
        self.0 = &self.0[8..];
        Some(v)
    }

    fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

/// A key (and its value) in words, for fsck: which index, which event.
pub(crate) fn describe(key: &[u8], value: &[u8]) -> String {
    describe_known(key, value).unwrap_or_else(|| format!("an unknown key 0x{}", hex(key)))
}

fn describe_known(key: &[u8], value: &[u8]) -> Option<String> {
    let (&kind, rest) = key.split_first()?;
    let mut r = Reader(rest);
    Some(match kind {
        RESOURCE => {
            let (k, id, i) = (r.string()?, r.string()?, r.index()?);
            r.end()?;
            format!("the resource index, resource {k}/{id}, event {i}")
        }
        ACTOR => {
            let (a, i) = (r.string()?, r.index()?);
            r.end()?;
            format!("the actor index, actor {a:?}, event {i}")
        }
        ACTION => {
            let (a, i) = (r.string()?, r.index()?);
            r.end()?;
            format!("the action index, action {a:?}, event {i}")
        }
        TIME => {
            let t = time_text(rest.get(..12)?)?;
            let mut r = Reader(&rest[12..]);
            let i = r.index()?;
            r.end()?;
            format!("the time index, event_time {t}, event {i}")
        }
        SEEN => {
            let (s, id) = (r.string()?, r.string()?);
            r.end()?;
            let at = decode_index(value)
                .map(|i| format!("event {i}"))
                .unwrap_or_else(|| "an unreadable index".into());
            format!("the retry index, submitter {s:?} and event id {id:?} ({at})")
        }
        HEAD => {
            let (k, id) = (r.string()?, r.string()?);
            r.end()?;
            let at = decode_head(value)
                .map(|p| format!("event {}", p.index))
                .unwrap_or_else(|| "an unreadable head".into());
            format!("the resource heads, resource {k}/{id} ({at})")
        }
        META => format!("the index's own record {:?}", String::from_utf8_lossy(rest)),
        _ => return None,
    })
}

/// A value in words, for fsck: what the key says about its event.
pub(crate) fn value_words(key: &[u8], value: &[u8]) -> String {
    let words = match key.first() {
        Some(&(RESOURCE | ACTOR | ACTION)) => time_text(value)
            .filter(|_| value.len() == 12)
            .map(|t| format!("event_time {t}")),
        Some(&SEEN) => decode_index(value).map(|i| format!("event {i}")),
        Some(&HEAD) => decode_head(value)
            .map(|p| format!("event {} with leaf hash {}", p.index, hex(&p.leaf_hash))),
        Some(&TIME) if value.is_empty() => Some("nothing".to_owned()),
        _ => None,
    };
    words.unwrap_or_else(|| format!("the bytes 0x{}", hex(value)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn time_bytes_sort_as_times() {
        let times = [
            "0000-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999999999Z",
            "1970-01-01T00:00:00Z",
            "1970-01-01T00:00:00.5Z",
            "2026-12-05T18:30:00Z",
            "9999-12-31T23:59:59.999999999Z",
        ];
        let parsed: Vec<Timestamp> = times.iter().map(|t| Timestamp::parse(t).unwrap()).collect();
        for w in parsed.windows(2) {
            assert!(time_bytes(w[0]) < time_bytes(w[1]), "{w:?}");
        }
        for (text, t) in times.iter().zip(&parsed) {
            assert_eq!(time_text(&time_bytes(*t)).unwrap(), *text);
        }
    }

    #[test]
    fn length_prefixes_keep_pairs_apart() {
        // Without lengths, ("ab", "c") and ("a", "bc") would share a key.
        assert_ne!(resource_prefix("ab", "c"), resource_prefix("a", "bc"));
        assert_ne!(seen_key("ab", "c"), seen_key("a", "bc"));
        // No resource's prefix starts another resource's keys.
        let a = resource_prefix("doc", "1");
        let b = with_index(&resource_prefix("doc", "12"), 0);
        assert!(!b.starts_with(&a));
    }

    #[test]
    fn keys_read_back_in_words() {
        let k = with_index(&actor_prefix("alice"), 7);
        assert_eq!(
            describe(&k, &[]),
            "the actor index, actor \"alice\", event 7"
        );
        let k = with_index(
            &time_prefix(Timestamp::parse("2026-12-05T18:30:00Z").unwrap()),
            3,
        );
        assert_eq!(
            describe(&k, &[]),
            "the time index, event_time 2026-12-05T18:30:00Z, event 3"
        );
        assert_eq!(describe(b"x1", &[]), "an unknown key 0x7831");
        let w = Watermark {
            count: 5,
            last: Some([1; 32]),
        };
        assert_eq!(Watermark::decode(&w.encode()), Some(w));
        assert_eq!(Watermark::decode(&[0; 9]), None);
    }
}

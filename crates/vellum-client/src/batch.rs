//! Splitting many entries into `Append` calls that a server with default
//! limits accepts: a call over its entry count or message size is refused
//! whole, so a caller with more entries sends several calls, in order.

use bytes::Bytes;

/// Entries per call, under the server's default limit of 4,096.
pub const CALL_ENTRIES: usize = 1024;
/// Bytes of entries per call, under the server's default message limit of
/// 8 MiB (a message also carries framing for each entry).
pub const CALL_BYTES: usize = 4 << 20;

/// Splits `entries`, in order, into calls of at most [`CALL_ENTRIES`]
/// entries and [`CALL_BYTES`] bytes (an entry larger than that alone gets a
/// call of its own, and the server judges it).
pub fn batches(entries: Vec<Bytes>) -> Vec<Vec<Bytes>> {
    let mut out: Vec<Vec<Bytes>> = Vec::new();
    let mut bytes = 0;
    for e in entries {
        let full = out
            .last()
            .is_none_or(|b| b.len() == CALL_ENTRIES || bytes + e.len() > CALL_BYTES);
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += e.len();
        // INVARIANT: a batch was pushed just above if there was none.
        if let Some(b) = out.last_mut() {
            b.push(e);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn batches_respect_limits() {
        let many: Vec<Bytes> = (0..2500).map(|i| Bytes::from(format!("{i}"))).collect();
        let b = batches(many);
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            [1024, 1024, 452]
        );
        let big: Vec<Bytes> = (0..200).map(|_| Bytes::from(vec![0u8; 60_000])).collect();
        let b = batches(big);
        assert!(
            b.iter()
                .all(|c| c.iter().map(Bytes::len).sum::<usize>() <= CALL_BYTES)
        );
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 200);
    }
}

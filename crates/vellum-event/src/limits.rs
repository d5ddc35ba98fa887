//! The limits a submitted event is checked against (docs/EVENTS.md, "Limits").

/// The largest entry a log stores: tlog-tiles entry bundles prefix each entry
/// with a 16-bit length. A recorded event's canonical bytes never exceed it.
pub const MAX_ENTRY_BYTES: usize = 65_535;

/// Room kept, out of [`MAX_ENTRY_BYTES`], for the fields the log attests
/// (`submitter` of at most 256 bytes, escaped; `received_at`; `prev`).
pub(crate) const ATTESTED_RESERVE: usize = 1024;

/// Limits on a submitted event. Lengths are in bytes of UTF-8.
///
/// The defaults are the documented ones; a log may lower them. [`Limits::MAX`]
/// is what the stored format itself allows: [`Recorded::parse`] checks
/// against it, since an auditor does not know a log's configured limits.
///
/// [`Recorded::parse`]: crate::Recorded::parse
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `actor.id`, `actor.on_behalf_of`, `resource.id` (default 256).
    pub max_id_bytes: usize,
    /// `actor.kind`, `resource.kind` (default 64).
    pub max_kind_bytes: usize,
    /// `action` (default 128).
    pub max_action_bytes: usize,
    /// `outcome.reason` (default 1024).
    pub max_reason_bytes: usize,
    /// Number of `attributes` (default 64).
    pub max_attributes: usize,
    /// An attribute's key (default 128).
    pub max_attribute_key_bytes: usize,
    /// An attribute's value (default 1024).
    pub max_attribute_value_bytes: usize,
    /// `payload` as submitted, JSON text (default 60 KiB: with the other
    /// fields it must fit one 65,535-byte entry).
    pub max_payload_bytes: usize,
    /// Nesting of arrays and objects in `payload`, the payload object itself
    /// counting 1 (default 32).
    pub max_payload_depth: usize,
    /// `event_id` (default 128).
    pub max_event_id_bytes: usize,
}

impl Limits {
    /// The documented defaults.
    pub const DEFAULT: Limits = Limits {
        max_id_bytes: 256,
        max_kind_bytes: 64,
        max_action_bytes: 128,
        max_reason_bytes: 1024,
        max_attributes: 64,
        max_attribute_key_bytes: 128,
        max_attribute_value_bytes: 1024,
        max_payload_bytes: 60 * 1024,
        max_payload_depth: 32,
        max_event_id_bytes: 128,
    };

    /// What the stored format allows whatever a log's configuration: every
    /// length bounded only by the entry size, payload depth by 128 (the
    /// depth any JSON parser an auditor uses reads).
    pub const MAX: Limits = Limits {
        max_id_bytes: MAX_ENTRY_BYTES,
        max_kind_bytes: MAX_ENTRY_BYTES,
        max_action_bytes: MAX_ENTRY_BYTES,
        max_reason_bytes: MAX_ENTRY_BYTES,
        max_attributes: MAX_ENTRY_BYTES,
        max_attribute_key_bytes: MAX_ENTRY_BYTES,
        max_attribute_value_bytes: MAX_ENTRY_BYTES,
        max_payload_bytes: MAX_ENTRY_BYTES,
        max_payload_depth: 128,
        max_event_id_bytes: MAX_ENTRY_BYTES,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

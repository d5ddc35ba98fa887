//! The self-audit's progress on disk: one small text file, replaced
//! atomically (write a temporary file, fsync it, rename it over the old
//! one, fsync the folder), so that a crash leaves the old progress or the
//! new one, never a mix.
//!
//! It is written at most every [`super::SAVE_EVERY`] while the audit
//! advances, when a pass starts or ends, on a finding and at shutdown; a
//! crash loses at most that much progress, which the next start verifies
//! again. It is never on the sequencer's synced path.
//!
//! The format, one `key value` per line after a header:
//!
//! ```text
//! vellum-self-audit 1
//! pass 3
//! verified_up_to 1048576
//! checkpoints_from 1048577
//! checkpoints_verified 412
//! pass_started_unix_ms 1767225600000
//! pass_complete 0
//! last_pass_completed_unix 1767139200
//! failed the self-audit found ...
//! ```
//!
//! The last two lines are there only when they have a value.

use std::io::Write;
use std::path::Path;

const HEADER: &str = "vellum-self-audit 1";
/// A progress file is a few hundred bytes; anything much larger is not one.
const MAX_FILE: u64 = 64 * 1024;

/// Where a pass is, and what it found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Saved {
    /// The pass number, from 1.
    pub pass: u64,
    /// Leaves `0..verified_up_to` (and every node they complete) are
    /// verified in this pass.
    pub verified_up_to: u64,
    /// The next size whose stored checkpoint is to be looked at.
    pub checkpoints_from: u64,
    /// Checkpoints verified in this pass.
    pub checkpoints_verified: u64,
    /// When this pass started (wall clock, milliseconds since the epoch).
    pub pass_started_unix_ms: u64,
    /// Whether this pass has reached the committed size once.
    pub pass_complete: bool,
    /// When a pass last completed (seconds since the epoch).
    pub last_pass_completed_unix: Option<u64>,
    /// The finding that stopped the log, until a start finds it gone.
    pub failed: Option<String>,
}

impl Saved {
    /// The state of pass `pass`, started at `now_ms`, keeping when the
    /// last pass completed.
    pub fn begin(pass: u64, now_ms: u64, last_completed: Option<u64>) -> Saved {
        Saved {
            pass,
            verified_up_to: 0,
            checkpoints_from: 0,
            checkpoints_verified: 0,
            pass_started_unix_ms: now_ms,
            pass_complete: false,
            last_pass_completed_unix: last_completed,
            failed: None,
        }
    }

    fn to_text(&self) -> String {
        let mut t = format!(
            "{HEADER}\npass {}\nverified_up_to {}\ncheckpoints_from {}\ncheckpoints_verified {}\n\
             pass_started_unix_ms {}\npass_complete {}\n",
            self.pass,
            self.verified_up_to,
            self.checkpoints_from,
            self.checkpoints_verified,
            self.pass_started_unix_ms,
            u8::from(self.pass_complete),
        );
        if let Some(t0) = self.last_pass_completed_unix {
            t.push_str(&format!("last_pass_completed_unix {t0}\n"));
        }
        if let Some(f) = &self.failed {
            // One line: a finding's message has no line break, but make sure.
            t.push_str(&format!("failed {}\n", f.replace(['\n', '\r'], " ")));
        }
        t
    }

    fn parse(text: &str) -> Result<Saved, String> {
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(format!("the first line is not {HEADER:?}"));
        }
        let mut s = Saved::begin(0, 0, None);
        let mut seen = std::collections::BTreeSet::new();
        for line in lines {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            if !seen.insert(key.to_owned()) {
                return Err(format!("{key} is given twice"));
            }
            let num = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{key} is not a number: {value:?}"))
            };
            match key {
                "pass" => s.pass = num()?,
                "verified_up_to" => s.verified_up_to = num()?,
                "checkpoints_from" => s.checkpoints_from = num()?,
                "checkpoints_verified" => s.checkpoints_verified = num()?,
                "pass_started_unix_ms" => s.pass_started_unix_ms = num()?,
                "pass_complete" => s.pass_complete = num()? != 0,
                "last_pass_completed_unix" => s.last_pass_completed_unix = Some(num()?),
                "failed" => s.failed = Some(value.to_owned()),
                _ => return Err(format!("unknown key {key:?}")),
            }
        }
        for key in ["pass", "verified_up_to", "checkpoints_from"] {
            if !seen.contains(key) {
                return Err(format!("{key} is missing"));
            }
        }
        if s.pass == 0 {
            return Err("pass 0 does not exist".into());
        }
        Ok(s)
    }
}

/// Reads the progress file: `Ok(None)` when there is none.
///
/// # Errors
///
/// A message saying why the file cannot be used.
pub(crate) fn load(path: &Path) -> Result<Option<Saved>, String> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut text = String::new();
    file.take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Saved::parse(&text)
        .map(Some)
        .map_err(|e| format!("{} is not a self-audit progress file: {e}", path.display()))
}

/// Replaces the progress file with `saved`, durably.
///
/// # Errors
///
/// I/O.
pub(crate) fn save(path: &Path, saved: &Saved) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the progress file has no name"))?;
    let mut tmp_name = name.to_owned();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(saved.to_text().as_bytes())?;
        f.sync_all()?;
    }
    // A crash before the rename leaves the old file (and a stray temporary
    // one, replaced next time); after it, the new one.
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn saved_state_round_trips_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("self-audit");
        assert_eq!(load(&path).unwrap(), None);
        let mut s = Saved::begin(3, 1_767_225_600_000, Some(1_767_139_200));
        s.verified_up_to = 4096;
        s.checkpoints_from = 17;
        s.checkpoints_verified = 5;
        s.failed = Some("node (level 1, index 3) is corrupt\nsecond line".into());
        save(&path, &s).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!(back.verified_up_to, 4096);
        assert_eq!(back.pass, 3);
        assert_eq!(
            back.failed.as_deref(),
            Some("node (level 1, index 3) is corrupt second line")
        );
        s.failed = None;
        save(&path, &s).unwrap();
        assert_eq!(load(&path).unwrap().unwrap(), s);

        for (text, says) in [
            ("something else\n", "first line"),
            ("vellum-self-audit 1\npass 1\n", "verified_up_to is missing"),
            (
                "vellum-self-audit 1\npass x\nverified_up_to 0\ncheckpoints_from 0\n",
                "pass is not a number",
            ),
            (
                "vellum-self-audit 1\npass 1\npass 2\nverified_up_to 0\ncheckpoints_from 0\n",
                "twice",
            ),
            (
                "vellum-self-audit 1\npass 1\nverified_up_to 0\ncheckpoints_from 0\nmore 1\n",
                "unknown key",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = load(&path).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}

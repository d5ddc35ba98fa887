//! Who may ask this witness to cosign: bearer tokens.
//!
//! tlog-witness leaves authentication to the deployment; the HTTP API stays
//! the specification's. A witness started with a token file (`vellum witness
//! --auth FILE`) answers `POST /add-checkpoint` only to a request carrying
//! `Authorization: Bearer <token>` with a token listed there; any other gets
//! `401 Unauthorized` with `WWW-Authenticate: Bearer`, before its body is
//! read. `GET /` and `GET /health` stay open: they show only the witness's
//! name and public key.
//!
//! # Token file
//!
//! The same idea as the log's own token files: one line per client, the
//! SHA-256 of its token in hex (never the token, so the file is not a
//! secret) and a name for the witness's log lines; `#` starts a comment:
//!
//! ```text
//! # sha256 of the token (64 hex digits)                               name
//! 5b2a3c0d...e9                                                       example.com/log
//! ```
//!
//! `vellum token --witness --name NAME --out FILE` makes a token and prints
//! its line. A presented token is hashed and compared with every listed
//! hash in constant time, all of them each time, so the answer's timing
//! says nothing about which hash came close.

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// The tokens a witness accepts (hashes and names).
#[derive(Clone)]
pub struct WitnessTokens {
    entries: Vec<([u8; 32], String)>,
}

impl fmt::Debug for WitnessTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: hashes are not secret, but they are noise.
        f.debug_list()
            .entries(self.entries.iter().map(|(_, n)| n))
            .finish()
    }
}

/// Why a token file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file could not be read.
    #[error("cannot read the token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("token file line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// No token is listed: nobody could be served.
    #[error("the token file lists no token")]
    Empty,
}

/// Why a request was not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No `Authorization: Bearer` header, or a malformed one.
    Missing,
    /// A token that is not listed.
    Unknown,
}

/// The SHA-256 of `token` in hex, as a token file holds it.
pub fn token_hash_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 64 hex digits as 32 bytes; `None` for anything else. (The log's token
/// file, `vellum_server::access`, reads its hashes with this too.)
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl WitnessTokens {
    /// Parses a token file (format in the module docs).
    ///
    /// # Errors
    ///
    /// [`TokenFileError::Line`] naming the line, or
    /// [`TokenFileError::Empty`].
    pub fn parse(text: &str) -> Result<WitnessTokens, TokenFileError> {
        let mut entries: Vec<([u8; 32], String)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |reason: String| TokenFileError::Line { line, reason };
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let fields: Vec<&str> = content.split_whitespace().collect();
            let [hash, name] = fields[..] else {
                return Err(err(format!(
                    "expected `<sha256-hex-of-token> <name>`, found {} fields",
                    fields.len()
                )));
            };
            let hash = parse_hex32(&hash.to_ascii_lowercase()).ok_or_else(|| {
                err(
                    "the first field must be the token's SHA-256 in 64 hex digits (the file \
                     holds hashes, never tokens)"
                        .into(),
                )
            })?;
            if entries.iter().any(|(h, _)| *h == hash) {
                return Err(err("this hash is listed twice".into()));
            }
            if entries.iter().any(|(_, n)| n == name) {
                return Err(err(format!("the name {name:?} is listed twice")));
            }
            entries.push((hash, name.to_owned()));
        }
        if entries.is_empty() {
            return Err(TokenFileError::Empty);
        }
        Ok(WitnessTokens { entries })
    }

    /// Reads and parses the token file at `path`.
    ///
    /// # Errors
    ///
    /// As [`WitnessTokens::parse`], or [`TokenFileError::Read`].
    pub fn load(path: &Path) -> Result<WitnessTokens, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        WitnessTokens::parse(&text)
    }

    /// The name of the client whose token `authorization` (the value of an
    /// `Authorization` header, if any) carries.
    ///
    /// # Errors
    ///
    /// [`Denied`]: no usable header, or a token not listed.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<&str, Denied> {
        let token = authorization
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then_some(token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(Denied::Missing)?;
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Every entry is compared, whatever matched before.
        let mut found: Option<usize> = None;
        for (i, (hash, _)) in self.entries.iter().enumerate() {
            let hit: Choice = hash.ct_eq(&presented);
            if bool::from(hit) {
                found = Some(i);
            }
        }
        found
            .map(|i| self.entries[i].1.as_str())
            .ok_or(Denied::Unknown)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn a_listed_token_is_named_and_others_are_denied() {
        let file = format!(
            "# hash name\n{} log-a\n\n{} log-b # the second\n",
            token_hash_hex("secret-a"),
            token_hash_hex("secret-b")
        );
        let t = WitnessTokens::parse(&file).unwrap();
        assert_eq!(t.check(Some(b"Bearer secret-a")), Ok("log-a"));
        assert_eq!(t.check(Some(b"bearer secret-b")), Ok("log-b"));
        assert_eq!(t.check(Some(b"Bearer secret-c")), Err(Denied::Unknown));
        assert_eq!(t.check(Some(b"Basic secret-a")), Err(Denied::Missing));
        assert_eq!(t.check(Some(b"Bearer ")), Err(Denied::Missing));
        assert_eq!(t.check(Some(b"secret-a")), Err(Denied::Missing));
        assert_eq!(t.check(None), Err(Denied::Missing));
        // The names, never the hashes, in debug output.
        let shown = format!("{t:?}");
        assert!(shown.contains("log-a") && !shown.contains(&token_hash_hex("secret-a")));
    }

    #[test]
    fn bad_files_name_the_line() {
        let h = token_hash_hex("x");
        for (text, line, what) in [
            ("secret-token name\n".to_owned(), 1, "64 hex digits"),
            (format!("{h}\n"), 1, "found 1 fields"),
            (format!("# c\n{h} a\n{h} b\n"), 3, "listed twice"),
            (
                format!("{h} a\n{} a\n", token_hash_hex("y")),
                2,
                "listed twice",
            ),
            (format!("append {h} name\n"), 1, "found 3 fields"),
        ] {
            let e = WitnessTokens::parse(&text).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("token file line {line}: ")) && e.contains(what),
                "{text:?}: {e}"
            );
        }
        assert!(matches!(
            WitnessTokens::parse("# only a comment\n"),
            Err(TokenFileError::Empty)
        ));
    }
}

//! The logs a witness trusts, from a C2SP tlog-policy file.
//!
//! The file uses only `log <vkey> [<url>]` lines (plus blank lines and `#`
//! comments). A witness checks log signatures, never cosignatures, so:
//!
//! * `witness` and `group` lines are refused: they mean the file is a
//!   client's policy given to a witness by mistake, and silently ignoring
//!   them would hide that mistake;
//! * the `quorum` line is optional, and if present it MUST be `quorum none`.
//!
//! Each log's origin is its vkey's name. Two `log` lines with the same
//! origin are refused: the witness keeps one state per origin, and two keys
//! for one origin would let either key move the other's log forward.

use std::collections::BTreeMap;

use vellum_note::{Policy, PolicyError, SigType, VerifierKey};

/// Why a witness's log list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file is not a valid tlog-policy file.
    #[error("the trusted-log file is not a valid tlog-policy file: {0}")]
    Policy(#[from] PolicyError),
    /// A `witness` or `group` line: a witness's configuration lists logs only.
    #[error(
        "line {line}: {keyword:?} lines are not allowed in a witness's log list (it takes only \"log <vkey> [<url>]\" lines and an optional \"quorum none\")"
    )]
    NotALogLine {
        /// The line.
        line: usize,
        /// `witness` or `group`.
        keyword: String,
    },
    /// A quorum other than `none`.
    #[error(
        "line {line}: a witness's log list takes no quorum but \"quorum none\", found {found:?}"
    )]
    QuorumNotNone {
        /// The line.
        line: usize,
        /// The quorum line as written.
        found: String,
    },
    /// Two logs with the same origin (vkey name).
    #[error("the log origin {origin:?} is listed twice; a witness trusts one key per origin")]
    DuplicateOrigin {
        /// The origin.
        origin: String,
    },
    /// A log key that is not Ed25519 (0x01).
    #[error("log key {name:?} has signature type {found}; logs sign with Ed25519 (0x01)")]
    WrongKeyType {
        /// The key's name.
        name: String,
        /// Its type.
        found: SigType,
    },
    /// No log at all: such a witness could never cosign anything.
    #[error("the trusted-log list names no log")]
    NoLogs,
}

/// A log the witness trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedLog {
    key: VerifierKey,
    url: Option<String>,
}

impl TrustedLog {
    /// The log's origin: its key's name.
    pub fn origin(&self) -> &str {
        self.key.name()
    }

    /// The log's Ed25519 (0x01) key.
    pub fn key(&self) -> &VerifierKey {
        &self.key
    }

    /// The URL given after the key, if any (informational for a witness).
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

/// The logs a witness trusts, one key per origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedLogs {
    // INVARIANT: keyed by the key's name; never empty.
    logs: BTreeMap<String, TrustedLog>,
}

impl TrustedLogs {
    /// Parses a log list in tlog-policy form (see the module docs).
    ///
    /// # Errors
    ///
    /// [`ConfigError::NotALogLine`] for a `witness` or `group` line,
    /// [`ConfigError::QuorumNotNone`], [`ConfigError::Policy`] for anything
    /// [`Policy::parse`] refuses, [`ConfigError::DuplicateOrigin`],
    /// [`ConfigError::NoLogs`].
    pub fn parse(text: &str) -> Result<TrustedLogs, ConfigError> {
        let mut has_quorum = false;
        for (i, line) in text.split('\n').enumerate() {
            let mut fields = line.split([' ', '\t']).filter(|f| !f.is_empty());
            match fields.next() {
                Some(k @ ("witness" | "group")) => {
                    return Err(ConfigError::NotALogLine {
                        line: i + 1,
                        keyword: k.to_owned(),
                    });
                }
                Some("quorum") => {
                    // A malformed or repeated quorum line is left for the
                    // policy parser to report with its precise error.
                    has_quorum = true;
                    let rest: Vec<&str> = fields.collect();
                    if rest.len() == 1 && rest[0] != "none" {
                        return Err(ConfigError::QuorumNotNone {
                            line: i + 1,
                            found: line.trim().to_owned(),
                        });
                    }
                }
                _ => {}
            }
        }
        let policy = if has_quorum {
            Policy::parse(text)?
        } else {
            // Appended after the last line, so every line number the parser
            // reports is still the file's.
            Policy::parse(&format!("{text}\nquorum none\n"))?
        };
        TrustedLogs::from_policy_logs(
            policy
                .logs()
                .iter()
                .map(|l| (l.key().clone(), l.url().map(str::to_owned))),
        )
    }

    /// The trusted logs for these keys (no URLs).
    ///
    /// # Errors
    ///
    /// [`ConfigError::WrongKeyType`], [`ConfigError::DuplicateOrigin`],
    /// [`ConfigError::NoLogs`].
    pub fn from_keys<I>(keys: I) -> Result<TrustedLogs, ConfigError>
    where
        I: IntoIterator<Item = VerifierKey>,
    {
        TrustedLogs::from_policy_logs(keys.into_iter().map(|k| (k, None)))
    }

    fn from_policy_logs<I>(logs: I) -> Result<TrustedLogs, ConfigError>
    where
        I: IntoIterator<Item = (VerifierKey, Option<String>)>,
    {
        let mut map = BTreeMap::new();
        for (key, url) in logs {
            if key.sig_type() != SigType::Ed25519 {
                return Err(ConfigError::WrongKeyType {
                    name: key.name().to_owned(),
                    found: key.sig_type(),
                });
            }
            let origin = key.name().to_owned();
            if map.contains_key(&origin) {
                return Err(ConfigError::DuplicateOrigin { origin });
            }
            map.insert(origin, TrustedLog { key, url });
        }
        if map.is_empty() {
            return Err(ConfigError::NoLogs);
        }
        Ok(TrustedLogs { logs: map })
    }

    /// The log with this origin, if trusted.
    pub fn get(&self, origin: &str) -> Option<&TrustedLog> {
        self.logs.get(origin)
    }

    /// The trusted logs, by origin.
    pub fn iter(&self) -> impl Iterator<Item = &TrustedLog> {
        self.logs.values()
    }

    /// The trusted origins, in order.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// The number of trusted logs (never 0).
    pub fn len(&self) -> usize {
        self.logs.len()
    }

    /// Always false: a list is never empty. (For clippy's `len` rule.)
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;
    use vellum_note::SignerKey;

    fn vkey(name: &str) -> String {
        SignerKey::generate(name, SigType::Ed25519)
            .unwrap()
            .verifier()
            .to_string()
    }

    #[test]
    fn log_lines_with_and_without_quorum() {
        let (a, b) = (vkey("a.example/log"), vkey("b.example/log"));
        let text = format!("# logs\nlog {a} https://a.example/\n\nlog {b}\n");
        let logs = TrustedLogs::parse(&text).unwrap();
        assert_eq!(logs.len(), 2);
        assert_eq!(
            logs.origins().collect::<Vec<_>>(),
            ["a.example/log", "b.example/log"]
        );
        assert_eq!(
            logs.get("a.example/log").unwrap().url(),
            Some("https://a.example/")
        );
        assert_eq!(logs.get("b.example/log").unwrap().url(), None);
        let with_quorum = TrustedLogs::parse(&format!("{text}quorum none\n")).unwrap();
        assert_eq!(with_quorum, logs);
        // No final newline.
        assert!(TrustedLogs::parse(&format!("log {a}")).is_ok());
    }

    #[test]
    fn refusals() {
        let a = vkey("a.example/log");
        let w = SignerKey::generate("w", SigType::CosignatureV1)
            .unwrap()
            .verifier()
            .to_string();
        assert_eq!(
            TrustedLogs::parse(&format!("log {a}\nwitness w {w}\n")),
            Err(ConfigError::NotALogLine {
                line: 2,
                keyword: "witness".into()
            })
        );
        assert_eq!(
            TrustedLogs::parse(&format!("log {a}\n  group g any w\n")),
            Err(ConfigError::NotALogLine {
                line: 2,
                keyword: "group".into()
            })
        );
        assert!(matches!(
            TrustedLogs::parse(&format!("log {a}\nquorum w\n")),
            Err(ConfigError::QuorumNotNone { line: 2, .. })
        ));
        assert!(matches!(
            TrustedLogs::parse(&format!("log {a}\nquorum none\nquorum none\n")),
            Err(ConfigError::Policy(PolicyError::DuplicateQuorum { .. }))
        ));
        assert!(matches!(
            TrustedLogs::parse(&format!("log {w}\n")),
            Err(ConfigError::Policy(PolicyError::WrongKeyType {
                line: 1,
                ..
            }))
        ));
        assert!(matches!(
            TrustedLogs::parse("log nonsense\n"),
            Err(ConfigError::Policy(PolicyError::InvalidKey { line: 1, .. }))
        ));
        // Same origin, another key.
        let a2 = vkey("a.example/log");
        assert_eq!(
            TrustedLogs::parse(&format!("log {a}\nlog {a2}\n")),
            Err(ConfigError::DuplicateOrigin {
                origin: "a.example/log".into()
            })
        );
        assert_eq!(TrustedLogs::parse("# nothing\n"), Err(ConfigError::NoLogs));
        assert_eq!(TrustedLogs::from_keys([]), Err(ConfigError::NoLogs));
        let wkey = VerifierKey::parse(&w).unwrap();
        assert!(matches!(
            TrustedLogs::from_keys([wkey]),
            Err(ConfigError::WrongKeyType { .. })
        ));
    }
}

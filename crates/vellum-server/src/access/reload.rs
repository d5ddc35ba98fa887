//! Reloading the token file (`vellum serve` on SIGHUP): the file is read
//! and parsed again, and the new policy replaces the old one for every call
//! that starts after it, on open connections too. A file that cannot be
//! read or parsed changes nothing. What changed is said by the tokens'
//! names, never by a hash or a token.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Access, AccessError, AccessPolicy, Entry};

/// What a reload of the token file changed, by the tokens' names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenChange {
    /// The file read.
    pub file: PathBuf,
    /// Credentials listed now and not before.
    pub added: Vec<String>,
    /// Credentials listed before and not now.
    pub removed: Vec<String>,
    /// Credentials listed in both, with another name or other roles.
    pub changed: Vec<String>,
    /// How many are listed now.
    pub listed: usize,
}

impl TokenChange {
    /// Whether the reload changed nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

fn names(list: &[String]) -> String {
    if list.is_empty() {
        String::new()
    } else {
        format!(" ({})", list.join(", "))
    }
}

impl fmt::Display for TokenChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(
                f,
                "tokens unchanged ({}, {} listed)",
                self.file.display(),
                self.listed
            );
        }
        write!(
            f,
            "tokens reloaded: {} added{}, {} removed{}, {} changed{}; {} listed in {}",
            self.added.len(),
            names(&self.added),
            self.removed.len(),
            names(&self.removed),
            self.changed.len(),
            names(&self.changed),
            self.listed,
            self.file.display()
        )
    }
}

impl Access {
    /// Reads the token file of the policy in use again and swaps the new
    /// policy in. `Ok(None)`: the policy was not read from a file (nothing
    /// to reload).
    ///
    /// # Errors
    ///
    /// [`AccessError`] naming the file or line; the policy in use is then
    /// unchanged.
    pub fn reload(&self) -> Result<Option<TokenChange>, AccessError> {
        let Some(file) = self.policy.load().source().map(ToOwned::to_owned) else {
            return Ok(None);
        };
        let new = AccessPolicy::load(&file)?;
        Ok(Some(self.replace(new)))
    }

    /// Swaps `new` in for every call that starts from now on; returns what
    /// changed.
    pub fn replace(&self, new: AccessPolicy) -> TokenChange {
        let new = Arc::new(new);
        let old = self.policy.swap(new.clone());
        let same = |a: &Entry, b: &Entry| a.credential == b.credential;
        let find = |list: &[Entry], e: &Entry| list.iter().any(|o| same(o, e));
        TokenChange {
            file: new.source().map(ToOwned::to_owned).unwrap_or_default(),
            added: new
                .entries
                .iter()
                .filter(|e| !find(&old.entries, e))
                .map(|e| e.identity.name.clone())
                .collect(),
            removed: old
                .entries
                .iter()
                .filter(|e| !find(&new.entries, e))
                .map(|e| e.identity.name.clone())
                .collect(),
            changed: new
                .entries
                .iter()
                .filter(|e| {
                    old.entries
                        .iter()
                        .any(|o| same(o, e) && o.identity != e.identity)
                })
                .map(|e| e.identity.name.clone())
                .collect(),
            listed: new.entries.len(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;
    use crate::access::{AccessStats, Need, Role, token_hash_hex};

    fn line(roles: &str, token: &str, name: &str) -> String {
        format!("{roles} {} {name}\n", token_hash_hex(token))
    }

    fn bearer(token: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        h
    }

    #[test]
    fn a_replaced_policy_holds_for_the_next_call_and_says_what_changed() {
        let first = line("read", "ta", "a") + &line("read", "tc", "c");
        let access = Access::new(
            Arc::new(AccessPolicy::parse(&first).unwrap()),
            Arc::new(AccessStats::default()),
        );
        let need = Need::Role(Role::Read);
        let call = |t: &str| access.check("m", "default", need, &bearer(t), None);
        assert!(call("ta").is_ok());
        assert!(call("tb").is_err());

        let second = line("read", "tb", "b") + &line("append", "tc", "c");
        let change = access.replace(AccessPolicy::parse(&second).unwrap());
        assert_eq!(change.added, ["b"]);
        assert_eq!(change.removed, ["a"]);
        assert_eq!(change.changed, ["c"]);
        assert_eq!(change.listed, 2);
        let text = change.to_string();
        assert!(
            text.starts_with("tokens reloaded: 1 added (b), 1 removed (a), 1 changed (c)"),
            "{text}"
        );
        // Names only: no hash of a token in the line.
        assert!(!text.contains(&token_hash_hex("tb")), "{text}");
        assert!(call("ta").is_err());
        assert!(call("tb").is_ok());
        // c lost read and got append.
        assert!(call("tc").is_err());

        let same = access.replace(AccessPolicy::parse(&second).unwrap());
        assert!(same.is_empty());
        assert!(same.to_string().starts_with("tokens unchanged"), "{same}");
    }

    #[test]
    fn a_bad_file_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, line("read", "ta", "a")).unwrap();
        let access = Access::new(
            Arc::new(AccessPolicy::load(&file).unwrap()),
            Arc::new(AccessStats::default()),
        );
        std::fs::write(&file, "read not-a-hash b\n").unwrap();
        let err = access.reload().unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        let need = Need::Role(Role::Read);
        assert!(
            access
                .check("m", "default", need, &bearer("ta"), None)
                .is_ok()
        );
        std::fs::write(&file, line("read", "tb", "b")).unwrap();
        let change = access.reload().unwrap().unwrap();
        assert_eq!((change.added.len(), change.removed.len()), (1, 1));
        assert_eq!(change.file, file);
    }

    #[test]
    fn a_policy_not_from_a_file_has_nothing_to_reload() {
        let access = Access::new(
            Arc::new(AccessPolicy::parse(&line("read", "ta", "a")).unwrap()),
            Arc::new(AccessStats::default()),
        );
        assert!(access.reload().unwrap().is_none());
    }
}

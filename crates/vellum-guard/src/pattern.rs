//! Glob patterns of the configuration: `*` matches any run of characters
//! (`/` and `.` included), `?` exactly one; every other character matches
//! itself. Brackets, braces and backslashes are refused rather than taken
//! literally, so that a pattern written for a richer glob dialect is an
//! error at start and not a rule that silently never matches.

/// A checked glob pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    text: String,
}

impl Pattern {
    /// Checks `text`; `key` names the setting in the error.
    pub(crate) fn new(key: &str, text: &str) -> Result<Pattern, String> {
        if text.is_empty() {
            return Err(format!("{key}: an empty pattern matches nothing"));
        }
        if let Some(c) = text
            .chars()
            .find(|c| matches!(c, '[' | ']' | '{' | '}' | '\\'))
        {
            return Err(format!(
                "{key}: {text:?} uses {c:?}; patterns know only `*` (any run) and `?` (one character)"
            ));
        }
        Ok(Pattern {
            text: text.to_owned(),
        })
    }

    /// Every pattern of `texts`, the key of each error naming its position.
    pub(crate) fn list(key: &str, texts: &[String]) -> Result<Vec<Pattern>, String> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| Pattern::new(&format!("{key}[{i}]"), t))
            .collect()
    }

    /// The pattern as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `s` matches the whole pattern. Backtracks to the last `*`
    /// only: O(len(s) * len(pattern)) at worst, no allocation. Works on
    /// bytes: literal bytes of valid UTF-8 compare as characters do, and
    /// `?` and `*` step over whole characters.
    pub(crate) fn matches(&self, s: &str) -> bool {
        let (p, s) = (self.text.as_bytes(), s.as_bytes());
        let (mut pi, mut si) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            if pi < p.len() && p[pi] == b'?' {
                pi += 1;
                si += char_len(s[si]);
            } else if pi < p.len() && p[pi] == b'*' {
                star = Some((pi, si));
                pi += 1;
            } else if pi < p.len() && p[pi] == s[si] {
                pi += 1;
                si += 1;
            } else if let Some((sp, ss)) = star {
                let next = ss + char_len(s[ss]);
                pi = sp + 1;
                si = next;
                star = Some((sp, next));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == b'*')
    }
}

/// The length of the UTF-8 character that starts with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0xf0.. => 4,
        0xe0.. => 3,
        0xc0.. => 2,
        _ => 1,
    }
}

/// The first of `patterns` that `s` matches.
pub(crate) fn first_match<'p>(patterns: &'p [Pattern], s: &str) -> Option<&'p Pattern> {
    patterns.iter().find(|p| p.matches(s))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let p = |t: &str| Pattern::new("k", t).unwrap();
        assert!(p("secret/*").matches("secret/db-password"));
        assert!(p("secret/*").matches("secret/"));
        assert!(!p("secret/*").matches("secrets/x"));
        assert!(p("role.*").matches("role.assign"));
        assert!(!p("role.*").matches("roles.assign"));
        assert!(p("permission.grant").matches("permission.grant"));
        assert!(!p("permission.grant").matches("permission.granted"));
        assert!(p("*.delete").matches("document.delete"));
        assert!(p("a*b*c").matches("axxbyyc"));
        assert!(!p("a*b*c").matches("axxbyy"));
        assert!(p("user-??").matches("user-42"));
        assert!(!p("user-??").matches("user-4"));
        assert!(p("*").matches(""));
        assert!(p("é*").matches("été"));
        assert!(p("?t?").matches("été"));
        assert!(p("*é").matches("été"));
        assert!(!p("?").matches("ét"));
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert!(Pattern::new("k", "").unwrap_err().contains("empty"));
        for bad in ["secret/[ab]", "role.{a,b}", "a\\*"] {
            let e = Pattern::new("protected_resource.resources[0]", bad).unwrap_err();
            assert!(e.starts_with("protected_resource.resources[0]: "), "{e}");
        }
    }
}

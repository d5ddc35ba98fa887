//! The policy file parser. Every refusal names its line.

use std::collections::BTreeMap;

use super::{
    MAX_ENTRIES, MAX_POLICY_SIZE, Member, Policy, PolicyError, PolicyGroup, PolicyLog,
    PolicyWitness, Quorum, Threshold,
};
use crate::cosignature::CosignatureVerifier;
use crate::keys::{SigType, VerifierKey};

const LOG_USAGE: &str = "log <vkey> [<url>]";
const WITNESS_USAGE: &str = "witness <name> <vkey> [<url>]";
const GROUP_USAGE: &str = "group <name> <k|all|any> <name>...";
const QUORUM_USAGE: &str = "quorum <name|none>";
/// The predefined quorum name that requires no cosignature.
const NONE: &str = "none";

/// A defined witness or group, with the line that defined it.
#[derive(Clone, Copy)]
struct Definition {
    member: Member,
    line: usize,
}

/// Parser state: what has been defined so far.
#[derive(Default)]
struct Parser {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<PolicyGroup>,
    names: BTreeMap<String, Definition>,
    /// Public keys seen, per role, with their line: a duplicate key is a
    /// duplicate log or witness even under another name.
    log_keys: BTreeMap<[u8; 32], usize>,
    witness_keys: BTreeMap<[u8; 32], usize>,
    quorum: Option<(Quorum, usize)>,
}

impl Policy {
    /// Parses a policy file.
    ///
    /// Fields are separated by spaces and tabs; blank lines and lines whose
    /// first non-blank character is `#` are ignored; the final newline is
    /// optional. Names must be defined before use, a name is defined once
    /// and is never `none`, a key is listed once per role, log keys are
    /// Ed25519 (0x01) and witness keys cosignature/v1 (0x04), groups have
    /// 1 <= k <= n distinct members, and there is exactly one quorum line.
    ///
    /// # Errors
    ///
    /// The [`PolicyError`] for the first problem, with its line number.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        if text.len() > MAX_POLICY_SIZE {
            return Err(PolicyError::TooLarge {
                size: text.len(),
                max: MAX_POLICY_SIZE,
            });
        }
        let mut parser = Parser::default();
        for (i, line) in text.split('\n').enumerate() {
            parser.line(i + 1, line)?;
        }
        parser.finish()
    }

    /// Parses a policy file given as bytes; it must be UTF-8.
    ///
    /// # Errors
    ///
    /// [`PolicyError::InvalidCharacter`] or [`PolicyError::NotUtf8`] for the
    /// first bad line, then as [`Policy::parse`].
    pub fn parse_bytes(bytes: &[u8]) -> Result<Policy, PolicyError> {
        if bytes.len() > MAX_POLICY_SIZE {
            return Err(PolicyError::TooLarge {
                size: bytes.len(),
                max: MAX_POLICY_SIZE,
            });
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Policy::parse(text),
            Err(e) => {
                let before = &bytes[..e.valid_up_to()];
                let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
                // A forbidden octet before the bad UTF-8 is the better report.
                for (i, l) in before.split(|&b| b == b'\n').enumerate() {
                    if let Some(&byte) = l.iter().find(|&&b| !allowed(b)) {
                        return Err(PolicyError::InvalidCharacter { line: i + 1, byte });
                    }
                }
                Err(PolicyError::NotUtf8 { line })
            }
        }
    }
}

/// The octets tlog-policy allows (newline is the line separator, never seen
/// inside a line).
fn allowed(b: u8) -> bool {
    b == b'\t' || b == b'\n' || (0x20..=0x7e).contains(&b) || b >= 0x80
}

impl Parser {
    fn line(&mut self, line: usize, text: &str) -> Result<(), PolicyError> {
        if let Some(&byte) = text.as_bytes().iter().find(|&&b| !allowed(b)) {
            return Err(PolicyError::InvalidCharacter { line, byte });
        }
        let fields: Vec<&str> = text.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
        let Some(keyword) = fields.first() else {
            return Ok(());
        };
        if keyword.starts_with('#') {
            return Ok(());
        }
        match *keyword {
            "log" => self.log(line, &fields),
            "witness" => self.witness(line, &fields),
            "group" => self.group(line, &fields),
            "quorum" => self.quorum(line, &fields),
            other => Err(PolicyError::UnknownKeyword {
                line,
                keyword: other.to_owned(),
            }),
        }
    }

    fn log(&mut self, line: usize, fields: &[&str]) -> Result<(), PolicyError> {
        let (vkey, url) = match fields {
            [_, vkey] => (*vkey, None),
            [_, vkey, url] => (*vkey, Some(*url)),
            _ => return Err(field_count(line, LOG_USAGE, fields)),
        };
        let key = parse_key(line, vkey, "log", SigType::Ed25519)?;
        check_limit(line, self.logs.len(), "logs")?;
        if let Some(&first_line) = self.log_keys.get(&key.public_key()) {
            return Err(PolicyError::DuplicateKey { line, first_line });
        }
        self.log_keys.insert(key.public_key(), line);
        self.logs.push(PolicyLog {
            key,
            url: url.map(str::to_owned),
        });
        Ok(())
    }

    fn witness(&mut self, line: usize, fields: &[&str]) -> Result<(), PolicyError> {
        let (name, vkey, url) = match fields {
            [_, name, vkey] => (*name, *vkey, None),
            [_, name, vkey, url] => (*name, *vkey, Some(*url)),
            _ => return Err(field_count(line, WITNESS_USAGE, fields)),
        };
        self.check_new_name(line, name)?;
        let key = parse_key(line, vkey, "witness", SigType::CosignatureV1)?;
        check_limit(line, self.witnesses.len(), "witnesses")?;
        if let Some(&first_line) = self.witness_keys.get(&key.public_key()) {
            return Err(PolicyError::DuplicateKey { line, first_line });
        }
        self.witness_keys.insert(key.public_key(), line);
        let key = CosignatureVerifier::new(key).map_err(|_| PolicyError::WrongKeyType {
            line,
            role: "witness",
            expected: SigType::CosignatureV1,
            found: SigType::Ed25519,
        })?;
        self.define(name, Member::Witness(self.witnesses.len()), line);
        self.witnesses.push(PolicyWitness {
            name: name.to_owned(),
            key,
            url: url.map(str::to_owned),
        });
        Ok(())
    }

    fn group(&mut self, line: usize, fields: &[&str]) -> Result<(), PolicyError> {
        let [_, name, threshold, members @ ..] = fields else {
            return Err(field_count(line, GROUP_USAGE, fields));
        };
        if members.is_empty() {
            return Err(field_count(line, GROUP_USAGE, fields));
        }
        self.check_new_name(line, name)?;
        check_limit(line, self.groups.len(), "groups")?;
        let mut resolved = Vec::with_capacity(members.len());
        for (i, member) in members.iter().enumerate() {
            if *member == NONE {
                return Err(PolicyError::NoneAsMember { line });
            }
            if members[..i].contains(member) {
                return Err(PolicyError::DuplicateMember {
                    line,
                    name: (*member).to_owned(),
                });
            }
            resolved.push(self.resolve(line, member)?);
        }
        let n = members.len();
        let threshold = match *threshold {
            "all" => Threshold::All,
            "any" => Threshold::Any,
            // Any run of digits is a decimal here (the specification sets no
            // form, so leading zeros pass); only the range matters.
            k if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) => {
                let k = k
                    .parse::<u64>()
                    .map_err(|_| PolicyError::InvalidThreshold {
                        line,
                        found: k.to_owned(),
                    })?;
                match usize::try_from(k) {
                    Ok(k) if (1..=n).contains(&k) => Threshold::AtLeast(k),
                    _ => return Err(PolicyError::ThresholdOutOfRange { line, k, n }),
                }
            }
            other => {
                return Err(PolicyError::InvalidThreshold {
                    line,
                    found: other.to_owned(),
                });
            }
        };
        self.define(name, Member::Group(self.groups.len()), line);
        self.groups.push(PolicyGroup {
            name: (*name).to_owned(),
            threshold,
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            resolved,
        });
        Ok(())
    }

    fn quorum(&mut self, line: usize, fields: &[&str]) -> Result<(), PolicyError> {
        let [_, name] = fields else {
            return Err(field_count(line, QUORUM_USAGE, fields));
        };
        if let Some((_, first_line)) = self.quorum {
            return Err(PolicyError::DuplicateQuorum { line, first_line });
        }
        let quorum = if *name == NONE {
            Quorum::None
        } else {
            match self.resolve(line, name)? {
                Member::Witness(w) => Quorum::Witness(w),
                Member::Group(g) => Quorum::Group(g),
            }
        };
        self.quorum = Some((quorum, line));
        Ok(())
    }

    fn finish(self) -> Result<Policy, PolicyError> {
        let (quorum, _) = self.quorum.ok_or(PolicyError::MissingQuorum)?;
        Ok(Policy {
            logs: self.logs,
            witnesses: self.witnesses,
            groups: self.groups,
            quorum,
        })
    }

    fn check_new_name(&self, line: usize, name: &str) -> Result<(), PolicyError> {
        if name == NONE {
            return Err(PolicyError::ReservedName { line });
        }
        if let Some(def) = self.names.get(name) {
            return Err(PolicyError::DuplicateName {
                line,
                name: name.to_owned(),
                first_line: def.line,
            });
        }
        Ok(())
    }

    fn define(&mut self, name: &str, member: Member, line: usize) {
        self.names
            .insert(name.to_owned(), Definition { member, line });
    }

    fn resolve(&self, line: usize, name: &str) -> Result<Member, PolicyError> {
        self.names
            .get(name)
            .map(|d| d.member)
            .ok_or_else(|| PolicyError::UnknownName {
                line,
                name: name.to_owned(),
            })
    }
}

fn parse_key(
    line: usize,
    vkey: &str,
    role: &'static str,
    expected: SigType,
) -> Result<VerifierKey, PolicyError> {
    let key =
        VerifierKey::parse(vkey).map_err(|source| PolicyError::InvalidKey { line, source })?;
    if key.sig_type() != expected {
        return Err(PolicyError::WrongKeyType {
            line,
            role,
            expected,
            found: key.sig_type(),
        });
    }
    Ok(key)
}

fn check_limit(line: usize, count: usize, what: &'static str) -> Result<(), PolicyError> {
    if count >= MAX_ENTRIES {
        return Err(PolicyError::TooMany {
            line,
            what,
            max: MAX_ENTRIES,
        });
    }
    Ok(())
}

fn field_count(line: usize, usage: &'static str, fields: &[&str]) -> PolicyError {
    PolicyError::WrongFieldCount {
        line,
        usage,
        found: fields.len(),
    }
}

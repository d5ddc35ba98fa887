//! C2SP tlog-policy: which logs are trusted, which witnesses, and which
//! combinations of witness cosignatures (the quorum) make a checkpoint
//! trustworthy.
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> <k|all|any> <name>...
//! quorum <name|none>
//! ```

mod error;
mod parse;

pub use error::PolicyError;

use std::collections::BTreeSet;
use std::fmt;

use crate::checkpoint::Checkpoint;
use crate::cosignature::{CosignatureVerifier, cosignature_timestamp};
use crate::keys::{SigType, VerifierKey};
use crate::note::{Note, NoteVerifier, VerifiedNote};

/// Largest policy file accepted, in bytes.
pub const MAX_POLICY_SIZE: usize = 256 * 1024;
/// Most logs, witnesses, and groups (each) in one policy. The specification
/// recommends supporting at least 32 of each.
pub const MAX_ENTRIES: usize = 256;

/// A trusted log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLog {
    key: VerifierKey,
    url: Option<String>,
}

impl PolicyLog {
    /// The log's key; its name is the log's origin.
    pub fn key(&self) -> &VerifierKey {
        &self.key
    }

    /// The log's URL, if the policy gives one (its meaning is up to the
    /// application).
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

/// A trusted witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    name: String,
    key: CosignatureVerifier,
    url: Option<String>,
}

impl PolicyWitness {
    /// The witness's name in the policy (not necessarily its key name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The witness's cosignature key.
    pub fn key(&self) -> &CosignatureVerifier {
        &self.key
    }

    /// The witness's URL (its tlog-witness submission prefix), if given.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

/// How many members of a group must be satisfied, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// `all`: every member.
    All,
    /// `any`: at least one.
    Any,
    /// `k`: at least k (1 <= k <= n).
    AtLeast(usize),
}

/// What a group member is, resolved when the policy is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Witness(usize),
    /// Always a group defined earlier, so evaluation in order never recurses.
    Group(usize),
}

/// A k-of-n group of witnesses and earlier groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyGroup {
    name: String,
    threshold: Threshold,
    members: Vec<String>,
    resolved: Vec<Member>,
}

impl PolicyGroup {
    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The threshold as written.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    /// The number of members that must be satisfied.
    pub fn required(&self) -> usize {
        match self.threshold {
            Threshold::All => self.members.len(),
            Threshold::Any => 1,
            Threshold::AtLeast(k) => k,
        }
    }

    /// The members' names.
    pub fn members(&self) -> &[String] {
        &self.members
    }
}

/// The rule a checkpoint's cosignatures must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quorum {
    None,
    Witness(usize),
    Group(usize),
}

/// A parsed trust policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<PolicyGroup>,
    quorum: Quorum,
}

/// A cosignature by a policy witness that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessCosignature {
    witness: String,
    timestamp: u64,
}

impl WitnessCosignature {
    /// The witness's name in the policy.
    pub fn witness(&self) -> &str {
        &self.witness
    }

    /// When the witness cosigned (POSIX seconds, as it claims).
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }
}

/// A checkpoint signed by a policy log and cosigned to the policy's quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    note: VerifiedNote,
    log: VerifierKey,
    cosignatures: Vec<WitnessCosignature>,
}

impl VerifiedCheckpoint {
    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The verified note, with every signature line.
    pub fn note(&self) -> &VerifiedNote {
        &self.note
    }

    /// The log key that signed.
    pub fn log_key(&self) -> &VerifierKey {
        &self.log
    }

    /// The policy witnesses that cosigned, in note order.
    pub fn cosignatures(&self) -> &[WitnessCosignature] {
        &self.cosignatures
    }
}

impl Policy {
    /// A policy trusting one log and requiring no cosignatures.
    ///
    /// # Errors
    ///
    /// [`PolicyError::WrongLogKeyType`] for a key that is not Ed25519 (0x01).
    pub fn quorum_none(log: VerifierKey) -> Result<Policy, PolicyError> {
        if log.sig_type() != SigType::Ed25519 {
            return Err(PolicyError::WrongLogKeyType {
                name: log.name().to_owned(),
                found: log.sig_type(),
            });
        }
        Ok(Policy {
            logs: vec![PolicyLog {
                key: log,
                url: None,
            }],
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: Quorum::None,
        })
    }

    /// The trusted logs.
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The trusted witnesses.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The groups, in definition order.
    pub fn groups(&self) -> &[PolicyGroup] {
        &self.groups
    }

    /// The quorum's name (`none` when no cosignature is required).
    pub fn quorum_name(&self) -> &str {
        match self.quorum {
            Quorum::None => "none",
            Quorum::Witness(w) => &self.witnesses[w].name,
            Quorum::Group(g) => &self.groups[g].name,
        }
    }

    /// Whether the witnesses named in `cosigners` (policy names of the
    /// witnesses whose cosignatures verified) satisfy the quorum.
    pub fn evaluate(&self, cosigners: &BTreeSet<String>) -> bool {
        let (witness_ok, group_ok) = self.satisfied(cosigners);
        match self.quorum {
            Quorum::None => true,
            Quorum::Witness(w) => witness_ok[w],
            Quorum::Group(g) => group_ok[g],
        }
    }

    /// Which witnesses and groups are satisfied. Groups only name earlier
    /// groups, so one pass in definition order settles them all.
    fn satisfied(&self, cosigners: &BTreeSet<String>) -> (Vec<bool>, Vec<bool>) {
        let witness_ok: Vec<bool> = self
            .witnesses
            .iter()
            .map(|w| cosigners.contains(&w.name))
            .collect();
        let mut group_ok: Vec<bool> = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            let met = g
                .resolved
                .iter()
                .filter(|m| match **m {
                    Member::Witness(w) => witness_ok[w],
                    Member::Group(h) => group_ok[h],
                })
                .count();
            group_ok.push(met >= g.required());
        }
        (witness_ok, group_ok)
    }

    /// A description of each witness or group under the quorum that
    /// `cosigners` leave unsatisfied, outermost first: what an operator needs
    /// to see when a checkpoint is refused.
    pub fn unmet(&self, cosigners: &BTreeSet<String>) -> Vec<String> {
        let (witness_ok, group_ok) = self.satisfied(cosigners);
        let mut out = Vec::new();
        let mut seen_groups = BTreeSet::new();
        let mut stack = match self.quorum {
            Quorum::None => return out,
            Quorum::Witness(w) => vec![Member::Witness(w)],
            Quorum::Group(g) => vec![Member::Group(g)],
        };
        while let Some(m) = stack.pop() {
            match m {
                Member::Witness(w) if !witness_ok[w] => {
                    out.push(format!("witness {} did not cosign", self.witnesses[w].name));
                }
                Member::Group(g) if !group_ok[g] && seen_groups.insert(g) => {
                    let group = &self.groups[g];
                    let met = group
                        .resolved
                        .iter()
                        .filter(|m| match **m {
                            Member::Witness(w) => witness_ok[w],
                            Member::Group(h) => group_ok[h],
                        })
                        .count();
                    out.push(format!(
                        "group {} has {met} of the {} members it needs",
                        group.name,
                        group.required()
                    ));
                    // Only groups are worth expanding: a missing witness is
                    // already counted in its group's line.
                    stack.extend(
                        group
                            .resolved
                            .iter()
                            .rev()
                            .filter(|m| matches!(m, Member::Group(_))),
                    );
                }
                _ => {}
            }
        }
        out
    }

    /// Verifies a signed checkpoint against the policy: the note must be
    /// signed by a policy log whose name is the checkpoint's origin, every
    /// signature by a policy key must verify, and the policy witnesses whose
    /// cosignatures verified must satisfy the quorum.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Note`] (malformed note, a failing signature, no
    /// trusted signature), [`PolicyError::Checkpoint`] (text not a
    /// checkpoint), [`PolicyError::UnknownLog`],
    /// [`PolicyError::MissingLogSignature`], [`PolicyError::QuorumNotMet`].
    pub fn check_checkpoint(&self, note_bytes: &[u8]) -> Result<VerifiedCheckpoint, PolicyError> {
        let note = Note::parse(note_bytes)?;
        // The origin picks which log keys to try; it is trusted only once one
        // of them has verified the text.
        let claimed = Checkpoint::parse(note.text())?;
        let logs: Vec<&VerifierKey> = self
            .logs
            .iter()
            .map(|l| &l.key)
            .filter(|k| k.name() == claimed.origin())
            .collect();
        if logs.is_empty() {
            return Err(PolicyError::UnknownLog {
                origin: claimed.origin().to_owned(),
                known: self.logs.iter().map(|l| l.key.name().to_owned()).collect(),
            });
        }
        let mut verifiers: Vec<&dyn NoteVerifier> = Vec::new();
        verifiers.extend(logs.iter().map(|k| *k as &dyn NoteVerifier));
        verifiers.extend(self.witnesses.iter().map(|w| &w.key as &dyn NoteVerifier));
        let verified = note.verify(&verifiers)?;

        let log = verified
            .verified()
            .iter()
            .find(|v| v.verifier_index() < logs.len())
            .map(|v| logs[v.verifier_index()].clone())
            .ok_or_else(|| PolicyError::MissingLogSignature {
                origin: claimed.origin().to_owned(),
            })?;
        let mut cosignatures = Vec::new();
        for v in verified.verified() {
            let Some(w) = v.verifier_index().checked_sub(logs.len()) else {
                continue;
            };
            // INVARIANT: the CosignatureVerifier accepted this signature, so
            // it is 72 bytes with a timestamp in range; a failure here would
            // be a bug, reported as a bad signature rather than a panic.
            let timestamp = cosignature_timestamp(v.signature().signature()).map_err(|_| {
                crate::note::NoteError::InvalidSignature {
                    name: v.name().to_owned(),
                    key_id: v.key_id(),
                }
            })?;
            cosignatures.push(WitnessCosignature {
                witness: self.witnesses[w].name.clone(),
                timestamp,
            });
        }
        let cosigners: BTreeSet<String> = cosignatures.iter().map(|c| c.witness.clone()).collect();
        if !self.evaluate(&cosigners) {
            return Err(PolicyError::QuorumNotMet {
                quorum: self.quorum_name().to_owned(),
                unmet: self.unmet(&cosigners),
                cosigned: cosigners.into_iter().collect(),
            });
        }
        Ok(VerifiedCheckpoint {
            checkpoint: claimed,
            note: verified,
            log,
            cosignatures,
        })
    }

    /// The policy in file form: logs, witnesses, groups, quorum. Parsing it
    /// gives back an equal policy.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for l in &self.logs {
            out.push_str(&format!("log {}", l.key));
            push_url(&mut out, l.url.as_deref());
        }
        for w in &self.witnesses {
            out.push_str(&format!("witness {} {}", w.name, w.key.verifier_key()));
            push_url(&mut out, w.url.as_deref());
        }
        for g in &self.groups {
            let k = match g.threshold {
                Threshold::All => "all".to_owned(),
                Threshold::Any => "any".to_owned(),
                Threshold::AtLeast(k) => k.to_string(),
            };
            out.push_str(&format!("group {} {k} {}\n", g.name, g.members.join(" ")));
        }
        out.push_str(&format!("quorum {}\n", self.quorum_name()));
        out
    }
}

fn push_url(out: &mut String, url: Option<&str>) {
    if let Some(url) = url {
        out.push(' ');
        out.push_str(url);
    }
    out.push('\n');
}

/// The file form, as [`Policy::to_text`].
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

//! The detectors that judge one recorded event on its own, by patterns of
//! the configuration: protected resources, privileged actions by an actor
//! never seen doing them, and watched actors outside their hours.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::config::{NewPrivilegedActorConfig, OffHoursConfig, ProtectedResourceConfig};
use crate::lru::Lru;
use crate::pattern::{Pattern, first_match};
use crate::{AlertKind, Candidate, Evidence, Outcome};

/// A recorded event, borrowed from its observation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event<'a> {
    pub submitter: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub resource_kind: &'a str,
    pub resource_id: &'a str,
    pub outcome: Outcome,
}

impl Event<'_> {
    /// The fields every alert about an event carries.
    fn evidence(&self) -> Map<String, Value> {
        let mut e = Map::new();
        e.insert("actor".into(), self.actor.into());
        e.insert("submitter".into(), self.submitter.into());
        e.insert("action".into(), self.action.into());
        e.insert(
            "resource".into(),
            format!("{}/{}", self.resource_kind, self.resource_id).into(),
        );
        e.insert("outcome".into(), self.outcome.as_str().into());
        e
    }
}

/// Any event on a resource whose `kind/id` matches a pattern (and, if
/// actions are listed, whose action matches one). Subject: the resource.
#[derive(Debug)]
pub(crate) struct Protected {
    resources: Vec<Pattern>,
    actions: Vec<Pattern>,
}

impl Protected {
    pub(crate) fn new(cfg: &ProtectedResourceConfig) -> Result<Protected, String> {
        Ok(Protected {
            resources: Pattern::list("protected_resource.resources", &cfg.resources)?,
            actions: Pattern::list("protected_resource.actions", &cfg.actions)?,
        })
    }

    pub(crate) fn observe<'a>(&mut self, ev: &Event<'a>, at_ms: u64) -> Option<Candidate<'a>> {
        if self.resources.is_empty() {
            return None;
        }
        let resource = format!("{}/{}", ev.resource_kind, ev.resource_id);
        let pattern = first_match(&self.resources, &resource)?;
        if !self.actions.is_empty() && first_match(&self.actions, ev.action).is_none() {
            return None;
        }
        let mut e = ev.evidence();
        e.insert("pattern".into(), pattern.as_str().into());
        Some(Candidate {
            kind: AlertKind::ProtectedResource,
            subject: Cow::Owned(resource),
            at_ms,
            observations: 1,
            evidence: Evidence::Map(e),
        })
    }
}

/// A privileged action (by pattern) by an actor not seen doing that very
/// action before: not in the bounded seen set, which the server seeds from
/// the log's index and which learns every privileged action that was not
/// denied (a denied attempt alerts again, after the cooldown). Subject:
/// the actor.
#[derive(Debug)]
pub(crate) struct NewPrivileged {
    actions: Vec<Pattern>,
    /// `actor \x1f action`.
    seen: Lru<String, ()>,
}

/// Joins an actor and an action into one key of the seen set (the unit
/// separator cannot be confused with either's characters in practice, and
/// a collision would only hide an alert about a name made to collide).
fn pair(actor: &str, action: &str) -> String {
    format!("{actor}\u{1f}{action}")
}

impl NewPrivileged {
    pub(crate) fn new(cfg: &NewPrivilegedActorConfig) -> Result<NewPrivileged, String> {
        Ok(NewPrivileged {
            actions: Pattern::list("new_privileged_actor.actions", &cfg.actions)?,
            seen: Lru::new(cfg.max_pairs),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    pub(crate) fn seed(&mut self, actor: &str, action: &str) {
        let key = pair(actor, action);
        self.seen.get_or_insert_with(&key, || (key.clone(), ()));
    }

    pub(crate) fn observe<'a>(&mut self, ev: &Event<'a>, at_ms: u64) -> Option<Candidate<'a>> {
        let pattern = first_match(&self.actions, ev.action)?;
        let key = pair(ev.actor, ev.action);
        if self.seen.get_mut(&key).is_some() {
            return None;
        }
        let mut e = ev.evidence();
        e.insert("pattern".into(), pattern.as_str().into());
        if ev.outcome != Outcome::Denied {
            self.seen.insert(key, ());
        }
        Some(Candidate {
            kind: AlertKind::NewPrivilegedActor,
            subject: Cow::Borrowed(ev.actor),
            at_ms,
            observations: 1,
            evidence: Evidence::Map(e),
        })
    }
}

const DAY_MS: i64 = 86_400_000;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Watched actors (by pattern) active outside the allowed local hours and
/// days. Subject: the actor.
#[derive(Debug)]
pub(crate) struct OffHours {
    actors: Vec<Pattern>,
    /// Minutes of the local day: allowed from `start`, up to `end`
    /// excluded; `end < start` wraps past midnight.
    start: u32,
    end: u32,
    /// Allowed days, Monday first: the day the hours start on.
    days: [bool; 7],
    offset_ms: i64,
    hours_text: String,
    days_text: Vec<String>,
    offset_text: String,
}

/// `HH:MM` as minutes; `24:00` only if `end`.
fn minutes(text: &str, end: bool) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if end => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

impl OffHours {
    pub(crate) fn new(cfg: &OffHoursConfig) -> Result<OffHours, String> {
        let actors = Pattern::list("off_hours.actors", &cfg.actors)?;
        let bad_hours = || {
            format!(
                "off_hours.hours: {:?} is not HH:MM-HH:MM (e.g. 08:00-18:00, 22:00-06:00, 00:00-24:00)",
                cfg.hours
            )
        };
        let (s, e) = cfg.hours.split_once('-').ok_or_else(bad_hours)?;
        let start = minutes(s.trim(), false).ok_or_else(bad_hours)?;
        let end = minutes(e.trim(), true).ok_or_else(bad_hours)?;
        if start == end {
            return Err(format!(
                "off_hours.hours: {:?} allows no time at all (all day is 00:00-24:00)",
                cfg.hours
            ));
        }
        let mut days = [false; 7];
        for (i, d) in cfg.days.iter().enumerate() {
            let lower = d.trim().to_ascii_lowercase();
            let pos = DAYS.iter().position(|n| lower == *n).ok_or_else(|| {
                format!(
                    "off_hours.days[{i}]: {d:?} is not one of {}",
                    DAYS.join(", ")
                )
            })?;
            days[pos] = true;
        }
        let offset_ms = offset(&cfg.utc_offset).ok_or_else(|| {
            format!(
                "off_hours.utc_offset: {:?} is not +HH:MM or -HH:MM (e.g. +01:00, -05:00)",
                cfg.utc_offset
            )
        })?;
        Ok(OffHours {
            actors,
            start,
            end,
            days,
            offset_ms,
            hours_text: cfg.hours.clone(),
            days_text: cfg.days.clone(),
            offset_text: cfg.utc_offset.clone(),
        })
    }

    /// Whether local minute `m` of a day with weekday `wd` (0: Monday) is
    /// allowed.
    fn allowed(&self, wd: usize, m: u32) -> bool {
        if self.start < self.end {
            self.days[wd] && (self.start..self.end).contains(&m)
        } else {
            (self.days[wd] && m >= self.start) || (self.days[(wd + 6) % 7] && m < self.end)
        }
    }

    pub(crate) fn observe<'a>(&mut self, ev: &Event<'a>, at_ms: u64) -> Option<Candidate<'a>> {
        if self.actors.is_empty() {
            return None;
        }
        let pattern = first_match(&self.actors, ev.actor)?;
        let local = i64::try_from(at_ms)
            .unwrap_or(i64::MAX)
            .saturating_add(self.offset_ms);
        let day = local.div_euclid(DAY_MS);
        // 1970-01-01 was a Thursday (3, counting from Monday).
        let wd = usize::try_from((day + 3).rem_euclid(7)).unwrap_or(0);
        let m = u32::try_from(local.rem_euclid(DAY_MS) / 60_000).unwrap_or(0);
        if self.allowed(wd, m) {
            return None;
        }
        let mut e = ev.evidence();
        e.insert("pattern".into(), pattern.as_str().into());
        e.insert(
            "local_time".into(),
            format!("{:02}:{:02}", m / 60, m % 60).into(),
        );
        e.insert("local_day".into(), DAYS[wd].into());
        e.insert("hours".into(), self.hours_text.clone().into());
        e.insert("days".into(), self.days_text.clone().into());
        e.insert("utc_offset".into(), self.offset_text.clone().into());
        Some(Candidate {
            kind: AlertKind::OffHours,
            subject: Cow::Borrowed(ev.actor),
            at_ms,
            observations: 1,
            evidence: Evidence::Map(e),
        })
    }
}

/// `+HH:MM` or `-HH:MM` as milliseconds east of UTC.
fn offset(text: &str) -> Option<i64> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let m = i64::from(minutes(text.get(1..)?, false)?);
    Some(sign * m * 60_000)
}

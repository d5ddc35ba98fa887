//! What a token may do on which log: roles on every log of the server, and
//! roles on named logs only (`append@tenant-a`).

use std::fmt;

use super::Role;

/// A set of roles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Roles(pub(super) u8);

impl Roles {
    /// Whether these roles allow what `role` allows.
    pub fn allows(self, role: Role) -> bool {
        let has = |r: Role| self.0 & r.bit() != 0;
        has(Role::Admin) || has(role) || (role == Role::Read && has(Role::Audit))
    }

    pub(super) fn add(&mut self, role: Role) {
        self.0 |= role.bit();
    }

    fn names(self) -> Vec<&'static str> {
        [Role::Append, Role::Read, Role::Audit, Role::Admin]
            .into_iter()
            .filter(|r| self.0 & r.bit() != 0)
            .map(Role::name)
            .collect()
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

/// The roles of one token: on every log of the server (a role written
/// without `@`), and on named logs (`role@log`).
///
/// A role on one log says nothing about any other: a token holding
/// `append@a` is denied on log `b` and on the default log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    everywhere: Roles,
    /// Sorted by name; each name once.
    per_log: Vec<(String, Roles)>,
}

impl Grants {
    /// Whether these grants allow `role` on the log named `log`.
    pub fn allows(&self, log: &str, role: Role) -> bool {
        self.everywhere.allows(role)
            || self
                .per_log
                .iter()
                .any(|(name, roles)| name == log && roles.allows(role))
    }

    /// Parses the roles field of a token file line: comma-separated
    /// `role` or `role@log`.
    ///
    /// # Errors
    ///
    /// A message naming the bad role or log name.
    pub(super) fn parse(field: &str) -> Result<Grants, String> {
        let mut g = Grants::default();
        for item in field.split(',') {
            let (role, log) = match item.split_once('@') {
                Some((r, l)) => (r, Some(l)),
                None => (item, None),
            };
            let role = Role::parse(role).ok_or_else(|| {
                format!(
                    "unknown role {role:?} (roles: append, read, audit, admin; a role on one \
                     log only is written role@log)"
                )
            })?;
            match log {
                None => g.everywhere.add(role),
                Some(name) => {
                    vellum_proto::check_log_name(name).map_err(|e| format!("{item:?}: {e}"))?;
                    match g.per_log.iter_mut().find(|(n, _)| n == name) {
                        Some((_, roles)) => roles.add(role),
                        None => {
                            let mut roles = Roles::default();
                            roles.add(role);
                            g.per_log.push((name.to_owned(), roles));
                        }
                    }
                }
            }
        }
        g.per_log.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(g)
    }
}

impl fmt::Display for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .everywhere
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        for (log, roles) in &self.per_log {
            parts.extend(roles.names().into_iter().map(|r| format!("{r}@{log}")));
        }
        f.write_str(&parts.join(","))
    }
}

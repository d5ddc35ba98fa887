//! The machinery shared by the configurations of Vellum's processes
//! (`vellum serve`, `vellum signer`, `vellum witness`): one type per
//! process that a TOML file, the environment and the command line's flags
//! fill, in that order of precedence. The keys themselves live with the
//! process they configure (`vellum_server::ServeConfig`,
//! `vellum_server::SignerServiceConfig`,
//! `vellum_witness::WitnessServiceConfig`); this crate knows none of them.
//!
//! A process's type implements [`Layered`]: its variables' prefix and one
//! value with every key set. The trait gives the rest:
//!
//! * the file: [`Layered::from_toml`]. Unknown keys are refused (the types
//!   are `deny_unknown_fields`), and every error names the key and its line.
//! * the environment: [`Layered::env_var`] names one variable per key,
//!   `<PREFIX><KEY>` with the dotted path in capitals and `_` for `.`; an
//!   empty variable counts as unset. [`Layered::load`] reads the file, then
//!   the environment over it.
//! * the flags: the CLI overlays them on what [`Layered::load`] returns.
//!
//! **Secrets.** `vellum config print` shows the effective configuration. A
//! field that ever holds a secret (a password, an inline token, a key's
//! bytes) must be marked `#[serde(serialize_with = "vellum_config::redact")]`
//! so that it is printed as [`REDACTED`].

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::Serializer;
use serde::de::DeserializeOwned;

/// What a redacted secret is printed as.
pub const REDACTED: &str = "<redacted>";

/// `#[serde(serialize_with = "redact")]`: a secret is never printed, only
/// whether it is set.
///
/// # Errors
///
/// The serializer's.
pub fn redact<T, S: Serializer>(_secret: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(REDACTED)
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not TOML, or a key is unknown or has a bad value.
    #[error("{file}:{line}: {}{message}", key_prefix(key))]
    File {
        /// The file's name, as given.
        file: String,
        /// The line (1-based) of the offending key or value; 0 if unknown.
        line: usize,
        /// The key's dotted path (empty for a syntax error).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// An environment variable has a bad value.
    #[error("{var} (key {key}): {message}")]
    Env {
        /// The variable.
        var: String,
        /// The key it sets.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The settings do not fit together, a required one is missing, or a
    /// file they name cannot be used.
    #[error("{0}")]
    Invalid(String),
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() || key == "." {
        String::new()
    } else {
        format!("{key}: ")
    }
}

/// A process's configuration: a TOML file, then the environment over it
/// (then, in the CLI, the flags over both).
///
/// Implementors are `#[serde(deny_unknown_fields, default)]` structs (and
/// so are their tables), so that a misspelt key is an error and an absent
/// one keeps its default.
pub trait Layered: Serialize + DeserializeOwned + Default {
    /// The prefix of every environment variable, its final `_` included:
    /// `VELLUM_` for `vellum serve`, `VELLUM_SIGNER_` for `vellum signer`.
    /// Prefixes are chosen so that no two processes share a variable (a
    /// test in `vellum-server` checks it).
    const ENV_PREFIX: &'static str;

    /// A value with every key set, optional ones too: the list of keys and
    /// their kinds is read off it. Write it as a struct literal without
    /// `..Default::default()`, so that a new field cannot be left out.
    fn every_key() -> Self;

    /// The environment variable of a dotted key: with the prefix
    /// `VELLUM_`, `limits.max_connections` is
    /// `VELLUM_LIMITS_MAX_CONNECTIONS`.
    fn env_var(key: &str) -> String {
        format!(
            "{}{}",
            Self::ENV_PREFIX,
            key.replace('.', "_").to_ascii_uppercase()
        )
    }

    /// Every key this type accepts, dotted (`log.pool.max_entries`), sorted.
    fn keys() -> BTreeSet<String> {
        schema::<Self>().into_iter().map(|(k, _)| k).collect()
    }

    /// Reads a TOML document; `file` names it in errors.
    ///
    /// # Errors
    ///
    /// [`ConfigError::File`] with the line and the key's path.
    fn from_toml(file: &str, text: &str) -> Result<Self, ConfigError> {
        let located = |e: &toml::de::Error, key: String| ConfigError::File {
            file: file.to_owned(),
            line: e.span().map_or(0, |s| line_of(text, s.start)),
            key,
            message: e.message().trim_end().to_owned(),
        };
        let de = toml::de::Deserializer::parse(text).map_err(|e| located(&e, String::new()))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            located(e.inner(), key)
        })
    }

    /// The file (if any), then the environment over it: `env` is asked for
    /// each key's variable (see [`Layered::env_var`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError`]: the file cannot be read or holds a bad key or value,
    /// or a variable has a bad value.
    fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let (mut table, typed) = match file {
            None => (toml::Table::new(), Self::default()),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                let typed = Self::from_toml(&path.display().to_string(), &text)?;
                let table: toml::Table = toml::from_str(&text)
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
                (table, typed)
            }
        };
        let mut from_env = Vec::new();
        for (key, kind) in schema::<Self>() {
            let var = Self::env_var(&key);
            let Some(raw) = env(&var).filter(|v| !v.is_empty()) else {
                continue;
            };
            let value = env_value(&raw, &kind).map_err(|message| ConfigError::Env {
                var: var.clone(),
                key: key.clone(),
                message,
            })?;
            insert(&mut table, &key, value);
            from_env.push((key, var));
        }
        if from_env.is_empty() {
            return Ok(typed);
        }
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = e.path().to_string();
            let var = from_env
                .iter()
                .find(|(k, _)| *k == key)
                .map_or_else(|| Self::env_var(&key), |(_, v)| v.clone());
            ConfigError::Env {
                var,
                key,
                message: e.inner().message().to_owned(),
            }
        })
    }

    /// `value`, or an error saying where the required `key` can be given:
    /// its `flag`, its variable, or the file.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when `value` is `None`.
    fn required<'a, V>(value: &'a Option<V>, key: &str, flag: &str) -> Result<&'a V, ConfigError> {
        value.as_ref().ok_or_else(|| {
            ConfigError::Invalid(format!(
                "{key} is not set: give {flag}, the variable {} or `{key}` in the --config file",
                Self::env_var(key)
            ))
        })
    }

    /// The configuration as TOML (what `vellum config print` shows).
    ///
    /// # Errors
    ///
    /// A value TOML cannot hold (a path that is not UTF-8).
    fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| ConfigError::Invalid(e.to_string()))
    }
}

/// The keys a reference document (`docs/CONFIG.md`) gives for one process:
/// the first code span of each table row (`| \`key\` | ...`) between the
/// line `heading` and the next `## ` heading. Empty if `heading` is not
/// there.
pub fn documented_keys(doc: &str, heading: &str) -> BTreeSet<String> {
    doc.lines()
        .skip_while(|l| l.trim_end() != heading)
        .skip(1)
        .take_while(|l| !l.starts_with("## ") && !l.starts_with("# "))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

/// Checks that the section `heading` of a reference document lists exactly
/// the keys `T` accepts.
///
/// # Errors
///
/// A message naming the undocumented keys and the documented keys `T` does
/// not accept.
pub fn check_reference<T: Layered>(doc: &str, heading: &str) -> Result<(), String> {
    let documented = documented_keys(doc, heading);
    let accepted = T::keys();
    let missing: Vec<_> = accepted.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&accepted).collect();
    if missing.is_empty() && extra.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "section {heading:?}: undocumented keys {missing:?}, unknown keys {extra:?}"
        ))
    }
}

/// Every key with a value of its kind, from [`Layered::every_key`].
fn schema<T: Layered>() -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    // Every field serializes (paths in every_key are UTF-8), so the
    // fallback, an empty table, is never taken.
    let table = toml::Table::try_from(T::every_key()).unwrap_or_default();
    leaves("", &table, &mut out);
    out
}

fn leaves(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => leaves(&key, t, out),
            other => out.push((key, other.clone())),
        }
    }
}

/// An environment variable's text as a value of the key's kind.
fn env_value(raw: &str, kind: &toml::Value) -> Result<toml::Value, String> {
    match kind {
        toml::Value::Integer(_) => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("{raw:?} is not a whole number")),
        toml::Value::Boolean(_) => match raw.trim() {
            "true" | "1" => Ok(toml::Value::Boolean(true)),
            "false" | "0" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("{raw:?} is not true or false")),
        },
        _ => Ok(toml::Value::String(raw.to_owned())),
    }
}

fn insert(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut t = table;
    for p in parts {
        let entry = t
            .entry(p.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        t = next;
    }
    t.insert(last.to_owned(), value);
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests;

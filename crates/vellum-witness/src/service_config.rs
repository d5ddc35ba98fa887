//! The configuration of the `vellum witness` process: where its trusted-log
//! file, state and key are, and where it listens. Not to be confused with
//! [`config`](crate::config), the trusted-log file's contents.
//!
//! Keys: `logs`, `state`, `key`, `listen` (docs/CONFIG.md, "`vellum
//! witness`"). Variables: `VELLUM_WITNESS_<KEY>` (`VELLUM_WITNESS_LOGS`,
//! ...), apart from `vellum serve`'s `VELLUM_<SECTION>_<KEY>` (its
//! witnesses are `VELLUM_LOG_WITNESSES_*`).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use vellum_config::{ConfigError, Layered};

/// The default listen address of `vellum witness`.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    6965,
));

/// The configuration of `vellum witness`. Every key is optional in a file
/// (the environment or a flag may give it); [`WitnessServiceConfig::to_run`]
/// says which ones a run needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WitnessServiceConfig {
    /// The trusted logs: a C2SP tlog-policy file of `log <vkey>` lines.
    /// Flag `--logs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<PathBuf>,
    /// The state folder (created if missing). Flag `--state`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<PathBuf>,
    /// The witness's private key (type 0x04, mode 0600). Flag `--key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// The HTTP listen address. Flag `--listen`.
    pub listen: SocketAddr,
}

impl Default for WitnessServiceConfig {
    fn default() -> Self {
        WitnessServiceConfig {
            logs: None,
            state: None,
            key: None,
            listen: DEFAULT_LISTEN,
        }
    }
}

impl Layered for WitnessServiceConfig {
    /// `VELLUM_WITNESS_LOGS`, `VELLUM_WITNESS_STATE`, ...
    const ENV_PREFIX: &'static str = "VELLUM_WITNESS_";

    fn every_key() -> WitnessServiceConfig {
        WitnessServiceConfig {
            logs: Some(PathBuf::from("logs.policy")),
            state: Some(PathBuf::from("witness-state")),
            key: Some(PathBuf::from("witness.key")),
            listen: DEFAULT_LISTEN,
        }
    }
}

/// What a witness run needs, all of it given; `key` only to serve.
#[derive(Clone, Debug, PartialEq)]
pub struct WitnessSettings {
    /// The trusted-log file.
    pub logs: PathBuf,
    /// The state folder.
    pub state: PathBuf,
    /// The private key file (`None`: listing only).
    pub key: Option<PathBuf>,
    /// The HTTP listen address.
    pub listen: SocketAddr,
}

impl WitnessServiceConfig {
    /// The settings of a run: `logs` and `state` always, `key` to serve
    /// (`serving`), not to list.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the first key missing, with its flag
    /// and variable.
    pub fn to_run(&self, serving: bool) -> Result<WitnessSettings, ConfigError> {
        let logs = Self::required(&self.logs, "logs", "--logs")?.clone();
        let state = Self::required(&self.state, "state", "--state")?.clone();
        let key = if serving {
            Some(Self::required(&self.key, "key", "--key")?.clone())
        } else {
            None
        };
        Ok(WitnessSettings {
            logs,
            state,
            key,
            listen: self.listen,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_file_then_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("witness.toml");
        std::fs::write(
            &path,
            "logs = \"file-logs\"\nstate = \"file-state\"\nlisten = \"127.0.0.1:7000\"\n",
        )
        .unwrap();
        let env = env_of(&[
            ("VELLUM_WITNESS_STATE", "env-state"),
            ("VELLUM_WITNESS_KEY", "w.key"),
            // serve's witness settings are not this process's.
            ("VELLUM_LOG_WITNESSES_TIMEOUT", "x"),
        ]);
        let c = WitnessServiceConfig::load(Some(&path), env).unwrap();
        assert_eq!(c.logs, Some(PathBuf::from("file-logs")));
        assert_eq!(c.state, Some(PathBuf::from("env-state")));
        assert_eq!(c.key, Some(PathBuf::from("w.key")));
        assert_eq!(c.listen.port(), 7000);
        let run = c.to_run(true).unwrap();
        assert_eq!(run.key, Some(PathBuf::from("w.key")));
        let e = WitnessServiceConfig::load(None, env_of(&[("VELLUM_WITNESS_LISTEN", "here")]))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("VELLUM_WITNESS_LISTEN (key listen): "),
            "{e}"
        );
    }

    #[test]
    fn the_default_listens_where_it_always_did() {
        let c = WitnessServiceConfig::load(None, |_| None).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:6965");
        let e = c.to_run(false).unwrap_err().to_string();
        assert!(
            e.contains("logs is not set")
                && e.contains("--logs")
                && e.contains("VELLUM_WITNESS_LOGS"),
            "{e}"
        );
        let c = WitnessServiceConfig {
            logs: Some("l".into()),
            state: Some("s".into()),
            ..WitnessServiceConfig::default()
        };
        assert_eq!(c.to_run(false).unwrap().key, None, "listing needs no key");
        assert!(c.to_run(true).unwrap_err().to_string().contains("--key"));
    }

    #[test]
    fn a_bad_key_is_named_with_its_line() {
        let e = WitnessServiceConfig::from_toml("w.toml", "logs = \"l\"\n\nstat = \"s\"\n")
            .unwrap_err();
        assert!(e.to_string().starts_with("w.toml:3: "), "{e}");
        assert!(e.to_string().contains("stat"), "{e}");
        let full = WitnessServiceConfig::every_key();
        let printed = full.to_toml().unwrap();
        assert_eq!(
            WitnessServiceConfig::from_toml("p", &printed).unwrap(),
            full
        );
    }

    #[test]
    fn the_reference_documents_exactly_the_keys() {
        let doc = include_str!("../../../docs/CONFIG.md");
        vellum_config::check_reference::<WitnessServiceConfig>(doc, "## `vellum witness`").unwrap();
    }

    #[test]
    fn the_example_is_valid() {
        let text = include_str!("../../../examples/witness.toml");
        let c = WitnessServiceConfig::from_toml("examples/witness.toml", text).unwrap();
        let run = c.to_run(true).unwrap();
        assert_eq!(run.listen, DEFAULT_LISTEN);
        assert_eq!(run.logs, PathBuf::from("witness-logs"));
    }
}

//! The configuration of the `vellum witness` process: where its trusted-log
//! file, state and key are, and where it listens. Not to be confused with
//! [`config`](crate::config), the trusted-log file's contents.
//!
//! Keys: `logs`, `state`, `key`, `listen`, `insecure_remote`, `[tls]`
//! `cert`, `key`, `[auth]` `tokens` (docs/CONFIG.md, "`vellum witness`"). Variables: `VELLUM_WITNESS_<KEY>` (`VELLUM_WITNESS_LOGS`,
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
    /// Listen beyond loopback without TLS or authentication. Flag
    /// `--insecure-remote`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_remote: bool,
    /// `[tls]`: serve HTTPS.
    #[serde(skip_serializing_if = "is_default")]
    pub tls: WitnessTlsConfig,
    /// `[auth]`: who may ask for cosignatures.
    #[serde(skip_serializing_if = "is_default")]
    pub auth: WitnessAuthConfig,
}

/// Whether `v` is its type's default (an unset table is not printed).
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// `[tls]` of `vellum witness`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WitnessTlsConfig {
    /// PEM certificate chain. Flag `--tls-cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert` (mode 0600). Flag `--tls-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

/// `[auth]` of `vellum witness`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WitnessAuthConfig {
    /// The token file (see [`crate::auth`]). Flag `--auth`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<PathBuf>,
}

impl Default for WitnessServiceConfig {
    fn default() -> Self {
        WitnessServiceConfig {
            logs: None,
            state: None,
            key: None,
            listen: DEFAULT_LISTEN,
            insecure_remote: false,
            tls: WitnessTlsConfig::default(),
            auth: WitnessAuthConfig::default(),
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
            insecure_remote: true,
            tls: WitnessTlsConfig {
                cert: Some(PathBuf::from("witness.pem")),
                key: Some(PathBuf::from("witness-tls.key")),
            },
            auth: WitnessAuthConfig {
                tokens: Some(PathBuf::from("witness.tokens")),
            },
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
    /// The TLS certificate chain and key files; `None`: plain HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The token file `POST /add-checkpoint` needs; `None`: none needed.
    pub tokens: Option<PathBuf>,
    /// Listen beyond loopback without TLS or tokens (loudly logged).
    pub insecure_remote: bool,
}

impl WitnessSettings {
    /// Checks that the witness may serve where it is asked to: beyond
    /// loopback only with TLS and a token file, unless
    /// [`WitnessSettings::insecure_remote`]; then the returned warning says
    /// what is missing.
    ///
    /// # Errors
    ///
    /// A message naming the address, what is missing and the flags that
    /// add it.
    pub fn check_safety(&self) -> Result<Option<String>, String> {
        let mut missing = Vec::new();
        if self.tls.is_none() {
            missing.push("TLS (--tls-cert FILE --tls-key FILE)");
        }
        if self.tokens.is_none() {
            missing.push("authentication (--auth TOKENFILE)");
        }
        if self.listen.ip().is_loopback() || missing.is_empty() {
            return Ok(None);
        }
        let missing = missing.join(" and ");
        if !self.insecure_remote {
            return Err(format!(
                "refusing to serve the witness on {} without {missing}: anyone who can reach it \
                 could spend its work and fill its logs, and anyone on the path could read or \
                 change its answers and tokens. Add {missing}, listen on 127.0.0.1, or pass \
                 --insecure-remote to accept the risk (never in production)",
                self.listen
            ));
        }
        Ok(Some(format!(
            "INSECURE (--insecure-remote): serving the witness on {} without {missing}. Never in \
             production.",
            self.listen
        )))
    }
}

impl WitnessServiceConfig {
    /// The settings of a run: `logs` and `state` always, `key` to serve
    /// (`serving`), not to list.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the first key missing, with its flag
    /// and variable, or a TLS certificate without its key.
    pub fn to_run(&self, serving: bool) -> Result<WitnessSettings, ConfigError> {
        let logs = Self::required(&self.logs, "logs", "--logs")?.clone();
        let state = Self::required(&self.state, "state", "--state")?.clone();
        let key = if serving {
            Some(Self::required(&self.key, "key", "--key")?.clone())
        } else {
            None
        };
        let tls = match (&self.tls.cert, &self.tls.key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "tls.cert (--tls-cert) and tls.key (--tls-key) go together".into(),
                ));
            }
        };
        Ok(WitnessSettings {
            logs,
            state,
            key,
            listen: self.listen,
            tls,
            tokens: self.auth.tokens.clone(),
            insecure_remote: self.insecure_remote,
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
    fn beyond_loopback_needs_tls_and_tokens_or_insecure_remote() {
        let mut s = WitnessServiceConfig {
            logs: Some("l".into()),
            state: Some("s".into()),
            key: Some("k".into()),
            ..WitnessServiceConfig::default()
        }
        .to_run(true)
        .unwrap();
        assert_eq!(s.check_safety(), Ok(None), "loopback: nothing to add");
        s.listen = "0.0.0.0:7001".parse().unwrap();
        let e = s.check_safety().unwrap_err();
        assert!(
            e.starts_with("refusing to serve the witness on 0.0.0.0:7001 without TLS")
                && e.contains("--tls-cert FILE --tls-key FILE")
                && e.contains("--auth TOKENFILE")
                && e.contains("--insecure-remote"),
            "{e}"
        );
        s.tls = Some(("c".into(), "k".into()));
        let e = s.check_safety().unwrap_err();
        assert!(e.contains("without authentication (--auth"), "{e}");
        s.tokens = Some("t".into());
        assert_eq!(s.check_safety(), Ok(None));
        s.tls = None;
        s.insecure_remote = true;
        let w = s.check_safety().unwrap().unwrap();
        assert!(w.starts_with("INSECURE") && w.contains("TLS"), "{w}");
        let half = WitnessServiceConfig {
            logs: Some("l".into()),
            state: Some("s".into()),
            tls: WitnessTlsConfig {
                cert: Some("c".into()),
                key: None,
            },
            ..WitnessServiceConfig::default()
        };
        assert!(
            half.to_run(false)
                .unwrap_err()
                .to_string()
                .contains("go together")
        );
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

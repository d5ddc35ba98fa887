#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use vellum_log::LogConfig;

use super::*;
use crate::limits::Limits;

fn no_env(_: &str) -> Option<String> {
    None
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("vellum.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_default_is_the_embedded_deployment() {
    let o = ServeConfig::default().to_options().unwrap();
    let e = ServeOptions::embedded();
    assert_eq!(o.data, e.data);
    assert_eq!(o.listen, e.listen);
    assert_eq!(o.http, None);
    assert!(!o.insecure_remote && o.tls.is_none() && o.access.is_none());
    assert_eq!(o.witness_timeout, e.witness_timeout);
    assert!(o.publish_below_policy);
    assert!(o.export.is_none() && o.signer.is_none() && o.vkey.is_none());
    let d = Limits::default();
    assert_eq!(o.limits.max_message_bytes, d.max_message_bytes);
    assert_eq!(o.limits.max_connections, d.max_connections);
    assert_eq!(o.limits.idle_timeout, d.idle_timeout);
    // The tuning, applied, gives the log's own defaults.
    let mut applied = LogConfig::new("x");
    o.tuning.apply(&mut applied);
    let plain = LogConfig::new("x");
    assert_eq!(applied.pool_max_entries, plain.pool_max_entries);
    assert_eq!(applied.pool_max_delay, plain.pool_max_delay);
    assert_eq!(applied.queue_max_entries, plain.queue_max_entries);
    assert_eq!(applied.queue_max_bytes, plain.queue_max_bytes);
    assert_eq!(applied.max_queue_delay, plain.max_queue_delay);
    assert_eq!(applied.max_entries_per_call, plain.max_entries_per_call);
    assert_eq!(applied.max_entry_size, plain.max_entry_size);
}

#[test]
fn a_file_sets_what_it_names() {
    let text = "data = \"d\"\n\n[listen]\ngrpc = \"127.0.0.1:0\"\n\n[limits]\nmax_connections = 7\nrequest_timeout = \"2s\"\n\n[log.pool]\nmax_delay = \"500us\"\n\n[log.export]\nfolder = \"tiles\"\ninterval = \"5m\"\n";
    let c = ServeConfig::from_toml("f", text).unwrap();
    assert_eq!(c.data, PathBuf::from("d"));
    assert_eq!(c.listen.grpc.port(), 0);
    assert_eq!(c.limits.max_connections, 7);
    assert_eq!(c.limits.request_timeout, Duration::from_secs(2));
    assert_eq!(c.log.pool.max_delay, Duration::from_micros(500));
    // Unnamed keys keep their defaults.
    assert_eq!(
        c.limits.max_message_bytes,
        Limits::default().max_message_bytes
    );
    let o = c.to_options().unwrap();
    let export = o.export.unwrap();
    assert_eq!(export.out, PathBuf::from("tiles"));
    assert_eq!(export.interval, Duration::from_secs(300));
    assert_eq!(o.tuning.pool_max_delay, Some(Duration::from_micros(500)));
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let text = "data = \"d\"\n\n[limits]\nmax_connections = 7\nmax_conections = 8\n";
    let e = ServeConfig::from_toml("vellum.toml", text).unwrap_err();
    let ConfigError::File { line, ref key, .. } = e else {
        panic!("{e:?}")
    };
    assert_eq!(line, 5, "{e}");
    assert!(key.starts_with("limits"), "{key}");
    let shown = e.to_string();
    assert!(shown.starts_with("vellum.toml:5: "), "{shown}");
    assert!(shown.contains("max_conections"), "{shown}");
}

#[test]
fn a_bad_value_is_named_with_its_key_and_line() {
    let text = "[log]\n[log.queue]\nmax_entries = 3\nmax_delay = \"10\"\n";
    let e = ServeConfig::from_toml("f", text).unwrap_err();
    let shown = e.to_string();
    assert!(shown.starts_with("f:4: log.queue.max_delay: "), "{shown}");
    assert!(shown.contains("no unit"), "{shown}");
    let e = ServeConfig::from_toml("f", "[listen]\ngrpc = 5\n").unwrap_err();
    assert!(e.to_string().starts_with("f:2: listen.grpc: "), "{e}");
    let e = ServeConfig::from_toml("f", "data = \n").unwrap_err();
    assert!(e.to_string().starts_with("f:1: "), "{e}");
}

#[test]
fn the_environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "data = \"from-file\"\n[limits]\nmax_connections = 7\nidle_timeout = \"1s\"\n",
    );
    let env = env_of(&[
        ("VELLUM_LIMITS_MAX_CONNECTIONS", "9"),
        ("VELLUM_SIGNER_STATE", "mem"),
        ("VELLUM_LISTEN_INSECURE_REMOTE", "true"),
        ("VELLUM_LOG_WITNESSES_TIMEOUT", "3s"),
        ("VELLUM_ORIGIN", ""),
    ]);
    let c = ServeConfig::load(Some(&path), env).unwrap();
    assert_eq!(c.data, PathBuf::from("from-file"));
    assert_eq!(c.limits.max_connections, 9);
    assert_eq!(c.limits.idle_timeout, Duration::from_secs(1));
    assert_eq!(c.signer_state, Some(PathBuf::from("mem")));
    assert!(c.listen.insecure_remote);
    assert_eq!(c.log.witnesses.timeout, Duration::from_secs(3));
    assert_eq!(c.origin, None, "an empty variable is unset");
    // Without a file, the environment over the defaults.
    let c = ServeConfig::load(None, env_of(&[("VELLUM_DATA", "d")])).unwrap();
    assert_eq!(c.data, PathBuf::from("d"));
    assert_eq!(
        ServeConfig::load(None, no_env).unwrap(),
        ServeConfig::default()
    );
}

#[test]
fn a_bad_variable_is_named() {
    for (var, value) in [
        ("VELLUM_LIMITS_MAX_CONNECTIONS", "many"),
        ("VELLUM_LIMITS_REQUEST_TIMEOUT", "10"),
        ("VELLUM_LISTEN_GRPC", "nowhere"),
    ] {
        let e = ServeConfig::load(None, env_of(&[(var, value)])).unwrap_err();
        let ConfigError::Env { var: named, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(named, var, "{e}");
    }
}

#[test]
fn a_file_that_cannot_be_read_is_named() {
    let e = ServeConfig::load(Some(Path::new("no/such/vellum.toml")), no_env).unwrap_err();
    assert!(e.to_string().contains("no/such/vellum.toml"), "{e}");
}

#[test]
fn every_key_round_trips_through_toml() {
    let full = ServeConfig::every_key();
    let text = full.to_toml().unwrap();
    assert_eq!(ServeConfig::from_toml("printed", &text).unwrap(), full);
    let default = ServeConfig::default();
    let text = default.to_toml().unwrap();
    assert_eq!(ServeConfig::from_toml("printed", &text).unwrap(), default);
}

#[test]
fn every_key_has_its_own_variable() {
    let keys = ServeConfig::keys();
    assert!(keys.contains("log.pool.max_entries"));
    assert!(keys.contains("signer_state"));
    let vars: BTreeSet<String> = keys.iter().map(|k| ServeConfig::env_var(k)).collect();
    assert_eq!(vars.len(), keys.len());
    assert!(vars.contains("VELLUM_SIGNER_STATE"));
    assert!(vars.contains("VELLUM_LIMITS_MAX_CONNECTIONS"));
    // VELLUM_LOG is the tracing filter, VELLUM_LOG_FORMAT the format of
    // the log lines (`--log-format`); no key may take them.
    assert!(!vars.contains("VELLUM_LOG"));
    assert!(!vars.contains("VELLUM_LOG_FORMAT"));
}

#[test]
fn settings_that_need_each_other_are_checked() {
    let mut c = ServeConfig::default();
    c.tls.cert = Some("c.pem".into());
    assert!(c.validate().unwrap_err().to_string().contains("tls.key"));
    let mut c = ServeConfig::default();
    c.tls.client_ca = Some("ca.pem".into());
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("tls.client_ca")
    );
    let mut c = ServeConfig::default();
    c.log.signer.vkey = Some("not a vkey".into());
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("log.signer.vkey")
    );
    let mut c = ServeConfig::default();
    c.auth.tokens = Some("no/such/tokens".into());
    assert!(
        c.to_options()
            .unwrap_err()
            .to_string()
            .contains("auth.tokens")
    );
}

#[test]
fn a_redacted_field_never_shows_its_value() {
    #[derive(Serialize)]
    struct WithSecret {
        name: String,
        #[serde(serialize_with = "redact")]
        token: String,
    }
    let text = toml::to_string(&WithSecret {
        name: "visible".into(),
        token: "s3cret-token".into(),
    })
    .unwrap();
    assert!(text.contains("visible"), "{text}");
    assert!(text.contains(REDACTED), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

const REFERENCE: &str = include_str!("../../../../docs/CONFIG.md");

#[test]
fn the_reference_documents_exactly_the_keys() {
    vellum_config::check_reference::<ServeConfig>(REFERENCE, "## `vellum serve`").unwrap();
    vellum_config::check_reference::<SignerServiceConfig>(REFERENCE, "## `vellum signer`").unwrap();
}

#[test]
fn the_example_starts_the_default_log() {
    let text = include_str!("../../../../examples/vellum.toml");
    let c = ServeConfig::from_toml("examples/vellum.toml", text).unwrap();
    let o = c.to_options().unwrap();
    let e = ServeOptions::embedded();
    assert_eq!(o.data, e.data);
    assert_eq!(o.listen, e.listen);
    assert_eq!(c, ServeConfig::default());
}

#[test]
fn the_signer_takes_its_own_variables() {
    let keys: Vec<String> = SignerServiceConfig::keys().into_iter().collect();
    assert_eq!(
        keys,
        [
            "insecure_remote",
            "journal",
            "key",
            "listen",
            "tls.cert",
            "tls.client_ca",
            "tls.key"
        ]
    );
    let c = SignerServiceConfig::load(
        None,
        env_of(&[
            ("VELLUM_SIGNER_JOURNAL", "j"),
            ("VELLUM_SIGNER_LISTEN", "unix:s.sock"),
            // serve's variables are not the signer's.
            ("VELLUM_KEY", "serve.key"),
            ("VELLUM_SIGNER_STATE", "mem"),
        ]),
    )
    .unwrap();
    assert_eq!(c.journal, Some(PathBuf::from("j")));
    assert_eq!(c.listen, Some(SignerAddr::Unix(PathBuf::from("s.sock"))));
    assert_eq!(c.key, None);
    let e = c.to_serve().unwrap_err().to_string();
    assert!(
        e.contains("key is not set") && e.contains("--key") && e.contains("VELLUM_SIGNER_KEY"),
        "{e}"
    );
    let e =
        SignerServiceConfig::load(None, env_of(&[("VELLUM_SIGNER_LISTEN", "tcp:1")])).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("VELLUM_SIGNER_LISTEN (key listen): "),
        "{e}"
    );
}

#[test]
fn a_signer_file_is_checked_like_serves() {
    let e =
        SignerServiceConfig::from_toml("s.toml", "journal = \"j\"\njournl = \"k\"\n").unwrap_err();
    assert!(e.to_string().starts_with("s.toml:2: "), "{e}");
    assert!(e.to_string().contains("journl"), "{e}");
    let e = SignerServiceConfig::from_toml("s.toml", "\nlisten = \"nowhere\"\n").unwrap_err();
    assert!(e.to_string().starts_with("s.toml:2: listen: "), "{e}");
    let full = SignerServiceConfig::every_key();
    let printed = full.to_toml().unwrap();
    assert_eq!(SignerServiceConfig::from_toml("p", &printed).unwrap(), full);
    assert_eq!(
        full.to_serve().unwrap().listen.to_string(),
        "https://127.0.0.1:6966"
    );
}

#[test]
fn the_signer_example_is_valid() {
    let text = include_str!("../../../../examples/signer.toml");
    let c = SignerServiceConfig::from_toml("examples/signer.toml", text).unwrap();
    let s = c.to_serve().unwrap();
    assert_eq!(s.journal, PathBuf::from("signer-journal"));
    assert!(matches!(s.listen, SignerAddr::Unix(_)), "{s:?}");
}

/// The three processes' variables never meet: one environment can hold a
/// log's, a signer's and a witness's settings. `VELLUM_LOG` stays the
/// tracing filter, `VELLUM_LOG_FORMAT` the format of the log lines.
#[test]
fn no_two_processes_share_a_variable() {
    fn vars<T: Layered>() -> BTreeSet<String> {
        T::keys().iter().map(|k| T::env_var(k)).collect()
    }
    let serve = vars::<ServeConfig>();
    let signer = vars::<SignerServiceConfig>();
    let witness = vars::<vellum_witness::WitnessServiceConfig>();
    assert!(serve.is_disjoint(&signer), "{serve:?} {signer:?}");
    assert!(serve.is_disjoint(&witness), "{serve:?} {witness:?}");
    assert!(signer.is_disjoint(&witness), "{signer:?} {witness:?}");
    // Nor can a future serve key take the others' prefixes.
    for key in ServeConfig::keys() {
        assert!(
            !key.starts_with("signer.") && !key.starts_with("witness."),
            "{key}"
        );
    }
    for all in [&serve, &signer, &witness] {
        assert!(!all.contains("VELLUM_LOG"));
        assert!(!all.contains("VELLUM_LOG_FORMAT"));
    }
}

fn signer_config(listen: &str) -> SignerServiceConfig {
    SignerServiceConfig {
        journal: Some("j".into()),
        key: Some("k".into()),
        listen: Some(listen.parse().unwrap()),
        ..SignerServiceConfig::default()
    }
}

#[test]
fn a_signer_beyond_loopback_needs_mutual_tls_or_insecure_remote() {
    // Loopback and Unix sockets need nothing more.
    for local in [
        "unix:s.sock",
        "http://127.0.0.1:1",
        "http://[::1]:1",
        "http://localhost:1",
    ] {
        let s = signer_config(local).to_serve().unwrap();
        assert_eq!(s.check_safety(), Ok(None), "{local}");
    }
    let s = signer_config("http://0.0.0.0:6966").to_serve().unwrap();
    let e = s.check_safety().unwrap_err();
    assert!(
        e.starts_with("refusing to serve the signer on http://0.0.0.0:6966 without mutual TLS")
            && e.contains("--tls-client-ca FILE")
            && e.contains("--insecure-remote"),
        "{e}"
    );
    // A host name is not known to stay on this machine.
    assert!(
        signer_config("http://signer.internal:1")
            .to_serve()
            .unwrap()
            .check_safety()
            .is_err()
    );
    let mut c = signer_config("https://0.0.0.0:6966");
    c.tls.cert = Some("c.pem".into());
    c.tls.key = Some("c.key".into());
    let e = c.to_serve().unwrap().check_safety().unwrap_err();
    assert!(
        e.contains("without client authentication (--tls-client-ca"),
        "{e}"
    );
    c.tls.client_ca = Some("ca.pem".into());
    assert_eq!(c.to_serve().unwrap().check_safety(), Ok(None));
    let mut open = signer_config("http://0.0.0.0:6966");
    open.insecure_remote = true;
    let w = open.to_serve().unwrap().check_safety().unwrap().unwrap();
    assert!(w.starts_with("INSECURE (--insecure-remote)"), "{w}");
}

#[test]
fn signer_tls_settings_must_fit_the_address() {
    let mut c = signer_config("https://127.0.0.1:1");
    let e = c.to_serve().unwrap_err().to_string();
    assert!(e.contains("https:// listen address needs tls.cert"), "{e}");
    c.tls.cert = Some("c.pem".into());
    let e = c.to_serve().unwrap_err().to_string();
    assert!(e.contains("go together"), "{e}");
    c.tls.key = Some("c.key".into());
    c.listen = Some("http://127.0.0.1:1".parse().unwrap());
    let e = c.to_serve().unwrap_err().to_string();
    assert!(e.contains("need an https:// listen address"), "{e}");
    let mut c = signer_config("unix:s");
    c.tls.client_ca = Some("ca.pem".into());
    let e = c.to_serve().unwrap_err().to_string();
    assert!(e.contains("needs tls.cert and tls.key"), "{e}");
}

#[test]
fn the_log_side_signer_tls_needs_an_https_signer() {
    let mut c = ServeConfig::default();
    c.log.signer.remote = Some("unix:s.sock".parse().unwrap());
    c.log.signer.tls_ca = Some("ca.pem".into());
    let e = c.to_options().unwrap_err().to_string();
    assert!(
        e.contains("log.signer.tls_*") && e.contains("https://"),
        "{e}"
    );
    c.log.signer.remote = Some("https://signer.example:6966".parse().unwrap());
    c.log.signer.tls_cert = Some("log.pem".into());
    let e = c.to_options().unwrap_err().to_string();
    assert!(e.contains("go together"), "{e}");
    c.log.signer.tls_key = Some("log.key".into());
    let o = c.to_options().unwrap();
    assert!(o.signer_tls.has_identity());
    assert_eq!(o.signer_tls.ca, Some(PathBuf::from("ca.pem")));
}

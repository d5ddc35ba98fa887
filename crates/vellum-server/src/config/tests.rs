#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::collections::{BTreeSet, HashMap};

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
    // VELLUM_LOG is the tracing filter; no key may take it.
    assert!(!vars.contains("VELLUM_LOG"));
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

/// The keys `docs/CONFIG.md` documents: the first code span of each table
/// row.
fn documented_keys(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_reference_documents_exactly_the_keys() {
    let doc = include_str!("../../../../docs/CONFIG.md");
    let documented = documented_keys(doc);
    let accepted = ServeConfig::keys();
    let missing: Vec<_> = accepted.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&accepted).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/CONFIG.md: undocumented keys {missing:?}, unknown keys {extra:?}"
    );
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

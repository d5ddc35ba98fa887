//! `vellum doctor`: what in a deployment's configuration could let the log
//! be changed, rolled back or read by someone it should not be, said before
//! it happens. Each finding names the check, how bad it is, and what to do.
//!
//! Checks so far:
//!
//! - `rollback`: a log that signs in-process with no witness and no
//!   publication has one memory of what it signed, on the same machine as
//!   its data. Whoever can restore that machine can roll the log back
//!   unseen by anyone but clients holding a trusted checkpoint. A warning
//!   on loopback (a demo, a test), an error for a log others reach.
//! - `signer-state`: the embedded signer's memory must be outside the data
//!   folder (else a restore rewinds it) and readable by its owner only.
//! - `listeners`: a listener beyond loopback without TLS and authentication
//!   (what `vellum serve` refuses, unless `--insecure-remote`).
//! - `signer-transport`: a remote signer reached beyond loopback over plain
//!   `http://`, or over `https://` without a client certificate: such a
//!   signer lets others in (it is run `--insecure-remote`), and whoever
//!   reaches it can have it sign a tree of their own.
//! - `witness-transport`: a witness reached beyond loopback over plain
//!   `http://` (an error: the witness runs `--insecure-remote`, and its
//!   answers and any token travel in the clear), or over `https://`
//!   without a token for it (a warning: it serves anyone, or will refuse
//!   the log).
//!
//! Doctor sees the log's configuration only; `vellum signer` and `vellum
//! witness` refuse an unsafe listener themselves at start.

use std::os::unix::fs::PermissionsExt;

use crate::embedded::{Layout, is_inside};
use crate::grpc::signer::url_host_is_loopback;
use crate::run::{NamedLog, ServeOptions, check_safety};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Nothing to do.
    Ok,
    /// Acceptable for a demo or a test; not for a log others rely on.
    Warning,
    /// Must be fixed before others rely on the log.
    Error,
}

/// One finding.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The check's name.
    pub check: &'static str,
    /// How bad.
    pub severity: Severity,
    /// What was found and what to do.
    pub message: String,
}

impl Severity {
    /// Its name as printed: `ok`, `warning`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Every check on `opts`, in a fixed order.
pub fn doctor(opts: &ServeOptions) -> Vec<Finding> {
    vec![
        rollback(opts),
        signer_state(opts),
        listeners(opts),
        signer_transport(opts),
        witness_transport(opts),
    ]
}

/// The worst severity among `findings` (`Ok` if none).
pub fn worst(findings: &[Finding]) -> Severity {
    findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Ok)
}

fn remote(opts: &ServeOptions) -> bool {
    !opts.listen.ip().is_loopback() || opts.http.is_some_and(|a| !a.ip().is_loopback())
}

fn rollback(opts: &ServeOptions) -> Finding {
    let check = "rollback";
    let mut memories = Vec::new();
    if opts.signer.is_some() {
        memories.push("an independent signer");
    }
    if opts.witness_policy.is_some() {
        memories.push("witnesses");
    }
    if opts.export.is_some() {
        memories.push("a tiles export");
    }
    if !memories.is_empty() {
        return Finding {
            check,
            severity: Severity::Ok,
            message: format!(
                "a rollback of the data is caught by {} at start-up",
                memories.join(" and ")
            ),
        };
    }
    let severity = if remote(opts) {
        Severity::Error
    } else {
        Severity::Warning
    };
    Finding {
        check,
        severity,
        message: "single point of rollback: the log signs in this process and has no witness and \
                  no publication, so its only memory of what it signed is on this machine. \
                  Whoever restores the machine (data and signer's memory together) can roll the \
                  log back unseen. Add witnesses (--witness-policy), publish the tiles \
                  (--export), or sign in another process (--signer)"
            .into(),
    }
}

fn signer_state(opts: &ServeOptions) -> Finding {
    let check = "signer-state";
    if opts.signer.is_some() {
        return Finding {
            check,
            severity: Severity::Ok,
            message: "the signer's memory is kept by the independent signer".into(),
        };
    }
    let layout = Layout {
        data: opts.data.clone(),
        signer_state: opts.signer_state.clone(),
    };
    let state = layout.signer();
    if is_inside(&state, &opts.data) {
        return Finding {
            check,
            severity: Severity::Error,
            message: format!(
                "the signer's memory {} is inside the data folder {}: a restored backup of the \
                 data rewinds it, and the log would sign over sizes it already signed. Keep it \
                 outside (the default is <data>.signer); `vellum serve` refuses this",
                state.display(),
                opts.data.display()
            ),
        };
    }
    match std::fs::metadata(&state) {
        Ok(m) if m.permissions().mode() & 0o077 != 0 => Finding {
            check,
            severity: Severity::Warning,
            message: format!(
                "the signer's memory {} may be read or changed by others (mode {:o}); it should \
                 be 0700, like the key",
                state.display(),
                m.permissions().mode() & 0o777
            ),
        },
        Ok(_) => Finding {
            check,
            severity: Severity::Ok,
            message: format!(
                "the signer's memory is {}, outside the data folder, mode 0700",
                state.display()
            ),
        },
        Err(_) => Finding {
            check,
            severity: Severity::Ok,
            message: format!(
                "the signer's memory will be created at {}, outside the data folder",
                state.display()
            ),
        },
    }
}

fn listeners(opts: &ServeOptions) -> Finding {
    let check = "listeners";
    match check_safety(&ServeOptions {
        insecure_remote: false,
        ..opts.clone()
    }) {
        Ok(()) => Finding {
            check,
            severity: Severity::Ok,
            message: "every listener is on loopback or has TLS and authentication".into(),
        },
        Err(e) => Finding {
            check,
            severity: Severity::Error,
            message: e.to_string(),
        },
    }
}

/// Every log of `opts` (the default one first), as [`NamedLog`]s.
fn all_logs(opts: &ServeOptions) -> Vec<NamedLog> {
    std::iter::once(opts.default_log())
        .chain(opts.logs.iter().cloned())
        .collect()
}

/// `what` for the default log, `what of log NAME` for the others.
fn of_log(what: &str, log: &NamedLog) -> String {
    if log.name == vellum_proto::DEFAULT_LOG {
        what.to_owned()
    } else {
        format!("{what} of log {:?}", log.name)
    }
}

fn signer_transport(opts: &ServeOptions) -> Finding {
    let check = "signer-transport";
    let mut problems = Vec::new();
    for log in all_logs(opts) {
        let Some(addr) = &log.signer else { continue };
        if addr.is_local() {
            continue;
        }
        let who = of_log("the signer", &log);
        if !addr.is_tls() {
            problems.push(format!(
                "{who} at {addr} is reached over plain HTTP beyond loopback: it accepts anyone \
                 (it runs --insecure-remote), and whoever reaches it can have the log's key sign \
                 a tree of their own. Serve it on https:// with --tls-cert, --tls-key and \
                 --tls-client-ca, and give the log --signer-tls-ca, --signer-tls-cert and \
                 --signer-tls-key"
            ));
        } else if !log.signer_tls.has_identity() {
            problems.push(format!(
                "{who} at {addr} is reached without a client certificate: a signer that \
                 answers it asks nobody for one (it runs --insecure-remote), so whoever reaches \
                 it can have the log's key sign a tree of their own. Give the signer \
                 --tls-client-ca and the log --signer-tls-cert and --signer-tls-key"
            ));
        }
    }
    if problems.is_empty() {
        return Finding {
            check,
            severity: Severity::Ok,
            message: "every signer is in this process, on a Unix socket or loopback, or \
                      reached with mutual TLS"
                .into(),
        };
    }
    Finding {
        check,
        severity: Severity::Error,
        message: problems.join("; "),
    }
}

fn witness_transport(opts: &ServeOptions) -> Finding {
    let check = "witness-transport";
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for log in all_logs(opts) {
        let Some(policy) = &log.witness_policy else {
            continue;
        };
        let with_token = log.witness_auth.named();
        for w in policy.witnesses() {
            let Some(url) = w.url() else { continue };
            if url_host_is_loopback(url) {
                continue;
            }
            let who = of_log(&format!("witness {}", w.name()), &log);
            if !url.starts_with("https://") {
                errors.push(format!(
                    "{who} at {url} is reached over plain HTTP beyond loopback: the witness \
                     serves anyone (it runs --insecure-remote) and its answers travel in the \
                     clear. Serve it with --tls-cert, --tls-key and --auth, use its https:// \
                     URL in the policy, and give the log --witness-tls-ca and \
                     --witness-credentials"
                ));
            } else if !with_token.iter().any(|n| n == w.name()) {
                warnings.push(format!(
                    "{who} at {url} gets no token from the log: either it serves anyone (it \
                     runs --insecure-remote) or it will refuse the log. Add a `{} <token>` \
                     line to --witness-credentials (the witness's --auth lists the token's \
                     hash; see `vellum token --witness`)",
                    w.name()
                ));
            }
        }
    }
    let (severity, problems) = if !errors.is_empty() {
        errors.extend(warnings);
        (Severity::Error, errors)
    } else if !warnings.is_empty() {
        (Severity::Warning, warnings)
    } else {
        return Finding {
            check,
            severity: Severity::Ok,
            message: "every witness is on loopback or reached over https:// with a token".into(),
        };
    };
    Finding {
        check,
        severity,
        message: problems.join("; "),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::ExportOptions;

    fn find(opts: &ServeOptions, check: &str) -> Finding {
        doctor(opts).into_iter().find(|f| f.check == check).unwrap()
    }

    #[test]
    fn an_embedded_signer_alone_is_a_single_point_of_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = ServeOptions::embedded();
        o.data = dir.path().join("data");
        let f = find(&o, "rollback");
        assert_eq!(f.severity, Severity::Warning, "loopback: {}", f.message);
        assert!(f.message.contains("single point of rollback"));

        o.listen = SocketAddr::from(([0, 0, 0, 0], 6962));
        assert_eq!(find(&o, "rollback").severity, Severity::Error);
        // And the listener itself is unsafe without TLS and auth.
        assert_eq!(find(&o, "listeners").severity, Severity::Error);
        assert_eq!(worst(&doctor(&o)), Severity::Error);

        o.export = Some(ExportOptions {
            out: dir.path().join("export"),
            interval: std::time::Duration::from_secs(1),
        });
        let f = find(&o, "rollback");
        assert_eq!(f.severity, Severity::Ok, "{}", f.message);
        assert!(f.message.contains("a tiles export"));
    }

    #[test]
    fn the_signer_memory_inside_the_data_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = ServeOptions::embedded();
        o.data = dir.path().join("data");
        assert_eq!(find(&o, "signer-state").severity, Severity::Ok);
        o.signer_state = Some(dir.path().join("data").join("journal"));
        let f = find(&o, "signer-state");
        assert_eq!(f.severity, Severity::Error, "{}", f.message);
        assert!(f.message.contains("inside the data folder"));

        let outside = dir.path().join("memory");
        std::fs::create_dir(&outside).unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o755)).unwrap();
        o.signer_state = Some(outside);
        assert_eq!(find(&o, "signer-state").severity, Severity::Warning);
    }

    #[test]
    fn a_signer_beyond_loopback_without_mutual_tls_is_an_error() {
        use crate::grpc::signer::SignerClientTls;
        let dir = tempfile::tempdir().unwrap();
        let mut o = ServeOptions::embedded();
        o.data = dir.path().join("data");
        assert_eq!(find(&o, "signer-transport").severity, Severity::Ok);
        for fine in [
            "unix:/run/s.sock",
            "http://127.0.0.1:6966",
            "http://[::1]:1",
        ] {
            o.signer = Some(fine.parse().unwrap());
            let f = find(&o, "signer-transport");
            assert_eq!(f.severity, Severity::Ok, "{fine}: {}", f.message);
        }
        o.signer = Some("http://signer.internal:6966".parse().unwrap());
        let f = find(&o, "signer-transport");
        assert_eq!(f.severity, Severity::Error, "{}", f.message);
        assert!(
            f.message.contains("plain HTTP") && f.message.contains("--signer-tls-cert"),
            "{}",
            f.message
        );
        o.signer = Some("https://signer.internal:6966".parse().unwrap());
        let f = find(&o, "signer-transport");
        assert_eq!(f.severity, Severity::Error, "{}", f.message);
        assert!(
            f.message.contains("without a client certificate"),
            "{}",
            f.message
        );
        o.signer_tls = SignerClientTls {
            ca: Some("ca.pem".into()),
            cert: Some("log.pem".into()),
            key: Some("log.key".into()),
        };
        assert_eq!(find(&o, "signer-transport").severity, Severity::Ok);
        // A named log's signer is checked too, and named.
        let mut named = crate::NamedLog::new("tenant-a", crate::LogKind::Raw);
        named.signer = Some("http://10.0.0.7:6966".parse().unwrap());
        o.logs.push(named);
        let f = find(&o, "signer-transport");
        assert_eq!(f.severity, Severity::Error);
        assert!(
            f.message.contains("the signer of log \"tenant-a\""),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_witness_over_plain_http_is_an_error_and_one_without_a_token_a_warning() {
        use vellum_note::{CosignerKey, Policy};
        let dir = tempfile::tempdir().unwrap();
        let mut o = ServeOptions::embedded();
        o.data = dir.path().join("data");
        assert_eq!(find(&o, "witness-transport").severity, Severity::Ok);
        let w = CosignerKey::generate("example.com/w1").unwrap();
        let policy = |url: &str| {
            Policy::parse(&format!(
                "witness w1 {} {url}\nquorum w1\n",
                w.verifier().verifier_key()
            ))
            .unwrap()
        };
        o.witness_policy = Some(policy("http://127.0.0.1:7001"));
        assert_eq!(find(&o, "witness-transport").severity, Severity::Ok);
        o.witness_policy = Some(policy("http://witness1:7001"));
        let f = find(&o, "witness-transport");
        assert_eq!(f.severity, Severity::Error, "{}", f.message);
        assert!(
            f.message.contains("witness w1 at http://witness1:7001")
                && f.message.contains("--witness-credentials"),
            "{}",
            f.message
        );
        o.witness_policy = Some(policy("https://witness1:7001"));
        let f = find(&o, "witness-transport");
        assert_eq!(f.severity, Severity::Warning, "{}", f.message);
        assert!(f.message.contains("gets no token"), "{}", f.message);
        let creds = dir.path().join("creds");
        std::fs::write(&creds, "# tokens\nw1 secret\n").unwrap();
        o.witness_auth.credentials = Some(creds);
        let f = find(&o, "witness-transport");
        assert_eq!(f.severity, Severity::Ok, "{}", f.message);
    }
}

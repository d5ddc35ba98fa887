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

use std::os::unix::fs::PermissionsExt;

use crate::embedded::{Layout, is_inside};
use crate::run::{ServeOptions, check_safety};

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
    vec![rollback(opts), signer_state(opts), listeners(opts)]
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
}

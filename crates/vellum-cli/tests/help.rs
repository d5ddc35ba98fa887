//! Every command documents itself and its exit statuses.

use vellum_testkit::process::{stdout, vellum};

#[test]
fn every_help_mentions_the_exit_statuses() {
    for args in [
        &["--help"][..],
        &["keygen", "--help"],
        &["keygen", "-h"],
        &["verify", "--help"],
        &["verify", "-h"],
        &["help", "verify"],
        &["config", "--help"],
        &["config", "check", "--help"],
        &["config", "print", "--help"],
        &["fsck", "--help"],
        &["reindex", "--help"],
    ] {
        let out = vellum(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = stdout(&out);
        assert!(help.contains("Exit status:"), "{args:?}: {help}");
        assert!(
            help.contains("  0  ") && help.contains("  2  "),
            "{args:?}: {help}"
        );
    }
    let verify = stdout(&vellum(["verify", "--help"]));
    assert!(verify.contains("  1  the proof is invalid"), "{verify}");
}

#[test]
fn top_level_help_lists_the_commands() {
    let help = stdout(&vellum(["--help"]));
    for command in ["keygen", "verify"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn no_command_is_a_usage_error() {
    assert_eq!(vellum(Vec::<&str>::new()).status.code(), Some(2));
    assert_eq!(vellum(["no-such-command"]).status.code(), Some(2));
}

//! Unit tests of the parent module (kept apart to keep it under the
//! file-size limit of scripts/check-layering).

use super::*;

fn headers(v: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(http::header::AUTHORIZATION, v.parse().unwrap());
    h
}

#[test]
fn roles_imply_as_documented() {
    let p = AccessPolicy::parse(&format!(
        "append {} a\nread {} r\naudit {} u\nadmin {} x # all\n",
        token_hash_hex("ta"),
        token_hash_hex("tr"),
        token_hash_hex("tu"),
        token_hash_hex("tx")
    ))
    .unwrap();
    let roles = |t: &str| p.authenticate(t).unwrap().roles.clone();
    assert!(roles("ta").allows("default", Role::Append));
    assert!(!roles("ta").allows("default", Role::Read));
    assert!(roles("tr").allows("default", Role::Read));
    assert!(!roles("tr").allows("default", Role::Audit));
    assert!(!roles("tr").allows("default", Role::Append));
    assert!(roles("tu").allows("default", Role::Read));
    assert!(roles("tu").allows("default", Role::Audit));
    assert!(!roles("tu").allows("default", Role::Append));
    for r in [Role::Append, Role::Read, Role::Audit, Role::Admin] {
        assert!(roles("tx").allows("default", r));
    }
    assert!(p.authenticate("nope").is_none());
    assert_eq!(p.authenticate("tx").unwrap().name, "x");
}

#[test]
fn bad_token_files_name_the_line() {
    let h = token_hash_hex("t");
    for (text, line) in [
        (format!("append {h}\n"), 1),
        (format!("# c\nwrite {h} n\n"), 2),
        ("append abc n\n".to_owned(), 1),
        (format!("append {h} a\nread {h} b\n"), 2),
        (format!("append {h} a\nread {} a\n", token_hash_hex("u")), 2),
    ] {
        match AccessPolicy::parse(&text) {
            Err(AccessError::Line { line: l, .. }) => assert_eq!(l, line, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    assert!(matches!(
        AccessPolicy::parse("# nothing\n\n"),
        Err(AccessError::Empty)
    ));
}

#[test]
fn certificate_lines_match_certificates_only() {
    let fpr = [7u8; 32];
    let hex: String = fpr.iter().map(|b| format!("{b:02x}")).collect();
    let p = AccessPolicy::parse(&format!("append cert-sha256:{hex} device\n")).unwrap();
    assert_eq!(p.authenticate_cert(&fpr).unwrap().name, "device");
    assert!(p.authenticate_cert(&[8u8; 32]).is_none());
    // A token whose hash is the fingerprint is not the certificate.
    assert!(p.authenticate(&hex).is_none());
    assert!(AccessPolicy::parse("append cert-sha256:abc device\n").is_err());
}

#[test]
fn methods_need_their_roles() {
    assert_eq!(grpc_need("/vellum.v1.Log/Append"), Need::Role(Role::Append));
    assert_eq!(
        grpc_need("/vellum.v1.Log/GetEntries"),
        Need::Role(Role::Read)
    );
    assert_eq!(grpc_need("/grpc.health.v1.Health/Check"), Need::Nothing);
    assert_eq!(grpc_need("/vellum.v1.Log/Delete"), Need::Role(Role::Admin));
    assert_eq!(grpc_need("/other.Svc/X"), Need::Role(Role::Admin));
}

#[test]
fn checks_count_denials() {
    let p = AccessPolicy::parse(&format!("read {} r\n", token_hash_hex("tr"))).unwrap();
    let stats = Arc::new(AccessStats::default());
    let a = Access::new(Arc::new(p), stats.clone());
    let need = Need::Role(Role::Append);
    assert!(matches!(
        a.check("m", "default", need, &HeaderMap::new(), None),
        Err(Denial::Unauthenticated(_))
    ));
    assert!(matches!(
        a.check("m", "default", need, &headers("Basic x"), None),
        Err(Denial::Unauthenticated(_))
    ));
    assert!(matches!(
        a.check("m", "default", need, &headers("Bearer wrong"), None),
        Err(Denial::Unauthenticated(_))
    ));
    assert!(matches!(
        a.check("m", "default", need, &headers("Bearer tr"), None),
        Err(Denial::PermissionDenied(_))
    ));
    let ok = a.check(
        "m",
        "default",
        Need::Role(Role::Read),
        &headers("bearer tr"),
        None,
    );
    assert_eq!(ok.unwrap().unwrap().name, "r");
    assert_eq!(stats.unauthenticated.load(Ordering::Relaxed), 3);
    assert_eq!(stats.permission_denied.load(Ordering::Relaxed), 1);
    assert!(
        a.check("m", "default", Need::Nothing, &HeaderMap::new(), None)
            .is_ok()
    );
    assert_eq!(stats.denied(), 4);
}

#[test]
fn a_role_on_one_log_holds_there_only() {
    let p = AccessPolicy::parse(&format!(
        "append@a,read@a {} ta\nread,append@b {} mixed\n",
        token_hash_hex("ta"),
        token_hash_hex("tm"),
    ))
    .unwrap();
    let a = &p.authenticate("ta").unwrap().roles;
    assert!(a.allows("a", Role::Append));
    assert!(a.allows("a", Role::Read));
    assert!(!a.allows("a", Role::Audit));
    for other in ["b", "default", "aa"] {
        for r in [Role::Append, Role::Read, Role::Audit, Role::Admin] {
            assert!(!a.allows(other, r), "{other} {r}");
        }
    }
    assert_eq!(a.to_string(), "append@a,read@a");
    let m = &p.authenticate("tm").unwrap().roles;
    assert!(m.allows("a", Role::Read) && m.allows("default", Role::Read));
    assert!(m.allows("b", Role::Append));
    assert!(!m.allows("a", Role::Append));
    assert_eq!(m.to_string(), "read,append@b");

    let stats = Arc::new(AccessStats::default());
    let access = Access::new(Arc::new(p), stats.clone());
    let need = Need::Role(Role::Append);
    assert!(
        access
            .check("m", "a", need, &headers("Bearer ta"), None)
            .is_ok()
    );
    match access.check("m", "b", need, &headers("Bearer ta"), None) {
        Err(Denial::PermissionDenied(m)) => assert!(m.contains("\"b\""), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(stats.permission_denied.load(Ordering::Relaxed), 1);
}

#[test]
fn a_bad_log_name_in_a_role_names_the_line() {
    let h = token_hash_hex("t");
    for bad in ["append@", "append@A", "append@a/b", "append@-a", "write@a"] {
        match AccessPolicy::parse(&format!("# c\n{bad} {h} n\n")) {
            Err(AccessError::Line { line: 2, .. }) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
}

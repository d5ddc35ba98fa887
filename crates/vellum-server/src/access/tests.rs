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
    let roles = |t: &str| p.authenticate(t).unwrap().roles;
    assert!(roles("ta").allows(Role::Append));
    assert!(!roles("ta").allows(Role::Read));
    assert!(roles("tr").allows(Role::Read));
    assert!(!roles("tr").allows(Role::Audit));
    assert!(!roles("tr").allows(Role::Append));
    assert!(roles("tu").allows(Role::Read));
    assert!(roles("tu").allows(Role::Audit));
    assert!(!roles("tu").allows(Role::Append));
    for r in [Role::Append, Role::Read, Role::Audit, Role::Admin] {
        assert!(roles("tx").allows(r));
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
        a.check("m", need, &HeaderMap::new(), None),
        Err(Denial::Unauthenticated(_))
    ));
    assert!(matches!(
        a.check("m", need, &headers("Basic x"), None),
        Err(Denial::Unauthenticated(_))
    ));
    assert!(matches!(
        a.check("m", need, &headers("Bearer wrong"), None),
        Err(Denial::Unauthenticated(_))
    ));
    assert!(matches!(
        a.check("m", need, &headers("Bearer tr"), None),
        Err(Denial::PermissionDenied(_))
    ));
    let ok = a.check("m", Need::Role(Role::Read), &headers("bearer tr"), None);
    assert_eq!(ok.unwrap().unwrap().name, "r");
    assert_eq!(stats.unauthenticated.load(Ordering::Relaxed), 3);
    assert_eq!(stats.permission_denied.load(Ordering::Relaxed), 1);
    assert!(a.check("m", Need::Nothing, &HeaderMap::new(), None).is_ok());
    assert_eq!(stats.denied(), 4);
}

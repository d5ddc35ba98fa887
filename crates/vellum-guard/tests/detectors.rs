//! Each detector provoked on its own, through the public interface: the
//! alert it must raise, the near misses it must not, its cooldown, its
//! bounded state, and the configuration errors refused at start.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::net::IpAddr;

use vellum_guard::{
    Alert, AlertKind, Detectors, GuardConfig, Observation, Observed, Outcome, Refusal,
};

/// 2026-12-07T00:00:00Z, a Monday.
const MONDAY: u64 = 1_796_601_600_000;
const MIN: u64 = 60_000;

fn recorded(
    submitter: &str,
    actor: &str,
    action: &str,
    resource: &str,
    outcome: Outcome,
) -> Observed {
    let (kind, id) = resource.split_once('/').unwrap();
    Observed::Recorded {
        submitter: submitter.into(),
        actor: actor.into(),
        action: action.into(),
        resource_kind: kind.into(),
        resource_id: id.into(),
        outcome,
    }
}

fn event(actor: &str) -> Observed {
    recorded(
        "svc",
        actor,
        "document.read",
        "document/d1",
        Outcome::Success,
    )
}

fn at(at_ms: u64, what: Observed) -> Observation {
    Observation { at_ms, what }
}

/// Feeds `n` events of `what` evenly over `[from, from + len)`; returns
/// the alerts.
fn spread(d: &mut Detectors, from: u64, len: u64, n: u64, what: &Observed) -> Vec<Alert> {
    (0..n)
        .flat_map(|i| d.observe(&at(from + i * len / n, what.clone())))
        .collect()
}

fn only(alerts: &[Alert], kind: AlertKind) -> Vec<&Alert> {
    alerts.iter().filter(|a| a.kind == kind).collect()
}

#[test]
fn rate_spike_per_actor_alerts_on_the_crossing_event_after_warm_up() {
    // The submitter sees the same events; it has a test of its own.
    let mut cfg = GuardConfig::default();
    cfg.rate_spike_submitter.enabled = false;
    let mut d = Detectors::new(&cfg).unwrap();
    let a = event("alice");
    // A new actor's first burst is not judged: no baseline yet.
    assert!(spread(&mut d, MONDAY, MIN, 200, &a).is_empty());
    // Then 10 a minute for 15 minutes: the baseline, no alert.
    assert!(spread(&mut d, MONDAY + MIN, 15 * MIN, 150, &a).is_empty());
    // A spike: 300 in the next minute. The threshold is about
    // 10 + 6 * sqrt(10) = 29, and at least 30.
    let spike = MONDAY + 16 * MIN;
    let alerts = spread(&mut d, spike, MIN, 300, &a);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.kind, AlertKind::RateSpikeActor);
    assert_eq!(alert.subject, "alice");
    // Raised by the 30th event of the window, not at the window's end.
    assert_eq!(alert.at_ms, spike + 29 * MIN / 300);
    let e = &alert.evidence;
    assert_eq!(e["count"], 30);
    assert_eq!(e["window_ms"], MIN);
    assert_eq!(e["window_start_ms"], spike);
    assert_eq!(e["observations"], 30);
    // The first (partial) window and its burst never counted.
    assert_eq!(e["baseline"], 10.0);
    assert_eq!(e["threshold"], 28.974);
}

#[test]
fn a_spike_begun_late_in_a_window_is_not_absorbed_into_its_baseline() {
    let mut cfg = GuardConfig::default();
    cfg.rate_spike_submitter.enabled = false;
    cfg.rate_spike_actor.min_count = 50;
    let mut d = Detectors::new(&cfg).unwrap();
    let a = event("bob");
    // 10 a minute: a baseline of 10, a threshold of 28.97.
    assert!(spread(&mut d, MONDAY, 20 * MIN, 200, &a).is_empty());
    // 45 events in the last 5 s of a window: under min_count, so no alert
    // there; the window is folded in clamped to the threshold.
    let late = MONDAY + 20 * MIN + 55_000;
    assert!(spread(&mut d, late, 5_000, 45, &a).is_empty());
    let alerts = spread(&mut d, MONDAY + 21 * MIN, MIN, 300, &a);
    assert_eq!(alerts.len(), 1);
    // 10 + 0.1 * (28.97 - 10); unclamped it would be 13.5.
    assert_eq!(alerts[0].evidence["baseline"], 11.897);
}

#[test]
fn rate_spike_per_submitter_and_a_decayed_baseline() {
    let mut d = Detectors::new(&GuardConfig::default()).unwrap();
    // Each event by a different actor: only the submitter has a history.
    let mut n = 0u64;
    let mut feed = |d: &mut Detectors, from: u64, len: u64, count: u64| -> Vec<Alert> {
        (0..count)
            .flat_map(|i| {
                n += 1;
                let what = recorded("svc-a", &format!("u{n}"), "x.y", "k/i", Outcome::Success);
                d.observe(&at(from + i * len / count, what))
            })
            .collect()
    };
    assert!(feed(&mut d, MONDAY, 15 * MIN, 15 * 100).is_empty());
    // 100 a minute: threshold 160. A minute of 150 does not alert...
    assert!(feed(&mut d, MONDAY + 15 * MIN, MIN, 150).is_empty());
    // ...one of 200 does.
    let alerts = feed(&mut d, MONDAY + 16 * MIN, MIN, 200);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::RateSpikeSubmitter);
    assert_eq!(alerts[0].subject, "svc-a");

    // An actor that went quiet: its baseline decays over the empty
    // windows, and 40 in a minute after two hours of silence is a spike.
    let a = event("carol");
    assert!(spread(&mut d, MONDAY, 15 * MIN, 15 * 25, &a).is_empty());
    let alerts = spread(&mut d, MONDAY + 135 * MIN, MIN, 40, &a);
    let spikes = only(&alerts, AlertKind::RateSpikeActor);
    assert_eq!(spikes.len(), 1);
    assert!(spikes[0].evidence["baseline"].as_f64().unwrap() < 0.01);
}

#[test]
fn protected_resources_by_pattern_and_action() {
    let mut cfg = GuardConfig::default();
    cfg.protected_resource.resources = vec!["secret/*".into(), "key/root-?".into()];
    let mut d = Detectors::new(&cfg).unwrap();
    let read = |r: &str| recorded("svc", "eve", "secret.read", r, Outcome::Success);
    assert!(d.observe(&at(MONDAY, read("document/secret"))).is_empty());
    assert!(d.observe(&at(MONDAY, read("key/root-10"))).is_empty());
    let alerts = d.observe(&at(MONDAY, read("secret/db-password")));
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::ProtectedResource);
    assert_eq!(alerts[0].subject, "secret/db-password");
    assert_eq!(alerts[0].evidence["actor"], "eve");
    assert_eq!(alerts[0].evidence["pattern"], "secret/*");
    assert_eq!(
        d.observe(&at(MONDAY, read("key/root-1")))[0].subject,
        "key/root-1"
    );

    cfg.protected_resource.actions = vec!["*.delete".into()];
    let mut d = Detectors::new(&cfg).unwrap();
    assert!(d.observe(&at(MONDAY, read("secret/a"))).is_empty());
    let del = recorded("svc", "eve", "secret.delete", "secret/a", Outcome::Failure);
    assert_eq!(d.observe(&at(MONDAY, del)).len(), 1);
}

#[test]
fn new_privileged_actor_against_the_seeded_and_learnt_pairs() {
    let mut cfg = GuardConfig::default();
    cfg.new_privileged_actor.actions = vec!["permission.grant".into(), "role.*".into()];
    let mut d = Detectors::new(&cfg).unwrap();
    d.seed_privileged("admin", "role.assign");
    let act =
        |actor: &str, action: &str, outcome| recorded("svc", actor, action, "role/r", outcome);
    let mut t = MONDAY;
    let mut observe = |d: &mut Detectors, o: Observed| {
        t += 11 * MIN; // past any cooldown
        d.observe(&at(t, o))
    };
    assert!(observe(&mut d, act("admin", "role.assign", Outcome::Success)).is_empty());
    assert!(observe(&mut d, act("bob", "document.read", Outcome::Success)).is_empty());
    let alerts = observe(&mut d, act("bob", "role.assign", Outcome::Success));
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::NewPrivilegedActor);
    assert_eq!(alerts[0].subject, "bob");
    assert_eq!(alerts[0].evidence["action"], "role.assign");
    // Learnt: bob doing it again is no news.
    assert!(observe(&mut d, act("bob", "role.assign", Outcome::Success)).is_empty());
    // The admin doing a privileged action it never did is.
    assert_eq!(
        observe(&mut d, act("admin", "permission.grant", Outcome::Success))[0].subject,
        "admin"
    );
    // A denied attempt alerts, and is not learnt: it alerts again.
    assert_eq!(
        observe(&mut d, act("mallory", "role.revoke", Outcome::Denied)).len(),
        1
    );
    assert_eq!(
        observe(&mut d, act("mallory", "role.revoke", Outcome::Denied)).len(),
        1
    );
}

#[test]
fn denied_bursts_per_identity_and_per_address() {
    let mut d = Detectors::new(&GuardConfig::default()).unwrap();
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let refused = |identity: Option<&str>, reason| Observed::Refused {
        identity: identity.map(str::to_owned),
        address: Some(ip),
        reason,
    };
    // 19 refusals in a minute: under the threshold (20).
    let token = refused(Some("ci"), Refusal::PermissionDenied);
    assert!(spread(&mut d, MONDAY, MIN, 19, &token).is_empty());
    // 20 spread over two minutes never fill one window.
    let slow = Observed::Refused {
        identity: Some("slow".into()),
        address: None,
        reason: Refusal::PermissionDenied,
    };
    assert!(spread(&mut d, MONDAY, 2 * MIN + 1, 20, &slow).is_empty());
    // The 20th within the minute: both the token and the address.
    let alerts = d.observe(&at(MONDAY + 59_000, token.clone()));
    let kinds: Vec<(AlertKind, &str)> = alerts
        .iter()
        .map(|a| (a.kind, a.subject.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (AlertKind::DeniedBurstIdentity, "ci"),
            (AlertKind::DeniedBurstAddress, "192.0.2.7")
        ]
    );
    assert_eq!(alerts[0].evidence["count"], 20);
    assert_eq!(alerts[0].evidence["permission_denied"], 20);
    assert_eq!(alerts[0].evidence["first_ms"], MONDAY);

    // Unauthenticated calls count for the address only; recorded denials
    // for the actor only.
    let mut d = Detectors::new(&GuardConfig::default()).unwrap();
    let anon = refused(None, Refusal::Unauthenticated);
    let alerts = spread(&mut d, MONDAY, MIN, 20, &anon);
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (
            alerts[0].kind,
            alerts[0].evidence["unauthenticated"].as_u64()
        ),
        (AlertKind::DeniedBurstAddress, Some(20))
    );
    let denied = recorded("svc", "mallory", "doc.read", "document/x", Outcome::Denied);
    let alerts = spread(&mut d, MONDAY, MIN, 20, &denied);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::DeniedBurstIdentity);
    assert_eq!(alerts[0].subject, "mallory");
    assert_eq!(alerts[0].evidence["recorded_denied"], 20);
}

#[test]
fn off_hours_with_an_offset_and_hours_past_midnight() {
    let mut cfg = GuardConfig::default();
    cfg.off_hours.actors = vec!["staff-*".into()];
    cfg.off_hours.hours = "09:00-19:00".into();
    cfg.off_hours.utc_offset = "+01:00".into();
    let mut d = Detectors::new(&cfg).unwrap();
    let t_alerts = |d: &mut Detectors, t: u64, actor: &str| d.observe(&at(t, event(actor)));
    // Monday 17:59 UTC is 18:59 at +01:00: allowed.
    assert!(t_alerts(&mut d, MONDAY + 17 * 60 * MIN + 59 * MIN, "staff-1").is_empty());
    // 18:00 UTC is 19:00 local: outside.
    let alerts = t_alerts(&mut d, MONDAY + 18 * 60 * MIN, "staff-1");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::OffHours);
    assert_eq!(alerts[0].subject, "staff-1");
    assert_eq!(alerts[0].evidence["local_time"], "19:00");
    assert_eq!(alerts[0].evidence["local_day"], "mon");
    // Saturday noon; and someone not watched at night.
    assert_eq!(
        t_alerts(&mut d, MONDAY + 5 * 1440 * MIN + 12 * 60 * MIN, "staff-2").len(),
        1
    );
    assert!(t_alerts(&mut d, MONDAY + 3 * 60 * MIN, "user-1").is_empty());

    cfg.off_hours.hours = "22:00-06:00".into();
    cfg.off_hours.days = vec!["Mon".into()];
    cfg.off_hours.utc_offset = "+00:00".into();
    cfg.off_hours.cooldown = std::time::Duration::ZERO;
    let mut d = Detectors::new(&cfg).unwrap();
    let h = 60 * MIN;
    assert!(t_alerts(&mut d, MONDAY + 23 * h, "staff-1").is_empty());
    assert!(
        t_alerts(&mut d, MONDAY + 29 * h, "staff-1").is_empty(),
        "Tuesday 05:00, a Monday night"
    );
    assert_eq!(
        t_alerts(&mut d, MONDAY + 5 * h, "staff-1").len(),
        1,
        "Monday 05:00, a Sunday night"
    );
    assert_eq!(
        t_alerts(&mut d, MONDAY + 47 * h, "staff-1").len(),
        1,
        "Tuesday 23:00"
    );
}

#[test]
fn integrity_signals_alert_only_when_they_mean_it() {
    let mut d = Detectors::new(&GuardConfig::default()).unwrap();
    let mut one = |what: Observed| d.observe(&at(MONDAY, what));
    // Near misses first.
    assert!(
        one(Observed::WitnessConflict {
            witness: "w".into(),
            log_size: 10,
            witness_size: 10
        })
        .is_empty()
    );
    assert!(
        one(Observed::WitnessConflict {
            witness: "w".into(),
            log_size: 10,
            witness_size: 9
        })
        .is_empty()
    );
    assert!(
        one(Observed::Stale {
            checkpoint_age_ms: 120_000,
            waiting_entries: 5
        })
        .is_empty()
    );
    assert!(
        one(Observed::Stale {
            checkpoint_age_ms: 3_600_000,
            waiting_entries: 0
        })
        .is_empty()
    );
    assert!(
        one(Observed::ClockBackwards {
            last_ms: 5_000,
            now_ms: 4_000
        })
        .is_empty()
    );
    assert!(
        one(Observed::ClockBackwards {
            last_ms: 5_000,
            now_ms: 6_000
        })
        .is_empty()
    );

    let cases = [
        (
            Observed::WitnessConflict {
                witness: "w".into(),
                log_size: 10,
                witness_size: 11,
            },
            AlertKind::WitnessConflict,
            "w",
        ),
        (
            Observed::SignerRefused {
                error: "does not extend".into(),
            },
            AlertKind::SignerRefused,
            "signer",
        ),
        (
            Observed::SelfAuditFailed {
                finding: "node 0/3 differs".into(),
            },
            AlertKind::SelfAuditFailed,
            "self_audit",
        ),
        (
            Observed::Stale {
                checkpoint_age_ms: 120_001,
                waiting_entries: 5,
            },
            AlertKind::StaleCheckpoint,
            "checkpoint",
        ),
        (
            Observed::ClockBackwards {
                last_ms: 5_000,
                now_ms: 3_999,
            },
            AlertKind::ClockBackwards,
            "clock",
        ),
    ];
    for (what, kind, subject) in cases {
        let alerts = one(what);
        assert_eq!(alerts.len(), 1, "{kind}");
        assert_eq!(
            (alerts[0].kind, alerts[0].subject.as_str()),
            (kind, subject)
        );
    }
}

#[test]
fn cooldown_folds_one_incident_into_one_alert_and_counts_the_rest() {
    let mut d = Detectors::new(&GuardConfig::default()).unwrap();
    let conflict = |w: &str| Observed::WitnessConflict {
        witness: w.into(),
        log_size: 1,
        witness_size: 2,
    };
    let alerts = spread(&mut d, MONDAY, 10 * MIN, 100, &conflict("w1"));
    assert_eq!(alerts.len(), 1);
    let e = &alerts[0].evidence;
    assert_eq!(
        (
            e["observations"].as_u64(),
            e["cooldown_ms"].as_u64(),
            e["suppressed_before"].as_u64()
        ),
        (Some(1), Some(600_000), Some(0))
    );
    // Another subject is another incident.
    assert_eq!(d.observe(&at(MONDAY + MIN, conflict("w2"))).len(), 1);
    // After the cooldown, the next alert says how many were withheld.
    let alerts = d.observe(&at(MONDAY + 10 * MIN, conflict("w1")));
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].evidence["suppressed_before"], 99);

    let mut cfg = GuardConfig::default();
    cfg.witness_conflict.cooldown = std::time::Duration::ZERO;
    let mut d = Detectors::new(&cfg).unwrap();
    assert_eq!(spread(&mut d, MONDAY, MIN, 5, &conflict("w1")).len(), 5);
}

#[test]
fn state_stays_bounded_under_a_million_distinct_keys() {
    let mut cfg = GuardConfig::default();
    cfg.rate_spike_actor.max_keys = 50_000;
    let mut d = Detectors::new(&cfg).unwrap();
    for i in 0..1_000_000u64 {
        let actor = format!("actor-{i}");
        let t = MONDAY + i;
        d.observe(&at(
            t,
            recorded("svc", &actor, "x.y", "k/i", Outcome::Denied),
        ));
        let address = IpAddr::from((i as u32).to_be_bytes());
        d.observe(&at(
            t,
            Observed::Refused {
                identity: Some(actor),
                address: Some(address),
                reason: Refusal::PermissionDenied,
            },
        ));
    }
    let t = d.tracked();
    assert_eq!(t.rate_actors, 50_000);
    assert_eq!(t.rate_submitters, 1);
    assert_eq!(t.denied_identities, 100_000);
    assert_eq!(t.denied_addresses, 100_000);
    // The most recent keys are the ones kept: the last actor's two
    // denials still count towards a burst.
    let last = recorded("svc", "actor-999999", "x.y", "k/i", Outcome::Denied);
    let alerts = spread(&mut d, MONDAY + 1_000_000, 1_000, 18, &last);
    assert_eq!(only(&alerts, AlertKind::DeniedBurstIdentity).len(), 1);
    assert_eq!(alerts[0].evidence["count"], 20);

    // The seen set of privileged pairs and the cooldown table.
    let mut cfg = GuardConfig::default();
    cfg.new_privileged_actor.actions = vec!["role.*".into()];
    cfg.new_privileged_actor.max_pairs = 20_000;
    cfg.max_alerted_subjects = 10_000;
    let mut d = Detectors::new(&cfg).unwrap();
    for i in 0..100_000u64 {
        let o = recorded(
            "svc",
            &format!("actor-{i}"),
            "role.assign",
            "role/r",
            Outcome::Success,
        );
        assert_eq!(d.observe(&at(MONDAY + i, o)).len(), 1);
    }
    for i in 0..100_000 {
        d.seed_privileged(&format!("admin-{i}"), "role.assign");
    }
    let t = d.tracked();
    assert_eq!((t.privileged_pairs, t.alerted_subjects), (20_000, 10_000));
}

#[test]
fn off_turns_everything_off() {
    let cfg = GuardConfig {
        enabled: false,
        ..GuardConfig::default()
    };
    let mut d = Detectors::new(&cfg).unwrap();
    let o = at(MONDAY, Observed::SignerRefused { error: "no".into() });
    assert!(d.observe(&o).is_empty());
    let mut cfg = GuardConfig::default();
    cfg.signer_refused.enabled = false;
    assert!(Detectors::new(&cfg).unwrap().observe(&o).is_empty());
}

#[test]
fn bad_settings_are_refused_with_the_key() {
    let bad = |edit: &dyn Fn(&mut GuardConfig), key: &str| {
        let mut cfg = GuardConfig::default();
        edit(&mut cfg);
        let e = Detectors::new(&cfg).unwrap_err();
        assert!(e.starts_with(key), "{key}: {e}");
    };
    bad(
        &|c| c.protected_resource.resources = vec!["secret/[ab]".into()],
        "protected_resource.resources[0]: ",
    );
    bad(
        &|c| c.protected_resource.actions = vec![String::new()],
        "protected_resource.actions[0]: ",
    );
    bad(
        &|c| c.new_privileged_actor.actions = vec!["ok".into(), "role.{a,b}".into()],
        "new_privileged_actor.actions[1]: ",
    );
    bad(
        &|c| c.off_hours.actors = vec!["a\\b".into()],
        "off_hours.actors[0]: ",
    );
    for hours in [
        "8-18",
        "08:00",
        "08:00-25:00",
        "24:00-08:00",
        "08:60-09:00",
        "09:00-09:00",
    ] {
        bad(&|c| c.off_hours.hours = hours.into(), "off_hours.hours: ");
    }
    bad(
        &|c| c.off_hours.days = vec!["mon".into(), "funday".into()],
        "off_hours.days[1]: ",
    );
    for offset in ["01:00", "+1", "+25:00", "UTC"] {
        bad(
            &|c| c.off_hours.utc_offset = offset.into(),
            "off_hours.utc_offset: ",
        );
    }
    bad(
        &|c| c.rate_spike_actor.window = std::time::Duration::ZERO,
        "rate_spike_actor.window: ",
    );
    bad(
        &|c| c.rate_spike_submitter.smoothing = 0.0,
        "rate_spike_submitter.smoothing: ",
    );
    bad(
        &|c| c.rate_spike_actor.sigmas = f64::NAN,
        "rate_spike_actor.sigmas: ",
    );
    bad(
        &|c| c.rate_spike_actor.min_count = 0,
        "rate_spike_actor.min_count: ",
    );
    bad(
        &|c| c.denied_burst_address.threshold = 0,
        "denied_burst_address.threshold: ",
    );
    bad(
        &|c| c.denied_burst_identity.max_keys = 0,
        "denied_burst_identity.max_keys: ",
    );
    bad(&|c| c.max_alerted_subjects = 0, "max_alerted_subjects: ");
}

#[test]
fn the_configuration_reads_from_toml_with_defaults_and_refuses_unknown_keys() {
    let empty: GuardConfig = toml::from_str("").unwrap();
    assert_eq!(empty, GuardConfig::default());
    let cfg: GuardConfig = toml::from_str(
        r#"
        [rate_spike_actor]
        window = "30s"
        sigmas = 8.0
        [protected_resource]
        resources = ["secret/*"]
        cooldown = "1h"
        [off_hours]
        actors = ["staff-*"]
        days = ["mon", "sat"]
        "#,
    )
    .unwrap();
    assert_eq!(
        cfg.rate_spike_actor.window,
        std::time::Duration::from_secs(30)
    );
    assert_eq!(cfg.rate_spike_actor.sigmas, 8.0);
    assert_eq!(cfg.rate_spike_actor.min_count, 30);
    assert_eq!(
        cfg.protected_resource.cooldown,
        std::time::Duration::from_secs(3600)
    );
    assert!(cfg.protected_resource.enabled);
    assert_eq!(cfg.off_hours.hours, "08:00-18:00");
    Detectors::new(&cfg).unwrap();
    // What is written reads back the same.
    let again: GuardConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(again, cfg);

    for (text, needle) in [
        ("[rate_spike_actor]\nwindoww = \"1m\"", "windoww"),
        ("colour = 1", "colour"),
        ("[stale_checkpoint]\nmax_age = \"10\"", "no unit"),
        ("[clock_backwards]\ntolerance = \"1d\"", "unit"),
    ] {
        let e = toml::from_str::<GuardConfig>(text).unwrap_err().to_string();
        assert!(e.contains(needle), "{text}: {e}");
    }
}

#[test]
fn alert_kinds_have_one_name_each() {
    let names: std::collections::BTreeSet<&str> =
        AlertKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names.len(), AlertKind::ALL.len());
    for k in AlertKind::ALL {
        assert_eq!(k.as_str().parse::<AlertKind>().unwrap(), k);
        assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
    }
    assert!(
        "rate_spike"
            .parse::<AlertKind>()
            .unwrap_err()
            .contains("rate_spike_actor")
    );
}

#[test]
fn detectors_can_move_to_another_thread() {
    // The server keeps them behind a lock shared by its tasks.
    fn send<T: Send + Sync + 'static>(_: &T) {}
    send(&Detectors::new(&GuardConfig::default()).unwrap());
}

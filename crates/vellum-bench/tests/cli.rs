//! Every subcommand of `vellum-bench` in its short form: it runs, exits 0,
//! and prints results that parse and hang together. These tests assert
//! behaviour (answers counted, proofs verified, baselines and ratios
//! present), never speed.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vellum-bench"))
        .args(args)
        .output()
        .expect("run vellum-bench")
}

fn ok(args: &[&str]) -> Output {
    let out = bench(args);
    assert!(
        out.status.success(),
        "vellum-bench {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs with `--json` and returns the result objects.
fn json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = ok(&all);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

fn kind<'a>(results: &'a [Value], kind: &str) -> Vec<&'a Value> {
    results.iter().filter(|v| v["kind"] == kind).collect()
}

fn one<'a>(results: &'a [Value], k: &str) -> &'a Value {
    let v = kind(results, k);
    assert_eq!(v.len(), 1, "expected one {k:?} result in {results:#?}");
    v[0]
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

const SHORT: [&str; 4] = ["--duration", "1s", "--warmup", "0s"];

fn with_short<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend_from_slice(&SHORT);
    v
}

#[test]
fn unary_durable_with_baselines_and_ratios() {
    let r = json(&with_short(&[
        "append",
        "--mode",
        "unary",
        "--concurrency",
        "8",
    ]));
    let a = one(&r, "append");
    assert_eq!(a["mode"], "unary");
    assert_eq!(a["batch"], 1);
    assert!(a["entries_ok"].as_u64().unwrap() > 0);
    assert_eq!(a["invalid"], 0);
    assert_eq!(a["failed"], 0);
    assert!(f(&a["latency"], "p50_ms") > 0.0);
    assert!(f(&a["latency"], "p99_ms") >= f(&a["latency"], "p50_ms"));
    assert!(f(&a["latency"], "p999_ms") >= f(&a["latency"], "p99_ms"));
    assert!(a["rounds"]["rounds"].as_u64().unwrap() > 0);
    assert_eq!(a["rounds"]["duplicates"], 0);
    let baselines = kind(&r, "baseline");
    let names: Vec<&str> = baselines
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"rocksdb_sync_batches") && names.contains(&"grpc_health_check"));
    for b in baselines {
        assert!(f(b, "items_per_sec") > 0.0, "{b}");
    }
    let ratios = one(&r, "ratios");
    assert!(f(ratios, "ours_over_rocksdb") > 0.0);
    assert!(f(ratios, "ours_over_grpc") > 0.0);
    let m = one(&r, "machine");
    assert!(m["nproc"].as_u64().unwrap() >= 1);
    assert!(m["loadavg_end"].as_array().unwrap().len() == 3);
}

#[test]
fn batched_checkpoint_answers_are_verified() {
    let r = json(&with_short(&[
        "append",
        "--mode",
        "batch",
        "--batch",
        "50",
        "--concurrency",
        "2",
        "--wait",
        "checkpoint",
        "--verify-every",
        "1",
        "--baselines",
        "false",
    ]));
    let a = one(&r, "append");
    assert_eq!(a["wait"], "checkpoint");
    assert_eq!(a["batch"], 50);
    assert_eq!(a["entries_ok"].as_u64().unwrap() % 50, 0);
    assert!(a["verified"].as_u64().unwrap() > 0);
    assert_eq!(a["invalid"], 0);
    assert!(kind(&r, "baseline").is_empty());
}

#[test]
fn streams_and_open_loop() {
    let r = json(&with_short(&[
        "append",
        "--mode",
        "stream",
        "--streams",
        "2",
        "--in-flight",
        "4",
        "--wait",
        "checkpoint",
        "--verify-every",
        "5",
        "--baselines",
        "false",
    ]));
    let a = one(&r, "append");
    assert_eq!(a["mode"], "stream");
    assert_eq!(a["concurrency"], 8);
    assert!(a["entries_ok"].as_u64().unwrap() > 0);
    assert!(a["verified"].as_u64().unwrap() > 0);
    assert_eq!(a["invalid"], 0);

    let r = json(&with_short(&[
        "append",
        "--rate",
        "200",
        "--concurrency",
        "4",
        "--baselines",
        "false",
    ]));
    let a = one(&r, "append");
    assert_eq!(a["offered_entries_per_sec"], 200);
    // 200/s for one second, give or take the calls at the window's edges.
    let n = a["entries_ok"].as_u64().unwrap();
    assert!(
        (150..=250).contains(&n),
        "{n} entries answered at 200/s for 1 s"
    );
}

#[test]
fn proofs_are_served_and_verified() {
    let r = json(&with_short(&[
        "proofs",
        "--fill",
        "2000",
        "--concurrency",
        "4",
    ]));
    let p = one(&r, "proofs");
    assert!(p["tree_size"].as_u64().unwrap() >= 2000);
    assert!(f(p, "proofs_per_sec") > 0.0);
    assert!(p["verified"].as_u64().unwrap() > 0);
    assert_eq!(p["invalid"], 0);
}

#[test]
fn fill_restart_size() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let r = json(&[
        "fill",
        "--entries",
        "5000",
        "--batch",
        "500",
        "--restarts",
        "1",
        "--data",
        d,
    ]);
    let fill = one(&r, "fill");
    assert_eq!(fill["entries"], 5000);
    assert!(fill["size_after"].as_u64().unwrap() >= 5000);
    let restarts = kind(&r, "restart");
    assert_eq!(restarts.len(), 2);
    for x in restarts {
        assert_eq!(x["entries"], 5000);
        assert!(f(x, "median_first_answer_ms") > 0.0);
    }
    let s = one(&r, "size");
    assert_eq!(s["entries"], 5000);
    assert_eq!(s["entry_bytes"], 5000 * 256);
    assert!(s["sst_bytes"].as_u64().unwrap() > 0);
    assert!(f(s, "tree_and_index_bytes_per_entry") > 0.0);

    // The standalone forms, on the folder the fill left.
    let r = json(&["restart", "--data", d, "--restarts", "1"]);
    assert_eq!(one(&r, "restart")["entries"], 5000);
    let r = json(&["size", "--data", d, "--no-compact"]);
    assert_eq!(one(&r, "size")["entries"], 5000);
    assert!(Path::new(d).join("log").is_dir());
}

#[test]
fn human_table() {
    let out = ok(&with_short(&["append", "--concurrency", "2"]));
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "measurement",
        "p99.9 ms",
        "append unary",
        "bare gRPC health",
        "raw RocksDB sync",
        "ratios:",
        "machine:",
        "load average",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
}

#[test]
fn against_a_running_server() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut opts = vellum_server::ServeOptions::embedded();
    opts.data = tmp.path().join("data");
    opts.listen = "127.0.0.1:0".parse().unwrap();
    let running = rt.block_on(vellum_server::start(opts)).unwrap();
    let url = format!("http://{}", running.grpc_addr);
    let vkey = running.vkey.to_string();
    let r = json(&with_short(&[
        "append",
        "--server",
        &url,
        "--vkey",
        &vkey,
        "--wait",
        "checkpoint",
        "--concurrency",
        "4",
        "--verify-every",
        "2",
    ]));
    let a = one(&r, "append");
    assert_eq!(a["server"]["embedded"], false);
    assert!(a["verified"].as_u64().unwrap() > 0);
    assert_eq!(a["invalid"], 0);
    // Baselines still run: bare gRPC against that server, RocksDB in a temp dir.
    assert_eq!(kind(&r, "baseline").len(), 2);

    let r = json(&with_short(&[
        "proofs",
        "--server",
        &url,
        "--vkey",
        &vkey,
        "--fill",
        "500",
        "--concurrency",
        "2",
    ]));
    assert!(one(&r, "proofs")["verified"].as_u64().unwrap() > 0);

    // A checkpoint wait cannot be verified without the key: refused.
    let out = bench(&with_short(&[
        "append",
        "--server",
        &url,
        "--wait",
        "checkpoint",
    ]));
    assert_eq!(out.status.code(), Some(2));
    rt.block_on(running.stop()).unwrap();
}

#[test]
fn bad_flags_are_refused() {
    assert!(!bench(&["append", "--entry-size", "8"]).status.success());
    assert!(!bench(&["append", "--duration", "10"]).status.success());
    assert!(!bench(&["append", "--mode", "sideways"]).status.success());
}

/// The three overload phases run and report: capacity in closed loop, the
/// flood in open loop at 5x (with refusals counted and peak RSS read), and
/// recovery; the embedded log reports its own share of the latency.
#[test]
fn overload_phases() {
    let r = json(&[
        "overload",
        "--phase",
        "1s",
        "--callers",
        "8",
        "--batch",
        "16",
        "--max-in-flight",
        "2000",
    ]);
    let phases = kind(&r, "overload");
    let names: Vec<&str> = phases
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["capacity", "overload", "recovery"]);
    let (cap, over) = (phases[0], phases[1]);
    assert!(f(cap, "accepted_per_sec") > 0.0);
    assert_eq!(cap["entries_per_call"], 16);
    let offered = f(over, "offered_per_sec");
    let expected = 5.0 * f(cap, "accepted_per_sec");
    assert!(
        (offered - expected).abs() < 1e-6 * expected,
        "offered {offered}, 5x capacity is {expected}"
    );
    assert!(over["sent"].as_u64().unwrap() > 0);
    assert!(over["peak_rss_kib"].as_u64().unwrap() > 0);
    for p in &phases {
        assert!(p["other_errors"].as_array().unwrap().is_empty(), "{p}");
        if p["shed"].as_u64().unwrap() < p["sent"].as_u64().unwrap() {
            assert!(f(p, "log_p50_ms") <= f(p, "log_p99_ms"), "{p}");
        }
    }
}

/// The embedded server takes a `vellum serve` configuration file, read by
/// serve's own type; a tuning flag beats the file.
#[test]
fn the_embedded_server_takes_a_serve_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("vellum.toml");
    std::fs::write(
        &config,
        "[log.pool]\nmax_entries = 123\nmax_delay = \"3ms\"\n\n[log.queue]\nmax_entries = 4567\n",
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["append", "--baselines", "false", "--config", c];
        args.extend_from_slice(extra);
        let r = json(&with_short(&args));
        one(&r, "append")["server"].clone()
    };
    let server = run(&[]);
    assert_eq!(server["pool_max_entries"], 123, "{server}");
    assert_eq!(server["queue_max_entries"], 4567, "{server}");
    assert!(
        (f(&server, "pool_max_delay_ms") - 3.0).abs() < 1e-9,
        "{server}"
    );
    let server = run(&["--pool-max-entries", "77"]);
    assert_eq!(server["pool_max_entries"], 77, "{server}");
    assert_eq!(server["queue_max_entries"], 4567, "{server}");

    // A bad key is refused with the file, its line and the key.
    std::fs::write(&config, "[log.pool]\nmax_entris = 1\n").unwrap();
    let out = bench(&with_short(&["append", "--config", c]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("vellum.toml:2:") && err.contains("max_entris"),
        "{err}"
    );
}

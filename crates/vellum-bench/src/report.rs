//! Output: a table for people (stdout; stderr with `--json`), and with
//! `--json` one JSON object per result on stdout.

use std::fmt::Write as _;

use serde::Serialize;

use crate::machine::Machine;
use crate::stats::{Latency, Recorder};

/// One line of the load table.
#[derive(Clone, Debug)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// Offered load (entries or calls per second), if open loop.
    pub offered: Option<f64>,
    /// Entries (proofs, checks) per second.
    pub items_per_sec: f64,
    /// Calls per second.
    pub calls_per_sec: f64,
    /// Latency percentiles.
    pub latency: Latency,
    /// Errors, shed calls, unsent and invalid answers, as text.
    pub errors: String,
}

impl Row {
    /// A row from a merged recorder over `secs` seconds.
    pub fn from_recorder(name: String, offered: Option<f64>, rec: &Recorder, secs: f64) -> Row {
        Row {
            name,
            offered,
            items_per_sec: rec.ok_items as f64 / secs,
            calls_per_sec: rec.ok_calls as f64 / secs,
            latency: rec.latency(),
            errors: error_text(rec),
        }
    }
}

/// Errors as a short text: `shed 12, UNAVAILABLE 1, invalid 0`.
pub fn error_text(rec: &Recorder) -> String {
    let mut parts = Vec::new();
    if rec.shed() > 0 {
        parts.push(format!("shed {}", rec.shed()));
    }
    for (code, n) in &rec.errors {
        if code != "RESOURCE_EXHAUSTED" {
            parts.push(format!("{code} {n}"));
        }
    }
    if rec.unsent > 0 {
        parts.push(format!("unsent {}", rec.unsent));
    }
    if rec.invalid > 0 {
        parts.push(format!("INVALID {}", rec.invalid));
    }
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join(", ")
    }
}

/// `1234567.8` as `1,234,568`.
pub fn thousands(v: f64) -> String {
    let n = v.round() as i128;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Collects a run's results.
#[derive(Debug)]
pub struct Output {
    json: bool,
    rows: Vec<Row>,
    sections: Vec<(String, Vec<String>)>,
}

impl Output {
    /// An output; `json` selects JSON lines on stdout.
    pub fn new(json: bool) -> Output {
        Output {
            json,
            rows: Vec::new(),
            sections: Vec::new(),
        }
    }

    /// Emits one result object (JSON mode only; the table has its own rows).
    pub fn result<T: Serialize>(&self, v: &T) {
        if self.json {
            match serde_json::to_string(v) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("vellum-bench: cannot encode a result: {e}"),
            }
        }
    }

    /// Adds a table row.
    pub fn row(&mut self, r: Row) {
        self.rows.push(r);
    }

    /// Adds a titled block of lines after the table.
    pub fn section(&mut self, title: &str, lines: Vec<String>) {
        self.sections.push((title.to_owned(), lines));
    }

    /// Prints the table and the sections, then the machine.
    pub fn finish(&self, machine: &Machine) {
        #[derive(Serialize)]
        struct M<'a> {
            kind: &'static str,
            #[serde(flatten)]
            machine: &'a Machine,
        }
        self.result(&M {
            kind: "machine",
            machine,
        });
        let text = self.render(machine);
        if self.json {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    }

    fn render(&self, m: &Machine) -> String {
        let mut s = String::new();
        if !self.rows.is_empty() {
            let head = [
                "measurement",
                "offered/s",
                "achieved/s",
                "calls/s",
                "p50 ms",
                "p99 ms",
                "p99.9 ms",
                "max ms",
                "errors",
            ];
            let cells: Vec<[String; 9]> = self
                .rows
                .iter()
                .map(|r| {
                    [
                        r.name.clone(),
                        r.offered.map(thousands).unwrap_or_else(|| "max".into()),
                        thousands(r.items_per_sec),
                        thousands(r.calls_per_sec),
                        format!("{:.3}", r.latency.p50_ms),
                        format!("{:.3}", r.latency.p99_ms),
                        format!("{:.3}", r.latency.p999_ms),
                        format!("{:.3}", r.latency.max_ms),
                        r.errors.clone(),
                    ]
                })
                .collect();
            let mut width = head.map(str::len);
            for c in &cells {
                for (w, v) in width.iter_mut().zip(c) {
                    *w = (*w).max(v.chars().count());
                }
            }
            let line = |s: &mut String, v: &[String]| {
                for (i, (w, c)) in width.iter().zip(v).enumerate() {
                    let _ = if i == 0 || i == 8 {
                        write!(s, "{c:<w$}  ")
                    } else {
                        write!(s, "{c:>w$}  ")
                    };
                }
                let t = s.trim_end().len();
                s.truncate(t);
                s.push('\n');
            };
            line(&mut s, &head.map(str::to_owned));
            line(&mut s, &width.map(|w| "-".repeat(w)));
            for c in &cells {
                line(&mut s, c);
            }
        }
        for (title, lines) in &self.sections {
            let _ = writeln!(s, "\n{title}:");
            for l in lines {
                let _ = writeln!(s, "  {l}");
            }
        }
        let _ = writeln!(
            s,
            "\nmachine: {} CPUs ({}), {:.1} GiB, Linux {}; load average {:.2} {:.2} {:.2} at start, {:.2} {:.2} {:.2} at end",
            m.nproc,
            m.cpu_model,
            m.mem_total_gib,
            m.kernel,
            m.loadavg_start[0],
            m.loadavg_start[1],
            m.loadavg_start[2],
            m.loadavg_end[0],
            m.loadavg_end[1],
            m.loadavg_end[2],
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1234567.8), "1,234,568");
        assert_eq!(thousands(-4200.0), "-4,200");
    }
}

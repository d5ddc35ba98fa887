//! The machine a figure was measured on, and where its CPU time went.
//!
//! The load generator and the embedded server share the machine (and, on a
//! shared host, other people's work does too), so every run reports the
//! load average and, for the measured window, the CPU used by this process
//! per thread group (server runtime, client runtime, sequencer, RocksDB
//! background threads) and by the whole machine, from `/proc`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

/// What the machine is.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// CPUs available to this process.
    pub nproc: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// Total memory, from /proc/meminfo.
    pub mem_total_gib: f64,
    /// The 1, 5 and 15 minute load averages when the run started.
    pub loadavg_start: [f64; 3],
    /// ... and when it ended.
    pub loadavg_end: [f64; 3],
    /// The kernel release.
    pub kernel: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The load averages (zeros if /proc is not there).
pub fn loadavg() -> [f64; 3] {
    let s = read("/proc/loadavg");
    let mut it = s.split_whitespace().map(|v| v.parse().unwrap_or(0.0));
    [
        it.next().unwrap_or(0.0),
        it.next().unwrap_or(0.0),
        it.next().unwrap_or(0.0),
    ]
}

impl Machine {
    /// Describes the machine now; call [`Machine::finish`] at the end.
    pub fn start() -> Machine {
        let cpu_model = read("/proc/cpuinfo")
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let mem_total_gib = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / (1024.0 * 1024.0))
            .unwrap_or(0.0);
        let l = loadavg();
        Machine {
            nproc: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu_model,
            mem_total_gib: (mem_total_gib * 10.0).round() / 10.0,
            loadavg_start: l,
            loadavg_end: l,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        }
    }

    /// Notes the load average at the end of the run.
    pub fn finish(&mut self) {
        self.loadavg_end = loadavg();
    }
}

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU times at one moment.
#[derive(Clone, Debug)]
pub struct CpuSample {
    at: Instant,
    /// Ticks per thread group of this process (threads alive now).
    threads: BTreeMap<String, u64>,
    /// Ticks of this process, every thread that ever ran included.
    process: u64,
    /// Busy and total ticks of the whole machine.
    system: (u64, u64),
}

/// The group of a thread: its name without a trailing number.
fn group(name: &str) -> String {
    name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '#')
        .to_owned()
}

/// utime + stime from a `/proc/.../stat` line.
fn stat_ticks(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // Fields after the name: state is [0]; utime and stime are fields 14
    // and 15 of the whole line, [11] and [12] here.
    let u: u64 = rest.get(11)?.parse().ok()?;
    let s: u64 = rest.get(12)?.parse().ok()?;
    Some((name, u + s))
}

impl CpuSample {
    /// Reads the CPU times now.
    pub fn now() -> CpuSample {
        let mut threads = BTreeMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
            for t in dir.flatten() {
                let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                if let Some((name, ticks)) = stat_ticks(&stat) {
                    *threads.entry(group(&name)).or_default() += ticks;
                }
            }
        }
        let process = stat_ticks(&read("/proc/self/stat"))
            .map(|(_, t)| t)
            .unwrap_or(0);
        let system = read("/proc/stat")
            .lines()
            .next()
            .map(|l| {
                let v: Vec<u64> = l
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|x| x.parse().ok())
                    .collect();
                // user nice system idle iowait irq softirq steal ...
                let total: u64 = v.iter().take(8).sum();
                let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
                (total - idle, total)
            })
            .unwrap_or((0, 0));
        CpuSample {
            at: Instant::now(),
            threads,
            process,
            system,
        }
    }

    /// CPU used between `earlier` and this sample, in cores (1.0 = one CPU
    /// busy all the time).
    pub fn since(&self, earlier: &CpuSample) -> CpuUse {
        let secs = (self.at - earlier.at).as_secs_f64().max(1e-9);
        let cores = |ticks: u64| (ticks as f64 / TICKS_PER_SEC / secs * 100.0).round() / 100.0;
        let mut by_thread = BTreeMap::new();
        for (g, t) in &self.threads {
            let before = earlier.threads.get(g).copied().unwrap_or(0);
            let c = cores(t.saturating_sub(before));
            if c > 0.0 {
                by_thread.insert(g.clone(), c);
            }
        }
        let (busy, total) = (
            self.system.0.saturating_sub(earlier.system.0),
            self.system.1.saturating_sub(earlier.system.1),
        );
        let nproc = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1) as f64;
        CpuUse {
            process_cores: cores(self.process.saturating_sub(earlier.process)),
            machine_busy_cores: if total == 0 {
                0.0
            } else {
                (busy as f64 / total as f64 * nproc * 100.0).round() / 100.0
            },
            by_thread,
        }
    }
}

/// CPU use over an interval, in cores.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CpuUse {
    /// This process (server and load generator, when embedded).
    pub process_cores: f64,
    /// The whole machine, every process (others' work included).
    pub machine_busy_cores: f64,
    /// This process per thread group.
    pub by_thread: BTreeMap<String, f64>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_stat_lines() {
        let l = "123 (rocksdb:low) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
        assert_eq!(stat_ticks(l), Some(("rocksdb:low".into(), 300)));
        assert_eq!(group("bench-server-3"), "bench-server");
        assert_eq!(group("rocksdb:low"), "rocksdb:low");
    }
}

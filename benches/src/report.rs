//! What every benchmark prints with its numbers, so a section of
//! BENCHMARKS.md can be pasted as is: the machine (cores, CPU model, RAM,
//! kernel, rustc), the date, the exact command, and the load average
//! (`uptime`) when the measurement started and ended; plus the spread
//! (median, min, max) of several runs.

use std::process::Command;

/// The first line a program prints on standard output, trimmed; a note
/// saying it is not available when it cannot be run.
pub fn first_line(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned(),
        _ => format!("{program}: not available"),
    }
}

/// The value of `key` in a `key: value` file of /proc (`/proc/cpuinfo`,
/// `/proc/meminfo`, `/proc/<pid>/status`).
pub fn proc_field(file: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// The machine: `nproc` cores, CPU model, RAM, kernel and rustc.
pub fn machine() -> String {
    let cpu = proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown CPU".into());
    let cores = first_line("nproc", &[]);
    let mem_gib = proc_field("/proc/meminfo", "MemTotal")
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |kb| format!("{:.1}", kb / 1_048_576.0),
        );
    format!(
        "{cores} cores (`nproc`), {cpu}, {mem_gib} GiB RAM, Linux {}, {}",
        first_line("uname", &["-r"]),
        first_line("rustc", &["--version"])
    )
}

/// The load averages over 1, 5 and 15 minutes, as `uptime` prints them.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|| "unknown".into())
}

/// The current UTC date and time, to the minute.
pub fn now_utc() -> String {
    first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
}

/// Start of a measurement: date and load, printed with the results later.
pub struct Session {
    /// The command that reproduces the measurement, as typed.
    pub command: String,
    started: String,
    load_at_start: String,
    machine: String,
}

impl Session {
    /// Notes the machine, the time and the load now.
    pub fn start(command: impl Into<String>) -> Self {
        Session {
            command: command.into(),
            started: now_utc(),
            load_at_start: load(),
            machine: machine(),
        }
    }

    /// The section's heading lines: machine, date, command and the load
    /// average (1, 5, 15 min) at the start and now, at the end.
    pub fn print_header(&self, title: &str) {
        println!("## {title}");
        println!();
        println!("- Machine: {}.", self.machine);
        println!("- Date: {} to {}.", self.started, now_utc());
        println!("- Command: `{}`.", self.command);
        println!(
            "- Load average (`uptime`: 1, 5, 15 min): {} at the start, {} at the end.",
            self.load_at_start,
            load()
        );
    }
}

impl Session {
    /// For a benchmark that prints its rows as it goes: the heading lines
    /// now (the load at the start), [`Session::print_end`] after the table.
    pub fn print_start(&self, title: &str) {
        println!("## {title}");
        println!();
        println!("- Machine: {}.", self.machine);
        println!("- Command: `{}`.", self.command);
        println!(
            "- Started: {}, load average (`uptime`: 1, 5, 15 min) {}.",
            self.started, self.load_at_start
        );
        println!();
    }

    /// The line after a table started with [`Session::print_start`].
    pub fn print_end(&self) {
        println!();
        println!(
            "- Ended: {}, load average (`uptime`: 1, 5, 15 min) {}.",
            now_utc(),
            load()
        );
    }
}

/// Median, minimum and maximum of a set of runs, and the runs in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// The middle value (the upper middle for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// Every run's value, in the order they ran.
    pub each: Vec<f64>,
}

impl Spread {
    /// The spread of `values`; `None` when there are none (or a NaN).
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        Some(Spread {
            median: v[v.len() / 2],
            min: v[0],
            max: v[v.len() - 1],
            each: values.to_vec(),
        })
    }

    /// `median | min | max | each run` cells, with `decimals` places and
    /// `unit` (the runs separated by ` / `, without the unit).
    pub fn cells(&self, decimals: usize, unit: &str) -> String {
        let f = |x: f64| {
            if unit.is_empty() {
                format!("{x:.decimals$}")
            } else {
                format!("{x:.decimals$} {unit}")
            }
        };
        let each: Vec<String> = self
            .each
            .iter()
            .map(|x| format!("{x:.decimals$}"))
            .collect();
        format!(
            "{} | {} | {} | {}",
            f(self.median),
            f(self.min),
            f(self.max),
            each.join(" / ")
        )
    }
}

/// The header of a table of [`spread_row`]s.
pub const SPREAD_HEADER: &str =
    "| measure | median | min | max | each run |\n|---|---|---|---|---|";

/// A table row `| label | median | min | max | each run |`; `n/a` cells
/// when there are no values.
pub fn spread_row(label: &str, values: &[f64], decimals: usize, unit: &str) -> String {
    match Spread::of(values) {
        Some(s) => format!("| {label} | {} |", s.cells(decimals, unit)),
        None => format!("| {label} | n/a | n/a | n/a | |"),
    }
}

/// Resident set size of process `pid` from `/proc/<pid>/status`, in KiB:
/// `(VmRSS, VmHWM)`, now and at its peak.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let file = format!("/proc/{pid}/status");
    let kib = |key: &str| -> Option<u64> {
        proc_field(&file, key)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((kib("VmRSS")?, kib("VmHWM")?))
}

/// CPU time (user + system) process `pid` has used so far, in seconds,
/// from `/proc/<pid>/stat` (clock ticks of `sysconf(_SC_CLK_TCK)`, 100 on
/// Linux).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_median_min_max() {
        let s = Spread::of(&[3.0, 1.0, 2.0, 10.0, 4.0]).expect("values");
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 10.0));
        assert_eq!(
            s.cells(1, "s"),
            "3.0 s | 1.0 s | 10.0 s | 3.0 / 1.0 / 2.0 / 10.0 / 4.0"
        );
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(Spread::of(&[1.0, f64::NAN]), None);
        assert_eq!(spread_row("x", &[], 0, ""), "| x | n/a | n/a | n/a | |");
    }

    #[test]
    fn own_process_has_rss_and_cpu_time() {
        let pid = std::process::id();
        let (rss, hwm) = rss_kib(pid).expect("VmRSS and VmHWM of this process");
        assert!(rss > 0 && hwm >= rss, "VmRSS {rss} KiB, VmHWM {hwm} KiB");
        // Burn a little CPU so the counter has moved past zero ticks.
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i ^ (x >> 3)));
        }
        std::hint::black_box(x);
        assert!(cpu_seconds(pid).expect("utime + stime") > 0.0);
    }
}

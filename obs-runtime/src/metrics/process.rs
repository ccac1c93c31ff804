//! The standard `process_*` metrics, read from `/proc` at scrape time (Linux only; on other
//! systems, or when `/proc` is unreadable, the affected metrics are simply absent).

use crate::schema;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;
use std::fs;

/// Linux reports CPU times in `USER_HZ` ticks, which the kernel fixes at 100 for user space on
/// every architecture Rust targets; reading it through `sysconf` would need `unsafe` FFI.
const TICKS_PER_SECOND: f64 = 100.0;

/// A reading of the process's resources.
#[derive(Debug, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_memory_bytes: Option<u64>,
    pub virtual_memory_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub threads: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

impl ProcessStats {
    /// Reads the current process's statistics from `/proc/self`.
    pub fn read() -> Self {
        let stat = fs::read_to_string("/proc/self/stat").ok();
        let fields = stat.as_deref().and_then(stat_fields_after_command);
        let ticks = |index: usize| -> Option<f64> {
            #[allow(clippy::cast_precision_loss)] // tick counts stay far below 2^53
            fields.as_ref()?.get(index)?.parse::<u64>().ok().map(|ticks| ticks as f64 / TICKS_PER_SECOND)
        };
        // Field numbers from proc(5), counted from the state field (3) after the command.
        let cpu_seconds = ticks(14 - 3).zip(ticks(15 - 3)).map(|(user, system)| user + system);
        let started_after_boot = ticks(22 - 3);
        let boot_time = fs::read_to_string("/proc/stat").ok().and_then(|text| parse_boot_time(&text));
        #[allow(clippy::cast_precision_loss)]
        let start_time_seconds = boot_time.zip(started_after_boot).map(|(boot, after)| boot as f64 + after);

        let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
        ProcessStats {
            cpu_seconds,
            resident_memory_bytes: status_kib(&status, "VmRSS:").map(|kib| kib * 1024),
            virtual_memory_bytes: status_kib(&status, "VmSize:").map(|kib| kib * 1024),
            open_fds: fs::read_dir("/proc/self/fd").ok().map(|entries| entries.count() as u64),
            max_fds: fs::read_to_string("/proc/self/limits").ok().and_then(|text| parse_max_open_files(&text)),
            threads: status_kib(&status, "Threads:"),
            start_time_seconds,
        }
    }
}

/// The space-separated fields after the `(command)`, which may itself contain spaces and `)`.
fn stat_fields_after_command(stat: &str) -> Option<Vec<String>> {
    let after = &stat[stat.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// The number in a `/proc/self/status` line such as `VmRSS:   1234 kB` or `Threads: 4`.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| line.strip_prefix(key)?.split_whitespace().next()?.parse().ok())
}

fn parse_boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat.lines().find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())
}

fn parse_max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

/// The collector registered in the global registry.
#[derive(Debug)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = ProcessStats::read();
        if let Some(seconds) = stats.cpu_seconds {
            let counter = ConstCounter::new(seconds);
            counter.encode(encoder.encode_descriptor(
                schema::PROCESS_CPU_SECONDS.stem,
                schema::PROCESS_CPU_SECONDS.help,
                Some(&Unit::Seconds),
                counter.metric_type(),
            )?)?;
        }
        let gauges: [(schema::Metric, Option<Unit>, Option<f64>); 6] = [
            (schema::PROCESS_RESIDENT_MEMORY, Some(Unit::Bytes), as_f64(stats.resident_memory_bytes)),
            (schema::PROCESS_VIRTUAL_MEMORY, Some(Unit::Bytes), as_f64(stats.virtual_memory_bytes)),
            (schema::PROCESS_OPEN_FDS, None, as_f64(stats.open_fds)),
            (schema::PROCESS_MAX_FDS, None, as_f64(stats.max_fds)),
            (schema::PROCESS_THREADS, None, as_f64(stats.threads)),
            (schema::PROCESS_START_TIME, Some(Unit::Seconds), stats.start_time_seconds),
        ];
        for (metric, unit, value) in gauges {
            let (name, help) = (metric.stem, metric.help);
            if let Some(value) = value {
                let gauge = ConstGauge::new(value);
                gauge.encode(encoder.encode_descriptor(name, help, unit.as_ref(), gauge.metric_type())?)?;
            }
        }
        Ok(())
    }
}

#[allow(clippy::cast_precision_loss)] // byte and fd counts stay far below 2^53
fn as_f64(value: Option<u64>) -> Option<f64> {
    value.map(|value| value as f64)
}

#[cfg(test)]
mod tests {
    use super::{ProcessStats, parse_max_open_files, stat_fields_after_command, status_kib};

    #[test]
    fn parses_proc_formats() {
        let fields = stat_fields_after_command("42 (my (odd) cmd) S 1 42 42 0 -1").unwrap();
        assert_eq!(fields[0], "S");
        assert_eq!(status_kib("Name:\tx\nVmRSS:\t  2048 kB\nThreads:\t7\n", "VmRSS:"), Some(2048));
        assert_eq!(status_kib("Threads:\t7\n", "Threads:"), Some(7));
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(parse_max_open_files(limits), Some(1024));
    }

    #[test]
    fn reads_this_process() {
        let stats = ProcessStats::read();
        assert!(stats.resident_memory_bytes.unwrap() > 0);
        assert!(stats.threads.unwrap() >= 1);
        assert!(stats.open_fds.unwrap() >= 3);
        assert!(stats.max_fds.unwrap() >= stats.open_fds.unwrap());
        assert!(stats.cpu_seconds.unwrap() >= 0.0);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        let start = stats.start_time_seconds.unwrap();
        assert!(start <= now + 1.0 && start > now - 86_400.0 * 365.0, "{start} vs {now}");
    }
}

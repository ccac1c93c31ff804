//! Scratch directories removed on drop, deadline-based polling, and a timeline of test steps.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A fresh directory under the system temp dir, unique per process and call, removed on drop.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `<tmp>/obs-<label>-<pid>-<n>`.
    ///
    /// # Panics
    /// When the directory cannot be created.
    #[must_use]
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("obs-{label}-{}-{n}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).unwrap_or_else(|error| panic!("cannot clear {}: {error}", path.display()));
        }
        std::fs::create_dir_all(&path).unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        ScratchDir { path }
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `name` inside the directory.
    #[must_use]
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `contents` to `name` inside the directory (creating parent directories), returning its path.
    ///
    /// # Panics
    /// On an I/O error.
    #[must_use = "the path of the file written"]
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("mkdir {}: {error}", parent.display()));
        }
        std::fs::write(&path, contents).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Calls `probe` every `every` until it returns `Some`, or panics once `deadline` has passed.
///
/// The panic message names `what` and appends `context()`, called only on failure (e.g. the
/// stderr tail of the process being waited for).
///
/// # Panics
/// When the deadline passes first.
pub fn poll_until<T>(
    what: &str,
    deadline: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let until = Instant::now() + deadline;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < until, "gave up after {deadline:?} waiting for {what}\n{}", context());
        std::thread::sleep(every);
    }
}

/// The last `count` lines of `lines`, joined, for panic messages.
#[must_use]
pub fn tail(lines: &[String], count: usize) -> String {
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// Elapsed seconds at each named step of a test, printed to stderr as they happen.
#[derive(Debug)]
pub struct Timeline {
    start: Instant,
    name: String,
    steps: Vec<(f64, String)>,
}

impl Timeline {
    /// Starts the clock.
    #[must_use]
    pub fn new(name: &str) -> Self {
        Timeline { start: Instant::now(), name: name.to_owned(), steps: Vec::new() }
    }

    /// Records `step` at the current elapsed time and prints it.
    pub fn mark(&mut self, step: &str) {
        let seconds = self.start.elapsed().as_secs_f64();
        eprintln!("[{} +{seconds:7.2}s] {step}", self.name);
        self.steps.push((seconds, step.to_owned()));
    }

    /// The steps so far: elapsed seconds and description.
    #[must_use]
    pub fn steps(&self) -> &[(f64, String)] {
        &self.steps
    }

    /// The whole timeline as lines.
    #[must_use]
    pub fn render(&self) -> String {
        self.steps.iter().map(|(seconds, step)| format!("  +{seconds:7.2}s  {step}")).collect::<Vec<_>>().join("\n")
    }
}

/// Waits until a stderr line of `process` satisfies `predicate`, returning it (Prometheus and
/// Alertmanager log to stderr).
///
/// # Panics
/// When `deadline` passes first, with the stderr tail in the message.
pub fn wait_for_stderr(
    process: &crate::process::Spawned,
    what: &str,
    deadline: Duration,
    predicate: impl Fn(&str) -> bool,
) -> String {
    poll_until(
        what,
        deadline,
        Duration::from_millis(20),
        || process.stderr_lines().into_iter().find(|line| predicate(line)),
        || format!("stderr tail:\n{}", tail(&process.stderr_lines(), 40)),
    )
}

/// The address a Prometheus-ecosystem server logged in its `msg="Listening on" address=...` line
/// (the real port when started on port 0).
///
/// # Panics
/// When no such line appears before `deadline`.
#[must_use]
pub fn listening_address(process: &crate::process::Spawned, deadline: Duration) -> std::net::SocketAddr {
    let line = wait_for_stderr(process, "the \"Listening on\" log line", deadline, |line| {
        line.contains("msg=\"Listening on\"") && line.contains("address=")
    });
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("address="))
        .and_then(|address| address.trim_matches('"').parse().ok())
        .unwrap_or_else(|| panic!("no address in {line}"))
}

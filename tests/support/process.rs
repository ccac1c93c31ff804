//! Child processes for end-to-end tests: stdout collected line by line, waited on with a
//! deadline, and always stopped (SIGTERM, then SIGKILL) when the handle drops.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Lines a child wrote, shared with the thread that reads them.
#[derive(Default)]
struct Lines {
    lines: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

/// A running child process.
pub struct Spawned {
    child: Child,
    stdout: Arc<Lines>,
    stderr: Arc<Lines>,
    name: String,
}

fn collect(reader: impl std::io::Read + Send + 'static, into: Arc<Lines>) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            let mut guard = into.lines.lock().unwrap_or_else(PoisonError::into_inner);
            guard.0.push(line);
            into.changed.notify_all();
        }
        into.lines.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        into.changed.notify_all();
    });
}

impl Spawned {
    /// Starts `command` with piped stdout and stderr.
    ///
    /// # Panics
    /// When the program cannot be started.
    #[must_use]
    pub fn start(mut command: Command) -> Self {
        let name = command.get_program().display().to_string();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
        let stdout = Arc::new(Lines::default());
        let stderr = Arc::new(Lines::default());
        collect(child.stdout.take().expect("piped stdout"), Arc::clone(&stdout));
        collect(child.stderr.take().expect("piped stderr"), Arc::clone(&stderr));
        Spawned { child, stdout, stderr, name }
    }

    /// The process id.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// All stdout lines so far.
    #[must_use]
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lines.lock().unwrap_or_else(PoisonError::into_inner).0.clone()
    }

    /// All stderr lines so far.
    #[must_use]
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lines.lock().unwrap_or_else(PoisonError::into_inner).0.clone()
    }

    /// Waits until a stdout line satisfies `predicate`, returning it.
    ///
    /// # Panics
    /// When `deadline` passes or stdout closes first; the message includes what the child wrote.
    pub fn wait_for_line(&self, deadline: Duration, predicate: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + deadline;
        let mut guard = self.stdout.lines.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(line) = guard.0.iter().find(|line| predicate(line)) {
                return line.clone();
            }
            let now = Instant::now();
            assert!(
                !guard.1 && now < until,
                "{}: no matching line within {deadline:?}\nstdout:\n{}\nstderr:\n{}",
                self.name,
                guard.0.join("\n"),
                self.stderr_lines().join("\n")
            );
            guard = self.stdout.changed.wait_timeout(guard, until - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Sends SIGTERM and waits up to `deadline` for the process to exit.
    ///
    /// # Panics
    /// When `kill` cannot be run.
    pub fn terminate(&mut self, deadline: Duration) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let sent = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {} failed", self.child.id());
        let until = Instant::now() + deadline;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.wait_for_stdout_close(deadline);
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn wait_for_stdout_close(&self, deadline: Duration) {
        let until = Instant::now() + deadline;
        let mut guard = self.stdout.lines.lock().unwrap_or_else(PoisonError::into_inner);
        while !guard.1 && Instant::now() < until {
            guard = self
                .stdout
                .changed
                .wait_timeout(guard, Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The `target/<profile>` directory the running test binary was built into.
///
/// # Panics
/// When the test binary's path has an unexpected shape.
#[must_use]
pub fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>").to_path_buf()
}

/// The path of an example binary built by `cargo test --workspace`.
///
/// # Panics
/// When the example was not built.
#[must_use]
pub fn example_binary(name: &str) -> PathBuf {
    let path = target_profile_dir().join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run the whole suite with `cargo test --workspace`, which builds the examples",
        path.display()
    );
    path
}

/// Panics with an install hint unless `program` is on `PATH`: the test command installs every
/// tool the tests need, so a missing one is a broken setup, never a reason to skip.
///
/// # Panics
/// When the program is missing.
pub fn require_tool(program: &str, install_hint: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    assert!(found, "`{program}` is not installed: {install_hint} (scripts/test.sh installs it)");
}

/// Runs `program args` with `input` on its standard input; returns (success, stdout, stderr).
///
/// # Panics
/// When the program cannot be started or waited for.
#[must_use]
pub fn run_with_stdin(program: &str, args: &[&str], input: &str) -> (bool, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    let output = child.wait_with_output().expect("wait");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

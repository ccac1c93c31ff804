//! A real Alertmanager (Debian's `prometheus-alertmanager`) for end-to-end tests: its own storage
//! directory, a port chosen by the kernel, clustering off, readiness polled with a deadline.

use crate::http_client::request;
use crate::process::{Spawned, require_tool};
use crate::scratch::{ScratchDir, listening_address, poll_until, tail};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The Debian name of the Alertmanager binary.
pub const BINARY: &str = "prometheus-alertmanager";

const STARTUP_DEADLINE: Duration = Duration::from_mins(1);

/// A running Alertmanager, killed on drop; its storage directory is removed on drop.
pub struct Alertmanager {
    process: Spawned,
    addr: SocketAddr,
    _storage: ScratchDir,
}

/// Runs `amtool check-config` on `config`, returning its output when it rejects the file.
///
/// # Errors
/// amtool's output when the configuration is invalid.
///
/// # Panics
/// When amtool is missing or cannot be run.
pub fn check_config(config: &Path) -> Result<String, String> {
    require_tool("amtool", "apt-get install prometheus-alertmanager");
    let output = Command::new("amtool").arg("check-config").arg(config).output().expect("run amtool");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() { Ok(text) } else { Err(text) }
}

impl Alertmanager {
    /// Starts Alertmanager with `config` on 127.0.0.1 (port 0), clustering disabled
    /// (`--cluster.listen-address=`), and waits until `/-/ready` answers 200.
    ///
    /// # Panics
    /// When the binary is missing or it is not ready before the deadline (with its log tail).
    #[must_use]
    pub fn start(config: &Path) -> Self {
        require_tool(BINARY, "apt-get install prometheus-alertmanager");
        let storage = ScratchDir::new("alertmanager-data");
        let mut command = Command::new(BINARY);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", storage.path().display()))
            .arg("--web.listen-address=127.0.0.1:0")
            .arg("--cluster.listen-address=")
            .arg("--log.level=debug")
            .current_dir(storage.path());
        let process = Spawned::start(command);
        let addr = listening_address(&process, STARTUP_DEADLINE);
        let alertmanager = Alertmanager { process, addr, _storage: storage };
        poll_until(
            "Alertmanager /-/ready",
            STARTUP_DEADLINE,
            Duration::from_millis(100),
            || request(addr, "GET", "/-/ready", &[], "").ok().filter(|response| response.status == 200),
            || alertmanager.log_tail(),
        );
        alertmanager
    }

    /// Where the API listens.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The last lines Alertmanager logged, for failure messages.
    #[must_use]
    pub fn log_tail(&self) -> String {
        format!("alertmanager log (last 60 lines):\n{}", tail(&self.process.stderr_lines(), 60))
    }

    /// Every line Alertmanager logged so far.
    #[must_use]
    pub fn log_lines(&self) -> Vec<String> {
        self.process.stderr_lines()
    }

    /// The alerts Alertmanager holds (`GET /api/v2/alerts`).
    ///
    /// # Panics
    /// When the API call fails.
    #[must_use]
    pub fn alerts(&self) -> Vec<Value> {
        let response = request(self.addr, "GET", "/api/v2/alerts", &[], "").expect("GET /api/v2/alerts");
        assert_eq!(response.status, 200, "/api/v2/alerts: {}", response.body);
        serde_json::from_str(&response.body)
            .unwrap_or_else(|error| panic!("/api/v2/alerts ({error}): {}", response.body))
    }
}

//! Captures log lines written by the toolkit, for assertions.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// A shared buffer usable as `ObsBuilder::log_writer`.
#[derive(Clone, Debug, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far, as JSON values, one per line.
    ///
    /// # Panics
    /// When a line is not valid JSON: the log format under test is broken.
    #[must_use]
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        String::from_utf8(bytes)
            .expect("log output is UTF-8")
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
            .collect()
    }

    /// A writer appending to the buffer.
    #[must_use]
    pub fn writer(&self) -> CapturedWriter {
        CapturedWriter(Arc::clone(&self.0))
    }
}

/// One handle onto the buffer.
#[derive(Debug)]
pub struct CapturedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Everything written so far, raw.
    #[must_use]
    pub fn writer_bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

//! The OpenTelemetry resource: who produced the spans and log records.

use crate::telemetry::identity::ServiceIdentity;
use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::TelemetryResourceDetector;

/// `service.*`, `host.*`, `process.*` and `telemetry.sdk.*`, plus `OTEL_RESOURCE_ATTRIBUTES`
/// (`extra`), which cannot override what the toolkit knows for certain.
pub fn build(identity: &ServiceIdentity, instance_id: &str, extra: &[(String, String)]) -> Resource {
    let mut attributes: Vec<KeyValue> =
        extra.iter().map(|(key, value)| KeyValue::new(key.clone(), value.clone())).collect();
    attributes.extend([
        KeyValue::new("service.name", identity.name.clone()),
        KeyValue::new("service.version", identity.version.clone()),
        KeyValue::new("service.instance.id", instance_id.to_owned()),
        KeyValue::new("host.arch", std::env::consts::ARCH),
        KeyValue::new("os.type", std::env::consts::OS),
        KeyValue::new("process.pid", i64::from(std::process::id())),
        KeyValue::new("process.runtime.name", "rust"),
    ]);
    if let Some(host) = host_name() {
        attributes.push(KeyValue::new("host.name", host));
    }
    if let Some(executable) = executable_name() {
        attributes.push(KeyValue::new("process.executable.name", executable));
    }
    Resource::builder_empty().with_detector(Box::new(TelemetryResourceDetector)).with_attributes(attributes).build()
}

/// A random id for this process, so two replicas of one service are told apart.
pub fn new_instance_id() -> String {
    use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
    RandomIdGenerator::default().new_trace_id().to_string()
}

fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

fn executable_name() -> Option<String> {
    let path = std::env::current_exe().ok()?;
    Some(path.file_name()?.to_string_lossy().into_owned())
}

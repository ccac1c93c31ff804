//! `obs_build_info`: the service's name and version as labels of a constant 1, for joins.

use crate::telemetry::identity::ServiceIdentity;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::info::Info;

/// The collector registered in the global registry; absent until the service identity is set.
#[derive(Debug)]
pub struct BuildInfoCollector;

impl Collector for BuildInfoCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(identity) = ServiceIdentity::get() else {
            return Ok(());
        };
        let info = Info::new(vec![
            ("service_name", identity.name.clone()),
            ("service_version", identity.version.clone()),
            ("obs_version", env!("CARGO_PKG_VERSION").to_owned()),
        ]);
        info.encode(encoder.encode_descriptor(
            "obs_build",
            "Build and service information of this process.",
            None,
            info.metric_type(),
        )?)
    }
}

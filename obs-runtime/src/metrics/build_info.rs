//! `obs_build_info`: the service's name and version as labels of a constant 1, for joins.

use crate::schema;
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
            (schema::SERVICE_NAME, identity.name.clone()),
            (schema::SERVICE_VERSION, identity.version.clone()),
            (schema::OBS_VERSION, env!("CARGO_PKG_VERSION").to_owned()),
        ]);
        info.encode(encoder.encode_descriptor(
            schema::OBS_BUILD_INFO.stem,
            schema::OBS_BUILD_INFO.help,
            None,
            info.metric_type(),
        )?)
    }
}

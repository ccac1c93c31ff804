//! `obs_telemetry_exported_total` and `obs_telemetry_dropped_total`: what the OTLP export
//! delivered and what it lost, by signal and reason, so a dead collector shows on a dashboard.

use crate::schema;
use crate::telemetry::export_counters::{DropReason, counters};
use crate::telemetry::otlp_config::Signal;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

/// The collector registered in the global registry.
#[derive(Debug)]
pub struct ExportHealthCollector;

impl Collector for ExportHealthCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut exported = encoder.encode_descriptor(
            schema::OBS_TELEMETRY_EXPORTED.stem,
            schema::OBS_TELEMETRY_EXPORTED.help,
            None,
            MetricType::Counter,
        )?;
        for signal in Signal::ALL {
            let labels = [(schema::SIGNAL, signal.as_str())];
            ConstCounter::new(counters(signal).exported()).encode(exported.encode_family(&labels)?)?;
        }
        let mut dropped = encoder.encode_descriptor(
            schema::OBS_TELEMETRY_DROPPED.stem,
            schema::OBS_TELEMETRY_DROPPED.help,
            None,
            MetricType::Counter,
        )?;
        for signal in Signal::ALL {
            for reason in DropReason::ALL {
                let labels = [(schema::SIGNAL, signal.as_str()), (schema::REASON, reason.as_str())];
                ConstCounter::new(counters(signal).dropped(reason)).encode(dropped.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

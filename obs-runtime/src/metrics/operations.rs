//! `operation_duration_seconds` from the operation states, sorted by operation name so every
//! scrape lists them in the same order.

use crate::metrics::durations::{DurationFamily, DurationSeries};
use crate::metrics::operation_metrics;
use crate::schema;

/// The operation duration family, one series per operation and `error_type`.
pub fn operation_durations() -> DurationFamily {
    let mut operations = operation_metrics::registered();
    operations.sort_by_key(|operation| operation.operation);
    let mut series = Vec::new();
    for operation in operations {
        let mut outcomes = operation.outcomes.series();
        outcomes.sort_by_key(|one| one.outcome);
        for one in &outcomes {
            let error_type = one.outcome.error_type().map(|error| error.to_string()).unwrap_or_default();
            series.push(DurationSeries {
                labels: vec![(schema::OPERATION, operation.operation.to_owned()), (schema::ERROR_TYPE, error_type)],
                histogram: one.histogram.snapshot(operation.outcomes.bounds_seconds),
            });
        }
    }
    DurationFamily {
        name: schema::OPERATION_DURATION.metric.stem,
        help: schema::OPERATION_DURATION.metric.help,
        series,
    }
}

//! The log and trace filters: `EnvFilter`, spared the span bookkeeping it needs only for span
//! directives.
//!
//! An `EnvFilter` used as a per-layer filter is told of every span it enables being created,
//! entered, exited, recorded and closed, and each time takes a lock and hashes the span's id, to
//! track the spans that directives like `[checkout]=debug` select. Directives without a
//! `[...]` (`info`, `warn,demo=debug`) decide by target and level alone: for them those calls
//! change nothing, and they cost every observed call ten lock-and-hash rounds across the log and
//! trace filters.

use crate::error::SetupError;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter};

/// An `EnvFilter` that follows spans only when its directives select spans.
#[derive(Debug)]
pub struct Directives {
    filter: EnvFilter,
    selects_spans: bool,
}

impl Directives {
    /// Parses `value`, naming its origin in the error.
    pub fn parse(value: &str, origin: &'static str) -> Result<Self, SetupError> {
        let filter = EnvFilter::builder().parse(value).map_err(|error| SetupError::InvalidFilter {
            origin,
            value: value.to_owned(),
            reason: error.to_string(),
        })?;
        // Every directive that selects spans or span fields is written in brackets.
        Ok(Directives { filter, selects_spans: value.contains('[') })
    }

    /// Whether a directive selects spans (by name or by field values).
    pub fn selects_spans(&self) -> bool {
        self.selects_spans
    }
}

impl<S: Subscriber> Filter<S> for Directives {
    fn enabled(&self, metadata: &Metadata<'_>, context: &Context<'_, S>) -> bool {
        Filter::enabled(&self.filter, metadata, context)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        Filter::<S>::callsite_enabled(&self.filter, metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Filter::<S>::max_level_hint(&self.filter)
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, context: &Context<'_, S>) -> bool {
        Filter::event_enabled(&self.filter, event, context)
    }

    fn on_new_span(&self, attributes: &tracing::span::Attributes<'_>, id: &tracing::Id, context: Context<'_, S>) {
        if self.selects_spans {
            Filter::on_new_span(&self.filter, attributes, id, context);
        }
    }

    fn on_record(&self, id: &tracing::Id, values: &tracing::span::Record<'_>, context: Context<'_, S>) {
        if self.selects_spans {
            Filter::on_record(&self.filter, id, values, context);
        }
    }

    fn on_enter(&self, id: &tracing::Id, context: Context<'_, S>) {
        if self.selects_spans {
            Filter::on_enter(&self.filter, id, context);
        }
    }

    fn on_exit(&self, id: &tracing::Id, context: Context<'_, S>) {
        if self.selects_spans {
            Filter::on_exit(&self.filter, id, context);
        }
    }

    fn on_close(&self, id: tracing::Id, context: Context<'_, S>) {
        if self.selects_spans {
            Filter::on_close(&self.filter, id, context);
        }
    }
}

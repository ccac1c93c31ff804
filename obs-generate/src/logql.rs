//! Every LogQL query the artifacts contain, built here once: the service's log records as the
//! generated collector delivers them to Loki's OTLP endpoint. `level` is an index label (the
//! record's severity); record attributes such as `http.route` are structured metadata, written
//! by Loki with `_` for `.` (`http_route`), so no query needs a parser stage.

use crate::model::Model;
use crate::text::promql_string;
use std::fmt::Write as _;

/// One label filter after the stream selector: `| name op "value"`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Filter<'a> {
    /// A record attribute (`http.route`) or the `level` label.
    pub field: &'a str,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: &'static str,
    pub value: &'a str,
}

/// `field="value"`.
pub(crate) fn eq<'a>(field: &'a str, value: &'a str) -> Filter<'a> {
    Filter { field, op: "=", value }
}

/// `field=~"regex"`.
pub(crate) fn matches<'a>(field: &'a str, regex: &'a str) -> Filter<'a> {
    Filter { field, op: "=~", value: regex }
}

/// A record attribute as Loki stores it: `_` for `.`.
fn loki_field(attribute: &str) -> String {
    attribute.replace('.', "_")
}

/// `{service_name="svc"} | a="x" | b=~"y"`: the service's stream, then each filter in order.
pub(crate) fn query(model: &Model, filters: &[Filter<'_>]) -> String {
    let mut out = model.options.loki_selector.clone();
    for Filter { field, op, value } in filters {
        let _ = write!(out, " | {}{op}{}", loki_field(field), promql_string(value));
    }
    out
}

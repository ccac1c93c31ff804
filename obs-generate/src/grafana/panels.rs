//! Grafana panel JSON (schema 39): time series, stat, table and logs panels, their query targets,
//! and the grid layout that gives every panel a unique id and a position.

use crate::grafana::{Datasource, datasource_ref};
use crate::tree::{Node, Object, map, object, strings};

/// The grid is 24 columns wide.
const GRID_WIDTH: i64 = 24;

/// One query of a panel.
#[derive(Clone, Debug)]
pub(crate) struct Query {
    pub expr: String,
    pub legend: String,
    pub instant: bool,
    pub exemplar: bool,
}

impl Query {
    /// A range query drawn as a line labelled `legend` (`{{label}}` placeholders allowed).
    pub fn range(expr: impl Into<String>, legend: impl Into<String>) -> Self {
        Query { expr: expr.into(), legend: legend.into(), instant: false, exemplar: false }
    }

    /// An instant query, for stat and table panels.
    pub fn instant(expr: impl Into<String>, legend: impl Into<String>) -> Self {
        Query { expr: expr.into(), legend: legend.into(), instant: true, exemplar: false }
    }

    /// Also fetch exemplars, which link to traces.
    #[must_use]
    pub fn with_exemplars(mut self) -> Self {
        self.exemplar = true;
        self
    }
}

fn ref_id(index: usize) -> String {
    let letter = u8::try_from(index % 26).map_or('A', |offset| char::from(b'A' + offset));
    if index < 26 { letter.to_string() } else { format!("{letter}{}", index / 26) }
}

fn prometheus_targets(queries: &[Query], table: bool) -> Node {
    Node::Seq(
        queries
            .iter()
            .enumerate()
            .map(|(index, query)| {
                let mut target = object([
                    ("refId", ref_id(index).into()),
                    ("datasource", datasource_ref(Datasource::Prometheus)),
                    ("editorMode", "code".into()),
                    ("expr", query.expr.as_str().into()),
                    ("legendFormat", query.legend.as_str().into()),
                    ("range", (!query.instant).into()),
                    ("instant", query.instant.into()),
                    ("exemplar", query.exemplar.into()),
                ]);
                if table {
                    target.push("format", "table".into());
                }
                target.into()
            })
            .collect(),
    )
}

/// Threshold steps: `base` below the first value, then each color from its value up.
pub(crate) fn thresholds(base: &str, steps: &[(f64, &str)]) -> Node {
    let mut nodes = vec![map([("color", base.into()), ("value", Node::Null)])];
    nodes.extend(steps.iter().map(|(value, color)| map([("color", (*color).into()), ("value", Node::Num(*value))])));
    map([("mode", "absolute".into()), ("steps", Node::Seq(nodes))])
}

/// How a time-series panel shows its thresholds and value range.
#[derive(Clone, Debug, Default)]
pub(crate) struct Style {
    /// `(value, color)` steps; drawn as dashed lines on time series.
    pub thresholds: Vec<(f64, &'static str)>,
    /// The color below the first threshold; green when `None`.
    pub base: Option<&'static str>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

fn field_config(unit: &str, style: &Style, custom: Option<Node>) -> Node {
    let mut defaults = object([("unit", unit.into())]);
    if let Some(min) = style.min {
        defaults.push("min", Node::Num(min));
    }
    if let Some(max) = style.max {
        defaults.push("max", Node::Num(max));
    }
    defaults.push("thresholds", thresholds(style.base.unwrap_or("green"), &style.thresholds));
    if let Some(custom) = custom {
        defaults.push("custom", custom);
    }
    map([("defaults", defaults.into()), ("overrides", Node::Seq(vec![]))])
}

/// One panel of a dashboard: always a map, so the layout can place it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Panel(Object);

impl Panel {
    /// Appends a field to the panel.
    pub(crate) fn push(&mut self, key: &str, value: Node) {
        self.0.push(key, value);
    }
}

fn panel(kind: &str, title: &str, description: &str, datasource: Datasource) -> Panel {
    Panel(object([
        ("type", kind.into()),
        ("title", title.into()),
        ("description", description.into()),
        ("datasource", datasource_ref(datasource)),
    ]))
}

/// A time-series panel over Prometheus.
pub(crate) fn timeseries(title: &str, description: &str, unit: &str, queries: &[Query], style: &Style) -> Panel {
    let threshold_style = if style.thresholds.is_empty() { "off" } else { "dashed" };
    let custom = map([
        ("drawStyle", "line".into()),
        ("lineInterpolation", "linear".into()),
        ("lineWidth", Node::Int(1)),
        ("fillOpacity", Node::Int(10)),
        ("showPoints", "never".into()),
        ("spanNulls", false.into()),
        ("thresholdsStyle", map([("mode", threshold_style.into())])),
    ]);
    let mut node = panel("timeseries", title, description, Datasource::Prometheus);
    node.push("fieldConfig", field_config(unit, style, Some(custom)));
    node.push(
        "options",
        map([
            (
                "legend",
                map([
                    ("showLegend", true.into()),
                    ("displayMode", "table".into()),
                    ("placement", "bottom".into()),
                    ("calcs", strings(["mean", "max", "lastNotNull"])),
                ]),
            ),
            ("tooltip", map([("mode", "multi".into()), ("sort", "desc".into())])),
        ]),
    );
    node.push("targets", prometheus_targets(queries, false));
    node
}

/// A single-value panel over Prometheus.
pub(crate) fn stat(title: &str, description: &str, unit: &str, query: Query, style: &Style) -> Panel {
    let mut node = panel("stat", title, description, Datasource::Prometheus);
    node.push("fieldConfig", field_config(unit, style, None));
    node.push(
        "options",
        map([
            (
                "reduceOptions",
                map([("calcs", strings(["lastNotNull"])), ("fields", "".into()), ("values", false.into())]),
            ),
            ("colorMode", "value".into()),
            ("graphMode", "area".into()),
            ("justifyMode", "auto".into()),
            ("orientation", "auto".into()),
            ("textMode", "auto".into()),
        ]),
    );
    node.push("targets", prometheus_targets(&[query], false));
    node
}

/// A table of an instant query's series, one row per label set.
pub(crate) fn table(title: &str, description: &str, unit: &str, query: Query) -> Panel {
    let mut node = panel("table", title, description, Datasource::Prometheus);
    node.push("fieldConfig", field_config(unit, &Style::default(), None));
    node.push(
        "options",
        map([
            ("showHeader", true.into()),
            ("cellHeight", "sm".into()),
            ("footer", map([("show", false.into()), ("reducer", strings(["sum"])), ("fields", "".into())])),
        ]),
    );
    node.push("targets", prometheus_targets(&[query], true));
    node.push(
        "transformations",
        Node::Seq(vec![map([
            ("id", "organize".into()),
            ("options", map([("excludeByName", map([("Time", true.into())]))])),
        ])]),
    );
    node
}

/// A Loki logs panel.
pub(crate) fn logs(title: &str, description: &str, expr: &str) -> Panel {
    let mut node = panel("logs", title, description, Datasource::Loki);
    node.push(
        "options",
        map([
            ("showTime", true.into()),
            ("showLabels", false.into()),
            ("showCommonLabels", false.into()),
            ("wrapLogMessage", true.into()),
            ("prettifyLogMessage", false.into()),
            ("enableLogDetails", true.into()),
            ("dedupStrategy", "none".into()),
            ("sortOrder", "Descending".into()),
        ]),
    );
    node.push(
        "targets",
        Node::Seq(vec![map([
            ("refId", "A".into()),
            ("datasource", datasource_ref(Datasource::Loki)),
            ("editorMode", "code".into()),
            ("expr", expr.into()),
            ("queryType", "range".into()),
        ])]),
    );
    node
}

/// Places panels left to right, wrapping at the grid's width, and numbers them.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    panels: Vec<Node>,
    next_id: i64,
    x: i64,
    y: i64,
    line_height: i64,
}

impl Layout {
    fn place(&mut self, width: i64, height: i64, panel: Panel) {
        if self.x + width > GRID_WIDTH {
            self.newline();
        }
        self.next_id += 1;
        let mut entries = vec![
            ("id".to_owned(), Node::Int(self.next_id)),
            (
                "gridPos".to_owned(),
                map([
                    ("h", Node::Int(height)),
                    ("w", Node::Int(width)),
                    ("x", Node::Int(self.x)),
                    ("y", Node::Int(self.y)),
                ]),
            ),
        ];
        entries.extend(panel.0.into_entries());
        self.panels.push(Node::Map(entries));
        self.x += width;
        self.line_height = self.line_height.max(height);
    }

    fn newline(&mut self) {
        self.y += self.line_height;
        self.x = 0;
        self.line_height = 0;
    }

    /// A full-width row header starting a new section.
    pub fn row(&mut self, title: &str) {
        if self.x > 0 {
            self.newline();
        }
        let row = Panel(object([
            ("type", "row".into()),
            ("title", title.into()),
            ("collapsed", false.into()),
            ("panels", Node::Seq(vec![])),
        ]));
        self.place(GRID_WIDTH, 1, row);
        self.newline();
    }

    /// A panel `width` columns wide and `height` units tall.
    pub fn add(&mut self, width: i64, height: i64, panel: Panel) {
        self.place(width, height, panel);
    }

    pub fn finish(self) -> Node {
        Node::Seq(self.panels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_wraps_and_numbers() {
        let mut layout = Layout::default();
        layout.row("one");
        layout.add(12, 8, Panel(object([("type", "stat".into())])));
        layout.add(12, 6, Panel(object([("type", "stat".into())])));
        layout.add(8, 4, Panel(object([("type", "stat".into())])));
        layout.row("two");
        let Node::Seq(panels) = layout.finish() else { panic!("a sequence") };
        let positions: Vec<(i64, i64, i64)> = panels
            .iter()
            .map(|panel| {
                let Node::Map(entries) = panel else { panic!("a map") };
                let Node::Int(id) = entries[0].1 else { panic!("an id") };
                let Node::Map(grid) = &entries[1].1 else { panic!("a gridPos") };
                let (Node::Int(x), Node::Int(y)) = (&grid[2].1, &grid[3].1) else { panic!("x and y") };
                (id, *x, *y)
            })
            .collect();
        assert_eq!(positions, vec![(1, 0, 0), (2, 0, 1), (3, 12, 1), (4, 0, 9), (5, 0, 13)]);
        assert_eq!(ref_id(0), "A");
        assert_eq!(ref_id(27), "B1");
    }
}

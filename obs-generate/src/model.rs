//! What every generator reads: the endpoints and the operations of the catalog, checked, sorted
//! and deduplicated, and the options, validated.

use crate::error::GenerateError;
use crate::promql::Selector;
use crate::{Options, text};
use obs_runtime::Objectives;
use obs_runtime::schema;
use obs_runtime::{CallSite, CallSiteKind};
use std::time::Duration;

/// One endpoint of the catalog, as the generators need it.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub method: String,
    pub route: String,
    /// `module::function`.
    pub function: String,
    pub file: String,
    pub line: u32,
    pub doc: String,
    pub buckets: Vec<f64>,
    pub objectives: Objectives,
}

impl Endpoint {
    fn from_site(site: &CallSite) -> Self {
        Endpoint {
            method: site.method().to_owned(),
            route: site.route().to_owned(),
            function: format!("{}::{}", site.module_path(), site.function()),
            file: site.file().to_owned(),
            line: site.line(),
            doc: site.doc().to_owned(),
            buckets: site.buckets().to_vec(),
            objectives: site.objectives(),
        }
    }

    /// `GET /users/{id}`.
    pub fn title(&self) -> String {
        format!("{} {}", self.method, self.route)
    }

    /// `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// `{job="svc", http_request_method="GET", http_route="/users/{id}"}`.
    pub fn selector(&self, service: &str) -> Selector {
        Selector::job(service).eq(schema::HTTP_REQUEST_METHOD, &self.method).eq(schema::HTTP_ROUTE, &self.route)
    }

    /// The `le` label value of the latency threshold's bucket.
    pub fn threshold_le(&self) -> String {
        text::le_label(self.objectives.latency_threshold_seconds())
    }

    fn check(&self) -> Result<(), GenerateError> {
        let objectives = &self.objectives;
        let invalid = |reason: String| GenerateError::InvalidObjective {
            method: self.method.clone(),
            route: self.route.clone(),
            reason,
        };
        for (name, target) in [("success", objectives.success_target()), ("latency", objectives.latency_target())] {
            if !(target > 0.0 && target < 1.0) {
                return Err(invalid(format!("the {name} target {target} is not strictly between 0 and 1")));
            }
        }
        let threshold = objectives.latency_threshold_seconds();
        // Exact comparison: the threshold is one of the bounds, copied, not computed.
        if !self.buckets.contains(&threshold) {
            return Err(invalid(format!(
                "the latency threshold {threshold}s is not one of the bucket bounds {:?}, so no series counts the calls under it",
                self.buckets
            )));
        }
        Ok(())
    }
}

/// One internal operation of the catalog (`#[observed(operation = "db.load_user")]`): no route,
/// no method, no objectives; its calls are `operation_duration_seconds{operation="..."}`.
#[derive(Clone, Debug)]
pub(crate) struct Operation {
    /// The `operation` label value.
    pub name: String,
    /// `module::function`.
    pub function: String,
    pub file: String,
    pub line: u32,
    pub doc: String,
    pub buckets: Vec<f64>,
}

impl Operation {
    fn from_site(site: &CallSite) -> Self {
        Operation {
            name: site.operation().unwrap_or_default().to_owned(),
            function: format!("{}::{}", site.module_path(), site.function()),
            file: site.file().to_owned(),
            line: site.line(),
            doc: site.doc().to_owned(),
            buckets: site.buckets().to_vec(),
        }
    }

    /// `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// `{job="svc", operation="db.load_user"}`.
    pub fn selector(&self, service: &str) -> Selector {
        Selector::job(service).eq(schema::OPERATION, &self.name)
    }
}

/// The validated input of every generator.
#[derive(Debug)]
pub(crate) struct Model<'a> {
    pub options: &'a Options,
    /// Sorted by route, then method.
    pub endpoints: Vec<Endpoint>,
    /// Sorted by name.
    pub operations: Vec<Operation>,
}

impl<'a> Model<'a> {
    /// The model of `catalog`, which may hold endpoints and operations alike
    /// ([`catalog()`](obs_runtime::catalog)).
    pub fn new(catalog: &[&CallSite], options: &'a Options) -> Result<Self, GenerateError> {
        validate(options)?;
        let of_kind = |kind: CallSiteKind| catalog.iter().copied().filter(move |site| site.kind() == kind);
        let duplicates = obs_runtime::duplicate_claims(catalog);
        if !duplicates.is_empty() {
            return Err(GenerateError::DuplicateCallSites(duplicates));
        }
        let mut operations: Vec<Operation> = of_kind(CallSiteKind::Operation).map(Operation::from_site).collect();
        operations.sort_by(|a, b| a.name.cmp(&b.name));
        let mut endpoints: Vec<Endpoint> = of_kind(CallSiteKind::Endpoint).map(Endpoint::from_site).collect();
        endpoints.sort_by(|a, b| (&a.route, &a.method).cmp(&(&b.route, &b.method)));
        for endpoint in &endpoints {
            endpoint.check()?;
        }
        Ok(Model { options, endpoints, operations })
    }

    pub fn service(&self) -> &str {
        &self.options.service
    }

    /// `{job="svc"}`.
    pub fn job(&self) -> Selector {
        Selector::job(&self.options.service)
    }

    /// The comment lines that open every generated file.
    pub fn header(&self, what: &str) -> Vec<String> {
        let mut lines = vec![
            format!("{what} for `{}`.", self.options.service),
            "Generated by obs from the #[observed] catalog: do not edit, regenerate.".to_owned(),
        ];
        if let Some(command) = &self.options.regenerate_command {
            lines.push(format!("Regenerate with: {command}"));
        }
        lines
    }

    /// The note under the title of every generated Markdown file.
    pub fn markdown_note(&self) -> String {
        let regenerate = self
            .options
            .regenerate_command
            .as_ref()
            .map_or_else(|| "regenerate".to_owned(), |command| format!("regenerate with `{command}`"));
        format!(
            "> Generated by obs from the `#[observed]` catalog of `{}`: do not edit, {regenerate}.\n\n",
            self.options.service
        )
    }

    /// The distinct methods of the catalog, sorted.
    pub fn methods(&self) -> Vec<&str> {
        let mut methods: Vec<&str> = self.endpoints.iter().map(|endpoint| endpoint.method.as_str()).collect();
        methods.sort_unstable();
        methods.dedup();
        methods
    }

    /// The operation names of the catalog, sorted.
    pub fn operation_names(&self) -> Vec<&str> {
        self.operations.iter().map(|operation| operation.name.as_str()).collect()
    }

    /// The distinct routes of the catalog, sorted.
    pub fn routes(&self) -> Vec<&str> {
        let mut routes: Vec<&str> = self.endpoints.iter().map(|endpoint| endpoint.route.as_str()).collect();
        routes.dedup();
        routes
    }
}

fn validate(options: &Options) -> Result<(), GenerateError> {
    let service = &options.service;
    let service_ok = (1..=31).contains(&service.len())
        && service.starts_with(|c: char| c.is_ascii_alphanumeric())
        && service.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !service_ok {
        return Err(GenerateError::InvalidOption {
            option: "service",
            value: service.clone(),
            expected: "1 to 31 ASCII letters, digits, `_`, `.` or `-`, starting with a letter or digit (it names files, the Prometheus job and Grafana uids)",
        });
    }
    let positive = [("scrape_interval", options.scrape_interval), ("evaluation_interval", options.evaluation_interval)];
    for (option, value) in positive {
        if value < Duration::from_secs(1) {
            return Err(GenerateError::InvalidOption {
                option,
                value: format!("{value:?}"),
                expected: "at least one second",
            });
        }
    }
    if options.slo_period < Duration::from_secs(3 * 86_400) {
        return Err(GenerateError::InvalidOption {
            option: "slo_period",
            value: format!("{:?}", options.slo_period),
            expected: "at least 3 days, the longest alert window",
        });
    }
    if let Some(rate) = options.no_traffic_min_requests_per_minute
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(GenerateError::InvalidOption {
            option: "no_traffic_min_requests_per_minute",
            value: rate.to_string(),
            expected: "a positive number, or None to generate no no-traffic alert",
        });
    }
    if options.no_traffic_min_requests_per_minute.is_some() && options.ticket_for > Duration::from_secs(5 * 3600) {
        return Err(GenerateError::InvalidOption {
            option: "ticket_for",
            value: format!("{:?}", options.ticket_for),
            expected: "at most 5 hours while the no-traffic alert is on: it compares the last 30m with the 6h before, which must still hold traffic when `for` has passed",
        });
    }
    let texts = [
        ("scrape_target", &options.scrape_target),
        ("alertmanager_target", &options.alertmanager_target),
        ("grafana_url", &options.grafana_url),
        ("runbook_url", &options.runbook_url),
        ("loki_selector", &options.loki_selector),
    ];
    for (option, value) in texts {
        if value.trim().is_empty() || value.contains(['\n', '\r']) {
            return Err(GenerateError::InvalidOption {
                option,
                value: value.clone(),
                expected: "a non-empty single line",
            });
        }
    }
    if let Some(command) = &options.regenerate_command
        && command.contains(['\n', '\r'])
    {
        return Err(GenerateError::InvalidOption {
            option: "regenerate_command",
            value: command.clone(),
            expected: "a single line",
        });
    }
    Ok(())
}

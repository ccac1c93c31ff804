//! The `generate` command every service offers the same way: one line in `main`.
//!
//! ```no_run
//! use std::process::ExitCode;
//!
//! fn main() -> ExitCode {
//!     // `my-service generate deploy/ --slo-period 28d` writes the files and exits;
//!     // any other arguments fall through to serving.
//!     if let Some(code) = obs_generate::cli::run(std::env::args().skip(1), obs_generate::Options::new("my-service")) {
//!         return code;
//!     }
//!     // ... obs_runtime::builder(..).init(), build the router, serve ...
//!     ExitCode::SUCCESS
//! }
//! ```
//!
//! The options (`--help` prints them) override the defaults the service passes in.

use crate::{GenerateError, Options, generate};
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// What the arguments ask for.
#[derive(Clone, Debug, PartialEq)]
pub enum Invocation {
    /// Write the files into `dir` with `options`.
    Generate {
        /// The output directory.
        dir: PathBuf,
        /// The defaults with the command line's overrides applied.
        options: Box<Options>,
    },
    /// Print the usage.
    Help,
}

/// Why the command line could not be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CliError {
    /// `generate` without an output directory.
    MissingDir,
    /// An option this command does not know.
    UnknownOption(String),
    /// An option given without its value.
    MissingValue(&'static str),
    /// A value that does not parse.
    InvalidValue {
        /// The option.
        option: &'static str,
        /// The value given.
        value: String,
        /// What it should look like.
        expected: &'static str,
    },
    /// A second positional argument.
    UnexpectedArgument(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::MissingDir => f.write_str("missing the output directory: write `generate DIR`"),
            CliError::UnknownOption(option) => write!(f, "unknown option {option:?}; `generate --help` lists them"),
            CliError::MissingValue(option) => write!(f, "{option} needs a value"),
            CliError::InvalidValue { option, value, expected } => {
                write!(f, "{option} {value:?} is invalid: expected {expected}")
            }
            CliError::UnexpectedArgument(argument) => {
                write!(f, "unexpected argument {argument:?}: `generate` takes one output directory")
            }
        }
    }
}

impl std::error::Error for CliError {}

/// The usage text of `generate --help`.
pub const USAGE: &str = "\
usage: generate DIR [options]

Writes the deployment files derived from this program's #[observed] functions into DIR:
METRICS.md, RUNBOOK.md, Prometheus rules and their promtool tests, prometheus.yml,
Alertmanager routing, Grafana dashboards and provisioning, the OpenTelemetry Collector and
Loki configuration.

options:
  --service NAME              the Prometheus job and file names (default: the service's own name)
  --environment NAME          only this deployment.environment's logs in the log panels and queries
  --slo-period DURATION       the period the objectives hold over, at least 3d (default 30d)
  --page-for DURATION         how long a paging condition holds before it fires (default 2m)
  --ticket-for DURATION       how long a ticket condition holds before it fires (default 15m)
  --scrape-target HOST:PORT   what Prometheus scrapes (default localhost:9464)
  --scrape-interval DURATION  (default 15s)
  --grafana-url URL           Grafana's base URL, for the alerts' dashboard links
  --runbook-url URL           where RUNBOOK.md is published
  --prometheus-url URL        Prometheus as Grafana reaches it
  --loki-url URL              Loki as Grafana reaches it
  --tempo-url URL             Tempo as Grafana reaches it
  --alertmanager-url URL      Alertmanager as Grafana reaches it
  -h, --help                  this text

DURATION is a number and a unit: 250ms, 30s, 5m, 6h, 28d.
";

/// Reads `generate DIR [options]` (the program name already removed), starting from `defaults`.
///
/// ```
/// use obs_generate::cli::{Invocation, parse};
/// use obs_generate::Options;
///
/// let args = ["generate", "deploy", "--slo-period", "28d"].map(String::from);
/// let Ok(Invocation::Generate { dir, options }) = parse(args, Options::new("shop")) else { panic!() };
/// assert_eq!(dir.to_str(), Some("deploy"));
/// assert_eq!(options.slo_period.as_secs(), 28 * 86_400);
/// ```
///
/// # Errors
/// A [`CliError`] saying which argument is wrong.
pub fn parse(args: impl IntoIterator<Item = String>, defaults: Options) -> Result<Invocation, CliError> {
    let mut args = args.into_iter();
    if args.next().as_deref() != Some("generate") {
        return Err(CliError::MissingDir);
    }
    let original = Options::new(defaults.service.clone());
    let mut options = defaults;
    let mut dir: Option<PathBuf> = None;
    let mut environment: Option<String> = None;
    while let Some(argument) = args.next() {
        if argument == "-h" || argument == "--help" {
            return Ok(Invocation::Help);
        }
        if !argument.starts_with("--") {
            if dir.is_some() {
                return Err(CliError::UnexpectedArgument(argument));
            }
            dir = Some(PathBuf::from(argument));
            continue;
        }
        let (name, inline) = match argument.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (argument.clone(), None),
        };
        let option = known_option(&name).ok_or(CliError::UnknownOption(name))?;
        let value = inline.or_else(|| args.next()).ok_or(CliError::MissingValue(option))?;
        match option {
            "--service" => options.service = value,
            "--environment" => environment = Some(value),
            "--slo-period" => options.slo_period = parse_duration(option, &value)?,
            "--page-for" => options.page_for = parse_duration(option, &value)?,
            "--ticket-for" => options.ticket_for = parse_duration(option, &value)?,
            "--scrape-interval" => options.scrape_interval = parse_duration(option, &value)?,
            "--scrape-target" => options.scrape_target = value,
            "--grafana-url" => options.grafana_url = value,
            "--runbook-url" => options.runbook_url = value,
            "--prometheus-url" => options.prometheus_url = value,
            "--loki-url" => options.loki_url = value,
            "--tempo-url" => options.tempo_url = value,
            _ => options.alertmanager_url = value,
        }
    }
    let dir = dir.ok_or(CliError::MissingDir)?;
    options.follow_service_rename(&original);
    if let Some(environment) = environment {
        options.loki_selector = format!(
            "{{service_name={}, deployment_environment={}}}",
            crate::text::promql_string(&options.service),
            crate::text::promql_string(&environment)
        );
    }
    Ok(Invocation::Generate { dir, options: Box::new(options) })
}

const OPTIONS: [&str; 13] = [
    "--service",
    "--environment",
    "--slo-period",
    "--page-for",
    "--ticket-for",
    "--scrape-interval",
    "--scrape-target",
    "--grafana-url",
    "--runbook-url",
    "--prometheus-url",
    "--loki-url",
    "--tempo-url",
    "--alertmanager-url",
];

fn known_option(name: &str) -> Option<&'static str> {
    OPTIONS.iter().copied().find(|known| *known == name)
}

/// `250ms`, `30s`, `5m`, `6h`, `28d`.
fn parse_duration(option: &'static str, value: &str) -> Result<Duration, CliError> {
    let invalid = || CliError::InvalidValue {
        option,
        value: value.to_owned(),
        expected: "a number and a unit: 250ms, 30s, 5m, 6h, 28d",
    };
    let split = value.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
    let (number, unit) = value.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let millis = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(invalid()),
    };
    number.checked_mul(millis).map(Duration::from_millis).ok_or_else(invalid)
}

/// Runs the command when `args` (the program name already removed) start with `generate`:
/// writes the files, or prints the usage or the error, and returns the exit code. `None` when
/// the arguments are something else, so the service goes on to serve.
#[must_use]
pub fn run(args: impl IntoIterator<Item = String>, defaults: Options) -> Option<ExitCode> {
    let args: Vec<String> = args.into_iter().collect();
    if args.first().map(String::as_str) != Some("generate") {
        return None;
    }
    let program = defaults.service.clone();
    Some(match parse(args, defaults) {
        Ok(Invocation::Help) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Invocation::Generate { dir, options }) => match generate(&dir, &options) {
            Ok(written) => {
                println!("{program}: wrote {} files into {}", written.len(), dir.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{program}: {error}");
                exit_code(&error)
            }
        },
        Err(error) => {
            eprintln!("{program} generate: {error}\n\n{USAGE}");
            ExitCode::from(2)
        }
    })
}

/// 2 for options the generator rejects (a usage error), 1 for anything else.
fn exit_code(error: &GenerateError) -> ExitCode {
    match error {
        GenerateError::InvalidOption { .. } => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::{CliError, Invocation, parse};
    use crate::Options;
    use std::time::Duration;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_override_the_defaults() {
        let Ok(Invocation::Generate { dir, options }) = parse(
            args(
                "generate out --service CONTEXT --slo-period 7d --page-for=5m --environment prod --scrape-target svc:9464",
            ),
            Options::new("demo"),
        ) else {
            panic!("parses");
        };
        assert_eq!(dir.to_str(), Some("out"));
        assert_eq!(options.service, "CONTEXT");
        assert_eq!(options.slo_period, Duration::from_secs(7 * 86_400));
        assert_eq!(options.page_for, Duration::from_secs(300));
        assert_eq!(options.scrape_target, "svc:9464");
        assert_eq!(options.loki_selector, r#"{service_name="CONTEXT", deployment_environment="prod"}"#);
        assert_eq!(options.receivers.slack_channel, "#CONTEXT-alerts", "derived defaults follow the service name");
    }

    #[test]
    fn bad_arguments_are_typed_errors() {
        let demo = || Options::new("demo");
        assert_eq!(parse(args("generate"), demo()), Err(CliError::MissingDir));
        assert_eq!(parse(args("generate out --colour red"), demo()), Err(CliError::UnknownOption("--colour".into())));
        assert_eq!(parse(args("generate out --service"), demo()), Err(CliError::MissingValue("--service")));
        assert_eq!(parse(args("generate out other"), demo()), Err(CliError::UnexpectedArgument("other".into())));
        for bad in ["7", "7w", "d", "-1d", "99999999999999999999d"] {
            let error = parse(args(&format!("generate out --slo-period {bad}")), demo()).expect_err(bad);
            assert!(matches!(error, CliError::InvalidValue { option: "--slo-period", .. }), "{bad}: {error:?}");
        }
        assert_eq!(parse(args("generate --help"), demo()), Ok(Invocation::Help));
    }
}

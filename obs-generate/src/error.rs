//! Why generating the artifacts failed.

use std::fmt;
use std::path::PathBuf;

/// Why [`artifacts`](super::artifacts) or [`write_artifacts`](super::write_artifacts) failed.
/// Nothing panics: every failure is one of these.
#[derive(Debug)]
#[non_exhaustive]
pub enum GenerateError {
    /// An [`Options`](super::Options) field holds a value the generated files cannot use.
    InvalidOption {
        /// The field, e.g. `service`.
        option: &'static str,
        /// Its value.
        value: String,
        /// What it should look like.
        expected: &'static str,
    },
    /// Functions claim the same endpoint (method and route) or operation name, so their series
    /// would merge: every such claim, with every location.
    DuplicateCallSites(Vec<obs_runtime::DuplicateClaim>),
    /// A number the generated file would hold is NaN or infinite: a bug in the inputs' checks,
    /// reported rather than written as something else.
    NotFinite {
        /// Where in the document, and the value.
        at: String,
    },
    /// An endpoint's objectives cannot be measured from its series.
    InvalidObjective {
        /// The HTTP method.
        method: String,
        /// The route template.
        route: String,
        /// What is wrong.
        reason: String,
    },
    /// A file or directory could not be written.
    Write {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenerateError::InvalidOption { option, value, expected } => {
                write!(f, "generate option {option}={value:?} is invalid: expected {expected}")
            }
            GenerateError::DuplicateCallSites(duplicates) => {
                // The runtime's own error says it the same way.
                let setup = obs_runtime::SetupError::DuplicateCallSites { duplicates: duplicates.clone() };
                write!(f, "{setup}")
            }
            GenerateError::NotFinite { at } => write!(f, "a generated number is not finite: {at}"),
            GenerateError::InvalidObjective { method, route, reason } => {
                write!(f, "the objectives of {method} {route} cannot be generated: {reason}")
            }
            GenerateError::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
        }
    }
}

impl From<crate::tree::NotFinite> for GenerateError {
    fn from(error: crate::tree::NotFinite) -> Self {
        GenerateError::NotFinite { at: error.0 }
    }
}

impl std::error::Error for GenerateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GenerateError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

//! How a call ended: the [`Outcome`] trait and the classification it produces.
//!
//! Rules: an `Err` and a 5xx status are failures; a 4xx is the client's fault and not a failure;
//! anything else is a success. A failure carries a low-cardinality `error_type`: the short type
//! name of the `Err` value, the status code for a 5xx, `panic` or `cancelled`.

use crate::schema;
use std::fmt;

/// The class of a failed call, recorded as the `error_type` label.
///
/// Every variant is bounded by construction: status codes are three digits, names are `'static`
/// strings from the program's own type names or literals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorType {
    /// A 5xx response; the label is the status code.
    Status(u16),
    /// An `Err` value; the label is its short type name, or a literal the [`Outcome`] impl chose.
    Named(&'static str),
    /// The function panicked; the panic propagated unchanged.
    Panic,
    /// The future was dropped before it completed.
    Cancelled,
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorType::Status(code) => write!(f, "{code}"),
            ErrorType::Named(name) => f.write_str(name),
            ErrorType::Panic => f.write_str(schema::ERROR_TYPE_PANIC),
            ErrorType::Cancelled => f.write_str(schema::ERROR_TYPE_CANCELLED),
        }
    }
}

/// How one call ended, as its metrics, span and log event record it.
///
/// ```
/// use obs_runtime::Classification;
///
/// assert!(!Classification::status(404).is_failure());
/// assert_eq!(Classification::status(503).error_type().unwrap().to_string(), "503");
/// assert_eq!(Classification::error_of::<std::io::Error>().error_type().unwrap().to_string(), "Error");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Classification {
    status_code: Option<u16>,
    grpc_status_code: Option<GrpcCode>,
    error_type: Option<ErrorType>,
}

/// A gRPC status code, `0` (OK) to `16` (UNAUTHENTICATED).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrpcCode(u8);

/// The gRPC status code names, as the gRPC specification spells them, indexed by code.
const GRPC_CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The codes that are the server's failure, as the OpenTelemetry RPC semantic conventions mark
/// server spans as errors: `UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`,
/// `DATA_LOSS`. Every other non-OK code (`NOT_FOUND`, `INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, ...) is
/// the caller's, like an HTTP 4xx (`RESOURCE_EXHAUSTED` is a quota or rate limit, as a 429 is).
const GRPC_SERVER_FAILURES: [u8; 6] = [2, 4, 12, 13, 14, 15];

impl GrpcCode {
    /// The code as a number.
    #[must_use]
    pub const fn value(self) -> u8 {
        self.0
    }

    /// The code's name as the gRPC specification spells it (`UNAVAILABLE`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        GRPC_CODE_NAMES[self.0 as usize]
    }
}

impl Classification {
    /// A success whose status code is not known.
    #[must_use]
    pub const fn success() -> Self {
        Classification { status_code: None, grpc_status_code: None, error_type: None }
    }

    /// The outcome of a gRPC call that ended with `code`: OK is a success; `UNKNOWN`,
    /// `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE` and `DATA_LOSS` are failures whose
    /// `error_type` is the code's name; any other code is a client error. Codes outside `0..=16`
    /// are `UNKNOWN`, as the gRPC specification says.
    ///
    /// ```
    /// use obs_runtime::Classification;
    ///
    /// assert_eq!(Classification::grpc(14).error_type().unwrap().to_string(), "UNAVAILABLE");
    /// assert!(Classification::grpc(5).is_client_error());
    /// assert_eq!(Classification::grpc(0).outcome_name(), "success");
    /// ```
    #[must_use]
    pub const fn grpc(code: i32) -> Self {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked to be 0..=16 first
        let code = if code >= 0 && code <= 16 { GrpcCode(code as u8) } else { GrpcCode(2) };
        let mut failure = false;
        let mut index = 0;
        while index < GRPC_SERVER_FAILURES.len() {
            failure |= GRPC_SERVER_FAILURES[index] == code.0;
            index += 1;
        }
        let error_type = if failure { Some(ErrorType::Named(code.name())) } else { None };
        Classification { status_code: None, grpc_status_code: Some(code), error_type }
    }

    /// The outcome of a response with this status: 5xx is a failure with `error_type` = the code.
    /// Codes outside `100..=999` cannot be HTTP statuses and are recorded without a status label.
    #[must_use]
    pub const fn status(code: u16) -> Self {
        if code < 100 || code > 999 {
            return Classification::success();
        }
        let error_type = if code >= 500 && code <= 599 { Some(ErrorType::Status(code)) } else { None };
        Classification { status_code: Some(code), grpc_status_code: None, error_type }
    }

    /// A failure of the given class, with no status code.
    #[must_use]
    pub const fn error(name: &'static str) -> Self {
        Classification { status_code: None, grpc_status_code: None, error_type: Some(ErrorType::Named(name)) }
    }

    /// A failure classed by the short type name of `E` (`std::io::Error` gives `Error`).
    #[must_use]
    pub fn error_of<E: ?Sized>() -> Self {
        Classification::error(short_type_name::<E>())
    }

    /// The outcome of an `Err(e)` whose own outcome is `inner`: a client error (4xx, or a gRPC
    /// code that is the caller's) stays one; a 5xx or a status-less value becomes a failure named
    /// after `E`, unless `inner` already named it (a gRPC code's name).
    #[must_use]
    pub fn from_err<E: ?Sized>(inner: Classification) -> Self {
        if inner.is_client_error() {
            return inner;
        }
        let error_type = match inner.error_type {
            Some(ErrorType::Named(name)) => ErrorType::Named(name),
            _ => ErrorType::Named(short_type_name::<E>()),
        };
        Classification { error_type: Some(error_type), ..inner }
    }

    pub(crate) const fn interrupted(error_type: ErrorType) -> Self {
        Classification { status_code: None, grpc_status_code: None, error_type: Some(error_type) }
    }

    /// A response with `code` that a panic or a cancellation of the handler produced (a caught
    /// panic's 500, a timeout's 408): a failure named by the interruption, with the status.
    pub(crate) const fn interrupted_with_status(error_type: ErrorType, code: u16) -> Self {
        let status = Classification::status(code);
        Classification { status_code: status.status_code, grpc_status_code: None, error_type: Some(error_type) }
    }

    /// The same outcome without its status codes: how an operation, labelled by `error_type`
    /// only, keys its series. A client error becomes a success: it is not the operation's failure.
    pub(crate) const fn without_status_code(self) -> Self {
        Classification { status_code: None, grpc_status_code: None, error_type: self.error_type }
    }

    /// The gRPC status code, when the return value was a gRPC response or status.
    #[must_use]
    pub const fn grpc_status_code(&self) -> Option<GrpcCode> {
        self.grpc_status_code
    }

    /// The HTTP status code, when the return value revealed one.
    #[must_use]
    pub const fn status_code(&self) -> Option<u16> {
        self.status_code
    }

    /// The failure class; `None` for a success or a client error.
    #[must_use]
    pub const fn error_type(&self) -> Option<ErrorType> {
        self.error_type
    }

    /// Whether the call failed (an error, a 5xx, a panic or a cancellation).
    #[must_use]
    pub const fn is_failure(&self) -> bool {
        self.error_type.is_some()
    }

    /// Whether the call ended with a 4xx status or a non-OK gRPC code that is the caller's
    /// fault: not a failure.
    #[must_use]
    pub const fn is_client_error(&self) -> bool {
        let grpc_rejected = match self.grpc_status_code {
            Some(code) => code.0 != 0,
            None => false,
        };
        (matches!(self.status_code, Some(400..=499)) || grpc_rejected) && self.error_type.is_none()
    }

    /// `success`, `client_error` or `failure`: the `outcome` field of the log event.
    #[must_use]
    pub const fn outcome_name(&self) -> &'static str {
        let [success, client_error, failure] = schema::OUTCOMES;
        if self.is_failure() {
            failure
        } else if self.is_client_error() {
            client_error
        } else {
            success
        }
    }
}

/// The last path segment of a type's name, without generic arguments: bounded by the program's
/// own types, readable in a label.
fn short_type_name<E: ?Sized>() -> &'static str {
    let mut name = std::any::type_name::<E>();
    // A boxed or shared error is named after what it holds: `Box<dyn Error>` is an `Error`.
    for wrapper in ["alloc::boxed::Box<", "alloc::sync::Arc<", "alloc::rc::Rc<"] {
        if let Some(inner) = name.strip_prefix(wrapper).and_then(|inner| inner.strip_suffix('>')) {
            name = inner;
        }
    }
    let name = name.strip_prefix("dyn ").unwrap_or(name);
    let name = name.split([' ', '<']).next().unwrap_or(name);
    name.rsplit("::").next().unwrap_or(name)
}

/// Tells how a call that returned `self` ended.
///
/// Implemented for `()`, `Result<T, E>`, [`http::StatusCode`], [`http::Response`], tuples that
/// start with a `StatusCode`, and (feature `axum`) axum's `Json`, `Html` and `NoContent`.
/// Implement it for your own error type so an `Err` maps to the status the client sees:
///
/// ```
/// use obs_runtime::{Classification, Outcome};
///
/// enum ApiError { NotFound, Database }
///
/// impl Outcome for ApiError {
///     fn outcome(&self) -> Classification {
///         match self {
///             ApiError::NotFound => Classification::status(404),
///             ApiError::Database => Classification::status(500),
///         }
///     }
/// }
///
/// let result: Result<(), ApiError> = Err(ApiError::Database);
/// let outcome = result.outcome();
/// assert_eq!(outcome.status_code(), Some(500));
/// assert_eq!(outcome.error_type().unwrap().to_string(), "ApiError");
/// ```
///
/// A return type with no `Outcome` impl still compiles under `#[observed]`: an `Err` of any
/// `Result` is a failure named after its type, and any other value a success without status.
pub trait Outcome {
    /// The classification of this value.
    fn outcome(&self) -> Classification;
}

impl Outcome for () {
    fn outcome(&self) -> Classification {
        Classification::success()
    }
}

impl<T: Outcome, E: Outcome> Outcome for Result<T, E> {
    fn outcome(&self) -> Classification {
        match self {
            Ok(value) => value.outcome(),
            Err(error) => Classification::from_err::<E>(error.outcome()),
        }
    }
}

impl Outcome for http::StatusCode {
    fn outcome(&self) -> Classification {
        Classification::status(self.as_u16())
    }
}

impl<B> Outcome for http::Response<B> {
    fn outcome(&self) -> Classification {
        Classification::status(self.status().as_u16())
    }
}

impl<T> Outcome for (http::StatusCode, T) {
    fn outcome(&self) -> Classification {
        self.0.outcome()
    }
}

impl<T, U> Outcome for (http::StatusCode, T, U) {
    fn outcome(&self) -> Classification {
        self.0.outcome()
    }
}

#[cfg(feature = "axum")]
mod axum_impls {
    use super::{Classification, Outcome};

    impl<T> Outcome for axum::Json<T> {
        fn outcome(&self) -> Classification {
            Classification::status(200)
        }
    }

    impl<T> Outcome for axum::response::Html<T> {
        fn outcome(&self) -> Classification {
            Classification::status(200)
        }
    }

    impl Outcome for axum::response::NoContent {
        fn outcome(&self) -> Classification {
            Classification::status(204)
        }
    }
}

#[cfg(feature = "tonic")]
mod tonic_impls {
    use super::{Classification, Outcome};

    /// A status returned by a gRPC method: classified by its code (see [`Classification::grpc`]).
    impl Outcome for tonic::Status {
        fn outcome(&self) -> Classification {
            Classification::grpc(self.code() as i32)
        }
    }

    /// A gRPC response: code OK.
    impl<T> Outcome for tonic::Response<T> {
        fn outcome(&self) -> Classification {
            Classification::grpc(0)
        }
    }

    /// A gRPC status code on its own.
    impl Outcome for tonic::Code {
        fn outcome(&self) -> Classification {
            Classification::grpc(*self as i32)
        }
    }
}

/// Autoref-based dispatch used by the generated code: the most specific applicable rule wins,
/// so any return type compiles, and types with an [`Outcome`] impl are classified by it.
#[doc(hidden)]
pub mod probe {
    use super::{Classification, Outcome};

    /// Wraps a reference to the return value; see the `classify!` macro.
    pub struct Probe<'a, T>(pub &'a T);

    /// Rule 1: the type implements [`Outcome`].
    pub trait ViaOutcome {
        fn __obs_classify(&self) -> Classification;
    }
    impl<T: Outcome> ViaOutcome for &&&&Probe<'_, T> {
        fn __obs_classify(&self) -> Classification {
            self.0.outcome()
        }
    }

    /// Rule 2: a `Result` whose `Ok` type implements [`Outcome`].
    pub trait ViaOkOutcome {
        fn __obs_classify(&self) -> Classification;
    }
    impl<T: Outcome, E> ViaOkOutcome for &&&Probe<'_, Result<T, E>> {
        fn __obs_classify(&self) -> Classification {
            match self.0 {
                Ok(value) => value.outcome(),
                Err(_) => Classification::error_of::<E>(),
            }
        }
    }

    /// Rule 3: a `Result` whose `Err` type implements [`Outcome`].
    pub trait ViaErrOutcome {
        fn __obs_classify(&self) -> Classification;
    }
    impl<T, E: Outcome> ViaErrOutcome for &&Probe<'_, Result<T, E>> {
        fn __obs_classify(&self) -> Classification {
            match self.0 {
                Ok(_) => Classification::success(),
                Err(error) => Classification::from_err::<E>(error.outcome()),
            }
        }
    }

    /// Rule 4: any `Result`.
    pub trait ViaResult {
        fn __obs_classify(&self) -> Classification;
    }
    impl<T, E> ViaResult for &Probe<'_, Result<T, E>> {
        fn __obs_classify(&self) -> Classification {
            match self.0 {
                Ok(_) => Classification::success(),
                Err(_) => Classification::error_of::<E>(),
            }
        }
    }

    /// Rule 5: anything else is a success without status.
    pub trait ViaAnything {
        fn __obs_classify(&self) -> Classification;
    }
    impl<T> ViaAnything for Probe<'_, T> {
        fn __obs_classify(&self) -> Classification {
            Classification::success()
        }
    }
}

/// Classifies a reference to a return value with the most specific rule of [`probe`].
#[doc(hidden)]
#[macro_export]
macro_rules! __obs_classify {
    ($value:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::probe::{
            ViaAnything as _, ViaErrOutcome as _, ViaOkOutcome as _, ViaOutcome as _, ViaResult as _,
        };
        (&&&&&$crate::__private::probe::Probe($value)).__obs_classify()
    }};
}

#[cfg(test)]
mod tests {
    use super::{Classification, ErrorType, Outcome};
    use http::StatusCode;

    struct NotFoundError;
    impl Outcome for NotFoundError {
        fn outcome(&self) -> Classification {
            Classification::status(404)
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(StatusCode::OK.outcome(), Classification::status(200));
        assert!(!StatusCode::NOT_FOUND.outcome().is_failure());
        assert!(StatusCode::NOT_FOUND.outcome().is_client_error());
        assert_eq!(StatusCode::BAD_GATEWAY.outcome().error_type(), Some(ErrorType::Status(502)));
        assert_eq!((StatusCode::CREATED, "body").outcome().status_code(), Some(201));
        assert_eq!(
            http::Response::builder().status(503).body(()).unwrap().outcome().error_type(),
            Some(ErrorType::Status(503))
        );
        assert_eq!(Classification::status(42), Classification::success());
    }

    #[test]
    fn results() {
        let ok: Result<StatusCode, NotFoundError> = Ok(StatusCode::NO_CONTENT);
        assert_eq!(ok.outcome().status_code(), Some(204));
        let client: Result<StatusCode, NotFoundError> = Err(NotFoundError);
        assert_eq!(client.outcome(), Classification::status(404));
        assert!(!client.outcome().is_failure());
    }

    #[test]
    fn probe_picks_the_most_specific_rule() {
        let io: Result<StatusCode, std::io::Error> = Err(std::io::Error::other("x"));
        assert_eq!(crate::__obs_classify!(&io).error_type(), Some(ErrorType::Named("Error")));
        let ok: Result<StatusCode, std::io::Error> = Ok(StatusCode::ACCEPTED);
        assert_eq!(crate::__obs_classify!(&ok).status_code(), Some(202));
        let plain: Result<u32, String> = Err(String::new());
        assert_eq!(crate::__obs_classify!(&plain).error_type(), Some(ErrorType::Named("String")));
        let err_outcome: Result<u32, NotFoundError> = Err(NotFoundError);
        assert!(crate::__obs_classify!(&err_outcome).is_client_error());
        assert_eq!(crate::__obs_classify!(&7_u8), Classification::success());
        assert_eq!(
            crate::__obs_classify!(&StatusCode::INTERNAL_SERVER_ERROR).error_type(),
            Some(ErrorType::Status(500))
        );
        let generic: Result<Vec<u8>, Box<dyn std::error::Error>> = Err("boom".into());
        assert_eq!(crate::__obs_classify!(&generic).error_type(), Some(ErrorType::Named("Error")));
    }

    #[test]
    fn grpc_codes() {
        let names: Vec<&'static str> =
            (0..=16).map(|code| Classification::grpc(code).grpc_status_code().unwrap().name()).collect();
        assert_eq!(names[14], "UNAVAILABLE");
        for (code, name) in names.iter().enumerate() {
            let outcome = Classification::grpc(i32::try_from(code).unwrap());
            let failure = ["UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"]
                .contains(name);
            assert_eq!(outcome.is_failure(), failure, "{name}");
            assert_eq!(outcome.is_client_error(), !failure && code != 0, "{name}");
            assert_eq!(outcome.status_code(), None, "a gRPC call reveals no HTTP status of its own");
            if failure {
                assert_eq!(outcome.error_type(), Some(ErrorType::Named(name)));
            }
        }
        assert_eq!(Classification::grpc(99).grpc_status_code().map(super::GrpcCode::name), Some("UNKNOWN"));
        // An Err carrying a client code stays a client error; a failure keeps the code's name.
        assert!(Classification::from_err::<String>(Classification::grpc(5)).is_client_error());
        assert_eq!(
            Classification::from_err::<String>(Classification::grpc(14)).error_type(),
            Some(ErrorType::Named("UNAVAILABLE"))
        );
    }

    #[test]
    fn outcome_names() {
        assert_eq!(Classification::success().outcome_name(), "success");
        assert_eq!(Classification::status(429).outcome_name(), "client_error");
        assert_eq!(Classification::error("Timeout").outcome_name(), "failure");
    }
}

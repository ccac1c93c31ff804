//! Semantic checks of the attribute and the annotated item. Every check reports a spanned error
//! saying what to write instead, and all of them run even after the first failure.

use crate::args::{Arg, ArgValue, NestedArgs, RawArgs};
use crate::errors::Errors;
use crate::keys::{Key, ObjectiveKey};
use crate::objective::{self, Latency};
use crate::route::check_route;
use proc_macro2::Span;
use syn::{Expr, ExprLit, ItemFn, Lit, LitStr, UnOp};

/// An operation name is a label value on every series of the operation: short and plain.
const MAX_OPERATION_NAME: usize = 64;

/// The HTTP methods of RFC 9110 plus PATCH (RFC 5789), in canonical upper case.
const HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

use obs_schema::DEFAULT_BUCKETS;

/// More buckets than this multiply the series count without sharpening any percentile.
const MAX_BUCKETS: usize = 40;

/// Durations are recorded in whole nanoseconds, so a finer bucket bound could never be honoured.
const MIN_BUCKET_SECONDS: f64 = 1e-9;

/// A checked `#[observed]` attribute.
pub struct Observed {
    pub target: Target,
    pub buckets: Option<Vec<f64>>,
    /// The path of `obs-runtime` in the user's crate: `::obs_runtime` unless `crate = ..` says.
    pub runtime: syn::Path,
}

/// What the function is observed as.
pub enum Target {
    /// `endpoint = "/users/{id}"`: an HTTP handler.
    Endpoint {
        route: LitStr,
        method: String,
        method_span: Span,
        /// `slo(success = "99.9%")` as a ratio.
        success_objective: Option<f64>,
        latency_objective: Option<Latency>,
    },
    /// `operation = "db.load_user"`: an internal step.
    Operation { name: LitStr },
}

/// Checks the arguments; `attr_span` locates errors about a missing argument.
pub fn check_args(raw: &RawArgs, attr_span: Span, errors: &Errors) -> Option<Observed> {
    let mut endpoint: Option<LitStr> = None;
    let mut operation: Option<LitStr> = None;
    let mut method: Option<(String, Span)> = None;
    let mut buckets: Option<Vec<f64>> = None;
    let mut objectives = Objectives::default();
    let mut runtime: syn::Path = syn::parse_quote!(::obs_runtime);
    let mut seen: Vec<(Key, &syn::Ident)> = Vec::new();
    // A misspelt `endpoint` or `operation` already got a "did you mean"; "missing `endpoint` or
    // `operation`" would repeat it.
    let mut target_misspelt = false;

    for Arg { key: ident, value } in &raw.args {
        let name = ident.to_string();
        let Some(key) = Key::parse(&name) else {
            target_misspelt |= matches!(closest(&name, &Key::names()), Some("endpoint" | "operation"));
            errors.spanned(ident, unknown_name_message("argument", &name, &Key::names()));
            continue;
        };
        if seen.iter().any(|(earlier, _)| *earlier == key) {
            errors.spanned(ident, format!("duplicate argument `{name}`: give it once"));
            continue;
        }
        seen.push((key, ident));
        let value = match (key, value) {
            (Key::Slo, ArgValue::List(nested)) => {
                objectives = check_slo(nested, errors);
                continue;
            }
            (Key::Slo, ArgValue::Value(value)) => {
                errors.spanned(value, format!("`slo` takes a list: write {}", key.example()));
                continue;
            }
            (Key::Slo, ArgValue::Missing) => {
                errors.spanned(ident, format!("`slo` needs objectives: write {}", key.example()));
                continue;
            }
            (_, ArgValue::Value(value)) => value,
            (_, ArgValue::List(_) | ArgValue::Missing) => {
                errors.spanned(ident, format!("`{name}` needs a value: write {}", key.example()));
                continue;
            }
        };
        match key {
            Key::Endpoint => endpoint = check_label_literal(value, key, check_route, errors),
            Key::Operation => operation = check_label_literal(value, key, check_operation_name, errors),
            Key::Method => method = check_method(value, errors),
            Key::Buckets => buckets = check_buckets(value, errors),
            Key::Crate => runtime = check_crate(value, errors).unwrap_or(runtime),
            Key::Slo => {}
        }
    }

    let given = |wanted: Key| seen.iter().find(|(key, _)| *key == wanted).map(|(_, ident)| *ident);
    match (given(Key::Endpoint), given(Key::Operation)) {
        (Some(endpoint_key), Some(operation_key)) => {
            // On the later of the two, which is the one to reconsider.
            let position = |ident: &syn::Ident| seen.iter().position(|(_, earlier)| *earlier == ident);
            let later = if position(endpoint_key) > position(operation_key) { endpoint_key } else { operation_key };
            errors.spanned(
                later,
                "`endpoint` and `operation` cannot be combined: use `endpoint` on the function that handles an HTTP request, \
                 and `operation` on an internal step it calls",
            );
            return None;
        }
        (None, Some(_)) => {
            reject_endpoint_only(&seen, errors);
            return Some(Observed { target: Target::Operation { name: operation? }, buckets, runtime });
        }
        (None, None) if !target_misspelt => {
            errors.push(syn::Error::new(
                attr_span,
                "missing `endpoint` or `operation`: write `#[observed(endpoint = \"/users/{id}\")]` on the function that handles \
                 a route, or `#[observed(operation = \"db.load_user\")]` on an internal step",
            ));
            return None;
        }
        (None, None) => return None,
        (Some(_), None) => {}
    }
    let (method, method_span) = method.unwrap_or_else(|| ("GET".to_owned(), attr_span));
    if let Some((latency, span)) = objectives.latency {
        check_threshold_is_a_bound(latency.threshold_seconds, span, buckets.as_deref(), errors);
    }
    Some(Observed {
        target: Target::Endpoint {
            route: endpoint?,
            method,
            method_span,
            success_objective: objectives.success,
            latency_objective: objectives.latency.map(|(latency, _)| latency),
        },
        buckets,
        runtime,
    })
}

/// An operation given `method` or `slo`: each is an error saying why it does not apply.
fn reject_endpoint_only(seen: &[(Key, &syn::Ident)], errors: &Errors) {
    for (key, ident) in seen.iter().filter(|(key, _)| key.endpoint_only()) {
        let why = if *key == Key::Method {
            "an operation is not an HTTP request and has no method"
        } else {
            "objectives are declared on the endpoint that serves the request"
        };
        errors.spanned(ident, format!("`{ident}` is for endpoints, not operations: {why}; remove it here"));
    }
}

/// Checks the annotated function itself for what the runtime cannot instrument.
pub fn check_item(item: &ItemFn, errors: &Errors) {
    if let Some(constness) = &item.sig.constness {
        errors.spanned(
            constness,
            "#[observed] cannot instrument a `const fn`: timing and logging happen at run time; remove `const` or the attribute",
        );
    }
    if let Some(track_caller) = item.attrs.iter().find(|attr| attr.path().is_ident("track_caller")) {
        errors.spanned(
            track_caller,
            "#[observed] cannot keep `#[track_caller]`: the body runs inside the wrapper's closure or future, so \
             `Location::caller()` and panics would report a line inside this function, not its caller; \
             remove `#[track_caller]`, or move the code that needs it into a helper without #[observed]",
        );
    }
    if let Some(variadic) = &item.sig.variadic {
        errors.spanned(variadic, "#[observed] cannot instrument a variadic function: remove the attribute");
    }
}

/// The objectives declared in `slo(...)`, each with the span of its literal.
#[derive(Default)]
struct Objectives {
    success: Option<f64>,
    latency: Option<(Latency, Span)>,
}

fn check_slo(nested: &NestedArgs, errors: &Errors) -> Objectives {
    let mut objectives = Objectives::default();
    if nested.args.is_empty() {
        errors.push(syn::Error::new(
            nested.span,
            format!("`slo()` declares no objective: write {} or remove it to use the defaults", Key::Slo.example()),
        ));
    }
    let mut seen: Vec<ObjectiveKey> = Vec::new();
    for Arg { key: ident, value } in &nested.args {
        let name = ident.to_string();
        let Some(key) = ObjectiveKey::parse(&name) else {
            errors.spanned(ident, unknown_name_message("objective", &name, &ObjectiveKey::names()));
            continue;
        };
        if seen.contains(&key) {
            errors.spanned(ident, format!("duplicate objective `{name}`: give it once"));
            continue;
        }
        seen.push(key);
        let literal = match value {
            ArgValue::Value(value) => {
                string_literal(value).ok_or_else(|| (quote::ToTokens::to_token_stream(value), number_text(value)))
            }
            ArgValue::List(_) | ArgValue::Missing => Err((quote::ToTokens::to_token_stream(ident), None)),
        };
        let literal = match literal {
            Ok(literal) => literal,
            Err((tokens, number)) => {
                let write = match (number, key) {
                    (Some(number), ObjectiveKey::Success) => format!("`success = \"{number}%\"`"),
                    _ => key.example().to_owned(),
                };
                errors.spanned(tokens, format!("`{name}` must be a string literal: write {write}"));
                continue;
            }
        };
        let text = literal.value();
        match key {
            ObjectiveKey::Success => match objective::parse_percent(&text) {
                Ok(ratio) => objectives.success = Some(ratio),
                Err(message) => errors.spanned(literal, format!("invalid success objective: {message}")),
            },
            ObjectiveKey::Latency => match objective::parse_latency(&text) {
                Ok(latency) => objectives.latency = Some((latency, literal.span())),
                Err(message) => errors.spanned(literal, format!("invalid latency objective: {message}")),
            },
        }
    }
    objectives
}

/// The digits of a number literal, to quote back in a suggestion.
fn number_text(value: &Expr) -> Option<String> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Float(float), .. }) => Some(float.base10_digits().to_owned()),
        Expr::Lit(ExprLit { lit: Lit::Int(int), .. }) => Some(int.base10_digits().to_owned()),
        _ => None,
    }
}

/// A latency objective is measured from the histogram, which only knows its bucket bounds.
fn check_threshold_is_a_bound(threshold: f64, span: Span, buckets: Option<&[f64]>, errors: &Errors) {
    let (bounds, source) = match buckets {
        Some(bounds) => (bounds, "`buckets`"),
        None => (DEFAULT_BUCKETS, "the default buckets"),
    };
    if bounds.contains(&threshold) {
        return;
    }
    let listed = bounds.iter().map(|bound| format_seconds(*bound)).collect::<Vec<_>>().join(", ");
    let seconds = format_seconds(threshold);
    errors.push(syn::Error::new(
        span,
        format!(
            "latency threshold {seconds} is not a bucket bound, so the histogram cannot count the calls faster than it: \
             use one of {source} ({listed}), or add {threshold} to `buckets`"
        ),
    ));
}

/// `0.25` as `250ms`, `2.5` as `2.5s`: how a user writes a threshold.
fn format_seconds(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds}s")
    } else {
        let millis = (seconds * 1e6).round() / 1e3;
        format!("{millis}ms")
    }
}

fn unknown_name_message(what: &str, name: &str, known: &[&'static str]) -> String {
    let list = known.iter().map(|known| format!("`{known}`")).collect::<Vec<_>>().join(", ");
    match closest(name, known) {
        Some(guess) => format!("unknown {what} `{name}`: did you mean `{guess}`? expected one of {list}"),
        None => format!("unknown {what} `{name}`: expected one of {list}"),
    }
}

fn string_literal(value: &Expr) -> Option<&LitStr> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Str(literal), .. }) => Some(literal),
        // A `$route:literal` passed through `macro_rules!` arrives wrapped in an invisible group.
        Expr::Group(group) => string_literal(&group.expr),
        _ => None,
    }
}

/// A label value given as a string literal (`endpoint`, `operation`), checked by `check`.
fn check_label_literal(
    value: &Expr,
    key: Key,
    check: fn(&str) -> Result<(), String>,
    errors: &Errors,
) -> Option<LitStr> {
    let Some(literal) = string_literal(value) else {
        errors.spanned(
            value,
            format!(
                "`{}` must be a string literal, e.g. {}: metric labels only come from literals",
                key.name(),
                key.example()
            ),
        );
        return None;
    };
    match check(&literal.value()) {
        Ok(()) => Some(literal.clone()),
        Err(message) => {
            errors.spanned(literal, message);
            None
        }
    }
}

/// An operation name: 1 to 64 lowercase ASCII letters, digits, `_`, `.` and `-`.
fn check_operation_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-');
    if name.is_empty() {
        return Err("the operation name is empty: name the step, e.g. `operation = \"db.load_user\"`".to_owned());
    }
    let length = name.chars().count();
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        let suggestion: String = name
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .map(|c| if allowed(c) { c } else { '_' })
            .take(MAX_OPERATION_NAME)
            .collect();
        return Err(format!(
            "operation name `{name}` contains {bad:?}: use only lowercase letters, digits, `_`, `.` and `-`, \
             e.g. `operation = \"{suggestion}\"`"
        ));
    }
    if length > MAX_OPERATION_NAME {
        // Every character is ASCII here, so byte offsets are character offsets.
        let prefix = &name[..MAX_OPERATION_NAME];
        let shorter = prefix.rfind(['.', '_', '-']).filter(|at| *at > 0).map_or(prefix, |at| &prefix[..at]);
        return Err(format!(
            "operation name is {length} characters long; at most {MAX_OPERATION_NAME} are allowed, since it is a label value \
             on every series of the operation: shorten it, e.g. `operation = \"{shorter}\"`"
        ));
    }
    Ok(())
}

fn check_method(value: &Expr, errors: &Errors) -> Option<(String, Span)> {
    let Some(literal) = string_literal(value) else {
        let hint = match value {
            Expr::Path(path) => path
                .path
                .get_ident()
                .map(|ident| format!(": write `method = \"{}\"`", ident.to_string().to_uppercase())),
            _ => None,
        };
        errors.spanned(
            value,
            format!("`method` must be a string literal{}", hint.unwrap_or_else(|| ", e.g. `method = \"POST\"`".into())),
        );
        return None;
    };
    let written = literal.value();
    if HTTP_METHODS.contains(&written.as_str()) {
        return Some((written, literal.span()));
    }
    let upper = written.to_uppercase();
    if HTTP_METHODS.contains(&upper.as_str()) {
        errors.spanned(literal, format!("HTTP methods are upper case: write `method = \"{upper}\"`"));
    } else {
        errors
            .spanned(literal, format!("unknown HTTP method `{written}`: expected one of {}", HTTP_METHODS.join(", ")));
    }
    None
}

fn check_buckets(value: &Expr, errors: &Errors) -> Option<Vec<f64>> {
    let Expr::Array(array) = value else {
        errors.spanned(value, "`buckets` must be a list of upper bounds in seconds, e.g. `buckets = [0.01, 0.1, 1.0]`");
        return None;
    };
    if array.elems.is_empty() {
        errors.spanned(
            array,
            "`buckets` is empty: list at least one upper bound in seconds, or remove it to use the defaults",
        );
        return None;
    }
    if array.elems.len() > MAX_BUCKETS {
        errors.spanned(
            array,
            format!("`buckets` lists {} bounds; at most {MAX_BUCKETS} are allowed, since each bound is one more series per label set", array.elems.len()),
        );
        return None;
    }
    let mut bounds = Vec::with_capacity(array.elems.len());
    let mut valid = true;
    for element in &array.elems {
        match bucket_bound(element) {
            Some(bound) if bound.is_finite() && bound >= MIN_BUCKET_SECONDS => {
                if let Some(previous) = bounds.last().copied() {
                    if bound <= previous {
                        errors.spanned(
                            element,
                            format!("bucket bounds must be strictly increasing: {bound} follows {previous}"),
                        );
                        valid = false;
                    }
                }
                bounds.push(bound);
            }
            Some(bound) => {
                errors.spanned(
                    element,
                    format!("bucket bound {bound} is not a duration: bounds are finite seconds of at least 1e-9 (the +Inf bucket is implicit)"),
                );
                valid = false;
            }
            None => {
                errors.spanned(element, "bucket bounds must be number literals in seconds, e.g. `0.25`");
                valid = false;
            }
        }
    }
    valid.then_some(bounds)
}

fn bucket_bound(element: &Expr) -> Option<f64> {
    match element {
        Expr::Lit(ExprLit { lit: Lit::Float(float), .. }) => float.base10_parse().ok(),
        Expr::Lit(ExprLit { lit: Lit::Int(int), .. }) => int.base10_parse::<u32>().ok().map(f64::from),
        Expr::Group(group) => bucket_bound(&group.expr),
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => bucket_bound(&unary.expr).map(|bound| -bound),
        _ => None,
    }
}

/// `crate = my_obs`, `crate = ::my_obs` or `crate = "my_obs"`: where the generated code finds
/// obs-runtime when the user's Cargo.toml renames it.
fn check_crate(value: &Expr, errors: &Errors) -> Option<syn::Path> {
    let path = match value {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => Some(path.path.clone()),
        Expr::Group(group) => return check_crate(&group.expr, errors),
        other => string_literal(other).and_then(|literal| literal.parse::<syn::Path>().ok()),
    };
    if path.is_none() {
        errors.spanned(
            value,
            format!("`crate` takes the path of obs-runtime in this crate: write {}", Key::Crate.example()),
        );
    }
    path
}

/// The known name within edit distance 2 of `name`, to suggest for a typo.
fn closest(name: &str, candidates: &[&'static str]) -> Option<&'static str> {
    candidates
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// The span of the whole attribute argument list, or the call site when it is empty.
pub fn args_span(attr: &proc_macro2::TokenStream) -> Span {
    let mut tokens = attr.clone().into_iter();
    match tokens.next() {
        Some(first) => {
            let first_span = first.span();
            let last_span = tokens.last().map_or(first_span, |last| last.span());
            first_span.join(last_span).unwrap_or(first_span)
        }
        None => Span::call_site(),
    }
}

#[cfg(test)]
mod tests {
    use super::{check_operation_name, closest, edit_distance};

    #[test]
    fn operation_names_are_short_plain_labels() {
        for good in ["db.load_user", "cache-get", "a", "s3.put_object_v2", &"x".repeat(64)] {
            assert_eq!(check_operation_name(good), Ok(()), "{good}");
        }
        assert!(check_operation_name("").unwrap_err().contains("empty"));
        let upper = check_operation_name("DB.LoadUser").unwrap_err();
        assert!(upper.contains("'D'") && upper.contains("\"db.loaduser\""), "{upper}");
        let spaced = check_operation_name("load user").unwrap_err();
        assert!(spaced.contains("' '") && spaced.contains("\"load_user\""), "{spaced}");
        let accented = check_operation_name("café").unwrap_err();
        assert!(accented.contains("'é'") && accented.contains("\"caf_\""), "{accented}");
        let long = check_operation_name(&"y".repeat(65)).unwrap_err();
        assert!(long.contains("65 characters") && long.contains(&format!("\"{}\"", "y".repeat(64))), "{long}");
        let dotted = check_operation_name(&format!("db.{}.load", "z".repeat(60))).unwrap_err();
        assert!(dotted.contains(&format!("\"db.{}\"", "z".repeat(60))), "{dotted}");
    }

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(edit_distance("endpont", "endpoint"), 1);
        assert_eq!(closest("endpont", &["endpoint", "method"]), Some("endpoint"));
        assert_eq!(closest("metod", &["endpoint", "method"]), Some("method"));
        assert_eq!(closest("color", &["endpoint", "method"]), None);
    }
}

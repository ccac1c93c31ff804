//! Semantic checks of the attribute and the annotated item. Every check reports a spanned error
//! saying what to write instead, and all of them run even after the first failure.

use crate::args::{Arg, ArgValue, RawArgs};
use crate::errors::Errors;
use crate::route::check_route;
use proc_macro2::Span;
use syn::{Expr, ExprLit, ItemFn, Lit, LitStr, UnOp};

/// The arguments every `#[observed]` accepts, in the order the error message lists them.
const KNOWN_ARGUMENTS: &[&str] = &["endpoint", "method", "buckets"];

/// The HTTP methods of RFC 9110 plus PATCH (RFC 5789), in canonical upper case.
const HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

/// More buckets than this multiply the series count without sharpening any percentile.
const MAX_BUCKETS: usize = 40;

/// Durations are recorded in whole nanoseconds, so a finer bucket bound could never be honoured.
const MIN_BUCKET_SECONDS: f64 = 1e-9;

/// A checked `#[observed]` attribute.
pub struct Observed {
    pub endpoint: LitStr,
    pub method: String,
    pub method_span: Span,
    pub buckets: Option<Vec<f64>>,
}

/// Checks the arguments; `attr_span` locates errors about a missing argument.
pub fn check_args(raw: &RawArgs, attr_span: Span, errors: &Errors) -> Option<Observed> {
    let mut endpoint: Option<LitStr> = None;
    let mut method: Option<(String, Span)> = None;
    let mut buckets: Option<Vec<f64>> = None;
    let mut seen: Vec<String> = Vec::new();
    // A misspelt `endpoint` already got a "did you mean"; "missing `endpoint`" would repeat it.
    let mut endpoint_misspelt = false;

    for Arg { key, value } in &raw.args {
        let name = key.to_string();
        if !KNOWN_ARGUMENTS.contains(&name.as_str()) {
            endpoint_misspelt |= closest(&name, KNOWN_ARGUMENTS) == Some("endpoint");
            errors.spanned(key, unknown_argument_message(&name));
            continue;
        }
        if seen.contains(&name) {
            errors.spanned(key, format!("duplicate argument `{name}`: give it once"));
            continue;
        }
        seen.push(name.clone());
        let ArgValue::Value(value) = value else {
            errors.spanned(key, format!("`{name}` needs a value: write {}", example_for(&name)));
            continue;
        };
        match name.as_str() {
            "endpoint" => endpoint = check_endpoint(value, errors),
            "method" => method = check_method(value, errors),
            "buckets" => buckets = check_buckets(value, errors),
            _ => unreachable!("every known argument is matched above"),
        }
    }

    if endpoint.is_none() && !endpoint_misspelt && !seen.iter().any(|name| name == "endpoint") {
        errors.push(syn::Error::new(
            attr_span,
            "missing `endpoint`: write `#[observed(endpoint = \"/users/{id}\")]` with the route this function serves",
        ));
    }
    let (method, method_span) = method.unwrap_or_else(|| ("GET".to_owned(), attr_span));
    Some(Observed { endpoint: endpoint?, method, method_span, buckets })
}

/// Checks the annotated function itself for what the runtime cannot instrument.
pub fn check_item(item: &ItemFn, errors: &Errors) {
    if let Some(constness) = &item.sig.constness {
        errors.spanned(
            constness,
            "#[observed] cannot instrument a `const fn`: timing and logging happen at run time; remove `const` or the attribute",
        );
    }
    if let Some(variadic) = &item.sig.variadic {
        errors.spanned(variadic, "#[observed] cannot instrument a variadic function: remove the attribute");
    }
}

fn unknown_argument_message(name: &str) -> String {
    let list = KNOWN_ARGUMENTS.iter().map(|known| format!("`{known}`")).collect::<Vec<_>>().join(", ");
    match closest(name, KNOWN_ARGUMENTS) {
        Some(guess) => {
            format!("unknown argument `{name}`: did you mean `{guess}`? expected one of {list}")
        }
        None => format!("unknown argument `{name}`: expected one of {list}"),
    }
}

fn example_for(name: &str) -> &'static str {
    match name {
        "endpoint" => "`endpoint = \"/users/{id}\"`",
        "method" => "`method = \"GET\"`",
        _ => "`buckets = [0.01, 0.1, 1.0]`",
    }
}

fn string_literal(value: &Expr) -> Option<&LitStr> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Str(literal), .. }) => Some(literal),
        _ => None,
    }
}

fn check_endpoint(value: &Expr, errors: &Errors) -> Option<LitStr> {
    let Some(literal) = string_literal(value) else {
        errors.spanned(
            value,
            "`endpoint` must be a string literal, e.g. `endpoint = \"/users/{id}\"`: metric labels only come from literals",
        );
        return None;
    };
    match check_route(&literal.value()) {
        Ok(()) => Some(literal.clone()),
        Err(message) => {
            errors.spanned(literal, message);
            None
        }
    }
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
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => bucket_bound(&unary.expr).map(|bound| -bound),
        _ => None,
    }
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
    use super::{closest, edit_distance};

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(edit_distance("endpont", "endpoint"), 1);
        assert_eq!(closest("endpont", &["endpoint", "method"]), Some("endpoint"));
        assert_eq!(closest("metod", &["endpoint", "method"]), Some("method"));
        assert_eq!(closest("color", &["endpoint", "method"]), None);
    }
}

//! Route templates: `/users/{id}`, the same syntax axum 0.8 and `OpenAPI` use.

/// A route is a label value on every series of the endpoint and the span name: short and plain.
pub const MAX_ROUTE_LENGTH: usize = 128;

/// Checks a route template and returns a message saying what to write instead when it is not one.
pub fn check_route(route: &str) -> Result<(), String> {
    if route.is_empty() {
        return Err("`endpoint` is empty: write the route template, e.g. `endpoint = \"/users/{id}\"`".into());
    }
    // Before any message quotes the route: a raw line break would split the error message.
    if let Some(control) = route.chars().find(|c| c.is_control()) {
        return Err(format!(
            "`endpoint` contains the control character {control:?}: a route template is one line, e.g. `endpoint = \"/users/{{id}}\"`"
        ));
    }
    let length = route.chars().count();
    if length > MAX_ROUTE_LENGTH {
        return Err(format!(
            "`endpoint` is {length} characters long; at most {MAX_ROUTE_LENGTH} are allowed, since the route is a label value \
             on every series of the endpoint and the span name: shorten it, or use a `{{param}}` segment for the variable part"
        ));
    }
    if !route.starts_with('/') {
        return Err(format!("`endpoint` must start with `/`: write `endpoint = \"/{route}\"`"));
    }
    if let Some(bad) = route.chars().find(|c| matches!(c, '?' | '#')) {
        return Err(format!(
            "`endpoint` is a route template, not a URL: remove the `{bad}` part (query strings and fragments are not part of a route)"
        ));
    }
    if route.contains("//") {
        return Err("`endpoint` contains an empty segment `//`: write each segment once, e.g. `/users/{id}`".into());
    }
    let segments: Vec<&str> = route[1..].split('/').collect();
    let mut params: Vec<&str> = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        if let Some(name) = segment.strip_prefix(':') {
            return Err(format!("`endpoint` uses the old `:{name}` parameter syntax: write `{{{name}}}` instead"));
        }
        if let Some(inner) = segment.strip_prefix('{') {
            let Some(inner) = inner.strip_suffix('}') else {
                return Err(format!(
                    "route segment `{segment}` is not a parameter: a parameter is a whole segment in braces, e.g. `{{id}}`"
                ));
            };
            let (name, wildcard) = match inner.strip_prefix('*') {
                Some(name) => (name, true),
                None => (inner, false),
            };
            if wildcard && index + 1 != segments.len() {
                return Err(format!("the wildcard `{{*{name}}}` must be the last segment of the route"));
            }
            if !is_identifier(name) {
                return Err(format!(
                    "route parameter `{{{name}}}` needs a name made of letters, digits and `_`, e.g. `{{id}}`"
                ));
            }
            if params.contains(&name) {
                return Err(format!("route parameter `{{{name}}}` appears twice: give each parameter its own name"));
            }
            params.push(name);
            continue;
        }
        if let Some(bad) = segment.chars().find(|c| !is_path_char(*c)) {
            return Err(format!(
                "route segment `{segment}` contains `{bad}`: use letters, digits, `-._~` and `{{param}}` segments only"
            ));
        }
    }
    Ok(())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

#[cfg(test)]
mod tests {
    use super::check_route;

    #[test]
    fn accepts_templates() {
        for route in ["/", "/users", "/users/{id}", "/a/{b}/c/{d_2}", "/files/{*path}", "/v1.2/x-y_z~"] {
            assert_eq!(check_route(route), Ok(()), "{route}");
        }
    }

    #[test]
    fn rejects_non_templates() {
        for (route, needle) in [
            ("", "empty"),
            ("users", "start with `/`"),
            ("/users?id=1", "not a URL"),
            ("/users//x", "empty segment"),
            ("/users/:id", "write `{id}`"),
            ("/users/{id", "not a parameter"),
            ("/users/{}", "needs a name"),
            ("/users/{1x}", "needs a name"),
            ("/a/{id}/{id}", "appears twice"),
            ("/files/{*path}/x", "last segment"),
            ("/users/ id", "contains ` `"),
            ("/users\n/{id}", "control character '\\n'"),
            ("users\r", "control character '\\r'"),
            (&format!("/{}", "a".repeat(128)), "129 characters long; at most 128"),
        ] {
            let message = check_route(route).expect_err(route);
            assert!(message.contains(needle), "{route}: {message}");
        }
    }
}

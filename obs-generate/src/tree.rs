//! A small document tree written out as JSON (dashboards) or YAML (rules, configs).
//!
//! Maps keep their insertion order, so the output reads in the order the generator builds it and
//! is identical on every run; no feature flag of a serialization crate can reorder it.

use crate::text;
use std::fmt::Write as _;

/// One value of a document.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    /// Written with [`text::number`]: rounded to 10 significant digits, no exponent. A
    /// non-finite value has no JSON or YAML-number spelling: writing it is an error.
    Num(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl From<&str> for Node {
    fn from(value: &str) -> Self {
        Node::Str(value.to_owned())
    }
}

impl From<String> for Node {
    fn from(value: String) -> Self {
        Node::Str(value)
    }
}

impl From<&String> for Node {
    fn from(value: &String) -> Self {
        Node::Str(value.clone())
    }
}

impl From<bool> for Node {
    fn from(value: bool) -> Self {
        Node::Bool(value)
    }
}

impl From<i64> for Node {
    fn from(value: i64) -> Self {
        Node::Int(value)
    }
}

impl From<u32> for Node {
    fn from(value: u32) -> Self {
        Node::Int(i64::from(value))
    }
}

impl From<f64> for Node {
    fn from(value: f64) -> Self {
        Node::Num(value)
    }
}

impl From<Vec<Node>> for Node {
    fn from(value: Vec<Node>) -> Self {
        Node::Seq(value)
    }
}

/// A map from `(key, value)` pairs, in this order.
pub(crate) fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Node)>) -> Node {
    Node::Map(entries.into_iter().map(|(key, value)| (key.into(), value)).collect())
}

/// A map under construction: entries can be appended, and only to a map.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Object(Vec<(String, Node)>);

impl Object {
    /// Appends `(key, value)`.
    pub(crate) fn push(&mut self, key: &str, value: Node) {
        self.0.push((key.to_owned(), value));
    }

    /// The entries, in order.
    pub(crate) fn into_entries(self) -> Vec<(String, Node)> {
        self.0
    }
}

impl From<Object> for Node {
    fn from(object: Object) -> Self {
        Node::Map(object.0)
    }
}

/// A map to append to before it becomes a [`Node`].
pub(crate) fn object<K: Into<String>>(entries: impl IntoIterator<Item = (K, Node)>) -> Object {
    Object(entries.into_iter().map(|(key, value)| (key.into(), value)).collect())
}

/// A sequence of strings.
pub(crate) fn strings<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Node {
    Node::Seq(items.into_iter().map(|item| Node::Str(item.as_ref().to_owned())).collect())
}

/// A number that JSON and YAML cannot spell (NaN, an infinity), at this key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NotFinite(pub String);

impl Node {
    /// The key path of the first non-finite number in the tree.
    fn check_finite(&self, path: &str) -> Result<(), NotFinite> {
        match self {
            Node::Num(value) if !value.is_finite() => Err(NotFinite(format!("{path} = {value}"))),
            Node::Seq(items) => {
                items.iter().enumerate().try_for_each(|(index, item)| item.check_finite(&format!("{path}[{index}]")))
            }
            Node::Map(entries) => {
                entries.iter().try_for_each(|(key, value)| value.check_finite(&format!("{path}.{key}")))
            }
            _ => Ok(()),
        }
    }

    /// Pretty JSON, two-space indented, with a final newline.
    ///
    /// # Errors
    /// [`NotFinite`] for a NaN or infinite number, rather than writing something else.
    pub(crate) fn to_json(&self) -> Result<String, NotFinite> {
        self.check_finite("")?;
        let mut out = String::with_capacity(64 * 1024);
        write_json(&mut out, self, 0);
        out.push('\n');
        Ok(out)
    }

    /// Block-style YAML, two-space indented, after `header` (comment lines without the `#`).
    ///
    /// # Errors
    /// [`NotFinite`] for a NaN or infinite number, rather than writing something else.
    pub(crate) fn to_yaml(&self, header: &[String]) -> Result<String, NotFinite> {
        self.check_finite("")?;
        let mut out = String::with_capacity(16 * 1024);
        for line in header {
            if line.is_empty() {
                out.push_str("#\n");
            } else {
                let _ = writeln!(out, "# {line}");
            }
        }
        match self {
            Node::Map(entries) if !entries.is_empty() => write_yaml_map(&mut out, entries, 0),
            Node::Seq(items) if !items.is_empty() => write_yaml_seq(&mut out, items, 0, false),
            scalar => {
                out.push_str(&yaml_scalar(scalar, 1));
                out.push('\n');
            }
        }
        Ok(out)
    }
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_json(out: &mut String, node: &Node, level: usize) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
        Node::Int(value) => {
            let _ = write!(out, "{value}");
        }
        Node::Num(value) => out.push_str(&text::number(*value)),
        Node::Str(value) => json_string(out, value),
        Node::Seq(items) if items.is_empty() => out.push_str("[]"),
        Node::Seq(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                out.push_str(if index == 0 { "\n" } else { ",\n" });
                indent(out, level + 1);
                write_json(out, item, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push(']');
        }
        Node::Map(entries) if entries.is_empty() => out.push_str("{}"),
        Node::Map(entries) => {
            out.push('{');
            for (index, (key, value)) in entries.iter().enumerate() {
                out.push_str(if index == 0 { "\n" } else { ",\n" });
                indent(out, level + 1);
                json_string(out, key);
                out.push_str(": ");
                write_json(out, value, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push('}');
        }
    }
}

/// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped.
pub(crate) fn json_string(out: &mut String, value: &str) {
    out.push('"');
    for character in value.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

fn write_yaml_map(out: &mut String, entries: &[(String, Node)], level: usize) {
    for (index, (key, value)) in entries.iter().enumerate() {
        if index > 0 {
            indent(out, level);
        }
        write_yaml_entry(out, key, value, level);
    }
}

/// `key: value` (the caller has written the indentation of the first line).
fn write_yaml_entry(out: &mut String, key: &str, value: &Node, level: usize) {
    out.push_str(&yaml_string(key));
    out.push(':');
    match value {
        Node::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            indent(out, level + 1);
            write_yaml_map(out, entries, level + 1);
        }
        Node::Seq(items) if !items.is_empty() => {
            out.push('\n');
            write_yaml_seq(out, items, level, false);
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar(scalar, level + 1));
            out.push('\n');
        }
    }
}

/// Block sequence items at `level` (Kubernetes style: `- ` at the parent key's indentation);
/// `first_inline` when the first item continues a line that already holds a `- `.
fn write_yaml_seq(out: &mut String, items: &[Node], level: usize, first_inline: bool) {
    for (index, item) in items.iter().enumerate() {
        if index > 0 || !first_inline {
            indent(out, level);
        }
        out.push_str("- ");
        match item {
            Node::Map(entries) if !entries.is_empty() => write_yaml_map(out, entries, level + 1),
            Node::Seq(inner) if !inner.is_empty() => write_yaml_seq(out, inner, level + 1, true),
            scalar => {
                out.push_str(&yaml_scalar(scalar, level + 1));
                out.push('\n');
            }
        }
    }
}

/// A scalar; a multi-line string becomes a literal block indented at `level`.
fn yaml_scalar(node: &Node, level: usize) -> String {
    match node {
        Node::Str(value) if is_block_safe(value) => {
            let mut out = String::from(if value.ends_with('\n') { "|" } else { "|-" });
            for line in value.trim_end_matches('\n').split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    indent(&mut out, level);
                    out.push_str(line);
                }
            }
            out
        }
        Node::Null => "null".to_owned(),
        Node::Bool(value) => (if *value { "true" } else { "false" }).to_owned(),
        Node::Int(value) => value.to_string(),
        Node::Num(value) => text::number(*value),
        Node::Str(value) => yaml_string(value),
        Node::Seq(_) => "[]".to_owned(),
        Node::Map(_) => "{}".to_owned(),
    }
}

/// Whether a multi-line string reads back exactly from a literal block: no control characters but
/// line feeds, no leading space on the first line, at most one final line feed.
fn is_block_safe(value: &str) -> bool {
    value.contains('\n')
        && !value.starts_with([' ', '\n'])
        && !value.ends_with("\n\n")
        && value.chars().all(|character| character == '\n' || !character.is_control())
}

/// A YAML string that every YAML 1.1 and 1.2 reader (Go's yaml.v2 and v3 included) reads back as
/// exactly `value`, as a string: plain when that is unambiguous, else single-quoted, else
/// double-quoted with escapes.
pub(crate) fn yaml_string(value: &str) -> String {
    if is_plain_safe(value) {
        return value.to_owned();
    }
    if value.chars().all(|character| !character.is_control()) {
        return format!("'{}'", value.replace('\'', "''"));
    }
    let mut out = String::with_capacity(value.len() + 2);
    json_string(&mut out, value);
    out
}

fn is_plain_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else { return false };
    let allowed = |character: char| character.is_ascii_alphanumeric() || " _./@-:".contains(character);
    // `: ` would start a mapping, and a final `:` too.
    if !value.chars().all(allowed) || value.ends_with([' ', ':']) || value.contains("  ") || value.contains(": ") {
        return false;
    }
    if first.is_ascii_digit() {
        return is_duration(value);
    }
    if !(first.is_ascii_alphabetic() || first == '_' || first == '/') {
        return false;
    }
    // Words YAML 1.1 reads as booleans or null.
    let reserved = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    !reserved.iter().any(|word| value.eq_ignore_ascii_case(word))
}

/// `5m`, `1h30m`, `3d`: a Prometheus duration, which no YAML reader takes for a number.
fn is_duration(value: &str) -> bool {
    let mut rest = value;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h", "d", "w", "y"].into_iter().find(|unit| rest.starts_with(unit));
        let Some(unit) = unit else { return false };
        rest = &rest[unit.len()..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_strings_quote_only_when_needed() {
        assert_eq!(yaml_string("page"), "page");
        assert_eq!(yaml_string("/users/{id}"), "'/users/{id}'");
        assert_eq!(yaml_string("/health"), "/health");
        assert_eq!(yaml_string("5m"), "5m");
        assert_eq!(yaml_string("1h30m"), "1h30m");
        assert_eq!(yaml_string("500"), "'500'");
        assert_eq!(yaml_string("0.99"), "'0.99'");
        assert_eq!(yaml_string("yes"), "'yes'");
        assert_eq!(yaml_string("Off"), "'Off'");
        assert_eq!(yaml_string("n"), "'n'");
        assert_eq!(yaml_string(""), "''");
        assert_eq!(yaml_string("it's"), "'it''s'");
        assert_eq!(yaml_string("a: b"), "'a: b'");
        assert_eq!(yaml_string("line\nbreak"), "\"line\\nbreak\"");
        assert_eq!(yaml_string("#channel"), "'#channel'");
        assert_eq!(yaml_string("GET /users"), "GET /users");
        assert_eq!(yaml_string("level:metric:rate5m"), "level:metric:rate5m");
        assert_eq!(yaml_string("localhost:9464"), "localhost:9464");
        assert_eq!(yaml_string("ends:"), "'ends:'");
    }

    #[test]
    fn yaml_blocks_nest_maps_and_sequences() {
        let document = map([
            ("groups", Node::Seq(vec![map([("name", "a".into()), ("rules", Node::Seq(vec![]))])])),
            ("labels", map([("severity", "page".into()), ("le", "1.0".into())])),
            ("list", strings(["x", "y z"])),
            ("nested", Node::Seq(vec![strings(["p", "q"])])),
            ("num", Node::Num(0.25)),
            ("empty", map(Vec::<(String, Node)>::new())),
        ]);
        let expected = "# head\n#\ngroups:\n- name: a\n  rules: []\nlabels:\n  severity: page\n  le: '1.0'\nlist:\n- x\n- y z\nnested:\n- - p\n  - q\nnum: 0.25\nempty: {}\n";
        assert_eq!(document.to_yaml(&["head".to_owned(), String::new()]).as_deref(), Ok(expected));
        let block = map([("a", map([("text", "one\n\n  two".into()), ("end", "x\n".into())]))]);
        assert_eq!(block.to_yaml(&[]).as_deref(), Ok("a:\n  text: |-\n    one\n\n      two\n  end: |\n    x\n"));
    }

    #[test]
    fn a_non_finite_number_is_an_error_naming_where_it_is() {
        let document = map([("panels", Node::Seq(vec![map([("max", Node::Num(f64::NAN))])]))]);
        assert_eq!(document.to_json(), Err(super::NotFinite(".panels[0].max = NaN".to_owned())));
        assert!(map([("x", Node::Num(f64::INFINITY))]).to_yaml(&[]).is_err());
    }

    #[test]
    fn an_object_only_ever_grows_a_map() {
        let mut built = super::object([("a", Node::Int(1))]);
        built.push("b", Node::Int(2));
        assert_eq!(Node::from(built), map([("a", Node::Int(1)), ("b", Node::Int(2))]));
    }

    #[test]
    fn json_is_pretty_ordered_and_escaped() {
        let document = map([
            ("b", Node::Int(1)),
            ("a", strings(["q\"uote", "back\\slash", "tab\t"])),
            ("e", Node::Seq(vec![])),
            ("n", Node::Null),
            ("f", Node::Num(1.0 - 0.99)),
        ]);
        let expected = "{\n  \"b\": 1,\n  \"a\": [\n    \"q\\\"uote\",\n    \"back\\\\slash\",\n    \"tab\\t\"\n  ],\n  \"e\": [],\n  \"n\": null,\n  \"f\": 0.01\n}\n";
        assert_eq!(document.to_json().as_deref(), Ok(expected));
    }
}

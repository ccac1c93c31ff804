//! Every metric and label name users query is written once, in `obs-schema`: the product code
//! of the runtime, the macro and the generator holds no string literal naming one. A rename in
//! the schema then reaches the exposition, the dashboards, the rules and the docs together.
//! A literal that only looks like a name (an English noun) is marked `// not a label` on its line.

use obs_runtime::schema;
use std::path::{Path, PathBuf};

/// Every name of the schema.
fn schema_names() -> Vec<&'static str> {
    let metrics = [
        schema::HTTP_SERVER_ACTIVE_REQUESTS,
        schema::OBS_BUILD_INFO,
        schema::OBS_TELEMETRY_EXPORTED,
        schema::OBS_TELEMETRY_DROPPED,
        schema::PROCESS_CPU_SECONDS,
        schema::PROCESS_RESIDENT_MEMORY,
        schema::PROCESS_VIRTUAL_MEMORY,
        schema::PROCESS_OPEN_FDS,
        schema::PROCESS_MAX_FDS,
        schema::PROCESS_THREADS,
        schema::PROCESS_START_TIME,
    ];
    let mut names: Vec<&'static str> = metrics.iter().flat_map(|metric| [metric.name, metric.stem]).collect();
    for histogram in [schema::HTTP_SERVER_REQUEST_DURATION, schema::OPERATION_DURATION] {
        names.extend([histogram.metric.name, histogram.metric.stem, histogram.count, histogram.bucket, histogram.sum]);
    }
    names.extend([
        schema::HTTP_REQUEST_METHOD,
        schema::HTTP_ROUTE,
        schema::HTTP_RESPONSE_STATUS_CODE,
        schema::RPC_GRPC_STATUS_CODE,
        schema::ERROR_TYPE,
        schema::OPERATION,
        schema::LE,
        schema::SIGNAL,
        schema::REASON,
        schema::SERVICE_NAME,
        schema::SERVICE_VERSION,
        schema::OBS_VERSION,
    ]);
    names
}

/// Names specific enough to be flagged inside longer text too (PromQL, templates, prose):
/// metric names and the labels no English sentence or other system uses. `service_name` is
/// also Loki's stream label of the OTLP resource, a different name that happens to agree.
fn specific(name: &str) -> bool {
    name.contains('_') && ![schema::SERVICE_NAME, schema::SERVICE_VERSION, schema::OBS_VERSION].contains(&name)
}

/// The string literals of Rust source, comments and char literals skipped: (line, contents).
fn string_literals(source: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = source.chars().collect();
    let mut literals = Vec::new();
    let (mut at, mut line) = (0, 1);
    while at < chars.len() {
        match chars[at] {
            '\n' => {
                line += 1;
                at += 1;
            }
            '/' if chars.get(at + 1) == Some(&'/') => {
                while at < chars.len() && chars[at] != '\n' {
                    at += 1;
                }
            }
            '\'' => {
                // A char literal (`'"'`, `'\''`, `'\u{7f}'`) or a lifetime (`'a`).
                at = if chars.get(at + 1) == Some(&'\\') {
                    (at + 3..chars.len().min(at + 12))
                        .find(|close| chars[*close] == '\'')
                        .map_or(at + 1, |close| close + 1)
                } else if chars.get(at + 2) == Some(&'\'') {
                    at + 3
                } else {
                    at + 1
                };
            }
            'r' if matches!(chars.get(at + 1), Some('"' | '#')) && (at == 0 || !chars[at - 1].is_alphanumeric()) => {
                let mut hashes = 0;
                let mut open = at + 1;
                while chars.get(open) == Some(&'#') {
                    hashes += 1;
                    open += 1;
                }
                if chars.get(open) != Some(&'"') {
                    at += 1;
                    continue;
                }
                let start_line = line;
                let mut text = String::new();
                let mut cursor = open + 1;
                while cursor < chars.len() {
                    if chars[cursor] == '"' && (0..hashes).all(|offset| chars.get(cursor + 1 + offset) == Some(&'#')) {
                        break;
                    }
                    if chars[cursor] == '\n' {
                        line += 1;
                    }
                    text.push(chars[cursor]);
                    cursor += 1;
                }
                literals.push((start_line, text));
                at = cursor + 1 + hashes;
            }
            '"' => {
                let start_line = line;
                let mut text = String::new();
                let mut cursor = at + 1;
                while cursor < chars.len() && chars[cursor] != '"' {
                    if chars[cursor] == '\\' {
                        text.push(chars[cursor]);
                        cursor += 1;
                    }
                    if chars.get(cursor) == Some(&'\n') {
                        line += 1;
                    }
                    if let Some(c) = chars.get(cursor) {
                        text.push(*c);
                    }
                    cursor += 1;
                }
                literals.push((start_line, text));
                at = cursor + 1;
            }
            _ => at += 1,
        }
    }
    literals
}

/// Whether `word` stands in `text` as a whole name; a `format!` placeholder `{word}` is the
/// argument's name, not the label's, and does not count (a Grafana legend's `{{word}}` does).
fn contains_word(text: &str, word: &str) -> bool {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let mut before = text[..at].chars().rev();
        let (previous, one_more) = (before.next(), before.next());
        let after = text[at + word.len()..].chars().next();
        let placeholder = previous == Some('{') && one_more != Some('{') && after == Some('}');
        !placeholder && !previous.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_metric_or_label_name_is_written_outside_the_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let names = schema_names();
    let mut files = Vec::new();
    for crate_dir in ["obs-runtime", "obs-generate", "obs-macros"] {
        rust_files(&root.join(crate_dir).join("src"), &mut files);
    }
    // The macro's own argument keys (`operation = ..`) share a word with a label; its labels
    // come from the runtime, so only the specific names are looked for there.
    let macro_dir = root.join("obs-macros");
    assert!(files.len() > 40, "the product sources were found: {files:?}");
    let mut found = Vec::new();
    for file in files.iter().filter(|file| !file.ends_with("tests.rs")) {
        let source = std::fs::read_to_string(file).expect("read source");
        // Unit tests state expected output, literally on purpose.
        let product = source.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
        let exempt_lines: Vec<usize> = product
            .lines()
            .enumerate()
            .filter(|(_, line)| line.contains("// not a label"))
            .map(|(index, _)| index + 1)
            .collect();
        for (line, literal) in string_literals(product) {
            if exempt_lines.contains(&line) {
                continue;
            }
            for name in &names {
                let exact = literal == *name && !file.starts_with(&macro_dir);
                if exact || (specific(name) && contains_word(&literal, name)) {
                    found.push(format!(
                        "{}:{line}: {name} in {literal:?}",
                        file.strip_prefix(root).unwrap_or(file).display()
                    ));
                }
            }
        }
    }
    assert!(found.is_empty(), "names to take from obs_runtime::schema instead:\n{}", found.join("\n"));
}

#[test]
fn the_scanner_finds_literals_and_skips_comments_and_chars() {
    let source = "let a = \"x\"; // \"commented\"\nlet b = '\"'; let c = r#\"raw \"q\"\"#; fn f<'a>(s: &'a str) {}\nlet d = \"two\\\nlines\";";
    let literals: Vec<String> = string_literals(source).into_iter().map(|(_, text)| text).collect();
    assert_eq!(literals, ["x", "raw \"q\"", "two\\\nlines"]);
    assert!(contains_word("sum by (http_route) (x)", "http_route"));
    assert!(!contains_word("my_http_route", "http_route"));
    assert!(contains_word("{{ .CommonLabels.http_route }}", "http_route"));
    assert!(!contains_word("http_routes", "http_route"));
    assert!(!contains_word("`{error_type}` is", "error_type"), "a format! placeholder");
    assert!(contains_word("{{error_type}}", "error_type"), "a Grafana legend");
}

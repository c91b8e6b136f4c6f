//! The modules form layers, and an import only ever runs down them (README.md, Development):
//!
//! ```text
//! file_error, plan < sources < rules < policy < gate, config, waiver < fix < report < runtask < cli
//! ```
//!
//! This test reads every `crate::…` path in `src/` (in `use` items and in code; comments are
//! left out) and fails on one that names a module of a higher layer than the file's own. The
//! crate root, `lib.rs`, declares every module and wires the stages (`check`, `check_top`); its
//! items count as the gate's layer for whoever imports them.

#[path = "common/corpus.rs"]
mod corpus;

use std::path::Path;

/// Each top-level module and its layer (higher may import lower and equal, never the reverse).
const LAYERS: [(&str, u8); 14] = [
    ("file_error", 0),
    ("plan", 0),
    ("sources", 1),
    ("rules", 2),
    ("policy", 3),
    ("gate", 4),
    ("config", 4),
    ("waiver", 4),
    ("fix", 5),
    ("report", 6),
    ("runtask", 7),
    ("cli", 8),
    // The crate root's own items (`crate::check`, `crate::Error`, …).
    ("", 4),
    ("main", 9),
];

fn layer_of(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// The top-level module a file of `src/` belongs to (`""` for `lib.rs`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    match first.strip_suffix(".rs") {
        Some("lib") => String::new(),
        Some(name) => name.to_string(),
        None => first.into_owned(),
    }
}

/// The code of a Rust file without its comments (line comments, doc comments, block comments)
/// and string literals' contents, so a path in prose or in a message is not an import.
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'/', Some(b'/')) => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            (b'r', Some(b'"' | b'#')) if starts_a_literal(&out) => {
                // A raw string `r"…"`, `r#"…"#`: it ends at a quote followed by as many `#`.
                let hashes = bytes[i + 1..].iter().take_while(|&&b| b == b'#').count();
                if bytes.get(i + 1 + hashes) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let closing: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                let start = i + 2 + hashes;
                i = bytes[start..]
                    .windows(closing.len())
                    .position(|w| w == closing.as_slice())
                    .map_or(bytes.len(), |p| start + p + closing.len());
                out.push_str("\"\"");
            }
            (b'"', _) => {
                // A string literal.
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
            }
            (b'\'', _) if bytes.get(i + 2) == Some(&b'\'') || bytes.get(i + 1) == Some(&b'\\') => {
                // A char literal such as '"' or '\\'.
                let end = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == b'\'')
                    .map_or(bytes.len(), |p| i + 1 + p + 1);
                let end = if bytes.get(i + 1) == Some(&b'\\') {
                    bytes[i + 3..]
                        .iter()
                        .position(|&b| b == b'\'')
                        .map_or(bytes.len(), |p| i + 3 + p + 1)
                } else {
                    end
                };
                i = end;
            }
            _ => {
                out.push(bytes[i] as char);
                i += 1;
            }
        }
    }
    out
}

/// Whether an `r` after the code `before` starts a raw string: it is not the end of an
/// identifier, unless that identifier is the `b` of `br"…"`.
fn starts_a_literal(before: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut back = before.chars().rev();
    match back.next() {
        Some('b') => !back.next().is_some_and(word),
        Some(c) => !word(c),
        None => true,
    }
}

/// Every top-level module a file names through `crate::`: `crate::fix::X`, and each item of
/// `use crate::{fix::X, report, Error}` (an item without `::` is a crate-root item, unless it
/// is a module name).
fn named_modules(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `portgate_crate::…`, not a path of this crate
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for item in split_top_level(&group[..end]) {
                out.push(first_segment(item.trim()));
            }
            rest = &group[end..];
        } else {
            out.push(first_segment(rest));
        }
    }
    out.into_iter()
        .map(|m| {
            if layer_of(&m).is_some() {
                m
            } else {
                String::new()
            }
        })
        .collect()
}

fn first_segment(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 1;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    text.len()
}

fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

#[test]
fn no_import_runs_up_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    corpus::files_with_extension(&src, "rs", &mut files);
    let mut up = Vec::new();
    let mut seen = 0;
    for file in &files {
        let module = module_of(&src, file);
        if module.is_empty() {
            continue; // lib.rs: the root declares and wires every layer
        }
        let own = layer_of(&module)
            .unwrap_or_else(|| panic!("{}: module {module:?} has no layer", file.display()));
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for named in named_modules(&code) {
            seen += 1;
            let layer = layer_of(&named).unwrap();
            if layer > own {
                up.push(format!(
                    "{} ({module}, layer {own}) imports crate::{} (layer {layer})",
                    file.strip_prefix(&src).unwrap().display(),
                    if named.is_empty() {
                        "<root item>"
                    } else {
                        &named
                    },
                ));
            }
        }
    }
    up.sort();
    up.dedup();
    assert!(
        seen > 100,
        "only {seen} crate:: paths found: is the scan reading the files?"
    );
    assert!(
        up.is_empty(),
        "imports that run up a layer:\n{}",
        up.join("\n")
    );
}

#[test]
fn the_scan_sees_paths_and_groups_but_not_comments_or_strings() {
    let code = code_only(
        "use crate::fix::FixSet;\n// crate::cli::x\nuse crate::{report::json, Error, gate::{A, B}};\nlet s = \"crate::runtask\"; let c = '\"'; let r = r#\"say \"crate::cli\" \"#; let b = br#\"\"crate::fix\"\"#; crate::plan::read();",
    );
    assert_eq!(named_modules(&code), ["fix", "report", "", "gate", "plan"]);
}

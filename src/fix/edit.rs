//! Text edits and the unified diffs that show them.
//!
//! A fix is data: byte-range replacements in one file's original text. The same edits are
//! rendered as a diff (`--format diff`, text and JSON output), written back (`--write`), and
//! later turned into SARIF replacements, so every consumer sees exactly the same change.

use std::ops::Range;

use similar::TextDiff;

/// Replace `range` of a file's original text with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Edit {
    pub range: Range<usize>,
    pub replacement: String,
}

/// Why a set of edits cannot be applied together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    pub first: Edit,
    pub second: Edit,
}

/// Sorts and de-duplicates edits (count/for_each instances of one block produce identical
/// edits) and checks that none overlap.
pub fn normalize(mut edits: Vec<Edit>) -> Result<Vec<Edit>, Overlap> {
    edits.sort_by(|a, b| {
        (a.range.start, a.range.end, &a.replacement).cmp(&(
            b.range.start,
            b.range.end,
            &b.replacement,
        ))
    });
    edits.dedup();
    for pair in edits.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        // Two insertions at one point, or a range starting inside another, conflict.
        if b.range.start < a.range.end || (a.range == b.range) {
            return Err(Overlap {
                first: a.clone(),
                second: b.clone(),
            });
        }
    }
    Ok(edits)
}

/// Applies normalized (sorted, non-overlapping) edits to `original`.
pub fn apply(original: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(original.len());
    let mut at = 0;
    for edit in edits {
        out.push_str(&original[at..edit.range.start]);
        out.push_str(&edit.replacement);
        at = edit.range.end;
    }
    out.push_str(&original[at..]);
    out
}

/// A unified diff of one file with `a/PATH` and `b/PATH` headers, as `git apply` and
/// `patch -p1` expect. Empty when nothing changes.
pub fn unified_diff(path: &str, before: &str, after: &str) -> String {
    labelled_diff(&format!("a/{path}"), &format!("b/{path}"), before, after)
}

/// A unified diff with the given header labels.
pub fn labelled_diff(old_label: &str, new_label: &str, before: &str, after: &str) -> String {
    if before == after {
        return String::new();
    }
    let diff = TextDiff::from_lines(before, after);
    let mut out = diff
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string();
    // `similar` marks a missing final newline the way diff(1) does; make sure each hunk ends
    // with a newline so concatenated patches stay valid.
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(start: usize, end: usize, text: &str) -> Edit {
        Edit {
            range: start..end,
            replacement: text.to_string(),
        }
    }

    #[test]
    fn edits_apply_in_order_and_duplicates_collapse() {
        let text = "a = [\"0.0.0.0/0\"]\n";
        let edits = normalize(vec![
            edit(5, 16, "\"10.0.0.0/8\""),
            edit(5, 16, "\"10.0.0.0/8\""),
        ])
        .unwrap();
        assert_eq!(edits.len(), 1);
        assert_eq!(apply(text, &edits), "a = [\"10.0.0.0/8\"]\n");
    }

    #[test]
    fn overlapping_edits_are_refused() {
        assert!(normalize(vec![edit(0, 5, "x"), edit(3, 8, "y")]).is_err());
        assert!(normalize(vec![edit(0, 5, "x"), edit(0, 5, "y")]).is_err());
        assert!(normalize(vec![edit(0, 5, "x"), edit(5, 8, "y")]).is_ok());
    }

    #[test]
    fn diffs_have_git_headers() {
        let diff = unified_diff("main.tf", "a\nb\nc\n", "a\nB\nc\n");
        assert!(
            diff.starts_with("--- a/main.tf\n+++ b/main.tf\n@@ -1,3 +1,3 @@\n"),
            "{diff}"
        );
        assert!(diff.contains("-b\n+B\n"));
        assert_eq!(unified_diff("x", "same", "same"), "");
    }
}

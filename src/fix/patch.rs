//! The CIDR swap itself: which elements of a CIDR list change, and the byte edits that change
//! them while leaving every other byte of the file alone.
//!
//! Each world entry of the offending family is removed; the first one is replaced in place by
//! the trusted CIDRs of the same family (IPv4 for `0.0.0.0/0`, IPv6 for `::/0`) that the list
//! does not already hold. Other entries stay. A multi-line list keeps one element per line with
//! the original indentation; a one-line list stays on one line.

use std::collections::BTreeMap;
use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use ipnet::IpNet;

use super::edit::Edit;
use crate::config::TrustedCidr;
use crate::rules::cidr::{self, Family};

/// The world entries of one rule, by family, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct World {
    pub members: BTreeMap<Family, Vec<IpNet>>,
}

impl World {
    fn is_member(&self, net: &IpNet) -> bool {
        self.members
            .get(&cidr::family(net))
            .is_some_and(|m| m.contains(net))
    }

    /// Whether the CIDR `text` is one of the entries to replace.
    pub fn holds(&self, text: &str) -> bool {
        cidr::parse(text).is_some_and(|net| self.is_member(&net))
    }
}

/// What happens to one element of a CIDR list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementChange {
    Keep,
    Remove,
    /// Replace with these CIDRs (never empty).
    Replace(Vec<String>),
}

/// The plan for one list (or one scalar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListChange {
    pub changes: Vec<ElementChange>,
    /// Elements left after the change (kept plus inserted).
    pub remaining: usize,
    /// Some element was a world member.
    pub touched: bool,
    /// World entries removed without a replacement, for the patch's explanation.
    pub removed_without_replacement: Vec<String>,
}

/// Decides the change for a list of elements (`None` = not a string literal, kept as is).
pub fn plan_list(values: &[Option<String>], world: &World, trusted: &[TrustedCidr]) -> ListChange {
    let present: Vec<IpNet> = values
        .iter()
        .flatten()
        .filter_map(|v| cidr::parse(v))
        .collect();
    let mut replaced_family: Vec<Family> = Vec::new();
    let mut change = ListChange {
        changes: Vec::new(),
        remaining: 0,
        touched: false,
        removed_without_replacement: Vec::new(),
    };
    for value in values {
        let net = value.as_deref().and_then(cidr::parse);
        let Some(net) = net.filter(|n| world.is_member(n)) else {
            change.changes.push(ElementChange::Keep);
            change.remaining += 1;
            continue;
        };
        change.touched = true;
        let family = cidr::family(&net);
        if replaced_family.contains(&family) {
            change.changes.push(ElementChange::Remove);
            continue;
        }
        replaced_family.push(family);
        let replacements: Vec<String> = trusted
            .iter()
            .filter(|t| cidr::family(&t.net) == family && !present.contains(&t.net))
            .map(|t| t.net.to_string())
            .collect();
        let has_trusted = trusted.iter().any(|t| cidr::family(&t.net) == family);
        if replacements.is_empty() {
            if !has_trusted {
                change
                    .removed_without_replacement
                    .push(value.clone().unwrap_or_default());
            }
            change.changes.push(ElementChange::Remove);
        } else {
            change.remaining += replacements.len();
            change.changes.push(ElementChange::Replace(replacements));
        }
    }
    change
}

/// A list or string literal of a source file, re-parsed on its own with absolute spans.
pub struct Literal {
    /// Element spans and string values (`None` for non-literal elements). A string literal
    /// is a one-element list.
    pub elements: Vec<(Range<usize>, Option<String>)>,
    pub is_list: bool,
    /// Span of the whole literal.
    pub span: Range<usize>,
}

/// Reads the literal at `span` of `text`.
pub fn literal(text: &str, span: Range<usize>) -> Option<Literal> {
    let expr = hcl_edit::parser::parse_expr(text.get(span.clone())?).ok()?;
    let offset = |r: Range<usize>| r.start + span.start..r.end + span.start;
    match &expr {
        Expression::String(s) => Some(Literal {
            elements: vec![(span.clone(), Some(s.value().clone()))],
            is_list: false,
            span,
        }),
        Expression::Array(array) => {
            let elements = array
                .iter()
                .map(|e| {
                    let range = offset(e.span().unwrap_or(0..0));
                    let value = match e {
                        Expression::String(s) => Some(s.value().clone()),
                        _ => None,
                    };
                    (range, value)
                })
                .collect();
            Some(Literal {
                elements,
                is_list: true,
                span,
            })
        }
        _ => None,
    }
}

fn quote(cidr: &str) -> String {
    format!("\"{cidr}\"")
}

/// Byte range of the line holding `offset`, including its newline.
pub(super) fn line_range(text: &str, offset: usize) -> Range<usize> {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..]
        .find('\n')
        .map_or(text.len(), |i| offset + i + 1);
    start..end
}

/// True when the element at `range` is alone on its line (only a comma, spaces or a comment
/// beside it).
fn alone_on_line(text: &str, range: &Range<usize>) -> bool {
    let line = line_range(text, range.start);
    let before = &text[line.start..range.start];
    let after = text[range.end..line.end]
        .trim_end_matches(['\n', '\r'])
        .trim_start();
    let after = after.strip_prefix(',').unwrap_or(after).trim_start();
    before.trim().is_empty()
        && (after.is_empty() || after.starts_with('#') || after.starts_with("//"))
}

/// The edits that carry out `change` on `literal` in `text`. Only changed elements are
/// touched: a replaced element's characters, a removed element with its own comma (or its whole
/// line, when it stands alone on it). Comments always stay. New elements follow the list's
/// layout: one per line with the same indentation and line ending in a multi-line list,
/// `, `-separated otherwise.
pub fn edits(text: &str, literal: &Literal, change: &ListChange) -> Vec<Edit> {
    if !literal.is_list {
        return match change.changes.first() {
            Some(ElementChange::Replace(items)) => vec![Edit {
                range: literal.elements[0].0.clone(),
                replacement: quote(&items[0]),
            }],
            _ => Vec::new(),
        };
    }
    if change.remaining == 0 && !holds_comment(&text[literal.span.clone()]) {
        return vec![Edit {
            range: literal.span.clone(),
            replacement: "[]".to_string(),
        }];
    }
    let multi_line = text[literal.span.clone()].contains('\n');
    let mut replacements = Vec::new();
    let mut deletions: Vec<Range<usize>> = Vec::new();
    let mut survivor_end = None;
    for ((range, _), c) in literal.elements.iter().zip(&change.changes) {
        let own_line = multi_line && alone_on_line(text, range);
        if *c != ElementChange::Remove {
            survivor_end = Some(range.end);
        }
        match c {
            ElementChange::Keep => {}
            ElementChange::Remove if own_line => deletions.push(own_line_removal(text, range)),
            ElementChange::Remove => {
                let (element, comma) = inline_removal(text, range, survivor_end);
                deletions.push(element);
                deletions.extend(comma);
            }
            ElementChange::Replace(items) => {
                let quoted: Vec<String> = items.iter().map(|i| quote(i)).collect();
                let separator = if own_line {
                    let line = line_range(text, range.start);
                    let eol = if text[line.clone()].ends_with("\r\n") {
                        "\r\n"
                    } else {
                        "\n"
                    };
                    format!(",{eol}{}", &text[line.start..range.start])
                } else {
                    ", ".to_string()
                };
                replacements.push(Edit {
                    range: range.clone(),
                    replacement: quoted.join(&separator),
                });
            }
        }
    }
    // Neighbouring removals may share a comma; deleting the union deletes each byte once.
    deletions.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<Range<usize>> = Vec::new();
    for range in deletions {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    replacements.extend(merged.into_iter().map(|range| Edit {
        range,
        replacement: String::new(),
    }));
    replacements
}

/// The bytes to delete to remove an element that stands alone on its line: the whole line, or,
/// when a comment follows it, the element and its comma only, so the comment stays.
fn own_line_removal(text: &str, range: &Range<usize>) -> Range<usize> {
    let line = line_range(text, range.start);
    let rest = text[range.end..line.end].trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix(',').unwrap_or(rest);
    let comment = rest.trim_start_matches([' ', '\t']);
    if comment.starts_with('#') || comment.starts_with("//") {
        range.start..line.end - comment.len()
    } else {
        line
    }
}

/// The bytes to delete to remove the element at `range` from a list, leaving every comment:
/// the element and the comma after it (with the spaces that follow); when a comment stands
/// between the element and its comma, the element and the comma on their own; for the last
/// element, everything from the end of the last element that stays (`survivor_end`), comma
/// included, unless a comment lies in between (then only the element, leaving a trailing
/// comma, which HCL allows). Returns the element's deletion and, apart, its comma's.
fn inline_removal(
    text: &str,
    range: &Range<usize>,
    survivor_end: Option<usize>,
) -> (Range<usize>, Option<Range<usize>>) {
    let after = &text[range.end..];
    let gap = after.len() - after.trim_start_matches([' ', '\t']).len();
    if after[gap..].starts_with(',') {
        let rest = &after[gap + 1..];
        let spaces = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        return (range.start..range.end + gap + 1 + spaces, None);
    }
    if let Some(comma) = next_comma(text, range.end) {
        return (range.clone(), Some(comma..comma + 1));
    }
    match survivor_end {
        Some(end) if !holds_comment(&text[end..range.start]) => (end..range.end, None),
        _ => (range.clone(), None),
    }
}

/// The offset of the comma after `from` when the next token (past whitespace and comments) is
/// a comma.
fn next_comma(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let rest = &text[at..];
        let token = rest.trim_start();
        at += rest.len() - token.len();
        if token.starts_with(',') {
            return Some(at);
        } else if token.starts_with("/*") {
            at += token.find("*/")? + 2;
        } else if token.starts_with('#') || token.starts_with("//") {
            at += token.find('\n')?;
        } else {
            return None;
        }
    }
}

/// Whether list text outside string literals holds a comment. The elements a fix removes are
/// CIDR strings, which hold none of these marks.
fn holds_comment(text: &str) -> bool {
    text.contains('#') || text.contains("//") || text.contains("/*")
}

/// The edit that deletes the whole lines of `span` (a block or resource being removed).
pub fn remove_lines(text: &str, span: &Range<usize>) -> Edit {
    let start = line_range(text, span.start).start;
    let end = line_range(text, span.end.saturating_sub(1).max(span.start)).end;
    Edit {
        range: start..end,
        replacement: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::edit::{apply, normalize};

    fn world(cidrs: &[&str]) -> World {
        let mut w = World::default();
        for c in cidrs {
            let net = cidr::parse(c).unwrap();
            w.members.entry(cidr::family(&net)).or_default().push(net);
        }
        w
    }

    fn trusted(cidrs: &[&str]) -> Vec<TrustedCidr> {
        cidrs
            .iter()
            .map(|c| TrustedCidr::parse(c).unwrap())
            .collect()
    }

    /// Applies the swap to the literal that starts at `marker` in `text`.
    fn swap(text: &str, world_cidrs: &[&str], trusted_cidrs: &[&str]) -> String {
        let start = text.find('[').or_else(|| text.find('"')).unwrap();
        let expr_end = start
            + hcl_edit::parser::parse_expr(&text[start..text.rfind(['"', ']']).unwrap() + 1])
                .unwrap()
                .span()
                .unwrap()
                .end;
        let lit = literal(text, start..expr_end).unwrap();
        let values: Vec<Option<String>> = lit.elements.iter().map(|(_, v)| v.clone()).collect();
        let change = plan_list(&values, &world(world_cidrs), &trusted(trusted_cidrs));
        apply(text, &normalize(edits(text, &lit, &change)).unwrap())
    }

    #[test]
    fn a_one_line_list_keeps_its_other_entries_and_layout() {
        assert_eq!(
            swap(
                "[\"0.0.0.0/0\", \"10.1.0.0/16\"]",
                &["0.0.0.0/0"],
                &["10.0.0.0/8"]
            ),
            "[\"10.0.0.0/8\", \"10.1.0.0/16\"]"
        );
        assert_eq!(
            swap(
                "[ \"10.1.0.0/16\",\"0.0.0.0/0\" ]",
                &["0.0.0.0/0"],
                &["10.0.0.0/8", "192.168.0.0/16"]
            ),
            "[ \"10.1.0.0/16\",\"10.0.0.0/8\", \"192.168.0.0/16\" ]",
            "only the element's own bytes change"
        );
    }

    #[test]
    fn a_multi_line_list_gets_one_line_per_cidr_with_comments_kept() {
        let text = "[\n    \"0.0.0.0/0\", # anywhere\n    \"10.1.0.0/16\",\n  ]";
        assert_eq!(
            swap(text, &["0.0.0.0/0"], &["10.0.0.0/8", "172.16.0.0/12"]),
            "[\n    \"10.0.0.0/8\",\n    \"172.16.0.0/12\", # anywhere\n    \"10.1.0.0/16\",\n  ]"
        );
    }

    #[test]
    fn without_a_trusted_cidr_of_the_family_the_world_entry_is_removed() {
        assert_eq!(
            swap("[\"::/0\", \"2001:db8::/32\"]", &["::/0"], &["10.0.0.0/8"]),
            "[\"2001:db8::/32\"]"
        );
        assert_eq!(swap("[\"0.0.0.0/0\"]", &["0.0.0.0/0"], &[]), "[]");
        let text = "[\n  \"10.1.0.0/16\",\n  \"0.0.0.0/0\"\n]";
        assert_eq!(swap(text, &["0.0.0.0/0"], &[]), "[\n  \"10.1.0.0/16\",\n]");
    }

    #[test]
    fn several_world_entries_give_one_replacement_and_no_duplicates() {
        assert_eq!(
            swap(
                "[\"0.0.0.0/1\", \"128.0.0.0/1\"]",
                &["0.0.0.0/1", "128.0.0.0/1"],
                &["10.0.0.0/8"]
            ),
            "[\"10.0.0.0/8\"]"
        );
        assert_eq!(
            swap(
                "[\"10.0.0.0/8\", \"0.0.0.0/0\"]",
                &["0.0.0.0/0"],
                &["10.0.0.0/8"]
            ),
            "[\"10.0.0.0/8\"]",
            "a trusted CIDR already present is not added twice"
        );
    }

    #[test]
    fn elements_sharing_a_line_keep_their_comments() {
        let text = "[\n  \"10.1.0.0/16\", \"0.0.0.0/0\", # HQ and everyone\n  \"192.168.1.0/24\", # lab\n]";
        assert_eq!(
            swap(text, &["0.0.0.0/0"], &["10.0.0.0/8"]),
            "[\n  \"10.1.0.0/16\", \"10.0.0.0/8\", # HQ and everyone\n  \"192.168.1.0/24\", # lab\n]"
        );
        assert_eq!(
            swap(text, &["0.0.0.0/0"], &[]),
            "[\n  \"10.1.0.0/16\", # HQ and everyone\n  \"192.168.1.0/24\", # lab\n]"
        );
    }

    #[test]
    fn removing_neighbours_and_the_last_element_leaves_valid_lists() {
        assert_eq!(
            swap(
                "[\"0.0.0.0/1\", \"128.0.0.0/1\", \"10.1.0.0/16\"]",
                &["0.0.0.0/1", "128.0.0.0/1"],
                &[]
            ),
            "[\"10.1.0.0/16\"]"
        );
        assert_eq!(
            swap(
                "[\"10.1.0.0/16\", \"0.0.0.0/1\", \"128.0.0.0/1\"]",
                &["0.0.0.0/1", "128.0.0.0/1"],
                &[]
            ),
            "[\"10.1.0.0/16\"]"
        );
    }

    /// Found by tests/properties.rs: removing a world entry took the comments beside it along
    /// (its whole line, the `[]` of an emptied list, or the text back to the previous entry).
    #[test]
    fn removed_world_entries_leave_every_comment() {
        assert_eq!(
            swap(
                "[\n    \"0.0.0.0/0\",\n    \"0.0.0.0/0\" # anywhere\n  ]",
                &["0.0.0.0/0"],
                &["10.0.0.0/8"]
            ),
            "[\n    \"10.0.0.0/8\",\n    # anywhere\n  ]"
        );
        assert_eq!(
            swap(
                "[\n  \"10.1.0.0/16\",\n  \"::/0\",   // TODO\n]",
                &["::/0"],
                &[]
            ),
            "[\n  \"10.1.0.0/16\",\n  // TODO\n]"
        );
        assert_eq!(
            swap("[\"::/0\" /* c */, \"2001:db8::/32\"]", &["::/0"], &[]),
            "[ /* c */ \"2001:db8::/32\"]"
        );
        assert_eq!(
            swap("[\"2001:db8::/32\", /* c */ \"::/0\"]", &["::/0"], &[]),
            "[\"2001:db8::/32\", /* c */ ]"
        );
        assert_eq!(
            swap("[ # everyone\n  \"::/0\"\n]", &["::/0"], &[]),
            "[ # everyone\n]"
        );
        assert_eq!(swap("[ /* c */ \"::/0\" ]", &["::/0"], &[]), "[ /* c */  ]");
    }

    #[test]
    fn inserted_lines_use_the_file_line_ending() {
        let text = "[\r\n  \"0.0.0.0/0\",\r\n]";
        assert_eq!(
            swap(text, &["0.0.0.0/0"], &["10.0.0.0/8", "172.16.0.0/12"]),
            "[\r\n  \"10.0.0.0/8\",\r\n  \"172.16.0.0/12\",\r\n]"
        );
    }

    #[test]
    fn a_scalar_string_is_replaced_by_the_first_trusted_cidr() {
        assert_eq!(
            swap("\"::/0\"", &["::/0"], &["2001:db8::/32", "2001:db9::/32"]),
            "\"2001:db8::/32\""
        );
    }

    #[test]
    fn removing_a_block_removes_its_whole_lines() {
        let text = "a {\n  ingress {\n    x = 1\n  }\n}\n";
        let start = text.find("ingress").unwrap();
        let end = text.find("  }\n").unwrap() + 3;
        let edit = remove_lines(text, &(start..end));
        assert_eq!(apply(text, &[edit]), "a {\n}\n");
    }
}

//! Splitting a rule whose port range is wider than the guarded ports, so a patch takes the
//! world away from the guarded ports only: `tcp 0-65535` from `0.0.0.0/0` becomes `tcp 0-136`,
//! `140-444` and `446-65535` still from `0.0.0.0/0`, and `tcp 137-139` and `445` from the
//! trusted CIDRs. Cutting every port of a rule to the trusted networks would silently break
//! whatever else the rule was for.
//!
//! A split is written only where it can be written exactly: the block's `from_port` and
//! `to_port` are number literals equal to the planned ones, and every CIDR edit of the fix lies
//! inside the block (a value set in a variable or tfvars is shared by every piece, so it cannot
//! differ between them). Otherwise the fix patches the whole rule and its notes say that every
//! other port loses world access too.

use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::Block;

use super::edit::{self, Edit};
use super::source::SourceFile;
use crate::policy::PolicySet;
use crate::rules::IngressRule;
use crate::rules::protocol::{L4, Protocol};

/// One piece of a split rule: an inclusive port range, and whether it is guarded (gets the
/// patched CIDRs) or keeps the original ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Piece {
    pub from: i64,
    pub to: i64,
    pub guarded: bool,
}

/// How wide a rule is, for the fix: what the notes say when it cannot be split.
pub(super) enum Width {
    /// Only guarded ports: nothing else changes.
    GuardedOnly,
    /// A tcp/udp range with other ports: these pieces keep the world.
    Wider { l4: L4, pieces: Vec<Piece> },
    /// Protocol `-1` / `all`: no split can be written.
    AllProtocols,
}

/// The width of `rule` against every guarded port of `policies`.
pub(super) fn width(rule: &IngressRule, policies: &PolicySet) -> Width {
    let protocol = match rule.protocol.known() {
        Some(Some(text)) => Protocol::parse(text),
        _ => return Width::GuardedOnly,
    };
    let l4 = match protocol {
        Protocol::All => return Width::AllProtocols,
        Protocol::Ported(l4) => l4,
        Protocol::Other(_) => return Width::GuardedOnly,
    };
    let (Some(Some(from)), Some(Some(to))) = (rule.from_port.known(), rule.to_port.known()) else {
        return Width::GuardedOnly;
    };
    let mut guarded: Vec<(i64, i64)> = policies
        .policies
        .iter()
        .flat_map(|p| &p.ports)
        .filter(|spec| spec.protocol == l4)
        .map(|spec| {
            (
                i64::from(spec.range.from).max(*from),
                i64::from(spec.range.to).min(*to),
            )
        })
        .filter(|(a, b)| a <= b)
        .collect();
    guarded.sort();
    let mut merged: Vec<(i64, i64)> = Vec::new();
    for (a, b) in guarded {
        match merged.last_mut() {
            Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut pieces = Vec::new();
    let mut next = *from;
    for (a, b) in merged {
        if a > next {
            pieces.push(Piece {
                from: next,
                to: a - 1,
                guarded: false,
            });
        }
        pieces.push(Piece {
            from: a,
            to: b,
            guarded: true,
        });
        next = b + 1;
    }
    if next <= *to {
        pieces.push(Piece {
            from: next,
            to: *to,
            guarded: false,
        });
    }
    if pieces.iter().all(|p| p.guarded) {
        Width::GuardedOnly
    } else {
        Width::Wider { l4, pieces }
    }
}

/// `tcp 0-136, 140-444 and 446-65535`.
pub(super) fn describe(l4: L4, pieces: &[Piece], guarded: bool) -> String {
    let ranges: Vec<String> = pieces
        .iter()
        .filter(|p| p.guarded == guarded)
        .map(|p| {
            if p.from == p.to {
                p.from.to_string()
            } else {
                format!("{}-{}", p.from, p.to)
            }
        })
        .collect();
    let joined = match ranges.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => ranges.join(""),
    };
    format!("{l4} {joined}")
}

/// The edit that replaces `block` (an `ingress` block, or a rule resource when `rename` is
/// set) by one copy per piece: guarded pieces with `cidr_edits` applied, the others as written,
/// each with its own ports; resource copies after the first get the name `NAME_FROM_TO`.
/// `None` when the block cannot be split exactly (see the module docs).
pub(super) fn split_block(
    file: &SourceFile,
    block: &Block,
    rule: &IngressRule,
    cidr_edits: &[Edit],
    pieces: &[Piece],
    rename: bool,
) -> Option<Edit> {
    let span = block.span()?;
    if cidr_edits
        .iter()
        .any(|e| e.range.start < span.start || e.range.end > span.end)
    {
        return None;
    }
    let literal = |key: &str, planned: Option<&Option<i64>>| -> Option<Range<usize>> {
        let attribute = block.body.get_attribute(key)?;
        match (&attribute.value, planned) {
            (Expression::Number(n), Some(Some(p))) if n.value().as_i64() == Some(*p) => {
                attribute.value.span()
            }
            _ => None,
        }
    };
    let from_span = literal("from_port", rule.from_port.known())?;
    let to_span = literal("to_port", rule.to_port.known())?;
    let name = if rename {
        let label = block.labels.get(1)?;
        Some((label.span()?, label.as_str().to_string()))
    } else {
        None
    };
    let shift = |range: &Range<usize>| (range.start - span.start)..(range.end - span.start);
    let text = &file.text[span.clone()];
    let indent: String = {
        let line_start = file.text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        file.text[line_start..span.start]
            .chars()
            .take_while(|c| c.is_whitespace())
            .collect()
    };
    let mut copies = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let mut edits = vec![
            Edit {
                range: shift(&from_span),
                replacement: piece.from.to_string(),
            },
            Edit {
                range: shift(&to_span),
                replacement: piece.to.to_string(),
            },
        ];
        if piece.guarded {
            edits.extend(cidr_edits.iter().map(|e| Edit {
                range: shift(&e.range),
                replacement: e.replacement.clone(),
            }));
        }
        if let Some((label_span, label)) = &name
            && i > 0
        {
            edits.push(Edit {
                range: shift(label_span),
                replacement: format!("\"{label}_{}_{}\"", piece.from, piece.to),
            });
        }
        let edits = edit::normalize(edits).ok()?;
        copies.push(edit::apply(text, &edits));
    }
    let separator = if rename {
        format!("\n\n{indent}")
    } else {
        format!("\n{indent}")
    };
    Some(Edit {
        range: span,
        replacement: copies.join(&separator),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces_of(l4: &str, from: i64, to: i64) -> Vec<(i64, i64, bool)> {
        let rule = IngressRule::new(
            0,
            None,
            String::new(),
            crate::rules::Known::Known(Some(l4.to_string())),
            crate::rules::Known::Known(Some(from)),
            crate::rules::Known::Known(Some(to)),
        );
        match width(&rule, &PolicySet::builtin().unwrap()) {
            Width::Wider { pieces, .. } => {
                pieces.iter().map(|p| (p.from, p.to, p.guarded)).collect()
            }
            Width::GuardedOnly => Vec::new(),
            Width::AllProtocols => vec![(-1, -1, true)],
        }
    }

    #[test]
    fn a_wide_range_keeps_the_world_outside_the_guarded_ports() {
        assert_eq!(
            pieces_of("tcp", 0, 65535),
            [
                (0, 136, false),
                (137, 139, true),
                (140, 444, false),
                (445, 445, true),
                (446, 65535, false)
            ]
        );
        assert_eq!(
            pieces_of("6", 400, 445),
            [(400, 444, false), (445, 445, true)]
        );
        assert_eq!(pieces_of("tcp", 445, 445), []);
        assert_eq!(pieces_of("tcp", 137, 139), []);
        assert_eq!(pieces_of("-1", 0, 0), [(-1, -1, true)]);
    }
}

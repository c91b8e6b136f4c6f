//! `--format markdown`: a report to paste into a pull request comment (Atlantis and other bots)
//! or a GitHub job summary (`--format github` appends it to `$GITHUB_STEP_SUMMARY`).
//!
//! Layout: a title with a pass/fail word, one summary line, the plan's warnings, a table of
//! every finding (rule, severity, resource, block, ports, CIDR, status), then one section per
//! finding with the message, why it matters, how to fix it and the suggested patch in a
//! ```` ```diff ```` block with its notes (once per rule: later findings of the same rule refer
//! to it). Blocking findings come first, then warnings, then waived ones, each in plan order.
//!
//! Two rules shape it:
//!
//! - **Size.** GitHub rejects comments over 65,536 characters, so the report stays under
//!   [`MAX_CHARS`]. The plan warnings may take up to 8,000 characters and the table up to
//!   32,000 (a line says how many rows it lists when it stops early); sections are then added
//!   while they fit, and a last line says how many findings have no section and how to see
//!   them all: `… and N more findings not shown (see the full report: …)`.
//! - **No "fail" on a pass.** Atlantis decides that a custom policy check failed when the
//!   output contains the substring "fail", and this report is posted where such checks run. A
//!   report without blocking findings therefore never contains it, in any case: the template
//!   words are chosen for that, and text that comes from the plan (addresses, file names,
//!   messages, warnings such as "terraform plan failed") gets an invisible WORD JOINER (U+2060)
//!   after its "fa" (`defuse`). It renders the same; only copying it carries the joiner.

use std::fmt::Write as _;
use std::io;

use super::ReportContext;
use crate::fix::{Fix, FixKind};
use crate::gate::{CheckReport, GatedFinding};
use crate::policy::{FindingKind, PolicySet, RuleMeta, invalid_cidr_meta, unknown_value_meta};

/// The largest report written, in characters (GitHub's comment limit is 65,536).
pub const MAX_CHARS: usize = 65_000;

/// How a finding stands against the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    /// Fails the gate (exit code 1).
    Blocking,
    /// Reported, does not fail the gate: PG003 with `--unknown warn`, or below `--fail-on`.
    Warning,
    /// Matched by an active waiver.
    Waived,
}

impl Status {
    pub(crate) fn of(gated: &GatedFinding) -> Status {
        if gated.fails_gate {
            Status::Blocking
        } else if gated.waived {
            Status::Waived
        } else {
            Status::Warning
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Blocking => "blocking",
            Status::Warning => "warning",
            Status::Waived => "waived",
        }
    }

    fn icon(self) -> &'static str {
        match self {
            Status::Blocking => "❌",
            Status::Warning => "⚠️",
            Status::Waived => "💤",
        }
    }
}

/// The description of the rule a finding comes from: its policy, or a built-in diagnostic.
pub(crate) fn meta(policies: &PolicySet, gated: &GatedFinding) -> RuleMeta {
    let finding = &gated.finding;
    match finding.kind {
        FindingKind::Unknown => unknown_value_meta(),
        FindingKind::InvalidCidr => invalid_cidr_meta(),
        FindingKind::Exposed => policies
            .get(&finding.rule_id)
            .map(|p| p.meta.clone())
            .unwrap_or_else(unknown_value_meta),
    }
}

/// Why a finding does or does not block beyond the obvious, in one sentence: its waiver, or
/// why a warning is only a warning. `None` for a plain blocking finding.
pub(crate) fn gate_note(gated: &GatedFinding) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(applied) = &gated.waiver {
        let w = &applied.waiver;
        let until = crate::waiver::format_date(w.expires);
        parts.push(if applied.expired {
            format!(
                "the waiver ({}) expired on {until}, so the finding counts again: {}",
                w.origin, w.reason
            )
        } else {
            format!("waived until {until} ({}): {}", w.origin, w.reason)
        });
    }
    match Status::of(gated) {
        Status::Blocking | Status::Waived => {}
        Status::Warning if gated.finding.kind == FindingKind::Unknown => parts.push(
            "reported as a warning: values unknown until apply do not block with --unknown warn"
                .to_string(),
        ),
        Status::Warning => parts.push(
            "reported as a warning: its severity is below the blocking threshold".to_string(),
        ),
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// `address block`, or `address` for a rule that is a resource of its own.
pub(crate) fn subject(gated: &GatedFinding) -> String {
    let f = &gated.finding;
    match &f.block {
        Some(block) => format!("{} {block}", f.address),
        None => f.address.clone(),
    }
}

/// Inserts a WORD JOINER (U+2060) after the "fa" of every "fail", whatever its case, so the
/// text reads the same but no longer contains the substring (see the module documentation).
pub(crate) fn defuse(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut start = 0;
    let mut i = 0;
    while i + 4 <= bytes.len() {
        if bytes[i..i + 4].eq_ignore_ascii_case(b"fail") {
            // "fa" are ASCII, so i + 2 is a character boundary.
            out.push_str(&text[start..i + 2]);
            out.push('\u{2060}');
            start = i + 2;
            i += 4;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[start..]);
    out
}

/// `1 finding`, `2 findings`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Escapes text so Markdown shows it as written (no emphasis, links, HTML or table breaks).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes prose written for people (a policy's rationale and remediation, portgate's
/// warnings): like [`text`], but backquoted words stay code spans when the backquotes pair up.
fn prose(s: &str) -> String {
    if !s.matches('`').count().is_multiple_of(2) {
        return text(s);
    }
    s.split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { code(part) } else { text(part) })
        .collect()
}

/// An inline code span holding `s` exactly (one line).
fn code(s: &str) -> String {
    let s = s.replace(['\r', '\n'], " ");
    let longest = longest_run(&s, '`');
    let fence = "`".repeat(longest + 1);
    if longest > 0 || s.starts_with(' ') || s.ends_with(' ') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// A code span fit for a table cell (`|` escaped, which GitHub requires even in code).
fn cell_code(s: &str) -> String {
    code(s).replace('|', "\\|")
}

fn longest_run(s: &str, c: char) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for ch in s.chars() {
        if ch == c {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// A fenced code block in `language` holding `body` exactly.
fn fenced(language: &str, body: &str) -> String {
    let fence = "`".repeat(longest_run(body, '`').max(2) + 1);
    let mut out = format!("{fence}{language}\n{body}");
    if !body.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&fence);
    out.push('\n');
    out
}

/// The report being built: pieces are added while they fit in [`MAX_CHARS`], leaving room for
/// the closing lines.
struct Doc {
    out: String,
    chars: usize,
    limit: usize,
    passing: bool,
}

impl Doc {
    /// Prepares a piece: defused on a passing run.
    fn prepare(&self, piece: &str) -> String {
        if self.passing {
            defuse(piece)
        } else {
            piece.to_string()
        }
    }

    /// Adds a piece whatever its size (the header and the closing lines).
    fn push(&mut self, piece: &str) {
        let piece = self.prepare(piece);
        self.chars += piece.chars().count();
        self.out.push_str(&piece);
    }

    /// Adds a piece if it fits; returns whether it did.
    fn try_push(&mut self, piece: &str) -> bool {
        let piece = self.prepare(piece);
        let n = piece.chars().count();
        if self.chars + n > self.limit {
            return false;
        }
        self.chars += n;
        self.out.push_str(&piece);
        true
    }
}

/// Room kept for the closing lines (the "not shown" line and the footer).
const RESERVED: usize = 600;
/// The most the plan warnings may take, so findings still have room.
const WARNINGS_BUDGET: usize = 8_000;
/// The most the summary table may take, so the first findings' sections still have room.
const TABLE_BUDGET: usize = 32_000;

pub fn write(context: &ReportContext<'_>, out: &mut dyn io::Write) -> io::Result<()> {
    out.write_all(render(context).as_bytes())
}

/// The whole report as a string.
pub fn render(context: &ReportContext<'_>) -> String {
    render_within(context, MAX_CHARS)
}

/// The report in at most about `max_chars` characters (a share of [`MAX_CHARS`] when one
/// comment holds the reports of several inputs).
pub fn render_within(context: &ReportContext<'_>, max_chars: usize) -> String {
    let report = context.report;
    let passing = !report.fails();
    let mut doc = Doc {
        out: String::new(),
        chars: 0,
        limit: max_chars.saturating_sub(RESERVED),
        passing,
    };
    doc.push(&header(report));

    let full = doc.limit;
    doc.limit = (doc.chars + WARNINGS_BUDGET).min(full);
    let mut warnings_shown = 0;
    for warning in &report.warnings {
        if !doc.try_push(&format!("> ⚠️ **Warning:** {}\n", prose(warning))) {
            break;
        }
        warnings_shown += 1;
    }
    doc.limit = full;
    if warnings_shown < report.warnings.len() {
        doc.push(&format!(
            "> … and {} more (see the full report)\n",
            count(report.warnings.len() - warnings_shown, "warning")
        ));
    }
    if !report.warnings.is_empty() {
        doc.push("\n");
    }

    // Blocking findings first, then warnings, then waived ones; plan order within each.
    let mut order: Vec<usize> = (0..report.findings.len()).collect();
    order.sort_by_key(|&i| Status::of(&report.findings[i]));

    let mut rows_shown = 0;
    if !order.is_empty() {
        doc.push(
            "| Rule | Severity | Resource | Block | Ports | CIDR | Status |\n\
             | --- | --- | --- | --- | --- | --- | --- |\n",
        );
        doc.limit = (doc.chars + TABLE_BUDGET).min(full);
        for &i in &order {
            if !doc.try_push(&table_row(&report.findings[i])) {
                break;
            }
            rows_shown += 1;
        }
        doc.limit = full;
        if rows_shown < order.len() {
            doc.push(&format!(
                "\n_The table lists {rows_shown} of {} findings._\n",
                order.len()
            ));
        }
        doc.push("\n");
    }

    let mut sections_shown = 0;
    // The number of the section that showed each rule's fix, so later findings of the same
    // rule (PG001 and PG002, IPv4 and IPv6) refer to it instead of repeating the patch.
    let mut fix_shown_in: Vec<(usize, usize)> = Vec::new();
    for &i in &order {
        let gated = &report.findings[i];
        let number = sections_shown + 1;
        let earlier = fix_shown_in
            .iter()
            .find(|(rule, _)| *rule == gated.finding.rule_index)
            .map(|(_, n)| *n);
        let section = section(context, gated, number, earlier);
        if !doc.try_push(&section) {
            break;
        }
        sections_shown += 1;
        if earlier.is_none() && fix_of(context, gated).is_some() {
            fix_shown_in.push((gated.finding.rule_index, number));
        }
    }
    let hidden = order.len() - sections_shown;
    if hidden > 0 {
        doc.push(&format!(
            "… and {} not shown (see the full report: `portgate {} --format text`)\n\n",
            if hidden == 1 {
                "1 more finding".to_string()
            } else {
                format!("{hidden} more findings")
            },
            report.plan.kind.command()
        ));
    }
    doc.push(&format!(
        "<sub>portgate {}</sub>\n",
        env!("CARGO_PKG_VERSION")
    ));
    doc.out
}

fn header(report: &CheckReport) -> String {
    let total = report.findings.len();
    let blocking = report
        .findings
        .iter()
        .filter(|g| Status::of(g) == Status::Blocking)
        .count();
    let warnings = report
        .findings
        .iter()
        .filter(|g| Status::of(g) == Status::Warning)
        .count();
    let waived = total - blocking - warnings;
    let title = if blocking > 0 {
        format!(
            "## portgate: ❌ FAILED · {}\n\n",
            count(blocking, "blocking finding")
        )
    } else if total > 0 || !report.warnings.is_empty() {
        "## portgate: ⚠️ PASSED with warnings\n\n".to_string()
    } else {
        "## portgate: ✅ PASSED\n\n".to_string()
    };
    let scanned = format!(
        "{} checked in {}",
        count(report.resources_scanned, "security group resource"),
        code(&report.plan.file)
    );
    let line = if total == 0 {
        format!("No NetBIOS/SMB exposure: {scanned}.\n\n")
    } else {
        let by_severity: Vec<String> = super::severity_counts(report)
            .into_iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        format!(
            "**{}** ({}): {blocking} blocking, {}, {waived} waived · {scanned}.\n\n",
            count(total, "finding"),
            by_severity.join(", "),
            count(warnings, "warning"),
        )
    };
    title + &line
}

fn table_row(gated: &GatedFinding) -> String {
    let f = &gated.finding;
    let dash = || "–".to_string();
    let status = Status::of(gated);
    let cidr = match f.kind {
        FindingKind::InvalidCidr => f
            .related
            .iter()
            .map(|r| cell_code(r))
            .collect::<Vec<_>>()
            .join(", "),
        _ => f
            .cidrs
            .iter()
            .map(|c| cell_code(c))
            .collect::<Vec<_>>()
            .join(", "),
    };
    format!(
        "| {} | {} | {} | {} | {} | {} | {} {} |\n",
        text(&f.rule_id),
        f.severity,
        cell_code(&f.address),
        f.block.as_deref().map(cell_code).unwrap_or_else(dash),
        if f.ports.is_empty() {
            dash()
        } else {
            text(&f.ports.join(", "))
        },
        if cidr.is_empty() { dash() } else { cidr },
        status.icon(),
        status.as_str(),
    )
}

fn fix_of<'a>(context: &ReportContext<'a>, gated: &GatedFinding) -> Option<&'a Fix> {
    context
        .fixes
        .and_then(|set| set.for_finding(&gated.finding))
}

fn section(
    context: &ReportContext<'_>,
    gated: &GatedFinding,
    number: usize,
    fix_shown_in: Option<usize>,
) -> String {
    let f = &gated.finding;
    let meta = meta(context.policies, gated);
    let status = Status::of(gated);
    let mut s = String::new();
    let block = f
        .block
        .as_deref()
        .map(|b| format!(" {}", code(b)))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "### {number}. {} {} {}: {}{block}\n",
        status.icon(),
        text(&f.rule_id),
        text(&f.title),
        code(&f.address),
    );
    let mut facts = format!(
        "**Status:** {} · **Severity:** {} · **Action:** {}",
        status.as_str(),
        f.severity,
        text(&f.action)
    );
    if let Some(key) = &f.deposed {
        let _ = write!(facts, " (deposed object {})", code(key));
    }
    let _ = write!(
        facts,
        " · **{}:** {}",
        capitalize(context.report.plan.kind.noun()),
        code(&format!("{}:{}", context.report.plan.file, f.json_path))
    );
    let _ = writeln!(s, "{facts}\n");
    if let Some(note) = gate_note(gated) {
        let _ = writeln!(s, "_{}_\n", text(&capitalize(&note)));
    }
    let _ = writeln!(s, "{}\n", text(&f.message));
    let _ = writeln!(s, "**Why:** {}\n", prose(&meta.rationale));
    let _ = writeln!(s, "**How to fix:** {}\n", prose(&meta.remediation));

    match (fix_of(context, gated), fix_shown_in) {
        (Some(_), Some(earlier)) => {
            let _ = writeln!(
                s,
                "**Suggested patch:** the one shown for finding {earlier} above; one patch fixes every finding of this rule.\n"
            );
        }
        (Some(fix), None) => write_fix(&mut s, fix, context.report.plan.kind),
        (None, _) => {
            if let Some(reason) =
                super::json::fix_reason(gated, context.fixes, context.report.plan.kind)
            {
                let _ = writeln!(s, "**Patch:** {}.\n", text(&reason));
            }
        }
    }
    s
}

fn write_fix(s: &mut String, fix: &Fix, kind: crate::plan::InputKind) {
    let trusted = if fix.trusted_cidrs.is_empty() {
        "none of this family".to_string()
    } else {
        fix.trusted_cidrs
            .iter()
            .map(|c| code(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match fix.kind {
        FixKind::Source => {
            let files: Vec<String> = fix.files.iter().map(|f| code(f)).collect();
            let _ = writeln!(
                s,
                "**Suggested patch** of {} (trusted: {trusted}), for `git apply`:\n",
                files.join(", ")
            );
        }
        FixKind::Suggestion => {
            let _ = writeln!(
                s,
                "**Suggested change** (trusted: {trusted}). There is no source patch: {}. The {}, before and after:\n",
                prose(fix.reason.as_deref().unwrap_or("the source was not found")),
                super::rule_in_input(kind)
            );
        }
    }
    let _ = writeln!(s, "{}", fenced("diff", &fix.patch));
    for note in &fix.notes {
        let _ = writeln!(s, "- **Note:** {}", prose(note));
    }
    if !fix.notes.is_empty() {
        s.push('\n');
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defuse_breaks_every_fail_whatever_its_case() {
        let out = defuse("failover FAIL Failed xfailx fai");
        assert!(!out.to_lowercase().contains("fail"), "{out}");
        assert_eq!(
            out.replace('\u{2060}', ""),
            "failover FAIL Failed xfailx fai"
        );
        assert_eq!(defuse("héllo fail"), "héllo fa\u{2060}il");
    }

    #[test]
    fn code_spans_and_fences_hold_backticks() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(cell_code("a|b"), "`a\\|b`");
        assert_eq!(fenced("diff", "x\n"), "```diff\nx\n```\n");
        assert_eq!(fenced("", "```\n"), "````\n```\n````\n");
    }

    #[test]
    fn text_escapes_markdown() {
        assert_eq!(
            text("a_b *c* [d] <e> |"),
            "a\\_b \\*c\\* \\[d\\] \\<e\\> \\|"
        );
        assert_eq!(prose("use `--x_y` or a_b"), "use `--x_y` or a\\_b");
        assert_eq!(prose("odd ` tick"), "odd \\` tick");
    }
}

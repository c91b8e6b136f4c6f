//! `--format github`: GitHub Actions workflow commands, so findings show up as annotations on
//! the pull request's files and in the run's summary.
//!
//! One command per finding: `::error` for a finding that fails the gate, `::warning` for one
//! that does not (PG003 with `--unknown warn`, below `--fail-on`), `::notice` for a waived one.
//! Each points at the Terraform source that declares the rule when it was found
//! (`file=infra/main.tf,line=12,endLine=18`), else at the plan file (with the resource's line in it
//! when known). The message is the finding's detail, why it does not block (if so), how to fix
//! it and, with `--trusted-cidr`, the suggested patch. Plan warnings are `::warning`s; the
//! last line is a `::notice` with the verdict. A run without blocking findings writes no
//! `::error`.
//!
//! Escaping follows GitHub's toolkit (`@actions/core` `escapeData` / `escapeProperty`): in the
//! message `%`, `\r`, `\n` become `%25`, `%0D`, `%0A`, so a multi-line message (a patch) stays
//! one command; in property values `:` and `,` also become `%3A` and `%2C`.
//!
//! GitHub only accepts `col`/`endColumn` on a single-line annotation, so they are written only
//! when the declaration starts and ends on the same line. Source paths are seen from the
//! working directory (`--source` joined with the file's path under it), which GitHub reads
//! relative to the repository root: run portgate from the repository root.

use std::io;

use super::ReportContext;
use super::markdown::{Status, count, gate_note, meta};
use crate::fix::FixKind;
use crate::gate::GatedFinding;

/// Escapes a message (the part after `::`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (`file=`, `title=`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One workflow command: `::name key=value,…::message`.
pub(super) fn command(name: &str, properties: &[(&str, String)], message: &str) -> String {
    let props: Vec<String> = properties
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    let space = if props.is_empty() { "" } else { " " };
    format!(
        "::{name}{space}{}::{}",
        props.join(","),
        escape_data(message)
    )
}

pub fn write(context: &ReportContext<'_>, out: &mut dyn io::Write) -> io::Result<()> {
    let report = context.report;
    let plan_file = (report.plan.file != "-").then_some(report.plan.file.as_str());
    for warning in &report.warnings {
        let mut props = Vec::new();
        if let Some(file) = plan_file {
            props.push(("file", file.to_string()));
        }
        props.push((
            "title",
            format!("portgate: {} warning", report.plan.kind.noun()),
        ));
        writeln!(out, "{}", command("warning", &props, warning))?;
    }
    for gated in &report.findings {
        writeln!(out, "{}", annotation(context, gated, plan_file))?;
    }
    writeln!(
        out,
        "{}",
        command(
            "notice",
            &[("title", "portgate".to_string())],
            &summary(context)
        )
    )
}

fn annotation(
    context: &ReportContext<'_>,
    gated: &GatedFinding,
    plan_file: Option<&str>,
) -> String {
    let f = &gated.finding;
    let name = match Status::of(gated) {
        Status::Blocking => "error",
        Status::Warning => "warning",
        Status::Waived => "notice",
    };
    let mut props: Vec<(&str, String)> = Vec::new();
    match context.locations.get(&f.rule_index) {
        Some(location) => {
            let r = &location.region;
            props.push(("file", context.source_path(&location.file)));
            props.push(("line", r.start_line.to_string()));
            props.push(("endLine", r.end_line.to_string()));
            if r.start_line == r.end_line {
                props.push(("col", r.start_column.to_string()));
                props.push(("endColumn", r.end_column.to_string()));
            }
        }
        None => {
            if let Some(file) = plan_file {
                props.push(("file", file.to_string()));
                let line = context
                    .report
                    .rules
                    .resources
                    .get(f.resource_index)
                    .and_then(|r| r.plan_line);
                if let Some(line) = line {
                    props.push(("line", line.to_string()));
                }
            }
        }
    }
    let title = match Status::of(gated) {
        Status::Blocking => format!("{} {} ({})", f.rule_id, f.title, f.severity),
        status => format!(
            "{} {} ({}, {})",
            f.rule_id,
            f.title,
            f.severity,
            status.as_str()
        ),
    };
    props.push(("title", title));
    command(name, &props, &message(context, gated))
}

fn message(context: &ReportContext<'_>, gated: &GatedFinding) -> String {
    let f = &gated.finding;
    let mut lines = vec![f.message.clone()];
    if let Some(note) = gate_note(gated) {
        lines.push(format!("Note: {note}"));
    }
    lines.push(format!(
        "How to fix: {}",
        meta(context.policies, gated).remediation
    ));
    let fix = context.fixes.and_then(|set| set.for_finding(f));
    match fix {
        Some(fix) => {
            let trusted = if fix.trusted_cidrs.is_empty() {
                "none of this family".to_string()
            } else {
                fix.trusted_cidrs.join(", ")
            };
            match fix.kind {
                FixKind::Source => lines.push(format!(
                    "Suggested patch of {} (trusted: {trusted}), for `git apply`:",
                    fix.files.join(", ")
                )),
                FixKind::Suggestion => lines.push(format!(
                    "No source patch: {}. Suggested change of the {} (trusted: {trusted}):",
                    fix.reason.as_deref().unwrap_or("the source was not found"),
                    super::rule_in_input(context.report.plan.kind)
                )),
            }
            lines.push(fix.patch.trim_end_matches('\n').to_string());
            for note in &fix.notes {
                lines.push(format!("Note: {note}"));
            }
        }
        None => {
            if let Some(reason) =
                super::json::fix_reason(gated, context.fixes, context.report.plan.kind)
            {
                lines.push(format!("Patch: {reason}."));
            }
        }
    }
    lines.join("\n")
}

fn summary(context: &ReportContext<'_>) -> String {
    let report = context.report;
    let total = report.findings.len();
    let blocking = report.findings.iter().filter(|g| g.fails_gate).count();
    let scanned = format!(
        "{} checked in {}",
        count(report.resources_scanned, "security group resource"),
        report.plan.file
    );
    if total == 0 {
        return format!("portgate: passed, no NetBIOS/SMB exposure: {scanned}");
    }
    let by_severity: Vec<String> = super::severity_counts(report)
        .into_iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let findings = format!("{} ({})", count(total, "finding"), by_severity.join(", "));
    if blocking == 0 {
        format!("portgate: passed with warnings, {findings}, none blocking: {scanned}")
    } else {
        format!("portgate: FAILED, {findings}, {blocking} blocking: {scanned}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_the_actions_toolkit() {
        assert_eq!(escape_data("50% a:b,c\r\nd"), "50%25 a:b,c%0D%0Ad");
        assert_eq!(escape_property("50% a:b,c\r\nd"), "50%25 a%3Ab%2Cc%0D%0Ad");
        assert_eq!(
            command(
                "error",
                &[("file", "a,b.tf".into()), ("line", "3".into())],
                "x\ny"
            ),
            "::error file=a%2Cb.tf,line=3::x%0Ay"
        );
        assert_eq!(command("notice", &[], "ok"), "::notice::ok");
    }
}

//! `--format gitlab`: a GitLab Code Quality report (`artifacts: reports: codequality:`), so
//! findings show in the merge request's Code Quality widget and diff.
//!
//! A JSON array with one issue per finding that is not waived (a waiver has accepted it; the
//! other formats still show it): `description` (rule, title and the finding's detail, which
//! names the resource),
//! `check_name` (the rule id), `fingerprint`, `severity` and `location` (`path` and
//! `lines.begin`). The fingerprint is SARIF's partial fingerprint (`portgate/v1`, see
//! [`super::sarif::fingerprint`]): it names the rule, resource, block and family, never a line,
//! so the same finding keeps it across runs and GitLab shows only what a merge request
//! changed. The location is the Terraform source that declares the rule when it was found
//! (`--source`), else the plan file at the resource's line; paths are seen from the working
//! directory, which GitLab reads relative to the repository root: run portgate from there.
//!
//! Severities map as GitLab names them: info → info, low → minor, medium → major,
//! high → critical, critical → blocker.

use std::io;

use serde::Serialize;

use super::ReportContext;
use super::sarif::fingerprint;
use crate::policy::Severity;

#[derive(Serialize)]
struct Issue {
    description: String,
    check_name: String,
    fingerprint: String,
    severity: &'static str,
    location: Location,
}

#[derive(Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: usize,
}

/// GitLab's name for a severity.
pub fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Low => "minor",
        Severity::Medium => "major",
        Severity::High => "critical",
        Severity::Critical => "blocker",
    }
}

/// A path as GitLab reads it: relative to the working directory (the repository root in CI),
/// with `/` separators and no leading `./`.
fn relative_path(path: &str) -> String {
    let path = path.replace('\\', "/");
    if let Ok(cwd) = std::env::current_dir()
        && let Ok(relative) = std::path::Path::new(&path).strip_prefix(&cwd)
    {
        return relative.to_string_lossy().replace('\\', "/");
    }
    let mut relative = path.as_str();
    while let Some(rest) = relative.strip_prefix("./") {
        relative = rest;
    }
    relative.to_string()
}

pub fn write(context: &ReportContext<'_>, out: &mut dyn io::Write) -> io::Result<()> {
    write_many(std::slice::from_ref(context), out)
}

/// The report of several inputs: one list of every input's issues. With more than one
/// input, each fingerprint also names the input (see [`super::sarif::write_many`]).
pub fn write_many(contexts: &[ReportContext<'_>], out: &mut dyn io::Write) -> io::Result<()> {
    let several = contexts.len() > 1;
    let issues = super::Streamed(|| {
        contexts.iter().flat_map(move |context| {
            let report = context.report;
            report
                .findings
                .iter()
                .filter(|g| !g.waived)
                .map(move |gated| issue(context, gated, several))
        })
    });
    serde_json::to_writer_pretty(&mut *out, &issues)?;
    writeln!(out)
}

fn issue(context: &ReportContext<'_>, gated: &crate::gate::GatedFinding, several: bool) -> Issue {
    let report = context.report;
    let finding = &gated.finding;
    let (path, begin) = match context.locations.get(&finding.rule_index) {
        Some(found) => (context.source_path(&found.file), found.region.start_line),
        None => (
            report.plan.file.clone(),
            report
                .rules
                .resources
                .get(finding.resource_index)
                .and_then(|r| r.plan_line)
                .unwrap_or(1),
        ),
    };
    let mut print = fingerprint(finding);
    if several {
        print = super::sarif::input_fingerprint(&report.plan.file, &print);
    }
    Issue {
        // The message names the resource and block already.
        description: format!("{} {}: {}", finding.rule_id, finding.title, finding.message),
        check_name: finding.rule_id.clone(),
        fingerprint: print,
        severity: severity(finding.severity),
        location: Location {
            path: relative_path(&path),
            lines: Lines { begin },
        },
    }
}

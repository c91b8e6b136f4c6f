//! The JSON report: `{"schema_version", "portgate_version", "plan", "findings", "summary"}`.
//!
//! Field names and meanings are part of portgate's interface (README.md, "JSON output", and
//! `schemas/report.schema.json`, which tests hold every report to): add fields, never rename
//! or remove them; an added field bumps [`SCHEMA_VERSION`]'s minor number and goes into the
//! schema with it.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use crate::fix::{Fix, FixKind, FixSet};
use crate::gate::{CheckReport, GatedFinding, PlanInfo};
use crate::plan::InputKind;
use crate::policy::FindingKind;

/// The version of `schemas/report.schema.json` the report follows.
pub const SCHEMA_VERSION: &str = "1.1";

/// The version a report claims: the oldest that describes it, so that `check`'s reports stay
/// byte for byte what they were (1.1 added `state`, the input of `audit`).
fn schema_version(report: &CheckReport) -> &'static str {
    match report.plan.kind {
        InputKind::Plan => "1.0",
        InputKind::State => SCHEMA_VERSION,
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    /// Absent on the reports inside a report of several inputs (see [`write_many`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    schema_version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    portgate_version: Option<&'static str>,
    /// The input: `plan` for `check`, `state` for `audit` (one of the two).
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<&'a PlanInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a PlanInfo>,
    findings: Findings<'a>,
    warnings: &'a [String],
    /// The combined source patch of all findings (`null` without trusted CIDRs).
    patch: Option<String>,
    /// Waivers that matched no finding.
    stale_waivers: &'a [crate::waiver::Waiver],
    summary: Summary,
}

/// The findings, each with its fix, made as they are written (see [`super::Streamed`]).
struct Findings<'a> {
    report: &'a CheckReport,
    fixes: Option<&'a FixSet>,
}

impl Serialize for Findings<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fixes = self.fixes;
        super::Streamed(|| {
            self.report.findings.iter().map(|finding| JsonFinding {
                finding,
                fix: fixes.and_then(|f| f.for_finding(&finding.finding)),
                fix_reason: fix_reason(finding, fixes, self.report.plan.kind),
            })
        })
        .serialize(serializer)
    }
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    #[serde(flatten)]
    finding: &'a GatedFinding,
    fix: Option<&'a Fix>,
    /// Why `fix` is null, or why it is only a suggestion.
    fix_reason: Option<String>,
}

#[derive(Serialize)]
struct Summary {
    resources_scanned: usize,
    findings: usize,
    failing: usize,
    waived: usize,
    by_severity: BTreeMap<&'static str, usize>,
    result: &'static str,
}

/// Why a finding has no source patch, in one sentence.
pub fn fix_reason(
    finding: &GatedFinding,
    fixes: Option<&FixSet>,
    kind: InputKind,
) -> Option<String> {
    match finding.finding.kind {
        FindingKind::Unknown => Some(match kind {
            InputKind::Plan => {
                "the values are unknown until apply, so there is nothing to patch yet".to_string()
            }
            InputKind::State => {
                "the values are missing from the state, so there is nothing to patch".to_string()
            }
        }),
        FindingKind::InvalidCidr => {
            Some("write a valid CIDR by hand; portgate does not guess what was meant".to_string())
        }
        FindingKind::Exposed => match fixes.and_then(|f| f.for_finding(&finding.finding)) {
            None if let Some(reason) = fixes.and_then(|f| f.withdrawn_reason(&finding.finding)) => {
                Some(reason.to_string())
            }
            None if finding.finding.cidrs.is_empty() => Some(
                "nothing to change in this rule: the patches of the other rules of its security group close the cover"
                    .to_string(),
            ),
            None => Some(format!(
                "no trusted CIDR given, and the {} shows no VPC CIDR of its security group to suggest: pass --trusted-cidr CIDR or set trusted_cidrs in portgate.toml",
                kind.noun()
            )),
            Some(fix) if fix.kind == FixKind::Suggestion => fix.reason.clone(),
            Some(_) => None,
        },
    }
}

pub fn write(
    report: &CheckReport,
    fixes: Option<&FixSet>,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let mut doc = document(report, fixes);
    doc.schema_version = Some(schema_version(report));
    doc.portgate_version = Some(env!("CARGO_PKG_VERSION"));
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

/// One input's report, without the versions.
fn document<'a>(report: &'a CheckReport, fixes: Option<&'a FixSet>) -> JsonReport<'a> {
    JsonReport {
        schema_version: None,
        portgate_version: None,
        plan: (report.plan.kind == InputKind::Plan).then_some(&report.plan),
        state: (report.plan.kind == InputKind::State).then_some(&report.plan),
        findings: Findings { report, fixes },
        warnings: &report.warnings,
        patch: fixes.map(FixSet::combined_patch),
        stale_waivers: &report.stale_waivers,
        summary: summary(std::iter::once(report)),
    }
}

/// The counts of one report, or of several together.
fn summary<'a>(reports: impl Iterator<Item = &'a CheckReport> + Clone) -> Summary {
    let mut by_severity: BTreeMap<&'static str, usize> = BTreeMap::new();
    for report in reports.clone() {
        for (severity, n) in super::severity_counts(report) {
            *by_severity.entry(severity.as_str()).or_default() += n;
        }
    }
    let findings = || reports.clone().flat_map(|r| r.findings.iter());
    Summary {
        resources_scanned: reports.clone().map(|r| r.resources_scanned).sum(),
        findings: findings().count(),
        failing: findings().filter(|f| f.fails_gate).count(),
        waived: findings().filter(|f| f.waived).count(),
        by_severity,
        result: if reports.clone().any(CheckReport::fails) {
            "fail"
        } else {
            "pass"
        },
    }
}

/// An input that could not be read, in a report of several.
#[derive(Serialize)]
pub struct Unreadable<'a> {
    pub file: &'a str,
    pub message: &'a str,
}

/// The report of several inputs: `{"schema_version", "portgate_version", "inputs": "plan" |
/// "state", "reports": [one report per input read, without the versions], "errors": [{"file",
/// "message"} per input that could not be read], "summary"}`, the summary over all of them
/// (`result` is `error` when an input could not be read).
pub fn write_many(
    kind: InputKind,
    reports: &[(&CheckReport, Option<&FixSet>)],
    unreadable: &[(String, String)],
    out: &mut dyn io::Write,
) -> io::Result<()> {
    #[derive(Serialize)]
    struct Runs<'a, R: Serialize> {
        schema_version: &'static str,
        portgate_version: &'static str,
        inputs: &'static str,
        reports: R,
        errors: Vec<Unreadable<'a>>,
        summary: Summary,
    }
    let mut summary = summary(reports.iter().map(|(report, _)| *report));
    if !unreadable.is_empty() {
        summary.result = "error";
    }
    let doc = Runs {
        schema_version: SCHEMA_VERSION,
        portgate_version: env!("CARGO_PKG_VERSION"),
        inputs: kind.noun(),
        reports: super::Streamed(|| {
            reports
                .iter()
                .map(|(report, fixes)| document(report, *fixes))
        }),
        errors: unreadable
            .iter()
            .map(|(file, message)| Unreadable { file, message })
            .collect(),
        summary,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

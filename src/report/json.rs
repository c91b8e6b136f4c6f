//! The JSON report: `{"portgate_version", "plan", "findings", "summary"}`.
//!
//! Field names and meanings are part of portgate's interface (README.md, "JSON output");
//! add fields, never rename or remove them.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use crate::{CheckReport, GatedFinding, PlanInfo};

#[derive(Serialize)]
struct JsonReport<'a> {
    portgate_version: &'static str,
    plan: &'a PlanInfo,
    findings: &'a [GatedFinding],
    warnings: &'a [String],
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    resources_scanned: usize,
    findings: usize,
    failing: usize,
    by_severity: BTreeMap<&'static str, usize>,
    result: &'static str,
}

pub fn write(report: &CheckReport, out: &mut dyn io::Write) -> io::Result<()> {
    let by_severity = super::severity_counts(report)
        .into_iter()
        .map(|(s, n)| (s.as_str(), n))
        .collect();
    let doc = JsonReport {
        portgate_version: env!("CARGO_PKG_VERSION"),
        plan: &report.plan,
        findings: &report.findings,
        warnings: &report.warnings,
        summary: Summary {
            resources_scanned: report.resources_scanned,
            findings: report.findings.len(),
            failing: report.findings.iter().filter(|f| f.fails_gate).count(),
            by_severity,
            result: if report.fails() { "fail" } else { "pass" },
        },
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

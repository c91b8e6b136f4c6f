//! `--format junit`: JUnit XML, for CI systems that show test reports (GitLab, Jenkins, Azure
//! DevOps, GitHub test-report actions).
//!
//! One `<testsuite>` per loaded policy, named `ID title` (`PG001 NetBIOS open to the world`),
//! then one for PG003 and one for PG004 when they have findings. Every suite has one
//! `<testcase>` per checked ingress rule (name `ADDRESS [BLOCK]`, classname the resource type),
//! so a clean plan is a run of passing tests. In a suite, a rule's test case:
//!
//! - fails (`<failure type="ID">`) when a finding of that rule id on it fails the gate; the
//!   text holds the messages, where the rule is declared and the fix (patch or suggestion);
//! - is skipped (`<skipped type="waived">`) when its findings are waived by active waivers: an
//!   accepted exception is neither a pass nor a failure;
//! - passes with a `<system-out>` note when its findings are warnings that do not fail the gate
//!   (PG003 under `--unknown warn`, a severity below `--fail-on`);
//! - passes otherwise.
//!
//! Test cases carry `file` and `line`: the source block when it was located (the path is
//! relative to `--source`), else the plan file as given and the line of the resource's planned
//! values. With `--only-changes`, rules of unchanged resources still have (passing) test cases. The run's warnings (an errored plan, stale or
//! expired waivers) go to the first suite's `<system-err>`. No times or timestamps are written,
//! so the same plan always gives the same XML.
//!
//! quick-junit removes control characters from text, tabs and carriage returns included, so
//! patches are written with each tab as four spaces (and line ends as `\n`).

use std::io;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::ReportContext;
use super::sarif::{all_rules, subject};
use crate::GatedFinding;
use crate::fix::FixKind;
use crate::policy::{FindingKind, RuleMeta};
use crate::rules::{CheckedResource, IngressRule};

pub fn write(context: &ReportContext<'_>, out: &mut dyn io::Write) -> io::Result<()> {
    let report = context.report;
    let policy_count = context.policies.policies.len();
    let mut junit = Report::new("portgate");
    for (position, meta) in all_rules(context).iter().enumerate() {
        let findings: Vec<&GatedFinding> = report
            .findings
            .iter()
            .filter(|f| f.finding.rule_id == meta.id)
            .collect();
        if position >= policy_count && findings.is_empty() {
            continue;
        }
        let mut suite = TestSuite::new(format!("{} {}", meta.id, meta.title));
        suite.add_property(("severity", meta.severity.as_str()));
        suite.add_property(("plan", report.plan.file.as_str()));
        // Each rule's findings, in report order: one pass, not one per rule.
        let mut by_rule: std::collections::HashMap<usize, Vec<&GatedFinding>> =
            std::collections::HashMap::new();
        for f in &findings {
            by_rule.entry(f.finding.rule_index).or_default().push(f);
        }
        for (index, rule) in report.rules.rules.iter().enumerate() {
            let Some(resource) = report.rules.resources.get(rule.resource) else {
                continue;
            };
            let own = by_rule.remove(&index).unwrap_or_default();
            suite.add_test_case(test_case(context, meta, resource, rule, index, &own));
        }
        junit.add_test_suite(suite);
    }
    if !report.warnings.is_empty()
        && let Some(first) = junit.test_suites.first_mut()
    {
        first.set_system_err(report.warnings.join("\n"));
    }
    junit.serialize(out).map_err(io::Error::other)
}

/// The test case of one ingress rule in the suite of `meta`, given the rule's findings of it.
fn test_case(
    context: &ReportContext<'_>,
    meta: &RuleMeta,
    resource: &CheckedResource,
    rule: &IngressRule,
    index: usize,
    findings: &[&GatedFinding],
) -> TestCase {
    let block = rule.block_label();
    let name = subject(
        &resource.address,
        resource.deposed.as_deref(),
        block.as_deref(),
    );
    let place = match context.locations.get(&index) {
        Some(found) => Some((context.source_path(&found.file), found.region.start_line)),
        None if context.report.plan.file != "-" => Some((
            context.report.plan.file.clone(),
            resource.plan_line.unwrap_or(1),
        )),
        None => None,
    };
    let failing: Vec<&GatedFinding> = findings.iter().copied().filter(|f| f.fails_gate).collect();
    let waived: Vec<&GatedFinding> = findings.iter().copied().filter(|f| f.waived).collect();
    let warnings: Vec<&GatedFinding> = findings
        .iter()
        .copied()
        .filter(|f| !f.fails_gate && !f.waived)
        .collect();

    let status = if !failing.is_empty() {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        let messages: Vec<&str> = failing.iter().map(|f| f.finding.message.as_str()).collect();
        status
            .set_message(messages.join("; "))
            .set_type(meta.id.as_str())
            .set_description(failure_text(context, &failing, place.as_ref()));
        status
    } else if let Some(first) = waived.first() {
        let mut status = TestCaseStatus::skipped();
        let message = match &first.waiver {
            Some(applied) => format!(
                "waived until {}: {}",
                crate::waiver::format_date(applied.waiver.expires),
                applied.waiver.reason
            ),
            None => "waived".to_string(),
        };
        let mut text = Vec::new();
        for f in &waived {
            text.push(f.finding.message.clone());
            if let Some(applied) = &f.waiver {
                text.push(format!("waiver: {}", applied.waiver.origin));
            }
        }
        status
            .set_message(message)
            .set_type("waived")
            .set_description(text.join("\n"));
        status
    } else {
        TestCaseStatus::success()
    };

    let mut case = TestCase::new(name, status);
    case.set_classname(resource.resource_type.as_str());
    if let Some((file, line)) = &place {
        case.extra.insert("file".into(), file.as_str().into());
        case.extra.insert("line".into(), line.to_string().into());
    }
    if !warnings.is_empty() {
        let notes: Vec<String> = warnings
            .iter()
            .map(|f| {
                let why = if f.finding.kind == FindingKind::Unknown {
                    "--unknown warn"
                } else {
                    "severity below --fail-on"
                };
                format!(
                    "{} warning, does not fail the gate ({why}): {}",
                    f.finding.rule_id, f.finding.message
                )
            })
            .collect();
        case.set_system_out(notes.join("\n"));
    }
    case
}

/// The text of a failure: each failing finding's message, where the rule is, and its fix.
fn failure_text(
    context: &ReportContext<'_>,
    failing: &[&GatedFinding],
    place: Option<&(String, usize)>,
) -> String {
    let mut lines: Vec<String> = failing.iter().map(|f| f.finding.message.clone()).collect();
    if let Some((file, line)) = place {
        lines.push(format!("File: {file}:{line}"));
    }
    for f in failing {
        if let Some(applied) = f.waiver.as_ref().filter(|w| w.expired) {
            lines.push(format!(
                "The waiver ({}) expired on {}, so the finding counts again.",
                applied.waiver.origin,
                crate::waiver::format_date(applied.waiver.expires)
            ));
        }
    }
    // Findings of one rule share one fix.
    let fix = failing
        .iter()
        .find_map(|f| context.fixes.and_then(|set| set.for_finding(&f.finding)));
    match fix {
        Some(fix) => {
            lines.push(match fix.kind {
                FixKind::Source => format!(
                    "Suggested patch of {} (trusted: {}):",
                    fix.files.join(", "),
                    if fix.trusted_cidrs.is_empty() {
                        "none of this family".to_string()
                    } else {
                        fix.trusted_cidrs.join(", ")
                    }
                ),
                FixKind::Suggestion => format!(
                    "No source patch: {}. Suggested change:",
                    fix.reason.as_deref().unwrap_or("the source was not found")
                ),
            });
            for note in &fix.notes {
                lines.push(format!("Note: {note}"));
            }
            lines.push(visible_tabs(fix.patch.trim_end()));
        }
        None => {
            if let Some(reason) = failing
                .first()
                .and_then(|f| super::json::fix_reason(f, context.fixes))
            {
                lines.push(format!("No patch: {reason}"));
            }
        }
    }
    lines.join("\n")
}

/// `text` with each tab as four spaces: quick-junit would drop tabs (see the module docs).
fn visible_tabs(text: &str) -> String {
    text.replace('\t', "    ")
}

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
//! The test cases are written a batch at a time (serialized by quick-junit and put in the
//! place of a placeholder in the report's skeleton, whose counts are worked out first):
//! a plan of many rules has four test cases per rule, which whole would take far more memory
//! than the findings themselves.
//!
//! quick-junit removes control characters from text, tabs and carriage returns included, so
//! patches are written with each tab as four spaces (and line ends as `\n`).

use std::collections::HashMap;
use std::io;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::ReportContext;
use super::sarif::{all_rules, subject};
use crate::fix::FixKind;
use crate::gate::GatedFinding;
use crate::policy::{FindingKind, RuleMeta};
use crate::rules::{CheckedResource, IngressRule};

pub fn write(context: &ReportContext<'_>, out: &mut dyn io::Write) -> io::Result<()> {
    let report = context.report;
    let mut suites: Vec<Suite<'_, '_>> = policy_parts(context)
        .into_iter()
        .map(|part| Suite {
            context,
            name: format!("{} {}", part.0.id, part.0.title),
            properties: vec![
                ("severity", part.0.severity.as_str().to_string()),
                (report.plan.kind.noun(), report.plan.file.clone()),
            ],
            parts: vec![part],
            system_err: None,
        })
        .collect();
    if !report.warnings.is_empty()
        && let Some(first) = suites.first_mut()
    {
        first.system_err = Some(report.warnings.join("\n"));
    }
    emit(&suites, &[], out)
}

/// `--format junit` of several inputs: one `<testsuite>` per input, named after its file, with
/// a test case per checked ingress rule and policy (named `ID ADDRESS [BLOCK]`), and the
/// input's warnings in its `<system-err>`; an input that could not be read is a suite whose
/// one test case errs with the reason.
pub fn write_many(
    contexts: &[ReportContext<'_>],
    unreadable: &[(String, String)],
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let suites: Vec<Suite<'_, '_>> = contexts
        .iter()
        .map(|context| {
            let report = context.report;
            Suite {
                context,
                name: report.plan.file.clone(),
                properties: vec![(report.plan.kind.noun(), report.plan.file.clone())],
                parts: policy_parts(context),
                system_err: (!report.warnings.is_empty()).then(|| report.warnings.join("\n")),
            }
        })
        .collect();
    emit(&suites, unreadable, out)
}

/// A policy's suite part: its meta and each rule's findings of it, by rule index.
type Part<'a> = (RuleMeta, HashMap<usize, Vec<&'a GatedFinding>>);

/// The policies with a part in a report: every loaded one, then PG003 and PG004 when they have
/// findings.
fn policy_parts<'a>(context: &ReportContext<'a>) -> Vec<Part<'a>> {
    let report = context.report;
    let policy_count = context.policies.policies.len();
    let mut parts = Vec::new();
    for (position, meta) in all_rules(context).into_iter().enumerate() {
        // Each rule's findings of this policy, in report order: one pass, not one per rule.
        let mut by_rule: HashMap<usize, Vec<&GatedFinding>> = HashMap::new();
        for f in &report.findings {
            if f.finding.rule_id == meta.id {
                by_rule.entry(f.finding.rule_index).or_default().push(f);
            }
        }
        if position >= policy_count && by_rule.is_empty() {
            continue;
        }
        parts.push((meta, by_rule));
    }
    parts
}

/// One `<testsuite>`: the test cases of `parts` (each policy's, one per rule), in order.
struct Suite<'c, 'a> {
    context: &'c ReportContext<'a>,
    name: String,
    properties: Vec<(&'static str, String)>,
    parts: Vec<Part<'a>>,
    system_err: Option<String>,
}

impl Suite<'_, '_> {
    /// Several policies in one suite: each test case names its policy.
    fn names_policies(&self) -> bool {
        self.parts.len() > 1
    }
}

fn emit(
    suites: &[Suite<'_, '_>],
    unreadable: &[(String, String)],
    out: &mut dyn io::Write,
) -> io::Result<()> {
    // The skeleton: every suite with its counts and properties, and one placeholder test
    // case where its test cases go. It is small; the test cases are written in its place a
    // batch at a time, so a plan of many rules never holds them all.
    let mut junit = Report::new("portgate");
    for (slot, plan) in suites.iter().enumerate() {
        let mut suite = TestSuite::new(plan.name.as_str());
        for (key, value) in &plan.properties {
            suite.add_property((*key, value.as_str()));
        }
        for (_, by_rule) in &plan.parts {
            for (index, _) in cases(plan.context) {
                match outcome(by_rule.get(&index).map_or(&[][..], Vec::as_slice)) {
                    Outcome::Fails => suite.failures += 1,
                    Outcome::Waived => suite.skipped += 1,
                    Outcome::Passes => {}
                }
                suite.tests += 1;
            }
        }
        // Pushed, not added: the placeholder is not counted.
        suite
            .test_cases
            .push(TestCase::new(placeholder(slot), TestCaseStatus::success()));
        if let Some(text) = &plan.system_err {
            suite.set_system_err(text.as_str());
        }
        junit.add_test_suite(suite);
    }
    for (file, message) in unreadable {
        let mut suite = TestSuite::new(file.as_str());
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(message.as_str()).set_type("unreadable");
        suite.add_test_case(TestCase::new(format!("read {file}"), status));
        junit.add_test_suite(suite);
    }
    let mut skeleton = Vec::new();
    junit.serialize(&mut skeleton).map_err(io::Error::other)?;

    let mut rest = &skeleton[..];
    let mut batch = Batch::new();
    for (slot, plan) in suites.iter().enumerate() {
        let (before, after) = around_placeholder(rest, &placeholder(slot))?;
        out.write_all(before)?;
        let context = plan.context;
        let report = context.report;
        for (meta, by_rule) in &plan.parts {
            for (index, rule) in cases(context) {
                let resource = &report.rules.resources[rule.resource];
                let own = by_rule.get(&index).map_or(&[][..], Vec::as_slice);
                let mut case = test_case(context, meta, resource, rule, index, own);
                if plan.names_policies() {
                    case.name = format!("{} {}", meta.id, case.name.as_str()).into();
                }
                batch.push(case, out)?;
            }
        }
        batch.flush(out)?;
        rest = after;
    }
    out.write_all(rest)
}

/// The rules that have a test case in every suite, with their index: those whose resource is
/// in the report.
fn cases<'a>(context: &ReportContext<'a>) -> impl Iterator<Item = (usize, &'a IngressRule)> {
    let resources = &context.report.rules.resources;
    context
        .report
        .rules
        .rules
        .iter()
        .enumerate()
        .filter(move |(_, rule)| rule.resource < resources.len())
}

/// A rule's test case result in one suite, from its findings there.
enum Outcome {
    Fails,
    Waived,
    Passes,
}

fn outcome(findings: &[&GatedFinding]) -> Outcome {
    if findings.iter().any(|f| f.fails_gate) {
        Outcome::Fails
    } else if findings.iter().any(|f| f.waived) {
        Outcome::Waived
    } else {
        Outcome::Passes
    }
}

/// The name of the placeholder test case of suite `slot` in the skeleton. Attribute values
/// and text are escaped (`<` is `&lt;`), so `<testcase name="` followed by it occurs only
/// where the placeholder is.
fn placeholder(slot: usize) -> String {
    format!("portgate placeholder {slot}")
}

/// The skeleton before and after the placeholder's line (`<testcase name="…"/>`).
fn around_placeholder<'a>(skeleton: &'a [u8], name: &str) -> io::Result<(&'a [u8], &'a [u8])> {
    let tag = format!("<testcase name=\"{name}\"/>\n");
    let missing = || io::Error::other("JUnit skeleton without its placeholder test case");
    let at = memchr::memmem::find(skeleton, tag.as_bytes()).ok_or_else(missing)?;
    let line_start = skeleton[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    Ok((&skeleton[..line_start], &skeleton[at + tag.len()..]))
}

/// Test cases written into a suite's place, a batch at a time: quick-junit writes each batch
/// as the only test cases of a report of one suite, and the lines between the suite's tags
/// (its test cases, indented two levels as in the whole report) are kept.
struct Batch {
    alone: Report,
    buffer: Vec<u8>,
}

impl Batch {
    /// Test cases held at once: enough that the small report around them costs little (a
    /// few in unit tests, so their small plans fill several batches).
    const CASES: usize = if cfg!(test) { 3 } else { 256 };

    fn new() -> Batch {
        let mut alone = Report::new("");
        alone.test_suites.push(TestSuite::new(""));
        Batch {
            alone,
            buffer: Vec::new(),
        }
    }

    fn push(&mut self, case: TestCase, out: &mut dyn io::Write) -> io::Result<()> {
        self.alone.test_suites[0].test_cases.push(case);
        if self.alone.test_suites[0].test_cases.len() >= Batch::CASES {
            self.flush(out)?;
        }
        Ok(())
    }

    fn flush(&mut self, out: &mut dyn io::Write) -> io::Result<()> {
        const START: &[u8] = b"\n        <testcase";
        const END: &[u8] = b"\n    </testsuite>";
        if self.alone.test_suites[0].test_cases.is_empty() {
            return Ok(());
        }
        self.buffer.clear();
        (self.alone.serialize(&mut self.buffer)).map_err(io::Error::other)?;
        self.alone.test_suites[0].test_cases.clear();
        let malformed = || io::Error::other("JUnit test cases not where they were expected");
        let start = memchr::memmem::find(&self.buffer, START).ok_or_else(malformed)? + 1;
        let end = memchr::memmem::rfind(&self.buffer, END).ok_or_else(malformed)? + 1;
        out.write_all(&self.buffer[start..end])
    }
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
                .and_then(|f| super::json::fix_reason(f, context.fixes, context.report.plan.kind))
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::fix::FixOptions;
    use crate::gate::{CheckOptions, UnknownMode};
    use crate::policy::PolicySet;
    use crate::waiver::Waiver;

    /// The report as quick-junit writes it whole: every test case built first.
    fn whole(context: &ReportContext<'_>) -> Vec<u8> {
        let report = context.report;
        let policy_count = context.policies.policies.len();
        let mut junit = Report::new("portgate");
        for (position, meta) in all_rules(context).iter().enumerate() {
            let findings: Vec<&GatedFinding> = (report.findings.iter())
                .filter(|f| f.finding.rule_id == meta.id)
                .collect();
            if position >= policy_count && findings.is_empty() {
                continue;
            }
            let mut suite = TestSuite::new(format!("{} {}", meta.id, meta.title));
            suite.add_property(("severity", meta.severity.as_str()));
            suite.add_property((report.plan.kind.noun(), report.plan.file.as_str()));
            for (index, rule) in cases(context) {
                let resource = &report.rules.resources[rule.resource];
                let own: Vec<&GatedFinding> = (findings.iter().copied())
                    .filter(|f| f.finding.rule_index == index)
                    .collect();
                suite.add_test_case(test_case(context, meta, resource, rule, index, &own));
            }
            junit.add_test_suite(suite);
        }
        if !report.warnings.is_empty()
            && let Some(first) = junit.test_suites.first_mut()
        {
            first.set_system_err(report.warnings.join("\n"));
        }
        let mut out = Vec::new();
        junit.serialize(&mut out).unwrap();
        out
    }

    /// Written case by case into the skeleton, the report is byte for byte the one quick-junit
    /// writes whole: on every testdata plan, with and without fixes, with waivers (skipped
    /// cases), failing unknowns, warnings (in the first suite's `system-err`) and with no rules.
    #[test]
    fn spliced_test_cases_give_the_whole_report() {
        let policies = PolicySet::builtin().unwrap();
        let waiver = |rule: &str, address: &str| Waiver {
            rule: rule.to_string(),
            address: address.to_string(),
            reason: "a <reason> & \"quotes\"".to_string(),
            expires: time::macros::date!(2027 - 01 - 01),
            origin: "portgate.toml".to_string(),
        };
        let plain = CheckOptions {
            today: time::macros::date!(2026 - 06 - 01),
            list_every_rule: true,
            ..CheckOptions::default()
        };
        let waived = CheckOptions {
            waivers: vec![
                waiver("PG001", "aws_security_group.*"),
                waiver("PG002", "*"),
            ],
            unknown: UnknownMode::Fail,
            ..plain.clone()
        };
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/plans");
        let mut plans: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        plans.sort();
        assert!(plans.len() > 40, "{}", dir.display());
        let (mut skipped, mut failed, mut warned) = (0, 0, 0);
        for plan in &plans {
            let bytes = std::fs::read(plan).unwrap();
            for options in [&plain, &waived] {
                let Ok(mut report) = crate::check(&bytes, "plan.json", &policies, options) else {
                    continue;
                };
                report.warnings.push("a warning with <markup>".to_string());
                let fix_options = FixOptions {
                    trusted: Vec::new(),
                    source_dir: None,
                    use_vpc: true,
                    max_source_bytes: None,
                };
                let findings = report.findings.iter().map(|g| &g.finding);
                let fixes = crate::fix::suggest(&report.rules, findings, &policies, &fix_options);
                for fixes in [None, Some(&fixes)] {
                    let context = ReportContext {
                        report: &report,
                        policies: &policies,
                        fixes,
                        locations: &BTreeMap::new(),
                        source_dir: Path::new("."),
                    };
                    let mut streamed = Vec::new();
                    write(&context, &mut streamed).unwrap();
                    let expected = whole(&context);
                    assert!(
                        streamed == expected,
                        "{}:\n{}\n---- expected ----\n{}",
                        plan.display(),
                        String::from_utf8_lossy(&streamed),
                        String::from_utf8_lossy(&expected)
                    );
                    let text = String::from_utf8(streamed).unwrap();
                    skipped += text.matches("<skipped").count();
                    failed += text.matches("<failure").count();
                    warned += text.matches("<system-out>").count();
                }
            }
        }
        // The plans hold each kind of test case, so each kind was compared.
        assert!(
            skipped > 0 && failed > 0 && warned > 0,
            "{skipped} {failed} {warned}"
        );
    }
}

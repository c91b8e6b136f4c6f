//! `--format conftest`: conftest's standard output, for Atlantis `policy_check` with
//! `custom_policy_check: true` (Atlantis decides from the output alone, see below).
//!
//! ```text
//! WARN - plan.json - main - PG003 aws_security_group.app ingress[0]: <message>
//! FAIL - plan.json - main - PG002 aws_security_group.files ingress[0]: <message>
//! EXCP - plan.json - main - PG001 aws_security_group_rule.legacy: <message> (waived until …)
//!
//! 9 tests, 6 passed, 1 warning, 1 failure, 1 exception
//! ```
//!
//! Lines are grouped as conftest groups them: warnings, then failures, then exceptions, each
//! in plan order. `FAIL` is a finding that fails the gate; `WARN` one that does not (PG003 with
//! `--unknown warn`, below `--fail-on`) and each plan warning (an errored plan, a stale
//! waiver); `EXCP` a finding waived by an active waiver (conftest's name for a waived deny). The
//! file is the plan file (`-` when read from standard input, written `FAIL - - main - …` as
//! conftest does); the namespace is always `main`. The message follows the rule id and the
//! subject (address and block), without repeating the subject when the message starts with it.
//!
//! **Counting.** As in conftest, `tests = passed + warnings + failures + exceptions`, where
//! warnings, failures and exceptions count the lines above and `passed` counts the checks
//! that found nothing. A check is one (checked ingress rule, loaded policy) pair; it passed
//! when no finding concerns it: an exposed finding concerns its own policy, a PG003 finding
//! the policies it could violate, a PG004 finding every policy of its rule. So a plan without
//! findings has `ingress rules × policies` tests, all passed (the same pairs as the JUnit
//! report's testcases); a pair with findings contributes one test per finding (IPv4 and IPv6
//! are two).
//!
//! **No "fail" on a pass.** Atlantis' custom policy check marks the policy set as failed when
//! the output contains "fail" — and conftest's own summary always says "0 failures", which is
//! why older Atlantis versions reject even clean conftest runs. So a run without blocking
//! findings writes the summary *without* the failures field
//! (`9 tests, 8 passed, 1 warning, 0 exceptions`), and any "fail" in text that comes from the
//! plan (an address such as `aws_security_group.failover`, a plan warning saying "terraform
//! plan failed") gets an invisible WORD JOINER (U+2060) after its "fa", as in the Markdown
//! report. A run with blocking findings is written exactly as conftest would write it. Use
//! `--exit-zero` so the exit code does not turn a policy failure into an Atlantis error: the
//! verdict is in the output.

use std::collections::BTreeSet;
use std::io;

use super::ReportContext;
use super::markdown::{Status, defuse, gate_note, subject};
use crate::policy::FindingKind;

/// The conftest namespace portgate reports under.
const NAMESPACE: &str = "main";

/// The counts of the summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub tests: usize,
    pub passed: usize,
    pub warnings: usize,
    pub failures: usize,
    pub exceptions: usize,
}

/// The summary counts of a report (see the module documentation).
pub fn counts(context: &ReportContext<'_>) -> Counts {
    let report = context.report;
    let policies: Vec<&str> = context
        .policies
        .policies
        .iter()
        .map(|p| p.meta.id.as_str())
        .collect();
    let mut concerned: BTreeSet<(usize, &str)> = BTreeSet::new();
    let mut c = Counts {
        warnings: report.warnings.len(),
        ..Counts::default()
    };
    for gated in &report.findings {
        let f = &gated.finding;
        match Status::of(gated) {
            Status::Blocking => c.failures += 1,
            Status::Warning => c.warnings += 1,
            Status::Waived => c.exceptions += 1,
        }
        match f.kind {
            FindingKind::Exposed => {
                concerned.insert((f.rule_index, f.rule_id.as_str()));
            }
            FindingKind::Unknown => {
                for id in &f.related {
                    concerned.insert((f.rule_index, id.as_str()));
                }
            }
            FindingKind::InvalidCidr => {
                for id in &policies {
                    concerned.insert((f.rule_index, id));
                }
            }
        }
    }
    let rules = report.rules.rules.len();
    let concerned = concerned
        .iter()
        .filter(|(rule, id)| *rule < rules && policies.contains(id))
        .count();
    c.passed = rules * policies.len() - concerned;
    c.tests = c.passed + c.warnings + c.failures + c.exceptions;
    c
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The summary line; without the failures field when nothing fails (see the module docs).
pub fn summary_line(c: &Counts) -> String {
    if c.failures == 0 {
        format!(
            "{}, {} passed, {}, {}",
            plural(c.tests, "test"),
            c.passed,
            plural(c.warnings, "warning"),
            plural(c.exceptions, "exception"),
        )
    } else {
        format!(
            "{}, {} passed, {}, {}, {}",
            plural(c.tests, "test"),
            c.passed,
            plural(c.warnings, "warning"),
            plural(c.failures, "failure"),
            plural(c.exceptions, "exception"),
        )
    }
}

pub fn write(context: &ReportContext<'_>, out: &mut dyn io::Write) -> io::Result<()> {
    out.write_all(render(context).as_bytes())
}

/// The whole output as a string.
pub fn render(context: &ReportContext<'_>) -> String {
    render_many(std::slice::from_ref(context))
}

/// The output of several inputs: conftest's lines of each input (warnings, then failures,
/// then exceptions, input by input: conftest's own order over several files), and one
/// summary line counting them all.
pub fn render_many(contexts: &[ReportContext<'_>]) -> String {
    let mut groups: [Vec<String>; 3] = Default::default();
    let mut total = Counts::default();
    for context in contexts {
        let lines = lines(context);
        for (group, lines) in groups.iter_mut().zip(lines) {
            group.extend(lines);
        }
        let c = counts(context);
        total.tests += c.tests;
        total.passed += c.passed;
        total.warnings += c.warnings;
        total.failures += c.failures;
        total.exceptions += c.exceptions;
    }
    let mut out = String::new();
    for line in groups.iter().flatten() {
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&summary_line(&total));
    out.push('\n');
    if contexts.iter().any(|c| c.report.fails()) {
        out
    } else {
        defuse(&out)
    }
}

/// One input's lines: its warnings, failures and exceptions.
fn lines(context: &ReportContext<'_>) -> [Vec<String>; 3] {
    let report = context.report;
    let file = report.plan.file.replace(['\r', '\n'], " ");
    let prefix = |level: &str| {
        if file == "-" {
            format!("{level} - - {NAMESPACE} - ")
        } else {
            format!("{level} - {file} - {NAMESPACE} - ")
        }
    };
    let one_line = |s: String| s.replace("\r\n", " ").replace(['\r', '\n'], " ");
    let mut lines: [Vec<String>; 3] = Default::default();
    for warning in &report.warnings {
        lines[0].push(one_line(format!("{}portgate: {warning}", prefix("WARN"))));
    }
    for gated in &report.findings {
        let f = &gated.finding;
        let status = Status::of(gated);
        let (slot, level) = match status {
            Status::Warning => (0, "WARN"),
            Status::Blocking => (1, "FAIL"),
            Status::Waived => (2, "EXCP"),
        };
        // The message starts with the subject as often as not: say it once.
        let subject = subject(gated);
        let message = f
            .message
            .strip_prefix(subject.as_str())
            .map(|rest| rest.trim_start_matches(':').trim_start())
            .unwrap_or(&f.message);
        let mut line = format!("{}{} {subject}: {message}", prefix(level), f.rule_id);
        if let Some(note) = gate_note(gated) {
            line.push_str(&format!(" ({note})"));
        }
        lines[slot].push(one_line(line));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_drops_the_failures_field_only_when_nothing_fails() {
        let pass = Counts {
            tests: 4,
            passed: 3,
            warnings: 1,
            failures: 0,
            exceptions: 0,
        };
        assert_eq!(
            summary_line(&pass),
            "4 tests, 3 passed, 1 warning, 0 exceptions"
        );
        let fail = Counts {
            tests: 1,
            passed: 0,
            warnings: 0,
            failures: 1,
            exceptions: 0,
        };
        assert_eq!(
            summary_line(&fail),
            "1 test, 0 passed, 0 warnings, 1 failure, 0 exceptions"
        );
    }
}

//! The text-like report formats: `--format github` (workflow commands), `--format markdown`
//! (pull request comments, job summaries) and `--format conftest` (Atlantis policy checks).
//!
//! Snapshots (tests/snapshots/formats_text_like__*.snap) pin the whole output for the README
//! demo plan, a passing plan with a warning and two fix cases; they are reviewed by hand, and
//! `CI=true` keeps insta from writing new ones. The other tests pin the rules each format
//! promises: escaping, the gate words, the size limit, and no "fail" in a passing report.

#[path = "common/run.rs"]
mod run;

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

use run::{portgate, root};

/// `portgate ARGS` in the repository root with `env` added.
fn portgate_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    run::portgate_env(root(), args, env)
}

fn stdout(out: &Output) -> String {
    run::text(&out.stdout)
}

/// Replaces what differs between machines and releases.
fn normalize(text: &str) -> String {
    text.replace(&root().display().to_string(), "[ROOT]")
        .replace(
            &format!("portgate {}", env!("CARGO_PKG_VERSION")),
            "portgate [VERSION]",
        )
}

/// `check PLAN --format FORMAT ARGS`: stdout (normalized) and exit code.
fn check(plan: &str, format: &str, args: &[&str]) -> (String, Option<i32>) {
    let mut all = vec!["check", plan, "--format", format];
    all.extend_from_slice(args);
    let out = portgate(&all);
    assert!(
        out.stderr.is_empty() || out.status.code() != Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (normalize(&stdout(&out)), out.status.code())
}

const FORMATS: [&str; 3] = ["github", "markdown", "conftest"];

fn snapshot_all(name: &str, plan: &str, args: &[&str], expected_code: i32) {
    for format in FORMATS {
        let (text, code) = check(plan, format, args);
        assert_eq!(code, Some(expected_code), "{format}:\n{text}");
        insta::assert_snapshot!(format!("{name}_{format}"), text);
    }
}

#[test]
fn snapshots_of_the_example_plan() {
    snapshot_all("example", "testdata/plans/example.json", &[], 1);
}

#[test]
fn snapshots_of_a_passing_plan_with_a_warning() {
    snapshot_all(
        "unknown_cidr",
        "testdata/plans/unknown_cidr.json",
        &["--source", "testdata/plans/unknown_cidr"],
        0,
    );
}

#[test]
fn snapshots_of_a_source_patch() {
    snapshot_all(
        "fix_no_trusted_ipv6",
        "testdata/fix/no_trusted_ipv6/plan.json",
        &[
            "--trusted-cidr",
            "10.0.0.0/8",
            "--source",
            "testdata/fix/no_trusted_ipv6",
        ],
        1,
    );
}

#[test]
fn snapshots_of_a_suggestion() {
    snapshot_all(
        "fix_dynamic_block",
        "testdata/fix/dynamic_block/plan.json",
        &[
            "--trusted-cidr",
            "10.0.0.0/8",
            "--source",
            "testdata/fix/dynamic_block",
        ],
        1,
    );
}

// ---------------------------------------------------------------------------------------------
// Plans built in the tests.

/// An `aws_security_group_rule` resource change.
fn sg_rule(name: &str, port: u16, cidr: &str, tags: Option<&str>) -> String {
    let tags = tags
        .map(|t| format!(r#", "tags": {{"portgate:waive": "{t}"}}"#))
        .unwrap_or_default();
    format!(
        r#"{{"address": "aws_security_group_rule.{name}", "mode": "managed",
            "type": "aws_security_group_rule", "name": "{name}",
            "change": {{"actions": ["create"], "before": null, "after_unknown": {{}},
              "after": {{"type": "ingress", "protocol": "tcp", "from_port": {port},
                "to_port": {port}, "cidr_blocks": ["{cidr}"], "ipv6_cidr_blocks": null,
                "prefix_list_ids": null{tags}}}}}}}"#
    )
}

/// An `aws_security_group_rule` whose CIDRs are unknown until apply (PG003).
fn unknown_rule(name: &str) -> String {
    format!(
        r#"{{"address": "aws_security_group_rule.{name}", "mode": "managed",
            "type": "aws_security_group_rule", "name": "{name}",
            "change": {{"actions": ["create"], "before": null,
              "after_unknown": {{"cidr_blocks": true}},
              "after": {{"type": "ingress", "protocol": "tcp", "from_port": 445,
                "to_port": 445, "ipv6_cidr_blocks": null, "prefix_list_ids": null}}}}}}"#
    )
}

fn plan_of(changes: &[String], errored: bool) -> String {
    format!(
        r#"{{"format_version": "1.2", "terraform_version": "1.9.5", "errored": {errored},
            "planned_values": {{"root_module": {{}}}}, "resource_changes": [{}]}}"#,
        changes.join(",\n")
    )
}

fn temp_plan(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".json").tempfile().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Markdown.

/// `(shown sections, hidden count)` of a Markdown report, checking the closing line.
fn sections_and_hidden(markdown: &str) -> (usize, usize) {
    let sections = markdown.lines().filter(|l| l.starts_with("### ")).count();
    let hidden = markdown
        .lines()
        .find_map(|l| l.strip_prefix("… and "))
        .map(|rest| {
            assert!(
                rest.ends_with(" not shown (see the full report: `portgate check --format text`)"),
                "{rest}"
            );
            rest.split(' ').next().unwrap().parse::<usize>().unwrap()
        })
        .unwrap_or(0);
    (sections, hidden)
}

#[test]
fn markdown_stays_under_the_comment_limit_and_says_what_it_left_out() {
    // 250 findings: the table fits, the sections do not. 1500: the table does not fit either.
    for (n, table_complete) in [(250, true), (1500, false)] {
        let changes: Vec<String> = (0..n)
            .map(|i| sg_rule(&format!("smb_world_open_{i:04}"), 445, "0.0.0.0/0", None))
            .collect();
        let plan = temp_plan(&plan_of(&changes, false));
        let empty = tempfile::tempdir().unwrap();
        let out = portgate(&[
            "check",
            path_str(plan.path()),
            "--format",
            "markdown",
            "--trusted-cidr",
            "10.0.0.0/8",
            "--source",
            path_str(empty.path()),
        ]);
        assert_eq!(out.status.code(), Some(1));
        let text = stdout(&out);
        let chars = text.chars().count();
        assert!(chars < 65_000, "{n} findings: {chars} characters");
        assert!(chars > 50_000, "{n} findings: the budget is used, {chars}");
        let (sections, hidden) = sections_and_hidden(&text);
        assert!(sections > 0, "{n} findings: no section shown");
        assert_eq!(sections + hidden, n, "{n} findings");
        let rows = text.lines().filter(|l| l.starts_with("| PG002 |")).count();
        if table_complete {
            assert_eq!(rows, n);
            assert!(!text.contains("The table lists"));
        } else {
            assert!(rows < n);
            assert!(
                text.contains(&format!("_The table lists {rows} of {n} findings._")),
                "{n} findings"
            );
        }
        // The report is whole: the diff blocks it shows are closed, the footer is there.
        assert_eq!(text.matches("```diff").count(), sections);
        assert_eq!(text.matches("\n```\n").count(), sections);
        assert!(text.trim_end().ends_with("</sub>"));
    }
}

#[test]
fn markdown_shows_every_finding_when_it_fits() {
    let changes: Vec<String> = (0..5)
        .map(|i| sg_rule(&format!("smb_{i}"), 445, "0.0.0.0/0", None))
        .collect();
    let plan = temp_plan(&plan_of(&changes, false));
    let (text, code) = check(path_str(plan.path()), "markdown", &[]);
    assert_eq!(code, Some(1));
    assert_eq!(sections_and_hidden(&text), (5, 0));
    assert!(!text.contains("not shown"));
}

/// A passing plan whose own text says "fail": an address, an errored plan's warning, a waiver.
fn passing_plan_saying_fail() -> tempfile::NamedTempFile {
    temp_plan(&plan_of(
        &[
            unknown_rule("failover_smb"),
            sg_rule(
                "smb_failsafe",
                445,
                "0.0.0.0/0",
                Some("PG002: FAILOVER site, until 2999-01-31"),
            ),
            sg_rule("https", 443, "0.0.0.0/0", None),
        ],
        true,
    ))
}

#[test]
fn passing_reports_never_say_fail() {
    let plan = passing_plan_saying_fail();
    for format in ["markdown", "conftest"] {
        let (text, code) = check(path_str(plan.path()), format, &[]);
        assert_eq!(code, Some(0), "{format}:\n{text}");
        assert!(
            !text.to_lowercase().contains("fail"),
            "{format} says fail:\n{text}"
        );
        // The words are still there for a reader: only an invisible joiner was added.
        let visible = text.replace('\u{2060}', "");
        assert!(visible.contains("failover_smb"), "{format}:\n{text}");
        assert!(
            visible.contains("terraform plan` failed"),
            "{format}:\n{text}"
        );
    }
    let (text, code) = check(path_str(plan.path()), "github", &[]);
    assert_eq!(code, Some(0));
    assert!(!text.contains("::error"), "{text}");
    assert!(text.contains("::warning "), "{text}");
    assert!(text.contains("::notice "), "{text}");
}

#[test]
fn markdown_titles_tell_pass_from_fail() {
    let (pass, _) = check(
        "testdata/plans/resolved_vpc_cidr.json",
        "markdown",
        &["--source", "testdata/plans/resolved_vpc_cidr"],
    );
    assert!(pass.starts_with("## portgate: ✅ PASSED\n"), "{pass}");
    let (warn, _) = check(
        "testdata/plans/unknown_cidr.json",
        "markdown",
        &["--source", "testdata/plans/unknown_cidr"],
    );
    assert!(
        warn.starts_with("## portgate: ⚠️ PASSED with warnings\n"),
        "{warn}"
    );
    let (fail, _) = check("testdata/plans/example.json", "markdown", &[]);
    assert!(
        fail.starts_with("## portgate: ❌ FAILED · 2 blocking findings\n"),
        "{fail}"
    );
}

#[test]
fn markdown_marks_waived_and_below_threshold_findings() {
    let plan = temp_plan(&plan_of(
        &[
            sg_rule(
                "legacy",
                445,
                "0.0.0.0/0",
                Some("PG002: migrating to FSx, until 2999-01-31"),
            ),
            sg_rule("typo", 445, "10.0.0/8", None),
        ],
        false,
    ));
    let (text, code) = check(
        path_str(plan.path()),
        "markdown",
        &["--fail-on", "critical"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(
            "| `aws_security_group_rule.legacy` | – | tcp/445 | `0.0.0.0/0` | 💤 waived |"
        ),
        "{text}"
    );
    assert!(
        text.contains("| PG004 | high | `aws_security_group_rule.typo` |"),
        "{text}"
    );
    assert!(text.contains("⚠️ warning |"), "{text}");
    assert!(text.contains("_Waived until 2999-01-31 (tag portgate:waive on aws\\_security\\_group\\_rule.legacy): migrating to FSx_"), "{text}");
    assert!(
        text.contains("its severity is below the blocking threshold"),
        "{text}"
    );
    // Warnings come before waived findings.
    assert!(text.find("### 1. ⚠️ PG004").is_some(), "{text}");
    assert!(text.find("### 2. 💤 PG002").is_some(), "{text}");
}

#[test]
fn markdown_escapes_what_the_plan_says() {
    let plan = temp_plan(&plan_of(
        &[sg_rule("smb", 445, "<b>|*x*|</b>", None)],
        false,
    ));
    let (text, _) = check(path_str(plan.path()), "markdown", &[]);
    // Outside code, every character that means something to Markdown is escaped.
    assert!(
        text.contains(r#"from cidr\_blocks\[0\] = "\<b\>\|\*x\*\|\</b\>" which"#),
        "{text}"
    );
    // In the table the CIDR is code, with its pipes escaped so the row keeps its columns.
    let row = text.lines().find(|l| l.starts_with("| PG004 |")).unwrap();
    assert_eq!(row.matches(" | ").count(), 6, "{row}");
    assert!(
        row.contains(r#"`cidr_blocks[0] = "<b>\|*x*\|</b>"`"#),
        "{row}"
    );
}

// ---------------------------------------------------------------------------------------------
// GitHub workflow commands.

#[test]
fn github_points_at_the_source_block_when_it_is_found() {
    let (text, code) = check(
        "testdata/fix/no_trusted_ipv6/plan.json",
        "github",
        &[
            "--trusted-cidr",
            "10.0.0.0/8",
            "--source",
            "testdata/fix/no_trusted_ipv6",
        ],
    );
    assert_eq!(code, Some(1));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for line in &lines[..2] {
        assert!(
            line.starts_with("::error file=testdata/fix/no_trusted_ipv6/main.tf,line=9,endLine=16,title=PG002 SMB open to the world (critical)::"),
            "{line}"
        );
        // The patch is in the message, one command per line.
        assert!(
            line.contains("%0A--- a/testdata/fix/no_trusted_ipv6/main.tf%0A+++ b/testdata/fix/no_trusted_ipv6/main.tf%0A@@ -11,7 +11,7 @@%0A"),
            "{line}"
        );
        assert!(
            line.contains("%0A+    cidr_blocks      = [\"10.0.0.0/8\"]%0A"),
            "{line}"
        );
        assert!(!line.contains('\r'));
    }
    assert!(lines[2].starts_with("::notice title=portgate::portgate: FAILED, 2 findings"));
}

#[test]
fn github_falls_back_to_the_plan_file_and_escapes_properties() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan,with:odd%name.json");
    std::fs::copy(root().join("testdata/plans/example.json"), &plan).unwrap();
    let out = portgate(&["check", path_str(&plan), "--format", "github"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let escaped = path_str(&plan)
        .replace('%', "%25")
        .replace(':', "%3A")
        .replace(',', "%2C");
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("::error file={escaped},line=")),
        "{first}"
    );
    // The message keeps its colons (only properties escape them).
    assert!(
        first.contains(
            "::aws_security_group.file_share ingress[0] allows tcp 445 from 0.0.0.0/0: SMB"
        ),
        "{first}"
    );
}

#[test]
fn github_appends_the_markdown_report_to_the_step_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("step_summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = portgate_env(
        &["check", "testdata/plans/example.json", "--format", "github"],
        &[("GITHUB_STEP_SUMMARY", &summary)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("::error "));
    let (markdown, _) = check("testdata/plans/example.json", "markdown", &[]);
    let written = normalize(&std::fs::read_to_string(&summary).unwrap());
    assert_eq!(written, format!("earlier step\n{markdown}"));

    // Appended again by a second run, not overwritten.
    let out = portgate_env(
        &["check", "testdata/plans/example.json", "--format", "github"],
        &[("GITHUB_STEP_SUMMARY", &summary)],
    );
    assert_eq!(out.status.code(), Some(1));
    let written = normalize(&std::fs::read_to_string(&summary).unwrap());
    assert_eq!(written, format!("earlier step\n{markdown}{markdown}"));
}

#[test]
fn github_writes_no_step_summary_without_the_variable() {
    let out = portgate(&["check", "testdata/plans/example.json", "--format", "github"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout(&out).contains("## portgate"));
}

// ---------------------------------------------------------------------------------------------
// conftest.

#[test]
fn conftest_counts_rule_policy_pairs_like_conftest_counts_results() {
    // example.json: 3 ingress rules × 2 policies = 6 checks; 2 have a finding.
    let (text, code) = check("testdata/plans/example.json", "conftest", &[]);
    assert_eq!(code, Some(1));
    assert!(
        text.ends_with("\n\n6 tests, 4 passed, 0 warnings, 2 failures, 0 exceptions\n"),
        "{text}"
    );

    // One waived (EXCP), one below --fail-on (WARN), one plan warning (WARN), one safe rule.
    let plan = temp_plan(&plan_of(
        &[
            sg_rule(
                "legacy",
                445,
                "0.0.0.0/0",
                Some("PG002: migrating, until 2999-01-31"),
            ),
            sg_rule("typo", 445, "10.0.0/8", None),
            sg_rule("https", 443, "0.0.0.0/0", None),
        ],
        true,
    ));
    let (text, code) = check(
        path_str(plan.path()),
        "conftest",
        &["--fail-on", "critical"],
    );
    assert_eq!(code, Some(0), "{text}");
    let file = path_str(plan.path());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    // Grouped as conftest groups them: warnings, failures, exceptions.
    assert!(
        lines[0].starts_with(&format!(
            "WARN - {file} - main - portgate: the plan is marked errored"
        )),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "WARN - {file} - main - PG004 aws_security_group_rule.typo: "
        )),
        "{text}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "EXCP - {file} - main - PG002 aws_security_group_rule.legacy: "
        )),
        "{text}"
    );
    assert!(lines[2].ends_with("(waived until 2999-01-31 (tag portgate:waive on aws_security_group_rule.legacy): migrating)"), "{text}");
    assert_eq!(lines[3], "");
    // 3 rules × 2 policies = 6 pairs; PG004 concerns both of typo's, PG002 one of legacy's:
    // 3 passed + 2 warnings + 1 exception; no failures field on a pass.
    assert_eq!(lines[4], "6 tests, 3 passed, 2 warnings, 1 exception");
}

#[test]
fn conftest_names_stdin_as_conftest_does() {
    let plan = std::fs::read(root().join("testdata/plans/example.json")).unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("portgate"))
        .args(["check", "-", "--format", "conftest"])
        .write_stdin(plan)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.starts_with("FAIL - - main - PG002 aws_security_group.file_share ingress[0]: "),
        "{text}"
    );
}

#[test]
fn conftest_without_rules_is_zero_tests() {
    let plan = temp_plan(&plan_of(&[], false));
    let (text, code) = check(path_str(plan.path()), "conftest", &[]);
    assert_eq!(code, Some(0));
    assert_eq!(text, "\n0 tests, 0 passed, 0 warnings, 0 exceptions\n");
}

//! Input that is not a plan: always exit code 2, one line on stderr naming the file (and the
//! line/column or JSON path when there is one) and what to do, nothing on stdout, never a panic.

#[path = "common/valid_plan.rs"]
mod valid_plan;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use portgate::policy::PolicySet;
use portgate::{CheckOptions, check};
use proptest::prelude::*;
use valid_plan::VALID_PLAN;

fn bad(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/bad")
        .join(name)
}

/// Runs `portgate check FILE` and returns its single stderr line, asserting exit code 2.
fn error_line(args: &[&str]) -> String {
    let output = Command::cargo_bin("portgate")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(output.stdout.is_empty(), "stdout must be empty on error");
    assert_eq!(stderr.lines().count(), 1, "one line, got: {stderr}");
    assert!(stderr.starts_with("portgate: error: "), "{stderr}");
    stderr
}

fn check_error(name: &str, expected_parts: &[&str]) {
    let path = bad(name);
    let line = error_line(&["check", path.to_str().unwrap()]);
    assert!(
        line.contains(&format!("{}", path.display())),
        "names the file: {line}"
    );
    for part in expected_parts {
        assert!(line.contains(part), "expected {part:?} in: {line}");
    }
}

#[test]
fn a_state_file_is_refused_with_advice() {
    check_error(
        "state.tfstate.json",
        &["state file", "terraform show -json PLANFILE"],
    );
}

#[test]
fn show_json_of_state_is_refused_with_advice() {
    check_error(
        "show_json_of_state.json",
        &["of state", "terraform show -json PLANFILE"],
    );
}

#[test]
fn a_binary_plan_is_refused_with_the_command_to_run() {
    check_error(
        "binary_plan.tfplan",
        &["binary plan", "terraform show -json PLANFILE"],
    );
}

#[test]
fn the_plan_log_stream_is_refused() {
    check_error(
        "plan_log_stream.json",
        &["terraform plan -json", "log stream"],
    );
}

#[test]
fn random_json_is_not_a_plan() {
    check_error("random.json", &["not a Terraform plan", "format_version"]);
    check_error(
        "no_format_version.json",
        &["format_version` key is missing"],
    );
}

#[test]
fn a_document_without_a_planned_values_object_is_not_a_plan() {
    // Terraform writes `planned_values` in every plan; a document without it was cut down or
    // made by hand, and what it leaves out could hide a resource.
    for name in ["no_planned_values.json", "planned_values_null.json"] {
        check_error(
            name,
            &[
                "not a Terraform plan",
                "`planned_values` object is missing",
                "terraform show -json PLANFILE",
            ],
        );
    }
}

#[test]
fn a_duplicated_top_level_key_is_refused() {
    // Parsers disagree on which copy of a duplicated key wins, so the plan could look safe to
    // one tool and open to another.
    check_error(
        "duplicate_prior_state.json",
        &["duplicate field `prior_state`"],
    );
    check_error("duplicate_variables.json", &["duplicate field `variables`"]);
}

#[test]
fn a_repeated_key_in_a_checked_resource_is_refused() {
    // Two `type`s: a security group rule to one reader, a bucket to another.
    check_error(
        "duplicate_type.json",
        &[
            "duplicate_type.json:10:",
            "resource_changes[0]",
            "duplicate field `type`",
        ],
    );
    // Deep inside the resource: with the last copy winning, the unknown CIDR list would read as
    // known and missing, and the rule as safe.
    check_error(
        "duplicate_key_in_after_unknown.json",
        &[
            "duplicate_key_in_after_unknown.json:14:",
            "(at resource_changes[0].change.after_unknown)",
            "duplicate field `cidr_blocks`",
        ],
    );
}

#[test]
fn truncated_json_reports_line_and_column() {
    check_error("truncated.json", &["truncated.json:17:6:", "ends early"]);
}

#[test]
fn invalid_utf8_reports_line_and_column() {
    check_error("invalid_utf8.json", &["invalid_utf8.json:14:17:", "UTF-8"]);
}

#[test]
fn the_text_of_terraform_plan_is_refused_with_what_to_run() {
    for name in ["not_json.txt", "plan_text_colored.txt"] {
        check_error(
            name,
            &[
                "human-readable text of `terraform plan`",
                "terraform show -json PLANFILE > plan.json",
            ],
        );
    }
}

#[test]
fn a_null_resource_changes_is_refused() {
    // Terraform omits an empty `resource_changes` and never writes null: a null one only
    // claims there is nothing to check (issue 18: the run task passed it).
    check_error(
        "resource_changes_null.json",
        &[
            "resource_changes_null.json:1:",
            "invalid type: null, expected a list",
            "never writes null",
            "(at resource_changes)",
        ],
    );
}

#[test]
fn invalid_json_reports_its_position() {
    check_error(
        "invalid_json_value.json",
        &["invalid_json_value.json:2:", "invalid JSON"],
    );
}

#[test]
fn top_level_array_and_empty_file_are_refused() {
    check_error("array.json", &["expected a JSON object", "array"]);
    check_error("empty.json", &["empty"]);
}

#[test]
fn an_unsupported_format_version_is_refused() {
    check_error("format_version_2.json", &["\"2.0\"", "0.x and 1.x"]);
}

#[test]
fn a_wrongly_typed_attribute_reports_its_json_path() {
    check_error(
        "port_as_string.json",
        &[
            "port_as_string.json:27:32:",
            "resource_changes[0].change.after.ingress[0].from_port",
            "expected an integer",
        ],
    );
    check_error(
        "actions_not_a_list.json",
        &["resource_changes[0].change.actions", "expected a list"],
    );
}

#[test]
fn missing_files_and_directories_are_errors() {
    let line = error_line(&["check", "definitely/not/here.json"]);
    assert!(
        line.contains("definitely/not/here.json: no such file"),
        "{line}"
    );
    let dir = bad("");
    let line = error_line(&["check", dir.to_str().unwrap()]);
    assert!(line.contains("directory"), "{line}");
}

#[test]
fn bad_input_on_stdin_is_named_dash() {
    let output = Command::cargo_bin("portgate")
        .unwrap()
        .args(["check", "-"])
        .write_stdin("{\"format_version\": \"1.2\", ")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("portgate: error: -:1:"), "{stderr}");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let output = Command::cargo_bin("portgate")
        .unwrap()
        .args(["check", "x.json", "--fail-on", "severe"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = Command::cargo_bin("portgate")
        .unwrap()
        .args(["check", "--help"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("--unknown"));
}

#[test]
fn a_bad_policy_dir_is_an_error_pointing_at_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rdp.toml"),
        "id = \"ACME1\"\nname = \"rdp\"\ntitle = \"RDP\"\nseverity = \"severe\"\nsummary = \"s\"\nrationale = \"r\"\nremediation = \"f\"\nports = [{ protocol = \"tcp\", from = 3389, to = 3389 }]\n",
    )
    .unwrap();
    let plan = bad("random.json");
    let line = error_line(&[
        "check",
        plan.to_str().unwrap(),
        "--policy-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(line.contains("rdp.toml:4:12:"), "{line}");
    assert!(
        line.contains("critical"),
        "lists the valid severities: {line}"
    );
    let empty = tempfile::tempdir().unwrap();
    let line = error_line(&["policies", "--policy-dir", empty.path().to_str().unwrap()]);
    assert!(line.contains("no *.toml policy files"), "{line}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any prefix of a plan, and any single-byte change to it, yields a report or an error:
    /// never a panic.
    #[test]
    fn damaged_plans_never_panic(cut in 0usize..VALID_PLAN.len(), at in 0usize..VALID_PLAN.len(), byte in any::<u8>()) {
        let policies = PolicySet::builtin().unwrap();
        let _ = check(&VALID_PLAN.as_bytes()[..cut], "p.json", &policies, &CheckOptions::default());
        let mut bytes = VALID_PLAN.as_bytes().to_vec();
        bytes[at] = byte;
        let _ = check(&bytes, "p.json", &policies, &CheckOptions::default());
    }

    /// Arbitrary bytes are never a passing plan.
    #[test]
    fn arbitrary_bytes_never_pass(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let policies = PolicySet::builtin().unwrap();
        prop_assert!(check(&bytes, "p.json", &policies, &CheckOptions::default()).is_err());
    }
}

#[test]
fn the_valid_plan_used_for_fuzzing_has_a_finding() {
    let policies = PolicySet::builtin().unwrap();
    let report = check(
        VALID_PLAN.as_bytes(),
        "p.json",
        &policies,
        &CheckOptions::default(),
    )
    .unwrap();
    assert!(report.fails());
}

/// Inputs the fuzzers found (testdata/fuzz): each is refused with a one-line error.
#[test]
fn fuzzer_findings_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz");
    let policies = PolicySet::builtin().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let error = check(&bytes, "fuzz.json", &policies, &CheckOptions::default())
            .expect_err("refused")
            .to_string();
        assert!(!error.contains('\n'), "{}: {error}", path.display());
    }
}

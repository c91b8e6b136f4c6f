//! Several inputs in one run (`portgate check plans/*.json`, `portgate audit a b`): one report
//! that names each input, in every format; the exit code is the worst of them; an input that
//! cannot be read is exit 2 while the report still covers the others; `--source INPUT=DIR`
//! pairs inputs with their sources; `--write` writes a file both inputs patch alike once.

#[path = "common/run.rs"]
mod run;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

fn testdata(path: &str) -> String {
    format!("testdata/{path}")
}

use run::{portgate, root};

fn stdout(output: &Output) -> String {
    run::text(&output.stdout)
}

const FAILING: &str = "plans/example.json";
const ALSO_FAILING: &str = "plans/group_union.json";
const PASSING: &str = "plans/icmp_world.json";
const UNREADABLE: &str = "bad/empty.json";

/// The run of the three readable inputs and the unreadable one, in `format`.
fn run_with_a_bad_input(format: &str) -> Output {
    let output = portgate(&[
        "check",
        &testdata(FAILING),
        &testdata(ALSO_FAILING),
        &testdata(PASSING),
        &testdata(UNREADABLE),
        "--no-source",
        "--format",
        format,
    ]);
    assert_eq!(output.status.code(), Some(2), "{format}: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "portgate: error: {}: the file is empty",
            testdata(UNREADABLE)
        )),
        "{format}: {stderr}"
    );
    output
}

/// The findings of one input checked alone, as `--format json` lists them.
fn alone(input: &str) -> Vec<Value> {
    let output = portgate(&["check", &testdata(input), "--no-source", "--format", "json"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    report["findings"].as_array().unwrap().clone()
}

#[test]
fn json_lists_each_inputs_report_under_one_summary() {
    let output = run_with_a_bad_input("json");
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["schema_version"], "1.1");
    assert_eq!(doc["inputs"], "plan");
    let reports = doc["reports"].as_array().unwrap();
    let files: Vec<&str> = reports
        .iter()
        .map(|r| r["plan"]["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [testdata(FAILING), testdata(ALSO_FAILING), testdata(PASSING)]
    );
    // Each input's report is its report alone, less the versions.
    for (report, input) in reports.iter().zip([FAILING, ALSO_FAILING, PASSING]) {
        assert_eq!(report["findings"].as_array().unwrap(), &alone(input));
        assert!(report.get("schema_version").is_none());
    }
    assert_eq!(doc["errors"][0]["file"], testdata(UNREADABLE));
    let total = alone(FAILING).len() + alone(ALSO_FAILING).len() + alone(PASSING).len();
    assert_eq!(doc["summary"]["findings"], total);
    assert_eq!(doc["summary"]["result"], "error");
}

#[test]
fn text_groups_by_input_and_ends_with_one_verdict() {
    let output = run_with_a_bad_input("text");
    let text = stdout(&output);
    let headings: Vec<&str> = text.lines().filter(|l| l.starts_with("==> ")).collect();
    assert_eq!(
        headings,
        [
            format!("==> {} <==", testdata(FAILING)),
            format!("==> {} <==", testdata(ALSO_FAILING)),
            format!("==> {} <==", testdata(PASSING)),
            format!("==> {} <==", testdata(UNREADABLE)),
        ]
    );
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("portgate: ERROR, 4 plans (2 failing, 1 passed, 1 unreadable): "),
        "{last}"
    );
}

#[test]
fn sarif_is_one_run_whose_results_carry_their_input() {
    let output = run_with_a_bad_input("sarif");
    let log: Value = serde_json::from_slice(&output.stdout).unwrap();
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let results = run["results"].as_array().unwrap();
    let total = alone(FAILING).len() + alone(ALSO_FAILING).len() + alone(PASSING).len();
    assert_eq!(results.len(), total);
    for result in results {
        let input = result["properties"]["input"].as_str().unwrap();
        assert!(
            [testdata(FAILING), testdata(ALSO_FAILING)].contains(&input.to_string()),
            "{input}"
        );
    }
    let prints: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|r| r["partialFingerprints"]["portgate/v1"].as_str().unwrap())
        .collect();
    assert_eq!(prints.len(), results.len(), "fingerprints are unique");
    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert!(notes.iter().any(|n| {
        n["level"] == "error"
            && n["message"]["text"]
                .as_str()
                .unwrap()
                .starts_with(&testdata(UNREADABLE))
    }));
    assert_eq!(run["properties"]["plans"].as_array().unwrap().len(), 3);
    // Valid SARIF 2.1.0, where the schema is at hand.
    let schema = root().join("../shared/schemas/sarif-2.1.0.json");
    if let Ok(text) = std::fs::read_to_string(&schema) {
        let schema: Value = serde_json::from_str(&text).unwrap();
        let validator = jsonschema::draft7::new(&schema).unwrap();
        let errors: Vec<String> = validator.iter_errors(&log).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
    } else {
        eprintln!(
            "notice: {} not found; SARIF not validated",
            schema.display()
        );
    }
}

#[test]
fn junit_has_a_testsuite_per_input() {
    let output = run_with_a_bad_input("junit");
    let xml = stdout(&output);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<&str> = suites
        .iter()
        .map(|s| s.attribute("name").unwrap())
        .collect();
    assert_eq!(
        names,
        [
            testdata(FAILING),
            testdata(ALSO_FAILING),
            testdata(PASSING),
            testdata(UNREADABLE)
        ]
    );
    // The failing input's suite fails; the passing one's passes; the unreadable one errs.
    let failures = |s: &roxmltree::Node| s.attribute("failures").unwrap().parse::<usize>().unwrap();
    assert!(failures(&suites[0]) > 0);
    assert_eq!(failures(&suites[2]), 0);
    assert_eq!(suites[3].attribute("errors"), Some("1"));
    // Each test case names its policy.
    for case in suites[0].children().filter(|n| n.has_tag_name("testcase")) {
        assert!(
            case.attribute("name").unwrap().starts_with("PG"),
            "{case:?}"
        );
    }
}

#[test]
fn gitlab_markdown_github_and_conftest_cover_every_input() {
    let gitlab: Value = serde_json::from_slice(&run_with_a_bad_input("gitlab").stdout).unwrap();
    let issues = gitlab.as_array().unwrap();
    let total = alone(FAILING).len() + alone(ALSO_FAILING).len();
    assert_eq!(issues.len(), total);
    let prints: std::collections::BTreeSet<&str> = issues
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(prints.len(), issues.len(), "fingerprints are unique");

    let markdown = stdout(&run_with_a_bad_input("markdown"));
    assert!(
        markdown.starts_with("# portgate: ❌ ERROR · 4 plans"),
        "{markdown}"
    );
    for input in [FAILING, ALSO_FAILING, PASSING] {
        assert!(markdown.contains(&format!("### `{}`", testdata(input))));
    }
    assert!(markdown.contains(&format!("**`{}`** could not be read", testdata(UNREADABLE))));

    let github = stdout(&run_with_a_bad_input("github"));
    assert!(
        github.contains(&format!(
            "::error file={},title=portgate%3A unreadable input::",
            testdata(UNREADABLE)
        )),
        "{github}"
    );
    assert_eq!(github.matches("::notice title=portgate::").count(), 3);

    let conftest = stdout(&run_with_a_bad_input("conftest"));
    let summaries = conftest.lines().filter(|l| l.contains(" tests, ")).count();
    assert_eq!(summaries, 1, "{conftest}");
    for input in [FAILING, ALSO_FAILING] {
        assert!(conftest.contains(&format!("FAIL - {} - main - ", testdata(input))));
    }
}

#[test]
fn the_exit_code_is_the_worst_of_the_inputs() {
    let code = |args: &[&str]| portgate(args).status.code();
    let (failing, passing, bad) = (testdata(FAILING), testdata(PASSING), testdata(UNREADABLE));
    assert_eq!(code(&["check", &passing, &passing, "--no-source"]), Some(0));
    assert_eq!(code(&["check", &passing, &failing, "--no-source"]), Some(1));
    assert_eq!(code(&["check", &failing, &bad, "--no-source"]), Some(2));
    // --soft-fail turns findings into 0, never an unreadable input.
    assert_eq!(
        code(&["check", &passing, &failing, "--no-source", "--soft-fail"]),
        Some(0)
    );
    assert_eq!(
        code(&["check", &failing, &bad, "--no-source", "--soft-fail"]),
        Some(2)
    );
    // A missing file is unreadable too.
    assert_eq!(
        code(&["check", &failing, "testdata/no/such.json", "--no-source"]),
        Some(2)
    );
}

#[test]
fn several_states_are_audited_as_several_plans_are_checked() {
    let output = portgate(&[
        "audit",
        "testdata/states/modules_and_keys.tfstate",
        "testdata/states/modules_and_keys.tfstate",
        "--no-source",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["inputs"], "state");
    assert_eq!(doc["reports"].as_array().unwrap().len(), 2);
    assert!(doc["reports"][0].get("state").is_some());
}

#[test]
fn one_input_options_are_refused_with_several() {
    let output = portgate(&[
        "check",
        &testdata(FAILING),
        &testdata(PASSING),
        "--plan-name",
        "x",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--plan-name names a single input"));
    let output = portgate(&["check", &testdata(FAILING), "-"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("standard input"));
}

/// A scratch root module with `main.tf` from a fix case, and its plan.
fn scratch_case(case: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let case_dir = root().join("testdata/fix").join(case);
    let module = dir.path().join("module");
    std::fs::create_dir(&module).unwrap();
    std::fs::copy(case_dir.join("main.tf"), module.join("main.tf")).unwrap();
    let plan = dir.path().join("plan.json");
    std::fs::copy(case_dir.join("plan.json"), &plan).unwrap();
    (dir, module, plan)
}

#[test]
fn source_pairs_inputs_with_their_root_modules_and_write_patches_a_shared_file_once() {
    let (dir, module, plan) = scratch_case("security_group_rule");
    // Two workspaces of one root module: the same plan twice, both paired with the module.
    let twin = dir.path().join("twin.json");
    std::fs::copy(&plan, &twin).unwrap();
    let pair = |p: &Path| format!("{}={}", p.display(), module.display());
    let (plan_s, twin_s) = (plan.display().to_string(), twin.display().to_string());
    let args = |format: &str| -> Vec<String> {
        vec![
            "check".into(),
            plan_s.clone(),
            twin_s.clone(),
            "--source".into(),
            pair(&plan),
            "--source".into(),
            pair(&twin),
            "--trusted-cidr".into(),
            "10.0.0.0/8".into(),
            "--format".into(),
            format.into(),
        ]
    };
    let run = |args: Vec<String>| {
        Command::cargo_bin("portgate")
            .unwrap()
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    // One patch of main.tf, not two.
    let diff = run(args("diff"));
    assert_eq!(diff.status.code(), Some(1), "{diff:?}");
    let patch = stdout(&diff);
    assert_eq!(patch.matches("+++ b/").count(), 1, "{patch}");
    assert!(
        patch.contains("+  cidr_blocks       = [\"10.0.0.0/8\"]"),
        "{patch}"
    );
    // With an unreadable input beside them: exit 2, and the patch of the others all the same.
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let mut with_bad = args("diff");
    with_bad.insert(3, empty.display().to_string());
    let diff = run(with_bad);
    assert_eq!(diff.status.code(), Some(2), "{diff:?}");
    assert_eq!(stdout(&diff).matches("+++ b/").count(), 1);
    // --write writes it once, and the module is closed.
    let mut write = args("text");
    write.push("--write".into());
    let written = run(write);
    assert_eq!(written.status.code(), Some(1), "{written:?}");
    let main_tf = std::fs::read_to_string(module.join("main.tf")).unwrap();
    assert!(!main_tf.contains("0.0.0.0/0"), "{main_tf}");
    assert_eq!(
        String::from_utf8_lossy(&written.stderr)
            .matches("portgate: wrote ")
            .count(),
        1
    );
    // Without the pairs, each input's own directory is its source: there are no .tf files
    // there, so the patches are suggestions, and the diff is empty.
    let unpaired = run(vec![
        "check".into(),
        plan_s.clone(),
        twin_s.clone(),
        "--trusted-cidr".into(),
        "10.0.0.0/8".into(),
        "--format".into(),
        "diff".into(),
    ]);
    assert!(stdout(&unpaired).is_empty());
}

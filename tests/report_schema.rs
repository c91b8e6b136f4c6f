//! `schemas/report.schema.json` describes every report `--format json` prints: the reviewed
//! snapshot, every project plan (with and without fixes, with a waiver) and every real plan
//! (issue 19).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let text = std::fs::read_to_string(root().join("schemas/report.schema.json")).unwrap();
        let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("the schema compiles")
    })
}

fn errors(doc: &Value) -> Vec<String> {
    validator()
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn assert_valid(doc: &Value, what: &str) {
    let errors = errors(doc);
    assert!(errors.is_empty(), "{what}:\n{}\n{doc:#}", errors.join("\n"));
}

/// `portgate check PLAN --format json` with `args`: exit 0 or 1, stdout one JSON document.
fn report(plan: &Path, args: &[&str], cwd: &Path) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_portgate"))
        .arg("check")
        .arg(plan)
        .args(["--format", "json"])
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    let what = format!("{} {args:?}", plan.display());
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"))
}

#[test]
fn the_schema_version_is_the_schemas() {
    let text = std::fs::read_to_string(root().join("schemas/report.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let versions = schema["$defs"]["report"]["properties"]["schema_version"]["enum"]
        .as_array()
        .unwrap();
    assert_eq!(
        versions.last().unwrap(),
        portgate::report::json::SCHEMA_VERSION
    );
    assert_eq!(
        schema["$defs"]["runs"]["properties"]["schema_version"]["const"],
        portgate::report::json::SCHEMA_VERSION
    );
}

/// A run of several inputs, one of them unreadable: the schema's `runs` form.
#[test]
fn reports_of_several_inputs_follow_the_schema() {
    for (command, inputs) in [
        (
            "check",
            vec![
                "testdata/plans/example.json",
                "testdata/plans/group_union.json",
                "testdata/bad/empty.json",
            ],
        ),
        (
            "audit",
            vec![
                "testdata/states/modules_and_keys.tfstate",
                "testdata/states/modules_and_keys.tfstate",
            ],
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_portgate"))
            .arg(command)
            .args(&inputs)
            .args([
                "--format",
                "json",
                "--no-source",
                "--trusted-cidr",
                "10.1.0.0/16",
            ])
            .current_dir(root())
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_valid(&doc, &format!("{command} of {inputs:?}"));
        let mut stray = doc.clone();
        stray["reports"][0]["schema_version"] = json!("1.1");
        assert!(
            !errors(&stray).is_empty(),
            "versions inside a report of several"
        );
        let mut stray = doc.clone();
        stray["summary"]["result"] = json!("maybe");
        assert!(!errors(&stray).is_empty(), "a result that is neither");
    }
}

/// `portgate audit STATE --format json`: the schema's `state` form, and only it.
#[test]
fn audit_reports_follow_the_schema() {
    let state = root().join("testdata/states/modules_and_keys.tfstate");
    let output = Command::new(env!("CARGO_BIN_EXE_portgate"))
        .arg("audit")
        .arg(&state)
        .args(["--format", "json", "--trusted-cidr", "10.1.0.0/16"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_valid(&doc, "audit of modules_and_keys.tfstate");
    let mut strays: Vec<(&str, Value)> = Vec::new();
    let mut both = doc.clone();
    both["plan"] = doc["state"].clone();
    strays.push(("a report with a plan and a state", both));
    let mut old = doc.clone();
    old["schema_version"] = json!("1.0");
    strays.push(("a state in a 1.0 report", old));
    let mut neither = doc.clone();
    neither.as_object_mut().unwrap().remove("state");
    strays.push(("a report with neither", neither));
    for (what, stray) in strays {
        assert!(!errors(&stray).is_empty(), "the schema accepts {what}");
    }
}

#[test]
fn the_reviewed_json_snapshot_follows_the_schema() {
    let path = root().join(
        "tests/snapshots/snapshots_text_json__json_report_of_the_example_plan_with_fixes.snap",
    );
    let text = std::fs::read_to_string(path).unwrap();
    // insta's header ends at the second `---` line; the version is redacted in it.
    let (_, body) = text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .expect("an insta header, then the snapshot");
    let body = body.replace("[version]", env!("CARGO_PKG_VERSION"));
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert!(!doc["findings"].as_array().unwrap().is_empty());
    assert_valid(&doc, "the JSON snapshot");
}

#[test]
fn every_project_plans_report_follows_the_schema() {
    let mut plans: Vec<PathBuf> = std::fs::read_dir(root().join("testdata/plans"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    plans.sort();
    assert!(plans.len() > 30, "{plans:?}");
    let settings = tempfile::tempdir().unwrap();
    let config = settings.path().join("portgate.toml");
    std::fs::write(
        &config,
        "[[waiver]]\nrule = \"PG002\"\naddress = \"aws_security_group.*\"\nreason = \"tested\"\nexpires = 2099-01-31\n\n[[waiver]]\nrule = \"PG001\"\naddress = \"nothing.matches\"\nreason = \"stale\"\nexpires = 2099-01-31\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let (mut findings, mut fixes, mut waived, mut stale) = (0, 0, 0, 0);
    for plan in &plans {
        let sources = plan.with_extension("");
        let mut runs: Vec<Vec<&str>> = vec![
            vec![],
            vec![
                "--trusted-cidr",
                "10.0.0.0/8",
                "--trusted-cidr",
                "2001:db8::/32",
            ],
            vec!["--config", config],
        ];
        let sources_arg = sources.to_str().unwrap();
        if sources.is_dir() {
            runs.push(vec![
                "--trusted-cidr",
                "10.0.0.0/8",
                "--source",
                sources_arg,
            ]);
        }
        for args in runs {
            let doc = report(plan, &args, &root());
            assert_valid(&doc, &format!("{} {args:?}", plan.display()));
            for finding in doc["findings"].as_array().unwrap() {
                findings += 1;
                fixes += usize::from(!finding["fix"].is_null());
                waived += usize::from(!finding["waiver"].is_null());
            }
            stale += doc["stale_waivers"].as_array().unwrap().len();
        }
    }
    // What the schema was held to: findings with fixes, waivers applied and stale.
    assert!(
        findings > 50 && fixes > 10 && waived > 5 && stale > 5,
        "{findings} {fixes} {waived} {stale}"
    );
}

#[test]
fn every_real_plans_report_follows_the_schema() {
    let shared = root().join("../shared/testdata");
    // The plans of a corpus are the keys of its ground truth.
    let mut plans = Vec::new();
    for corpus in ["real", "real2"] {
        let dir = shared.join(corpus);
        let Ok(text) = std::fs::read_to_string(dir.join("expected.json")) else {
            continue;
        };
        let expected: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
        plans.extend(expected.keys().map(|plan| dir.join(plan)));
    }
    if plans.is_empty() {
        eprintln!("../shared/testdata is absent: the real plans' reports were not checked");
        return;
    }
    for plan in &plans {
        let doc = report(plan, &["--trusted-cidr", "10.0.0.0/8"], &root());
        assert_valid(&doc, &plan.display().to_string());
    }
}

/// The schema refuses what it must: the test above cannot pass on a schema that accepts all.
#[test]
fn the_schema_refuses_a_report_that_strays() {
    let plan = root().join("testdata/plans/example.json");
    let good = report(&plan, &["--trusted-cidr", "10.0.0.0/8"], &root());
    assert_valid(&good, "the example");
    type Stray = Box<dyn Fn(&mut Value)>;
    let strays: Vec<(&str, Stray)> = vec![
        (
            "an unknown top-level field",
            Box::new(|d| d["extra"] = json!(1)),
        ),
        (
            "an unknown finding field",
            Box::new(|d| d["findings"][0]["extra"] = json!(1)),
        ),
        (
            "a missing field",
            Box::new(|d| {
                d["findings"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("fails_gate");
            }),
        ),
        (
            "a wrong severity",
            Box::new(|d| d["findings"][0]["severity"] = json!("severe")),
        ),
        (
            "a port as text",
            Box::new(|d| d["findings"][0]["from_port"] = json!("445")),
        ),
        (
            "another schema version",
            Box::new(|d| d["schema_version"] = json!("2.0")),
        ),
        (
            "a fix without its patch",
            Box::new(|d| {
                d["findings"][0]["fix"]
                    .as_object_mut()
                    .unwrap()
                    .remove("patch");
            }),
        ),
        (
            "a result that is neither",
            Box::new(|d| d["summary"]["result"] = json!("maybe")),
        ),
    ];
    for (what, stray) in strays {
        let mut doc = good.clone();
        stray(&mut doc);
        assert!(!errors(&doc).is_empty(), "the schema accepts {what}");
    }
}

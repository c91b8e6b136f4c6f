//! `portgate audit`: Terraform state in both forms (`terraform show -json` of a state, and the
//! raw state of `terraform state pull`) is judged exactly as a plan's planned values are, and
//! `check` and `audit` each refuse the other's input.

#[path = "common/corpus.rs"]
mod corpus;

#[path = "common/run.rs"]
mod run;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use portgate::plan::InputKind;
use portgate::policy::PolicySet;
use portgate::{CheckOptions, check};
use serde_json::{Value, json};

/// A plan cut down to its planned values: what a state made by applying it would hold.
fn planned_values_only(plan: &Value) -> Value {
    json!({
        "format_version": plan["format_version"],
        "terraform_version": plan["terraform_version"],
        "planned_values": plan["planned_values"],
    })
}

/// `terraform show -json` of the state the plan's planned values describe.
fn show_json_state(plan: &Value) -> Value {
    let mut state =
        json!({"format_version": "1.0", "terraform_version": plan["terraform_version"]});
    if let Some(root) = plan["planned_values"].get("root_module") {
        state["values"] = json!({ "root_module": root });
    }
    state
}

/// The raw state (`terraform state pull`, version 4) of those planned values, written as
/// Terraform writes it (`module`, `mode`, `type`, `name` before `instances`) or with every
/// object's keys sorted (as `jq -S` leaves it: `instances` first).
/// A raw state's resource: (module, mode, type, name) and its instances.
type RawResource = ((Option<String>, String, String, String), Vec<Value>);

fn raw_state(plan: &Value, sorted: bool) -> String {
    // In the order first seen.
    let mut resources: Vec<RawResource> = Vec::new();
    fn walk(module: &Value, out: &mut Vec<RawResource>) {
        let address = module["address"].as_str().map(str::to_string);
        for r in module["resources"].as_array().into_iter().flatten() {
            let key = (
                address.clone(),
                r["mode"].as_str().unwrap_or("managed").to_string(),
                r["type"].as_str().unwrap().to_string(),
                r["name"].as_str().unwrap().to_string(),
            );
            let mut instance = serde_json::Map::new();
            if let Some(index) = r.get("index") {
                instance.insert("index_key".into(), index.clone());
            }
            instance.insert("schema_version".into(), json!(0));
            instance.insert(
                "attributes".into(),
                r.get("values").cloned().unwrap_or(json!({})),
            );
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some((_, instances)) => instances.push(Value::Object(instance)),
                None => out.push((key, vec![Value::Object(instance)])),
            }
        }
        for child in module["child_modules"].as_array().into_iter().flatten() {
            walk(child, out);
        }
    }
    if let Some(root) = plan["planned_values"].get("root_module") {
        walk(root, &mut resources);
    }
    let written: Vec<String> = resources
        .into_iter()
        .map(|((module, mode, resource_type, name), instances)| {
            let mut fields: Vec<(&str, String)> = Vec::new();
            if let Some(module) = module {
                fields.push(("module", json!(module).to_string()));
            }
            fields.push(("mode", json!(mode).to_string()));
            fields.push(("type", json!(resource_type).to_string()));
            fields.push(("name", json!(name).to_string()));
            fields.push((
                "provider",
                json!("provider[\"registry.terraform.io/hashicorp/aws\"]").to_string(),
            ));
            fields.push(("instances", json!(instances).to_string()));
            if sorted {
                fields.sort_by_key(|(k, _)| *k);
            }
            let members: Vec<String> = fields
                .into_iter()
                .map(|(k, v)| format!("{}: {v}", json!(k)))
                .collect();
            format!("{{{}}}", members.join(", "))
        })
        .collect();
    format!(
        "{{\"version\": 4, \"terraform_version\": \"1.9.5\", \"serial\": 1, \"lineage\": \"l\", \"outputs\": {{}}, \"resources\": [\n{}\n], \"check_results\": null}}",
        written.join(",\n")
    )
}

/// What identifies a PG001/PG002 finding.
type Key = (String, String, Option<String>, Option<String>, Vec<String>);

fn exposures(bytes: &[u8], input: InputKind, name: &str) -> BTreeSet<Key> {
    exposures_read(bytes, input, name, false)
}

/// [`exposures`]; with `twice`, read as a file is when it holds more rules than the reader
/// keeps (`hold_budget` 0: every input that holds a rule is read a second time, keeping only
/// the rules that may matter).
fn exposures_read(bytes: &[u8], input: InputKind, name: &str, twice: bool) -> BTreeSet<Key> {
    let options = CheckOptions {
        input,
        hold_budget: if twice { 0 } else { portgate::HOLD_BUDGET },
        ..CheckOptions::default()
    };
    let policies = PolicySet::builtin().unwrap();
    let reopen = || -> std::io::Result<Box<dyn std::io::Read + '_>> { Ok(Box::new(bytes)) };
    let report = if twice {
        portgate::check_input(bytes, Some(&reopen), name, &policies, &options)
    } else {
        check(bytes, name, &policies, &options)
    }
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    report
        .findings
        .iter()
        .map(|g| &g.finding)
        .filter(|f| f.rule_id == "PG001" || f.rule_id == "PG002")
        .map(|f| {
            (
                f.rule_id.clone(),
                f.address.clone(),
                f.deposed.clone(),
                f.block.clone(),
                f.ports.clone(),
            )
        })
        .collect()
}

/// Every testdata plan and every real plan that has planned values.
fn plans_with_planned_values() -> Vec<(PathBuf, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    corpus::json_files(&root.join("testdata/plans"), &mut files);
    let shared = root.join("../shared/testdata");
    if shared.is_dir() {
        corpus::json_files(&shared.join("real"), &mut files);
        corpus::json_files(&shared.join("real2"), &mut files);
    } else {
        eprintln!(
            "notice: {} not found; the real plans are not audited",
            shared.display()
        );
    }
    files
        .into_iter()
        .filter_map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            let text = portgate::plan::decode(&bytes).ok()?;
            let plan: Value = serde_json::from_str(&text).ok()?;
            plan.get("planned_values")
                .is_some_and(Value::is_object)
                .then_some((path, plan))
        })
        .collect()
}

#[test]
fn states_give_the_findings_of_their_plans_planned_values() {
    let plans = plans_with_planned_values();
    assert!(plans.len() >= 40, "found {} plans", plans.len());
    let mut total = 0;
    for (path, plan) in &plans {
        let name = path.display().to_string();
        let planned = serde_json::to_vec(&planned_values_only(plan)).unwrap();
        let expected = exposures(&planned, InputKind::Plan, &name);
        total += expected.len();
        let show = serde_json::to_vec(&show_json_state(plan)).unwrap();
        assert_eq!(
            exposures(&show, InputKind::State, &name),
            expected,
            "terraform show -json of the state of {name}"
        );
        for sorted in [false, true] {
            let raw = raw_state(plan, sorted);
            assert_eq!(
                exposures(raw.as_bytes(), InputKind::State, &name),
                expected,
                "raw state of {name} (keys sorted: {sorted})"
            );
        }
        let raw = raw_state(plan, false);
        assert_eq!(
            exposures_read(raw.as_bytes(), InputKind::State, &name, true),
            expected,
            "raw state of {name}, read twice"
        );
    }
    // Not a comparison of empty sets (the project's plans alone have 44 findings; the real
    // plans, where ../shared is present, add more).
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    let least = if shared.is_dir() { 50 } else { 40 };
    assert!(total >= least, "only {total} findings in all");
}

/// A state replaced between the two reads of one that holds too many rules is refused, as a
/// plan is: what the second read holds was chosen from the first.
#[test]
fn a_state_that_changes_between_its_two_reads_is_refused() {
    let state = |plan: &str| {
        let path = testdata(&format!("plans/{plan}"));
        let plan: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        raw_state(&plan, false)
    };
    let options = CheckOptions {
        input: InputKind::State,
        hold_budget: 0,
        ..CheckOptions::default()
    };
    let policies = PolicySet::builtin().unwrap();
    let reads = std::cell::Cell::new(0);
    let read = |first: &str, again: &str| {
        reads.set(0);
        let reopen = || -> std::io::Result<Box<dyn std::io::Read + '_>> {
            reads.set(reads.get() + 1);
            Ok(Box::new(again.as_bytes()))
        };
        let result = portgate::check_input(
            first.as_bytes(),
            Some(&reopen),
            "state.json",
            &policies,
            &options,
        );
        (result, reads.get())
    };
    // group_union holds rule resources of a group: with no budget, they spill.
    let (first, other) = (state("group_union.json"), state("modules_for_each.json"));
    let (result, reads) = read(&first, &other);
    assert_eq!(reads, 1, "the state is read a second time");
    let error = result.expect_err("two states read as one");
    assert_eq!(
        error.to_string(),
        "state.json: the state changed between its two reads (it holds too many rules to be \
         read once in bounded memory): audit it again once it is written"
    );
    // The same state twice is read, with the findings of one read.
    let (result, reads) = read(&first, &first);
    assert_eq!(reads, 1);
    let report = result.expect("one state read twice");
    let once = check(
        first.as_bytes(),
        "state.json",
        &policies,
        &CheckOptions {
            hold_budget: portgate::HOLD_BUDGET,
            ..options.clone()
        },
    )
    .unwrap();
    let messages = |r: &portgate::CheckReport| -> Vec<String> {
        r.findings
            .iter()
            .map(|g| g.finding.message.clone())
            .collect()
    };
    assert!(!report.findings.is_empty());
    assert_eq!(messages(&report), messages(&once));
}

use run::portgate;

fn testdata(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(path)
        .display()
        .to_string()
}

/// The findings of `audit --format json` on `state` as (rule, address, action, deposed, ports).
/// A finding of `audit --format json`: (rule, address, action, deposed, ports).
type Row = (String, String, String, Value, Value);

fn audited(state: &str) -> (Value, Vec<Row>) {
    let output = portgate(&["audit", state, "--no-source", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["address"].as_str().unwrap().to_string(),
                f["action"].as_str().unwrap().to_string(),
                f["deposed"].clone(),
                f["ports"].clone(),
            )
        })
        .collect();
    (report, findings)
}

#[test]
fn a_raw_state_gives_modules_index_keys_deposed_and_tainted_objects() {
    let (report, findings) = audited(&testdata("states/modules_and_keys.tfstate"));
    let row = |rule: &str, address: &str, action: &str, deposed: Value, ports: Value| {
        (
            rule.to_string(),
            address.to_string(),
            action.to_string(),
            deposed,
            ports,
        )
    };
    assert_eq!(
        findings,
        vec![
            // The deposed object still exists (create_before_destroy, apply interrupted).
            row(
                "PG001",
                "aws_security_group.office",
                "existing",
                json!("00d1e5a2"),
                json!(["tcp/137-139", "udp/137-139"])
            ),
            row(
                "PG002",
                "aws_security_group.office",
                "existing",
                json!("00d1e5a2"),
                json!(["tcp/445", "udp/445"])
            ),
            // A for_each key quoted as Terraform quotes it in addresses.
            row(
                "PG001",
                r#"aws_vpc_security_group_ingress_rule.by_site["a \"b\" $${c}"]"#,
                "existing",
                Value::Null,
                json!(["tcp/139"])
            ),
            row(
                "PG002",
                r#"module.net["eu \"west\""].module.sg.aws_security_group_rule.smb[0]"#,
                "existing",
                Value::Null,
                json!(["tcp/445"])
            ),
            row(
                "PG001",
                r#"module.net["eu \"west\""].module.sg.aws_security_group_rule.smb[1]"#,
                "tainted",
                Value::Null,
                json!(["udp/137-138"])
            ),
        ]
    );
    // The report names its input a state, never a plan.
    assert!(report.get("plan").is_none());
    assert_eq!(report["schema_version"], "1.1");
    assert_eq!(report["state"]["format_version"], "4");
    assert_eq!(report["state"]["terraform_version"], "1.9.5");
    // The current object and the deposed one of the group, the two rule instances, the two
    // ingress rules: the bucket is not read (its Terraform 0.11 attributes do not matter).
    assert_eq!(report["summary"]["resources_scanned"], 6);
}

/// Runs `portgate ARGS` and returns its one stderr line, asserting exit code 2.
fn error_line(args: &[&str]) -> String {
    let output = portgate(args);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(output.stdout.is_empty(), "stdout must be empty on error");
    assert_eq!(stderr.lines().count(), 1, "one line, got: {stderr}");
    stderr
}

#[test]
fn check_refuses_a_state_and_names_audit() {
    for state in [
        testdata("states/modules_and_keys.tfstate"),
        testdata("bad/show_json_of_state.json"),
    ] {
        let line = error_line(&["check", &state]);
        assert!(line.contains("portgate audit"), "{line}");
        assert!(line.contains(&state), "{line}");
    }
}

#[test]
fn audit_refuses_a_plan_and_names_check() {
    let plan = testdata("plans/example.json");
    let line = error_line(&["audit", &plan]);
    assert!(line.contains("portgate check"), "{line}");
    assert!(line.contains(&plan), "{line}");
}

/// Writes `text` to a file in a temporary directory and returns both.
fn written(name: &str, text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

#[test]
fn states_portgate_cannot_read_are_refused_with_what_to_do() {
    let state = std::fs::read_to_string(testdata("states/modules_and_keys.tfstate")).unwrap();
    // Terraform 0.11's flat attributes on a checked resource: never passed over.
    let flat = state.replacen(
        "\"attributes\": {\"id\": \"sgr-2\"",
        "\"attributes_flat\": {\"id\": \"sgr-2\"",
        1,
    );
    assert_ne!(flat, state);
    let (_dir, path) = written("flat.tfstate", &flat);
    let line = error_line(&["audit", &path]);
    for part in [
        "resources[2].instances[1].attributes_flat",
        "aws_vpc_security_group_ingress_rule.by_site[\"office\"]",
        "0.11",
        "terraform apply -refresh-only",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
    // An encrypted OpenTofu state.
    let (_dir, path) = written(
        "enc.tfstate",
        r#"{"serial": 3, "lineage": "l", "meta": {"key_provider.pbkdf2.k": "e30="}, "encrypted_data": "AAAA", "encryption_version": "v0"}"#,
    );
    let line = error_line(&["audit", &path]);
    assert!(line.contains("encrypted OpenTofu"), "{line}");
    assert!(line.contains("tofu show -json"), "{line}");
    // A state of Terraform 0.11.
    let (_dir, path) = written(
        "v3.tfstate",
        r#"{"version": 3, "terraform_version": "0.11.14", "serial": 1, "lineage": "l", "modules": []}"#,
    );
    let line = error_line(&["audit", &path]);
    assert!(line.contains("unsupported state version 3"), "{line}");
    // Neither form.
    let (_dir, path) = written("other.json", r#"{"resources": [], "lineage": "l"}"#);
    let line = error_line(&["audit", &path]);
    assert!(line.contains("not a Terraform state"), "{line}");
    // An instance without attributes, and a bad index key: where, and what was expected.
    let missing = state.replacen(
        "\"attributes\": {\"id\": \"sgr-2\"",
        "\"x\": {\"id\": \"sgr-2\"",
        1,
    );
    let (_dir, path) = written("missing.tfstate", &missing);
    let line = error_line(&["audit", &path]);
    assert!(line.contains("resources[2].instances[1]"), "{line}");
    assert!(line.contains("missing field `attributes`"), "{line}");
    let bad_key = state.replacen("\"index_key\": 1,", "\"index_key\": 1.5,", 1);
    let (_dir, path) = written("key.tfstate", &bad_key);
    let line = error_line(&["audit", &path]);
    assert!(
        line.contains("resources[1].instances[1].index_key"),
        "{line}"
    );
    assert!(line.contains(&format!("{path}:")), "{line}");
}

#[test]
fn an_empty_state_passes() {
    // What `terraform show -json` prints for a workspace without state.
    let (_dir, path) = written("empty.json", r#"{"format_version":"1.0"}"#);
    let output = portgate(&["audit", &path, "--no-source"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("0 security group resources checked in state"),
        "{stdout}"
    );
}

#[test]
fn only_changes_is_refused_for_a_state() {
    let line = error_line(&[
        "audit",
        &testdata("states/modules_and_keys.tfstate"),
        "--only-changes",
    ]);
    assert!(line.contains("a state has no changes"), "{line}");
}

/// Every format names the input a state where `check` would name a plan.
#[test]
fn every_format_says_state() {
    let state = testdata("states/modules_and_keys.tfstate");
    let run = |format: &str| {
        let output = portgate(&["audit", &state, "--no-source", "--format", format]);
        assert_eq!(output.status.code(), Some(1), "{format}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let text = run("text");
    assert!(
        text.contains("resource: aws_security_group_rule (tainted)"),
        "{text}"
    );
    assert!(text.contains("checked in state "), "{text}");
    let sarif: Value = serde_json::from_str(&run("sarif")).unwrap();
    let properties = &sarif["runs"][0]["properties"];
    assert!(properties.get("plan").is_none(), "{properties}");
    assert_eq!(properties["state"]["file"], state.as_str());
    let junit = run("junit");
    assert!(junit.contains("<property name=\"state\""), "{junit}");
    assert!(!junit.contains("<property name=\"plan\""), "{junit}");
    let markdown = run("markdown");
    assert!(markdown.contains("**State:**"), "{markdown}");
    assert!(!markdown.contains("**Plan:**"), "{markdown}");
    // Without trusted CIDRs or sources, each finding's suggestion shows the rule in the state.
    let with_trusted = |format: &str| {
        let output = portgate(&[
            "audit",
            &state,
            "--no-source",
            "--trusted-cidr",
            "10.1.0.0/16",
            "--format",
            format,
        ]);
        String::from_utf8(output.stdout).unwrap()
    };
    let markdown = with_trusted("markdown");
    assert!(
        markdown.contains("The rule in the state, before and after"),
        "{markdown}"
    );
    assert!(!markdown.contains("planned rule"), "{markdown}");
    let github = with_trusted("github");
    assert!(
        github.contains("Suggested change of the rule in the state"),
        "{github}"
    );
    assert!(!github.contains("planned rule"), "{github}");
}

/// `portgate ARGS` (in the repository root): stdout and stderr.
fn run_text(args: &[&str]) -> (String, String) {
    let output = portgate(args);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// A unified diff split into its files' patches.
fn file_patches(diff: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in diff.split_inclusive('\n') {
        if line.starts_with("--- a/") || out.is_empty() {
            out.push(String::new());
        }
        out.last_mut().unwrap().push_str(line);
    }
    out.retain(|p| !p.is_empty());
    out
}

/// Why an audit may leave out a patch `check` makes: the value comes from a root variable
/// (a state does not say where the workspace set it), or the state built from the plan's
/// planned values lacks what only apply knows (so does the rule, which is then PG003).
const UNPATCHED_BY_AUDIT: [&str; 3] = [
    "a root variable, and a state does not record where this workspace set it",
    "missing from the state",
    "shows no VPC CIDR of its security group",
];

/// Audits the state of `plan` (its planned values as a raw state) with `--source dir` and
/// compares the source patches with those `check` makes of the plan: every patch the audit
/// makes is one `check` makes, and each one it leaves out is said why. Returns whether the
/// two are the same and the audit's stderr.
fn compare_patches(plan_path: &Path, dir: &Path, args: &[String]) -> (bool, String) {
    let plan: Value = {
        let bytes = std::fs::read(plan_path).unwrap();
        serde_json::from_str(&portgate::plan::decode(&bytes).unwrap()).unwrap()
    };
    let scratch = tempfile::tempdir().unwrap();
    let state = scratch.path().join("state.tfstate");
    std::fs::write(&state, raw_state(&plan, false)).unwrap();
    let (plan_s, state_s, dir_s) = (
        plan_path.display().to_string(),
        state.display().to_string(),
        dir.display().to_string(),
    );
    let with = |command: &str, input: &str| {
        let mut all = vec![command, input, "--source", &dir_s, "--format", "diff"];
        all.extend(args.iter().map(String::as_str));
        run_text(&all)
    };
    let (checked, check_notes) = with("check", &plan_s);
    let (audited, notes) = with("audit", &state_s);
    let checked = file_patches(&checked);
    for patch in file_patches(&audited) {
        assert!(
            checked.contains(&patch),
            "{plan_s}: the audit patches what check does not:\n{patch}"
        );
    }
    let same = file_patches(&audited) == checked;
    if std::env::var_os("PORTGATE_TEST_VERBOSE").is_some() {
        println!(
            "{plan_s}: check {} file patches, audit {}",
            checked.len(),
            file_patches(&audited).len()
        );
    }
    if !same {
        assert!(
            notes
                .lines()
                .filter(|l| l.contains("no source patch for PG001")
                    || l.contains("no source patch for PG002"))
                .filter(|l| !check_notes.lines().any(|c| c == *l))
                .all(|l| UNPATCHED_BY_AUDIT.iter().any(|why| l.contains(why))),
            "{plan_s}: the audit leaves out patches without saying why:\n{notes}"
        );
    }
    (same, notes)
}

#[test]
fn audit_patches_the_sources_as_check_does_but_where_a_root_variable_sets_the_value() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut same = 0;
    let mut cases = 0;
    let mut by_variable = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(root.join("testdata/fix"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for case in entries {
        let toml: toml::Value =
            toml::from_str(&std::fs::read_to_string(case.join("case.toml")).unwrap()).unwrap();
        let args: Vec<String> = toml
            .get("args")
            .and_then(|a| a.as_array())
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        let (equal, notes) = compare_patches(&case.join("plan.json"), &case, &args);
        cases += 1;
        same += usize::from(equal);
        if notes.contains(UNPATCHED_BY_AUDIT[0]) {
            by_variable.push(case.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    println!("{same} of {cases} fix cases patched alike; by a root variable: {by_variable:?}");
    // Modules (found through their `module` blocks), for_each instances, override files,
    // dynamic blocks and splits are patched as from the plan.
    assert!(same >= 25, "only {same} of {cases} alike");
    for case in ["tfvars_value", "variable_default", "tfvars_json_wins"] {
        assert!(
            by_variable.iter().any(|c| c == case),
            "{case}: {by_variable:?}"
        );
    }
}

#[test]
fn audit_patches_of_real_sources_are_those_of_their_plans() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    let Ok(index) = std::fs::read(shared.join("real-sources/index.json")) else {
        eprintln!("notice: {} not found; skipping", shared.display());
        return;
    };
    let index: Value = serde_json::from_slice(&index).unwrap();
    let mut pairs: Vec<(PathBuf, PathBuf)> = index
        .as_object()
        .unwrap()
        .iter()
        .map(|(plan, entry)| {
            (
                shared.join(plan),
                shared.join(entry["sources_dir"].as_str().unwrap()),
            )
        })
        .collect();
    let real2: Value =
        serde_json::from_slice(&std::fs::read(shared.join("real2/sources.json")).unwrap()).unwrap();
    for entry in real2.as_array().unwrap() {
        if let (Some(plan), Some(dir)) = (entry["file"].as_str(), entry["sources_dir"].as_str()) {
            pairs.push((shared.join("real2").join(plan), shared.join(dir)));
        }
    }
    let (mut compared, mut same) = (0, 0);
    for (plan, dir) in &pairs {
        let args = ["--trusted-cidr".to_string(), "10.0.0.0/8".to_string()];
        let (equal, _) = compare_patches(plan, dir, &args);
        compared += 1;
        same += usize::from(equal);
    }
    println!("{same} of {compared} real plans with sources patched alike");
    assert!(compared >= 25, "{compared} real plans with sources");
    assert!(same >= compared / 2, "only {same} of {compared} alike");
}

/// A state's module resources are found through the sources' `module` blocks, and through
/// `.terraform/modules/modules.json` below a registry module: a rule declared in a local
/// module is patched there; one in a registry module is not (it is not the user's code), and
/// the suggestion says to change the module's inputs instead.
#[test]
fn a_states_modules_are_found_through_module_blocks_and_modules_json() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let group = r#"resource "aws_security_group" "this" {
  name = "files"

  ingress {
    from_port   = 445
    to_port     = 445
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"#;
    write(
        "main.tf",
        "module \"local\" {\n  source = \"./modules/sg\"\n}\n\nmodule \"registry\" {\n  source  = \"example/sg/aws\"\n  version = \"1.0.0\"\n}\n",
    );
    write("modules/sg/main.tf", group);
    // The registry module declares the group, and calls a module of its own.
    write(
        ".terraform/modules/registry/main.tf",
        &format!("{group}\nmodule \"inner\" {{\n  source = \"./inner\"\n}}\n"),
    );
    write(".terraform/modules/registry/inner/main.tf", group);
    write(
        ".terraform/modules/modules.json",
        r#"{"Modules":[{"Key":"","Source":"","Dir":"."},{"Key":"local","Source":"./modules/sg","Dir":"modules/sg"},{"Key":"registry","Source":"registry.terraform.io/example/sg/aws","Version":"1.0.0","Dir":".terraform/modules/registry"}]}"#,
    );
    let instance = |id: &str| {
        json!({"schema_version": 1, "attributes": {
            "id": id, "name": "files", "vpc_id": "vpc-1", "egress": [], "tags": {},
            "ingress": [{"from_port": 445, "to_port": 445, "protocol": "tcp",
                "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [], "prefix_list_ids": [],
                "security_groups": [], "self": false, "description": ""}]}})
    };
    let state = json!({"version": 4, "terraform_version": "1.9.5", "serial": 1, "lineage": "l",
        "outputs": {}, "resources": [
            {"module": "module.local", "mode": "managed", "type": "aws_security_group",
             "name": "this", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
             "instances": [instance("sg-1")]},
            {"module": "module.registry", "mode": "managed", "type": "aws_security_group",
             "name": "this", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
             "instances": [instance("sg-2")]},
            {"module": "module.registry.module.inner", "mode": "managed",
             "type": "aws_security_group", "name": "this",
             "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
             "instances": [instance("sg-3")]}]});
    std::fs::write(root.join("state.tfstate"), state.to_string()).unwrap();
    let output = Command::cargo_bin("portgate")
        .unwrap()
        .args([
            "audit",
            "state.tfstate",
            "--trusted-cidr",
            "10.0.0.0/8",
            "--format",
            "diff",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let diff = String::from_utf8(output.stdout).unwrap();
    let notes = String::from_utf8(output.stderr).unwrap();
    assert_eq!(diff.matches("+++ b/").count(), 1, "{diff}");
    assert!(diff.contains("+++ b/modules/sg/main.tf"), "{diff}");
    assert!(
        diff.contains("+    cidr_blocks = [\"10.0.0.0/8\"]"),
        "{diff}"
    );
    for address in [
        "module.registry.aws_security_group.this",
        // Found through modules.json: where `terraform init` put the registry module.
        "module.registry.module.inner.aws_security_group.this",
    ] {
        let line = notes
            .lines()
            .find(|l| l.contains(&format!("no source patch for PG002 {address} ")))
            .unwrap_or_else(|| panic!("{address}: {notes}"));
        assert!(
            line.contains("module.registry comes from \"example/sg/aws\", which is not a local path portgate can patch"),
            "{line}"
        );
    }
    // The patch applies.
    let applied = std::process::Command::new("git")
        .args(["apply", "--check", "-"])
        .current_dir(root)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(diff.as_bytes())?;
            child.wait()
        });
    if let Ok(status) = applied {
        assert!(status.success(), "git apply --check refused:\n{diff}");
    }
}

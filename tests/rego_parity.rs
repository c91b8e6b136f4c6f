//! Proves the Rego policies in `policies/rego/` equal the native engine.
//!
//! For every plan under `testdata/plans/`, `testdata/fix/*/plan.json` and the real corpus in
//! `../shared/testdata/real/` (skipped with a notice where absent), the conftest entry point
//! (`data.main.deny` / `data.main.warn`) and the library's `data.portgate.lib.findings` are
//! evaluated with regorus and their (address, rule id) pairs compared with what
//! `portgate::check` reports with default options (PG003 as a warning). PG004 is not covered
//! by the Rego policies and is left out of the native side. The HCP Terraform entry point
//! (`data.portgate.tfc`, plan at `input.plan`) is checked against the conftest one.
//!
//! The Rego unit tests (`policies/rego/**/*_test.rego`) run here too.

#[path = "common/random_groups.rs"]
mod random_groups;

#[path = "common/corpus.rs"]
mod corpus;

use std::collections::BTreeSet;
use std::path::PathBuf;

use portgate::policy::PolicySet;
use portgate::{CheckOptions, check};

type Pairs = BTreeSet<(String, String)>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An engine with every policy of `policies/rego` (tests included when asked).
fn engine(with_tests: bool) -> regorus::Engine {
    let mut files = Vec::new();
    corpus::files_with_extension(&root().join("policies/rego"), "rego", &mut files);
    let mut engine = regorus::Engine::new();
    for file in files {
        let is_test = file.to_string_lossy().ends_with("_test.rego");
        if is_test && !with_tests {
            continue;
        }
        engine
            .add_policy_from_file(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    engine
}

/// Every plan the parity test runs on: (name, bytes).
fn plans() -> Vec<(String, Vec<u8>)> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(root().join("testdata/plans")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            paths.push(path);
        }
    }
    for entry in std::fs::read_dir(root().join("testdata/fix")).unwrap() {
        let path = entry.unwrap().path().join("plan.json");
        if path.is_file() {
            paths.push(path);
        }
    }
    let real = root().join("../shared/testdata/real");
    if real.join("expected.json").is_file() {
        let expected: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&std::fs::read(real.join("expected.json")).unwrap()).unwrap();
        for file in expected.keys() {
            paths.push(real.join(file));
        }
    } else {
        eprintln!(
            "notice: {} not found; the real-plan corpus is not part of the Rego parity test",
            real.display()
        );
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), bytes)
        })
        .collect()
}

/// (address, rule id) of the native findings the Rego policies cover.
fn native_pairs(name: &str, bytes: &[u8]) -> Pairs {
    let report = check(
        bytes,
        name,
        &PolicySet::builtin().unwrap(),
        &CheckOptions::default(),
    )
    .unwrap_or_else(|e| panic!("portgate could not read {name}: {e}"));
    report
        .findings
        .iter()
        .map(|g| &g.finding)
        // PG004 (a CIDR that does not parse) is not implemented in Rego: see
        // policies/rego/README.md.
        .filter(|f| f.rule_id != "PG004")
        .map(|f| (f.address.clone(), f.rule_id.clone()))
        .collect()
}

/// The same pairs from the binary, run as `portgate check --no-source`: Rego has no Terraform
/// sources, so the CLI is compared without them (with sources it settles more unknowns).
fn cli_pairs(path: &str) -> Pairs {
    let out = assert_cmd::Command::cargo_bin("portgate")
        .unwrap()
        .args(["check", "--no-source", "--format", "json", path])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{path}: no JSON report ({e}): {out:?}"));
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] != "PG004")
        .map(|f| {
            (
                f["address"].as_str().unwrap().to_string(),
                f["rule_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn strings(value: &regorus::Value) -> BTreeSet<String> {
    let json: serde_json::Value = serde_json::from_str(&value.to_json_str().unwrap()).unwrap();
    match json {
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
        other => panic!("expected a set of strings, got {other}"),
    }
}

fn eval(engine: &mut regorus::Engine, rule: &str) -> regorus::Value {
    engine
        .eval_rule(rule.to_string())
        .unwrap_or_else(|e| panic!("{rule}: {e}"))
}

/// (address, rule id) of a value of `data.portgate.lib.findings`.
fn finding_pairs(value: &regorus::Value) -> Pairs {
    let json: serde_json::Value = serde_json::from_str(&value.to_json_str().unwrap()).unwrap();
    json.as_array()
        .expect("findings is a set")
        .iter()
        .map(|f| {
            (
                f["address"].as_str().unwrap().to_string(),
                f["rule_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The (address, rule id) a conftest message names: every message is `RULE ADDRESS: ...`,
/// matched against the candidate pairs (addresses may hold spaces and colons).
fn message_pairs(messages: &BTreeSet<String>, candidates: &Pairs, name: &str) -> Pairs {
    messages
        .iter()
        .map(|m| {
            candidates
                .iter()
                .filter(|(address, id)| m.starts_with(&format!("{id} {address}: ")))
                .max_by_key(|(address, _)| address.len())
                .cloned()
                .unwrap_or_else(|| panic!("{name}: message names no finding: {m}"))
        })
        .collect()
}

fn with_id(pairs: &Pairs, ids: &[&str]) -> Pairs {
    pairs
        .iter()
        .filter(|(_, id)| ids.contains(&id.as_str()))
        .cloned()
        .collect()
}

#[test]
fn rego_policies_agree_with_the_native_engine_on_every_plan() {
    let base = engine(false);
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, bytes) in plans() {
        let started = std::time::Instant::now();
        let text = portgate::plan::decode(&bytes)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .into_owned();
        let native = native_pairs(&name, &bytes);
        assert_eq!(cli_pairs(&name), native, "{name}: the CLI with --no-source");
        let mut engine = base.clone();
        engine.set_input(regorus::Value::from_json_str(&text).unwrap());
        // One query, so the library is evaluated once for all three.
        let results = engine
            .eval_query(
                "x := [data.portgate.lib.findings, data.main.deny, data.main.warn]".to_string(),
                false,
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let x = &results.result[0].bindings["x"];
        let rego = finding_pairs(&x[0]);
        let deny = strings(&x[1]);
        let warn = strings(&x[2]);
        let deny_pairs = message_pairs(&deny, &rego, &name);
        let warn_pairs = message_pairs(&warn, &rego, &name);
        checked += 1;
        if started.elapsed().as_millis() >= 700 {
            eprintln!("note: {name} took {:?}", started.elapsed());
        }
        if rego != native {
            failures.push(format!(
                "{name}: data.portgate.lib.findings differs\n  native: {native:?}\n  rego:   {rego:?}\n  only native: {:?}\n  only rego:   {:?}",
                native.difference(&rego).collect::<Vec<_>>(),
                rego.difference(&native).collect::<Vec<_>>(),
            ));
        }
        let native_deny = with_id(&native, &["PG001", "PG002"]);
        let native_warn = with_id(&native, &["PG003"]);
        if deny_pairs != native_deny {
            failures.push(format!(
                "{name}: data.main.deny differs\n  native: {native_deny:?}\n  rego:   {deny_pairs:?}"
            ));
        }
        if warn_pairs != native_warn {
            failures.push(format!(
                "{name}: data.main.warn differs\n  native: {native_warn:?}\n  rego:   {warn_pairs:?}"
            ));
        }
    }
    assert!(checked > 40, "only {checked} plans found");
    assert!(
        failures.is_empty(),
        "{} difference(s) between Rego and portgate check:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_hcp_terraform_entry_point_agrees_with_the_conftest_one() {
    let base = engine(false);
    let mut nonempty = 0;
    for file in [
        "example.json",
        "all_ports_both_families.json",
        "unknown_cidr.json",
        "modules_for_each.json",
        "vpc_ingress_rules.json",
    ] {
        let path = root().join("testdata/plans").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut conftest = base.clone();
        conftest.set_input(regorus::Value::from_json_str(&text).unwrap());
        let deny = strings(&eval(&mut conftest, "data.main.deny"));
        let warn = strings(&eval(&mut conftest, "data.main.warn"));

        let mut tfc = base.clone();
        let wrapped = format!(r#"{{"plan": {text}, "run": {{"id": "run-test"}}}}"#);
        tfc.set_input(regorus::Value::from_json_str(&wrapped).unwrap());
        assert_eq!(
            strings(&eval(&mut tfc, "data.portgate.tfc.deny")),
            deny,
            "{file}: deny"
        );
        assert_eq!(
            strings(&eval(&mut tfc, "data.portgate.tfc.warn")),
            warn,
            "{file}: warn"
        );
        nonempty += usize::from(!deny.is_empty()) + usize::from(!warn.is_empty());
    }
    assert!(nonempty >= 3, "the sample plans should have findings");
}

/// Runs every `test_` rule of `policies/rego/**/*_test.rego` and asserts it is true.
#[test]
fn rego_unit_tests_pass() {
    let mut files = Vec::new();
    corpus::files_with_extension(&root().join("policies/rego"), "rego", &mut files);
    let mut engine = engine(true);
    let mut ran = 0;
    let mut failures = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.to_string_lossy().ends_with("_test.rego"))
    {
        let text = std::fs::read_to_string(file).unwrap();
        let package = text
            .lines()
            .find_map(|l| l.strip_prefix("package "))
            .unwrap_or_else(|| panic!("{}: no package", file.display()))
            .trim();
        let tests: BTreeSet<&str> = text
            .lines()
            .filter(|l| l.starts_with("test_"))
            .filter_map(|l| l.split([' ', '(']).next())
            .collect();
        for test in tests {
            ran += 1;
            let rule = format!("data.{package}.{test}");
            match engine.eval_rule(rule.clone()) {
                Ok(v) if v == regorus::Value::from(true) => {}
                Ok(v) => failures.push(format!("{rule}: {v}")),
                Err(e) => failures.push(format!("{rule}: error {e}")),
            }
        }
    }
    assert!(ran >= 10, "only {ran} Rego tests found");
    assert!(
        failures.is_empty(),
        "{} Rego test(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 40, ..Default::default() })]

    /// The Rego group pass equals the native one on random groups (tests/group_properties.rs
    /// holds the native engine to a brute-force oracle on the same groups).
    #[test]
    fn rego_unions_groups_like_the_native_engine(
        rules in proptest::collection::vec(random_groups::rule(), 1..6)
    ) {
        let (plan, _) = random_groups::plan(&rules);
        let text = serde_json::to_string(&plan).unwrap();
        let native = native_pairs("random", text.as_bytes());
        let mut engine = engine(false);
        engine.set_input(regorus::Value::from_json_str(&text).unwrap());
        let rego = finding_pairs(&eval(&mut engine, "data.portgate.lib.findings"));
        proptest::prop_assert_eq!(rego, native, "{:#?}", rules);
    }
}

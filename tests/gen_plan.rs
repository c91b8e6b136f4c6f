//! The plan generator (`examples/gen_plan/`, `scripts/gen-plan`) checked against the library.
//!
//! The generator plants violations from templates and says which (address, rule id) pairs
//! portgate must report; these tests hold portgate to exactly that set on several seeds, sizes
//! and plan format versions, check that the plans are what the generator promises (valid JSON,
//! the requested resource counts, about 3 KB per resource, deterministic), and that every
//! violating root-module resource gets a source patch against the `.tf` files
//! `--source-dir` writes, which `git apply --check` accepts.

#[path = "../examples/gen_plan/main.rs"]
#[allow(dead_code)]
mod gen_plan;
#[path = "common/tree.rs"]
mod tree;

use std::collections::BTreeSet;

use gen_plan::{Expected, Options, Shape};
use portgate::config::TrustedCidr;
use portgate::fix::{FixKind, FixOptions};
use portgate::policy::{Finding, PolicySet};
use portgate::{CheckOptions, CheckReport};
use serde_json::Value;
use tree::Scratch;

fn options(resources: usize, security_groups: Option<usize>, seed: u64, format: &str) -> Options {
    Options {
        resources,
        security_groups,
        seed,
        format_version: format.to_string(),
        ..Options::default()
    }
}

fn generate(opts: &Options) -> (Vec<u8>, Expected) {
    let mut bytes = Vec::new();
    let expected = gen_plan::generate(opts, &mut bytes).expect("the generator writes a plan");
    (bytes, expected)
}

fn check(bytes: &[u8]) -> CheckReport {
    check_with(bytes, None)
}

fn check_with(bytes: &[u8], source_dir: Option<std::path::PathBuf>) -> CheckReport {
    let policies = PolicySet::builtin().expect("the built-in policies load");
    let options = CheckOptions {
        source_dir,
        ..CheckOptions::default()
    };
    portgate::check(bytes, "plan.json", &policies, &options)
        .expect("portgate reads the generated plan")
}

/// The PG003 pairs of the groups only sources can prove empty.
fn unproven_pairs<'a>(addresses: impl Iterator<Item = &'a String>) -> BTreeSet<(String, String)> {
    addresses
        .map(|a| (a.clone(), "PG003".to_string()))
        .collect()
}

fn reported(report: &CheckReport) -> BTreeSet<(String, String)> {
    report
        .findings
        .iter()
        .map(|f| (f.finding.address.clone(), f.finding.rule_id.clone()))
        .collect()
}

fn assert_exact(opts: &Options) {
    let (bytes, expected) = generate(opts);
    let report = check(&bytes);
    let got = reported(&report);
    let mut want = expected.pairs();
    want.extend(unproven_pairs(expected.unproven.iter()));
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{opts:?}: portgate missed {missing:?} and reported {extra:?} beyond the planted violations"
    );
    assert_eq!(
        want.len(),
        expected.finding_count() + expected.unproven.len()
    );
    assert!(!want.is_empty(), "{opts:?}: no violation was planted");
    let other: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| !expected.unproven.contains(&f.finding.address))
        .map(|f| f.finding.rule_id.as_str())
        .filter(|id| !matches!(*id, "PG001" | "PG002"))
        .collect();
    assert!(other.is_empty(), "{opts:?}: unexpected {other:?} findings");
    // The generator's rules also name a prefix list outside the plan: reported as not checked.
    assert!(
        report
            .warnings
            .iter()
            .all(|w| w.starts_with("prefix list ") && w.ends_with("its entries are not checked")),
        "{opts:?}: {:?}",
        report.warnings
    );
}

#[test]
fn portgate_reports_exactly_the_planted_violations() {
    for opts in [
        options(300, None, 1, "1.2"),
        options(300, Some(80), 2, "1.2"),
        options(300, Some(80), 3, "0.1"),
        options(300, Some(80), 4, "0.2"),
        options(300, Some(80), 5, "1.0"),
        options(300, Some(80), 6, "1.1"),
        options(2000, Some(200), 8, "1.2"),
        options(1000, Some(150), 9, "0.1"),
    ] {
        assert_exact(&opts);
    }
}

#[test]
fn every_shape_compact_or_pretty_gives_exactly_the_planted_violations() {
    for (shape, seed, format) in [
        (Shape::Dense, 11, "1.2"),
        (Shape::Dense, 12, "0.1"),
        (Shape::Rules, 13, "1.2"),
        (Shape::Rules, 14, "1.0"),
    ] {
        let compact = Options {
            shape,
            ..options(1500, None, seed, format)
        };
        assert_exact(&compact);
        let pretty = Options {
            pretty: true,
            ..compact.clone()
        };
        assert_exact(&pretty);
        let (compact_bytes, compact_expected) = generate(&compact);
        let (pretty_bytes, pretty_expected) = generate(&pretty);
        assert_eq!(compact_expected.violations, pretty_expected.violations);
        assert!(
            pretty_bytes.len() > compact_bytes.len() * 3 / 2,
            "{pretty:?}"
        );
        assert!(pretty_bytes.windows(5).any(|w| w == b"\n    "));
        let (a, b): (Value, Value) = (
            serde_json::from_slice(&compact_bytes).unwrap(),
            serde_json::from_slice(&pretty_bytes).unwrap(),
        );
        assert_eq!(a, b, "{pretty:?}: the same plan, indented");
        let sg_share = compact.security_group_count() * 100 / compact.resources;
        match shape {
            Shape::Dense => assert_eq!(sg_share, 21),
            Shape::Rules => assert_eq!(sg_share, 100),
            Shape::Sparse => unreachable!(),
        }
    }
}

#[test]
fn sources_prove_the_root_groups_without_inline_rules_and_only_those() {
    let (mut proven, mut unproven) = (0, 0);
    for opts in [
        options(300, Some(80), 2, "1.2"),
        options(2000, Some(200), 8, "1.2"),
    ] {
        let (bytes, expected) = generate(&opts);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("src");
        gen_plan::write_sources(&opts, &dir).expect("sources are written");
        let (root, in_modules): (Vec<&String>, Vec<&String>) = expected
            .unproven
            .iter()
            .partition(|a| !a.starts_with("module."));
        proven += root.len();
        unproven += in_modules.len();
        let report = check_with(&bytes, Some(dir));
        let mut want = expected.pairs();
        // Module sources are not written: nothing proves those groups empty.
        want.extend(unproven_pairs(in_modules.into_iter()));
        assert_eq!(reported(&report), want, "{opts:?}");
    }
    assert!(
        proven > 0 && unproven > 0,
        "{proven} proven, {unproven} not"
    );
}

#[test]
fn generated_plans_are_json_of_the_requested_shape_and_size() {
    let opts = options(2000, None, 21, "1.2");
    let (bytes, expected) = generate(&opts);
    assert_eq!(expected.bytes, bytes.len() as u64);
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
    let plan: Value = serde_json::from_slice(&bytes).expect("valid JSON");
    let keys: Vec<&str> = plan
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut in_order = vec![
        "format_version",
        "terraform_version",
        "variables",
        "planned_values",
        "resource_changes",
        "output_changes",
        "prior_state",
        "configuration",
        "relevant_attributes",
        "timestamp",
        "applyable",
        "complete",
        "errored",
    ];
    in_order.sort();
    assert_eq!(keys, in_order, "serde_json sorts keys: compare as sets");
    let text = String::from_utf8(bytes.clone()).unwrap();
    let positions: Vec<usize> = [
        "\"variables\":",
        "\"planned_values\":",
        "\"resource_changes\":",
        "\"output_changes\":",
        "\"prior_state\":",
        "\"configuration\":",
        "\"relevant_attributes\":",
        "\"timestamp\":",
    ]
    .iter()
    .map(|k| text.find(k).unwrap_or_else(|| panic!("{k} is missing")))
    .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "Terraform's key order"
    );

    let changes = plan["resource_changes"].as_array().unwrap();
    assert_eq!(changes.len(), opts.resources);
    assert_eq!(expected.resources, opts.resources);
    let sg_types = [
        "aws_security_group",
        "aws_default_security_group",
        "aws_security_group_rule",
        "aws_vpc_security_group_ingress_rule",
        "aws_vpc_security_group_egress_rule",
    ];
    let sg = changes
        .iter()
        .filter(|c| sg_types.contains(&c["type"].as_str().unwrap()))
        .count();
    assert_eq!(sg, opts.security_group_count());
    assert_eq!(sg, 20, "N/100, at least 10");
    let addresses: Vec<&str> = changes
        .iter()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert!(
        addresses.windows(2).all(|w| w[0] < w[1]),
        "sorted and unique"
    );
    for action in [
        r#"["create"]"#,
        r#"["update"]"#,
        r#"["no-op"]"#,
        r#"["delete"]"#,
        r#"["delete","create"]"#,
        r#"["create","delete"]"#,
    ] {
        assert!(
            changes
                .iter()
                .any(|c| c["change"]["actions"] == serde_json::from_str::<Value>(action).unwrap()),
            "no {action} change"
        );
    }
    assert!(changes.iter().any(|c| c["index"].is_string()), "for_each");
    assert!(changes.iter().any(|c| c["index"].is_u64()), "count");
    assert!(
        changes.iter().any(|c| c["module_address"]
            .as_str()
            .is_some_and(|m| m.matches("module.").count() >= 2)),
        "nested modules"
    );
    let per_resource = bytes.len() / opts.resources;
    assert!(
        (2000..=4500).contains(&per_resource),
        "{per_resource} bytes per resource"
    );
}

/// Every resource kind the generator describes appears in a plan big enough, and what its
/// description says is unknown until apply is an attribute its known instances have (a
/// misspelled name there would plan an attribute the provider does not have).
#[test]
fn every_described_kind_is_planned_with_the_attributes_it_declares_unknown() {
    use gen_plan::{resources, security_groups as sg};
    let mut known: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    let mut unknown: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    // A few seeds, so that every kind has instances created and instances that exist already.
    let plans: Vec<Value> = (29..32)
        .map(|seed| {
            let (bytes, _) = generate(&options(3000, Some(400), seed, "1.2"));
            serde_json::from_slice(&bytes).expect("valid JSON")
        })
        .collect();
    for change in plans
        .iter()
        .flat_map(|p| p["resource_changes"].as_array().unwrap())
    {
        let data = if change["mode"] == "data" {
            "data."
        } else {
            ""
        };
        let kind = format!("{data}{}", change["type"].as_str().unwrap());
        if let Some(before) = change["change"]["before"].as_object() {
            // An object that exists: every attribute known.
            known
                .entry(kind.clone())
                .or_default()
                .extend(before.keys().cloned());
        }
        let (after, after_unknown) = (
            &change["change"]["after"],
            &change["change"]["after_unknown"],
        );
        let (Some(after), Some(after_unknown)) = (after.as_object(), after_unknown.as_object())
        else {
            continue;
        };
        for (key, value) in after_unknown {
            if value == &Value::Bool(true) {
                assert!(
                    !after.contains_key(key),
                    "{kind}: {key} both known and unknown"
                );
                unknown.entry(kind.clone()).or_default().insert(key.clone());
            }
        }
    }
    let mut kinds: Vec<&gen_plan::kinds::Kind> =
        resources::FILLERS.iter().map(|(kind, _)| *kind).collect();
    kinds.extend([
        &resources::POLICY_DOCUMENT,
        &sg::GROUP,
        &sg::DEFAULT_GROUP,
        &sg::DATA_GROUP,
        &sg::INGRESS_RULE,
        &sg::EGRESS_RULE,
        &sg::VPC_INGRESS_RULE,
        &sg::VPC_EGRESS_RULE,
    ]);
    let mut checked = 0;
    for kind in kinds {
        let name = format!("{kind:?}");
        let declared = unknown.get(&name).cloned().unwrap_or_default();
        assert!(
            declared.is_superset(
                &kind
                    .unknown_on_create
                    .iter()
                    .map(|k| k.to_string())
                    .collect()
            ),
            "{name} is not planned, or not with the attributes it declares unknown: {declared:?}"
        );
        if kind.data {
            continue; // only ever read: no instance is known before apply
        }
        let have = known
            .get(&name)
            .unwrap_or_else(|| panic!("{name}: no instance that exists before the plan"));
        let missing: Vec<_> = declared.difference(have).collect();
        assert!(
            missing.is_empty(),
            "{name} declares unknown what it never has: {missing:?}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "{checked} kinds checked");
}

#[test]
fn the_same_options_give_the_same_bytes() {
    let opts = options(300, Some(40), 23, "1.2");
    let (bytes, expected) = generate(&opts);
    assert_eq!(generate(&opts), (bytes.clone(), expected));
    assert_ne!(generate(&options(300, Some(40), 24, "1.2")).0, bytes);
}

#[test]
fn the_expect_file_is_the_json_the_brief_describes() {
    let (_, expected) = generate(&options(300, Some(40), 31, "1.2"));
    let json: Value = serde_json::from_str(&expected.to_json()).expect("valid JSON");
    assert_eq!(json["resources"], 300);
    assert_eq!(json["security_groups"], 40);
    assert_eq!(json["finding_count"], expected.finding_count());
    let violations = json["violations"].as_object().unwrap();
    assert_eq!(violations.len(), expected.violations.len());
    for (address, ids) in violations {
        assert_eq!(ids, &serde_json::json!(expected.violations[address]));
    }
    assert_eq!(json["unproven"], serde_json::json!(expected.unproven));
}

fn assert_source_fixes(opts: &Options) {
    let scratch = Scratch::new();
    let dir = scratch.dir.clone();
    let (bytes, expected) = generate(opts);
    let summary = gen_plan::write_sources(opts, &dir).expect("sources are written");
    assert!(summary.files > 3 && summary.blocks > 10, "{summary:?}");
    assert!(
        expected.root_violations.len() >= 5,
        "{opts:?}: only {} root-module violations",
        expected.root_violations.len()
    );

    let report = check(&bytes);
    let findings: Vec<Finding> = report.findings.iter().map(|f| f.finding.clone()).collect();
    let fix_options = FixOptions {
        trusted: vec![
            TrustedCidr::parse("10.0.0.0/8").unwrap(),
            TrustedCidr::parse("2001:db8::/32").unwrap(),
        ],
        source_dir: Some(dir.clone()),
        use_vpc: false,
        max_source_bytes: None,
    };
    let policies = PolicySet::builtin().expect("the built-in policies load");
    let fixes = portgate::fix::suggest(&report.rules, &findings, &policies, &fix_options);
    let mut fixed = BTreeSet::new();
    for finding in findings.iter().filter(|f| f.rule_id != "PG003") {
        let fix = fixes
            .for_finding(finding)
            .unwrap_or_else(|| panic!("{}: no fix", finding.address));
        if expected.root_violations.contains(&finding.address) {
            assert_eq!(
                fix.kind,
                FixKind::Source,
                "{opts:?}: {} {}: {:?}",
                finding.address,
                finding.rule_id,
                fix.reason
            );
            fixed.insert(finding.address.clone());
        } else {
            // Module sources are not written: those findings get a rendered suggestion.
            assert_eq!(fix.kind, FixKind::Suggestion, "{}", finding.address);
        }
    }
    assert_eq!(fixed, expected.root_violations);

    for file in &fixes.files {
        let patched = file.patched();
        hcl_edit::parser::parse_body(&patched)
            .unwrap_or_else(|e| panic!("{} no longer parses: {e}\n{patched}", file.rel));
        assert!(!file.edits.is_empty());
    }
    let patch = fixes.combined_patch();
    assert!(!patch.is_empty());
    scratch.apply(&patch);
}

#[test]
fn root_module_violations_get_source_patches_that_git_applies() {
    assert_source_fixes(&options(600, Some(120), 41, "1.2"));
    assert_source_fixes(&options(600, Some(120), 42, "0.1"));
}

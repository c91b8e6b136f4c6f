//! Rules that cannot take part in a finding are set aside (`rules::Intake`: as the plan
//! streams when no policy can concern them, once it is read when their group's rules cannot
//! cover a family together): they are counted, not kept. These tests hold that to its two
//! promises:
//! - nothing a report shows changes: every plan of `testdata/`, every real plan of
//!   `../shared/testdata/real*/` and generated plans of every shape give byte-for-byte the
//!   same JSON and text reports (with the VPC CIDR suggestions a fix makes without a trusted
//!   CIDR) whether rules are set aside or all kept;
//! - what is kept is what matters: on a plan of rule resources, the resources kept are exactly
//!   those with a rule that may touch a guarded port in a group at risk, the rest only counted.

#[path = "../examples/gen_plan/main.rs"]
#[allow(dead_code)]
mod gen_plan;

#[path = "common/corpus.rs"]
mod corpus;

use std::path::Path;

use corpus::json_files;

use portgate::fix::FixOptions;
use portgate::policy::{Finding, PolicySet};
use portgate::{CheckOptions, CheckReport};

fn check(bytes: &[u8], list_every_rule: bool) -> Result<CheckReport, String> {
    let policies = PolicySet::builtin().expect("the built-in policies load");
    let options = CheckOptions {
        list_every_rule,
        ..CheckOptions::default()
    };
    portgate::check(bytes, "plan.json", &policies, &options).map_err(|e| e.to_string())
}

/// The JSON report with its fixes (VPC CIDRs suggested: no trusted CIDR, no sources): every
/// finding, message, warning, count and patch a report can show.
fn rendered(report: &CheckReport) -> String {
    let policies = PolicySet::builtin().expect("the built-in policies load");
    let findings: Vec<Finding> = report.findings.iter().map(|f| f.finding.clone()).collect();
    let fixes = portgate::fix::suggest(
        &report.rules,
        &findings,
        &policies,
        &FixOptions {
            trusted: Vec::new(),
            source_dir: None,
            use_vpc: true,
            max_source_bytes: None,
        },
    );
    let mut out = Vec::new();
    portgate::report::json::write(report, Some(&fixes), &mut out).expect("renders");
    String::from_utf8(out).expect("UTF-8")
}

/// Both ways of reading give the same report (or the same error); returns the two reports.
fn assert_same(name: &str, bytes: &[u8]) -> Option<(CheckReport, CheckReport)> {
    let (all, filtered) = (check(bytes, true), check(bytes, false));
    match (all, filtered) {
        (Ok(all), Ok(filtered)) => {
            assert_eq!(
                rendered(&all),
                rendered(&filtered),
                "{name}: the report changed when rules were set aside"
            );
            assert_eq!(
                all.rules.resources.len(),
                filtered.rules.resources.len() + filtered.rules.resources_set_aside,
                "{name}: every checked resource is kept or counted"
            );
            Some((all, filtered))
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "{name}: the error changed");
            None
        }
        (a, b) => panic!(
            "{name}: one way read it, the other did not: {:?} / {:?}",
            a.err(),
            b.err()
        ),
    }
}

#[test]
fn every_project_plan_reports_the_same_with_rules_set_aside() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files = Vec::new();
    json_files(&root, &mut files);
    assert!(files.len() >= 100, "only {} plans found", files.len());
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        assert_same(&file.display().to_string(), &bytes);
    }
}

#[test]
fn every_real_plan_reports_the_same_with_rules_set_aside() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    if !shared.is_dir() {
        eprintln!(
            "notice: {} is absent: the real plans are not checked",
            shared.display()
        );
        return;
    }
    let mut files = Vec::new();
    json_files(&shared.join("real"), &mut files);
    json_files(&shared.join("real2"), &mut files);
    assert!(files.len() >= 48, "only {} real plans found", files.len());
    let mut set_aside = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        if let Some((_, filtered)) = assert_same(&file.display().to_string(), &bytes) {
            set_aside += filtered.rules.resources_set_aside;
        }
    }
    assert!(set_aside > 0, "no real plan had a rule to set aside");
}

#[test]
fn generated_plans_of_every_shape_report_the_same_with_rules_set_aside() {
    for (shape, seed, pretty) in [
        (gen_plan::Shape::Sparse, 21, false),
        (gen_plan::Shape::Dense, 22, true),
        (gen_plan::Shape::Rules, 23, false),
        (gen_plan::Shape::Rules, 24, true),
    ] {
        for format in ["1.2", "0.1"] {
            let opts = gen_plan::Options {
                resources: 1200,
                seed,
                shape,
                pretty,
                format_version: format.to_string(),
                ..gen_plan::Options::default()
            };
            let mut bytes = Vec::new();
            gen_plan::generate(&opts, &mut bytes).unwrap();
            let (_, filtered) = assert_same(&format!("{opts:?}"), &bytes).expect("it reads");
            assert!(filtered.rules.resources_set_aside > 0, "{opts:?}");
        }
    }
}

/// What is kept grows with the rules that matter, not with the plan: on a plan of rule
/// resources (all values known, no prefix lists), the resources kept are exactly those with a
/// rule some policy may concern in a group whose rules that may concern one cover a family
/// together (where a finding of PG001/PG002 can be), the others only counted.
#[test]
fn only_resources_with_a_rule_that_can_take_part_in_a_finding_are_kept() {
    use portgate::rules::cidr::{self, Family};
    let policies = PolicySet::builtin().unwrap();
    let opts = gen_plan::Options {
        resources: 3000,
        seed: 5,
        shape: gen_plan::Shape::Rules,
        ..gen_plan::Options::default()
    };
    let mut bytes = Vec::new();
    gen_plan::generate(&opts, &mut bytes).unwrap();
    let (all, filtered) = assert_same("rules shape", &bytes).expect("it reads");
    let concerning = || {
        all.rules
            .rules
            .iter()
            .filter(|rule| policies.may_concern(rule))
    };
    let mut unions: std::collections::BTreeMap<&str, Vec<ipnet::IpNet>> = Default::default();
    for rule in concerning() {
        let group = rule.group.as_deref().expect("every group is known");
        let nets = rule.cidrs.iter().filter_map(|c| cidr::parse(c.text()?));
        unions.entry(group).or_default().extend(nets);
    }
    let at_risk = |group: &str| {
        Family::ALL
            .iter()
            .any(|family| cidr::covers_world(&unions[group], *family))
    };
    let expected: std::collections::BTreeSet<&str> = concerning()
        .filter(|rule| at_risk(rule.group.as_deref().unwrap()))
        .map(|rule| all.rules.resources[rule.resource].address.as_str())
        .collect();
    let kept: std::collections::BTreeSet<&str> = filtered
        .rules
        .resources
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(kept, expected);
    let with_findings: std::collections::BTreeSet<&str> = filtered
        .findings
        .iter()
        .map(|f| f.finding.address.as_str())
        .collect();
    assert!(!with_findings.is_empty() && with_findings.is_subset(&kept));
    assert_eq!(
        filtered.rules.resources_set_aside,
        all.rules.resources.len() - kept.len()
    );
    assert!(
        kept.len() < concerning().count() / 2,
        "{} kept of {} with a rule a policy may concern",
        kept.len(),
        concerning().count()
    );
}

/// The cases the set-aside must not take: a waiver tag (a stale waiver is still reported), a
/// prefix list outside the plan (its warning), a group whose id a kept rule names (the union
/// message names the group by address), the VPC a kept rule's fix suggests.
#[test]
fn what_a_report_still_needs_of_a_set_aside_resource_is_kept() {
    let plan = br#"{"format_version":"1.2","planned_values":{"root_module":{}},
      "resource_changes":[
        {"address":"aws_vpc.main","mode":"managed","type":"aws_vpc","name":"main",
         "change":{"actions":["create"],"after":{"id":"vpc-1","cidr_block":"10.9.0.0/16"},"after_unknown":{}}},
        {"address":"aws_security_group.web","mode":"managed","type":"aws_security_group","name":"web",
         "change":{"actions":["create"],"after":{"id":"sg-web","vpc_id":"vpc-1","ingress":[
           {"protocol":"tcp","from_port":443,"to_port":443,"cidr_blocks":["0.0.0.0/0"],"ipv6_cidr_blocks":[],"prefix_list_ids":[],"security_groups":[],"self":false}]},
         "after_unknown":{}}},
        {"address":"aws_security_group.tagged","mode":"managed","type":"aws_security_group","name":"tagged",
         "change":{"actions":["create"],"after":{"id":"sg-t","vpc_id":"vpc-1","tags":{"portgate:waive":"PG002: legacy, until 2099-01-01"},"ingress":[]},
         "after_unknown":{}}},
        {"address":"aws_security_group_rule.listed","mode":"managed","type":"aws_security_group_rule","name":"listed",
         "change":{"actions":["create"],"after":{"type":"ingress","protocol":"tcp","from_port":22,"to_port":22,"cidr_blocks":null,"prefix_list_ids":["pl-outside"],"security_group_id":"sg-web"},"after_unknown":{}}},
        {"address":"aws_security_group_rule.half1","mode":"managed","type":"aws_security_group_rule","name":"half1",
         "change":{"actions":["create"],"after":{"type":"ingress","protocol":"tcp","from_port":445,"to_port":445,"cidr_blocks":["0.0.0.0/1"],"security_group_id":"sg-web"},"after_unknown":{}}},
        {"address":"aws_security_group_rule.half2","mode":"managed","type":"aws_security_group_rule","name":"half2",
         "change":{"actions":["create"],"after":{"type":"ingress","protocol":"tcp","from_port":445,"to_port":445,"cidr_blocks":["128.0.0.0/1"],"security_group_id":"sg-web"},"after_unknown":{}}},
        {"address":"aws_security_group_rule.out","mode":"managed","type":"aws_security_group_rule","name":"out",
         "change":{"actions":["create"],"after":{"type":"egress","protocol":"-1","from_port":0,"to_port":0,"cidr_blocks":["0.0.0.0/0"],"security_group_id":"sg-web"},"after_unknown":{}}}
      ]}"#;
    let (all, filtered) = assert_same("hand-written", plan).expect("it reads");
    let kept: Vec<&str> = filtered
        .rules
        .resources
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(
        kept,
        [
            "aws_security_group.tagged",
            "aws_security_group_rule.listed",
            "aws_security_group_rule.half1",
            "aws_security_group_rule.half2",
        ]
    );
    // The web group and the egress rule are set aside: counted, not listed.
    assert_eq!(filtered.rules.resources_set_aside, 2);
    assert_eq!(all.resources_scanned, 6);
    assert_eq!(filtered.resources_scanned, 6);
    let union = &filtered.findings[0].finding;
    assert!(
        union.message.contains("(aws_security_group.web)"),
        "{}",
        union.message
    );
    assert!(
        filtered
            .rules
            .group_vpcs
            .contains_key("aws_security_group.web"),
        "{:?}",
        filtered.rules.group_vpcs
    );
    assert!(
        filtered.warnings.iter().any(|w| w.contains("pl-outside")),
        "{:?}",
        filtered.warnings
    );
    assert!(
        filtered
            .warnings
            .iter()
            .any(|w| w.starts_with("stale waiver")),
        "{:?}",
        filtered.warnings
    );
}

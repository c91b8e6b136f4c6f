//! The rules stage takes a resource's rules as soon as the plan reader has read it, when they
//! need nothing but the resource itself (`rules::Intake`), and the reader keeps only its place
//! in the order; the configuration keeps only the blocks of the resources left raw. These
//! tests hold that to its promises:
//! - the rule set is exactly what reading every resource raw gives (same resources and rules
//!   in the same order, module calls, tags, notes, groups and VPCs): on generated plans of
//!   every shape and format here, and on every plan of `testdata/` and `../shared/` in
//!   `tests/streaming.rs` and `tests/set_aside.rs`;
//! - what stays raw is what needs the rest of the plan, counted: on a plan of rules whose
//!   values are all known, no rule resource stays raw and the configuration keeps no block.

#[path = "../examples/gen_plan/main.rs"]
#[allow(dead_code)]
mod gen_plan;

use portgate::plan::{Keep, Plan, config::ConfigModule};
use portgate::policy::PolicySet;
use portgate::rules::{self, Intake, RuleSet};

fn keep(resource_type: &str) -> Keep {
    if rules::RESOURCE_TYPES.contains(&resource_type) {
        Keep::NotATarget
    } else if rules::PREFIX_LIST_TYPES.contains(&resource_type)
        || rules::VPC_TYPES.contains(&resource_type)
    {
        Keep::Yes
    } else {
        Keep::Skip
    }
}

/// The plan read through an intake (nothing set aside), and the rules extracted from it.
fn taken(bytes: &[u8]) -> (Plan, RuleSet) {
    let policies = PolicySet::builtin().unwrap();
    let concerns = |rule: &rules::IngressRule| policies.may_concern(rule);
    let mut intake = Intake::new(&concerns, false);
    let plan = Plan::read_filtered(bytes, "p.json", &keep, &mut intake).expect("it reads");
    let set = rules::extract_with(&plan, None, intake.finish()).expect("rules extract");
    (plan, set)
}

/// The rules of the plan with every resource read raw.
fn raw(bytes: &[u8]) -> RuleSet {
    let text = portgate::plan::decode(bytes).unwrap();
    let plan = Plan::read(text.as_bytes(), "p.json", &keep).expect("it reads");
    assert!(plan.taken.is_empty());
    rules::extract(&plan, None).expect("rules extract")
}

fn config_blocks(module: &ConfigModule) -> usize {
    module.resources.len()
        + module
            .module_calls
            .values()
            .filter_map(|call| call.module.as_ref())
            .map(config_blocks)
            .sum::<usize>()
}

fn generated(opts: &gen_plan::Options) -> Vec<u8> {
    let mut bytes = Vec::new();
    gen_plan::generate(opts, &mut bytes).unwrap();
    bytes
}

#[test]
fn taken_rules_are_the_rules_of_the_raw_resources() {
    for (shape, seed, pretty) in [
        (gen_plan::Shape::Sparse, 31, false),
        (gen_plan::Shape::Dense, 32, true),
        (gen_plan::Shape::Rules, 33, false),
    ] {
        for format in ["1.2", "0.1"] {
            let opts = gen_plan::Options {
                resources: 1500,
                seed,
                shape,
                pretty,
                format_version: format.to_string(),
                ..gen_plan::Options::default()
            };
            let bytes = generated(&opts);
            let (plan, set) = taken(&bytes);
            assert_eq!(set, raw(&bytes), "{opts:?}");
            assert!(
                plan.taken.len() > set.resources.len() / 2,
                "{opts:?}: only {} of {} resources taken",
                plan.taken.len(),
                set.resources.len()
            );
        }
    }
}

/// On a plan of rule resources with every value known (no prefix list, known group ids), every
/// rule resource is taken, and the configuration, which only raw resources consult, keeps no
/// block: memory holds their rules, not their JSON.
#[test]
fn only_what_needs_the_rest_of_the_plan_stays_raw() {
    let opts = gen_plan::Options {
        resources: 2000,
        seed: 7,
        shape: gen_plan::Shape::Rules,
        ..gen_plan::Options::default()
    };
    let bytes = generated(&opts);
    let text = String::from_utf8(bytes.clone()).unwrap();
    let (plan, set) = taken(&bytes);
    let raw_rules: Vec<&str> = plan
        .resources
        .iter()
        .filter(|r| rules::RESOURCE_TYPES.contains(&r.resource_type.as_str()))
        .map(|r| r.address.as_str())
        .collect();
    // What the generator writes that only the rest of the plan settles.
    for needs_plan in [
        r#""prefix_list_ids":[""#,
        r#""prefix_list_id":""#,
        r#""security_group_id":true"#,
        r#"cidr_blocks":true"#,
        r#"cidr_blocks":[true"#,
        r#""cidr_ipv4":true"#,
    ] {
        assert!(
            !text.contains(needs_plan),
            "the generator wrote {needs_plan}"
        );
    }
    assert_eq!(raw_rules, Vec::<&str>::new());
    assert_eq!(plan.taken.len(), set.resources.len());
    assert!(set.resources.len() >= 2000);
    let whole = Plan::read(bytes.as_slice(), "p.json", &keep).unwrap();
    let everything = whole.configuration.as_ref().map_or(0, config_blocks);
    let kept = plan.configuration.as_ref().map_or(0, config_blocks);
    assert!(
        everything > 0,
        "the generated plan has configuration blocks"
    );
    let raw_managed = plan.resources.iter().filter(|r| r.managed).count();
    assert!(
        kept <= raw_managed,
        "{kept} configuration blocks kept for {raw_managed} raw resources ({everything} in the plan)"
    );
}

/// Order, module addresses and twins: a `planned_values` resource taken before its module's
/// `address` is read, one superseded by its change record, one left raw (an unknown CIDR)
/// between taken ones, and a change record taken between raw ones.
#[test]
fn taken_resources_keep_their_place_and_module() {
    let rule = |name: &str, cidr: &str| {
        format!(
            r#"{{"address":"module.net.aws_security_group_rule.{name}","mode":"managed","type":"aws_security_group_rule","name":"{name}",
              "values":{{"type":"ingress","protocol":"tcp","from_port":445,"to_port":445,"cidr_blocks":[{cidr}],"ipv6_cidr_blocks":null,"prefix_list_ids":[],"security_group_id":"sg-1","source_security_group_id":null,"self":false}}}}"#
        )
    };
    let change = |name: &str, cidr: &str, unknown: &str| {
        format!(
            r#"{{"address":"module.net.aws_security_group_rule.{name}","module_address":"module.net","mode":"managed","type":"aws_security_group_rule","name":"{name}",
              "change":{{"actions":["create"],"after":{{"type":"ingress","protocol":"tcp","from_port":445,"to_port":445,"cidr_blocks":[{cidr}],"ipv6_cidr_blocks":null,"prefix_list_ids":[],"security_group_id":"sg-1","source_security_group_id":null,"self":false}},"after_unknown":{unknown}}}}}"#
        )
    };
    let plan = format!(
        r#"{{"format_version":"1.2","planned_values":{{"root_module":{{"child_modules":[{{"resources":[{},{},{}],"address":"module.net"}}]}}}},
        "resource_changes":[{},{},{}],
        "configuration":{{"root_module":{{"module_calls":{{"net":{{"source":"./net","module":{{"resources":[
          {{"address":"aws_security_group_rule.b","mode":"managed","type":"aws_security_group_rule","name":"b","expressions":{{"cidr_blocks":{{"references":["var.x"]}}}}}},
          {{"address":"aws_security_group_rule.d","mode":"managed","type":"aws_security_group_rule","name":"d","expressions":{{}}}},
          {{"address":"aws_security_group_rule.a","mode":"managed","type":"aws_security_group_rule","name":"a","expressions":{{}}}},
          {{"address":"aws_security_group_rule.c","mode":"managed","type":"aws_security_group_rule","name":"c","expressions":{{}}}},
          {{"address":"aws_security_group_rule.e","mode":"managed","type":"aws_security_group_rule","name":"e","expressions":{{}}}}]}}}}}}}}}}}}"#,
        rule("a", r#""0.0.0.0/0""#),
        rule("b", "null"),
        rule("c", r#""10.0.0.0/8""#),
        change("d", "null", r#"{"cidr_blocks":[true]}"#),
        change("c", r#""10.0.0.0/8""#, "{}"),
        change("e", r#""0.0.0.0/0""#, "{}"),
    );
    let (parsed, set) = taken(plan.as_bytes());
    assert_eq!(set, raw(plan.as_bytes()));
    let addresses: Vec<&str> = set.resources.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(
        addresses,
        [
            "module.net.aws_security_group_rule.d",
            "module.net.aws_security_group_rule.c",
            "module.net.aws_security_group_rule.e",
            "module.net.aws_security_group_rule.a",
            "module.net.aws_security_group_rule.b",
        ]
    );
    assert!(set.resources.iter().all(|r| {
        r.module_calls
            .as_ref()
            .is_some_and(|calls| calls.len() == 1 && calls[0].source.as_deref() == Some("./net"))
    }));
    // a, c (its change record), e taken; b (planned, unknown CIDR) and d stay raw, and only
    // their blocks stay in the configuration.
    assert_eq!(parsed.taken.len(), 3);
    assert_eq!(parsed.resources.len(), 2);
    assert_eq!(parsed.configuration.as_ref().map(config_blocks), Some(2));
}

/// Prefix lists are added to taken rules once the plan is read: a list defined after the rule,
/// a list outside the plan named by a taken rule before a raw one (the warning's order), an
/// inline block with a list and an `aws_vpc_security_group_ingress_rule` with one.
#[test]
fn taken_rules_get_their_prefix_lists_once_the_plan_is_read() {
    let change = |address: &str, kind: &str, after: &str, unknown: &str| {
        let name = address.rsplit('.').next().unwrap();
        format!(
            r#"{{"address":"{address}","mode":"managed","type":"{kind}","name":"{name}",
              "change":{{"actions":["create"],"after":{after},"after_unknown":{unknown}}}}}"#
        )
    };
    let rule = |list: &str, cidrs: &str| {
        format!(
            r#"{{"type":"ingress","protocol":"tcp","from_port":445,"to_port":445,"cidr_blocks":{cidrs},"ipv6_cidr_blocks":null,"self":false,"security_group_id":"sg-1","prefix_list_ids":["{list}"]}}"#
        )
    };
    let changes = [
        change(
            "aws_security_group_rule.outside_taken",
            "aws_security_group_rule",
            &rule("pl-outside", "null"),
            "{}",
        ),
        change(
            "aws_security_group_rule.outside_raw",
            "aws_security_group_rule",
            &rule("pl-outside", "[null]"),
            r#"{"cidr_blocks":[true]}"#,
        ),
        change(
            "aws_security_group_rule.later",
            "aws_security_group_rule",
            &rule("pl-later", "null"),
            "{}",
        ),
        change(
            "aws_security_group.inline",
            "aws_security_group",
            r#"{"id":"sg-2","vpc_id":"vpc-1","ingress":[{"protocol":"udp","from_port":137,"to_port":139,"cidr_blocks":[],"ipv6_cidr_blocks":[],"prefix_list_ids":["pl-later","pl-gone"],"security_groups":[],"self":false}]}"#,
            "{}",
        ),
        change(
            "aws_vpc_security_group_ingress_rule.scalar",
            "aws_vpc_security_group_ingress_rule",
            r#"{"ip_protocol":"tcp","from_port":445,"to_port":445,"cidr_ipv4":null,"cidr_ipv6":null,"prefix_list_id":"pl-later","referenced_security_group_id":null,"security_group_id":"sg-3"}"#,
            "{}",
        ),
        change(
            "aws_ec2_managed_prefix_list.later",
            "aws_ec2_managed_prefix_list",
            r#"{"id":"pl-later","address_family":"IPv4","entry":[{"cidr":"0.0.0.0/0","description":""}]}"#,
            "{}",
        ),
    ];
    let plan = format!(
        r#"{{"format_version":"1.2","planned_values":{{"root_module":{{}}}},"resource_changes":[{}]}}"#,
        changes.join(",")
    );
    let (parsed, set) = taken(plan.as_bytes());
    assert_eq!(set, raw(plan.as_bytes()));
    assert_eq!(parsed.taken.len(), 4, "every rule resource but the raw one");
    assert_eq!(
        set.unchecked_prefix_lists,
        [
            (
                "pl-outside".to_string(),
                "aws_security_group_rule.outside_taken".to_string()
            ),
            (
                "pl-outside".to_string(),
                "aws_security_group_rule.outside_raw".to_string()
            ),
            (
                "pl-gone".to_string(),
                "aws_security_group.inline".to_string()
            ),
        ]
    );
    let later = set
        .rules
        .iter()
        .filter(|r| r.cidrs.iter().any(|c| c.text() == Some("0.0.0.0/0")))
        .count();
    assert_eq!(
        later, 3,
        "the list defined last reaches the three rules naming it"
    );
}

/// What a held resource costs, counted (docs/performance.md quotes it): memory grows by this
/// much per rule resource (or group with its inline rules) that may touch a guarded port until
/// the plan is read.
#[test]
fn a_held_resource_costs_a_bounded_number_of_bytes() {
    let policies = PolicySet::builtin().unwrap();
    let concerns = |rule: &rules::IngressRule| policies.may_concern(rule);
    for (shape, per_resource) in [(gen_plan::Shape::Rules, 200), (gen_plan::Shape::Dense, 650)] {
        let opts = gen_plan::Options {
            resources: 4000,
            seed: 11,
            shape,
            ..gen_plan::Options::default()
        };
        let bytes = generated(&opts);
        let mut intake = Intake::new(&concerns, true);
        Plan::read_filtered(bytes.as_slice(), "p.json", &keep, &mut intake).expect("it reads");
        let (held, size) = intake.finish().held();
        eprintln!("{shape:?}: {held} resources held in {size} bytes");
        assert!(held > 200, "{shape:?}: {held} held");
        // The arena's last chunk (256 KiB) is not full: leave it out of the average.
        let average = size.saturating_sub(256 * 1024) / held;
        assert!(
            average <= per_resource,
            "{shape:?}: {average} bytes per held resource (at most {per_resource})"
        );
    }
}

/// A plan whose held rules pass their budget is read twice (`rules::spill`), counted: the first
/// read holds nothing past the budget, and the second holds only the resources of groups that
/// may be at risk and those that must be kept, a small part of what one read holds.
#[test]
fn a_plan_read_twice_holds_only_what_may_be_needed() {
    let policies = PolicySet::builtin().unwrap();
    let concerns = |rule: &rules::IngressRule| policies.may_concern(rule);
    let opts = gen_plan::Options {
        resources: 6000,
        seed: 12,
        shape: gen_plan::Shape::Rules,
        ..gen_plan::Options::default()
    };
    let bytes = generated(&opts);
    let read = |intake: &mut Intake<'_>| {
        Plan::read_optimistic(bytes.as_slice(), "p.json", &keep, intake)
            .expect("it reads")
            .expect("every planned resource has a change record")
    };

    let mut once = Intake::new(&concerns, true);
    let plan = read(&mut once);
    let once = once.finish();
    let (held_once, _) = once.held();
    let whole = rules::extract_with(&plan, None, once).expect("rules extract");

    let budget = 64 * 1024;
    let mut first = Intake::new(&concerns, true).spilling_above(budget);
    let plan = read(&mut first);
    let first = first.finish();
    assert!(
        first.spilled(),
        "{held_once} held resources fit in {budget} bytes"
    );
    assert_eq!(
        first.held(),
        (0, 0),
        "the first read keeps no record once spilled"
    );
    let narrowing = rules::narrowing(&plan, None, first).expect("the raw rules read");
    let mut second = Intake::narrowed(&concerns, narrowing);
    let plan = read(&mut second);
    let second = second.finish();
    assert!(!second.saw_another_plan());
    let (held_twice, _) = second.held();
    let narrowed = rules::extract_with(&plan, None, second).expect("rules extract");

    let findings = portgate::policy::evaluate(&whole, &policies);
    assert_eq!(portgate::policy::evaluate(&narrowed, &policies), findings);
    assert_eq!(
        whole.resources.len() + whole.resources_set_aside,
        narrowed.resources.len() + narrowed.resources_set_aside
    );
    let with_findings: std::collections::HashSet<&str> =
        findings.iter().map(|f| f.address.as_str()).collect();
    eprintln!(
        "held in one read: {held_once}; in the second of two: {held_twice}; resources with findings: {}",
        with_findings.len()
    );
    assert!(held_twice >= with_findings.len());
    assert!(
        held_twice * 4 < held_once,
        "{held_twice} of {held_once} held in the second read"
    );
}

/// A file replaced between the two reads is refused: what the second read holds was chosen
/// from the first.
#[test]
fn a_plan_that_changes_between_its_two_reads_is_refused() {
    let policies = PolicySet::builtin().unwrap();
    let plan = |seed| {
        generated(&gen_plan::Options {
            resources: 300,
            seed,
            shape: gen_plan::Shape::Rules,
            ..gen_plan::Options::default()
        })
    };
    let (first, second) = (plan(1), plan(2));
    let reopen = || -> std::io::Result<Box<dyn std::io::Read>> { Ok(Box::new(second.as_slice())) };
    let options = portgate::CheckOptions {
        hold_budget: 0,
        ..portgate::CheckOptions::default()
    };
    let error = portgate::check_input(
        first.as_slice(),
        Some(&reopen),
        "plan.json",
        &policies,
        &options,
    )
    .expect_err("two plans read as one");
    assert!(
        error.to_string().contains("changed between its two reads"),
        "{error}"
    );
    // The same plan twice is read.
    let reopen = || -> std::io::Result<Box<dyn std::io::Read>> { Ok(Box::new(first.as_slice())) };
    portgate::check_input(
        first.as_slice(),
        Some(&reopen),
        "plan.json",
        &policies,
        &options,
    )
    .expect("one plan read twice");
}

//! A rule set holding one inline ingress rule of one security group, for tests that call the
//! evaluator directly (tests/oracle.rs, tests/properties.rs). Included with `#[path]`, so the
//! run task helpers in `common/mod.rs` are not compiled into those tests.

use portgate::plan::Action;
use portgate::rules::{CheckedResource, CidrEntry, IngressRule, Known, RuleSet};

/// `aws_security_group.p` with one known ingress rule of `protocol` `from`-`to` from `cidrs`.
pub fn one_rule(
    protocol: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
    cidrs: Vec<CidrEntry>,
) -> RuleSet {
    RuleSet {
        resources: vec![CheckedResource {
            address: "aws_security_group.p".into(),
            resource_type: "aws_security_group".into(),
            name: "p".into(),
            action: Action::Create,
            deposed: None,
            json_path: "p".into(),
            module_calls: Some(vec![]),
            tags: Default::default(),
            plan_line: None,
        }],
        rules: vec![IngressRule {
            resource: 0,
            block: Some(0),
            json_path: "p".into(),
            protocol: Known::Known(protocol.map(str::to_string)),
            from_port: Known::Known(from),
            to_port: Known::Known(to),
            cidrs,
            other_sources: vec![],
            direction_known: true,
            unknown_attributes: vec![],
            note: None,
            group: None,
        }],
        unchecked_prefix_lists: Vec::new(),
        group_vpcs: Default::default(),
        root_variables: Default::default(),
        input: Default::default(),
        resources_set_aside: 0,
    }
}

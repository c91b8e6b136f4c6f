//! A rule whose tcp/udp range reaches guarded and other ports is split by its patch: the
//! guarded ports get the trusted CIDRs, every other port keeps its sources. Checked on random
//! ranges, inline blocks and rule resources, against a port-by-port walk of the built-in
//! policies.

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};
use portgate::config::TrustedCidr;
use portgate::fix::{FixKind, FixOptions, suggest};
use portgate::policy::{Finding, PolicySet};
use portgate::rules::protocol::{L4, Protocol};
use portgate::{CheckOptions, check};
use proptest::prelude::*;
use serde_json::{Value, json};

const GROUP_ID: &str = "sg-0123456789abcdef0";

#[derive(Debug, Clone)]
struct Case {
    protocol: &'static str,
    from: i64,
    to: i64,
    inline: bool,
    extra: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(vec!["tcp", "udp", "6", "17"]),
        0i64..=450,
        prop_oneof![0i64..=20, 0i64..=400, 0i64..=70000],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(protocol, from, width, inline, extra)| Case {
            protocol,
            from,
            to: (from + width).min(65535),
            inline,
            extra,
        })
}

fn cidrs(case: &Case) -> Vec<&'static str> {
    let mut list = vec!["0.0.0.0/0"];
    if case.extra {
        list.push("10.1.0.0/16");
    }
    list
}

fn main_tf(case: &Case) -> String {
    let list = serde_json::to_string(&cidrs(case)).unwrap();
    if case.inline {
        format!(
            "resource \"aws_security_group\" \"sg\" {{\n  name = \"sg\"\n\n  ingress {{\n    from_port   = {}\n    to_port     = {}\n    protocol    = \"{}\"\n    cidr_blocks = {list}\n  }}\n}}\n",
            case.from, case.to, case.protocol
        )
    } else {
        format!(
            "resource \"aws_security_group_rule\" \"rule\" {{\n  type              = \"ingress\"\n  from_port         = {}\n  to_port           = {}\n  protocol          = \"{}\"\n  cidr_blocks       = {list}\n  security_group_id = \"{GROUP_ID}\"\n}}\n",
            case.from, case.to, case.protocol
        )
    }
}

fn plan(case: &Case) -> Value {
    let list = cidrs(case);
    let (address, kind, name, after, expressions) = if case.inline {
        let block = json!({"cidr_blocks": list, "description": "", "from_port": case.from,
            "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": case.protocol,
            "security_groups": [], "self": false, "to_port": case.to});
        (
            "aws_security_group.sg",
            "aws_security_group",
            "sg",
            json!({"name": "sg", "ingress": [block]}),
            json!({"name": {"constant_value": "sg"}, "ingress": {"constant_value": [{
                "cidr_blocks": list, "from_port": case.from, "to_port": case.to,
                "protocol": case.protocol, "description": null}]}}),
        )
    } else {
        (
            "aws_security_group_rule.rule",
            "aws_security_group_rule",
            "rule",
            json!({"type": "ingress", "from_port": case.from, "to_port": case.to,
                "protocol": case.protocol, "cidr_blocks": list, "security_group_id": GROUP_ID}),
            json!({"type": {"constant_value": "ingress"}, "from_port": {"constant_value": case.from},
                "to_port": {"constant_value": case.to}, "protocol": {"constant_value": case.protocol},
                "cidr_blocks": {"constant_value": list},
                "security_group_id": {"constant_value": GROUP_ID}}),
        )
    };
    json!({
        "format_version": "1.2", "planned_values": {"root_module": {}},
        "resource_changes": [{"address": address, "mode": "managed", "type": kind, "name": name,
            "change": {"actions": ["create"], "after": after, "after_unknown": {"id": true}}}],
        "configuration": {"root_module": {"resources": [{"address": address, "mode": "managed",
            "type": kind, "name": name, "expressions": expressions}]}},
    })
}

/// The guarded runs of `from..=to`, port by port: (from, to, guarded).
fn expected_pieces(l4: L4, from: i64, to: i64, policies: &PolicySet) -> Vec<(i64, i64, bool)> {
    let guarded = |port: i64| {
        policies.policies.iter().flat_map(|p| &p.ports).any(|s| {
            s.protocol == l4 && i64::from(s.range.from) <= port && port <= i64::from(s.range.to)
        })
    };
    let mut pieces: Vec<(i64, i64, bool)> = Vec::new();
    for port in from..=to {
        let g = guarded(port);
        match pieces.last_mut() {
            Some(last) if last.2 == g => last.1 = port,
            _ => pieces.push((port, port, g)),
        }
    }
    pieces
}

fn number(body: &Body, key: &str) -> i64 {
    match &body.get_attribute(key).unwrap().value {
        Expression::Number(n) => n.value().as_i64().unwrap(),
        other => panic!("{key} is not a number: {other:?}"),
    }
}

fn strings(body: &Body, key: &str) -> Vec<String> {
    match &body.get_attribute(key).unwrap().value {
        Expression::Array(items) => items
            .iter()
            .map(|e| match e {
                Expression::String(s) => s.value().to_string(),
                other => panic!("not a string: {other:?}"),
            })
            .collect(),
        other => panic!("{key} is not a list: {other:?}"),
    }
}

/// (name, from, to, cidrs) of every rule piece in the patched file.
fn pieces_in(text: &str, inline: bool) -> Vec<(String, i64, i64, Vec<String>)> {
    let body = hcl_edit::parser::parse_body(text).expect("the patched file parses");
    let blocks: Vec<&Block> = if inline {
        body.blocks()
            .flat_map(|r| r.body.blocks().filter(|b| b.ident.as_str() == "ingress"))
            .collect()
    } else {
        body.blocks().collect()
    };
    blocks
        .into_iter()
        .map(|b| {
            let name = b
                .labels
                .get(1)
                .map(|l| l.as_str().to_string())
                .unwrap_or_default();
            (
                name,
                number(&b.body, "from_port"),
                number(&b.body, "to_port"),
                strings(&b.body, "cidr_blocks"),
            )
        })
        .collect()
}

fn check_split(case: &Case) -> Result<(), TestCaseError> {
    let policies = PolicySet::builtin().unwrap();
    let Protocol::Ported(l4) = Protocol::parse(case.protocol) else {
        unreachable!("the cases are tcp or udp")
    };
    let want = expected_pieces(l4, case.from, case.to, &policies);
    if !want.iter().any(|p| p.2) {
        return Ok(()); // no guarded port: no finding, nothing to patch
    }
    let dir = tempfile::tempdir().unwrap();
    let text = main_tf(case);
    std::fs::write(dir.path().join("main.tf"), &text).unwrap();
    let options = CheckOptions {
        source_dir: Some(dir.path().to_path_buf()),
        ..CheckOptions::default()
    };
    let plan = serde_json::to_vec(&plan(case)).unwrap();
    let report = check(&plan, "plan.json", &policies, &options).unwrap();
    let findings: Vec<Finding> = report.findings.iter().map(|g| g.finding.clone()).collect();
    prop_assert!(!findings.is_empty());
    let fixes = suggest(
        &report.rules,
        &findings,
        &policies,
        &FixOptions {
            trusted: vec![TrustedCidr::parse("10.0.0.0/8").unwrap()],
            source_dir: Some(dir.path().to_path_buf()),
            use_vpc: false,
            max_source_bytes: None,
        },
    );
    for finding in &findings {
        let fix = fixes.for_finding(finding);
        prop_assert!(fix.is_some_and(|f| f.kind == FixKind::Source), "{:?}", fix);
    }
    prop_assert_eq!(fixes.files.len(), 1);
    let patched = fixes.files[0].patched();
    let got = pieces_in(&patched, case.inline);
    let shown = format!("--- original\n{text}--- patched\n{patched}");
    let original: Vec<String> = cidrs(case).iter().map(ToString::to_string).collect();
    let mut patched_list = vec!["10.0.0.0/8".to_string()];
    patched_list.extend(original.iter().skip(1).cloned());
    prop_assert_eq!(got.len(), want.len(), "pieces\n{}", shown);
    for (i, ((name, from, to, list), (want_from, want_to, guarded))) in
        got.iter().zip(&want).enumerate()
    {
        prop_assert_eq!(
            (*from, *to),
            (*want_from, *want_to),
            "piece {}\n{}",
            i,
            shown
        );
        let want_list = if *guarded { &patched_list } else { &original };
        prop_assert_eq!(list, want_list, "piece {}\n{}", i, shown);
        if !case.inline {
            let want_name = if i == 0 {
                "rule".to_string()
            } else {
                format!("rule_{from}_{to}")
            };
            prop_assert_eq!(name, &want_name);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn wide_rules_are_split_so_only_the_guarded_ports_lose_the_world(case in case()) {
        check_split(&case)?;
    }
}

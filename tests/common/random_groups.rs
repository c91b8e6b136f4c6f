//! Random security groups for the group properties (tests/group_properties.rs) and the Rego
//! parity test: two groups with known ids, and rules of all three shapes on them (inline blocks,
//! `aws_security_group_rule`, `aws_vpc_security_group_ingress_rule`), with protocols written
//! every way AWS reads them, port ranges around the guarded ports and CIDRs that split the world
//! in pieces, in both families.
#![allow(dead_code)]

use proptest::prelude::*;
use serde_json::{Value, json};

/// Pieces of the world: halves, quarters, private and documentation ranges, in both families.
pub const CIDRS: [&str; 14] = [
    "0.0.0.0/0",
    "0.0.0.0/1",
    "128.0.0.0/1",
    "0.0.0.0/2",
    "64.0.0.0/2",
    "128.0.0.0/2",
    "192.0.0.0/2",
    "10.0.0.0/8",
    "::/0",
    "::/1",
    "8000::/1",
    "::/2",
    "4000::/2",
    "2001:db8::/32",
];

pub const PROTOCOLS: [&str; 9] = ["tcp", "udp", "-1", "all", "6", "17", "TCP", "icmp", "50"];

pub const PORTS: [(i64, i64); 8] = [
    (445, 445),
    (137, 139),
    (138, 138),
    (0, 65535),
    (400, 500),
    (139, 445),
    (22, 22),
    (446, 1000),
];

#[derive(Debug, Clone)]
pub enum Kind {
    Inline,
    SgRule,
    VpcRule,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub kind: Kind,
    pub group: usize,
    pub protocol: &'static str,
    pub ports: (i64, i64),
    pub cidrs: Vec<&'static str>,
}

pub fn rule() -> impl Strategy<Value = Rule> {
    (
        prop_oneof![Just(Kind::Inline), Just(Kind::SgRule), Just(Kind::VpcRule)],
        0..2usize,
        prop::sample::select(PROTOCOLS.to_vec()),
        // Mostly the guarded ports and world halves, so that covers split across rules are
        // common rather than rare.
        prop_oneof![
            3 => Just((445, 445)),
            2 => Just((137, 139)),
            3 => prop::sample::select(PORTS.to_vec()),
        ],
        prop::collection::vec(
            prop_oneof![
                2 => prop::sample::select(vec!["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"]),
                3 => prop::sample::select(CIDRS.to_vec()),
            ],
            1..4,
        ),
    )
        .prop_map(|(kind, group, protocol, ports, mut cidrs)| {
            if matches!(kind, Kind::VpcRule) {
                cidrs.truncate(1); // one source per resource
            }
            Rule {
                kind,
                group,
                protocol,
                ports,
                cidrs,
            }
        })
}

pub fn is_v6(cidr: &str) -> bool {
    cidr.contains(':')
}

/// The plan, and each rule's label as findings name it (`address` or `address ingress[i]`).
pub fn plan(rules: &[Rule]) -> (Value, Vec<String>) {
    let mut changes = Vec::new();
    let mut labels = vec![String::new(); rules.len()];
    for group in 0..2 {
        let mut blocks = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if r.group == group && matches!(r.kind, Kind::Inline) {
                labels[i] = format!("aws_security_group.g{group} ingress[{}]", blocks.len());
                let (v4, v6): (Vec<&str>, Vec<&str>) = r.cidrs.iter().partition(|c| !is_v6(c));
                blocks.push(json!({
                    "protocol": r.protocol, "from_port": r.ports.0, "to_port": r.ports.1,
                    "cidr_blocks": v4, "ipv6_cidr_blocks": v6, "prefix_list_ids": [],
                    "security_groups": [], "self": false, "description": "",
                }));
            }
        }
        changes.push(json!({
            "address": format!("aws_security_group.g{group}"), "mode": "managed",
            "type": "aws_security_group", "name": format!("g{group}"),
            "change": {"actions": ["create"], "after_unknown": {}, "after": {
                "id": format!("sg-000{group}"), "name": format!("g{group}"), "ingress": blocks,
            }},
        }));
    }
    for (i, r) in rules.iter().enumerate() {
        let group_id = format!("sg-000{}", r.group);
        let (resource_type, after) = match r.kind {
            Kind::Inline => continue,
            Kind::SgRule => {
                let (v4, v6): (Vec<&str>, Vec<&str>) = r.cidrs.iter().partition(|c| !is_v6(c));
                (
                    "aws_security_group_rule",
                    json!({
                        "security_group_id": group_id, "type": "ingress", "protocol": r.protocol,
                        "from_port": r.ports.0, "to_port": r.ports.1,
                        "cidr_blocks": v4, "ipv6_cidr_blocks": v6, "prefix_list_ids": null,
                    }),
                )
            }
            Kind::VpcRule => {
                let cidr = r.cidrs[0];
                (
                    "aws_vpc_security_group_ingress_rule",
                    json!({
                        "security_group_id": group_id, "ip_protocol": r.protocol,
                        "from_port": r.ports.0, "to_port": r.ports.1,
                        "cidr_ipv4": (!is_v6(cidr)).then_some(cidr),
                        "cidr_ipv6": is_v6(cidr).then_some(cidr),
                    }),
                )
            }
        };
        let name = format!("r{i}");
        labels[i] = format!("{resource_type}.{name}");
        changes.push(json!({
            "address": labels[i], "mode": "managed", "type": resource_type, "name": name,
            "change": {"actions": ["create"], "after_unknown": {}, "after": after},
        }));
    }
    let plan = json!({
        "format_version": "1.2",
        "planned_values": {"root_module": {}},
        "resource_changes": changes,
    });
    (plan, labels)
}

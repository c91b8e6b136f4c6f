//! Property test: the evaluator agrees with a brute-force oracle that reads the EC2 rules
//! literally, port by port and address block by address block.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use portgate::policy::{FindingKind, PolicySet, evaluate};
use portgate::rules::cidr::Family;
use portgate::rules::{CidrEntry, CidrValue};
use proptest::prelude::*;

#[path = "common/one_rule.rs"]
mod one_rule;
use one_rule::one_rule;

const PROTOCOLS: [&str; 10] = [
    "tcp", "TCP", "6", "udp", "17", "-1", "all", "icmp", "50", "Udp",
];
const PORTS: [Option<i64>; 12] = [
    None,
    Some(-1),
    Some(0),
    Some(136),
    Some(137),
    Some(138),
    Some(139),
    Some(140),
    Some(444),
    Some(445),
    Some(446),
    Some(65535),
];

/// Does the rule open `protocol`/`port`, read literally?
fn opens(
    rule_protocol: &str,
    from: Option<i64>,
    to: Option<i64>,
    protocol: &str,
    port: i64,
) -> bool {
    let p = rule_protocol.to_ascii_lowercase();
    if p == "-1" || p == "all" {
        return true;
    }
    let same = matches!(
        (p.as_str(), protocol),
        ("tcp" | "6", "tcp") | ("udp" | "17", "udp")
    );
    match (from, to) {
        (Some(f), Some(t)) => {
            same && (0..=65535).contains(&f)
                && (0..=65535).contains(&t)
                && f <= t
                && f <= port
                && port <= t
        }
        _ => false,
    }
}

/// Does a set of (network index, prefix) with prefixes ≤ 4 cover all sixteen /4 blocks?
fn covers(nets: &[(u8, u8)]) -> bool {
    (0u8..16).all(|block| {
        nets.iter().any(|&(index, prefix)| {
            prefix <= 4 && {
                let shift = 4 - prefix;
                (block >> shift) == (index >> shift)
            }
        })
    })
}

fn v4(index: u8, prefix: u8) -> String {
    format!("{}/{prefix}", Ipv4Addr::from(u32::from(index) << 28))
}

fn v6(index: u8, prefix: u8) -> String {
    format!("{}/{prefix}", Ipv6Addr::from(u128::from(index) << 124))
}

fn net_strategy() -> impl Strategy<Value = Vec<(u8, u8)>> {
    // Prefixes 0-4 and an occasional /8 that never covers a whole /4 block.
    proptest::collection::vec((0u8..16, prop_oneof![0u8..=4, Just(8u8)]), 0..6).prop_map(|nets| {
        nets.into_iter()
            .map(|(block, prefix)| {
                let keep = if prefix >= 4 { 4 } else { prefix };
                // Zero the bits below the prefix so the text is canonical.
                let index = if keep == 0 {
                    0
                } else {
                    block & (0xF << (4 - keep)) & 0xF
                };
                (index, prefix)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn evaluation_matches_the_brute_force_oracle(
        protocol in proptest::sample::select(PROTOCOLS.to_vec()),
        from in proptest::sample::select(PORTS.to_vec()),
        to in proptest::sample::select(PORTS.to_vec()),
        nets4 in net_strategy(),
        nets6 in net_strategy(),
    ) {
        let mut cidrs = Vec::new();
        for (i, &(index, prefix)) in nets4.iter().enumerate() {
            cidrs.push(CidrEntry { attribute: "cidr_blocks", index: Some(i), value: CidrValue::Literal(v4(index, prefix)) });
        }
        for (i, &(index, prefix)) in nets6.iter().enumerate() {
            cidrs.push(CidrEntry { attribute: "ipv6_cidr_blocks", index: Some(i), value: CidrValue::Literal(v6(index, prefix)) });
        }
        let set = one_rule(Some(protocol), from, to, cidrs);
        let policies = PolicySet::builtin().unwrap();
        let findings = evaluate(&set, &policies);
        prop_assert!(findings.iter().all(|f| f.kind == FindingKind::Exposed));

        let mut expected = BTreeSet::new();
        for policy in &policies.policies {
            let mut opened = BTreeSet::new();
            for spec in &policy.ports {
                for port in spec.range.from..=spec.range.to {
                    if opens(protocol, from, to, spec.protocol.as_str(), i64::from(port)) {
                        opened.insert(format!("{}/{port}", spec.protocol));
                    }
                }
            }
            if opened.is_empty() {
                continue;
            }
            for (family, world) in [(Family::Ipv4, covers(&nets4)), (Family::Ipv6, covers(&nets6))] {
                if world {
                    expected.insert((policy.meta.id.clone(), family, opened.clone()));
                }
            }
        }
        let got: BTreeSet<_> = findings
            .iter()
            .map(|f| {
                let mut opened = BTreeSet::new();
                for p in &f.ports {
                    let (proto, range) = p.split_once('/').unwrap();
                    let (a, b) = range.split_once('-').unwrap_or((range, range));
                    for port in a.parse::<u16>().unwrap()..=b.parse::<u16>().unwrap() {
                        opened.insert(format!("{proto}/{port}"));
                    }
                }
                (f.rule_id.clone(), f.family.unwrap(), opened)
            })
            .collect();
        prop_assert_eq!(got, expected);
    }
}

//! Property: port and protocol matching. For every protocol spelling and any
//! `from_port`/`to_port` (-1, 0, 65535, reversed, out of range, null), what portgate says a rule
//! opens equals a scan of all 65,536 ports of TCP and UDP against the policies in `policies/`.
//!
//! The oracles and the seed are shared (`tests/common/properties.rs`); `tests/oracle.rs` checks
//! the evaluator on a small fixed sample. Seeds are fixed (override with `PROPTEST_RNG_SEED`),
//! so a run is reproducible.

#[path = "common/properties.rs"]
mod properties;
use properties::*;

use std::collections::BTreeSet;

use portgate::policy::{FindingKind, PolicySet, evaluate};
use portgate::rules::cidr::Family;
use portgate::rules::protocol::{Exposure, L4, PortRange, Protocol};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;

// =============================================================================================
// 2. Port and protocol matching, all 65,536 ports
// =============================================================================================

/// Protocol values: names, numbers, spellings portgate accepts (any case, surrounding
/// whitespace) and values that are not TCP or UDP.
const PROTOCOL_TABLE: &[&str] = &[
    "tcp",
    "udp",
    "icmp",
    "icmpv6",
    "-1",
    "all",
    "6",
    "17",
    "1",
    "58",
    "0",
    "4",
    "41",
    "47",
    "50",
    "51",
    "132",
    "136",
    "255",
    "256",
    "-2",
    "esp",
    "ah",
    "gre",
    "sctp",
    "ipv6-icmp",
    "tcp6",
    "udp4",
    "TCP",
    "Udp",
    "ALL",
    "All",
    "ICMP",
    "IcmpV6",
    " tcp",
    "udp ",
    "\ttcp\n",
    " -1 ",
    " 6",
    "17 ",
    "",
    " ",
    "-",
    "--1",
    "+6",
    "6.0",
    "06",
    "017",
    "+17",
    "-01",
    "-0",
    "- 1",
    "0x6",
    "6e0",
];

fn protocol_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        6 => select(PROTOCOL_TABLE).prop_map(|p| Some(p.to_string())),
        3 => (
            select(&["tcp", "udp", "all", "icmp", "icmpv6"][..]),
            any::<u8>(),
            select(&["", " ", "\t"][..]),
            select(&["", " ", "\n"][..]),
        )
            .prop_map(|(name, mask, left, right)| {
                let spelled: String = name
                    .chars()
                    .enumerate()
                    .map(|(i, c)| if mask >> (i % 8) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                    .collect();
                Some(format!("{left}{spelled}{right}"))
            }),
        2 => (-5i64..=300).prop_map(|n| Some(n.to_string())),
    ]
}

fn port_value() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        1 => Just(None),
        3 => select(&[
            -1i64, 0, 1, 65534, 65535, 65536, 70000, -65535, i64::MIN, i64::MAX, 135, 136, 137,
            138, 139, 140, 443, 444, 445, 446,
        ][..]).prop_map(Some),
        3 => (0i64..=65535).prop_map(Some),
        3 => (100i64..=500).prop_map(Some),
        1 => any::<i64>().prop_map(Some),
    ]
}

/// A port pair: as drawn (reversed about half the time), or put in order.
fn port_pair() -> impl Strategy<Value = (Option<i64>, Option<i64>)> {
    prop_oneof![
        (port_value(), port_value()),
        (port_value(), port_value()).prop_map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
            other => other,
        }),
    ]
}

/// The four services the issue names: NetBIOS name and datagram (UDP 137, 138), session (TCP
/// 139) and SMB (TCP 445).
const SERVICES: [(L4, u32); 4] = [
    (L4::Tcp, 139),
    (L4::Tcp, 445),
    (L4::Udp, 137),
    (L4::Udp, 138),
];

fn l4_index(l4: L4) -> usize {
    match l4 {
        L4::Tcp => 0,
        L4::Udp => 1,
    }
}

/// For each policy of [`repo_policies`], the ports it guards, port by port: `[tcp, udp][port]`.
fn guarded_ports() -> &'static [[Vec<bool>; 2]] {
    static GUARDED: std::sync::OnceLock<Vec<[Vec<bool>; 2]>> = std::sync::OnceLock::new();
    GUARDED.get_or_init(|| {
        repo_policies()
            .policies
            .iter()
            .map(|policy| {
                L4::ALL.map(|l4| {
                    (0..=65535u16)
                        .map(|port| {
                            policy.ports.iter().any(|s| {
                                s.protocol == l4 && s.range.from <= port && port <= s.range.to
                            })
                        })
                        .collect()
                })
            })
            .collect()
    })
}

fn check_ports(
    protocol: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<(), TestCaseError> {
    let policies = repo_policies();
    let reach = oracle_protocol(protocol);
    // The oracle's answer for every port of both protocols.
    let open: Vec<Vec<bool>> = L4::ALL
        .iter()
        .map(|&l4| {
            (0..=65535u32)
                .map(|port| oracle_opens(reach, from, to, l4, port))
                .collect()
        })
        .collect();

    // Exposure, port by port and against each guarded range.
    if let Some(text) = protocol {
        let exposure = Exposure::of(&Protocol::parse(text), from, to);
        for l4 in L4::ALL {
            for port in 0..=65535u16 {
                let one = PortRange {
                    from: port,
                    to: port,
                };
                if exposure.overlap(l4, one).is_some() != open[l4_index(l4)][usize::from(port)] {
                    return Err(TestCaseError::fail(format!(
                        "{l4}/{port}: portgate says {:?}, the oracle {}",
                        exposure.overlap(l4, one),
                        open[l4_index(l4)][usize::from(port)]
                    )));
                }
            }
        }
        for policy in &policies.policies {
            for spec in &policy.ports {
                let hits: Vec<u16> = (0..=65535u16)
                    .filter(|&p| {
                        spec.range.from <= p
                            && p <= spec.range.to
                            && open[l4_index(spec.protocol)][usize::from(p)]
                    })
                    .collect();
                let expected = match (hits.first(), hits.last()) {
                    (Some(&a), Some(&b)) => {
                        prop_assert_eq!(hits.len(), usize::from(b - a) + 1, "one range");
                        Some(PortRange { from: a, to: b })
                    }
                    _ => None,
                };
                prop_assert_eq!(
                    exposure.overlap(spec.protocol, spec.range),
                    expected,
                    "{} {}",
                    policy.meta.id,
                    spec
                );
            }
        }
    }

    // The evaluator, with a world source of each family.
    let world = [
        Family::Ipv4.world().to_string(),
        Family::Ipv6.world().to_string(),
    ];
    let findings = evaluate(&one_rule_from_texts(protocol, from, to, &world), policies);
    prop_assert!(
        findings.iter().all(|f| f.kind == FindingKind::Exposed),
        "{:?}",
        findings
    );
    let mut expected = BTreeSet::new();
    for (policy, guarded) in policies.policies.iter().zip(guarded_ports()) {
        // Every port of both protocols: is it in the rule's range and in the policy's set?
        let mut opened = BTreeSet::new();
        for l4 in L4::ALL {
            for port in 0..=65535usize {
                if guarded[l4_index(l4)][port] && open[l4_index(l4)][port] {
                    opened.insert((l4.as_str().to_string(), port as u16));
                }
            }
        }
        if !opened.is_empty() {
            for family in Family::ALL {
                expected.insert((policy.meta.id.clone(), family, opened.clone()));
            }
        }
    }
    let got: BTreeSet<_> = findings
        .iter()
        .map(|f| (f.rule_id.clone(), f.family.unwrap(), expand_ports(&f.ports)))
        .collect();
    prop_assert_eq!(got.len(), findings.len(), "no duplicate findings");
    prop_assert_eq!(&got, &expected);

    // The four NetBIOS/SMB services, named.
    for (l4, port) in SERVICES {
        let reported = got
            .iter()
            .any(|(_, _, ports)| ports.contains(&(l4.as_str().to_string(), port as u16)));
        prop_assert_eq!(
            reported,
            open[l4_index(l4)][port as usize],
            "{}/{}",
            l4,
            port
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn ports_and_protocols_match_a_scan_of_every_port(
        protocol in protocol_value(),
        (from, to) in port_pair(),
    ) {
        check_ports(protocol.as_deref(), from, to)?;
    }
}

/// The policies in `policies/` are the ones built in, and every spelling of the table is tried
/// with a few port pairs that matter, so no row depends on the random draw.
#[test]
fn every_protocol_of_the_table_matches_the_scan() {
    let policies = repo_policies();
    let builtin = PolicySet::builtin().unwrap();
    let ports = |set: &PolicySet| -> Vec<(String, String)> {
        set.policies
            .iter()
            .flat_map(|p| p.ports.iter().map(|s| (p.meta.id.clone(), s.to_string())))
            .collect()
    };
    assert_eq!(ports(policies), ports(&builtin));
    for protocol in PROTOCOL_TABLE {
        for (from, to) in [
            (Some(0), Some(65535)),
            (Some(445), Some(137)),
            (Some(138), Some(445)),
        ] {
            check_ports(Some(protocol), from, to)
                .unwrap_or_else(|e| panic!("{protocol:?} {from:?}-{to:?}: {e}"));
        }
    }
}

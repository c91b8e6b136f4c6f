//! Property: a security group is judged as the union of its rules.
//!
//! Random groups get random mixes of inline blocks, `aws_security_group_rule` and
//! `aws_vpc_security_group_ingress_rule` resources (joined by the group's known id), with
//! protocols written every way AWS reads them, port ranges around the guarded ports and CIDRs
//! that split the world in pieces, in both families. A brute-force oracle, written apart from the
//! engine (addresses as integer intervals, every guarded port one by one), says which rules must
//! be reported: a rule whose own CIDRs cover a family on a guarded port it opens, and, on each
//! guarded port where no single rule covers the family but the group's rules together do, every
//! rule that opens that port to some CIDR of the family. `portgate::check` must report exactly
//! those (rule, policy, family) triples.

use std::collections::BTreeSet;

#[path = "common/random_groups.rs"]
mod random_groups;

use portgate::policy::PolicySet;
use portgate::{CheckOptions, check};
use proptest::prelude::*;

use random_groups::{Rule, is_v6, plan, rule};

// ---- the oracle ----------------------------------------------------------------------------

/// `[first, last]` addresses of a CIDR, as integers, and whether it is IPv6.
fn interval(cidr: &str) -> (bool, u128, u128) {
    let (addr, prefix) = cidr.split_once('/').unwrap();
    let prefix: u32 = prefix.parse().unwrap();
    let (v6, bits, value) = match addr.parse::<std::net::IpAddr>().unwrap() {
        std::net::IpAddr::V4(a) => (false, 32, u128::from(u32::from(a))),
        std::net::IpAddr::V6(a) => (true, 128, u128::from(a)),
    };
    let host = bits - prefix;
    let size_minus_one = if host == 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    };
    let first = value & !size_minus_one;
    (v6, first, first + size_minus_one)
}

/// Whether `cidrs` together cover every address of the family.
fn covers(cidrs: &[&str], v6: bool) -> bool {
    let mut spans: Vec<(u128, u128)> = cidrs
        .iter()
        .map(|c| interval(c))
        .filter(|(six, _, _)| *six == v6)
        .map(|(_, a, b)| (a, b))
        .collect();
    spans.sort();
    let last = if v6 { u128::MAX } else { u128::from(u32::MAX) };
    let mut next = 0u128; // the first address not yet covered
    for (a, b) in spans {
        if a > next {
            return false;
        }
        if b >= last {
            return true;
        }
        next = next.max(b + 1);
    }
    false
}

/// Whether a CIDR can hold internet addresses: not inside RFC 1918, RFC 6598, unique-local or
/// link-local space.
fn public(cidr: &str) -> bool {
    let (v6, a, b) = interval(cidr);
    ![
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    ]
    .iter()
    .map(|p| interval(p))
    .any(|(six, first, last)| six == v6 && first <= a && b <= last)
}

/// What the patch of a rule whose CIDRs cover the family alone replaces: its /0 entries, then
/// public entries largest first while the rest still covers; without a /0 entry, all of them.
fn given_up_alone<'c>(own: &[&'c str], v6: bool) -> Vec<&'c str> {
    let mut chosen: Vec<&str> = own.iter().copied().filter(|c| c.ends_with("/0")).collect();
    if chosen.is_empty() {
        return own.to_vec();
    }
    let mut rest: Vec<&str> = own
        .iter()
        .copied()
        .filter(|c| !c.ends_with("/0") && public(c))
        .collect();
    let prefix = |c: &str| c.split('/').nth(1).unwrap().parse::<u32>().unwrap();
    rest.sort_by_key(|c| prefix(c));
    for c in rest {
        let remaining: Vec<&str> = own
            .iter()
            .copied()
            .filter(|o| !chosen.contains(o))
            .collect();
        if !covers(&remaining, v6) {
            break;
        }
        chosen.push(c);
    }
    chosen
}

/// Whether a rule opens `l4` port `port`, read as AWS reads it.
fn opens(r: &Rule, l4: &str, port: i64) -> bool {
    match r.protocol.to_ascii_lowercase().as_str() {
        "-1" | "all" => true,
        "tcp" | "6" => l4 == "tcp" && r.ports.0 <= port && port <= r.ports.1,
        "udp" | "17" => l4 == "udp" && r.ports.0 <= port && port <= r.ports.1,
        _ => false,
    }
}

/// Every (rule label, policy id, family) the engine must report.
fn oracle(
    rules: &[Rule],
    labels: &[String],
    policies: &PolicySet,
) -> BTreeSet<(String, String, String)> {
    let mut expected = BTreeSet::new();
    for policy in &policies.policies {
        let guarded: Vec<(&str, i64)> = policy
            .ports
            .iter()
            .flat_map(|spec| {
                (i64::from(spec.range.from)..=i64::from(spec.range.to))
                    .map(move |port| (spec.protocol.as_str(), port))
            })
            .collect();
        for v6 in [false, true] {
            let family = if v6 { "ipv6" } else { "ipv4" };
            let family_of = |r: &Rule| -> Vec<&str> {
                r.cidrs.iter().copied().filter(|c| is_v6(c) == v6).collect()
            };
            for &(l4, port) in &guarded {
                for group in 0..2 {
                    let here: Vec<usize> = (0..rules.len())
                        .filter(|&i| rules[i].group == group && opens(&rules[i], l4, port))
                        .filter(|&i| !family_of(&rules[i]).is_empty())
                        .collect();
                    let alone: Vec<usize> = here
                        .iter()
                        .copied()
                        .filter(|&i| covers(&family_of(&rules[i]), v6))
                        .collect();
                    // What the rules that cover alone give up in their own patches: their /0
                    // entries, or else all their entries of the family. When the rest of the
                    // rules opening the port still cover the family, every one of them takes
                    // part in the group's cover.
                    let rest: Vec<&str> = here
                        .iter()
                        .flat_map(|&i| {
                            let own = family_of(&rules[i]);
                            let given_up = if alone.contains(&i) {
                                given_up_alone(&own, v6)
                            } else {
                                Vec::new()
                            };
                            own.into_iter().filter(move |c| !given_up.contains(c))
                        })
                        .collect();
                    let mut reported = alone;
                    if here.len() > 1 && covers(&rest, v6) {
                        reported.extend(here);
                    }
                    for i in reported {
                        expected.insert((
                            labels[i].clone(),
                            policy.meta.id.clone(),
                            family.to_string(),
                        ));
                    }
                }
            }
        }
    }
    expected
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn a_group_is_judged_as_the_union_of_its_rules(rules in prop::collection::vec(rule(), 1..7)) {
        let policies = PolicySet::builtin().unwrap();
        let (plan, labels) = plan(&rules);
        let bytes = serde_json::to_vec(&plan).unwrap();
        let report = check(&bytes, "p.json", &policies, &CheckOptions::default()).unwrap();
        let actual: BTreeSet<(String, String, String)> = report
            .findings
            .iter()
            .map(|g| &g.finding)
            .filter(|f| f.rule_id == "PG001" || f.rule_id == "PG002")
            .map(|f| {
                let label = match &f.block {
                    Some(block) => format!("{} {block}", f.address),
                    None => f.address.clone(),
                };
                let family = serde_json::to_value(f.family).unwrap();
                (label, f.rule_id.clone(), family.as_str().unwrap_or("-").to_string())
            })
            .collect();
        let expected = oracle(&rules, &labels, &policies);
        prop_assert_eq!(actual, expected, "{:#?}", rules);
        // Every rule has a known group here, so no PG003 is made up.
        prop_assert!(report.findings.iter().all(|g| g.finding.rule_id != "PG003"));

        // What the patches do: each finding's CIDRs are replaced by the trusted network of their
        // family. Afterwards no group covers a family on a guarded port any more.
        let mut patched = rules.clone();
        for f in report.findings.iter().map(|g| &g.finding) {
            let label = match &f.block {
                Some(block) => format!("{} {block}", f.address),
                None => f.address.clone(),
            };
            let i = labels.iter().position(|l| *l == label).unwrap();
            for text in &f.cidrs {
                let trusted = if is_v6(text) { "2001:db8::/32" } else { "10.0.0.0/8" };
                for cidr in patched[i].cidrs.iter_mut().filter(|c| *c == text) {
                    *cidr = trusted;
                }
            }
        }
        let (patched_plan, _) = random_groups::plan(&patched);
        let bytes = serde_json::to_vec(&patched_plan).unwrap();
        let after = check(&bytes, "p.json", &policies, &CheckOptions::default()).unwrap();
        let left: Vec<&str> = after.findings.iter().map(|g| g.finding.message.as_str()).collect();
        prop_assert!(left.is_empty(), "still open after the patches: {:#?}\n{:#?}", left, patched);
    }
}

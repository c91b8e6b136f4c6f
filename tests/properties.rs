//! Property tests (issue 8). Each property checks portgate against a brute-force oracle written
//! here from the rules as AWS and Terraform state them, never from portgate's own code:
//!
//! 1. CIDR world cover: random IPv4 and IPv6 CIDR sets (splits of the whole space at every
//!    prefix length, damaged or not, plus random extras, host bits, odd spellings) are the
//!    world for [`cidr::covers_world`] and for the evaluator exactly when the union of their
//!    address intervals (u32 / u128, sorted and merged) is `[0, MAX]`.
//! 2. Port and protocol matching: for every protocol spelling and any `from_port`/`to_port`
//!    (-1, 0, 65535, reversed, out of range, null), what portgate says a rule opens equals a scan
//!    of all 65,536 ports of TCP and UDP against the policies in `policies/`.
//! 3. Patching: generated `.tf` files (inline `ingress` blocks and `aws_security_group_rule`,
//!    CIDR lists mixing the world with other CIDRs, `#`, `//` and `/* */` comments anywhere,
//!    odd spacing, tabs, CRLF) with a matching plan: the patched file parses, every list holds
//!    exactly what the swap rule says, no comment is lost, and nothing outside the CIDR lists of
//!    the offending blocks changes.
//! 4. Plan round trips: one plan model written as every `format_version` shape Terraform and
//!    OpenTofu emit, pretty or compact, escaped or not, in UTF-8 (with or without BOM) and
//!    UTF-16 (LE/BE, with or without BOM), gives the same findings, and those are the findings
//!    an oracle computes from the model.
//!
//! `tests/oracle.rs` checks the evaluator on a small fixed sample (prefixes up to /4, twelve
//! ports); these properties widen every axis and add the fixer and the plan reader. Seeds are
//! fixed (override with `PROPTEST_RNG_SEED`), so a run is reproducible.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use portgate::config::TrustedCidr;
use portgate::fix::{FixKind, FixOptions, suggest};
use portgate::policy::{Finding, FindingKind, PolicySet, evaluate};
use portgate::rules::cidr::{self, Family};
use portgate::rules::protocol::{Exposure, L4, PortRange, Protocol};
use portgate::rules::{CidrEntry, CidrValue, RuleSet};
use portgate::{CheckOptions, check};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngSeed, TestCaseError, TestRunner};

#[path = "common/one_rule.rs"]
mod one_rule;
use one_rule::one_rule;

/// The seed of every property, unless `PROPTEST_RNG_SEED` says otherwise.
const SEED: u64 = 0x5eed_0008;

/// `cases` cases from a fixed seed; `PROPTEST_CASES` and `PROPTEST_RNG_SEED` override both
/// (`PROPTEST_CASES=20000 PROPTEST_RNG_SEED=7 cargo test --release --test properties`).
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if matches!(config.rng_seed, RngSeed::Random) {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    config
}

/// The policies of `policies/` (the files, not the copies compiled into the binary).
fn repo_policies() -> &'static PolicySet {
    static POLICIES: std::sync::OnceLock<PolicySet> = std::sync::OnceLock::new();
    POLICIES.get_or_init(|| {
        let mut set = PolicySet::default();
        set.load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"))
            .expect("policies/*.toml load");
        set
    })
}

// ---- oracle: CIDRs as address intervals ----------------------------------------------------

fn bits(family: Family) -> u32 {
    match family {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    }
}

/// The lowest `n` bits set.
fn ones(n: u32) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

/// The block of a CIDR text: family, first and last address, prefix length. Read with the
/// standard library's address parsers and explicit masks, as AWS reads a CIDR: the prefix
/// keeps the network bits and host bits are dropped. Surrounding whitespace is forgiven
/// (portgate does; nothing stricter is claimed here). `None` when it is not a CIDR.
fn block_of(text: &str) -> Option<(Family, u128, u128, u32)> {
    let (address, prefix) = text.trim().split_once('/')?;
    if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix: u32 = prefix.parse().ok()?;
    let (family, value) = match address.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => (Family::Ipv4, u128::from(u32::from(a))),
        IpAddr::V6(a) => (Family::Ipv6, u128::from(a)),
    };
    let width = bits(family);
    if prefix > width {
        return None;
    }
    let host = ones(width - prefix);
    let first = value & !host;
    Some((family, first, first | host, prefix))
}

/// True when the union of the blocks of `family` among `texts` is the whole address space:
/// the blocks sorted by first address must leave no gap from 0 to the last address.
fn oracle_covers_world(texts: &[String], family: Family) -> bool {
    let mut blocks: Vec<(u128, u128)> = texts
        .iter()
        .filter_map(|t| block_of(t))
        .filter(|b| b.0 == family)
        .map(|b| (b.1, b.2))
        .collect();
    blocks.sort_unstable();
    let last = ones(bits(family));
    let mut next = 0u128; // the first address not covered yet
    for (first, end) in blocks {
        if first > next {
            return false;
        }
        if end == last {
            return true;
        }
        next = next.max(end + 1);
    }
    false
}

// ---- oracle: protocols and ports -----------------------------------------------------------

/// What a protocol value lets through, as the AWS provider hands it to EC2 and EC2 reads it.
/// The provider (`protocolForValue`, used for inline rules, `aws_security_group_rule` and
/// `aws_vpc_security_group_ingress_rule` alike) lower-cases the value; `-1` and `all` are every
/// protocol and port; a name is kept; anything else is read with Go's `strconv.Atoi` (optional
/// sign, decimal digits, leading zeros allowed) and mapped back to a name, so `06` and `+6` are
/// TCP and `-01` is every protocol. EC2 then opens TCP or UDP on from..to, and no TCP or UDP
/// port for any other protocol (ICMP, ICMPv6, ESP, any other number or name). portgate also
/// forgives surrounding whitespace. A missing protocol opens nothing (AWS requires one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Every,
    Only(L4),
    NoPorts,
}

/// Go's `strconv.Atoi`: an optional sign and at least one decimal digit, nothing else.
fn go_atoi(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'+') => (false, &text[1..]),
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = digits.parse().ok()?;
    Some(if negative { -value } else { value })
}

fn oracle_protocol(text: Option<&str>) -> Reach {
    let Some(text) = text else {
        return Reach::NoPorts;
    };
    let word = text.trim().to_lowercase();
    match (word.as_str(), go_atoi(&word)) {
        ("-1" | "all", _) | (_, Some(-1)) => Reach::Every,
        ("tcp", _) | (_, Some(6)) => Reach::Only(L4::Tcp),
        ("udp", _) | (_, Some(17)) => Reach::Only(L4::Udp),
        _ => Reach::NoPorts,
    }
}

/// Does the rule let `l4`/`port` in? TCP and UDP need both bounds, within 0-65535, read
/// literally (a reversed range is rejected by AWS and opens nothing).
fn oracle_opens(reach: Reach, from: Option<i64>, to: Option<i64>, l4: L4, port: u32) -> bool {
    match reach {
        Reach::Every => true,
        Reach::NoPorts => false,
        Reach::Only(own) => {
            let (Some(from), Some(to)) = (from, to) else {
                return false;
            };
            let port = i64::from(port);
            own == l4 && from >= 0 && to <= 65535 && from <= port && port <= to
        }
    }
}

/// `["tcp/137-139", "udp/445"]` as single ports.
fn expand_ports(ports: &[String]) -> BTreeSet<(String, u16)> {
    let mut out = BTreeSet::new();
    for p in ports {
        let (proto, range) = p.split_once('/').expect("PROTO/RANGE");
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        for port in a.parse::<u16>().unwrap()..=b.parse::<u16>().unwrap() {
            out.insert((proto.to_string(), port));
        }
    }
    out
}

// ---- a rule set of one rule, for the evaluator ---------------------------------------------

/// [`one_rule`] from CIDR texts, each in the attribute of its family.
fn one_rule_from_texts(
    protocol: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
    cidrs: &[String],
) -> RuleSet {
    let mut v4 = 0;
    let mut v6 = 0;
    let cidrs = cidrs
        .iter()
        .map(|text| {
            let ipv6 = block_of(text).is_some_and(|b| b.0 == Family::Ipv6);
            let (attribute, counter) = if ipv6 {
                ("ipv6_cidr_blocks", &mut v6)
            } else {
                ("cidr_blocks", &mut v4)
            };
            *counter += 1;
            CidrEntry {
                attribute,
                index: Some(*counter - 1),
                value: CidrValue::Literal(text.clone()),
            }
        })
        .collect();
    one_rule(protocol, from, to, cidrs)
}

// =============================================================================================
// 1. CIDR world cover
// =============================================================================================

/// The address of `value` in `family`, written in one of several spellings AWS and the
/// standard parser accept: canonical, upper-case hex, or all eight IPv6 groups in full.
fn render_address(family: Family, value: u128, style: u8) -> String {
    match family {
        Family::Ipv4 => Ipv4Addr::from(value as u32).to_string(),
        Family::Ipv6 => {
            let address = Ipv6Addr::from(value);
            match style % 3 {
                0 => address.to_string(),
                1 => address.to_string().to_uppercase(),
                _ => address
                    .segments()
                    .iter()
                    .map(|s| format!("{s:04x}"))
                    .collect::<Vec<_>>()
                    .join(":"),
            }
        }
    }
}

/// Splits the block `(first, prefix)` into the blocks met on the way down to the `depth`-long
/// block that holds `path`: one sibling per level, then that block. Their union is the block.
fn chain_split(width: u32, first: u128, prefix: u32, depth: u32, path: u128) -> Vec<(u128, u32)> {
    let mut out = Vec::new();
    let mut current = first;
    for level in prefix + 1..=depth {
        let bit = 1u128 << (width - level);
        let on_path = current | (path & bit);
        out.push((on_path ^ bit, level));
        current = on_path;
    }
    out.push((current, depth));
    out
}

/// Padding around a CIDR text: nearly always none.
const PADS: [(&str, &str); 6] = [
    ("", ""),
    ("", ""),
    ("", ""),
    ("", ""),
    (" ", ""),
    ("\t", " \n"),
];

/// A set of CIDR texts of `family` (plus a few of the other family), built so that covering
/// sets are common: the whole space is split along random paths to random prefix lengths
/// (0 to 32 or 128), then maybe damaged (a block dropped, or cut down to a sub-block), then
/// random extra blocks are added; host bits may be set and the order is shuffled.
fn cover_case(family: Family) -> impl Strategy<Value = Vec<String>> {
    let width = bits(family);
    let other = match family {
        Family::Ipv4 => Family::Ipv6,
        Family::Ipv6 => Family::Ipv4,
    };
    let extra_prefix = prop_oneof![1 => Just(0u32), 6 => 1u32..=8, 6 => 9u32..=width];
    let other_text = prop_oneof![
        Just(other.world().to_string()),
        (any::<u128>(), 1u32..=bits(other)).prop_map(move |(v, p)| {
            let first = v & ones(bits(other)) & !ones(bits(other) - p);
            format!("{}/{p}", render_address(other, first, 0))
        }),
    ];
    (
        prop::collection::vec((any::<usize>(), any::<u32>(), any::<u128>()), 0..5),
        prop::option::weighted(
            0.5,
            (any::<usize>(), any::<bool>(), any::<u32>(), any::<u128>()),
        ),
        prop::collection::vec((any::<u128>(), extra_prefix), 0..3),
        prop::collection::vec(
            (
                prop::bool::weighted(0.3),
                any::<u128>(),
                any::<u8>(),
                select(&PADS[..]),
            ),
            1..8,
        ),
        prop::collection::vec(other_text, 0..3),
    )
        .prop_map(move |(splits, damage, extras, styles, others)| {
            let mut blocks = vec![(0u128, 0u32)];
            for (which, depth, path) in splits {
                let (first, prefix) = blocks.swap_remove(which % blocks.len());
                let depth = prefix + depth % (width - prefix + 1);
                blocks.extend(chain_split(width, first, prefix, depth, path));
            }
            if let Some((which, drop, depth, path)) = damage {
                let (first, prefix) = blocks.swap_remove(which % blocks.len());
                if !drop && prefix < width {
                    // Keep only a strict sub-block: the rest of the block is lost.
                    let depth = prefix + 1 + depth % (width - prefix);
                    let kept = *chain_split(width, first, prefix, depth, path)
                        .last()
                        .unwrap();
                    blocks.push(kept);
                }
            }
            for (value, prefix) in extras {
                let first = value & ones(width) & !ones(width - prefix);
                blocks.push((first, prefix));
            }
            let mut texts: Vec<String> = blocks
                .iter()
                .enumerate()
                .map(|(i, &(first, prefix))| {
                    let (host_bits, noise, style, (left, right)) = styles[i % styles.len()];
                    let shown = if host_bits {
                        first | (noise & ones(width - prefix))
                    } else {
                        first
                    };
                    format!(
                        "{left}{}/{prefix}{right}",
                        render_address(family, shown, style)
                    )
                })
                .collect();
            texts.extend(others);
            texts
        })
        .prop_shuffle()
}

fn check_cover(texts: &[String]) -> Result<(), TestCaseError> {
    let mut nets = Vec::new();
    for text in texts {
        let (Some(net), Some((family, first, _, prefix))) = (cidr::parse(text), block_of(text))
        else {
            return Err(TestCaseError::fail(format!(
                "{text:?} is not read as a CIDR"
            )));
        };
        let network = match net.network() {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        prop_assert_eq!(cidr::family(&net), family, "{:?}", text);
        prop_assert_eq!(u32::from(net.prefix_len()), prefix, "{:?}", text);
        prop_assert_eq!(network, first, "{:?}: host bits are dropped", text);
        nets.push(net);
    }
    let mut expected_families = BTreeSet::new();
    for family in Family::ALL {
        let expected = oracle_covers_world(texts, family);
        prop_assert_eq!(
            cidr::covers_world(&nets, family),
            expected,
            "{:?} world cover of {:?}",
            family,
            texts
        );
        if expected {
            expected_families.insert(family);
        }
    }
    // The evaluator agrees: a TCP 445 rule from these sources is PG002 for each covered family.
    let findings = evaluate(
        &one_rule_from_texts(Some("tcp"), Some(445), Some(445), texts),
        repo_policies(),
    );
    prop_assert!(
        findings
            .iter()
            .all(|f| f.kind == FindingKind::Exposed && f.rule_id == "PG002"),
        "{:?}",
        findings
    );
    let families: BTreeSet<Family> = findings.iter().filter_map(|f| f.family).collect();
    prop_assert_eq!(families.len(), findings.len(), "one finding per family");
    prop_assert_eq!(families, expected_families, "{:?}", texts);
    Ok(())
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn ipv4_world_cover_is_the_interval_union(texts in cover_case(Family::Ipv4)) {
        check_cover(&texts)?;
    }

    #[test]
    fn ipv6_world_cover_is_the_interval_union(texts in cover_case(Family::Ipv6)) {
        check_cover(&texts)?;
    }
}

/// The cover generator is not one-sided: both outcomes are frequent, and prefix lengths span
/// the whole range.
#[test]
fn the_cover_generator_yields_both_outcomes_and_all_prefix_lengths() {
    for family in Family::ALL {
        let mut runner = TestRunner::new(config(1));
        let strategy = cover_case(family);
        let samples = 400;
        let mut covered = 0;
        let mut prefixes = BTreeSet::new();
        for _ in 0..samples {
            let texts = strategy.new_tree(&mut runner).unwrap().current();
            if oracle_covers_world(&texts, family) {
                covered += 1;
            }
            prefixes.extend(
                texts
                    .iter()
                    .filter_map(|t| block_of(t))
                    .filter(|b| b.0 == family)
                    .map(|b| b.3),
            );
        }
        assert!(
            covered >= samples / 4 && samples - covered >= samples / 4,
            "{family:?}: {covered} of {samples} samples cover the world"
        );
        let width = bits(family);
        assert!(
            prefixes.contains(&0)
                && prefixes.contains(&width)
                && prefixes.len() as u32 > width * 3 / 4,
            "{family:?}: prefix lengths seen: {prefixes:?}"
        );
    }
}

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

// =============================================================================================
// 3. Patching generated HCL
// =============================================================================================

/// A comment of one of HCL's three kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comment {
    Hash,
    Slashes,
    Block,
}

impl Comment {
    fn render(self, marker: &str) -> String {
        match self {
            Comment::Hash => format!("# <{marker}>"),
            Comment::Slashes => format!("// <{marker}>"),
            Comment::Block => format!("/* <{marker}> */"),
        }
    }

    fn ends_line(self) -> bool {
        self != Comment::Block
    }
}

fn comment() -> impl Strategy<Value = Comment> {
    prop_oneof![
        Just(Comment::Hash),
        Just(Comment::Slashes),
        Just(Comment::Block)
    ]
}

/// One element of a CIDR list, with the comments around it.
#[derive(Debug, Clone)]
struct Element {
    cidr: String,
    /// `/* */` before the element.
    before: bool,
    /// `/* */` between the element and its comma.
    before_comma: bool,
    /// A comment after the element (and its comma).
    after: Option<Comment>,
    /// Spaces before the trailing comment, or before the next element of a one-line list.
    gap: usize,
}

#[derive(Debug, Clone)]
struct CidrList {
    elements: Vec<Element>,
    multi_line: bool,
    trailing_comma: bool,
    /// A comment right after `[`.
    opening: Option<Comment>,
    /// `[ "a" ]` rather than `["a"]`.
    padded: bool,
}

/// An inline `ingress` block, or the arguments of an `aws_security_group_rule`.
#[derive(Debug, Clone)]
struct SourceRule {
    protocol: &'static str,
    ports: (i64, i64),
    v4: Option<CidrList>,
    v6: Option<CidrList>,
    /// A comment line before the block.
    note: Option<Comment>,
    /// A comment after the `cidr_blocks` list, on its line.
    tail: Option<Comment>,
}

#[derive(Debug, Clone)]
struct PatchCase {
    /// The inline `ingress` blocks of `aws_security_group.sg`.
    blocks: Vec<SourceRule>,
    /// `aws_security_group_rule.rule`.
    rule: Option<SourceRule>,
    trusted: Vec<&'static str>,
    tabs: bool,
    crlf: bool,
    /// The planned `ingress` set lists the blocks in the opposite order from the file.
    reversed_plan: bool,
}

const V4_OTHERS: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.1.0/24",
    "203.0.113.7/32",
];
const V6_OTHERS: &[&str] = &["2001:db8::/32", "fd00::/8", "fe80::/10"];

/// A CIDR of `family`: the world (canonical, or with host bits), or one that is not the world
/// and that no handful of others can turn into it (prefix /8 or longer).
fn list_cidr(family: Family) -> BoxedStrategy<String> {
    match family {
        Family::Ipv4 => prop_oneof![
            3 => Just("0.0.0.0/0".to_string()),
            1 => Just("10.20.30.40/0".to_string()),
            3 => select(V4_OTHERS).prop_map(String::from),
            3 => (any::<u32>(), 8u32..=32).prop_map(|(v, p)| {
                format!("{}/{p}", Ipv4Addr::from(v & !(ones(32 - p) as u32)))
            }),
        ]
        .boxed(),
        Family::Ipv6 => prop_oneof![
            3 => Just("::/0".to_string()),
            1 => Just("2001:db8::1/0".to_string()),
            3 => select(V6_OTHERS).prop_map(String::from),
            3 => (any::<u128>(), 16u32..=128).prop_map(|(v, p)| {
                format!("{}/{p}", Ipv6Addr::from(v & !ones(128 - p)))
            }),
        ]
        .boxed(),
    }
}

fn cidr_list(family: Family) -> impl Strategy<Value = CidrList> {
    let element = (
        list_cidr(family),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.35, comment()),
        1usize..=3,
    )
        .prop_map(|(cidr, before, before_comma, after, gap)| Element {
            cidr,
            before,
            before_comma,
            after,
            gap,
        });
    (
        prop::collection::vec(element, 0..5),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(0.15, comment()),
        any::<bool>(),
    )
        .prop_map(
            |(elements, multi_line, trailing_comma, opening, padded)| CidrList {
                elements,
                multi_line,
                trailing_comma,
                opening,
                padded,
            },
        )
}

fn source_rule() -> impl Strategy<Value = SourceRule> {
    (
        select(&["tcp", "udp", "6", "17", "TCP"][..]),
        prop::option::weighted(0.85, cidr_list(Family::Ipv4)),
        prop::option::weighted(0.6, cidr_list(Family::Ipv6)),
        prop::option::weighted(0.3, comment()),
        prop::option::weighted(0.3, comment()),
    )
        .prop_map(|(protocol, v4, v6, note, tail)| SourceRule {
            protocol,
            ports: (0, 0),
            v4,
            v6,
            note,
            tail,
        })
}

/// Port ranges, each used once per case so every block is told apart by its literal ports;
/// some reach NetBIOS or SMB, some do not (their world CIDRs must stay). None reaches guarded
/// and other ports at once: such a rule is split (tested by `wide_rules_are_split_*`), which
/// changes more than its CIDR lists.
const PATCH_PORTS: [(i64, i64); 10] = [
    (445, 445),
    (137, 139),
    (139, 139),
    (137, 138),
    (138, 139),
    (22, 22),
    (443, 443),
    (3389, 3389),
    (138, 138),
    (137, 137),
];

/// `--trusted-cidr` sets: IPv4 only (the world of IPv6 is then removed), both families, or two
/// IPv4 CIDRs (one world entry becomes two).
const TRUSTED_SETS: &[&[&str]] = &[
    &["10.0.0.0/8"],
    &["10.0.0.0/8", "fd00::/8"],
    &["10.0.0.0/8", "192.168.0.0/16"],
];

fn patch_case() -> impl Strategy<Value = PatchCase> {
    (
        prop::collection::vec(source_rule(), 1..=3),
        prop::option::weighted(0.6, source_rule()),
        Just(PATCH_PORTS.to_vec()).prop_shuffle(),
        select(TRUSTED_SETS),
        any::<bool>(),
        prop::bool::weighted(0.2),
        any::<bool>(),
    )
        .prop_map(
            |(mut blocks, mut rule, ports, trusted, tabs, crlf, reversed_plan)| {
                for (block, ports) in blocks.iter_mut().zip(&ports) {
                    block.ports = *ports;
                }
                if let Some(rule) = &mut rule {
                    rule.ports = ports[3];
                    rule.note = None;
                }
                PatchCase {
                    blocks,
                    rule,
                    trusted: trusted.to_vec(),
                    tabs,
                    crlf,
                    reversed_plan,
                }
            },
        )
}

/// The comment markers a list holds.
fn list_markers(id: &str, list: &CidrList) -> Vec<String> {
    let mut out = Vec::new();
    if list.opening.is_some() {
        out.push(format!("{id}.open"));
    }
    for (i, e) in list.elements.iter().enumerate() {
        if e.before {
            out.push(format!("{id}.{i}.pre"));
        }
        if e.before_comma {
            out.push(format!("{id}.{i}.mid"));
        }
        if e.after.is_some() {
            out.push(format!("{id}.{i}.post"));
        }
    }
    out
}

/// A list literal; `indent` is the indentation of its attribute, `unit` one level more.
fn render_list(id: &str, list: &CidrList, indent: &str, unit: &str) -> String {
    let mut out = String::from("[");
    let mut at_line_start = false;
    if let Some(kind) = list.opening {
        out.push(' ');
        out.push_str(&kind.render(&format!("{id}.open")));
        if kind.ends_line() {
            out.push('\n');
            at_line_start = true;
        }
    }
    let count = list.elements.len();
    for (i, e) in list.elements.iter().enumerate() {
        if list.multi_line || at_line_start {
            if !at_line_start {
                out.push('\n');
            }
            out.push_str(indent);
            out.push_str(unit);
        } else if i > 0 {
            out.push_str(&" ".repeat(e.gap - 1));
        } else if list.padded {
            out.push(' ');
        }
        at_line_start = false;
        if e.before {
            out.push_str(&Comment::Block.render(&format!("{id}.{i}.pre")));
            out.push(' ');
        }
        out.push_str(&format!("\"{}\"", e.cidr));
        if e.before_comma {
            out.push(' ');
            out.push_str(&Comment::Block.render(&format!("{id}.{i}.mid")));
        }
        if i + 1 < count || list.trailing_comma && count > 0 {
            out.push(',');
        }
        if let Some(kind) = e.after {
            out.push_str(&" ".repeat(e.gap));
            out.push_str(&kind.render(&format!("{id}.{i}.post")));
            if kind.ends_line() {
                out.push('\n');
                at_line_start = true;
            }
        } else if i + 1 < count && !list.multi_line {
            out.push(' ');
        }
    }
    if list.multi_line && count > 0 || at_line_start {
        if !at_line_start {
            out.push('\n');
        }
        out.push_str(indent);
    } else if list.padded && count > 0 {
        out.push(' ');
    }
    out.push(']');
    out
}

/// Placeholder of a list in a skeleton.
fn placeholder(id: &str) -> String {
    format!("\u{1}{id}\u{1}")
}

fn render_rule_body(
    out: &mut String,
    rule: &SourceRule,
    id: &str,
    indent: &str,
    unit: &str,
    skeleton: bool,
) {
    let list = |suffix: &str, list: &CidrList| {
        let id = format!("{id}.{suffix}");
        if skeleton {
            placeholder(&id)
        } else {
            render_list(&id, list, indent, unit)
        }
    };
    out.push_str(&format!("{indent}from_port = {}\n", rule.ports.0));
    out.push_str(&format!("{indent}to_port   = {}\n", rule.ports.1));
    out.push_str(&format!("{indent}protocol  = \"{}\"\n", rule.protocol));
    if let Some(v4) = &rule.v4 {
        out.push_str(&format!("{indent}cidr_blocks = {}", list("v4", v4)));
        if let Some(tail) = rule.tail {
            out.push_str("   ");
            out.push_str(&tail.render(&format!("{id}.tail")));
        }
        out.push('\n');
    }
    if let Some(v6) = &rule.v6 {
        out.push_str(&format!("{indent}ipv6_cidr_blocks\t= {}\n", list("v6", v6)));
    }
}

/// `main.tf` of a case. With `removed`, the skeleton expected after the patch: every CIDR list
/// a placeholder, the blocks and resources in `removed` gone.
fn render_main_tf(case: &PatchCase, removed: Option<&BTreeSet<String>>) -> String {
    let unit = if case.tabs { "\t" } else { "  " };
    let skeleton = removed.is_some();
    let is_removed = |id: &str| removed.is_some_and(|r| r.contains(id));
    let mut out = String::from("# <file.head>\nresource \"aws_security_group\" \"sg\" {\n");
    out.push_str(&format!("{unit}name = \"sg\" // <sg.name>\n"));
    for (i, block) in case.blocks.iter().enumerate() {
        let id = format!("b{i}");
        out.push('\n');
        if let Some(note) = block.note {
            out.push_str(&format!("{unit}{}\n", note.render(&format!("{id}.note"))));
        }
        if is_removed(&id) {
            continue;
        }
        out.push_str(&format!("{unit}ingress {{\n"));
        render_rule_body(
            &mut out,
            block,
            &id,
            &format!("{unit}{unit}"),
            unit,
            skeleton,
        );
        out.push_str(&format!("{unit}}}\n"));
    }
    out.push_str("}\n");
    if let Some(rule) = &case.rule {
        out.push('\n');
        if !is_removed("r") {
            out.push_str("resource \"aws_security_group_rule\" \"rule\" {\n");
            out.push_str(&format!("{unit}type = \"ingress\"\n"));
            render_rule_body(&mut out, rule, "r", unit, unit, skeleton);
            out.push_str(&format!(
                "{unit}security_group_id = aws_security_group.sg.id\n"
            ));
            out.push_str("}\n");
        }
    }
    out.push_str("/* <file.tail> */\n");
    if case.crlf {
        out = out.replace('\n', "\r\n");
    }
    out
}

fn cidr_texts(list: &Option<CidrList>) -> Vec<String> {
    list.iter()
        .flat_map(|l| l.elements.iter().map(|e| e.cidr.clone()))
        .collect()
}

/// The plan `terraform show -json` gives for a case (format 1.2, root module).
fn patch_plan(case: &PatchCase) -> serde_json::Value {
    use serde_json::json;
    let falses = |n: usize| vec![false; n];
    let mut blocks: Vec<serde_json::Value> = Vec::new();
    let mut unknown: Vec<serde_json::Value> = Vec::new();
    let mut config: Vec<serde_json::Value> = Vec::new();
    for b in &case.blocks {
        let (v4, v6) = (cidr_texts(&b.v4), cidr_texts(&b.v6));
        blocks.push(json!({
            "cidr_blocks": v4, "description": "", "from_port": b.ports.0,
            "ipv6_cidr_blocks": v6, "prefix_list_ids": [], "protocol": b.protocol,
            "security_groups": [], "self": false, "to_port": b.ports.1,
        }));
        unknown.push(json!({
            "cidr_blocks": falses(v4.len()), "ipv6_cidr_blocks": falses(v6.len()),
            "prefix_list_ids": [], "security_groups": [],
        }));
        config.push(json!({
            "cidr_blocks": b.v4.as_ref().map(|_| v4.clone()), "description": null,
            "from_port": b.ports.0, "ipv6_cidr_blocks": b.v6.as_ref().map(|_| v6.clone()),
            "prefix_list_ids": null, "protocol": b.protocol, "security_groups": null,
            "self": null, "to_port": b.ports.1,
        }));
    }
    if case.reversed_plan {
        blocks.reverse();
        unknown.reverse();
    }
    let mut changes = vec![json!({
        "address": "aws_security_group.sg", "mode": "managed", "type": "aws_security_group",
        "name": "sg", "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": ["create"], "before": null,
            "after": {"description": "Managed by Terraform", "ingress": blocks, "name": "sg",
                      "revoke_rules_on_delete": false, "tags": null, "timeouts": null},
            "after_unknown": {"arn": true, "egress": true, "id": true, "ingress": unknown,
                              "owner_id": true, "tags_all": true, "vpc_id": true},
            "before_sensitive": false, "after_sensitive": {"egress": [], "ingress": [], "tags_all": {}},
        },
    })];
    let mut config_resources = vec![json!({
        "address": "aws_security_group.sg", "mode": "managed", "type": "aws_security_group",
        "name": "sg", "provider_config_key": "aws",
        "expressions": {"ingress": {"constant_value": config}, "name": {"constant_value": "sg"}},
        "schema_version": 1,
    })];
    if let Some(r) = &case.rule {
        let (v4, v6) = (cidr_texts(&r.v4), cidr_texts(&r.v6));
        let list = |l: &Option<CidrList>, texts: &Vec<String>| l.as_ref().map(|_| texts.clone());
        changes.push(json!({
            "address": "aws_security_group_rule.rule", "mode": "managed",
            "type": "aws_security_group_rule", "name": "rule",
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {
                "actions": ["create"], "before": null,
                "after": {"cidr_blocks": list(&r.v4, &v4), "description": null,
                          "from_port": r.ports.0, "ipv6_cidr_blocks": list(&r.v6, &v6),
                          "prefix_list_ids": null, "protocol": r.protocol, "self": false,
                          "timeouts": null, "to_port": r.ports.1, "type": "ingress"},
                "after_unknown": {"cidr_blocks": falses(v4.len()), "id": true,
                                  "ipv6_cidr_blocks": falses(v6.len()),
                                  "security_group_id": true, "security_group_rule_id": true,
                                  "source_security_group_id": true},
                "before_sensitive": false, "after_sensitive": {},
            },
        }));
        // Terraform records only the arguments the block sets.
        let mut expressions = json!({
            "from_port": {"constant_value": r.ports.0}, "to_port": {"constant_value": r.ports.1},
            "protocol": {"constant_value": r.protocol}, "type": {"constant_value": "ingress"},
            "security_group_id": {"references": ["aws_security_group.sg.id", "aws_security_group.sg"]},
        });
        if r.v4.is_some() {
            expressions["cidr_blocks"] = json!({"constant_value": list(&r.v4, &v4)});
        }
        if r.v6.is_some() {
            expressions["ipv6_cidr_blocks"] = json!({"constant_value": list(&r.v6, &v6)});
        }
        config_resources.push(json!({
            "address": "aws_security_group_rule.rule", "mode": "managed",
            "type": "aws_security_group_rule", "name": "rule", "provider_config_key": "aws",
            "expressions": expressions,
            "schema_version": 2,
        }));
    }
    json!({
        "format_version": "1.2", "terraform_version": "1.9.5",
        "planned_values": {"root_module": {}},
        "resource_changes": changes,
        "configuration": {"root_module": {"resources": config_resources}},
        "timestamp": "2024-09-12T10:15:42Z", "applyable": true, "complete": true, "errored": false,
    })
}

/// What the patch must do, from the swap rule in README.md: in a list that makes a finding,
/// the first world entry gives way to the trusted CIDRs of its family the list does not hold
/// yet, the other world entries go, everything else stays in order; a rule left without any
/// source is removed whole.
#[derive(Debug, Default)]
struct PatchExpectation {
    /// The elements of every list that is left, by list id (`b0.v4`, `r.v6`).
    lists: BTreeMap<String, Vec<String>>,
    /// The lists whose text changes.
    changed: BTreeSet<String>,
    /// Blocks (`b1`) and resources (`r`) removed whole.
    removed: BTreeSet<String>,
}

fn swapped(texts: &[String], family: Family, trusted: &[&str]) -> Vec<String> {
    let present: Vec<(u128, u32)> = texts
        .iter()
        .filter_map(|t| block_of(t))
        .map(|b| (b.1, b.3))
        .collect();
    let replacements: Vec<String> = trusted
        .iter()
        .filter_map(|t| block_of(t).map(|b| (t, b)))
        .filter(|(_, b)| b.0 == family && !present.contains(&(b.1, b.3)))
        .map(|(t, _)| t.to_string())
        .collect();
    let mut out = Vec::new();
    let mut replaced = false;
    for text in texts {
        if block_of(text).unwrap().3 == 0 {
            if !replaced {
                replaced = true;
                out.extend(replacements.iter().cloned());
            }
        } else {
            out.push(text.clone());
        }
    }
    out
}

fn patch_expectation(case: &PatchCase, policies: &PolicySet) -> PatchExpectation {
    let mut expectation = PatchExpectation::default();
    let rules = case
        .blocks
        .iter()
        .enumerate()
        .map(|(i, b)| (format!("b{i}"), b))
        .chain(case.rule.iter().map(|r| ("r".to_string(), r)));
    for (id, rule) in rules {
        let reach = oracle_protocol(Some(rule.protocol));
        let guarded = policies.policies.iter().flat_map(|p| &p.ports).any(|spec| {
            (u32::from(spec.range.from)..=u32::from(spec.range.to)).any(|port| {
                oracle_opens(
                    reach,
                    Some(rule.ports.0),
                    Some(rule.ports.1),
                    spec.protocol,
                    port,
                )
            })
        });
        let mut remaining = 0;
        let mut any_world = false;
        let mut lists = Vec::new();
        for (suffix, family, list) in [
            ("v4", Family::Ipv4, &rule.v4),
            ("v6", Family::Ipv6, &rule.v6),
        ] {
            let Some(list) = list else { continue };
            let texts = cidr_texts(&Some(list.clone()));
            let world = guarded && oracle_covers_world(&texts, family);
            let after = if world {
                swapped(&texts, family, &case.trusted)
            } else {
                texts
            };
            let list_id = format!("{id}.{suffix}");
            if world {
                any_world = true;
                expectation.changed.insert(list_id.clone());
            }
            remaining += after.len();
            lists.push((list_id, after));
        }
        if any_world && remaining == 0 {
            expectation.removed.insert(id);
            for (list_id, _) in lists {
                expectation.changed.insert(list_id);
            }
        } else {
            expectation.lists.extend(lists);
        }
    }
    expectation
}

/// The CIDR list literals of a parsed `main.tf`, by list id, in file order. Blocks of the
/// security group are numbered as in the case, skipping those removed.
fn list_spans(
    body: &Body,
    case: &PatchCase,
    removed: &BTreeSet<String>,
) -> Vec<(String, std::ops::Range<usize>)> {
    let kept_blocks: Vec<usize> = (0..case.blocks.len())
        .filter(|i| !removed.contains(&format!("b{i}")))
        .collect();
    let mut out = Vec::new();
    let mut lists_of = |id: &str, body: &Body| {
        for (key, suffix) in [("cidr_blocks", "v4"), ("ipv6_cidr_blocks", "v6")] {
            if let Some(attribute) = body.get_attribute(key) {
                out.push((format!("{id}.{suffix}"), attribute.value.span().unwrap()));
            }
        }
    };
    for structure in body.iter() {
        let Structure::Block(resource) = structure else {
            continue;
        };
        match resource.labels.first().map(|l| l.as_str()) {
            Some("aws_security_group") => {
                let ingress = resource
                    .body
                    .blocks()
                    .filter(|b| b.ident.as_str() == "ingress");
                for (k, block) in ingress.enumerate() {
                    let i = kept_blocks.get(k).copied().unwrap_or(usize::MAX);
                    lists_of(&format!("b{i}"), &block.body);
                }
            }
            Some("aws_security_group_rule") => lists_of("r", &resource.body),
            _ => {}
        }
    }
    out
}

fn list_values(text: &str) -> Option<Vec<String>> {
    match hcl_edit::parser::parse_expr(text).ok()? {
        Expression::Array(array) => array
            .iter()
            .map(|e| match e {
                Expression::String(s) => Some(s.value().to_string()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn check_patch(case: &PatchCase) -> Result<(), TestCaseError> {
    let policies = repo_policies();
    let original = render_main_tf(case, None);
    if let Err(e) = hcl_edit::parser::parse_body(&original) {
        return Err(TestCaseError::fail(format!(
            "the generated main.tf does not parse: {e}\n{original}"
        )));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), &original).unwrap();
    let plan = serde_json::to_vec_pretty(&patch_plan(case)).unwrap();
    let options = CheckOptions {
        source_dir: Some(dir.path().to_path_buf()),
        ..CheckOptions::default()
    };
    let report = check(&plan, "plan.json", policies, &options)
        .map_err(|e| TestCaseError::fail(format!("plan: {e}")))?;
    let findings: Vec<Finding> = report.findings.iter().map(|g| g.finding.clone()).collect();
    let trusted = case
        .trusted
        .iter()
        .map(|t| TrustedCidr::parse(t).unwrap())
        .collect();
    let fixes = suggest(
        &report.rules,
        &findings,
        policies,
        &FixOptions {
            trusted,
            source_dir: Some(dir.path().to_path_buf()),
            use_vpc: false,
            max_source_bytes: None,
        },
    );
    let expected = patch_expectation(case, policies);

    for finding in &findings {
        prop_assert_eq!(finding.kind, FindingKind::Exposed, "{}", finding.message);
        let fix = fixes.for_finding(finding);
        prop_assert!(
            fix.is_some_and(|f| f.kind == FixKind::Source),
            "{}: no source patch: {:?}\n{}",
            finding.message,
            fix.and_then(|f| f.reason.as_ref()),
            original
        );
    }
    let patched = match fixes.files.as_slice() {
        [] => {
            prop_assert!(
                expected.changed.is_empty(),
                "no patch, but {:?} should change",
                expected.changed
            );
            original.clone()
        }
        [file] => {
            prop_assert_eq!(&file.rel, "main.tf");
            prop_assert!(
                !expected.changed.is_empty(),
                "a patch, but nothing should change"
            );
            file.patched()
        }
        more => return Err(TestCaseError::fail(format!("{} files patched", more.len()))),
    };
    let shown = format!("--- original\n{original}--- patched\n{patched}");
    let body = hcl_edit::parser::parse_body(&patched).map_err(|e| {
        TestCaseError::fail(format!("the patched main.tf does not parse: {e}\n{shown}"))
    })?;

    // Outside the CIDR lists, nothing changes but the removal of whole blocks.
    let spans = list_spans(&body, case, &expected.removed);
    let mut skeleton = patched.clone();
    for (id, span) in spans.iter().rev() {
        skeleton.replace_range(span.clone(), &placeholder(id));
    }
    prop_assert_eq!(
        &skeleton,
        &render_main_tf(case, Some(&expected.removed)),
        "bytes outside the CIDR lists changed\n{}",
        shown
    );

    // Each list holds what the swap rule says, keeps its comments, and is untouched unless
    // its rule is a finding.
    let lists: BTreeMap<String, &CidrList> =
        case.blocks
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("b{i}"), b))
            .chain(case.rule.iter().map(|r| ("r".to_string(), r)))
            .flat_map(|(id, rule)| {
                [("v4", &rule.v4), ("v6", &rule.v6)].into_iter().filter_map(
                    move |(suffix, list)| list.as_ref().map(|l| (format!("{id}.{suffix}"), l)),
                )
            })
            .collect();
    prop_assert_eq!(spans.len(), expected.lists.len(), "lists left\n{}", shown);
    for (id, span) in &spans {
        let text = &patched[span.clone()];
        let values = list_values(text);
        prop_assert_eq!(
            values.as_ref(),
            expected.lists.get(id),
            "list {}\n{}",
            id,
            shown
        );
        let list = lists[id.as_str()];
        for marker in list_markers(id, list) {
            prop_assert_eq!(
                text.matches(&format!("<{marker}>")).count(),
                1,
                "comment {} of list {} is lost or doubled\n{}",
                marker,
                id,
                shown
            );
        }
        if expected.changed.contains(id) {
            for value in values.unwrap() {
                prop_assert!(
                    block_of(&value).unwrap().3 > 0,
                    "{} is left in {}\n{}",
                    value,
                    id,
                    shown
                );
            }
        } else {
            let (indent, unit) = if case.tabs {
                ("\t", "\t")
            } else {
                ("  ", "  ")
            };
            let indent = if id.starts_with('b') {
                format!("{indent}{indent}")
            } else {
                indent.to_string()
            };
            let mut expected_text = render_list(id, list, &indent, unit);
            if case.crlf {
                expected_text = expected_text.replace('\n', "\r\n");
            }
            prop_assert_eq!(
                text,
                expected_text.as_str(),
                "list {} is not a finding, yet changed",
                id
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn patches_keep_every_other_cidr_and_comment_and_parse(case in patch_case()) {
        check_patch(&case)?;
    }
}

/// The cases the property shrank to when it found two bugs, kept as they were found.
fn found_case(
    rule_v4: Option<CidrList>,
    rule_v6: Option<CidrList>,
    trusted: &[&'static str],
) -> PatchCase {
    let rule = |ports, v4, v6| SourceRule {
        protocol: "tcp",
        ports,
        v4,
        v6,
        note: None,
        tail: None,
    };
    PatchCase {
        blocks: vec![rule((445, 445), None, None)],
        rule: Some(rule((137, 139), rule_v4, rule_v6)),
        trusted: trusted.to_vec(),
        tabs: false,
        crlf: false,
        reversed_plan: false,
    }
}

fn element(cidr: &str, after: Option<Comment>) -> Element {
    Element {
        cidr: cidr.to_string(),
        before: false,
        before_comma: false,
        after,
        gap: 1,
    }
}

/// A world entry removed from a multi-line list took the comment on its line with it.
#[test]
fn the_comment_of_a_removed_world_entry_stays() {
    let list = CidrList {
        elements: vec![
            element("0.0.0.0/0", None),
            element("0.0.0.0/0", Some(Comment::Hash)),
        ],
        multi_line: true,
        trailing_comma: false,
        opening: None,
        padded: false,
    };
    check_patch(&found_case(Some(list), None, &["10.0.0.0/8"])).unwrap_or_else(|e| panic!("{e}"));
}

/// A `#` comment between two world entries of a one-line list went with the second entry.
#[test]
fn the_comment_between_two_removed_world_entries_stays() {
    let list = CidrList {
        elements: vec![
            element("0.0.0.0/0", Some(Comment::Hash)),
            element("0.0.0.0/0", None),
        ],
        multi_line: false,
        trailing_comma: false,
        opening: None,
        padded: false,
    };
    let mut case = found_case(None, None, &["10.0.0.0/8"]);
    case.blocks[0].v4 = Some(list);
    case.rule = None;
    check_patch(&case).unwrap_or_else(|e| panic!("{e}"));
}

/// An `aws_security_group_rule` whose only source was `::/0`, with no trusted IPv6 CIDR, was
/// left with no source at all (`ipv6_cidr_blocks = []`), which Terraform refuses: the computed
/// `source_security_group_id`, unknown in the plan, counted as a source.
#[test]
fn a_rule_left_without_any_source_is_removed_whole() {
    let list = CidrList {
        elements: vec![element("::/0", None)],
        multi_line: false,
        trailing_comma: false,
        opening: None,
        padded: false,
    };
    check_patch(&found_case(
        None,
        Some(list),
        &["10.0.0.0/8", "192.168.0.0/16"],
    ))
    .unwrap_or_else(|e| panic!("{e}"));
}

// =============================================================================================
// 4. Plan round trips: format versions, layouts, escapes, encodings
// =============================================================================================

/// JSON that keeps its key order (serde_json's map sorts keys) and is written by hand, so the
/// layout and the escaping are ours to choose.
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    /// A number, as written.
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn js(text: &str) -> J {
    J::Str(text.to_string())
}

fn jint(n: i64) -> J {
    J::Num(n.to_string())
}

fn jport(n: Option<i64>) -> J {
    n.map_or(J::Null, jint)
}

fn jobj(pairs: Vec<(&str, J)>) -> J {
    J::Obj(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn jstrs(texts: &[String]) -> J {
    J::Arr(texts.iter().map(|t| js(t)).collect())
}

fn jconst(value: J) -> J {
    jobj(vec![("constant_value", value)])
}

fn from_serde(value: &serde_json::Value) -> J {
    match value {
        serde_json::Value::Null => J::Null,
        serde_json::Value::Bool(b) => J::Bool(*b),
        serde_json::Value::Number(n) => J::Num(n.to_string()),
        serde_json::Value::String(s) => js(s),
        serde_json::Value::Array(items) => J::Arr(items.iter().map(from_serde).collect()),
        serde_json::Value::Object(map) => J::Obj(
            map.iter()
                .map(|(k, v)| (k.clone(), from_serde(v)))
                .collect(),
        ),
    }
}

/// Whitespace between tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `terraform show -json`: one line.
    Compact,
    /// `jq .`: two spaces.
    Indented,
    Tabs,
    /// PowerShell's `ConvertTo-Json`-like: four spaces and CRLF.
    Crlf,
    /// Spaces and tabs between every token.
    Loose,
}

/// How strings (and keys) are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escapes {
    /// Only what JSON requires.
    Raw,
    /// Go's encoding/json, which Terraform uses: `<`, `>`, `&`, U+2028 and U+2029 as `\u00XX`.
    Go,
    /// ASCII only: every non-ASCII character as `\uXXXX` (surrogate pairs above U+FFFF), and
    /// `/` as `\/`.
    Ascii,
    /// Every character of every string and key as `\uXXXX`.
    Everything,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16LeBom,
    Utf16BeBom,
    Utf16Le,
    Utf16Be,
}

const LAYOUTS: [Layout; 5] = [
    Layout::Compact,
    Layout::Indented,
    Layout::Tabs,
    Layout::Crlf,
    Layout::Loose,
];
const ESCAPES: [Escapes; 4] = [
    Escapes::Raw,
    Escapes::Go,
    Escapes::Ascii,
    Escapes::Everything,
];
const ENCODINGS: [Encoding; 6] = [
    Encoding::Utf8,
    Encoding::Utf8Bom,
    Encoding::Utf16LeBom,
    Encoding::Utf16BeBom,
    Encoding::Utf16Le,
    Encoding::Utf16Be,
];

fn write_string(text: &str, escapes: Escapes, out: &mut String) {
    let unicode = |c: char, out: &mut String, upper: bool| {
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            if upper {
                write!(out, "\\u{unit:04X}").unwrap();
            } else {
                write!(out, "\\u{unit:04x}").unwrap();
            }
        }
    };
    out.push('"');
    for c in text.chars() {
        match c {
            c if escapes == Escapes::Everything => unicode(c, out, true),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => unicode(c, out, false),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' if escapes == Escapes::Go => {
                unicode(c, out, false)
            }
            '/' if escapes == Escapes::Ascii => out.push_str("\\/"),
            c if !c.is_ascii() && escapes == Escapes::Ascii => unicode(c, out, false),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json(value: &J, layout: Layout, escapes: Escapes) -> String {
    fn emit(value: &J, layout: Layout, escapes: Escapes, depth: usize, out: &mut String) {
        let (unit, newline) = match layout {
            Layout::Indented => ("  ", "\n"),
            Layout::Tabs => ("\t", "\n"),
            Layout::Crlf => ("    ", "\r\n"),
            Layout::Compact | Layout::Loose => ("", ""),
        };
        let space = |out: &mut String, depth: usize| {
            if !newline.is_empty() {
                out.push_str(newline);
                out.push_str(&unit.repeat(depth));
            } else if layout == Layout::Loose {
                out.push_str(" \t ");
            }
        };
        match value {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(n),
            J::Str(s) => write_string(s, escapes, out),
            J::Arr(items) if items.is_empty() => out.push_str("[]"),
            J::Obj(pairs) if pairs.is_empty() => out.push_str("{}"),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(out, depth + 1);
                    emit(item, layout, escapes, depth + 1, out);
                }
                space(out, depth);
                out.push(']');
            }
            J::Obj(pairs) => {
                out.push('{');
                for (i, (key, item)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(out, depth + 1);
                    write_string(key, escapes, out);
                    out.push(':');
                    if layout != Layout::Compact {
                        out.push(' ');
                    }
                    emit(item, layout, escapes, depth + 1, out);
                }
                space(out, depth);
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    emit(value, layout, escapes, 0, &mut out);
    match layout {
        Layout::Compact => {}
        Layout::Crlf => out.push_str("\r\n"),
        _ => out.push('\n'),
    }
    out
}

fn encode(text: &str, encoding: Encoding) -> Vec<u8> {
    let utf16 = |big_endian: bool, bom: bool| {
        let mut out = Vec::new();
        let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
        for unit in units {
            out.extend_from_slice(&if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        out
    };
    match encoding {
        Encoding::Utf8 => text.as_bytes().to_vec(),
        Encoding::Utf8Bom => [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
        Encoding::Utf16LeBom => utf16(false, true),
        Encoding::Utf16BeBom => utf16(true, true),
        Encoding::Utf16Le => utf16(false, false),
        Encoding::Utf16Be => utf16(true, false),
    }
}

/// The `format_version` shapes Terraform and OpenTofu write (see SOURCES.md of the real
/// plans): what changes is the version, the sections around `resource_changes`, the
/// `*_sensitive` fields, and whether the configuration shows attributes written as blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Shape {
    /// 0.1 from Terraform 0.12: no `*_sensitive`, provider names without a registry.
    Tf012,
    /// 0.1 from Terraform 1.0.0.
    Tf100,
    /// 0.2 from Terraform 1.0.x: `resource_drift`.
    Tf10x,
    /// 1.0 from Terraform 1.1: inline `ingress` in the configuration, `action_reason`.
    Tf11,
    /// 1.1 from Terraform 1.3: `relevant_attributes`.
    Tf13,
    /// 1.2 from Terraform 1.9: `checks`, `timestamp`, `applyable`, `complete`, `errored`.
    Tf19,
    /// 1.2 from OpenTofu 1.8.
    Tofu18,
    /// 1.2 with the top-level members in reverse order (configuration before the resources)
    /// and no `terraform_version`, as Terraform's own golden files.
    Reversed,
}

const SHAPES: [Shape; 8] = [
    Shape::Tf012,
    Shape::Tf100,
    Shape::Tf10x,
    Shape::Tf11,
    Shape::Tf13,
    Shape::Tf19,
    Shape::Tofu18,
    Shape::Reversed,
];

impl Shape {
    fn format_version(self) -> &'static str {
        match self {
            Shape::Tf012 | Shape::Tf100 => "0.1",
            Shape::Tf10x => "0.2",
            Shape::Tf11 => "1.0",
            Shape::Tf13 => "1.1",
            Shape::Tf19 | Shape::Tofu18 | Shape::Reversed => "1.2",
        }
    }

    fn terraform_version(self) -> Option<&'static str> {
        match self {
            Shape::Tf012 => Some("0.12.31"),
            Shape::Tf100 => Some("1.0.0"),
            Shape::Tf10x => Some("1.0.11"),
            Shape::Tf11 => Some("1.1.9"),
            Shape::Tf13 => Some("1.3.9"),
            Shape::Tf19 => Some("1.9.8"),
            Shape::Tofu18 => Some("1.8.3"),
            Shape::Reversed => None,
        }
    }

    fn provider(self) -> &'static str {
        match self {
            Shape::Tf012 => "aws",
            Shape::Tofu18 => "registry.opentofu.org/hashicorp/aws",
            _ => "registry.terraform.io/hashicorp/aws",
        }
    }

    fn sensitive(self) -> bool {
        self != Shape::Tf012
    }

    fn blocks_in_config(self) -> bool {
        !self.format_version().starts_with("0.")
    }
}

#[derive(Debug, Clone)]
struct ModelRule {
    protocol: String,
    from: Option<i64>,
    to: Option<i64>,
    v4: Vec<String>,
    v6: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sg,
    DefaultSg,
    SgRule,
    SgEgressRule,
    VpcIngress,
    /// Not checked, but look like it: none of them is a finding.
    Vpc,
    Bucket,
    DataSg,
    DeletedSg,
    VpcEgress,
    NaclRule,
}

impl Kind {
    fn type_name(self) -> &'static str {
        match self {
            Kind::Sg | Kind::DataSg | Kind::DeletedSg => "aws_security_group",
            Kind::DefaultSg => "aws_default_security_group",
            Kind::SgRule | Kind::SgEgressRule => "aws_security_group_rule",
            Kind::VpcIngress => "aws_vpc_security_group_ingress_rule",
            Kind::Vpc => "aws_vpc",
            Kind::Bucket => "aws_s3_bucket",
            Kind::VpcEgress => "aws_vpc_security_group_egress_rule",
            Kind::NaclRule => "aws_network_acl_rule",
        }
    }

    /// Resources of the checked types that exist after apply.
    fn scanned(self) -> bool {
        matches!(
            self,
            Kind::Sg | Kind::DefaultSg | Kind::SgRule | Kind::SgEgressRule | Kind::VpcIngress
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InstanceKey {
    Single,
    Count(i64),
    Each(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModelAction {
    Create,
    Update,
    NoOp,
    DeleteCreate,
    CreateDelete,
}

#[derive(Debug, Clone)]
struct ModelResource {
    kind: Kind,
    name: String,
    /// Index into [`MODULES`].
    module: Option<usize>,
    key: InstanceKey,
    action: ModelAction,
    /// Inline blocks (security groups) or the one rule (rule resources).
    rules: Vec<ModelRule>,
}

#[derive(Debug, Clone)]
struct PlanModel {
    resources: Vec<ModelResource>,
}

/// Module instances: address and the module call names that lead to it.
const MODULES: [(&str, &[&str]); 6] = [
    ("module.net", &["net"]),
    ("module.sg[\"prod\"]", &["sg"]),
    ("module.sg[\"a.b[1]\"]", &["sg"]),
    ("module.app[0]", &["app"]),
    ("module.app[1]", &["app"]),
    ("module.app[1].module.inner", &["app", "inner"]),
];

const RULE_PROTOCOLS: &[&str] = &[
    "tcp", "udp", "-1", "6", "17", "icmp", "all", "TCP", "icmpv6", "50", "Udp", "58",
];
const RULE_PORTS: &[(Option<i64>, Option<i64>)] = &[
    (Some(445), Some(445)),
    (Some(137), Some(139)),
    (Some(0), Some(65535)),
    (Some(0), Some(0)),
    (Some(-1), Some(-1)),
    (Some(443), Some(22)),
    (Some(138), Some(200)),
    (Some(22), Some(22)),
    (Some(1), Some(3000)),
    (Some(443), Some(3389)),
    (None, Some(445)),
    (None, None),
    (Some(139), Some(139)),
    (Some(445), Some(65536)),
];
const V4_POOL: &[&str] = &[
    "0.0.0.0/0",
    "0.0.0.0/1",
    "128.0.0.0/1",
    "10.0.0.0/8",
    "192.168.1.0/24",
    "203.0.113.7/32",
    "1.2.3.4/0",
    "0.0.0.0/2",
    "64.0.0.0/2",
];
const V6_POOL: &[&str] = &[
    "::/0",
    "::/1",
    "8000::/1",
    "2001:db8::/32",
    "fd00::/8",
    "2001:DB8::5/0",
    "::ffff:0.0.0.0/96",
];

fn model_rule() -> impl Strategy<Value = ModelRule> {
    let v4 = prop_oneof![
        2 => Just("0.0.0.0/0".to_string()),
        4 => select(V4_POOL).prop_map(String::from),
        1 => (any::<u32>(), 1u32..=32).prop_map(|(v, p)| {
            format!("{}/{p}", Ipv4Addr::from(v & !(ones(32 - p) as u32)))
        }),
    ];
    (
        select(RULE_PROTOCOLS),
        select(RULE_PORTS),
        prop::collection::vec(v4, 0..4),
        prop::collection::vec(
            prop_oneof![
                1 => Just("::/0".to_string()),
                3 => select(V6_POOL).prop_map(String::from),
            ],
            0..3,
        ),
    )
        .prop_map(|(protocol, (from, to), v4, v6)| ModelRule {
            protocol: protocol.to_string(),
            from,
            to,
            v4,
            v6,
        })
}

fn model_resource() -> impl Strategy<Value = ModelResource> {
    let kind = prop_oneof![
        4 => Just(Kind::Sg),
        1 => Just(Kind::DefaultSg),
        3 => Just(Kind::SgRule),
        1 => Just(Kind::SgEgressRule),
        3 => Just(Kind::VpcIngress),
        1 => Just(Kind::Vpc),
        1 => Just(Kind::Bucket),
        1 => Just(Kind::DataSg),
        1 => Just(Kind::DeletedSg),
        1 => Just(Kind::VpcEgress),
        1 => Just(Kind::NaclRule),
    ];
    let key = prop_oneof![
        3 => Just(InstanceKey::Single),
        1 => (0i64..3).prop_map(InstanceKey::Count),
        1 => select(&["prod", "a.b", "x[1]", "Zoë"][..]).prop_map(InstanceKey::Each),
    ];
    let action = select(
        &[
            ModelAction::Create,
            ModelAction::Create,
            ModelAction::Update,
            ModelAction::NoOp,
            ModelAction::DeleteCreate,
            ModelAction::CreateDelete,
        ][..],
    );
    (
        kind,
        prop::option::weighted(0.4, 0..MODULES.len()),
        key,
        action,
        prop::collection::vec(model_rule(), 1..4),
        0usize..4,
    )
        .prop_map(|(kind, module, key, action, mut rules, inline)| {
            match kind {
                Kind::Sg | Kind::DefaultSg => rules.truncate(inline),
                Kind::SgRule | Kind::SgEgressRule => rules.truncate(1),
                Kind::VpcIngress => {
                    rules.truncate(1);
                    // One source: an IPv4 or an IPv6 CIDR (or neither: a prefix list).
                    let rule = &mut rules[0];
                    rule.v4.truncate(1);
                    if rule.v4.is_empty() {
                        rule.v6.truncate(1);
                    } else {
                        rule.v6.clear();
                    }
                }
                _ => rules.clear(),
            }
            ModelResource {
                kind,
                name: String::new(),
                module,
                key,
                action,
                rules,
            }
        })
}

fn plan_model() -> impl Strategy<Value = PlanModel> {
    prop::collection::vec(model_resource(), 1..8).prop_map(|mut resources| {
        for (i, r) in resources.iter_mut().enumerate() {
            r.name = format!("r{i}");
        }
        PlanModel { resources }
    })
}

fn instance_suffix(key: InstanceKey) -> String {
    match key {
        InstanceKey::Single => String::new(),
        InstanceKey::Count(n) => format!("[{n}]"),
        InstanceKey::Each(k) => format!("[\"{k}\"]"),
    }
}

fn address(r: &ModelResource) -> String {
    let data = if r.kind == Kind::DataSg { "data." } else { "" };
    let local = format!(
        "{data}{}.{}{}",
        r.kind.type_name(),
        r.name,
        instance_suffix(r.key)
    );
    match r.module {
        Some(m) => format!("{}.{local}", MODULES[m].0),
        None => local,
    }
}

fn world_rule() -> ModelRule {
    ModelRule {
        protocol: "-1".into(),
        from: Some(0),
        to: Some(0),
        v4: vec!["0.0.0.0/0".into()],
        v6: vec!["::/0".into()],
    }
}

/// The planned state of an `aws_security_group` with these inline rules, and its
/// `after_unknown`.
fn sg_state(name: &str, rules: &[ModelRule]) -> (J, J) {
    let blocks = rules
        .iter()
        .map(|r| {
            jobj(vec![
                ("cidr_blocks", jstrs(&r.v4)),
                ("description", js("NetBIOS – Büro <alt> & neu")),
                ("from_port", jport(r.from)),
                ("ipv6_cidr_blocks", jstrs(&r.v6)),
                ("prefix_list_ids", J::Arr(vec![])),
                ("protocol", js(&r.protocol)),
                ("security_groups", J::Arr(vec![])),
                ("self", J::Bool(false)),
                ("to_port", jport(r.to)),
            ])
        })
        .collect();
    let unknown = rules
        .iter()
        .map(|r| {
            jobj(vec![
                ("cidr_blocks", J::Arr(vec![J::Bool(false); r.v4.len()])),
                ("ipv6_cidr_blocks", J::Arr(vec![J::Bool(false); r.v6.len()])),
                ("prefix_list_ids", J::Arr(vec![])),
                ("security_groups", J::Arr(vec![])),
            ])
        })
        .collect();
    let after = jobj(vec![
        ("description", js("Dateiserver 東京 😀 \u{2028} line")),
        ("egress", J::Arr(vec![])),
        ("ingress", J::Arr(blocks)),
        ("name", js(name)),
        ("revoke_rules_on_delete", J::Bool(false)),
        ("tags", jobj(vec![("Owner", js("Zoë <ops> & \"sec\""))])),
        ("timeouts", J::Null),
        ("vpc_id", js("vpc-0a1b2c3d4e5f60718")),
    ]);
    let after_unknown = jobj(vec![
        ("arn", J::Bool(true)),
        ("id", J::Bool(true)),
        ("ingress", J::Arr(unknown)),
        ("owner_id", J::Bool(true)),
        ("tags_all", J::Bool(true)),
    ]);
    (after, after_unknown)
}

fn list_or_null(texts: &[String]) -> J {
    if texts.is_empty() {
        J::Null
    } else {
        jstrs(texts)
    }
}

/// The planned state (`None` when deleted) and `after_unknown` of a resource.
fn planned_state(r: &ModelResource) -> (Option<J>, J) {
    let empty = jobj(vec![]);
    match r.kind {
        Kind::Sg | Kind::DefaultSg => {
            let (after, unknown) = sg_state(&r.name, &r.rules);
            (Some(after), unknown)
        }
        Kind::DataSg => {
            let (after, unknown) = sg_state(&r.name, &[world_rule()]);
            (Some(after), unknown)
        }
        Kind::DeletedSg => (None, empty),
        Kind::SgRule | Kind::SgEgressRule => {
            let rule = &r.rules[0];
            let direction = if r.kind == Kind::SgRule {
                "ingress"
            } else {
                "egress"
            };
            let after = jobj(vec![
                ("cidr_blocks", list_or_null(&rule.v4)),
                ("description", js("règle 😀")),
                ("from_port", jport(rule.from)),
                ("ipv6_cidr_blocks", list_or_null(&rule.v6)),
                ("prefix_list_ids", J::Null),
                ("protocol", js(&rule.protocol)),
                ("security_group_id", js("sg-0123456789abcdef0")),
                ("self", J::Bool(false)),
                ("timeouts", J::Null),
                ("to_port", jport(rule.to)),
                ("type", js(direction)),
            ]);
            let unknown = jobj(vec![
                ("cidr_blocks", J::Arr(vec![J::Bool(false); rule.v4.len()])),
                ("id", J::Bool(true)),
                ("security_group_rule_id", J::Bool(true)),
                ("source_security_group_id", J::Bool(true)),
            ]);
            (Some(after), unknown)
        }
        Kind::VpcIngress => {
            let rule = &r.rules[0];
            let one = |texts: &[String]| texts.first().map_or(J::Null, |t| js(t));
            let prefix_list = if rule.v4.is_empty() && rule.v6.is_empty() {
                js("pl-0123456789abcdef0")
            } else {
                J::Null
            };
            let after = jobj(vec![
                ("cidr_ipv4", one(&rule.v4)),
                ("cidr_ipv6", one(&rule.v6)),
                ("description", js("SMB für das Büro")),
                ("from_port", jport(rule.from)),
                ("ip_protocol", js(&rule.protocol)),
                ("prefix_list_id", prefix_list),
                ("referenced_security_group_id", J::Null),
                ("security_group_id", js("sg-0123456789abcdef0")),
                ("tags", J::Null),
                ("to_port", jport(rule.to)),
            ]);
            let unknown = jobj(vec![
                ("arn", J::Bool(true)),
                ("id", J::Bool(true)),
                ("security_group_rule_id", J::Bool(true)),
                ("tags_all", J::Bool(true)),
            ]);
            (Some(after), unknown)
        }
        Kind::VpcEgress => (
            Some(jobj(vec![
                ("cidr_ipv4", js("0.0.0.0/0")),
                ("from_port", J::Null),
                ("ip_protocol", js("-1")),
                ("security_group_id", js("sg-0123456789abcdef0")),
                ("to_port", J::Null),
            ])),
            jobj(vec![("id", J::Bool(true))]),
        ),
        Kind::Vpc => (
            Some(jobj(vec![
                ("assign_generated_ipv6_cidr_block", J::Bool(false)),
                ("cidr_block", js("10.0.0.0/16")),
                ("tags", jobj(vec![("Name", js("東京"))])),
            ])),
            jobj(vec![
                ("arn", J::Bool(true)),
                ("id", J::Bool(true)),
                ("ipv6_cidr_block", J::Bool(true)),
            ]),
        ),
        Kind::Bucket => (
            Some(jobj(vec![
                ("bucket", js("logs-zoë")),
                (
                    "policy",
                    js(
                        r#"{"Statement":[{"Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}]}"#,
                    ),
                ),
                ("tags", J::Null),
            ])),
            jobj(vec![("id", J::Bool(true))]),
        ),
        Kind::NaclRule => (
            Some(jobj(vec![
                ("cidr_block", js("0.0.0.0/0")),
                ("egress", J::Bool(false)),
                ("from_port", jint(445)),
                ("network_acl_id", js("acl-0123456789abcdef0")),
                ("protocol", js("tcp")),
                ("rule_action", js("allow")),
                ("rule_number", jint(100)),
                ("to_port", jint(445)),
            ])),
            jobj(vec![("id", J::Bool(true))]),
        ),
    }
}

fn actions(r: &ModelResource) -> J {
    let words: &[&str] = match (r.kind, r.action) {
        (Kind::DataSg, _) => &["read"],
        (Kind::DeletedSg, _) => &["delete"],
        (_, ModelAction::Create) => &["create"],
        (_, ModelAction::Update) => &["update"],
        (_, ModelAction::NoOp) => &["no-op"],
        (_, ModelAction::DeleteCreate) => &["delete", "create"],
        (_, ModelAction::CreateDelete) => &["create", "delete"],
    };
    J::Arr(words.iter().map(|w| js(w)).collect())
}

fn change_entry(r: &ModelResource, shape: Shape) -> J {
    let mut pairs = vec![("address", js(&address(r)))];
    if let Some(m) = r.module {
        pairs.push(("module_address", js(MODULES[m].0)));
    }
    pairs.push((
        "mode",
        js(if r.kind == Kind::DataSg {
            "data"
        } else {
            "managed"
        }),
    ));
    pairs.push(("type", js(r.kind.type_name())));
    pairs.push(("name", js(&r.name)));
    match r.key {
        InstanceKey::Single => {}
        InstanceKey::Count(n) => pairs.push(("index", jint(n))),
        InstanceKey::Each(k) => pairs.push(("index", js(k))),
    }
    pairs.push(("provider_name", js(shape.provider())));
    let (after, unknown) = planned_state(r);
    let before = match (r.kind, r.action) {
        (Kind::DeletedSg, _) => sg_state(&r.name, &[world_rule()]).0,
        (Kind::DataSg, _) | (_, ModelAction::Create) => J::Null,
        _ => after.clone().unwrap_or(J::Null),
    };
    let mut change = vec![
        ("actions", actions(r)),
        ("before", before),
        ("after", after.unwrap_or(J::Null)),
        ("after_unknown", unknown),
    ];
    if shape.sensitive() {
        change.push(("before_sensitive", J::Bool(false)));
        change.push(("after_sensitive", jobj(vec![("tags", jobj(vec![]))])));
    }
    pairs.push(("change", jobj(change)));
    let replace = matches!(
        r.action,
        ModelAction::DeleteCreate | ModelAction::CreateDelete
    );
    if replace && shape >= Shape::Tf11 && !matches!(r.kind, Kind::DataSg | Kind::DeletedSg) {
        pairs.push(("action_reason", js("replace_because_cannot_update")));
    }
    jobj(pairs)
}

fn parent_module(m: usize) -> Option<usize> {
    let (parent, _) = MODULES[m].0.rsplit_once(".module.")?;
    MODULES.iter().position(|(a, _)| *a == parent)
}

/// `planned_values`: the managed resources that exist after apply, nested by module.
fn planned_values(model: &PlanModel, shape: Shape) -> J {
    fn module(model: &PlanModel, shape: Shape, at: Option<usize>) -> Vec<(&'static str, J)> {
        let resources: Vec<J> = model
            .resources
            .iter()
            .filter(|r| r.module == at && r.kind != Kind::DataSg)
            .filter_map(|r| {
                let values = planned_state(r).0?;
                let mut pairs = vec![
                    ("address", js(&address(r))),
                    ("mode", js("managed")),
                    ("type", js(r.kind.type_name())),
                    ("name", js(&r.name)),
                ];
                match r.key {
                    InstanceKey::Single => {}
                    InstanceKey::Count(n) => pairs.push(("index", jint(n))),
                    InstanceKey::Each(k) => pairs.push(("index", js(k))),
                }
                pairs.push(("provider_name", js(shape.provider())));
                pairs.push(("schema_version", jint(1)));
                pairs.push(("values", values));
                if shape.sensitive() {
                    pairs.push(("sensitive_values", jobj(vec![])));
                }
                Some(jobj(pairs))
            })
            .collect();
        let children: Vec<J> = (0..MODULES.len())
            .filter(|&m| parent_module(m) == at)
            .map(|m| {
                let mut pairs = module(model, shape, Some(m));
                pairs.push(("address", js(MODULES[m].0)));
                jobj(pairs)
            })
            .collect();
        let mut pairs = vec![("resources", J::Arr(resources))];
        if !children.is_empty() {
            pairs.push(("child_modules", J::Arr(children)));
        }
        pairs
    }
    jobj(vec![("root_module", jobj(module(model, shape, None)))])
}

/// The configuration of the module reached through `calls`: one block per resource (its
/// instances share it), and the module calls below it.
fn config_module(model: &PlanModel, shape: Shape, calls: &[&str]) -> J {
    let mut resources = Vec::new();
    let mut seen = BTreeSet::new();
    for r in &model.resources {
        let here = r.module.map_or(&[][..], |m| MODULES[m].1);
        if here != calls || r.kind == Kind::DeletedSg || !seen.insert(r.name.clone()) {
            continue;
        }
        let data = r.kind == Kind::DataSg;
        let mut expressions = vec![("name", jconst(js(&r.name)))];
        let rule = r.rules.first();
        match (r.kind, rule) {
            (Kind::Sg | Kind::DefaultSg, _) if shape.blocks_in_config() && !r.rules.is_empty() => {
                let blocks = r
                    .rules
                    .iter()
                    .map(|b| {
                        jobj(vec![
                            ("cidr_blocks", list_or_null(&b.v4)),
                            ("description", J::Null),
                            ("from_port", jport(b.from)),
                            ("ipv6_cidr_blocks", list_or_null(&b.v6)),
                            ("prefix_list_ids", J::Null),
                            ("protocol", js(&b.protocol)),
                            ("security_groups", J::Null),
                            ("self", J::Null),
                            ("to_port", jport(b.to)),
                        ])
                    })
                    .collect();
                expressions.push(("ingress", jconst(J::Arr(blocks))));
            }
            (Kind::SgRule | Kind::SgEgressRule, Some(rule)) => {
                let direction = if r.kind == Kind::SgRule {
                    "ingress"
                } else {
                    "egress"
                };
                expressions = vec![
                    ("type", jconst(js(direction))),
                    ("protocol", jconst(js(&rule.protocol))),
                    ("from_port", jconst(jport(rule.from))),
                    ("to_port", jconst(jport(rule.to))),
                    ("cidr_blocks", jconst(list_or_null(&rule.v4))),
                    ("ipv6_cidr_blocks", jconst(list_or_null(&rule.v6))),
                    (
                        "security_group_id",
                        jobj(vec![(
                            "references",
                            jstrs(&[
                                "aws_security_group.x.id".into(),
                                "aws_security_group.x".into(),
                            ]),
                        )]),
                    ),
                ];
            }
            (Kind::VpcIngress, Some(rule)) => {
                expressions = vec![
                    ("ip_protocol", jconst(js(&rule.protocol))),
                    ("from_port", jconst(jport(rule.from))),
                    ("to_port", jconst(jport(rule.to))),
                ];
                if let Some(c) = rule.v4.first() {
                    expressions.push(("cidr_ipv4", jconst(js(c))));
                }
                if let Some(c) = rule.v6.first() {
                    expressions.push(("cidr_ipv6", jconst(js(c))));
                }
            }
            _ => {}
        }
        let local = format!(
            "{}{}.{}",
            if data { "data." } else { "" },
            r.kind.type_name(),
            r.name
        );
        let mut pairs = vec![
            ("address", js(&local)),
            ("mode", js(if data { "data" } else { "managed" })),
            ("type", js(r.kind.type_name())),
            ("name", js(&r.name)),
            ("provider_config_key", js("aws")),
            ("expressions", jobj(expressions)),
            ("schema_version", jint(1)),
        ];
        match r.key {
            InstanceKey::Single => {}
            InstanceKey::Count(_) => pairs.push(("count_expression", jconst(jint(3)))),
            InstanceKey::Each(_) => pairs.push((
                "for_each_expression",
                jobj(vec![("references", jstrs(&["var.groups".into()]))]),
            )),
        }
        resources.push(jobj(pairs));
    }
    let mut calls_below: Vec<(String, J)> = Vec::new();
    let mut names = BTreeSet::new();
    for (_, path) in MODULES {
        if path.len() == calls.len() + 1
            && path.starts_with(calls)
            && names.insert(path[calls.len()])
        {
            let name = path[calls.len()];
            let mut call = vec![("source", js(&format!("./modules/{name}")))];
            match name {
                "sg" => call.push((
                    "for_each_expression",
                    jobj(vec![("references", jstrs(&["var.groups".into()]))]),
                )),
                "app" => call.push(("count_expression", jconst(jint(2)))),
                _ => {}
            }
            call.push(("module", config_module(model, shape, path)));
            calls_below.push((name.to_string(), jobj(call)));
        }
    }
    let mut pairs = vec![("resources", J::Arr(resources))];
    if !calls_below.is_empty() {
        pairs.push(("module_calls", J::Obj(calls_below)));
    }
    jobj(pairs)
}

/// A whole plan document of `model` in `shape`.
fn plan_document(model: &PlanModel, shape: Shape) -> J {
    let world_sg = |name: &str| {
        jobj(vec![
            ("address", js(&format!("aws_security_group.{name}"))),
            ("mode", js("managed")),
            ("type", js("aws_security_group")),
            ("name", js(name)),
            ("provider_name", js(shape.provider())),
            ("schema_version", jint(1)),
            ("values", sg_state(name, &[world_rule()]).0),
        ])
    };
    let mut top = vec![("format_version", js(shape.format_version()))];
    if let Some(version) = shape.terraform_version() {
        top.push(("terraform_version", js(version)));
    }
    top.push((
        "variables",
        jobj(vec![(
            "allowed",
            jobj(vec![("value", jstrs(&["0.0.0.0/0".into()]))]),
        )]),
    ));
    top.push(("planned_values", planned_values(model, shape)));
    if shape >= Shape::Tf10x {
        // Drift is what changed outside Terraform: never a planned change.
        let (state, _) = sg_state("drifted", &[world_rule()]);
        top.push((
            "resource_drift",
            J::Arr(vec![jobj(vec![
                ("address", js("aws_security_group.drifted")),
                ("mode", js("managed")),
                ("type", js("aws_security_group")),
                ("name", js("drifted")),
                ("provider_name", js(shape.provider())),
                (
                    "change",
                    jobj(vec![
                        ("actions", J::Arr(vec![js("update")])),
                        ("before", state.clone()),
                        ("after", state),
                        ("before_sensitive", J::Bool(false)),
                        ("after_sensitive", jobj(vec![])),
                    ]),
                ),
            ])]),
        ));
    }
    top.push((
        "resource_changes",
        J::Arr(
            model
                .resources
                .iter()
                .map(|r| change_entry(r, shape))
                .collect(),
        ),
    ));
    top.push((
        "output_changes",
        jobj(vec![(
            "open",
            jobj(vec![
                ("actions", J::Arr(vec![js("create")])),
                ("before", J::Null),
                ("after", js("::/0")),
                ("after_unknown", J::Bool(false)),
            ]),
        )]),
    ));
    top.push((
        "prior_state",
        jobj(vec![
            ("format_version", js(shape.format_version())),
            (
                "values",
                jobj(vec![(
                    "root_module",
                    jobj(vec![("resources", J::Arr(vec![world_sg("old")]))]),
                )]),
            ),
        ]),
    ));
    let mut configuration = vec![(
        "provider_config",
        jobj(vec![(
            "aws",
            jobj(vec![
                ("name", js("aws")),
                (
                    "expressions",
                    jobj(vec![("region", jconst(js("eu-west-1")))]),
                ),
            ]),
        )]),
    )];
    configuration.push(("root_module", config_module(model, shape, &[])));
    top.push(("configuration", jobj(configuration)));
    if shape >= Shape::Tf13 {
        top.push((
            "relevant_attributes",
            J::Arr(vec![jobj(vec![
                ("resource", js("aws_vpc.main")),
                ("attribute", J::Arr(vec![js("cidr_block")])),
            ])]),
        ));
    }
    if shape >= Shape::Tf19 {
        top.push(("checks", J::Arr(vec![])));
        top.push(("timestamp", js("2024-09-12T10:15:42Z")));
        top.push(("applyable", J::Bool(true)));
        top.push(("complete", J::Bool(true)));
        top.push(("errored", J::Bool(false)));
    }
    if shape == Shape::Reversed {
        top.reverse();
    }
    jobj(top)
}

/// What a finding says about a rule, for comparison with the oracle.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    address: String,
    rule_id: String,
    kind: FindingKind,
    block: Option<String>,
    family: Option<Family>,
    resource_type: String,
    action: String,
    ports: BTreeSet<(String, u16)>,
    cidrs: Vec<String>,
    protocol: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
}

fn seen(f: &Finding) -> Seen {
    Seen {
        address: f.address.clone(),
        rule_id: f.rule_id.clone(),
        kind: f.kind,
        block: f.block.clone(),
        family: f.family,
        resource_type: f.resource_type.clone(),
        action: f.action.clone(),
        ports: expand_ports(&f.ports),
        cidrs: f.cidrs.clone(),
        protocol: f.protocol.clone(),
        from: f.from_port,
        to: f.to_port,
    }
}

/// The findings of a model: every ingress rule that exists after apply, whose CIDRs of one
/// family cover the world (interval union) and whose protocol and ports reach a policy port.
/// The CIDRs shown are the /0 entries of that family if there are any, else all of them.
fn oracle_findings(model: &PlanModel, policies: &PolicySet) -> Vec<Seen> {
    let mut out = Vec::new();
    for r in &model.resources {
        let rules: Vec<(Option<usize>, &ModelRule)> = match r.kind {
            Kind::Sg | Kind::DefaultSg => r
                .rules
                .iter()
                .enumerate()
                .map(|(i, b)| (Some(i), b))
                .collect(),
            Kind::SgRule | Kind::VpcIngress => vec![(None, &r.rules[0])],
            _ => vec![],
        };
        let action = match r.action {
            ModelAction::Create => "create",
            ModelAction::Update => "update",
            ModelAction::NoOp => "no-op",
            ModelAction::DeleteCreate | ModelAction::CreateDelete => "replace",
        };
        for (block, rule) in rules {
            let reach = oracle_protocol(Some(&rule.protocol));
            for policy in &policies.policies {
                let mut opened = BTreeSet::new();
                for spec in &policy.ports {
                    for port in u32::from(spec.range.from)..=u32::from(spec.range.to) {
                        if oracle_opens(reach, rule.from, rule.to, spec.protocol, port) {
                            opened.insert((spec.protocol.as_str().to_string(), port as u16));
                        }
                    }
                }
                if opened.is_empty() {
                    continue;
                }
                for (family, texts) in [(Family::Ipv4, &rule.v4), (Family::Ipv6, &rule.v6)] {
                    if !oracle_covers_world(texts, family) {
                        continue;
                    }
                    let zero: Vec<String> = texts
                        .iter()
                        .filter(|t| block_of(t).is_some_and(|b| b.3 == 0))
                        .cloned()
                        .collect();
                    out.push(Seen {
                        address: address(r),
                        rule_id: policy.meta.id.clone(),
                        kind: FindingKind::Exposed,
                        block: block.map(|i| format!("ingress[{i}]")),
                        family: Some(family),
                        resource_type: r.kind.type_name().to_string(),
                        action: action.to_string(),
                        ports: opened.clone(),
                        cidrs: if zero.is_empty() { texts.clone() } else { zero },
                        protocol: Some(rule.protocol.clone()),
                        from: rule.from,
                        to: rule.to,
                    });
                }
            }
        }
    }
    out.sort();
    out
}

type Variant = (Shape, Layout, Escapes, Encoding);

fn check_round_trip(model: &PlanModel, variants: &[Variant]) -> Result<Vec<Seen>, TestCaseError> {
    let policies = repo_policies();
    let expected = oracle_findings(model, policies);
    let scanned = model.resources.iter().filter(|r| r.kind.scanned()).count();
    let mut first: Option<(Variant, Vec<portgate::GatedFinding>)> = None;
    let mut plain: BTreeMap<Shape, serde_json::Value> = BTreeMap::new();
    for &variant in variants {
        let (shape, layout, escapes, encoding) = variant;
        let document = plan_document(model, shape);
        let text = write_json(&document, layout, escapes);
        // The writer itself: every layout and escape is the same JSON.
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            TestCaseError::fail(format!("{variant:?}: the test wrote bad JSON: {e}"))
        })?;
        let reference = plain.entry(shape).or_insert_with(|| {
            serde_json::from_str(&write_json(&document, Layout::Compact, Escapes::Raw)).unwrap()
        });
        prop_assert_eq!(
            &value,
            &*reference,
            "{:?}: the writer changed the JSON",
            variant
        );

        let bytes = encode(&text, encoding);
        let report = check(&bytes, "plan.json", policies, &CheckOptions::default())
            .map_err(|e| TestCaseError::fail(format!("{variant:?}: {e}")))?;
        prop_assert_eq!(
            report.plan.format_version.as_str(),
            shape.format_version(),
            "{:?}",
            variant
        );
        prop_assert_eq!(
            report.plan.terraform_version.as_deref(),
            shape.terraform_version()
        );
        prop_assert_eq!(report.resources_scanned, scanned, "{:?}", variant);
        let mut got: Vec<Seen> = report.findings.iter().map(|g| seen(&g.finding)).collect();
        got.sort();
        prop_assert_eq!(&got, &expected, "{:?}", variant);
        match &first {
            None => first = Some((variant, report.findings.clone())),
            Some((base, findings)) => prop_assert_eq!(
                &report.findings,
                findings,
                "{:?} and {:?} differ",
                variant,
                base
            ),
        }
    }
    Ok(expected)
}

fn variant() -> impl Strategy<Value = Variant> {
    (
        select(&SHAPES[..]),
        select(&LAYOUTS[..]),
        select(&ESCAPES[..]),
        select(&ENCODINGS[..]),
    )
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn every_shape_layout_and_encoding_of_a_plan_gives_the_oracle_findings(
        model in plan_model(),
        variants in prop::collection::vec(variant(), 6),
    ) {
        let mut all = vec![(Shape::Tf19, Layout::Compact, Escapes::Raw, Encoding::Utf8)];
        all.extend(variants);
        check_round_trip(&model, &all)?;
    }
}

/// One resource of every kind, in the root module and in child modules, with count and
/// for_each keys and every action: read in every shape × layout, and every escape × encoding.
#[test]
fn a_plan_of_every_resource_kind_reads_the_same_in_every_variant() {
    let rule = |protocol: &str, from: i64, to: i64, v4: &[&str], v6: &[&str]| ModelRule {
        protocol: protocol.into(),
        from: Some(from),
        to: Some(to),
        v4: v4.iter().map(|s| s.to_string()).collect(),
        v6: v6.iter().map(|s| s.to_string()).collect(),
    };
    let resource = |kind, module, key, action, rules: Vec<ModelRule>| ModelResource {
        kind,
        name: String::new(),
        module,
        key,
        action,
        rules,
    };
    let mut model = PlanModel {
        resources: vec![
            resource(
                Kind::Sg,
                None,
                InstanceKey::Single,
                ModelAction::Create,
                vec![
                    rule("tcp", 22, 22, &["0.0.0.0/0"], &[]),
                    rule(
                        "tcp",
                        0,
                        65535,
                        &["10.0.0.0/8", "0.0.0.0/1", "128.0.0.0/1"],
                        &["::/0"],
                    ),
                    rule("-1", 0, 0, &["1.2.3.4/0"], &[]),
                ],
            ),
            resource(
                Kind::DefaultSg,
                Some(0),
                InstanceKey::Single,
                ModelAction::Update,
                vec![rule("udp", 137, 138, &[], &["::/1", "8000::/1"])],
            ),
            resource(
                Kind::SgRule,
                Some(1),
                InstanceKey::Count(1),
                ModelAction::NoOp,
                vec![rule(
                    "6",
                    139,
                    139,
                    &["0.0.0.0/0", "10.0.0.0/8"],
                    &["2001:db8::/32"],
                )],
            ),
            resource(
                Kind::SgEgressRule,
                Some(2),
                InstanceKey::Single,
                ModelAction::Create,
                vec![rule("-1", 0, 0, &["0.0.0.0/0"], &["::/0"])],
            ),
            resource(
                Kind::VpcIngress,
                Some(5),
                InstanceKey::Each("a.b"),
                ModelAction::DeleteCreate,
                vec![rule("17", 445, 445, &[], &["2001:DB8::5/0"])],
            ),
            resource(
                Kind::VpcIngress,
                Some(3),
                InstanceKey::Each("Zoë"),
                ModelAction::CreateDelete,
                vec![rule("tcp", 443, 22, &["0.0.0.0/0"], &[])],
            ),
            resource(
                Kind::Vpc,
                None,
                InstanceKey::Single,
                ModelAction::Create,
                vec![],
            ),
            resource(
                Kind::Bucket,
                Some(4),
                InstanceKey::Single,
                ModelAction::Create,
                vec![],
            ),
            resource(
                Kind::DataSg,
                Some(0),
                InstanceKey::Single,
                ModelAction::Create,
                vec![],
            ),
            resource(
                Kind::DeletedSg,
                None,
                InstanceKey::Count(0),
                ModelAction::Create,
                vec![],
            ),
            resource(
                Kind::VpcEgress,
                None,
                InstanceKey::Single,
                ModelAction::Create,
                vec![],
            ),
            resource(
                Kind::NaclRule,
                Some(5),
                InstanceKey::Single,
                ModelAction::Create,
                vec![],
            ),
        ],
    };
    for (i, r) in model.resources.iter_mut().enumerate() {
        r.name = format!("r{i}");
    }
    let mut variants = Vec::new();
    for shape in SHAPES {
        for layout in LAYOUTS {
            variants.push((shape, layout, Escapes::Raw, Encoding::Utf8));
        }
        for encoding in ENCODINGS {
            variants.push((shape, Layout::Compact, Escapes::Go, encoding));
        }
    }
    for escapes in ESCAPES {
        for encoding in ENCODINGS {
            variants.push((Shape::Tf19, Layout::Crlf, escapes, encoding));
        }
    }
    let expected = check_round_trip(&model, &variants).unwrap_or_else(|e| panic!("{e}"));
    let described: BTreeSet<(String, String, Option<Family>)> = expected
        .iter()
        .map(|s| (s.address.clone(), s.rule_id.clone(), s.family))
        .collect();
    assert_eq!(
        described,
        [
            ("aws_security_group.r0", "PG001", Family::Ipv4),
            ("aws_security_group.r0", "PG001", Family::Ipv6),
            ("aws_security_group.r0", "PG002", Family::Ipv4),
            ("aws_security_group.r0", "PG002", Family::Ipv6),
            (
                "module.app[1].module.inner.aws_vpc_security_group_ingress_rule.r4[\"a.b\"]",
                "PG002",
                Family::Ipv6
            ),
            (
                "module.net.aws_default_security_group.r1",
                "PG001",
                Family::Ipv6
            ),
            (
                "module.sg[\"prod\"].aws_security_group_rule.r2[1]",
                "PG001",
                Family::Ipv4
            ),
        ]
        .into_iter()
        .map(|(a, r, f)| (a.to_string(), r.to_string(), Some(f)))
        .collect(),
        "the oracle's own answer for this plan, worked out by hand"
    );
}

/// The real plans, decoded here, re-written in other layouts, escapes and encodings: the same
/// findings as the files as they are.
#[test]
fn real_plans_read_the_same_in_every_encoding() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/real");
    if !real.is_dir() {
        eprintln!(
            "notice: {} not found; real plans are not re-encoded",
            real.display()
        );
        return;
    }
    let policies = repo_policies();
    // The plans are in one directory per upstream repository; the top level holds metadata.
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&real).unwrap() {
        let dir = entry.unwrap().path();
        if dir.is_dir() {
            for file in std::fs::read_dir(&dir).unwrap() {
                let path = file.unwrap().path();
                if path.extension().is_some_and(|e| e == "json") {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    assert!(files.len() >= 40, "found {} real plans", files.len());
    let variants = [
        (Layout::Compact, Escapes::Raw, Encoding::Utf8Bom),
        (Layout::Crlf, Escapes::Go, Encoding::Utf16LeBom),
        (Layout::Indented, Escapes::Ascii, Encoding::Utf16Be),
        (Layout::Loose, Escapes::Everything, Encoding::Utf16BeBom),
    ];
    // Two variants per file, in turn, so each variant meets about half the files (the whole
    // product is slow in debug builds); every escape of every character only on small files.
    for (i, path) in files.into_iter().enumerate() {
        let bytes = std::fs::read(&path).unwrap();
        let text = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
            let units: Vec<u16> = rest
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).unwrap()
        } else {
            String::from_utf8(
                bytes
                    .strip_prefix(&[0xEF, 0xBB, 0xBF])
                    .unwrap_or(&bytes)
                    .to_vec(),
            )
            .unwrap()
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let original = check(&bytes, "plan.json", policies, &CheckOptions::default());
        let document = from_serde(&value);
        for (layout, escapes, encoding) in [variants[i % 4], variants[(i + 1) % 4]] {
            let escapes = if escapes == Escapes::Everything && bytes.len() > 150_000 {
                Escapes::Ascii
            } else {
                escapes
            };
            let rewritten = encode(&write_json(&document, layout, escapes), encoding);
            let again = check(&rewritten, "plan.json", policies, &CheckOptions::default());
            match (&original, &again) {
                (Ok(a), Ok(b)) => assert_eq!(
                    a.findings,
                    b.findings,
                    "{} as {layout:?} {escapes:?} {encoding:?}",
                    path.display()
                ),
                (Err(_), Err(_)) => {}
                _ => panic!(
                    "{} as {layout:?} {escapes:?} {encoding:?}: {:?} vs {:?}",
                    path.display(),
                    original
                        .as_ref()
                        .map(|r| r.findings.len())
                        .map_err(ToString::to_string),
                    again
                        .as_ref()
                        .map(|r| r.findings.len())
                        .map_err(ToString::to_string)
                ),
            }
        }
    }
}

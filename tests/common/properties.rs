//! What the property tests share (`tests/properties_*.rs`): the fixed seed, the policies of
//! `policies/`, and the brute-force oracles written from the rules as AWS and Terraform state
//! them (CIDRs as address intervals, protocols and ports), never from portgate's own code.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use portgate::policy::PolicySet;
use portgate::rules::cidr::Family;
use portgate::rules::protocol::L4;
use portgate::rules::{CidrEntry, CidrValue, RuleSet};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

#[path = "one_rule.rs"]
mod one_rule_file;
pub use one_rule_file::one_rule;

/// The seed of every property, unless `PROPTEST_RNG_SEED` says otherwise.
pub const SEED: u64 = 0x5eed_0008;

/// `cases` cases from a fixed seed; `PROPTEST_CASES` and `PROPTEST_RNG_SEED` override both
/// (`PROPTEST_CASES=20000 PROPTEST_RNG_SEED=7 cargo test --release --test properties_patch`).
pub fn config(cases: u32) -> ProptestConfig {
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
pub fn repo_policies() -> &'static PolicySet {
    static POLICIES: std::sync::OnceLock<PolicySet> = std::sync::OnceLock::new();
    POLICIES.get_or_init(|| {
        let mut set = PolicySet::default();
        set.load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"))
            .expect("policies/*.toml load");
        set
    })
}

// ---- oracle: CIDRs as address intervals ----------------------------------------------------

pub fn bits(family: Family) -> u32 {
    match family {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    }
}

/// The lowest `n` bits set.
pub fn ones(n: u32) -> u128 {
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
pub fn block_of(text: &str) -> Option<(Family, u128, u128, u32)> {
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
pub fn oracle_covers_world(texts: &[String], family: Family) -> bool {
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
pub enum Reach {
    Every,
    Only(L4),
    NoPorts,
}

/// Go's `strconv.Atoi`: an optional sign and at least one decimal digit, nothing else.
pub fn go_atoi(text: &str) -> Option<i64> {
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

pub fn oracle_protocol(text: Option<&str>) -> Reach {
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
pub fn oracle_opens(reach: Reach, from: Option<i64>, to: Option<i64>, l4: L4, port: u32) -> bool {
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
pub fn expand_ports(ports: &[String]) -> BTreeSet<(String, u16)> {
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
pub fn one_rule_from_texts(
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

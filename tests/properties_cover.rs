//! Property: CIDR world cover. Random IPv4 and IPv6 CIDR sets (splits of the whole space at
//! every prefix length, damaged or not, plus random extras, host bits, odd spellings) are the
//! world for [`cidr::covers_world`] and for the evaluator exactly when the union of their
//! address intervals (u32 / u128, sorted and merged) is `[0, MAX]`.
//!
//! The oracles and the seed are shared (`tests/common/properties.rs`); `tests/oracle.rs` checks
//! the evaluator on a small fixed sample. Seeds are fixed (override with `PROPTEST_RNG_SEED`),
//! so a run is reproducible.

#[path = "common/properties.rs"]
mod properties;
use properties::*;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use portgate::policy::{FindingKind, evaluate};
use portgate::rules::cidr::{self, Family};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestCaseError, TestRunner};

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

//! The last step before a fix is offered: apply every fix to the rules it changes, evaluate the
//! policies again on the result, and withdraw the fixes of every security group that would still
//! open a guarded port to the world.
//!
//! A patch can leave the hole open in ways a rule-by-rule view does not see: trusted CIDRs that
//! are public and, with what another rule of the group keeps, cover the world again (`0.0.0.0/1`
//! trusted beside a rule that keeps `128.0.0.0/1`), or a cover that only the rules portgate
//! could not patch would close. The same policy engine that found the hole decides, on the same
//! group model, so a fix is only offered when, with every offered change made, no guarded port
//! of its group is open to the world.

use std::collections::{BTreeMap, BTreeSet};

use super::patch::World;
use crate::config::TrustedCidr;
use crate::policy::{FindingKind, PolicySet};
use crate::rules::{CidrEntry, CidrValue, RuleSet, cidr};

/// One fix as a change of the rule's sources: the world entries go, the trusted CIDRs of their
/// families come in. `advice_only` fixes (a prefix list entry to change by hand) take the world
/// entries away and add nothing.
pub(super) struct Change<'a> {
    pub world: &'a World,
    pub trusted: &'a [TrustedCidr],
}

/// The fixed rules (by index) whose group would still be open with every change made, each
/// with the reason to give instead of a patch.
pub(super) fn still_open(
    rules: &RuleSet,
    changes: &BTreeMap<usize, Change<'_>>,
    policies: &PolicySet,
) -> BTreeMap<usize, String> {
    if changes.is_empty() {
        return BTreeMap::new();
    }
    // Only the groups of the changed rules can be closed or left open by the changes: the
    // policies are evaluated again on their rules alone (each group whole), not on a copy of
    // every rule of the plan.
    let group_of = |index: usize| match &rules.rules[index].group {
        Some(group) => group.clone(),
        None => format!("rule {index}"),
    };
    let fixed_groups: BTreeSet<String> = changes.keys().map(|&i| group_of(i)).collect();
    let kept: Vec<usize> = (0..rules.rules.len())
        .filter(|&i| match &rules.rules[i].group {
            Some(group) => fixed_groups.contains(group),
            None => changes.contains_key(&i),
        })
        .collect();
    let mut patched = RuleSet::default();
    let mut resource_of: BTreeMap<usize, usize> = BTreeMap::new();
    for &i in &kept {
        let mut rule = rules.rules[i].clone();
        rule.resource = *resource_of.entry(rule.resource).or_insert_with(|| {
            patched
                .resources
                .push(rules.resources[rule.resource].clone());
            patched.resources.len() - 1
        });
        patched.rules.push(rule);
    }
    let position = |index: usize| {
        kept.binary_search(&index)
            .unwrap_or_else(|_| unreachable!("every changed rule is kept"))
    };
    for (&index, change) in changes {
        let rule = &mut patched.rules[position(index)];
        let attribute_of = |family: cidr::Family| {
            rule.cidrs
                .iter()
                .find(|c| {
                    c.text()
                        .and_then(cidr::parse)
                        .is_some_and(|n| cidr::family(&n) == family)
                })
                .map(|c| c.attribute)
                .unwrap_or(match family {
                    cidr::Family::Ipv4 => "cidr_blocks",
                    cidr::Family::Ipv6 => "ipv6_cidr_blocks",
                })
        };
        let added: Vec<CidrEntry> = change
            .trusted
            .iter()
            .filter(|t| change.world.members.contains_key(&cidr::family(&t.net)))
            .map(|t| CidrEntry {
                attribute: attribute_of(cidr::family(&t.net)),
                index: None,
                value: CidrValue::Literal(t.net.to_string()),
            })
            .collect();
        rule.cidrs
            .retain(|c| !c.text().is_some_and(|text| change.world.holds(text)));
        rule.cidrs.extend(added);
    }
    // Each rule's group (or the rule alone, when its group cannot be told).
    let mut open: BTreeMap<String, String> = BTreeMap::new();
    for finding in crate::policy::evaluate(&patched, policies) {
        if finding.kind == FindingKind::Exposed {
            open.entry(group_of(kept[finding.rule_index]))
                .or_insert(finding.message);
        }
    }
    changes
        .keys()
        .filter_map(|&index| {
            let group = group_of(index);
            let remains = open.get(&group)?;
            fixed_groups.contains(&group).then(|| {
                (
                    index,
                    format!(
                        "no patch is offered: with every suggested change made, the security group would still be open ({remains}); choose trusted CIDRs that do not, with the group's other sources, cover the world"
                    ),
                )
            })
        })
        .collect()
}

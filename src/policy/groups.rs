//! The group pass: AWS allows the union of every rule attached to a security group, so a world
//! split across rules of one group (`0.0.0.0/1` in one rule, `128.0.0.0/1` in another, or one
//! half on `tcp 445` and the other on protocol `-1`) is as open as `0.0.0.0/0` in one rule.
//!
//! For each group ([`crate::rules::IngressRule::group`]), policy, address family and guarded
//! port, the known CIDRs of every rule that certainly opens that port are unioned. Where the
//! union covers the family and no single rule does (a single rule is reported by the rule pass
//! already), every rule with CIDRs of that family on that port gets a finding that names the
//! other rules. Unknown values are the rule pass's business (PG003): a cover is only claimed
//! from known values.
//!
//! A rule whose group the plan cannot tell may belong to any group, so it could complete a
//! cover anywhere: when it opens a guarded port to public CIDRs it is PG003.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::eval::{
    Finding, FindingKind, PortMatch, base_finding, exposed_finding, port_match, world_entries,
};
use super::{Policy, PolicySet, PortSpec, unknown_value_meta};
use crate::rules::cidr::{self, Family};
use crate::rules::protocol::{L4, PortRange};
use crate::rules::{IngressRule, RuleSet};

/// Adds the findings of the group pass to `out`, which holds the rule pass's findings.
pub(super) fn evaluate_groups(set: &RuleSet, policies: &PolicySet, out: &mut Vec<Finding>) {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, rule) in set.rules.iter().enumerate() {
        if let Some(group) = &rule.group {
            groups.entry(group).or_default().push(index);
        }
    }
    for (group, members) in &groups {
        if members.len() < 2 {
            continue;
        }
        // Each member's CIDRs, per family, read once for every policy.
        for family in Family::ALL {
            let sources: Vec<Sources> = members
                .iter()
                .map(|&index| Sources::of(&set.rules[index], family))
                .collect();
            for policy in &policies.policies {
                union_findings(set, group, members, &sources, policy, family, out);
            }
        }
    }
    undetermined_groups(set, policies, out);
}

/// A rule's known CIDRs of one family, and what its own patch replaces when they cover the family
/// alone (see [`world_entries`]).
struct Sources {
    nets: Vec<IpNet>,
    texts: Vec<String>,
    world: Option<Vec<usize>>,
}

impl Sources {
    fn of(rule: &IngressRule, family: Family) -> Sources {
        let (nets, texts) = known_nets(rule, family);
        let world = world_entries(&nets, family);
        Sources { nets, texts, world }
    }
}

/// One rule of a group as the union sees it: the guarded ports it certainly opens and its known
/// CIDRs of one family.
struct Member<'r> {
    index: usize,
    hits: Vec<PortSpec>,
    nets: &'r [IpNet],
    texts: &'r [String],
    rule: &'r IngressRule,
    /// Its own CIDRs cover the family: the rule pass reports it, and its patch replaces
    /// `world` (see [`world_entries`]).
    alone: bool,
    world: &'r [usize],
}

/// `sources` holds the CIDRs of `family` of each of `members`, in the same order.
fn union_findings(
    set: &RuleSet,
    group: &str,
    members: &[usize],
    sources: &[Sources],
    policy: &Policy,
    family: Family,
    out: &mut Vec<Finding>,
) {
    let opening: Vec<Member<'_>> = members
        .iter()
        .zip(sources)
        .filter_map(|(&index, sources)| {
            let rule = &set.rules[index];
            if !rule.direction_known || sources.nets.is_empty() {
                return None;
            }
            let PortMatch::Opens(hits) = port_match(rule, policy) else {
                return None;
            };
            Some(Member {
                index,
                hits,
                nets: &sources.nets,
                texts: &sources.texts,
                rule,
                alone: sources.world.is_some(),
                world: sources.world.as_deref().unwrap_or_default(),
            })
        })
        .collect();
    if opening.len() < 2 {
        return;
    }
    // The rule pass's patches replace the world entries of the rules that cover alone. A port
    // is covered by the group when the union of what else its rules hold still covers the
    // family: then every rule opening it takes part, and the patches must go further.
    let replaced_by_rule_pass: Vec<(usize, usize)> = opening
        .iter()
        .enumerate()
        .flat_map(|(at, m)| m.world.iter().map(move |&entry| (at, entry)))
        .collect();
    // The ports the group covers, per member that does not cover alone, and the members that
    // open each such port (indexes into `opening`).
    let mut covered: BTreeMap<usize, Vec<PortSpec>> = BTreeMap::new();
    let mut covers: Vec<Vec<usize>> = Vec::new();
    for l4 in L4::ALL {
        // Every port where the set of opening members changes starts an interval.
        let mut points: Vec<u32> = opening
            .iter()
            .flat_map(|m| m.hits.iter().filter(|h| h.protocol == l4))
            .flat_map(|h| [u32::from(h.range.from), u32::from(h.range.to) + 1])
            .collect();
        points.sort_unstable();
        points.dedup();
        for pair in points.windows(2) {
            let (from, to) = (pair[0], pair[1] - 1);
            // The members opening this interval (indexes into `opening`).
            let here: Vec<usize> = (0..opening.len())
                .filter(|&at| {
                    opening[at].hits.iter().any(|h| {
                        h.protocol == l4
                            && u32::from(h.range.from) <= from
                            && from <= u32::from(h.range.to)
                    })
                })
                .collect();
            if here.len() < 2 || !still_covers(&opening, &here, &replaced_by_rule_pass, family) {
                continue;
            }
            let range = PortRange {
                from: from as u16,
                to: to as u16,
            };
            for m in here.iter().map(|&at| &opening[at]).filter(|m| !m.alone) {
                covered.entry(m.index).or_default().push(PortSpec {
                    protocol: l4,
                    range,
                });
            }
            covers.push(here);
        }
    }
    if covers.is_empty() {
        return;
    }
    let replaced = entries_to_replace(&opening, &covers, replaced_by_rule_pass, family);
    // A rule that covers alone may have to give up more than its world entries: its rule-pass
    // finding lists them, so its patch replaces them too.
    for m in opening.iter().filter(|m| m.alone) {
        let extra: Vec<&String> = replaced
            .iter()
            .filter(|(at, _)| opening[*at].index == m.index)
            .map(|(_, text)| text)
            .collect();
        let finding = out.iter_mut().find(|f| {
            f.rule_index == m.index
                && f.kind == FindingKind::Exposed
                && f.rule_id == policy.meta.id
                && f.family == Some(family)
        });
        if let Some(f) = finding {
            for text in extra {
                if !f.cidrs.contains(text) {
                    f.cidrs.push(text.clone());
                }
            }
            f.cidr = Some(f.cidrs.join(", "));
        }
    }
    for (index, ports) in &covered {
        let already = out.iter().any(|f| {
            f.rule_index == *index
                && f.kind == FindingKind::Exposed
                && f.rule_id == policy.meta.id
                && f.family == Some(family)
        });
        if already {
            continue;
        }
        let member = opening
            .iter()
            .find(|m| m.index == *index)
            .expect("a member");
        let mut others: Vec<usize> = covers
            .iter()
            .filter(|here| here.iter().any(|&at| opening[at].index == *index))
            .flat_map(|here| here.iter().map(|&at| opening[at].index))
            .filter(|other| other != index)
            .collect();
        others.sort_unstable();
        others.dedup();
        let others: Vec<String> = others
            .iter()
            .map(|other| rule_label(set, &set.rules[*other]))
            .collect();
        let ports = merge(ports);
        // The entries of this rule the patch replaces (possibly none: the other rules' then
        // close the cover).
        let mine: Vec<String> = replaced
            .iter()
            .filter(|(at, _)| opening[*at].index == *index)
            .map(|(_, text)| text.clone())
            .collect();
        let mut f = exposed_finding(set, member.rule, policy, family, &mine, &ports);
        if mine.is_empty() {
            f.cidr = None;
        }
        f.rule_index = *index;
        f.related = others.clone();
        let keep = if mine.is_empty() {
            "; its own CIDRs can stay: replacing the public ones of the other rules closes the cover".to_string()
        } else {
            String::new()
        };
        f.message = format!(
            "{} allows {} from {}; with {} of the same security group ({group}) this covers all of {}, and AWS allows the union of a group's rules: {} ({}) is open to the internet{keep}",
            rule_label(set, member.rule),
            super::eval::describe_traffic(member.rule),
            member.texts.join(", "),
            others.join(", "),
            family.as_str(),
            policy.meta.title.trim_end_matches(" open to the world"),
            f.ports.join(", "),
        );
        out.push(f);
    }
}

/// Which entries a patch must replace so that no covered port stays covered: the public entries
/// of the members, the largest networks first, until the union of what remains covers the
/// family on none of the ports in `covers` (each a list of indexes into `members`). Private
/// entries never need to go: they cannot cover a family. Returns (member index, entry text).
fn entries_to_replace(
    members: &[Member<'_>],
    covers: &[Vec<usize>],
    mut removed: Vec<(usize, usize)>,
    family: Family,
) -> Vec<(usize, String)> {
    let mut candidates: Vec<(usize, usize)> = members
        .iter()
        .enumerate()
        .flat_map(|(at, m)| (0..m.nets.len()).map(move |entry| (at, entry)))
        .filter(|&(at, entry)| cidr::is_public(&members[at].nets[entry]))
        .filter(|candidate| !removed.contains(candidate))
        .collect();
    candidates.sort_by_key(|&(at, entry)| (members[at].nets[entry].prefix_len(), at, entry));
    for candidate in candidates {
        if !covers
            .iter()
            .any(|here| still_covers(members, here, &removed, family))
        {
            break;
        }
        removed.push(candidate);
    }
    removed
        .into_iter()
        .map(|(at, entry)| (at, members[at].texts[entry].clone()))
        .collect()
}

/// Whether the members `here` (indexes into `members`) still cover the family without the
/// `removed` (member, entry) pairs.
fn still_covers(
    members: &[Member<'_>],
    here: &[usize],
    removed: &[(usize, usize)],
    family: Family,
) -> bool {
    let remaining: Vec<IpNet> = here
        .iter()
        .flat_map(|&at| {
            members[at]
                .nets
                .iter()
                .enumerate()
                .filter(move |(entry, _)| !removed.contains(&(at, *entry)))
                .map(|(_, net)| *net)
        })
        .collect();
    cidr::covers_world(&remaining, family)
}

/// A rule's known, valid CIDRs of `family`, parsed and as written.
fn known_nets(rule: &IngressRule, family: Family) -> (Vec<IpNet>, Vec<String>) {
    rule.cidrs
        .iter()
        .filter_map(|entry| {
            let text = entry.text()?;
            let net = cidr::parse(text)?;
            (cidr::family(&net) == family).then(|| (net, text.to_string()))
        })
        .unzip()
}

/// `aws_security_group.files ingress[1]`, or the address of a standalone rule.
fn rule_label(set: &RuleSet, rule: &IngressRule) -> String {
    let address = &set.resources[rule.resource].address;
    match rule.block_label() {
        Some(block) => format!("{address} {block}"),
        None => address.clone(),
    }
}

/// Adjacent or overlapping ranges of one protocol, merged.
fn merge(ports: &[PortSpec]) -> Vec<PortSpec> {
    let mut sorted: Vec<PortSpec> = ports.to_vec();
    sorted.sort_by_key(|p| (p.protocol.as_str(), p.range.from));
    let mut merged: Vec<PortSpec> = Vec::new();
    for port in sorted {
        match merged.last_mut() {
            Some(last)
                if last.protocol == port.protocol
                    && u32::from(port.range.from) <= u32::from(last.range.to) + 1 =>
            {
                last.range.to = last.range.to.max(port.range.to);
            }
            _ => merged.push(port),
        }
    }
    merged
}

/// PG003 for a standalone rule whose group the plan cannot tell and that opens a guarded port
/// (or may) to public CIDRs: with other rules of whatever group it lands in, it could cover the
/// world. Rules that already have a finding of a policy are not reported again for it.
fn undetermined_groups(set: &RuleSet, policies: &PolicySet, out: &mut Vec<Finding>) {
    // The policies each rule already has a finding of, gathered the first time a rule needs
    // them (a scan of every finding per rule would take quadratic time on a plan of many).
    let mut reported_ids: Option<std::collections::HashMap<usize, Vec<String>>> = None;
    for (index, rule) in set.rules.iter().enumerate() {
        if rule.group.is_some() || rule.block.is_some() {
            continue;
        }
        let public: Vec<String> = Family::ALL
            .iter()
            .flat_map(|family| known_nets(rule, *family).1)
            .filter(|text| cidr::parse(text).is_some_and(|net| cidr::is_public(&net)))
            .collect();
        if public.is_empty() {
            continue;
        }
        let ids = reported_ids
            .get_or_insert_with(|| {
                let mut ids: std::collections::HashMap<usize, Vec<String>> = Default::default();
                for f in out.iter() {
                    ids.entry(f.rule_index).or_default().push(f.rule_id.clone());
                }
                ids
            })
            .get(&index);
        let reported = |id: &str| ids.is_some_and(|ids| ids.iter().any(|i| i == id));
        if reported(&unknown_value_meta().id) {
            continue;
        }
        let could: Vec<(&Policy, Vec<PortSpec>)> = policies
            .policies
            .iter()
            .filter(|p| !reported(&p.meta.id))
            .filter_map(|p| match port_match(rule, p) {
                PortMatch::Opens(ports) | PortMatch::Maybe(ports) => Some((p, ports)),
                PortMatch::No => None,
            })
            .collect();
        if could.is_empty() {
            continue;
        }
        let meta = unknown_value_meta();
        let mut f = base_finding(set, rule, &meta, FindingKind::Unknown);
        f.rule_index = index;
        f.related = could.iter().map(|(p, _)| p.meta.id.clone()).collect();
        f.ports = could
            .iter()
            .flat_map(|(_, ports)| ports.iter().map(ToString::to_string))
            .collect();
        f.message = format!(
            "{}: the security group it belongs to is {}, so portgate cannot union it with the group's other rules; it allows {} from public CIDRs ({}) and could complete a world cover that violates {}",
            rule_label(set, rule),
            match set.input {
                crate::plan::InputKind::Plan =>
                    "unknown until apply (its security_group_id is not a plain reference to a group of this plan)",
                crate::plan::InputKind::State =>
                    "not recorded (its security_group_id is missing from the state)",
            },
            super::eval::describe_traffic(rule),
            public.join(", "),
            could
                .iter()
                .map(|(p, _)| format!("{} {}", p.meta.id, p.meta.title))
                .collect::<Vec<_>>()
                .join(" and "),
        );
        if let Some(note) = &rule.note {
            f.message.push_str(&format!(" ({note})"));
        }
        out.push(f);
    }
}

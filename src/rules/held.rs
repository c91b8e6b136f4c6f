//! The rules of taken resources (see [`super::intake`]), held compactly until the plan is read,
//! and the choice of those the rule set needs.
//!
//! **Held compactly.** A taken resource is kept as one postcard record (its
//! [`super::CheckedResource`], rules, group hint and VPC id, with each rule's JSON path left out:
//! it follows from the resource's), a few hundred bytes in a chunk of a shared arena rather
//! than a tree of allocations. A chunk is freed as soon as every record in it is superseded
//! (`planned_values` twins, once their change record is read).
//!
//! **Chosen.** Where rules may be set aside (no report lists every rule, no sources to prove
//! patches with), a held resource whose rules can take part in no finding is not put back in
//! the rule set: it is counted with the resources set aside, and a current group among them
//! leaves a [`SetAsideGroup`]. The argument, rule by rule of the policy stage:
//! - PG001/PG002 of one rule (its own CIDRs cover a family) and of a group (the union of its
//!   rules' CIDRs covers it) both need the union of the known CIDRs of the group's rules that
//!   may touch a guarded port to cover a family. That union is accumulated per group as the
//!   plan streams (per group key before the plan tells which ids are groups of the plan; a few
//!   merged networks per group, not a list per rule) and completed, at the end, with the rules
//!   of the resources left raw. A group whose union covers no family is not at risk.
//! - PG003 (unknown values, a group the plan cannot tell) and PG004 (a CIDR that does not
//!   parse) are about one rule: a resource with such a rule that may touch a guarded port is
//!   always kept, and so is one with a waiver tag (a stale waiver is reported), a deposed
//!   object, or a group id that two groups of the plan claim.
//!
//! So a resource is put back when it must be kept or when its group is at risk; every rule of
//! a group at risk is then there for the group pass, for the proofs of the fixes and for their
//! messages, exactly as if every rule had been kept.

use std::collections::HashMap;

use ipnet::IpNet;

use super::cidr::{self, Family};
use super::group::GroupHint;
use super::intake::TakenRules;
use super::{IngressRule, Known, SetAsideGroup};

/// Chunks of the arena: large enough to hold many records, small enough to be freed early.
const CHUNK: usize = 256 * 1024;

/// What [`super::group`] will key a rule's group by, before the plan tells which ids belong to
/// groups of the plan: a current group's address, or a known `security_group_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum GroupKey {
    Address(Box<str>),
    Id(Box<str>),
}

impl GroupKey {
    /// The key of a resource's rules, from its hint (`None`: the group is unknown, or a deposed
    /// object, which is a group of its own).
    pub(super) fn of(hint: &GroupHint, address: &str, deposed: bool) -> Option<GroupKey> {
        match hint {
            GroupHint::Group { .. } if !deposed => Some(GroupKey::Address(address.into())),
            GroupHint::Group { .. } => None,
            GroupHint::Rule {
                id: Known::Known(Some(id)),
                ..
            } => Some(GroupKey::Id(id.as_str().into())),
            GroupHint::Rule {
                id: Known::Unknown,
                reference: Some(address),
            } => Some(GroupKey::Address(address.as_str().into())),
            GroupHint::Rule { .. } => None,
        }
    }
}

/// The known networks of one group's rules that may touch a guarded port, both families,
/// merged now and then (most groups have a few).
#[derive(Default)]
struct Union {
    nets: Vec<IpNet>,
    /// Length when last merged.
    merged: u32,
}

impl Union {
    fn add(&mut self, net: IpNet) {
        self.nets.push(net);
        if self.nets.len() >= 2 * self.merged as usize + 8 {
            self.nets = IpNet::aggregate(&self.nets);
            self.merged = self.nets.len() as u32;
        }
    }

    fn covers_a_family(&self) -> bool {
        Family::ALL.iter().any(|family| {
            let nets: Vec<IpNet> = self
                .nets
                .iter()
                .filter(|net| cidr::family(net) == *family)
                .copied()
                .collect();
            cidr::covers_world(&nets, *family)
        })
    }
}

/// Where a held record is, and what the choice needs to know of it without reading it.
struct Record {
    chunk: u32,
    start: u32,
    len: u32,
    /// Index of its type in [`super::RESOURCE_TYPES`] (`u8::MAX`: the type is in the record).
    kind: u8,
    /// Its group is at risk (see [`Held::choose`]).
    at_risk: bool,
    /// Superseded or read back.
    released: bool,
    must_keep: bool,
    current_group: bool,
}

struct Chunk {
    bytes: Vec<u8>,
    live: u32,
    /// Bytes of its released records.
    released: usize,
}

/// The held records, by token.
#[derive(Default)]
pub(super) struct Held {
    chunks: Vec<Option<Chunk>>,
    records: Vec<Record>,
    /// Bytes of live records, and of released records whose chunks are still there: the
    /// arena is compacted when the second passes a quarter of the first (see `compact`), so
    /// that it holds at most a quarter more than its live records (and a chunk).
    live_bytes: usize,
    released_bytes: usize,
    scratch: Vec<u8>,
}

impl Held {
    /// Holds `taken` and returns its token. `concerns` (when rules may be set aside) says
    /// whether a rule may touch a guarded port; without it, every held resource is kept.
    pub(super) fn hold(
        &mut self,
        mut taken: TakenRules,
        concerns: Option<&dyn Fn(&IngressRule) -> bool>,
    ) -> u32 {
        let current_group =
            matches!(taken.hint, GroupHint::Group { .. }) && taken.resource.deposed.is_none();
        let must_keep = match concerns {
            Some(concerns) => {
                !taken.resource.tags.is_empty()
                    || GroupKey::of(
                        &taken.hint,
                        &taken.resource.address,
                        taken.resource.deposed.is_some(),
                    )
                    .is_none()
                    || taken
                        .rules
                        .iter()
                        .any(|rule| concerns(rule) && rule_must_be_kept(rule))
            }
            None => true,
        };
        // What follows from the rest is left out of the record (see `read`): the rules' JSON
        // paths (the resource's), the resource's type (its index) and the JSON path of a
        // change record's planned state (its index in `resource_changes`).
        for rule in &mut taken.rules {
            rule.json_path = String::new();
        }
        let kind = super::RESOURCE_TYPES
            .iter()
            .position(|t| *t == taken.resource.resource_type)
            .map_or(u8::MAX, |i| i as u8);
        if kind != u8::MAX {
            taken.resource.resource_type = String::new();
        }
        if let Some(n) = change_index(&taken.resource.json_path) {
            taken.resource.json_path = format!("#{n}");
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let scratch = postcard::to_extend(&taken, scratch)
            .expect("a rule record always serializes into a vector");
        let (chunk, start) = self.place(&scratch);
        self.live_bytes += scratch.len();
        self.records.push(Record {
            chunk,
            start,
            len: scratch.len() as u32,
            kind,
            at_risk: false,
            released: false,
            must_keep,
            current_group,
        });
        self.scratch = scratch;
        (self.records.len() - 1) as u32
    }

    /// Copies a record into the arena: (chunk, start).
    fn place(&mut self, record: &[u8]) -> (u32, u32) {
        let fits = matches!(
            self.chunks.last(),
            Some(Some(chunk)) if chunk.bytes.len() + record.len() <= chunk.bytes.capacity()
        );
        if !fits {
            self.chunks.push(Some(Chunk {
                bytes: Vec::with_capacity(CHUNK.max(record.len())),
                live: 0,
                released: 0,
            }));
        }
        let index = self.chunks.len() - 1;
        let chunk = self.chunks[index].as_mut().expect("the last chunk is open");
        let start = chunk.bytes.len();
        chunk.bytes.extend_from_slice(record);
        chunk.live += 1;
        (index as u32, start as u32)
    }

    /// Forgets a record (superseded): its chunk goes when nothing else in it is live, and the
    /// arena is compacted when released records take too much of it.
    pub(super) fn release(&mut self, token: u32) {
        let Some(record) = self.records.get_mut(token as usize).filter(|r| !r.released) else {
            return;
        };
        record.released = true;
        self.live_bytes -= record.len as usize;
        self.released_bytes += record.len as usize;
        let slot = &mut self.chunks[record.chunk as usize];
        if let Some(chunk) = slot {
            chunk.live -= 1;
            chunk.released += record.len as usize;
            if chunk.live == 0 {
                self.released_bytes -= chunk.released;
                *slot = None; // the next record opens a new chunk
            }
        }
        if self.released_bytes > CHUNK * 4 && self.released_bytes > self.live_bytes / 4 {
            self.compact();
        }
    }

    /// Moves the live records into new chunks, in token order (the order they were written
    /// in), freeing each old chunk once passed: the arena never holds more than the live
    /// records and one chunk more than it will hold after.
    fn compact(&mut self) {
        let mut old = std::mem::take(&mut self.chunks);
        let mut passed = 0;
        for token in 0..self.records.len() {
            let record = &self.records[token];
            if record.released {
                continue;
            }
            let (from, start, end) = (
                record.chunk as usize,
                record.start as usize,
                (record.start + record.len) as usize,
            );
            if from > passed {
                for chunk in &mut old[passed..from] {
                    *chunk = None;
                }
                passed = from;
            }
            let chunk = old[from]
                .as_ref()
                .expect("a chunk with a live record is kept");
            let (chunk, start) = self.place(&chunk.bytes[start..end]);
            let record = &mut self.records[token];
            record.chunk = chunk;
            record.start = start;
        }
        self.released_bytes = 0;
    }

    /// The record of `token`, read back (its rules' JSON paths restored), and forgotten.
    pub(super) fn take_back(&mut self, token: u32) -> TakenRules {
        let taken = self.read(token);
        self.release(token);
        taken
    }

    /// The record of `token`, read back (its rules' JSON paths restored).
    fn read(&self, token: u32) -> TakenRules {
        let record = &self.records[token as usize];
        assert!(
            !record.released,
            "the plan only places records it did not supersede"
        );
        let chunk = self.chunks[record.chunk as usize]
            .as_ref()
            .expect("a chunk with a live record is kept");
        let bytes = &chunk.bytes[record.start as usize..(record.start + record.len) as usize];
        let mut taken: TakenRules =
            postcard::from_bytes(bytes).expect("a record reads back as it was written");
        if let Some(kind) = super::RESOURCE_TYPES.get(usize::from(record.kind)) {
            taken.resource.resource_type = kind.to_string();
        }
        if let Some(n) = taken.resource.json_path.strip_prefix('#') {
            taken.resource.json_path = format!("resource_changes[{n}].change.after");
        }
        for rule in &mut taken.rules {
            rule.json_path = match rule.block {
                Some(i) => format!("{}.ingress[{i}]", taken.resource.json_path),
                None => taken.resource.json_path.clone(),
            };
        }
        taken
    }

    /// Whether the rule set needs the resource of `token`: without a choice (see [`Held::hold`])
    /// always.
    pub(super) fn needed(&self, token: u32) -> bool {
        let record = &self.records[token as usize];
        record.must_keep || record.at_risk
    }

    /// Whether the record of `token` is a current group (a dropped one leaves a
    /// [`SetAsideGroup`]).
    pub(super) fn is_current_group(&self, token: u32) -> bool {
        self.records[token as usize].current_group
    }

    /// Marks the held records whose group is at risk, once the plan is read. `raw` are the
    /// rules of the resources left raw with their group key, `raw_groups` the `(id, address)`
    /// of the current groups left raw, `set_aside` the groups the intake set aside; only rules
    /// that may touch a guarded port (`concerns`) count. The records are read twice: for the
    /// ids of the groups, then for the unions (kept per group only now, not while the plan
    /// streams).
    pub(super) fn choose(
        &mut self,
        raw: &[(GroupKey, &IngressRule)],
        raw_groups: &[(&str, &str)],
        set_aside: &[SetAsideGroup],
        concerns: &dyn Fn(&IngressRule) -> bool,
    ) {
        let live = |records: &[Record]| -> Vec<u32> {
            (0..records.len() as u32)
                .filter(|&t| !records[t as usize].released)
                .collect()
        };
        let tokens = live(&self.records);
        let held_groups: Vec<(String, String)> = tokens
            .iter()
            .filter(|&&t| self.records[t as usize].current_group)
            .filter_map(|&t| match self.read(t) {
                TakenRules {
                    hint: GroupHint::Group { id: Some(id) },
                    resource,
                    ..
                } => Some((id, resource.address)),
                _ => None,
            })
            .collect();
        // Which groups of the plan each id names.
        let mut by_id: HashMap<&str, Vec<&str>> = HashMap::new();
        let groups = set_aside
            .iter()
            .filter_map(|g| Some((g.id.as_deref()?, g.address.as_str())))
            .chain(held_groups.iter().map(|(i, a)| (i.as_str(), a.as_str())))
            .chain(raw_groups.iter().copied());
        for (id, address) in groups {
            let addresses = by_id.entry(id).or_default();
            if !addresses.contains(&address) {
                addresses.push(address);
            }
        }
        // The groups an id names when two groups claim it: which of them the rules naming it
        // join is not for this choice to guess, so all of them are at risk.
        let claimed_twice: std::collections::HashSet<&str> = by_id
            .values()
            .filter(|addresses| addresses.len() > 1)
            .flatten()
            .copied()
            .collect();
        // `None`: an id two groups claim, or one of those groups.
        let group_of = |key: &GroupKey| -> Option<String> {
            match key {
                GroupKey::Address(address) if claimed_twice.contains(&**address) => None,
                GroupKey::Address(address) => Some(address.to_string()),
                GroupKey::Id(id) => match by_id.get(&**id).map(Vec::as_slice) {
                    None | Some([]) => Some(id.to_string()),
                    Some([address]) => Some(address.to_string()),
                    Some(_) => None,
                },
            }
        };
        // Each group's union, and the group of each held record (`None`: at risk).
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut unions: Vec<Union> = Vec::new();
        let mut add = |group: String, rules: &mut dyn Iterator<Item = &IngressRule>| -> u32 {
            let next = unions.len() as u32;
            let at = *index.entry(group).or_insert(next);
            if at == next {
                unions.push(Union::default());
            }
            for rule in rules.filter(|rule| concerns(rule)) {
                for net in rule.cidrs.iter().filter_map(|c| cidr::parse(c.text()?)) {
                    unions[at as usize].add(net);
                }
            }
            at
        };
        for (key, rule) in raw {
            if let Some(group) = group_of(key) {
                add(group, &mut std::iter::once(*rule));
            }
        }
        let mut group_of_record: Vec<(u32, Option<u32>)> = Vec::with_capacity(tokens.len());
        for &token in &tokens {
            let taken = self.read(token);
            let key = GroupKey::of(
                &taken.hint,
                &taken.resource.address,
                taken.resource.deposed.is_some(),
            );
            let group = key
                .as_ref()
                .and_then(group_of)
                .map(|group| add(group, &mut taken.rules.iter()));
            group_of_record.push((token, group));
        }
        let covers: Vec<bool> = unions.iter().map(Union::covers_a_family).collect();
        for (token, group) in group_of_record {
            self.records[token as usize].at_risk = group.is_none_or(|g| covers[g as usize]);
        }
    }
}

/// `n` when `json_path` is exactly `resource_changes[n].change.after` (written back the same).
fn change_index(json_path: &str) -> Option<u32> {
    let n = json_path
        .strip_prefix("resource_changes[")?
        .strip_suffix("].change.after")?;
    let index: u32 = n.parse().ok()?;
    (index.to_string() == n).then_some(index)
}

/// A rule that may touch a guarded port and has something the policy stage reports on its own
/// (PG003: unknown protocol, ports or direction; PG004: a CIDR that does not parse).
fn rule_must_be_kept(rule: &IngressRule) -> bool {
    rule.protocol == Known::Unknown
        || rule.from_port == Known::Unknown
        || rule.to_port == Known::Unknown
        || !rule.direction_known
        || rule.cidrs.iter().any(|c| match c.text() {
            Some(text) => cidr::parse(text).is_none(),
            None => true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;
    use crate::rules::{CheckedResource, CidrEntry, CidrValue};

    fn taken(i: usize) -> TakenRules {
        let path = format!("resource_changes[{i}].change.after");
        TakenRules {
            resource: CheckedResource {
                address: format!("aws_security_group_rule.r{i}"),
                resource_type: "aws_security_group_rule".to_string(),
                name: format!("r{i}"),
                action: Action::Create,
                deposed: None,
                json_path: path.clone(),
                module_calls: None,
                tags: Default::default(),
                plan_line: Some(i),
            },
            rules: vec![IngressRule {
                resource: 0,
                block: None,
                json_path: path,
                protocol: Known::Known(Some("tcp".to_string())),
                from_port: Known::Known(Some(445)),
                to_port: Known::Known(Some(445)),
                cidrs: vec![CidrEntry {
                    attribute: "cidr_blocks",
                    index: Some(0),
                    value: CidrValue::Literal(format!("10.{}.{}.0/24", i / 256 % 256, i % 256)),
                }],
                other_sources: Vec::new(),
                direction_known: true,
                unknown_attributes: Vec::new(),
                note: None,
                group: None,
            }],
            hint: GroupHint::Rule {
                id: Known::Known(Some(format!("sg-{}", i % 7))),
                reference: None,
            },
            vpc_id: None,
        }
    }

    /// Twins released out of order (as `resource_changes` supersedes `planned_values`): the
    /// arena is compacted, frees what it can, and every live record reads back as written.
    #[test]
    fn records_read_back_as_written_after_releases_and_compaction() {
        let n = 40_000;
        let mut held = Held::default();
        let concerns = |_: &IngressRule| true;
        for i in 0..n {
            assert_eq!(held.hold(taken(i), Some(&concerns)), i as u32);
        }
        let written: usize = held.live_bytes;
        // Release every other record, from the end: chunks empty late, so only compaction can
        // give their memory back.
        for i in (0..n).rev().filter(|i| i % 2 == 0) {
            held.release(i as u32);
        }
        let allocated: usize = held
            .chunks
            .iter()
            .flatten()
            .map(|c| c.bytes.capacity())
            .sum();
        assert!(
            allocated < written * 3 / 4 + 2 * CHUNK,
            "{allocated} bytes allocated for {} live of {written} written",
            held.live_bytes
        );
        for i in (0..n).filter(|i| i % 2 == 1) {
            let back = held.take_back(i as u32);
            let expected = taken(i);
            assert_eq!(back.resource, expected.resource);
            assert_eq!(back.rules, expected.rules);
            assert_eq!(back.hint, expected.hint);
        }
        assert_eq!(held.live_bytes, 0);
    }

    /// Groups at risk: a union that covers a family across keys of one group (its address and
    /// an id that names it), and one that does not.
    #[test]
    fn a_group_is_at_risk_when_its_rules_cover_a_family_together() {
        let concerns = |_: &IngressRule| true;
        let mut held = Held::default();
        let rule = |address: &str, hint: GroupHint, cidr: &str| {
            let mut t = taken(0);
            t.resource.address = address.to_string();
            t.rules[0].cidrs[0].value = CidrValue::Literal(cidr.to_string());
            t.hint = hint;
            t
        };
        let group = |id: &str| GroupHint::Group {
            id: Some(id.to_string()),
        };
        let by_id = |id: &str| GroupHint::Rule {
            id: Known::Known(Some(id.to_string())),
            reference: None,
        };
        let a = held.hold(
            rule("aws_security_group.a", group("sg-a"), "0.0.0.0/1"),
            Some(&concerns),
        );
        let b = held.hold(
            rule("aws_security_group_rule.b", by_id("sg-a"), "128.0.0.0/1"),
            Some(&concerns),
        );
        let c = held.hold(
            rule("aws_security_group_rule.c", by_id("sg-c"), "128.0.0.0/1"),
            Some(&concerns),
        );
        held.choose(&[], &[], &[], &concerns);
        assert!(held.needed(a) && held.needed(b));
        assert!(!held.needed(c));
    }
}

//! What the rules stage does with each kept resource while the plan streams
//! ([`crate::plan::Collector`]): set it aside, take its rules at once, or leave it to the plan.
//!
//! Each resource's planned state is decoded once, here, into the shape of its type.
//!
//! **Set aside.** A resource is set aside only when its planned state proves, on its own, that
//! none of its ingress rules can touch a port any loaded policy guards: every protocol and port
//! is known and misses them all (the caller's `concerns` decides, with the policies), and
//! nothing else about it could show up in a report: no prefix list (a list outside the plan
//! gets a warning), no `portgate:waive` tag (a waiver that matches nothing is reported stale),
//! no deposed object, nothing that waits for the configuration. Such a rule yields no finding
//! of any kind: not PG001/PG002 (no guarded port), not PG003 (nothing unknown could open one),
//! not PG004 (an invalid CIDR is only reported where a guarded port is reachable), and it
//! cannot complete a group's cover (the group pass only unions rules that open a guarded port).
//! What a set-aside group still tells the rest ([`SetAsideGroup`]) is kept: its `id` (rules of
//! the plan name their group by it) and its known `vpc_id` (the CIDRs a fix suggests for the
//! group's other rules). The count of set-aside resources keeps `resources_scanned` exact.
//!
//! **Taken.** A resource whose rules need nothing but its own planned state is turned into
//! them at once ([`super::CheckedResource`] and its [`super::IngressRule`]s), and its raw JSON
//! is dropped: every value its rules use is known (no CIDR to resolve through the
//! configuration, no prefix list, which may be defined anywhere in the plan), and so is the
//! group it belongs to (a rule's `security_group_id`, a group's `vpc_id`). Only the chain of
//! module calls, which the configuration at the end of the file gives, is filled in later.
//! [`super::extract_with`] puts taken resources back in the plan's order, so the rule set is
//! exactly what extracting the raw resources gives.
//!
//! **Left to the plan.** Everything else, and anything the fast typed read cannot decode, is
//! kept raw, so that its error is reported where and as it always was.

use std::collections::BTreeMap;

use serde_json::Value;

use super::group::GroupHint;
use super::held::Held;
use super::unknown::Unknown;
use super::{
    CheckedResource, CidrValue, Field, FieldReader, IngressRule, Known, RESOURCE_TYPES,
    SecurityGroupAfter, TypedAfter, inline_rule, security_group_rule, string_tags,
    vpc_ingress_rule,
};
use crate::plan::{Action, Collector, Offered, PlannedResource};

/// A current security group set aside: what the rules of the plan and the fixes still ask of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAsideGroup {
    pub address: String,
    /// Its planned `id`, when known.
    pub id: Option<String>,
    /// Its planned `vpc_id` (`None` for a known null: the default VPC).
    pub vpc_id: Option<String>,
}

/// The rules of a resource taken while the plan streamed, waiting for the rest of the plan.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct TakenRules {
    /// Its `module_calls` are filled in by [`super::extract_with`].
    pub resource: CheckedResource,
    /// Their `resource` index is set by [`super::extract_with`].
    pub rules: Vec<IngressRule>,
    pub hint: GroupHint,
    /// A current group's known `vpc_id`.
    pub vpc_id: Option<Option<String>>,
    /// Prefix list ids of its rules, known, whose entries are added once the plan is read
    /// (the lists may come later in it).
    pub prefix_lists: Vec<PrefixListIds>,
}

impl TakenRules {
    /// What a current group leaves when it is not held: the rules of the plan may name it.
    pub(super) fn into_set_aside_group(self) -> SetAsideGroup {
        SetAsideGroup {
            id: match self.hint {
                GroupHint::Group { id } => id,
                GroupHint::Rule { .. } => None,
            },
            vpc_id: self.vpc_id.flatten(),
            address: self.resource.address,
        }
    }
}

/// The known prefix list ids of one rule, waiting for the plan's prefix lists.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct PrefixListIds {
    /// Index of the rule among the resource's.
    pub rule: usize,
    /// `prefix_list_id` (of an `aws_vpc_security_group_ingress_rule`), else `prefix_list_ids`.
    pub scalar: bool,
    pub ids: Vec<String>,
}

/// Known ids of a prefix-list attribute: `None` when the list or an id is unknown until apply.
fn known_ids(ids: Option<Vec<Option<String>>>) -> Option<Vec<String>> {
    ids?.into_iter().collect()
}

/// What the plan's reader handed over: the groups set aside and the resources taken, by token.
#[derive(Default)]
pub struct Collected<'c> {
    pub(super) groups: Vec<SetAsideGroup>,
    pub(super) held: Held,
    /// When rules may be set aside: whether a rule may touch a guarded port.
    pub(super) concerns: Option<&'c dyn Fn(&IngressRule) -> bool>,
}

impl Collected<'_> {
    /// How many resources are held (taken and not superseded), and the bytes they take: what
    /// memory grows by with the rules that must wait for the end of the plan.
    pub fn held(&self) -> (usize, usize) {
        (self.held.len(), self.held.bytes())
    }

    /// Whether the held records passed their budget (see [`Intake::spilling_above`]): nothing
    /// was kept of them, and the plan must be read again.
    pub fn spilled(&self) -> bool {
        self.held.spilled()
    }

    /// Whether a second read (see [`Intake::narrowed`]) read another plan than the first: the
    /// file changed between them, and what it held cannot be trusted.
    pub fn saw_another_plan(&self) -> bool {
        self.held.saw_another_plan()
    }
}

/// Decides, resource by resource, what [`crate::plan::Plan::read_filtered`] may drop or hand
/// over (see the module documentation).
pub struct Intake<'c> {
    /// Whether a rule (its protocol and ports: nothing else is set) may touch a guarded port.
    concerns: &'c dyn Fn(&IngressRule) -> bool,
    /// Whether resources may be set aside (not when every rule must be listed).
    set_aside: bool,
    collected: Collected<'c>,
}

impl Collector for Intake<'_> {
    fn offer(&mut self, resource: &PlannedResource) -> Offered {
        if !resource.managed || !RESOURCE_TYPES.contains(&resource.resource_type.as_str()) {
            return Offered::Keep;
        }
        let Some(after) = &resource.after else {
            return Offered::Keep;
        };
        let unknown: Unknown = match &resource.after_unknown {
            Some(raw) => match serde_json::from_str(raw.get()) {
                Ok(value) => value,
                Err(_) => return Offered::Keep,
            },
            None => Unknown::Known,
        };
        let reader = FieldReader {
            unknown: &unknown,
            planned_only: resource.from_planned_values,
        };
        let Some((typed, tags)) = super::decode_after(&resource.resource_type, after.get()) else {
            return Offered::Keep;
        };
        if self.set_aside && self.can_set_aside(resource, &typed, &tags, &reader) {
            return Offered::SetAside;
        }
        match take(resource, &typed, tags, &reader) {
            Some(taken) => match self.collected.held.hold(taken, self.collected.concerns) {
                Ok(token) => Offered::Taken(token),
                Err(group) => {
                    self.collected.groups.extend(group);
                    Offered::SetAside
                }
            },
            None => Offered::Keep,
        }
    }

    fn superseded(&mut self, token: u32) {
        self.collected.held.release(token);
    }
}

impl<'c> Intake<'c> {
    /// `set_aside`: whether resources no policy can concern may be dropped.
    pub fn new(concerns: &'c dyn Fn(&IngressRule) -> bool, set_aside: bool) -> Self {
        Intake {
            concerns,
            set_aside,
            collected: Collected {
                concerns: set_aside.then_some(concerns),
                ..Collected::default()
            },
        }
    }

    /// An intake whose held records, past `budget` bytes, give way to a sketch of them (see
    /// `rules::spill`): the plan must then be read again, through [`Intake::narrowed`].
    pub fn spilling_above(mut self, budget: usize) -> Self {
        if self.set_aside {
            self.collected.held = Held::spilling_above(budget);
        }
        self
    }

    /// The intake of a second read (see `rules::spill`): resources may be set aside.
    pub fn narrowed(
        concerns: &'c dyn Fn(&IngressRule) -> bool,
        narrowing: super::Narrowing,
    ) -> Self {
        let mut intake = Intake::new(concerns, true);
        intake.collected.held = Held::narrowed(narrowing);
        intake
    }

    /// What the reader handed over, for [`super::extract_with`].
    pub fn finish(self) -> Collected<'c> {
        self.collected
    }

    /// True when `resource` cannot matter (see the module documentation): the reader may
    /// drop it. A current group set aside is recorded.
    fn can_set_aside(
        &mut self,
        resource: &PlannedResource,
        typed: &TypedAfter,
        tags: &Option<BTreeMap<String, Value>>,
        reader: &FieldReader<'_>,
    ) -> bool {
        if resource.deposed.is_some()
            || matches!(resource.action, Action::Delete | Action::Forget)
            || waived(tags)
        {
            return false;
        }
        match typed {
            TypedAfter::Group(sg) => {
                if !self.inline_rules_miss(sg, reader) {
                    return false;
                }
                let Known::Known(vpc_id) = reader.scalar(&sg.vpc_id, "vpc_id") else {
                    return false;
                };
                self.collected.groups.push(SetAsideGroup {
                    address: resource.address.clone(),
                    id: reader.scalar(&sg.id, "id").known().cloned().flatten(),
                    vpc_id,
                });
                true
            }
            TypedAfter::Rule(r) => {
                match reader.scalar(&r.rule_type, "type") {
                    Known::Known(Some(t)) if t.eq_ignore_ascii_case("ingress") => {}
                    // An egress rule (or none): no ingress rule comes of it.
                    Known::Known(_) => return true,
                    Known::Unknown => return false,
                }
                no_list(reader, &r.prefix_list_ids, "prefix_list_ids")
                    && self.misses(reader, &r.protocol, &r.from_port, &r.to_port)
            }
            TypedAfter::VpcRule(r) => {
                reader.scalar(&r.prefix_list_id, "prefix_list_id") == Known::Known(None)
                    && self.misses(reader, &r.ip_protocol, &r.from_port, &r.to_port)
            }
        }
    }

    fn inline_rules_miss(&self, sg: &SecurityGroupAfter, reader: &FieldReader<'_>) -> bool {
        if reader.is_unknown("ingress") || (reader.planned_only && sg.ingress.is_none()) {
            return false;
        }
        let blocks = match &sg.ingress {
            Some(Some(blocks)) => blocks.as_slice(),
            _ => &[],
        };
        blocks.iter().enumerate().all(|(i, block)| {
            let Some(block) = block else {
                return false; // a wholly unknown element
            };
            let r = reader.element("ingress", i);
            no_list(&r, &block.prefix_list_ids, "prefix_list_ids")
                && self.misses(&r, &block.protocol, &block.from_port, &block.to_port)
        })
    }

    /// Whether a rule with these protocol and ports certainly touches no guarded port.
    fn misses(
        &self,
        reader: &FieldReader<'_>,
        protocol: &Field<String>,
        from_port: &Field<i64>,
        to_port: &Field<i64>,
    ) -> bool {
        let rule = IngressRule::new(
            0,
            None,
            String::new(),
            reader.scalar(protocol, "protocol"),
            reader.scalar(from_port, "from_port"),
            reader.scalar(to_port, "to_port"),
        );
        let known = [
            rule.protocol.known().is_some(),
            rule.from_port.known().is_some(),
            rule.to_port.known().is_some(),
        ];
        known.iter().all(|k| *k) && !(self.concerns)(&rule)
    }
}

/// The rules of `resource` when they need nothing but its planned state (see the module
/// documentation); `None` leaves it to the plan.
fn take(
    resource: &PlannedResource,
    typed: &TypedAfter,
    tags: Option<BTreeMap<String, Value>>,
    reader: &FieldReader<'_>,
) -> Option<TakenRules> {
    let after = resource.after.as_ref()?;
    let after_path = resource.after_path();
    let has_unknown_cidr =
        |rule: &IngressRule| rule.cidrs.iter().any(|c| c.value == CidrValue::Unknown);
    // A rule's prefix list entries are added after its own sources and before its unknown
    // ports are named: added at the end instead, they must have no unknown port to follow.
    let ports_known =
        |rule: &IngressRule| rule.from_port != Known::Unknown && rule.to_port != Known::Unknown;
    let mut prefix_lists = Vec::new();
    let (rules, hint, vpc_id) = match typed {
        TypedAfter::Group(sg) => {
            if reader.is_unknown("ingress") || (reader.planned_only && sg.ingress.is_none()) {
                return None; // whether it declares inline rules is the configuration's to say
            }
            let vpc_id = match resource.deposed {
                Some(_) => None,
                None => Some(reader.scalar(&sg.vpc_id, "vpc_id").known()?.clone()),
            };
            let blocks = match &sg.ingress {
                Some(Some(blocks)) => blocks.as_slice(),
                _ => &[],
            };
            let mut rules = Vec::with_capacity(blocks.len());
            for (i, block) in blocks.iter().enumerate() {
                let r = reader.element("ingress", i);
                let block = block.as_ref()?;
                let ids = known_ids(r.id_list(&block.prefix_list_ids, "prefix_list_ids"))?;
                // The prefix lists are added at the end (see `extract_with`).
                let rule = inline_rule(0, i, block, &r, &after_path, &mut |_, _| {});
                if has_unknown_cidr(&rule) || !(ids.is_empty() || ports_known(&rule)) {
                    return None;
                }
                if !ids.is_empty() {
                    prefix_lists.push(PrefixListIds {
                        rule: rules.len(),
                        scalar: false,
                        ids,
                    });
                }
                rules.push(rule);
            }
            let id = reader.scalar(&sg.id, "id").known().cloned().flatten();
            (rules, GroupHint::Group { id }, vpc_id)
        }
        TypedAfter::Rule(r) => {
            let id = reader.scalar(&r.security_group_id, "security_group_id");
            if id == Known::Unknown {
                return None;
            }
            let ids = known_ids(reader.id_list(&r.prefix_list_ids, "prefix_list_ids"))?;
            let rules: Vec<IngressRule> = security_group_rule(0, r, reader, &after_path)
                .into_iter()
                .collect();
            if rules.iter().any(has_unknown_cidr) {
                return None;
            }
            if !ids.is_empty() && !rules.is_empty() {
                prefix_lists.push(PrefixListIds {
                    rule: 0,
                    scalar: false,
                    ids,
                });
            }
            (
                rules,
                GroupHint::Rule {
                    id,
                    reference: None,
                },
                None,
            )
        }
        TypedAfter::VpcRule(r) => {
            let id = reader.scalar(&r.security_group_id, "security_group_id");
            let Known::Known(list) = reader.scalar(&r.prefix_list_id, "prefix_list_id") else {
                return None;
            };
            if id == Known::Unknown {
                return None;
            }
            let rule = vpc_ingress_rule(0, r, reader, &after_path);
            if has_unknown_cidr(&rule) {
                return None;
            }
            if let Some(list) = list {
                prefix_lists.push(PrefixListIds {
                    rule: 0,
                    scalar: true,
                    ids: vec![list],
                });
            }
            (
                vec![rule],
                GroupHint::Rule {
                    id,
                    reference: None,
                },
                None,
            )
        }
    };
    // Held until the plan is read: no spare capacity.
    let mut rules = rules;
    rules.shrink_to_fit();
    for rule in &mut rules {
        rule.cidrs.shrink_to_fit();
        rule.other_sources.shrink_to_fit();
        rule.unknown_attributes.shrink_to_fit();
    }
    Some(TakenRules {
        resource: CheckedResource {
            address: resource.address.clone(),
            resource_type: resource.resource_type.clone(),
            name: resource.name.clone(),
            action: resource.action.clone(),
            deposed: resource.deposed.clone(),
            json_path: after_path,
            module_calls: None,
            tags: string_tags(tags),
            plan_line: Some(after.line),
        },
        rules,
        hint,
        vpc_id,
        prefix_lists,
    })
}

/// The resource carries a `portgate:waive` tag: the waiver must be seen, matched or stale.
fn waived(tags: &Option<BTreeMap<String, Value>>) -> bool {
    tags.as_ref()
        .is_some_and(|tags| tags.contains_key(super::WAIVER_TAG))
}

/// A prefix-list attribute that is known and empty (null or `[]`).
fn no_list(reader: &FieldReader<'_>, field: &Field<Vec<Option<String>>>, key: &str) -> bool {
    match reader.scalar(field, key) {
        Known::Known(None) => true,
        Known::Known(Some(list)) => list.is_empty(),
        Known::Unknown => false,
    }
}

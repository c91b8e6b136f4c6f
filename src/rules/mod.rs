//! Stage 2: planned resources → normalized ingress rules.
//!
//! Four resource types can let traffic into a VPC security group, each with its own attribute
//! names: inline `ingress` blocks of `aws_security_group` / `aws_default_security_group`,
//! `aws_security_group_rule` (only `type = "ingress"`), and
//! `aws_vpc_security_group_ingress_rule`. This module reads each planned (after) state into one
//! shape, [`IngressRule`], and records precisely what is unknown until apply, so the policy
//! stage never has to know where a rule came from.
//!
//! Terraform's encoding rules that matter here:
//! - `null` is "not set", never "all": an unset `prefix_list_ids` is no prefix list and an
//!   unset `cidr_blocks` is no CIDR.
//! - A value unknown at plan time is *omitted* from `after` and marked `true` in
//!   `after_unknown`, at any depth (a whole `ingress` set, one element's `cidr_blocks`, or one
//!   element of a list, which is then `null` in `after`).
//! - In `planned_values` (no change record) unknown values are omitted with no marker, so an
//!   absent attribute there is unknown.
//!
//! What this stage does not do: decide whether a rule is dangerous. That is [`crate::policy`].

mod assemble;
pub mod cidr;
mod group;
mod held;
mod intake;
mod prefix_list;
pub mod protocol;
mod resolve;
mod spill;
mod unknown;
mod vpc;

use unknown::Unknown;

pub use assemble::Extraction;
pub use held::GroupTag;
pub use intake::{Collected, Intake, SetAsideGroup};
pub use prefix_list::PREFIX_LIST_TYPES;
pub use spill::Narrowing;
pub use vpc::{GroupVpc, VPC_TYPES};

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::plan::{Action, InputError, Plan, PlannedResource};
pub use crate::sources::ModuleCallSource;
use crate::sources::Sources;

/// The resource types portgate reads ingress rules from.
pub const RESOURCE_TYPES: [&str; 4] = [
    "aws_security_group",
    "aws_default_security_group",
    "aws_security_group_rule",
    "aws_vpc_security_group_ingress_rule",
];

/// The tag whose value holds waivers (`RULE: reason, until YYYY-MM-DD`), read by the gate.
pub const WAIVER_TAG: &str = "portgate:waive";

/// A value that is either known in the plan or only known after apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Known<T> {
    Known(T),
    Unknown,
}

impl<T> Known<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Known::Known(v) => Some(v),
            Known::Unknown => None,
        }
    }
}

/// A resource whose planned state was read for ingress rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedResource {
    pub address: String,
    pub resource_type: String,
    /// The block name: `web` in `module.net.aws_security_group.web[0]`.
    pub name: String,
    pub action: Action,
    pub deposed: Option<String>,
    /// JSON path of its planned values (`resource_changes[3].change.after`).
    pub json_path: String,
    /// The module calls from the root module down to the module that declares the resource,
    /// with their `source`, as the plan's configuration records them. Empty for root-module
    /// resources; `None` when the plan carries no configuration for the resource's module.
    pub module_calls: Option<Vec<ModuleCallSource>>,
    /// The resource's planned tags that portgate reads (string values only): `portgate:waive`,
    /// where waivers live.
    pub tags: BTreeMap<String, String>,
    /// 1-based line of its planned values in the plan file (as decoded), for reports that
    /// point into the plan when no source file is known.
    pub plan_line: Option<usize>,
}

/// Where one CIDR of a rule comes from, and its value if the plan has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CidrValue {
    /// Written in the plan's planned state.
    Literal(String),
    /// Unknown in the plan, but the configuration shows it is `reference` (a resource attribute)
    /// whose planned value is known.
    Resolved {
        value: String,
        reference: String,
    },
    /// An entry of the prefix list `list` (an address in the plan, or the id of a list outside
    /// it) that the rule names as a source.
    PrefixList {
        value: String,
        list: String,
    },
    Unknown,
}

/// One CIDR source of a rule: an element of `cidr_blocks`, a whole unknown list, or a scalar
/// `cidr_ipv4`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "CidrEntryRecord")]
pub struct CidrEntry {
    /// `cidr_blocks`, `ipv6_cidr_blocks`, `cidr_ipv4`, `cidr_ipv6` (or `ingress` when the whole
    /// rule set is unknown).
    pub attribute: &'static str,
    /// Index in the list attribute; `None` for scalars and wholly unknown lists.
    pub index: Option<usize>,
    pub value: CidrValue,
}

/// [`CidrEntry`] through serde (the rule records [`Intake`] keeps), its attribute as the index
/// of one of the names portgate gives.
#[derive(Serialize, Deserialize)]
struct CidrEntryRecord {
    attribute: u8,
    index: Option<usize>,
    value: CidrValue,
}

const CIDR_ATTRIBUTES: [&str; 8] = [
    "cidr_blocks",
    "ipv6_cidr_blocks",
    "cidr_ipv4",
    "cidr_ipv6",
    "prefix_list_ids",
    "prefix_list_id",
    "ingress",
    WHOLE_STATE,
];

impl From<CidrEntry> for CidrEntryRecord {
    fn from(entry: CidrEntry) -> Self {
        CidrEntryRecord {
            attribute: CIDR_ATTRIBUTES
                .iter()
                .position(|name| *name == entry.attribute)
                .map_or(u8::MAX, |i| i as u8),
            index: entry.index,
            value: entry.value,
        }
    }
}

// By hand: a derived impl would ask `'de: 'static` for the `&'static str`.
impl<'de> Deserialize<'de> for CidrEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let record = CidrEntryRecord::deserialize(d)?;
        Ok(CidrEntry {
            attribute: CIDR_ATTRIBUTES
                .get(usize::from(record.attribute))
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown CIDR attribute {}", record.attribute))
                })?,
            index: record.index,
            value: record.value,
        })
    }
}

impl CidrEntry {
    /// The CIDR text, when known (literally or through a resolved reference).
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            CidrValue::Literal(text)
            | CidrValue::Resolved { value: text, .. }
            | CidrValue::PrefixList { value: text, .. } => Some(text),
            CidrValue::Unknown => None,
        }
    }

    /// The address family an unknown entry would have, from its attribute name.
    pub fn attribute_family(&self) -> Option<cidr::Family> {
        match self.attribute {
            "cidr_blocks" | "cidr_ipv4" => Some(cidr::Family::Ipv4),
            "ipv6_cidr_blocks" | "cidr_ipv6" => Some(cidr::Family::Ipv6),
            _ => None,
        }
    }
}

/// One ingress rule in normalized form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngressRule {
    /// Index into [`RuleSet::resources`].
    pub resource: usize,
    /// Position in the resource's planned `ingress` list, for inline rules.
    pub block: Option<usize>,
    /// JSON path of the rule in the plan.
    pub json_path: String,
    /// The protocol as written in the plan (`tcp`, `6`, `-1`, …).
    pub protocol: Known<Option<String>>,
    pub from_port: Known<Option<i64>>,
    pub to_port: Known<Option<i64>>,
    pub cidrs: Vec<CidrEntry>,
    /// Non-CIDR sources (security groups, `self`, prefix lists), for display only: they never
    /// make a rule safe, nor do they open it to the world.
    pub other_sources: Vec<String>,
    /// False when an `aws_security_group_rule`'s `type` is unknown: it may be an egress rule.
    pub direction_known: bool,
    /// Names of the attributes that are unknown until apply.
    pub unknown_attributes: Vec<String>,
    /// Why the plan cannot settle this rule, when there is more to say than which attributes
    /// are unknown.
    pub note: Option<String>,
    /// The security group the rule belongs to (see `rules::group`); `None` when the plan cannot
    /// tell. AWS allows the union of every rule of a group, so rules are judged together.
    pub group: Option<String>,
}

impl IngressRule {
    /// The networks of its CIDRs whose text is known and parses (unknown and invalid ones are
    /// the policy stage's to report).
    pub(crate) fn known_nets(&self) -> impl Iterator<Item = ipnet::IpNet> + '_ {
        self.cidrs.iter().filter_map(|c| cidr::parse(c.text()?))
    }

    /// An ingress rule of resource `resource` with nothing but its protocol and ports: no
    /// sources yet, its direction known, nothing unknown, its group not yet assigned.
    pub fn new(
        resource: usize,
        block: Option<usize>,
        json_path: String,
        protocol: Known<Option<String>>,
        from_port: Known<Option<i64>>,
        to_port: Known<Option<i64>>,
    ) -> IngressRule {
        IngressRule {
            resource,
            block,
            json_path,
            protocol,
            from_port,
            to_port,
            cidrs: Vec::new(),
            other_sources: Vec::new(),
            direction_known: true,
            unknown_attributes: Vec::new(),
            note: None,
            group: None,
        }
    }

    pub fn block_label(&self) -> Option<String> {
        self.block.map(|i| format!("ingress[{i}]"))
    }
}

/// Every ingress rule of a plan, with the resources they belong to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    pub resources: Vec<CheckedResource>,
    pub rules: Vec<IngressRule>,
    /// Prefix lists that rules name but the plan does not define, each with the address of a
    /// resource naming it: their entries are not checked.
    pub unchecked_prefix_lists: Vec<(String, String)>,
    /// The VPC of each security group (by address) whose VPC CIDRs the plan shows: what a fix
    /// can suggest when no trusted CIDR was configured. A group set aside is listed only when
    /// a rule of this set names it.
    pub group_vpcs: BTreeMap<String, GroupVpc>,
    /// The root module's variable values in the plan, however they were set: a fix compares
    /// them with the file it would patch.
    pub root_variables: BTreeMap<String, Value>,
    /// A plan or a state: a state records no root variable values (see `root_variables`),
    /// so a fix cannot tell which of a variable's values was applied.
    pub input: crate::plan::InputKind,
    /// Checked resources the reader set aside because none of their rules can matter (see
    /// [`Intake`]): counted, not listed in `resources`.
    pub resources_set_aside: usize,
}

/// Reads the ingress rules of every checked resource in the plan. `sources`, the Terraform
/// root module the plan was made from, can prove what the plan's configuration only suggests
/// (see `rules::resolve`); without them those values stay unknown.
pub fn extract(plan: &Plan, sources: Option<&Sources>) -> Result<RuleSet, InputError> {
    extract_with(plan, sources, Collected::default())
}

/// A checked resource of the plan, in the plan's order: raw, or taken by the [`Intake`].
enum InOrder<'p> {
    Raw(&'p PlannedResource),
    Taken(&'p crate::plan::Taken),
}

/// The plan's raw resources with the taken ones back in their places.
fn in_order(plan: &Plan) -> impl Iterator<Item = InOrder<'_>> {
    let mut taken = plan.taken.iter().peekable();
    let mut raw = plan.resources.iter().enumerate().peekable();
    std::iter::from_fn(move || {
        let next_raw = raw.peek().map_or(usize::MAX, |(i, _)| *i);
        if let Some(t) = taken.next_if(|t| t.before <= next_raw) {
            return Some(InOrder::Taken(t));
        }
        raw.next().map(|(_, r)| InOrder::Raw(r))
    })
}

/// [`extract`] of a plan read through an [`Intake`]: `collected` holds the groups it set
/// aside, which rules of the plan may still name, and the rules of the resources it took.
pub fn extract_with(
    plan: &Plan,
    sources: Option<&Sources>,
    collected: Collected<'_>,
) -> Result<RuleSet, InputError> {
    Extraction::new(plan, sources, collected)?.into_rule_set()
}

/// The rules of the plan's raw resources, read in the plan's order, with the places of the
/// taken ones between them.
struct RawRead<'p> {
    resolver: resolve::Resolver<'p>,
    lists: prefix_list::PrefixLists,
    set: RuleSet,
    /// One per resource of `set`.
    hints: Vec<group::GroupHint>,
    /// Each current group's `vpc_id`, for the VPC CIDRs a fix can suggest (see `vpc`), with
    /// the index of its resource.
    group_vpc_ids: Vec<(usize, vpc::GroupVpcId<'p>)>,
    /// The taken resources, each with the number of raw resources before it: the raw ones are
    /// extracted first, into `set`, and the taken ones put back between them at the end.
    taken_places: Vec<(usize, &'p crate::plan::Taken)>,
    /// Where each raw resource's unchecked prefix lists start in `set.unchecked_prefix_lists`.
    pair_marks: Vec<usize>,
}

impl RawRead<'_> {
    /// `(id, address)` of the current groups among the raw resources that have a known id.
    fn groups(&self) -> Vec<(&str, &str)> {
        self.set
            .resources
            .iter()
            .zip(&self.hints)
            .filter(|(resource, _)| resource.deposed.is_none())
            .filter_map(|(resource, hint)| match hint {
                group::GroupHint::Group { id: Some(id) } => {
                    Some((id.as_str(), resource.address.as_str()))
                }
                _ => None,
            })
            .collect()
    }

    /// The rules that may touch a guarded port (`concerns`), with their group keys.
    fn concerning_rules(
        &self,
        concerns: &dyn Fn(&IngressRule) -> bool,
    ) -> Vec<(held::GroupKey<'_>, &IngressRule)> {
        let mut rules = Vec::new();
        for rule in self.set.rules.iter().filter(|rule| concerns(rule)) {
            let resource = &self.set.resources[rule.resource];
            let key = held::GroupKey::of(
                &self.hints[rule.resource],
                &resource.address,
                resource.deposed.is_some(),
            );
            rules.extend(key.map(|key| (key, rule)));
        }
        rules
    }
}

/// What a second read of a plan needs to hold only the rules that can take part in a finding,
/// from a first read that held too many (see `rules::spill`).
pub fn narrowing(
    plan: &Plan,
    sources: Option<&Sources>,
    collected: Collected<'_>,
) -> Result<spill::Narrowing, InputError> {
    let raw = read_raw(plan, sources)?;
    let concerns = collected
        .concerns
        .expect("only a read that may set rules aside spills");
    Ok(collected.held.narrowing(
        &raw.groups(),
        &collected.groups,
        &raw.concerning_rules(concerns),
        concerns,
    ))
}

/// Reads the rules of the plan's raw resources (see [`RawRead`]).
fn read_raw<'p>(plan: &'p Plan, sources: Option<&'p Sources>) -> Result<RawRead<'p>, InputError> {
    let resolver = resolve::Resolver::new(plan, sources);
    let lists = prefix_list::PrefixLists::read(plan, &resolver)?;
    let mut set = RuleSet::default();
    let mut hints: Vec<group::GroupHint> = Vec::new();
    let mut group_vpc_ids: Vec<(usize, vpc::GroupVpcId<'_>)> = Vec::new();
    let mut taken_places: Vec<(usize, &crate::plan::Taken)> = Vec::new();
    let mut pair_marks: Vec<usize> = Vec::new();
    // What a standalone rule says about its group when `security_group_id` is unknown, and
    // why the sources could not confirm the group the configuration suggests.
    let mut group_notes: Vec<(usize, String)> = Vec::new();
    let mut rule_hint = |resource: &PlannedResource, id: Known<Option<String>>, index: usize| {
        let reference = match id {
            Known::Unknown => match resolver.group_reference(resource) {
                Ok(address) => Some(address),
                Err(note) => {
                    group_notes.extend(note.map(|note| (index, note)));
                    None
                }
            },
            Known::Known(_) => None,
        };
        group::GroupHint::Rule { id, reference }
    };
    let is_group = |resource: &PlannedResource| {
        matches!(
            resource.resource_type.as_str(),
            "aws_security_group" | "aws_default_security_group"
        )
    };
    for item in in_order(plan) {
        let resource = match item {
            InOrder::Raw(resource) => resource,
            InOrder::Taken(place) => {
                taken_places.push((set.resources.len(), place));
                continue;
            }
        };
        if !resource.managed || !RESOURCE_TYPES.contains(&resource.resource_type.as_str()) {
            continue;
        }
        let Some(after) = &resource.after else {
            // Deleted or forgotten: it will not exist after apply. Any other action without a
            // planned state is an object Terraform knows nothing of until apply: jsonplan
            // writes `after: null` with `after_unknown: true` when the whole planned value is
            // unknown (internal/command/jsonplan/plan.go, `omitUnknowns` / `unknownAsBool`).
            // Nothing about its rules is known, so it cannot pass.
            if !matches!(resource.action, Action::Delete | Action::Forget) {
                hints.push(if is_group(resource) {
                    group::GroupHint::Group { id: None }
                } else {
                    rule_hint(resource, Known::Unknown, set.resources.len())
                });
                let index = set.resources.len();
                pair_marks.push(set.unchecked_prefix_lists.len());
                set.resources
                    .push(checked_resource(resource, &resolver, None, BTreeMap::new()));
                set.rules.push(unknown_rule(
                    index,
                    resource.after_path(),
                    WHOLE_STATE,
                    None,
                ));
            }
            continue;
        };
        let after_path = resource.after_path();
        let unknown: Unknown = match &resource.after_unknown {
            Some(raw) => plan.read_value(raw, &format!("{}.after_unknown", resource.json_path))?,
            None => Unknown::Known,
        };
        let reader = FieldReader {
            unknown: &unknown,
            planned_only: resource.from_planned_values,
        };
        let index = set.resources.len();
        let (typed, tags) = read_after(plan, resource, after, &after_path)?;
        let tags = string_tags(tags);
        pair_marks.push(set.unchecked_prefix_lists.len());
        set.resources.push(checked_resource(
            resource,
            &resolver,
            Some(after.line),
            tags,
        ));
        let mut rules = match typed {
            TypedAfter::Group(sg) => {
                hints.push(group::GroupHint::Group {
                    id: reader.scalar(&sg.id, "id").known().cloned().flatten(),
                });
                if resource.deposed.is_none() {
                    let vpc_id = match reader.scalar(&sg.vpc_id, "vpc_id") {
                        Known::Known(vpc_id) => vpc::GroupVpcId::Known {
                            address: resource.address.clone(),
                            vpc_id,
                        },
                        Known::Unknown => vpc::GroupVpcId::Unknown(resource),
                    };
                    group_vpc_ids.push((index, vpc_id));
                }
                let inline = Inline {
                    index,
                    resource,
                    sg: &sg,
                    after_path: &after_path,
                    resolver: &resolver,
                    lists: &lists,
                };
                inline_rules(&inline, &reader, &mut set.unchecked_prefix_lists)
            }
            TypedAfter::Rule(r) => {
                hints.push(rule_hint(
                    resource,
                    reader.scalar(&r.security_group_id, "security_group_id"),
                    index,
                ));
                let mut rules: Vec<IngressRule> =
                    security_group_rule(index, &r, &reader, &after_path)
                        .into_iter()
                        .collect();
                for rule in &mut rules {
                    let ids = reader.id_list(&r.prefix_list_ids, "prefix_list_ids");
                    let references = || {
                        resolver
                            .id_references(resource, "prefix_list_ids", &[PREFIX_LIST_TYPES[0]])
                            .ok()
                    };
                    let sources = lists.sources("prefix_list_ids", ids.as_deref(), references);
                    add_prefix_list_sources(
                        rule,
                        sources,
                        &resource.address,
                        &mut set.unchecked_prefix_lists,
                    );
                }
                rules
            }
            TypedAfter::VpcRule(r) => {
                hints.push(rule_hint(
                    resource,
                    reader.scalar(&r.security_group_id, "security_group_id"),
                    index,
                ));
                let mut rule = vpc_ingress_rule(index, &r, &reader, &after_path);
                let ids = match reader.scalar(&r.prefix_list_id, "prefix_list_id") {
                    Known::Known(id) => Some(id.into_iter().map(Some).collect::<Vec<_>>()),
                    Known::Unknown => None,
                };
                let references = || {
                    resolver
                        .id_references(resource, "prefix_list_id", &[PREFIX_LIST_TYPES[0]])
                        .ok()
                };
                let sources = lists.sources("prefix_list_id", ids.as_deref(), references);
                add_prefix_list_sources(
                    &mut rule,
                    sources,
                    &resource.address,
                    &mut set.unchecked_prefix_lists,
                );
                vec![rule]
            }
        };
        for rule in &mut rules {
            resolver.resolve_cidrs(resource, rule);
        }
        set.rules.extend(rules);
    }
    for rule in &mut set.rules {
        let resource = rule.resource;
        for (_, note) in group_notes.iter().filter(|(i, _)| *i == resource) {
            resolve::add_note(rule, note.clone());
        }
    }
    Ok(RawRead {
        resolver,
        lists,
        set,
        hints,
        group_vpc_ids,
        taken_places,
        pair_marks,
    })
}

/// Reads the raw resources' rules and chooses the held ones the rule set needs: everything
/// the rule set is assembled from (see [`Extraction`]).
fn prepare<'p>(
    plan: &'p Plan,
    sources: Option<&'p Sources>,
    collected: Collected<'_>,
) -> Result<Extraction<'p>, InputError> {
    let Collected {
        groups: mut set_aside,
        mut held,
        concerns,
    } = collected;
    let raw = read_raw(plan, sources)?;
    // Which taken resources the rule set needs (see `held`): every one, unless rules may be
    // set aside. Which group each key names: dropping resources below moves the groups among
    // them from the held records to `set_aside`, which names them alike: one grouping serves
    // both.
    let grouping = held.grouping(&raw.groups(), &set_aside);
    if let Some(concerns) = concerns {
        held.choose(&raw.concerning_rules(concerns), &grouping, concerns);
    }
    let RawRead {
        resolver,
        lists,
        set,
        hints,
        group_vpc_ids,
        taken_places,
        pair_marks,
    } = raw;
    // Resources not needed are dropped now, in the plan's order: the current groups among
    // them are set aside, and every rule set assembled below may name them.
    let mut dropped = 0;
    for (_, place) in &taken_places {
        if held.needed(place.token) {
            continue;
        }
        dropped += 1;
        if held.is_current_group(place.token) {
            set_aside.push(held.take_back(place.token).into_set_aside_group());
        } else {
            held.release(place.token);
        }
    }
    let raw = assemble::RawResource::split(
        set,
        hints,
        group_vpc_ids,
        pair_marks,
        |i, resource, hint| {
            let key = held::GroupKey::of(hint, &resource.address, resource.deposed.is_some());
            held.tag_of(key.as_ref(), &grouping, GroupTag::Raw(i as u32))
        },
    );
    Ok(Extraction {
        plan,
        resolver,
        lists,
        raw,
        taken: taken_places,
        set_aside,
        held,
        grouping,
        set_aside_count: plan.set_aside + dropped,
    })
}

/// The planned `tags` portgate reads ([`WAIVER_TAG`]), when a string: a plan of many tagged
/// rules does not keep every tag of each.
fn string_tags(tags: Option<BTreeMap<String, Value>>) -> BTreeMap<String, String> {
    tags.unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == WAIVER_TAG)
        .filter_map(|(k, v)| match v {
            Value::String(v) => Some((k, v)),
            _ => None,
        })
        .collect()
}

/// Adds the CIDRs a rule gets from prefix lists to its sources, and notes the lists that are
/// not in the plan.
fn add_prefix_list_sources(
    rule: &mut IngressRule,
    (entries, unchecked): (Vec<CidrEntry>, Vec<String>),
    address: &str,
    unchecked_lists: &mut Vec<(String, String)>,
) {
    if let Some(unknown) = entries.iter().find(|e| e.value == CidrValue::Unknown) {
        let label = format!("{} (entries)", unknown.attribute);
        if !rule.unknown_attributes.contains(&label) {
            rule.unknown_attributes.push(label);
        }
    }
    rule.cidrs.extend(entries);
    // Repeats are removed once all are in (see `extract_with`).
    unchecked_lists.extend(unchecked.into_iter().map(|id| (id, address.to_string())));
}

/// The name [`IngressRule::unknown_attributes`] gives a resource whose whole planned state is
/// unknown until apply.
pub const WHOLE_STATE: &str = "(whole planned state)";

fn checked_resource(
    resource: &PlannedResource,
    resolver: &resolve::Resolver<'_>,
    plan_line: Option<usize>,
    tags: BTreeMap<String, String>,
) -> CheckedResource {
    CheckedResource {
        address: resource.address.clone(),
        resource_type: resource.resource_type.clone(),
        name: resource.name.clone(),
        action: resource.action.clone(),
        deposed: resource.deposed.clone(),
        json_path: resource.after_path(),
        module_calls: resolver.module_calls(resource),
        plan_line,
        tags,
    }
}

/// A rule of which nothing is known until apply: `attribute` is `ingress` (a group's whole
/// inline rule set) or [`WHOLE_STATE`] (the resource's whole planned state).
fn unknown_rule(
    index: usize,
    json_path: String,
    attribute: &'static str,
    note: Option<String>,
) -> IngressRule {
    let mut rule = IngressRule::new(
        index,
        None,
        json_path,
        Known::Unknown,
        Known::Unknown,
        Known::Unknown,
    );
    rule.cidrs.push(CidrEntry {
        attribute,
        index: None,
        value: CidrValue::Unknown,
    });
    // An `aws_security_group_rule` of unknown type may still be an ingress rule: PG003 holds
    // either way, and no exposure is claimed without the direction.
    rule.direction_known = attribute != WHOLE_STATE;
    rule.unknown_attributes.push(attribute.to_string());
    rule.note = note;
    rule
}

// ---- reading the three shapes ---------------------------------------------------------------

/// What reading a group's inline rules needs besides its `after_unknown` reader.
struct Inline<'a> {
    index: usize,
    resource: &'a PlannedResource,
    sg: &'a SecurityGroupAfter,
    after_path: &'a str,
    resolver: &'a resolve::Resolver<'a>,
    lists: &'a prefix_list::PrefixLists,
}

fn inline_rules(
    inline: &Inline<'_>,
    reader: &FieldReader<'_>,
    unchecked_lists: &mut Vec<(String, String)>,
) -> Vec<IngressRule> {
    let Inline {
        index,
        resource,
        sg,
        after_path,
        resolver,
        lists,
    } = *inline;
    let whole_unknown =
        reader.is_unknown("ingress") || (reader.planned_only && sg.ingress.is_none());
    if whole_unknown {
        // A group whose block declares no inline rules gets them from standalone rule
        // resources, which are checked on their own; its computed `ingress` is noise. Only the
        // sources can show that: the configuration never records `dynamic "ingress"`.
        let note = match resolver.no_inline_ingress(resource) {
            Ok(()) => return Vec::new(),
            Err(why) => Some(format!(
                "the plan does not show whether it declares inline rules (a `dynamic \"ingress\"` block is never in the plan's configuration): {why}"
            )),
        };
        return vec![unknown_rule(
            index,
            format!("{after_path}.ingress"),
            "ingress",
            note,
        )];
    }
    let blocks = match &sg.ingress {
        Some(Some(blocks)) => blocks.as_slice(),
        _ => &[],
    };
    blocks
        .iter()
        .enumerate()
        .map(|(i, block)| {
            let r = match block {
                Some(_) => reader.element("ingress", i),
                // A null element stands for an unknown one.
                None => FieldReader {
                    unknown: &Unknown::True,
                    planned_only: reader.planned_only,
                },
            };
            let block = block.as_ref().unwrap_or(&UNKNOWN_BLOCK);
            inline_rule(index, i, block, &r, after_path, &mut |rule, ids| {
                add_prefix_list_sources(
                    rule,
                    lists.sources("prefix_list_ids", ids, || None),
                    &resource.address,
                    unchecked_lists,
                );
            })
        })
        .collect()
}

/// Adds the CIDRs of a rule's prefix list ids (`None`: unknown until apply) to its sources.
type AddPrefixLists<'a> = dyn FnMut(&mut IngressRule, Option<&[Option<String>]>) + 'a;

/// Inline block `i` of a group (resource `index`). `prefix_lists` adds the CIDRs of the
/// block's prefix list ids (`None` when unknown until apply), in their place among its sources.
fn inline_rule(
    index: usize,
    i: usize,
    block: &InlineIngress,
    r: &FieldReader<'_>,
    after_path: &str,
    prefix_lists: &mut AddPrefixLists<'_>,
) -> IngressRule {
    let mut rule = IngressRule::new(
        index,
        Some(i),
        format!("{after_path}.ingress[{i}]"),
        r.scalar(&block.protocol, "protocol"),
        r.scalar(&block.from_port, "from_port"),
        r.scalar(&block.to_port, "to_port"),
    );
    r.cidr_list(&mut rule, &block.cidr_blocks, "cidr_blocks");
    r.cidr_list(&mut rule, &block.ipv6_cidr_blocks, "ipv6_cidr_blocks");
    r.source_list(&mut rule, &block.security_groups, "security_groups");
    r.source_list(&mut rule, &block.prefix_list_ids, "prefix_list_ids");
    let ids = r.id_list(&block.prefix_list_ids, "prefix_list_ids");
    prefix_lists(&mut rule, ids.as_deref());
    if let Some(Some(true)) = block.self_ {
        rule.other_sources.push("self".to_string());
    }
    r.note_unknown_scalars(&mut rule);
    rule
}

fn security_group_rule(
    index: usize,
    r: &SecurityGroupRuleAfter,
    reader: &FieldReader<'_>,
    after_path: &str,
) -> Option<IngressRule> {
    let direction = reader.scalar(&r.rule_type, "type");
    let direction_known = match &direction {
        Known::Known(Some(t)) if t.eq_ignore_ascii_case("ingress") => true,
        Known::Known(_) => return None, // egress (or nothing): not an ingress rule
        Known::Unknown => false,
    };
    let mut rule = IngressRule::new(
        index,
        None,
        after_path.to_string(),
        reader.scalar(&r.protocol, "protocol"),
        reader.scalar(&r.from_port, "from_port"),
        reader.scalar(&r.to_port, "to_port"),
    );
    rule.direction_known = direction_known;
    if !direction_known {
        rule.unknown_attributes.push("type".to_string());
    }
    reader.cidr_list(&mut rule, &r.cidr_blocks, "cidr_blocks");
    reader.cidr_list(&mut rule, &r.ipv6_cidr_blocks, "ipv6_cidr_blocks");
    reader.source_list(&mut rule, &r.prefix_list_ids, "prefix_list_ids");
    reader.source_scalar(
        &mut rule,
        &r.source_security_group_id,
        "source_security_group_id",
    );
    if let Some(Some(true)) = r.self_ {
        rule.other_sources.push("self".to_string());
    }
    reader.note_unknown_scalars(&mut rule);
    Some(rule)
}

fn vpc_ingress_rule(
    index: usize,
    r: &VpcIngressRuleAfter,
    reader: &FieldReader<'_>,
    after_path: &str,
) -> IngressRule {
    let mut rule = IngressRule::new(
        index,
        None,
        after_path.to_string(),
        reader.scalar(&r.ip_protocol, "ip_protocol"),
        reader.scalar(&r.from_port, "from_port"),
        reader.scalar(&r.to_port, "to_port"),
    );
    reader.cidr_scalar(&mut rule, &r.cidr_ipv4, "cidr_ipv4");
    reader.cidr_scalar(&mut rule, &r.cidr_ipv6, "cidr_ipv6");
    reader.source_scalar(&mut rule, &r.prefix_list_id, "prefix_list_id");
    reader.source_scalar(
        &mut rule,
        &r.referenced_security_group_id,
        "referenced_security_group_id",
    );
    reader.note_unknown_scalars(&mut rule);
    rule
}

/// Reads attributes of one object of `after` together with its `after_unknown` counterpart.
struct FieldReader<'u> {
    unknown: &'u Unknown<'u>,
    planned_only: bool,
}

/// An attribute as found in `after`: absent (`None`), null (`Some(None)`) or set.
type Field<T> = Option<Option<T>>;

impl<'u> FieldReader<'u> {
    /// The reader of element `index` of the list attribute `key` (an inline `ingress` block, a
    /// prefix list's `entry`): an element `after_unknown` does not mention is known.
    fn element(&self, key: &str, index: usize) -> FieldReader<'u> {
        FieldReader {
            unknown: self
                .unknown
                .get(key)
                .and_then(|list| list.get(index))
                .unwrap_or(&Unknown::Known),
            planned_only: self.planned_only,
        }
    }

    fn is_unknown(&self, key: &str) -> bool {
        self.unknown.get(key) == Some(&Unknown::True) || self.unknown == &Unknown::True
    }

    fn scalar<T: Clone>(&self, field: &Field<T>, key: &str) -> Known<Option<T>> {
        if self.is_unknown(key) {
            return Known::Unknown;
        }
        match field {
            Some(value) => Known::Known(value.clone()),
            None if self.planned_only => Known::Unknown,
            None => Known::Known(None),
        }
    }

    fn cidr_list(
        &self,
        rule: &mut IngressRule,
        field: &Field<Vec<Option<String>>>,
        key: &'static str,
    ) {
        let whole = CidrEntry {
            attribute: key,
            index: None,
            value: CidrValue::Unknown,
        };
        if self.is_unknown(key) || (self.planned_only && field.is_none()) {
            rule.cidrs.push(whole);
            rule.unknown_attributes.push(key.to_string());
            return;
        }
        let Some(Some(list)) = field else { return };
        let element_unknown = self.unknown.get(key);
        for (i, element) in list.iter().enumerate() {
            let marked = element_unknown.and_then(|u| u.get(i)) == Some(&Unknown::True);
            let value = match element {
                Some(text) if !marked => CidrValue::Literal(text.clone()),
                _ => {
                    rule.unknown_attributes.push(format!("{key}[{i}]"));
                    CidrValue::Unknown
                }
            };
            rule.cidrs.push(CidrEntry {
                attribute: key,
                index: Some(i),
                value,
            });
        }
    }

    fn cidr_scalar(&self, rule: &mut IngressRule, field: &Field<String>, key: &'static str) {
        match self.scalar(field, key) {
            Known::Known(Some(text)) => rule.cidrs.push(CidrEntry {
                attribute: key,
                index: None,
                value: CidrValue::Literal(text),
            }),
            Known::Known(None) => {}
            Known::Unknown => {
                rule.unknown_attributes.push(key.to_string());
                rule.cidrs.push(CidrEntry {
                    attribute: key,
                    index: None,
                    value: CidrValue::Unknown,
                });
            }
        }
    }

    fn source_list(&self, rule: &mut IngressRule, field: &Field<Vec<Option<String>>>, key: &str) {
        if self.is_unknown(key) {
            rule.other_sources
                .push(format!("{key} (unknown until apply)"));
            return;
        }
        if let Some(Some(list)) = field {
            rule.other_sources.extend(
                list.iter()
                    .map(|s| s.clone().unwrap_or_else(|| format!("{key} (unknown)"))),
            );
        }
    }

    /// A list of ids (prefix lists): `None` when the list is unknown until apply; an element
    /// `None` when that id is.
    fn id_list(
        &self,
        field: &Field<Vec<Option<String>>>,
        key: &str,
    ) -> Option<Vec<Option<String>>> {
        if self.is_unknown(key) || (self.planned_only && field.is_none()) {
            return None;
        }
        let marks = self.unknown.get(key);
        Some(match field {
            Some(Some(list)) => list
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    if marks.and_then(|m| m.get(i)) == Some(&Unknown::True) {
                        None
                    } else {
                        id.clone()
                    }
                })
                .collect(),
            _ => Vec::new(),
        })
    }

    fn source_scalar(&self, rule: &mut IngressRule, field: &Field<String>, key: &str) {
        match self.scalar(field, key) {
            Known::Known(Some(text)) => rule.other_sources.push(text),
            Known::Known(None) => {}
            Known::Unknown => rule
                .other_sources
                .push(format!("{key} (unknown until apply)")),
        }
    }

    fn note_unknown_scalars(&self, rule: &mut IngressRule) {
        if rule.protocol == Known::Unknown {
            rule.unknown_attributes.insert(0, "protocol".to_string());
        }
        if rule.from_port == Known::Unknown {
            rule.unknown_attributes.push("from_port".to_string());
        }
        if rule.to_port == Known::Unknown {
            rule.unknown_attributes.push("to_port".to_string());
        }
    }
}

/// Deserializes a present attribute (null or not) so that `Option<Option<T>>` tells an absent
/// key (`None`, with `#[serde(default)]`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
struct TagsAfter {
    #[serde(default)]
    tags: Option<BTreeMap<String, Value>>,
}

/// A checked resource's planned state, in the shape of its type.
enum TypedAfter {
    Group(SecurityGroupAfter),
    Rule(SecurityGroupRuleAfter),
    VpcRule(VpcIngressRuleAfter),
}

/// Decodes a planned state into the shape of its resource type, with its `tags`: `None` when
/// it does not decode (the slow read then finds the error and its JSON path).
fn decode_after(
    resource_type: &str,
    text: &str,
) -> Option<(TypedAfter, Option<BTreeMap<String, Value>>)> {
    fn fast<T: for<'de> Deserialize<'de>>(
        text: &str,
        wrap: fn(T) -> TypedAfter,
        tags: fn(&mut T) -> Option<BTreeMap<String, Value>>,
    ) -> Option<(TypedAfter, Option<BTreeMap<String, Value>>)> {
        let mut value: T = serde_json::from_str(text).ok()?;
        let tags = tags(&mut value);
        Some((wrap(value), tags))
    }
    match resource_type {
        "aws_security_group" | "aws_default_security_group" => {
            fast(text, TypedAfter::Group, |v: &mut SecurityGroupAfter| {
                v.tags.take()
            })
        }
        "aws_security_group_rule" => {
            fast(text, TypedAfter::Rule, |v: &mut SecurityGroupRuleAfter| {
                v.tags.take()
            })
        }
        _ => fast(text, TypedAfter::VpcRule, |v: &mut VpcIngressRuleAfter| {
            v.tags.take()
        }),
    }
}

/// Reads `after` once into the shape of the resource's type, with its `tags`. Only when that
/// fails is it read again the slow way, tags first, for the error with its JSON path.
fn read_after(
    plan: &Plan,
    resource: &PlannedResource,
    after: &crate::plan::RawJson,
    after_path: &str,
) -> Result<(TypedAfter, Option<BTreeMap<String, Value>>), InputError> {
    if let Some(read) = decode_after(&resource.resource_type, after.get()) {
        return Ok(read);
    }
    let tagged: TagsAfter = plan.read_value(after, after_path)?;
    let typed = match resource.resource_type.as_str() {
        "aws_security_group" | "aws_default_security_group" => {
            TypedAfter::Group(plan.read_value(after, after_path)?)
        }
        "aws_security_group_rule" => TypedAfter::Rule(plan.read_value(after, after_path)?),
        _ => TypedAfter::VpcRule(plan.read_value(after, after_path)?),
    };
    Ok((typed, tagged.tags))
}

#[derive(Deserialize)]
struct SecurityGroupAfter {
    #[serde(default)]
    tags: Option<BTreeMap<String, Value>>,
    #[serde(default, deserialize_with = "present")]
    id: Field<String>,
    #[serde(default, deserialize_with = "present")]
    vpc_id: Field<String>,
    #[serde(default, deserialize_with = "present")]
    /// Elements are `null` when a whole element is unknown until apply.
    ingress: Field<Vec<Option<InlineIngress>>>,
}

/// Stand-in for an inline block that is wholly unknown; the reader marks every field unknown.
const UNKNOWN_BLOCK: InlineIngress = InlineIngress {
    protocol: None,
    from_port: None,
    to_port: None,
    cidr_blocks: None,
    ipv6_cidr_blocks: None,
    prefix_list_ids: None,
    security_groups: None,
    self_: None,
};

#[derive(Deserialize)]
struct InlineIngress {
    #[serde(default, deserialize_with = "present")]
    protocol: Field<String>,
    #[serde(default, deserialize_with = "present")]
    from_port: Field<i64>,
    #[serde(default, deserialize_with = "present")]
    to_port: Field<i64>,
    #[serde(default, deserialize_with = "present")]
    cidr_blocks: Field<Vec<Option<String>>>,
    #[serde(default, deserialize_with = "present")]
    ipv6_cidr_blocks: Field<Vec<Option<String>>>,
    #[serde(default, deserialize_with = "present")]
    prefix_list_ids: Field<Vec<Option<String>>>,
    #[serde(default, deserialize_with = "present")]
    security_groups: Field<Vec<Option<String>>>,
    #[serde(default, deserialize_with = "present", rename = "self")]
    self_: Field<bool>,
}

#[derive(Deserialize)]
struct SecurityGroupRuleAfter {
    #[serde(default)]
    tags: Option<BTreeMap<String, Value>>,
    #[serde(default, deserialize_with = "present", rename = "type")]
    rule_type: Field<String>,
    #[serde(default, deserialize_with = "present")]
    protocol: Field<String>,
    #[serde(default, deserialize_with = "present")]
    from_port: Field<i64>,
    #[serde(default, deserialize_with = "present")]
    to_port: Field<i64>,
    #[serde(default, deserialize_with = "present")]
    cidr_blocks: Field<Vec<Option<String>>>,
    #[serde(default, deserialize_with = "present")]
    ipv6_cidr_blocks: Field<Vec<Option<String>>>,
    #[serde(default, deserialize_with = "present")]
    prefix_list_ids: Field<Vec<Option<String>>>,
    #[serde(default, deserialize_with = "present")]
    source_security_group_id: Field<String>,
    #[serde(default, deserialize_with = "present", rename = "self")]
    self_: Field<bool>,
    #[serde(default, deserialize_with = "present")]
    security_group_id: Field<String>,
}

#[derive(Deserialize)]
struct VpcIngressRuleAfter {
    #[serde(default)]
    tags: Option<BTreeMap<String, Value>>,
    #[serde(default, deserialize_with = "present")]
    ip_protocol: Field<String>,
    #[serde(default, deserialize_with = "present")]
    from_port: Field<i64>,
    #[serde(default, deserialize_with = "present")]
    to_port: Field<i64>,
    #[serde(default, deserialize_with = "present")]
    cidr_ipv4: Field<String>,
    #[serde(default, deserialize_with = "present")]
    cidr_ipv6: Field<String>,
    #[serde(default, deserialize_with = "present")]
    prefix_list_id: Field<String>,
    #[serde(default, deserialize_with = "present")]
    referenced_security_group_id: Field<String>,
    #[serde(default, deserialize_with = "present")]
    security_group_id: Field<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_of(plan_json: &str) -> RuleSet {
        let plan = Plan::parse(plan_json, "t.json").unwrap();
        extract(&plan, None).unwrap()
    }

    fn change(after: &str, after_unknown: &str) -> String {
        format!(
            r#"{{"format_version":"1.2","planned_values":{{"root_module":{{}}}},"resource_changes":[{{"address":"aws_security_group.a","mode":"managed",
            "type":"aws_security_group","name":"a","change":{{"actions":["create"],"after":{after},
            "after_unknown":{after_unknown}}}}}]}}"#
        )
    }

    #[test]
    fn a_null_inline_element_is_wholly_unknown() {
        let set = rules_of(&change(r#"{"ingress":[null]}"#, r#"{"ingress":[true]}"#));
        let rule = &set.rules[0];
        assert_eq!(rule.protocol, Known::Unknown);
        assert_eq!(rule.from_port, Known::Unknown);
        assert!(rule.cidrs.iter().all(|c| c.value == CidrValue::Unknown));
        let attributes: Vec<&str> = rule.cidrs.iter().map(|c| c.attribute).collect();
        assert_eq!(
            attributes,
            ["cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids"],
            "both families and its prefix lists unknown"
        );
    }

    #[test]
    fn null_lists_are_no_cidrs_and_null_prefix_lists_no_sources() {
        let set = rules_of(&change(
            r#"{"ingress":[{"protocol":"tcp","from_port":445,"to_port":445,"cidr_blocks":null,
                "ipv6_cidr_blocks":null,"prefix_list_ids":null,"security_groups":null,"self":false}]}"#,
            "{}",
        ));
        let rule = &set.rules[0];
        assert!(rule.cidrs.is_empty());
        assert!(rule.other_sources.is_empty());
        assert!(rule.unknown_attributes.is_empty());
    }

    #[test]
    fn one_unknown_list_element_keeps_the_known_ones() {
        let set = rules_of(&change(
            r#"{"ingress":[{"protocol":"tcp","from_port":445,"to_port":445,"cidr_blocks":["10.0.0.0/8",null]}]}"#,
            r#"{"ingress":[{"cidr_blocks":[false,true]}]}"#,
        ));
        let cidrs = &set.rules[0].cidrs;
        assert_eq!(cidrs[0].value, CidrValue::Literal("10.0.0.0/8".into()));
        assert_eq!(cidrs[1].value, CidrValue::Unknown);
        assert_eq!(set.rules[0].unknown_attributes, ["cidr_blocks[1]"]);
    }

    #[test]
    fn planned_values_only_resources_treat_absent_attributes_as_unknown() {
        let plan = r#"{"format_version":"0.1","planned_values":{"root_module":{"child_modules":[
            {"address":"module.net","resources":[{"address":"module.net.aws_security_group_rule.r",
             "mode":"managed","type":"aws_security_group_rule","name":"r",
             "values":{"type":"ingress","protocol":"tcp","from_port":445,"to_port":445}}]}]}}}"#;
        let set = rules_of(plan);
        assert_eq!(set.resources[0].action, Action::PlannedOnly);
        assert_eq!(
            set.resources[0].address,
            "module.net.aws_security_group_rule.r"
        );
        let attrs: Vec<&str> = set.rules[0].cidrs.iter().map(|c| c.attribute).collect();
        assert_eq!(
            attrs,
            ["cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids"]
        );
        assert!(
            set.rules[0]
                .cidrs
                .iter()
                .all(|c| c.value == CidrValue::Unknown)
        );
    }

    #[test]
    fn egress_rules_are_not_ingress_and_unknown_type_is_kept_as_uncertain() {
        let rule = |t: &str, u: &str| {
            format!(
                r#"{{"format_version":"1.2","planned_values":{{"root_module":{{}}}},"resource_changes":[{{"address":"aws_security_group_rule.r",
                "mode":"managed","type":"aws_security_group_rule","name":"r","change":{{"actions":["create"],
                "after":{{{t}"protocol":"-1","from_port":0,"to_port":0,"cidr_blocks":["0.0.0.0/0"]}},
                "after_unknown":{u}}}}}]}}"#
            )
        };
        assert!(
            rules_of(&rule(r#""type":"egress","#, "{}"))
                .rules
                .is_empty()
        );
        let unknown = rules_of(&rule("", r#"{"type":true}"#));
        assert!(!unknown.rules[0].direction_known);
    }

    #[test]
    fn deleted_resources_and_data_sources_are_not_checked() {
        let plan = r#"{"format_version":"1.2","planned_values":{"root_module":{}},"resource_changes":[
            {"address":"aws_security_group.gone","mode":"managed","type":"aws_security_group","name":"gone",
             "change":{"actions":["delete"],"before":{"ingress":[]},"after":null,"after_unknown":{}}},
            {"address":"data.aws_security_group.x","mode":"data","type":"aws_security_group","name":"x",
             "change":{"actions":["read"],"after":{"ingress":[]},"after_unknown":{}}}]}"#;
        let set = rules_of(plan);
        assert!(set.resources.is_empty());
    }
}

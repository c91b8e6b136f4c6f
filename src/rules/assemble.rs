//! The rule set, assembled from the plan's raw resources and the held ones: whole, or in
//! batches of whole groups so that a check whose findings pile up need not hold every rule at
//! once.
//!
//! **Why batches are exact.** The policy stage judges a rule with the rules of its group and
//! nothing else (the group pass unions a group's rules; a rule whose group the plan cannot tell
//! is judged alone). Every resource gets a [`GroupTag`] from the group its rules join (see
//! [`super::held::Grouping`]); resources with one tag always land in one batch, so each batch's
//! findings are exactly the findings of its groups in a rule set of the whole plan. What every
//! batch needs of the others is shared by all: the groups set aside, the plan's prefix lists
//! and VPCs.

use std::collections::HashSet;

use super::group::{self, GroupHint};
use super::held::{GroupTag, Grouping, Held};
use super::intake::{Collected, TakenRules};
use super::prefix_list::PrefixLists;
use super::resolve::Resolver;
use super::vpc::{self, GroupVpcId};
use super::{CheckedResource, IngressRule, RuleSet, SetAsideGroup, add_prefix_list_sources};
use crate::plan::{InputError, Plan, Taken};
use crate::sources::Sources;

/// A raw resource read into rules, waiting to be assembled.
#[derive(Clone)]
pub(super) struct RawResource<'p> {
    resource: CheckedResource,
    hint: GroupHint,
    /// Their `resource` index is set when assembled.
    rules: Vec<IngressRule>,
    /// Its unchecked prefix lists: `(list, address)`.
    pairs: Vec<(String, String)>,
    vpc_ids: Vec<GroupVpcId<'p>>,
    tag: GroupTag,
}

impl<'p> RawResource<'p> {
    /// Splits the rule set read from the raw resources (`pair_marks`: where each resource's
    /// unchecked prefix lists start) into one entry per resource, tagged by `tag`.
    pub(super) fn split(
        set: RuleSet,
        hints: Vec<GroupHint>,
        vpc_ids: Vec<(usize, GroupVpcId<'p>)>,
        mut pair_marks: Vec<usize>,
        tag: impl Fn(usize, &CheckedResource, &GroupHint) -> GroupTag,
    ) -> Vec<Option<RawResource<'p>>> {
        pair_marks.push(set.unchecked_prefix_lists.len());
        let mut pairs = set.unchecked_prefix_lists.into_iter();
        let mut rules = set.rules.into_iter().peekable();
        let mut vpc_ids = vpc_ids.into_iter().peekable();
        let mut out = Vec::with_capacity(set.resources.len());
        for (i, (resource, hint)) in set.resources.into_iter().zip(hints).enumerate() {
            let tag = tag(i, &resource, &hint);
            out.push(Some(RawResource {
                pairs: pairs
                    .by_ref()
                    .take(pair_marks[i + 1] - pair_marks[i])
                    .collect(),
                rules: std::iter::from_fn(|| rules.next_if(|r| r.resource == i)).collect(),
                vpc_ids: std::iter::from_fn(|| vpc_ids.next_if(|(r, _)| *r == i))
                    .map(|(_, id)| id)
                    .collect(),
                resource,
                hint,
                tag,
            }));
        }
        out
    }
}

/// A rule set assembled from some of the plan's groups, with what a check made in batches
/// needs to put their findings and warnings back in the plan's order.
#[derive(Debug)]
pub struct Assembled {
    pub rules: RuleSet,
    /// The tag of each resource of `rules` (see [`GroupTag`]).
    pub tags: Vec<GroupTag>,
    /// The place of each resource of `rules` among the plan's checked resources.
    pub places: Vec<usize>,
    /// The place of the resource each of `rules.unchecked_prefix_lists` comes from.
    pub pair_places: Vec<usize>,
}

/// Which batch each resource is in (see [`Extraction::batches`]).
pub struct Batches {
    /// How many batches there are.
    pub count: usize,
    /// The batch of each raw resource, and of each taken one (`u32::MAX`: dropped).
    raw: Vec<u32>,
    taken: Vec<u32>,
}

/// Which resources [`Extraction::assemble`] assembles.
enum Pick<'a> {
    All,
    Batch(&'a Batches, u32),
    Tags(&'a HashSet<GroupTag>),
}

/// Everything a rule set is assembled from, once the plan is read: the raw resources' rules,
/// the held ones (see `rules::held`), the groups set aside and the plan's prefix lists.
pub struct Extraction<'p> {
    pub(super) plan: &'p Plan,
    pub(super) resolver: Resolver<'p>,
    pub(super) lists: PrefixLists,
    pub(super) raw: Vec<Option<RawResource<'p>>>,
    /// The taken resources, each with the number of raw resources before it.
    pub(super) taken: Vec<(usize, &'p Taken)>,
    pub(super) set_aside: Vec<SetAsideGroup>,
    pub(super) held: Held,
    pub(super) grouping: Grouping,
    /// Checked resources set aside (by the reader, or dropped once the plan was read).
    pub(super) set_aside_count: usize,
}

impl<'p> Extraction<'p> {
    /// Reads the raw resources' rules and chooses the held resources the rule set needs.
    pub fn new(
        plan: &'p Plan,
        sources: Option<&'p Sources>,
        collected: Collected<'_>,
    ) -> Result<Self, InputError> {
        super::prepare(plan, sources, collected)
    }

    /// The whole rule set, in the plan's order (the held records are read back and freed).
    pub fn into_rule_set(mut self) -> Result<RuleSet, InputError> {
        let mut assembled = self.assemble(&Pick::All, true)?;
        // The rule set lives until the reports are written: no room left from growing.
        assembled.rules.resources.shrink_to_fit();
        assembled.rules.rules.shrink_to_fit();
        Ok(assembled.rules)
    }

    /// The checked resources a rule set of every group would hold.
    pub fn resources(&self) -> usize {
        let held = self
            .taken
            .iter()
            .filter(|(_, place)| !self.held.is_released(place.token))
            .count();
        self.raw.len() + held
    }

    /// Splits the groups into batches of about `resources` resources each (a batch holds
    /// whole groups, so one large group makes one large batch).
    pub fn batches(&self, resources: usize) -> Batches {
        let count = self.resources().div_ceil(resources.max(1)).max(1);
        let raw = self
            .raw
            .iter()
            .map(|entry| entry.as_ref().map_or(0, |e| e.tag.batch(count) as u32))
            .collect();
        let taken = self
            .taken
            .iter()
            .map(|(_, place)| match self.held.is_released(place.token) {
                true => u32::MAX,
                false => self
                    .held
                    .record_tag(place.token, &self.grouping)
                    .batch(count) as u32,
            })
            .collect();
        Batches { count, raw, taken }
    }

    /// The rule set of the groups in batch `batch` of `batches`. Nothing is consumed: batches
    /// may be assembled in any order, and again.
    pub fn batch(&mut self, batches: &Batches, batch: usize) -> Result<Assembled, InputError> {
        self.assemble(&Pick::Batch(batches, batch as u32), false)
    }

    /// The rule set of the groups tagged `tags`.
    pub fn select(&mut self, tags: &HashSet<GroupTag>) -> Result<Assembled, InputError> {
        self.assemble(&Pick::Tags(tags), false)
    }

    /// Calls `f` with each checked resource that has tags, in the plan's order: what a check
    /// reads waivers from before it judges any finding.
    pub fn for_each_tagged(&self, mut f: impl FnMut(&CheckedResource)) {
        // Indexed over every slot, emptied ones too (an assembly that consumed them): the place
        // of a taken resource counts them all.
        let mut raw = self.raw.iter().enumerate().peekable();
        for (before, place) in self
            .taken
            .iter()
            .map(|(b, p)| (*b, Some(p)))
            .chain(std::iter::once((usize::MAX, None)))
        {
            while let Some((_, slot)) = raw.next_if(|(i, _)| *i < before) {
                if let Some(entry) = slot
                    && !entry.resource.tags.is_empty()
                {
                    f(&entry.resource);
                }
            }
            if let Some(place) = place
                && !self.held.is_released(place.token)
                && self.held.is_tagged(place.token)
            {
                f(&self.held.read(place.token).resource);
            }
        }
    }

    /// Assembles the resources `pick` picks, in the plan's order. `consume`: take the raw
    /// resources and held records instead of copying them (only once).
    fn assemble(&mut self, pick: &Pick<'_>, consume: bool) -> Result<Assembled, InputError> {
        let mut set = RuleSet::default();
        let mut tags = Vec::new();
        let mut places = Vec::new();
        let mut pair_places = Vec::new();
        let mut hints = Vec::new();
        let mut group_vpc_ids = Vec::new();
        let mut place = 0;
        let mut raw = 0;
        let taken_places = self
            .taken
            .iter()
            .map(|(b, p)| (*b, Some(*p)))
            .chain(std::iter::once((usize::MAX, None)))
            .enumerate();
        for (k, (raw_before, taken)) in taken_places {
            while raw < self.raw.len() && raw < raw_before {
                let slot = &mut self.raw[raw];
                let picked = match (pick, slot.as_ref()) {
                    (_, None) => false,
                    (Pick::All, _) => true,
                    (Pick::Batch(batches, b), _) => batches.raw[raw] == *b,
                    (Pick::Tags(tags), Some(entry)) => tags.contains(&entry.tag),
                };
                raw += 1;
                place += 1;
                if !picked {
                    continue;
                }
                let entry = match consume {
                    true => slot.take(),
                    false => slot.clone(),
                }
                .expect("a raw resource is assembled once when consumed");
                let index = set.resources.len();
                set.resources.push(entry.resource);
                tags.push(entry.tag);
                places.push(place - 1);
                hints.push(entry.hint);
                pair_places.extend(entry.pairs.iter().map(|_| place - 1));
                set.unchecked_prefix_lists.extend(entry.pairs);
                set.rules.extend(entry.rules.into_iter().map(|mut rule| {
                    rule.resource = index;
                    rule
                }));
                group_vpc_ids.extend(entry.vpc_ids);
            }
            let Some(taken) = taken else {
                break;
            };
            place += 1;
            let picked = match pick {
                Pick::Batch(batches, b) => batches.taken[k] == *b,
                _ => !self.held.is_released(taken.token), // else dropped: not needed
            };
            if !picked {
                continue;
            }
            let tag = self.held.record_tag(taken.token, &self.grouping);
            if let Pick::Tags(tags) = pick
                && !tags.contains(&tag)
            {
                continue;
            }
            let TakenRules {
                mut resource,
                mut rules,
                hint,
                vpc_id,
                prefix_lists,
            } = match consume {
                true => self.held.take_back(taken.token),
                false => self.held.read(taken.token),
            };
            for deferred in prefix_lists {
                let attribute = if deferred.scalar {
                    "prefix_list_id"
                } else {
                    "prefix_list_ids"
                };
                let ids: Vec<Option<String>> = deferred.ids.into_iter().map(Some).collect();
                if let Some(rule) = rules.get_mut(deferred.rule) {
                    add_prefix_list_sources(
                        rule,
                        self.lists.sources(attribute, Some(&ids), || None),
                        &resource.address,
                        &mut set.unchecked_prefix_lists,
                    );
                }
            }
            pair_places.resize(set.unchecked_prefix_lists.len(), place - 1);
            let index = set.resources.len();
            resource.module_calls = self
                .resolver
                .module_calls_of(taken.module_address.as_deref());
            if let Some(vpc_id) = vpc_id {
                group_vpc_ids.push(GroupVpcId::Known {
                    address: resource.address.clone(),
                    vpc_id,
                });
            }
            hints.push(hint);
            tags.push(tag);
            places.push(place - 1);
            set.resources.push(resource);
            set.rules.extend(rules.into_iter().map(|mut rule| {
                rule.resource = index;
                rule
            }));
        }
        // A list named twice by one resource is one warning.
        let mut seen = HashSet::new();
        let first: Vec<bool> = set
            .unchecked_prefix_lists
            .iter()
            .map(|pair| seen.insert(pair.clone()))
            .collect();
        let mut keep = first.iter();
        set.unchecked_prefix_lists
            .retain(|_| keep.next().copied().unwrap_or(true));
        let mut keep = first.iter();
        pair_places.retain(|_| keep.next().copied().unwrap_or(true));
        group::assign(&mut set, &hints, &self.set_aside);
        // Fixes look a group's VPC up by the group a rule names: the groups set aside that no
        // rule of this set names need no entry (a batch would otherwise copy all of them).
        let named: HashSet<&str> = set
            .rules
            .iter()
            .filter_map(|r| r.group.as_deref())
            .collect();
        let set_aside: Vec<&SetAsideGroup> = self
            .set_aside
            .iter()
            .filter(|g| named.contains(g.address.as_str()))
            .collect();
        set.group_vpcs = vpc::group_vpcs(self.plan, &self.resolver, &group_vpc_ids, &set_aside)?;
        set.root_variables = self.plan.variables.clone();
        set.input = self.plan.kind;
        set.resources_set_aside = self.set_aside_count;
        Ok(Assembled {
            rules: set,
            tags,
            places,
            pair_places,
        })
    }
}

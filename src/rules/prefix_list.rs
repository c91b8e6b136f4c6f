//! Prefix lists defined in the plan.
//!
//! A rule whose source is a prefix list allows every CIDR in that list (AWS VPC user guide,
//! "Prefix lists"), so a list that holds `0.0.0.0/0` opens the rule to the world like a CIDR
//! would. The entries of the lists a plan defines count as the CIDRs of the rules that use them:
//! `entry` blocks of `aws_ec2_managed_prefix_list`, and `aws_ec2_managed_prefix_list_entry`
//! resources (joined to their list by its known `id`, or by an exact configuration reference to
//! it when the id is unknown until apply).
//!
//! A rule finds a list by a known id, or, when its id is unknown until apply (a new list), by a
//! configuration expression that is exactly references to lists' `id`s in the same module
//! instance. An entry unknown until apply, and an id that cannot be tied to a list of the plan,
//! are unknown sources (PG003 where a guarded port is at stake). A known id of a list outside
//! the plan is not a finding: its entries are not in the plan, and the report says so.

use std::collections::HashMap;

use serde::Deserialize;

use super::resolve::Resolver;
use super::unknown::Unknown;
use super::{CidrEntry, CidrValue, Field, FieldReader, Known, present};
use crate::plan::{Action, InputError, Plan, PlannedResource};

/// The resource types that define prefix lists and their entries.
pub const PREFIX_LIST_TYPES: [&str; 2] = [
    "aws_ec2_managed_prefix_list",
    "aws_ec2_managed_prefix_list_entry",
];

/// Every prefix list the plan defines, with its entries.
#[derive(Debug, Default)]
pub(super) struct PrefixLists {
    lists: Vec<List>,
    by_id: HashMap<String, usize>,
    by_address: HashMap<String, usize>,
}

#[derive(Debug)]
struct List {
    address: String,
    /// `None`: an entry (or all of them) unknown until apply.
    entries: Vec<Option<String>>,
}

#[derive(Deserialize)]
struct ListAfter {
    #[serde(default, deserialize_with = "present")]
    id: Field<String>,
    #[serde(default, deserialize_with = "present")]
    entry: Field<Vec<Option<EntryBlock>>>,
}

#[derive(Deserialize)]
struct EntryBlock {
    #[serde(default, deserialize_with = "present")]
    cidr: Field<String>,
}

#[derive(Deserialize)]
struct EntryAfter {
    #[serde(default, deserialize_with = "present")]
    prefix_list_id: Field<String>,
    #[serde(default, deserialize_with = "present")]
    cidr: Field<String>,
}

fn exists_after_apply(resource: &PlannedResource) -> bool {
    resource.managed
        && resource.deposed.is_none()
        && !matches!(resource.action, Action::Delete | Action::Forget)
}

impl PrefixLists {
    /// Reads the prefix lists and entries of `plan`.
    pub(super) fn read(plan: &Plan, resolver: &Resolver<'_>) -> Result<PrefixLists, InputError> {
        let mut lists = PrefixLists::default();
        for resource in plan.resources.iter().filter(|r| exists_after_apply(r)) {
            if resource.resource_type != PREFIX_LIST_TYPES[0] {
                continue;
            }
            let (after, unknown) = read_after::<ListAfter>(plan, resource)?;
            let reader = FieldReader {
                unknown: &unknown,
                planned_only: resource.from_planned_values,
            };
            let (id, entries) = match &after {
                None => (None, vec![None]),
                Some(list) => {
                    let entries = if reader.is_unknown("entry")
                        || (reader.planned_only && list.entry.is_none())
                    {
                        vec![None]
                    } else {
                        match &list.entry {
                            Some(Some(blocks)) => blocks
                                .iter()
                                .enumerate()
                                .map(|(i, block)| {
                                    let r = reader.element("entry", i);
                                    match block {
                                        Some(block) => {
                                            r.scalar(&block.cidr, "cidr").known().cloned().flatten()
                                        }
                                        None => None,
                                    }
                                })
                                .collect(),
                            _ => Vec::new(),
                        }
                    };
                    (
                        reader.scalar(&list.id, "id").known().cloned().flatten(),
                        entries,
                    )
                }
            };
            let index = lists.lists.len();
            lists.lists.push(List {
                address: resource.address.clone(),
                entries,
            });
            lists.by_address.insert(resource.address.clone(), index);
            if let Some(id) = id {
                lists.by_id.insert(id, index);
            }
        }
        // An entry whose list cannot be told may belong to any list of the plan.
        let mut untied = false;
        for resource in plan.resources.iter().filter(|r| exists_after_apply(r)) {
            if resource.resource_type != PREFIX_LIST_TYPES[1] {
                continue;
            }
            let (after, unknown) = read_after::<EntryAfter>(plan, resource)?;
            let reader = FieldReader {
                unknown: &unknown,
                planned_only: resource.from_planned_values,
            };
            let (list_id, cidr) = match &after {
                None => (Known::Unknown, None),
                Some(entry) => (
                    reader.scalar(&entry.prefix_list_id, "prefix_list_id"),
                    reader
                        .scalar(&entry.cidr, "cidr")
                        .known()
                        .cloned()
                        .flatten(),
                ),
            };
            let index = match list_id {
                Known::Known(Some(id)) => Some(match lists.by_id.get(&id) {
                    Some(&index) => index,
                    // A list outside the plan: the entries the plan adds still count.
                    None => {
                        let index = lists.lists.len();
                        lists.lists.push(List {
                            address: id.clone(),
                            entries: Vec::new(),
                        });
                        lists.by_id.insert(id, index);
                        index
                    }
                }),
                Known::Known(None) => None,
                Known::Unknown => resolver
                    .id_references(resource, "prefix_list_id", &[PREFIX_LIST_TYPES[0]])
                    .ok()
                    .and_then(|addresses| match addresses.as_slice() {
                        [address] => lists.by_address.get(address).copied(),
                        _ => None,
                    }),
            };
            match index {
                Some(index) => lists.lists[index].entries.push(cidr),
                None => untied = true,
            }
        }
        if untied {
            for &index in lists.by_address.values() {
                lists.lists[index].entries.push(None);
            }
        }
        Ok(lists)
    }

    /// The CIDR entries a rule gets from its prefix list ids (`None` when the whole list of
    /// ids is unknown until apply; an element `None` when that id is unknown). `references`
    /// gives the lists the rule's configuration names, for unknown ids (only asked for then: it
    /// reads the configuration). Ids of lists outside the plan are returned apart: they are not
    /// checked.
    pub(super) fn sources(
        &self,
        attribute: &'static str,
        ids: Option<&[Option<String>]>,
        references: impl FnOnce() -> Option<Vec<String>>,
    ) -> (Vec<CidrEntry>, Vec<String>) {
        let mut entries = Vec::new();
        let mut not_checked = Vec::new();
        let unknown = |entries: &mut Vec<CidrEntry>| {
            entries.push(CidrEntry {
                attribute,
                index: None,
                value: CidrValue::Unknown,
            })
        };
        let push_list = |entries: &mut Vec<CidrEntry>, index: usize| {
            let list = &self.lists[index];
            for entry in &list.entries {
                entries.push(CidrEntry {
                    attribute,
                    index: None,
                    value: match entry {
                        Some(cidr) => CidrValue::PrefixList {
                            value: cidr.clone(),
                            list: list.address.clone(),
                        },
                        None => CidrValue::Unknown,
                    },
                });
            }
        };
        let any_unknown = ids.is_none_or(|ids| ids.iter().any(Option::is_none));
        if any_unknown {
            // The configuration may name the lists; only then are the unknown ids settled.
            let resolved: Option<Vec<usize>> = references().and_then(|addresses| {
                addresses
                    .iter()
                    .map(|a| self.by_address.get(a).copied())
                    .collect()
            });
            match resolved {
                Some(indexes) if !indexes.is_empty() => {
                    for index in indexes {
                        push_list(&mut entries, index);
                    }
                }
                _ => unknown(&mut entries),
            }
        }
        for id in ids.unwrap_or_default().iter().flatten() {
            match self.by_id.get(id) {
                Some(&index) => {
                    push_list(&mut entries, index);
                    if self.lists[index].address == *id {
                        not_checked.push(id.clone());
                    }
                }
                None => not_checked.push(id.clone()),
            }
        }
        (entries, not_checked)
    }
}

/// A resource's planned state as `T` (`None` when wholly unknown) and its `after_unknown`.
fn read_after<'p, T: for<'de> Deserialize<'de>>(
    plan: &Plan,
    resource: &'p PlannedResource,
) -> Result<(Option<T>, Unknown<'p>), InputError> {
    let unknown: Unknown = match &resource.after_unknown {
        Some(raw) => plan.read_value(raw, &format!("{}.after_unknown", resource.json_path))?,
        None => Unknown::Known,
    };
    let after = match &resource.after {
        Some(raw) => Some(plan.read_value(raw, &resource.after_path())?),
        None => None,
    };
    Ok((after, unknown))
}

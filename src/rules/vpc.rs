//! The VPC each security group lives in, and that VPC's own CIDRs: what a patch can put in place
//! of the world when no trusted CIDR was configured (labelled as such in every report, to be
//! confirmed before applying).
//!
//! A group's VPC is its `vpc_id`: matched to a VPC of the plan by its known `id`, or, when the id
//! is unknown until apply (the VPC is new), by the configuration reference
//! (`vpc_id = aws_vpc.main.id`). This only chooses a *suggestion*, which the fix stage re-checks
//! with the policy engine like any other patch, so the configuration's references may serve
//! here (they never remove a finding). A group without `vpc_id` is in the default VPC
//! (`aws_default_vpc`). A VPC's CIDRs are its `cidr_block`, `ipv6_cidr_block`, the CIDR block
//! associations of the plan tied to it, and, for a `data.aws_vpc` read into `prior_state`, its
//! `cidr_block_associations`.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::SetAsideGroup;
use super::resolve::Resolver;
use crate::plan::{InputError, Plan, PlannedResource};

/// The resource types read for VPC CIDRs (kept by the plan reader beside the checked ones).
pub const VPC_TYPES: [&str; 4] = [
    "aws_vpc",
    "aws_default_vpc",
    "aws_vpc_ipv4_cidr_block_association",
    "aws_vpc_ipv6_cidr_block_association",
];

/// A group's VPC and its own CIDRs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupVpc {
    /// The VPC's address (`aws_vpc.main`, `data.aws_vpc.shared`).
    pub vpc: String,
    pub cidrs: Vec<String>,
}

struct Vpc {
    address: String,
    id: Option<String>,
    default: bool,
    cidrs: Vec<String>,
}

/// A string attribute of a planned object.
fn string(after: &Value, key: &str) -> Option<String> {
    after.get(key)?.as_str().map(str::to_string)
}

/// A current group's `vpc_id`, as the rules pass read it.
#[derive(Clone)]
pub(super) enum GroupVpcId<'p> {
    Known {
        address: String,
        /// `None` for a known null: the default VPC.
        vpc_id: Option<String>,
    },
    /// Unknown until apply: the configuration may name the VPC.
    Unknown(&'p PlannedResource),
}

/// The VPC of every security group whose VPC has known CIDRs, by group address. `groups` are
/// the current groups with their `vpc_id`.
pub(super) fn group_vpcs(
    plan: &Plan,
    resolver: &Resolver<'_>,
    groups: &[GroupVpcId<'_>],
    set_aside: &[&SetAsideGroup],
) -> Result<BTreeMap<String, GroupVpc>, InputError> {
    let current = |r: &&PlannedResource| r.deposed.is_none() && r.after.is_some();
    let after_of = |r: &PlannedResource| -> Result<Value, InputError> {
        match &r.after {
            Some(raw) => plan.read_value(raw, &r.after_path()),
            None => Ok(Value::Null),
        }
    };
    let mut vpcs: Vec<Vpc> = Vec::new();
    for r in plan.resources.iter().filter(current) {
        let managed_vpc =
            r.managed && matches!(r.resource_type.as_str(), "aws_vpc" | "aws_default_vpc");
        let data_vpc = !r.managed && r.resource_type == "aws_vpc";
        if !(managed_vpc || data_vpc) {
            continue;
        }
        let after = after_of(r)?;
        let mut cidrs: Vec<String> = ["cidr_block", "ipv6_cidr_block"]
            .iter()
            .filter_map(|k| string(&after, k))
            .filter(|c| !c.is_empty())
            .collect();
        for association in after
            .get("cidr_block_associations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(cidr) = string(association, "cidr_block")
                && !cidrs.contains(&cidr)
            {
                cidrs.push(cidr);
            }
        }
        vpcs.push(Vpc {
            address: r.address.clone(),
            id: string(&after, "id"),
            default: r.resource_type == "aws_default_vpc",
            cidrs,
        });
    }
    // Each VPC by id and by address (the first of a repeated one, as a scan finds it): a plan
    // of many groups and VPCs would otherwise compare every group with every VPC.
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut by_address: HashMap<String, usize> = HashMap::new();
    for (i, vpc) in vpcs.iter().enumerate() {
        if let Some(id) = &vpc.id {
            by_id.entry(id.clone()).or_insert(i);
        }
        by_address.entry(vpc.address.clone()).or_insert(i);
    }
    // CIDR block associations of the plan, tied to their VPC by known id or reference.
    for r in plan.resources.iter().filter(current).filter(|r| r.managed) {
        let key = match r.resource_type.as_str() {
            "aws_vpc_ipv4_cidr_block_association" => "cidr_block",
            "aws_vpc_ipv6_cidr_block_association" => "ipv6_cidr_block",
            _ => continue,
        };
        let after = after_of(r)?;
        let Some(cidr) = string(&after, key) else {
            continue;
        };
        let vpc = match string(&after, "vpc_id") {
            Some(id) => by_id.get(&id).copied(),
            None => match resolver
                .config_id_references(r, "vpc_id", &["aws_vpc", "aws_default_vpc"])
                .as_deref()
            {
                Some([address]) => by_address.get(address).copied(),
                _ => None,
            },
        };
        if let Some(vpc) = vpc.map(|i| &mut vpcs[i])
            && !vpc.cidrs.contains(&cidr)
        {
            vpc.cidrs.push(cidr);
        }
    }
    let mut out = BTreeMap::new();
    // No vpc_id: the default VPC, when the plan has exactly one.
    let default_vpc = match vpcs
        .iter()
        .filter(|v| v.default)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [only] => Some(*only),
        _ => None,
    };
    let by_address = |address: &str| by_address.get(address).map(|&i| &vpcs[i]);
    let by_known_id = |vpc_id: &Option<String>| match vpc_id {
        Some(id) => by_id.get(id).map(|&i| &vpcs[i]),
        None => default_vpc,
    };
    let mut insert = |address: &str, vpc: Option<&Vpc>| {
        if let Some(vpc) = vpc.filter(|v| !v.cidrs.is_empty()) {
            out.insert(
                address.to_string(),
                GroupVpc {
                    vpc: vpc.address.clone(),
                    cidrs: vpc.cidrs.clone(),
                },
            );
        }
    };
    for group in set_aside {
        insert(&group.address, by_known_id(&group.vpc_id));
    }
    for group in groups {
        let (address, vpc) = match group {
            GroupVpcId::Known { address, vpc_id } => (address.as_str(), by_known_id(vpc_id)),
            GroupVpcId::Unknown(r) => (
                r.address.as_str(),
                match resolver
                    .config_id_references(r, "vpc_id", &["aws_vpc", "aws_default_vpc"])
                    .as_deref()
                {
                    Some([address]) => by_address(address),
                    _ => data_reference(resolver, r).and_then(|address| by_address(&address)),
                },
            ),
        };
        insert(address, vpc);
    }
    Ok(out)
}

/// `data.aws_vpc.NAME` (in the group's module) when its `vpc_id` is exactly that data source's
/// `id` in the configuration.
fn data_reference(resolver: &Resolver<'_>, group: &PlannedResource) -> Option<String> {
    let references = resolver.config_references(group, "vpc_id")?;
    let [reference] = references.as_slice() else {
        return None;
    };
    let name = reference
        .strip_prefix("data.aws_vpc.")?
        .strip_suffix(".id")?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return None;
    }
    Some(match &group.module_address {
        Some(module) => format!("{module}.data.aws_vpc.{name}"),
        None => format!("data.aws_vpc.{name}"),
    })
}

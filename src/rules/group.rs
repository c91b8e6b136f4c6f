//! Which security group each ingress rule belongs to.
//!
//! AWS allows the union of every rule attached to a group, so a world split across two rules
//! (`0.0.0.0/1` in one, `128.0.0.0/1` in another) is as open as `0.0.0.0/0` in one. The policy
//! stage unions the rules of each group; this module only names the groups:
//! - inline `ingress` blocks belong to their own `aws_security_group` /
//!   `aws_default_security_group` (a deposed object is a group of its own);
//! - a standalone rule (`aws_security_group_rule`, `aws_vpc_security_group_ingress_rule`)
//!   belongs to the group its known `security_group_id` names: a group of the plan with that
//!   known `id`, or else a group outside the plan, named by the id, so rules on the same
//!   foreign `sg-…` still combine;
//! - when `security_group_id` is unknown until apply (the group is new), the configuration
//!   decides, and only when its expression is exactly one reference to a group's `id` in the
//!   same module instance (`aws_security_group.files.id`, or with a literal instance key);
//! - anything else is left undetermined (`None`): the policy stage then reports a rule with
//!   public sources on a guarded port as PG003 rather than guess its group.

use std::collections::HashMap;

use super::{Known, RuleSet, SetAsideGroup};

/// What a resource says about its group, read from its planned state and configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) enum GroupHint {
    /// A security group (its inline rules belong to it), with its `id` when known.
    Group { id: Option<String> },
    /// A standalone rule: its `security_group_id`, and when that is unknown until apply, the
    /// address of the group its configuration refers to.
    Rule {
        id: Known<Option<String>>,
        reference: Option<String>,
    },
}

/// Sets [`super::IngressRule::group`] of every rule. `hints` has one entry per resource of `set`;
/// `set_aside` are current groups the reader dropped (their rules cannot matter, but rules of
/// the plan may name them).
pub(super) fn assign(set: &mut RuleSet, hints: &[GroupHint], set_aside: &[SetAsideGroup]) {
    let mut keys: Vec<Option<String>> = vec![None; set.resources.len()];
    let mut by_address: HashMap<&str, String> = HashMap::new();
    let mut by_id: HashMap<&str, String> = HashMap::new();
    for group in set_aside {
        by_address.insert(&group.address, group.address.clone());
        if let Some(id) = &group.id {
            by_id.insert(id, group.address.clone());
        }
    }
    for (i, (resource, hint)) in set.resources.iter().zip(hints).enumerate() {
        let GroupHint::Group { id } = hint else {
            continue;
        };
        let key = match &resource.deposed {
            Some(deposed) => format!("{} (deposed object {deposed})", resource.address),
            None => {
                by_address.insert(&resource.address, resource.address.clone());
                if let Some(id) = id {
                    by_id.insert(id, resource.address.clone());
                }
                resource.address.clone()
            }
        };
        keys[i] = Some(key);
    }
    for (i, hint) in hints.iter().enumerate() {
        let GroupHint::Rule { id, reference } = hint else {
            continue;
        };
        keys[i] = match (id, reference) {
            (Known::Known(Some(id)), _) => Some(
                by_id
                    .get(id.as_str())
                    .cloned()
                    .unwrap_or_else(|| id.clone()),
            ),
            (Known::Unknown, Some(address)) => by_address.get(address.as_str()).cloned(),
            _ => None,
        };
    }
    for rule in &mut set.rules {
        rule.group = keys[rule.resource].clone();
    }
}

//! Sets aside, while the plan streams, the rule resources that cannot matter to any policy, so
//! that memory grows with the rules worth judging rather than with every rule of the plan.
//!
//! A security group resource is set aside only when its planned state proves, on its own, that
//! none of its ingress rules can touch a port any loaded policy guards: every protocol and port
//! is known and misses them all (the caller's `concerns` decides, with the policies), and
//! nothing else about it could show up in a report: no prefix list (a list outside the plan
//! gets a warning), no `portgate:waive` tag (a waiver that matches nothing is reported stale),
//! no deposed object, nothing that waits for the configuration. Such a rule yields no finding
//! of any kind: not PG001/PG002 (no guarded port), not PG003 (nothing unknown could open one),
//! not PG004 (an invalid CIDR is only reported where a guarded port is reachable), and it
//! cannot complete a group's cover (the group pass only unions rules that open a guarded port).
//!
//! What a set-aside group still tells the rest ([`SetAsideGroup`]) is kept: its `id` (rules of
//! the plan name their group by it) and its known `vpc_id` (the CIDRs a fix suggests for the
//! group's other rules). The count of set-aside resources keeps `resources_scanned` exact.
//!
//! Anything the fast typed read cannot decode is kept, so that its error is reported where and
//! as it always was.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    Field, FieldReader, IngressRule, Known, SecurityGroupAfter, SecurityGroupRuleAfter,
    VpcIngressRuleAfter,
};
use crate::plan::{Action, PlannedResource};

/// A current security group set aside: what the rules of the plan and the fixes still ask of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAsideGroup {
    pub address: String,
    /// Its planned `id`, when known.
    pub id: Option<String>,
    /// Its planned `vpc_id` (`None` for a known null: the default VPC).
    pub vpc_id: Option<String>,
}

/// Decides, resource by resource, what [`crate::plan::Plan::read_filtered`] may drop.
pub struct Prefilter<'c> {
    /// Whether a rule (its protocol and ports: nothing else is set) may touch a guarded port.
    concerns: &'c dyn Fn(&IngressRule) -> bool,
    groups: Vec<SetAsideGroup>,
}

impl<'c> Prefilter<'c> {
    pub fn new(concerns: &'c dyn Fn(&IngressRule) -> bool) -> Self {
        Prefilter {
            concerns,
            groups: Vec::new(),
        }
    }

    /// True when `resource` cannot matter (see the module documentation): the reader may
    /// drop it.
    pub fn set_aside(&mut self, resource: &PlannedResource) -> bool {
        if !resource.managed
            || resource.deposed.is_some()
            || matches!(resource.action, Action::Delete | Action::Forget)
        {
            return false;
        }
        let Some(after) = &resource.after else {
            return false;
        };
        let unknown: Value = match &resource.after_unknown {
            Some(raw) => match serde_json::from_str(raw.get()) {
                Ok(value) => value,
                Err(_) => return false,
            },
            None => Value::Null,
        };
        let reader = FieldReader {
            unknown: &unknown,
            planned_only: resource.from_planned_values,
        };
        let text = after.get();
        match resource.resource_type.as_str() {
            "aws_security_group" | "aws_default_security_group" => {
                let Ok(sg) = serde_json::from_str::<SecurityGroupAfter>(text) else {
                    return false;
                };
                if waived(&sg.tags) || !self.inline_rules_miss(&sg, &reader) {
                    return false;
                }
                let Known::Known(vpc_id) = reader.scalar(&sg.vpc_id, "vpc_id") else {
                    return false;
                };
                self.groups.push(SetAsideGroup {
                    address: resource.address.clone(),
                    id: reader.scalar(&sg.id, "id").known().cloned().flatten(),
                    vpc_id,
                });
                true
            }
            "aws_security_group_rule" => {
                let Ok(r) = serde_json::from_str::<SecurityGroupRuleAfter>(text) else {
                    return false;
                };
                if waived(&r.tags) {
                    return false;
                }
                match reader.scalar(&r.rule_type, "type") {
                    Known::Known(Some(t)) if t.eq_ignore_ascii_case("ingress") => {}
                    // An egress rule (or none): no ingress rule comes of it.
                    Known::Known(_) => return true,
                    Known::Unknown => return false,
                }
                no_list(&reader, &r.prefix_list_ids, "prefix_list_ids")
                    && self.misses(&reader, &r.protocol, &r.from_port, &r.to_port)
            }
            "aws_vpc_security_group_ingress_rule" => {
                let Ok(r) = serde_json::from_str::<VpcIngressRuleAfter>(text) else {
                    return false;
                };
                !waived(&r.tags)
                    && reader.scalar(&r.prefix_list_id, "prefix_list_id") == Known::Known(None)
                    && self.misses(&reader, &r.ip_protocol, &r.from_port, &r.to_port)
            }
            _ => false,
        }
    }

    /// The current groups set aside so far, in plan order.
    pub fn into_groups(self) -> Vec<SetAsideGroup> {
        self.groups
    }

    fn inline_rules_miss(&self, sg: &SecurityGroupAfter, reader: &FieldReader<'_>) -> bool {
        if reader.is_unknown("ingress") || (reader.planned_only && sg.ingress.is_none()) {
            return false;
        }
        let blocks = match &sg.ingress {
            Some(Some(blocks)) => blocks.as_slice(),
            _ => &[],
        };
        let unknown_list = reader.unknown.get("ingress");
        blocks.iter().enumerate().all(|(i, block)| {
            let Some(block) = block else {
                return false; // a wholly unknown element
            };
            let r = FieldReader {
                unknown: unknown_list.and_then(|u| u.get(i)).unwrap_or(&Value::Null),
                planned_only: reader.planned_only,
            };
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
        let rule = IngressRule {
            resource: 0,
            block: None,
            json_path: String::new(),
            protocol: reader.scalar(protocol, "protocol"),
            from_port: reader.scalar(from_port, "from_port"),
            to_port: reader.scalar(to_port, "to_port"),
            cidrs: Vec::new(),
            other_sources: Vec::new(),
            direction_known: true,
            unknown_attributes: Vec::new(),
            note: None,
            group: None,
        };
        let known = [
            rule.protocol.known().is_some(),
            rule.from_port.known().is_some(),
            rule.to_port.known().is_some(),
        ];
        known.iter().all(|k| *k) && !(self.concerns)(&rule)
    }
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

//! Turns common plan-time unknowns back into values, using the plan's `configuration`.
//!
//! `cidr_blocks = [aws_vpc.main.cidr_block]` is unknown in the SG's planned state whenever the
//! VPC is new, yet the VPC's own planned `cidr_block` is usually a literal in the same plan.
//! The configuration records only the *references* of an expression, not its text, so a value
//! is substituted only when the shape leaves no doubt:
//! - exactly one unknown element in the list (or an unknown scalar like `cidr_ipv4`),
//! - the expression references exactly one managed-resource attribute in the same module
//!   instance (no variables, locals, other resources, `count.index`); for inline `ingress`
//!   blocks Terraform reports one expression for all blocks together, so that single reference
//!   must hold for all of them,
//! - that attribute is a known, CIDR-shaped string at the top level of the referenced resource's
//!   planned state (the plan reader keeps only those: see [`crate::plan::PlannedCidrs`]).
//!
//! Anything else stays unknown and is reported as such: this module only ever removes doubt
//! that the plan itself settles.

use serde_json::{Map, Value};

use super::{CidrValue, IngressRule};
use crate::plan::address::{self, attribute_reference};
use crate::plan::config::{ConfigResource, Expression};
use crate::plan::{Plan, PlannedResource};

pub(super) struct Resolver<'p> {
    plan: &'p Plan,
}

impl<'p> Resolver<'p> {
    pub(super) fn new(plan: &'p Plan) -> Self {
        Resolver { plan }
    }

    /// The chain of module calls (with sources) that leads to `resource`'s module.
    pub(super) fn module_calls(
        &self,
        resource: &PlannedResource,
    ) -> Option<Vec<super::ModuleCallSource>> {
        let names = match &resource.module_address {
            Some(module) => address::module_call_names(module)?,
            None => return Some(Vec::new()),
        };
        let mut module = self.plan.configuration.as_ref()?;
        let mut calls = Vec::new();
        for name in names {
            let call = module.module_calls.get(&name)?;
            calls.push(super::ModuleCallSource {
                name,
                source: call.source.clone(),
            });
            module = call.module.as_ref()?;
        }
        Some(calls)
    }

    /// The configuration block that declared `resource`, when the plan carries configuration.
    fn config_resource(&self, resource: &PlannedResource) -> Option<&'p ConfigResource> {
        let root = self.plan.configuration.as_ref()?;
        let names = match &resource.module_address {
            Some(module) => address::module_call_names(module)?,
            None => Vec::new(),
        };
        root.module(&names)?
            .managed_resource(&resource.resource_type, &resource.name)
    }

    fn expressions(&self, resource: &PlannedResource) -> Option<Map<String, Value>> {
        let raw = self.config_resource(resource)?.expressions.as_ref()?;
        serde_json::from_str(raw.get()).ok()
    }

    /// Whether this plan's configuration summary includes attributes written as blocks, such as
    /// inline `ingress`: from format 1.0 (Terraform 1.1) on.
    pub(super) fn config_shows_inline_ingress(&self) -> bool {
        !self.plan.format_version.starts_with("0.")
    }

    /// True when the configuration shows the resource block has no inline `ingress` at all.
    /// Without configuration nothing can be proven, so this is false. Neither can it be from
    /// plans of format 0.x (Terraform before 1.1), whose configuration leaves out attributes
    /// written as blocks, inline `ingress` included.
    pub(super) fn declares_no_inline_ingress(&self, resource: &PlannedResource) -> bool {
        if !self.config_shows_inline_ingress() {
            return false;
        }
        match self.config_resource(resource) {
            Some(config) => match &config.expressions {
                Some(raw) => serde_json::from_str::<Map<String, Value>>(raw.get())
                    .map(|e| !e.contains_key("ingress"))
                    .unwrap_or(false),
                None => true,
            },
            None => false,
        }
    }

    /// Replaces unknown CIDR entries of `rule` with values the plan settles.
    pub(super) fn resolve_cidrs(&self, resource: &PlannedResource, rule: &mut IngressRule) {
        let has_unknown = rule.cidrs.iter().any(|c| c.value == CidrValue::Unknown);
        if !has_unknown || self.plan.configuration.is_none() {
            return;
        }
        let Some(expressions) = self.expressions(resource) else {
            return;
        };
        let inline_block = match expressions.get("ingress") {
            Some(Value::Array(_)) if rule.block.is_some() => {
                inline_block_expressions(&expressions, rule)
            }
            _ => None,
        };
        let is_inline = rule.block.is_some();
        let expression_of = |attribute: &str| -> Option<Expression> {
            let value = if !is_inline {
                expressions.get(attribute)?
            } else {
                match expressions.get("ingress")? {
                    // The AWS provider declares `ingress` as an attribute written with block
                    // syntax, so Terraform summarises all inline blocks as one expression whose
                    // references are those of every block together.
                    whole @ Value::Object(_) => whole,
                    // Providers with true nested blocks get one object per block.
                    Value::Array(_) => inline_block.as_ref()?.get(attribute)?,
                    _ => return None,
                }
            };
            serde_json::from_value::<Expression>(value.clone()).ok()
        };
        for attribute in ["cidr_blocks", "ipv6_cidr_blocks", "cidr_ipv4", "cidr_ipv6"] {
            let unknown: Vec<usize> = rule
                .cidrs
                .iter()
                .enumerate()
                .filter(|(_, c)| c.attribute == attribute && c.value == CidrValue::Unknown)
                .map(|(i, _)| i)
                .collect();
            // One unknown element of a list of known length, or an unknown scalar. A wholly
            // unknown list (index None on a list attribute) could be any function's result.
            let [only] = unknown.as_slice() else { continue };
            let entry_index = rule.cidrs[*only].index;
            let is_list = attribute.ends_with("_blocks");
            if is_list && entry_index.is_none() {
                continue;
            }
            let Some(expression) = expression_of(attribute) else {
                continue;
            };
            if let Some((value, reference)) = self.resolve_reference(resource, &expression) {
                rule.cidrs[*only].value = CidrValue::Resolved { value, reference };
                let label = match entry_index {
                    Some(i) => format!("{attribute}[{i}]"),
                    None => attribute.to_string(),
                };
                rule.unknown_attributes.retain(|a| *a != label);
            }
        }
    }

    /// The address of the security group whose `id` a standalone rule's `security_group_id`
    /// refers to, when its configuration expression is exactly one such reference in the same
    /// module instance (a literal instance key is kept). An expression with any other reference
    /// (`count.index`, a variable, a second resource) says nothing certain: `None`.
    pub(super) fn group_reference(&self, resource: &PlannedResource) -> Option<String> {
        match self
            .id_references(
                resource,
                "security_group_id",
                &["aws_security_group", "aws_default_security_group"],
            )?
            .as_slice()
        {
            [only] => Some(only.clone()),
            _ => None,
        }
    }

    /// The addresses (in the resource's module instance) of the resources whose `id` the
    /// configuration expression of `attribute` refers to, when every reference it makes is the
    /// `id` of a resource of one of `types`; `None` when any other reference is made, or the
    /// configuration does not show the attribute.
    pub(super) fn id_references(
        &self,
        resource: &PlannedResource,
        attribute: &str,
        types: &[&str],
    ) -> Option<Vec<String>> {
        let expressions = self.expressions(resource)?;
        let expression: Expression =
            serde_json::from_value(expressions.get(attribute)?.clone()).ok()?;
        let significant = significant_references(&expression.references);
        if significant.is_empty() {
            return None;
        }
        significant
            .iter()
            .map(|reference| {
                let target = attribute_reference(reference)?;
                let resource_type = target.resource.split('.').next()?;
                if target.attribute != "id" || !types.contains(&resource_type) {
                    return None;
                }
                Some(match &resource.module_address {
                    Some(module) => format!("{module}.{}", target.resource),
                    None => target.resource,
                })
            })
            .collect()
    }

    /// The known string value of the single resource attribute `expression` refers to.
    fn resolve_reference(
        &self,
        resource: &PlannedResource,
        expression: &Expression,
    ) -> Option<(String, String)> {
        let significant = significant_references(&expression.references);
        let [reference] = significant.as_slice() else {
            return None;
        };
        let target = attribute_reference(reference)?;
        let address = match &resource.module_address {
            Some(module) => format!("{module}.{}", target.resource),
            None => target.resource.clone(),
        };
        let value = self.plan.planned_cidrs.get(&address, &target.attribute)?;
        Some((value.to_string(), format!("{address}.{}", target.attribute)))
    }
}

/// The references of an expression, each in its longest form: Terraform lists
/// `aws_vpc.main.cidr_block` and its prefix `aws_vpc.main`.
fn significant_references(refs: &[String]) -> Vec<&String> {
    refs.iter()
        .filter(|r| {
            !refs.iter().any(|other| {
                other.len() > r.len()
                    && other.starts_with(r.as_str())
                    && matches!(other.as_bytes()[r.len()], b'.' | b'[')
            })
        })
        .collect()
}

/// For providers whose `ingress` is a true nested block type: the configuration of the block
/// that produced `rule`, the one static block whose literal protocol and ports match the planned
/// rule. Planned `ingress` is a set, so its order says nothing about the order in the file.
fn inline_block_expressions(
    expressions: &Map<String, Value>,
    rule: &IngressRule,
) -> Option<Map<String, Value>> {
    let blocks = expressions.get("ingress")?.as_array()?;
    let constant = |block: &Map<String, Value>, key: &str| -> Option<Value> {
        serde_json::from_value::<Expression>(block.get(key)?.clone())
            .ok()?
            .constant_value
    };
    let matches = |block: &&Map<String, Value>| {
        let protocol_ok = match (rule.protocol.known(), constant(block, "protocol")) {
            (Some(Some(p)), Some(Value::String(c))) => p.eq_ignore_ascii_case(&c),
            _ => false,
        };
        let port_ok = |known: Option<&Option<i64>>, key| match (known, constant(block, key)) {
            (Some(Some(p)), Some(Value::Number(n))) => n.as_i64() == Some(*p),
            _ => false,
        };
        protocol_ok
            && port_ok(rule.from_port.known(), "from_port")
            && port_ok(rule.to_port.known(), "to_port")
    };
    let candidates: Vec<&Map<String, Value>> = blocks
        .iter()
        .filter_map(Value::as_object)
        .filter(matches)
        .collect();
    match candidates.as_slice() {
        [only] => Some((*only).clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::Plan;
    use crate::rules::{CidrValue, extract};

    /// A new VPC with a literal CIDR and an SG whose inline rule uses the VPC's CIDR.
    fn plan(references: &str, vpc_cidr: &str) -> String {
        format!(
            r#"{{"format_version":"1.2","planned_values":{{"root_module":{{}}}},"resource_changes":[
            {{"address":"module.net.aws_vpc.main","module_address":"module.net","mode":"managed","type":"aws_vpc","name":"main",
              "change":{{"actions":["create"],"after":{{"cidr_block":"{vpc_cidr}"}},"after_unknown":{{"id":true}}}}}},
            {{"address":"module.net.aws_security_group.smb","module_address":"module.net","mode":"managed",
              "type":"aws_security_group","name":"smb","change":{{"actions":["create"],
              "after":{{"ingress":[{{"protocol":"tcp","from_port":445,"to_port":445,"cidr_blocks":[null]}}]}},
              "after_unknown":{{"ingress":[{{"cidr_blocks":[true]}}]}}}}}}],
            "configuration":{{"root_module":{{"module_calls":{{"net":{{"source":"./net","module":{{"resources":[
              {{"address":"aws_security_group.smb","mode":"managed","type":"aws_security_group","name":"smb",
                "expressions":{{"ingress":{{"references":{references}}}}}}}]}}}}}}}}}}}}"#
        )
    }

    fn cidr_values(json: &str) -> Vec<CidrValue> {
        let plan = Plan::parse(json, "t.json").unwrap();
        let set = extract(&plan).unwrap();
        set.rules[0].cidrs.iter().map(|c| c.value.clone()).collect()
    }

    #[test]
    fn an_inline_cidr_from_a_single_resource_attribute_is_resolved() {
        let values = cidr_values(&plan(
            r#"["aws_vpc.main.cidr_block","aws_vpc.main"]"#,
            "10.0.0.0/16",
        ));
        assert_eq!(
            values,
            [CidrValue::Resolved {
                value: "10.0.0.0/16".into(),
                reference: "module.net.aws_vpc.main.cidr_block".into()
            }]
        );
    }

    #[test]
    fn an_expression_with_other_references_stays_unknown() {
        let values = cidr_values(&plan(
            r#"["var.open","aws_vpc.main.cidr_block","aws_vpc.main"]"#,
            "10.0.0.0/16",
        ));
        assert_eq!(values, [CidrValue::Unknown]);
        let values = cidr_values(&plan(
            r#"["aws_vpc.other.cidr_block","aws_vpc.other"]"#,
            "10.0.0.0/16",
        ));
        assert_eq!(
            values,
            [CidrValue::Unknown],
            "the referenced resource is not in the plan"
        );
    }

    #[test]
    fn an_unknown_referenced_attribute_stays_unknown() {
        let json = plan(
            r#"["aws_vpc.main.cidr_block","aws_vpc.main"]"#,
            "10.0.0.0/16",
        )
        .replace(
            r#""after_unknown":{"id":true}"#,
            r#""after_unknown":{"id":true,"cidr_block":true}"#,
        );
        assert_eq!(cidr_values(&json), [CidrValue::Unknown]);
    }
}

//! Turns common plan-time unknowns back into values, using the plan's `configuration` and,
//! where that alone proves nothing, the Terraform sources.
//!
//! `cidr_blocks = [aws_vpc.main.cidr_block]` is unknown in the SG's planned state whenever the
//! VPC is new, yet the VPC's own planned `cidr_block` is usually a literal in the same plan. The
//! configuration records only the *references* of an expression, not its text:
//! `cond ? "0.0.0.0/0" : aws_vpc.main.cidr_block` records the same ones, and `dynamic` blocks
//! are not recorded at all. So the configuration only proposes (a likely value, a likely group),
//! and the sources ([`crate::sources`]), once shown to match the plan, decide:
//! - an unknown CIDR becomes the value of the one managed-resource attribute it references when
//!   the sources write it as exactly that reference (in a list of literals and references, at
//!   the same position; for inline `ingress`, every static block's references are that one and
//!   there is no `dynamic "ingress"`), and that attribute is a known CIDR-shaped string in the
//!   plan (see [`crate::plan::PlannedCidrs`]);
//! - a group with unknown `ingress` has no inline rules only when its block has neither
//!   `ingress` nor `dynamic "ingress"`;
//! - a standalone rule's unknown `security_group_id`, and unknown prefix list ids, name the
//!   resources whose `id` the sources reference plainly (`aws_security_group.x.id`, with a
//!   literal key or the rule's own `[count.index]` / `[each.key]`).
//!
//! Every failed proof leaves the value unknown (PG003) and says why, so a user learns what
//! `--source` would settle.

use serde_json::{Map, Value};

use std::rc::Rc;

use super::{CidrValue, IngressRule};
use crate::plan::address::{self, attribute_reference};
use crate::plan::config::{ConfigResource, Expression};
use crate::plan::{Plan, PlannedResource};
use crate::sources::proof::{Element, InlineIngress, InstanceKey};
use crate::sources::{Declared, Sources};

/// Why a proof failed when there are no sources at all.
pub const NO_SOURCES: &str = "portgate had no Terraform sources to read (`--source DIR` with the root module the plan was made from, or a run task that sends its configuration, can settle it)";

pub(super) struct Resolver<'p> {
    plan: &'p Plan,
    sources: Option<&'p Sources>,
}

impl<'p> Resolver<'p> {
    pub(super) fn new(plan: &'p Plan, sources: Option<&'p Sources>) -> Self {
        Resolver { plan, sources }
    }

    /// The resource's block in the sources, checked against the plan's configuration.
    fn declared(&self, resource: &PlannedResource) -> Result<Rc<Declared>, String> {
        let sources = self.sources.ok_or(NO_SOURCES)?;
        let calls = self.module_calls(resource).ok_or(
            "the plan's configuration does not show the module that declares it, so no source can be checked against it",
        )?;
        if self.config_resource(resource).is_none() {
            return Err(
                "the plan's configuration does not show its resource block, so no source can be checked against it"
                    .to_string(),
            );
        }
        let expressions = self.expressions(resource).unwrap_or_default();
        sources.resource(
            &calls,
            &resource.resource_type,
            &resource.name,
            Some(&expressions),
            self.config_shows_inline_ingress(),
        )
    }

    /// The chain of module calls (with sources) that leads to `resource`'s module.
    pub(super) fn module_calls(
        &self,
        resource: &PlannedResource,
    ) -> Option<Vec<super::ModuleCallSource>> {
        self.module_calls_of(resource.module_address.as_deref())
    }

    /// The chain of module calls (with sources) that leads to the module at `module_address`
    /// (`None`: the root module).
    pub(super) fn module_calls_of(
        &self,
        module_address: Option<&str>,
    ) -> Option<Vec<super::ModuleCallSource>> {
        let names = match module_address {
            Some(module) => address::module_call_names(module)?,
            None => return Some(Vec::new()),
        };
        if self.plan.configuration.is_none() && self.plan.kind == crate::plan::InputKind::State {
            // A state has no configuration: the sources' `module` blocks say it.
            return self.sources?.module_calls_of(module_address);
        }
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
        serde_json::from_str(raw).ok()
    }

    /// Whether this plan's configuration summary includes attributes written as blocks, such as
    /// inline `ingress`: from format 1.0 (Terraform 1.1) on.
    pub(super) fn config_shows_inline_ingress(&self) -> bool {
        !self.plan.format_version.starts_with("0.")
    }

    /// `Ok` when the group is proven to declare no inline rules: its block in the sources
    /// (matching the plan) has neither `ingress` nor `dynamic "ingress"`, and the configuration
    /// records no `ingress` either. Plans of format 0.x (Terraform before 1.1) never prove it:
    /// their configuration leaves out attributes written as blocks, so a source tree that lost
    /// its `ingress` blocks after the plan would still match.
    pub(super) fn no_inline_ingress(&self, resource: &PlannedResource) -> Result<(), String> {
        if !self.config_shows_inline_ingress() {
            return Err(
                "plans of format 0.x (Terraform before 1.1) do not show whether a group declares inline rules; with Terraform 1.1+ and its sources, a group whose rules all come from rule resources is not reported"
                    .to_string(),
            );
        }
        if self
            .expressions(resource)
            .is_some_and(|e| e.contains_key("ingress"))
        {
            return Err("its configuration has inline `ingress` rules".to_string());
        }
        let declared = self.declared(resource)?;
        match declared.inline_ingress() {
            InlineIngress::None => Ok(()),
            InlineIngress::StaticBlocks => Err(format!("{} has `ingress` blocks", declared.origin)),
            InlineIngress::Computed => Err(format!(
                "{} writes its inline rules with `dynamic \"ingress\"` or an `ingress` expression, whose elements are known only at apply",
                declared.origin
            )),
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
            let Some(likely) = self.resolve_reference(resource, &expression) else {
                continue;
            };
            let label = match entry_index {
                Some(i) => format!("{attribute}[{i}]"),
                None => attribute.to_string(),
            };
            match self.prove_reference(resource, rule, attribute, entry_index, &likely.relative) {
                Ok(()) => {
                    rule.cidrs[*only].value = CidrValue::Resolved {
                        value: likely.value,
                        reference: likely.address,
                    };
                    rule.unknown_attributes.retain(|a| *a != label);
                }
                Err(why) => add_note(
                    rule,
                    format!(
                        "{label} is likely {} = {}, but {why}",
                        likely.address, likely.value
                    ),
                ),
            }
        }
    }

    /// `Ok` when the sources write the unknown entry `attribute[index]` of `rule` as exactly
    /// `reference` (module-relative).
    fn prove_reference(
        &self,
        resource: &PlannedResource,
        rule: &IngressRule,
        attribute: &str,
        index: Option<usize>,
        reference: &str,
    ) -> Result<(), String> {
        let declared = self.declared(resource)?;
        let origin = &declared.origin;
        let is_it = |e: &Element| matches!(e, Element::Reference(r) if r.text == reference && r.keyed.is_none());
        let proven = if rule.block.is_some() {
            // Planned `ingress` is a set: its order says nothing about which block the entry
            // came from, so every reference of every static block must be this one.
            declared.ingress_lists(attribute).is_some_and(|lists| {
                let references: Vec<&Element> = lists
                    .iter()
                    .flatten()
                    .filter(|e| matches!(e, Element::Reference(_)))
                    .collect();
                !references.is_empty() && references.into_iter().all(is_it)
            })
        } else if let Some(index) = index {
            let planned_len = rule
                .cidrs
                .iter()
                .filter(|c| c.attribute == attribute && c.index.is_some())
                .count();
            declared.list(attribute).is_some_and(|elements| {
                elements.len() == planned_len && elements.get(index).is_some_and(is_it)
            })
        } else {
            declared.scalar(attribute).as_ref().is_some_and(is_it)
        };
        if proven {
            Ok(())
        } else if rule.block.is_some() {
            Err(format!(
                "{origin} does not write every inline rule as a static `ingress` block whose `{attribute}` holds only literals and `{reference}`"
            ))
        } else {
            Err(format!(
                "`{attribute}` at {origin} is not written as just `{reference}`"
            ))
        }
    }

    /// The address of the security group a standalone rule's unknown `security_group_id`
    /// names, when the sources write it as a plain reference to a group's `id` in the same
    /// module instance: `aws_security_group.x.id`, with a literal key, or with the rule's own
    /// `[count.index]` / `[each.key]`. `Err` holds a note when the configuration suggests a
    /// group the sources could not confirm.
    pub(super) fn group_reference(
        &self,
        resource: &PlannedResource,
    ) -> Result<String, Option<String>> {
        const TYPES: [&str; 2] = ["aws_security_group", "aws_default_security_group"];
        let likely = self
            .config_id_references(resource, "security_group_id", &TYPES)
            .filter(|r| r.len() == 1);
        let proven = self.declared(resource).and_then(|declared| {
            let written = declared.scalar("security_group_id");
            let target = match &written {
                Some(Element::Reference(r)) => id_target(&r.text, &TYPES),
                _ => None,
            };
            let Some((target, keyed)) = target else {
                return Err(format!(
                    "`security_group_id` at {} is not written as a plain reference to a security group's id",
                    declared.origin
                ));
            };
            let Some(Element::Reference(written)) = &written else {
                unreachable!("a target is only found in a reference")
            };
            let target = if keyed {
                let key = instance_key(resource).ok_or_else(|| {
                    format!(
                        "`security_group_id` at {} indexes by the instance key, but {} has none",
                        declared.origin, resource.address
                    )
                })?;
                let fits = match written.keyed {
                    Some(InstanceKey::CountIndex) => !key.starts_with("[\""),
                    Some(InstanceKey::EachKey) => key.starts_with("[\""),
                    None => false,
                };
                if !fits {
                    return Err(format!(
                        "`security_group_id` at {} indexes by a key of another kind than {}'s",
                        declared.origin, resource.address
                    ));
                }
                target.replace("[*]", key)
            } else {
                target
            };
            Ok(self.in_module(resource, &target))
        });
        match proven {
            Ok(address) => Ok(address),
            Err(why) => Err(match likely {
                Some(r) => Some(format!(
                    "its security_group_id likely refers to {}.id, but {why}",
                    r[0]
                )),
                None if why != NO_SOURCES => Some(why),
                None => None,
            }),
        }
    }

    /// The addresses (in the resource's module instance) of the resources whose `id` the
    /// sources write `attribute` as: one plain reference, or a list of them, each to a resource
    /// of one of `types`. `Err` says why not.
    pub(super) fn id_references(
        &self,
        resource: &PlannedResource,
        attribute: &str,
        types: &[&str],
    ) -> Result<Vec<String>, String> {
        let declared = self.declared(resource)?;
        let elements = match declared.scalar(attribute) {
            Some(element) => vec![element],
            None => declared.list(attribute).unwrap_or_default(),
        };
        let targets: Option<Vec<String>> = elements
            .iter()
            .map(|e| match e {
                Element::Reference(r) => match id_target(&r.text, types) {
                    Some((target, false)) => Some(self.in_module(resource, &target)),
                    _ => None,
                },
                Element::Literal(_) => None,
            })
            .collect();
        match targets {
            Some(targets) if !targets.is_empty() => Ok(targets),
            _ => Err(format!(
                "`{attribute}` at {} is not written as plain references to {}",
                declared.origin,
                types.join(" / ")
            )),
        }
    }

    /// `address` (module-relative) in the resource's module instance.
    fn in_module(&self, resource: &PlannedResource, address: &str) -> String {
        match &resource.module_address {
            Some(module) => format!("{module}.{address}"),
            None => address.to_string(),
        }
    }

    /// What the configuration suggests, before any proof: the resources (module-relative) whose
    /// `id` every significant reference of `attribute` names.
    pub(super) fn config_id_references(
        &self,
        resource: &PlannedResource,
        attribute: &str,
        types: &[&str],
    ) -> Option<Vec<String>> {
        let significant = self.config_references(resource, attribute)?;
        if significant.is_empty() {
            return None;
        }
        significant
            .iter()
            .map(|reference| {
                let target = attribute_reference(reference)?;
                let resource_type = target.resource.split('.').next()?;
                (target.attribute == "id" && types.contains(&resource_type))
                    .then(|| self.in_module(resource, &target.resource))
            })
            .collect()
    }

    /// The significant references the configuration records for `attribute` of `resource`.
    pub(super) fn config_references(
        &self,
        resource: &PlannedResource,
        attribute: &str,
    ) -> Option<Vec<String>> {
        let expressions = self.expressions(resource)?;
        let expression: Expression =
            serde_json::from_value(expressions.get(attribute)?.clone()).ok()?;
        Some(
            significant_references(&expression.references)
                .into_iter()
                .cloned()
                .collect(),
        )
    }

    /// The known string value of the single resource attribute `expression` refers to.
    fn resolve_reference(
        &self,
        resource: &PlannedResource,
        expression: &Expression,
    ) -> Option<Likely> {
        let significant = significant_references(&expression.references);
        let [reference] = significant.as_slice() else {
            return None;
        };
        let target = attribute_reference(reference)?;
        let address = self.in_module(resource, &target.resource);
        let value = self.plan.planned_cidrs.get(&address, &target.attribute)?;
        Some(Likely {
            value: value.to_string(),
            address: format!("{address}.{}", target.attribute),
            relative: reference.to_string(),
        })
    }
}

/// The value an unknown CIDR likely has, from the configuration's one reference.
struct Likely {
    value: String,
    /// `module.net.aws_vpc.main.cidr_block`.
    address: String,
    /// `aws_vpc.main.cidr_block`, as the module's sources write it.
    relative: String,
}

/// Adds a note to a rule (notes say why a value stays unknown).
pub(super) fn add_note(rule: &mut IngressRule, note: String) {
    rule.note = Some(match rule.note.take() {
        Some(first) => format!("{first}; {note}"),
        None => note,
    });
}

/// `TYPE.NAME` (with its key, `[*]` for the instance's own) of a reference `TYPE.NAME[KEY].id`
/// to a resource of one of `types`, and whether the key is the instance's own.
fn id_target(text: &str, types: &[&str]) -> Option<(String, bool)> {
    let resource = text.strip_suffix(".id")?;
    let (resource_type, rest) = resource.split_once('.')?;
    if !types.contains(&resource_type) {
        return None;
    }
    let name_end = rest.find('[').unwrap_or(rest.len());
    let (name, key) = rest.split_at(name_end);
    let plain_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key_ok = key.is_empty() || address::instance_key_len(key) == Some(key.len());
    (plain_name && key_ok).then(|| (resource.to_string(), key == "[*]"))
}

/// The instance key of a resource address (`[2]`, `["a"]`), when it has one.
fn instance_key(resource: &PlannedResource) -> Option<&str> {
    let prefix = match &resource.module_address {
        Some(module) => module.len() + 1,
        None => 0,
    } + resource.resource_type.len()
        + 1
        + resource.name.len();
    resource
        .address
        .get(prefix..)
        .filter(|key| key.starts_with('['))
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
    use crate::sources::Sources;

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

    /// The rule's CIDR values, read with the module `net` written as `net_main_tf`.
    fn cidr_values_with(json: &str, net_main_tf: Option<&str>) -> Vec<CidrValue> {
        let plan = Plan::parse(json, "t.json").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let sources = net_main_tf.map(|text| {
            std::fs::create_dir(dir.path().join("net")).unwrap();
            std::fs::write(dir.path().join("net/main.tf"), text).unwrap();
            Sources::open(dir.path())
        });
        let set = extract(&plan, sources.as_ref()).unwrap();
        set.rules[0].cidrs.iter().map(|c| c.value.clone()).collect()
    }

    const NET_MAIN_TF: &str = r#"
resource "aws_security_group" "smb" {
  ingress {
    protocol    = "tcp"
    from_port   = 445
    to_port     = 445
    cidr_blocks = [aws_vpc.main.cidr_block]
  }
}
"#;

    fn cidr_values(json: &str) -> Vec<CidrValue> {
        cidr_values_with(json, Some(NET_MAIN_TF))
    }

    #[test]
    fn an_inline_cidr_is_resolved_only_when_the_sources_show_the_bare_reference() {
        let json = plan(
            r#"["aws_vpc.main.cidr_block","aws_vpc.main"]"#,
            "10.0.0.0/16",
        );
        assert_eq!(cidr_values_with(&json, None), [CidrValue::Unknown]);
        let conditional = NET_MAIN_TF.replace(
            "[aws_vpc.main.cidr_block]",
            r#"[uuid() != "" ? "0.0.0.0/0" : aws_vpc.main.cidr_block]"#,
        );
        assert_eq!(
            cidr_values_with(&json, Some(&conditional)),
            [CidrValue::Unknown]
        );
        let values = cidr_values(&json);
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

    #[test]
    fn a_rule_keyed_by_each_key_joins_the_group_of_its_own_key() {
        let json = r#"{"format_version":"1.2","planned_values":{"root_module":{}},"resource_changes":[
            {"address":"aws_security_group.x[\"a\"]","mode":"managed","type":"aws_security_group","name":"x","index":"a",
             "change":{"actions":["create"],"after":{"ingress":[]},"after_unknown":{"id":true}}},
            {"address":"aws_security_group_rule.r[\"a\"]","mode":"managed","type":"aws_security_group_rule","name":"r","index":"a",
             "change":{"actions":["create"],"after":{"type":"ingress","protocol":"tcp","from_port":445,"to_port":445,
               "cidr_blocks":["0.0.0.0/1"]},"after_unknown":{"security_group_id":true}}}],
            "configuration":{"root_module":{"resources":[
              {"address":"aws_security_group.x","mode":"managed","type":"aws_security_group","name":"x",
               "for_each_expression":{"references":["var.keys"]},"expressions":{"ingress":{"constant_value":[]}}},
              {"address":"aws_security_group_rule.r","mode":"managed","type":"aws_security_group_rule","name":"r",
               "for_each_expression":{"references":["var.keys"]},"expressions":{
                 "type":{"constant_value":"ingress"},"protocol":{"constant_value":"tcp"},
                 "from_port":{"constant_value":445},"to_port":{"constant_value":445},
                 "cidr_blocks":{"constant_value":["0.0.0.0/1"]},
                 "security_group_id":{"references":["aws_security_group.x","each.key"]}}}]}}}"#;
        let main_tf = r#"
resource "aws_security_group" "x" {
  for_each = var.keys
  ingress  = []
}

resource "aws_security_group_rule" "r" {
  for_each          = var.keys
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 445
  to_port           = 445
  cidr_blocks       = ["0.0.0.0/1"]
  security_group_id = aws_security_group.x[each.key].id
}
"#;
        let plan = Plan::parse(json, "t.json").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.tf"), main_tf).unwrap();
        let sources = Sources::open(dir.path());
        let set = extract(&plan, Some(&sources)).unwrap();
        let rule = set.rules.iter().find(|r| r.block.is_none()).unwrap();
        assert_eq!(rule.group.as_deref(), Some(r#"aws_security_group.x["a"]"#));
        // Sources edited after the plan prove nothing.
        std::fs::write(
            dir.path().join("main.tf"),
            main_tf.replace("[each.key]", "[count.index]"),
        )
        .unwrap();
        let set = extract(&plan, Some(&Sources::open(dir.path()))).unwrap();
        let rule = set.rules.iter().find(|r| r.block.is_none()).unwrap();
        assert_eq!(rule.group, None);
        assert!(
            rule.note
                .as_deref()
                .unwrap_or_default()
                .contains("do not match the plan")
        );
        // By count.index, a string key is not the rule's own: no group.
        let json = json.replace("each.key", "count.index");
        let plan = Plan::parse(&json, "t.json").unwrap();
        let set = extract(&plan, Some(&Sources::open(dir.path()))).unwrap();
        let rule = set.rules.iter().find(|r| r.block.is_none()).unwrap();
        assert_eq!(rule.group, None);
        assert!(
            rule.note
                .as_deref()
                .unwrap_or_default()
                .contains("indexes by a key of another kind"),
            "{:?}",
            rule.note
        );
    }
}

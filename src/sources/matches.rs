//! Does a resource block say what the plan's `configuration` recorded for it?
//!
//! Terraform writes, for every argument and static nested block the provider's schema knows
//! (internal/command/jsonconfig/expression.go, `marshalExpressions`): a `constant_value` when the
//! expression evaluates without context (literals, arithmetic on literals), else the
//! `references` it makes, each with every prefix. Blocks of an attribute written in block
//! syntax (the AWS provider's `ingress`) become one expression for all of them (blocktoattr),
//! a set whose order says nothing. `dynamic` blocks and meta-arguments are never written.
//!
//! So the sources match when: every recorded key is there and every argument or static block
//! of the sources is recorded; a constant equals the literal written (or the source cannot be
//! read as a literal); a recorded non-constant is not a literal in the sources, and each of its
//! references appears in the source expression. The check catches an argument added, removed,
//! changed to or from a literal, or pointed elsewhere after the plan; it cannot see a `dynamic`
//! block added or removed, which is why a proof also asks that the planned value agrees.

use std::collections::BTreeMap;

use hcl_edit::expr::{Expression, ObjectKey, Traversal};
use hcl_edit::structure::{Block, Body, Structure};
use hcl_edit::visit::{Visit, visit_traversal};
use serde_json::{Map, Value};

use super::Declared;

/// Arguments of a `resource` block that are Terraform's, never in `expressions`.
const META_ARGUMENTS: [&str; 4] = ["count", "for_each", "provider", "depends_on"];

/// The arguments and static blocks of one body.
struct Parts<'a> {
    attributes: BTreeMap<&'a str, &'a Expression>,
    blocks: BTreeMap<&'a str, Vec<&'a Block>>,
}

impl<'a> Parts<'a> {
    fn of(body: &'a Body) -> Parts<'a> {
        let mut parts = Parts {
            attributes: BTreeMap::new(),
            blocks: BTreeMap::new(),
        };
        for structure in body.iter() {
            match structure {
                Structure::Attribute(a) => {
                    parts.attributes.insert(a.key.as_str(), &a.value);
                }
                Structure::Block(b) if b.ident.as_str() != "dynamic" => {
                    parts.blocks.entry(b.ident.as_str()).or_default().push(b);
                }
                Structure::Block(_) => {}
            }
        }
        parts
    }
}

/// `Ok` when `declared` says what `configuration` (the plan's `expressions` of the resource)
/// records; else what differs. With `blocks_recorded` false (plans of format 0.x), static blocks
/// the configuration does not record are not held against the sources.
pub fn check(
    configuration: &Map<String, Value>,
    declared: &Declared,
    blocks_recorded: bool,
) -> Result<(), String> {
    let parts = Parts {
        attributes: declared
            .attributes
            .iter()
            .filter(|(k, _)| !META_ARGUMENTS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v))
            .collect(),
        blocks: declared
            .blocks
            .iter()
            .filter(|(k, _)| blocks_recorded || configuration.contains_key(k.as_str()))
            .map(|(k, v)| (k.as_str(), v.iter().collect()))
            .collect(),
    };
    compare_body(configuration, &parts, &declared.origin)
}

fn compare_body(configuration: &Map<String, Value>, parts: &Parts, at: &str) -> Result<(), String> {
    for (key, recorded) in configuration {
        if let Some(expr) = parts.attributes.get(key.as_str()) {
            compare_expression(recorded, &[*expr], key, at)?;
        } else if let Some(blocks) = parts.blocks.get(key.as_str()) {
            compare_blocks(recorded, blocks, key, at)?;
        } else {
            return Err(format!(
                "the plan records `{key}`, which the block at {at} does not set"
            ));
        }
    }
    for key in parts.attributes.keys().chain(parts.blocks.keys()) {
        if !configuration.contains_key(*key) {
            return Err(format!(
                "the block at {at} sets `{key}`, which the plan does not record"
            ));
        }
    }
    Ok(())
}

/// True for an expression record (`{"constant_value": …}`, `{"references": […]}`, `{}`), as
/// opposed to the record of a nested block.
fn is_expression(recorded: &Map<String, Value>) -> bool {
    recorded
        .keys()
        .all(|k| k == "constant_value" || k == "references")
}

fn compare_blocks(recorded: &Value, blocks: &[&Block], key: &str, at: &str) -> Result<(), String> {
    match recorded {
        // A nested block type of list or set nesting: one record per block, in order.
        Value::Array(records) => {
            if records.len() != blocks.len() {
                return Err(format!(
                    "the plan records {} `{key}` block(s), the sources at {at} have {}",
                    records.len(),
                    blocks.len()
                ));
            }
            for (record, block) in records.iter().zip(blocks) {
                let Value::Object(record) = record else {
                    return Err(format!("the plan's record of `{key}` is not an object"));
                };
                compare_body(record, &Parts::of(&block.body), at)?;
            }
            Ok(())
        }
        // An attribute written in block syntax: one expression for all blocks.
        Value::Object(record) if is_expression(record) => {
            let bodies: Vec<&Expression> = blocks
                .iter()
                .flat_map(|b| Parts::of(&b.body).attributes.into_values())
                .collect();
            match record.get("constant_value") {
                Some(constant) => {
                    let objects: Option<Value> = blocks
                        .iter()
                        .map(|b| block_literal(&b.body))
                        .collect::<Option<Vec<Value>>>()
                        .map(Value::Array);
                    match objects {
                        Some(objects) if loosely_equal(constant, &objects) => Ok(()),
                        Some(_) => Err(format!(
                            "`{key}` blocks at {at} differ from the plan's constant value"
                        )),
                        None => Ok(()),
                    }
                }
                None => {
                    if blocks.iter().all(|b| block_literal(&b.body).is_some()) {
                        return Err(format!(
                            "`{key}` blocks at {at} are literals, the plan records an expression"
                        ));
                    }
                    compare_references(record, &bodies, key, at)
                }
            }
        }
        // A nested block type of single nesting.
        Value::Object(record) => match blocks {
            [block] => compare_body(record, &Parts::of(&block.body), at),
            _ => Err(format!(
                "the plan records one `{key}` block, the sources at {at} have {}",
                blocks.len()
            )),
        },
        _ => Err(format!("the plan's record of `{key}` is not an object")),
    }
}

fn compare_expression(
    recorded: &Value,
    exprs: &[&Expression],
    key: &str,
    at: &str,
) -> Result<(), String> {
    let Value::Object(record) = recorded else {
        return Err(format!("the plan's record of `{key}` is not an expression"));
    };
    let [expr] = exprs else {
        return Err(format!("`{key}` is set more than once at {at}"));
    };
    match (record.get("constant_value"), literal(expr)) {
        (Some(constant), Some(written)) if !loosely_equal(constant, &written) => {
            Err(format!("`{key}` at {at} is not the value the plan records"))
        }
        // A constant the sources write in a form this check does not evaluate (`1 + 1`).
        (Some(_), _) => Ok(()),
        (None, Some(_)) => Err(format!(
            "`{key}` at {at} is a literal, the plan records an expression"
        )),
        (None, None) => compare_references(record, exprs, key, at),
    }
}

/// Each reference the plan records (in its longest form) is made by the source expressions.
fn compare_references(
    record: &Map<String, Value>,
    exprs: &[&Expression],
    key: &str,
    at: &str,
) -> Result<(), String> {
    let recorded: Vec<&str> = match record.get("references") {
        None => Vec::new(),
        Some(Value::Array(refs)) => refs.iter().filter_map(Value::as_str).collect(),
        Some(_) => return Err(format!("the plan's references of `{key}` are not a list")),
    };
    let mut made = Traversals(Vec::new());
    for expr in exprs {
        made.visit_expr(expr);
    }
    for reference in &recorded {
        let is_made = made.0.iter().any(|t| {
            t == reference
                || (t.starts_with(reference)
                    && matches!(t.as_bytes().get(reference.len()), Some(b'.' | b'[')))
        });
        if !is_made {
            return Err(format!(
                "the plan records `{key}` as referring to {reference}, which the expression at {at} does not"
            ));
        }
    }
    Ok(())
}

/// The text of every traversal in an expression, up to its first index that is not a literal:
/// how Terraform names what an expression refers to.
struct Traversals(Vec<String>);

impl Visit for Traversals {
    fn visit_traversal(&mut self, node: &Traversal) {
        if let Expression::Variable(root) = &node.expr {
            let mut text = root.as_str().to_string();
            for operator in &node.operators {
                match super::proof::literal_step(operator.value()) {
                    Some(step) => text.push_str(&step),
                    None => break,
                }
            }
            self.0.push(text);
        }
        visit_traversal(self, node);
    }
}

/// The JSON value of a literal expression; `None` for anything that needs evaluating.
pub(crate) fn literal(expr: &Expression) -> Option<Value> {
    Some(match expr {
        Expression::Null(_) => Value::Null,
        Expression::Bool(b) => Value::Bool(*b.value()),
        Expression::Number(n) => {
            let n = n.value();
            match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Value::from(i),
                (None, Some(f)) => serde_json::Number::from_f64(f).map(Value::Number)?,
                _ => return None,
            }
        }
        Expression::String(s) => Value::String(s.value().clone()),
        Expression::Array(items) => Value::Array(items.iter().map(literal).collect::<Option<_>>()?),
        Expression::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, value)| {
                    let key = match key {
                        ObjectKey::Ident(ident) => ident.as_str().to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                        ObjectKey::Expression(_) => return None,
                    };
                    Some((key, literal(value.expr())?))
                })
                .collect::<Option<_>>()?,
        ),
        Expression::Parenthesis(inner) => literal(inner.inner())?,
        _ => return None,
    })
}

/// A block's arguments as one JSON object, when all are literals and it has no nested blocks.
fn block_literal(body: &Body) -> Option<Value> {
    let mut object = Map::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(a) => {
                object.insert(a.key.as_str().to_string(), literal(&a.value)?);
            }
            Structure::Block(_) => return None,
        }
    }
    Some(Value::Object(object))
}

/// Equality after Terraform's type conversions (`"445"` is the number 445 in a number
/// attribute), with a recorded `null` standing for an argument not written, and arrays compared
/// as multisets (a set's recorded order says nothing).
pub(crate) fn loosely_equal(recorded: &Value, written: &Value) -> bool {
    match (recorded, written) {
        (Value::Null, Value::Null) => true,
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Number(a), Value::String(b)) | (Value::String(b), Value::Number(a)) => {
            b.trim().parse::<f64>().ok() == a.as_f64()
        }
        (Value::Bool(a), Value::String(b)) | (Value::String(b), Value::Bool(a)) => {
            *b == a.to_string()
        }
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return false;
            }
            if a.iter().zip(b).all(|(x, y)| loosely_equal(x, y)) {
                return true;
            }
            let mut unused: Vec<&Value> = b.iter().collect();
            a.iter()
                .all(|x| match unused.iter().position(|y| loosely_equal(x, y)) {
                    Some(i) => {
                        unused.swap_remove(i);
                        true
                    }
                    None => false,
                })
        }
        (Value::Object(a), Value::Object(b)) => {
            a.iter().all(|(k, v)| match b.get(k) {
                Some(w) => loosely_equal(v, w),
                None => v.is_null(),
            }) && b.keys().all(|k| a.contains_key(k))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(text: &str) -> Declared {
        let body = hcl_edit::parser::parse_body(text).unwrap();
        let mut declared = Declared {
            origin: "main.tf:1".into(),
            attributes: Default::default(),
            blocks: Default::default(),
            dynamic: Default::default(),
        };
        declared.merge(&body);
        declared
    }

    fn config(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_sources_of_the_plan_match() {
        let d = declared(
            r#"
vpc_id = aws_vpc.main.id
name   = "smb"
count  = 2
ingress {
  from_port   = "445"
  to_port     = 445
  protocol    = "tcp"
  cidr_blocks = ["10.0.0.0/8"]
}
ingress {
  from_port   = 139
  to_port     = 139
  protocol    = "tcp"
  cidr_blocks = ["10.0.0.0/8"]
}
dynamic "egress" {
  for_each = var.egress
  content {}
}
lifecycle { create_before_destroy = true }
"#,
        );
        let c = config(
            r#"{"vpc_id":{"references":["aws_vpc.main.id","aws_vpc.main"]},
                "name":{"constant_value":"smb"},
                "ingress":{"constant_value":[
                  {"from_port":139,"to_port":139,"protocol":"tcp","cidr_blocks":["10.0.0.0/8"],"description":null},
                  {"from_port":445,"to_port":445,"protocol":"tcp","cidr_blocks":["10.0.0.0/8"],"description":null}]}}"#,
        );
        assert_eq!(check(&c, &d, true), Ok(()));
    }

    #[test]
    fn a_changed_argument_does_not_match() {
        let d = declared("cidr_ipv4 = \"0.0.0.0/0\"\n");
        let c =
            config(r#"{"cidr_ipv4":{"references":["aws_vpc.main.cidr_block","aws_vpc.main"]}}"#);
        assert!(check(&c, &d, true).unwrap_err().contains("is a literal"));
        let d = declared("cidr_ipv4 = aws_vpc.other.cidr_block\n");
        assert!(
            check(&c, &d, true)
                .unwrap_err()
                .contains("aws_vpc.main.cidr_block")
        );
        let d = declared("cidr_ipv4 = \"10.0.0.0/8\"\n");
        let c = config(r#"{"cidr_ipv4":{"constant_value":"0.0.0.0/0"}}"#);
        assert!(check(&c, &d, true).is_err());
    }

    #[test]
    fn an_added_or_removed_block_does_not_match() {
        let c = config(r#"{"name":{"constant_value":"smb"}}"#);
        let d = declared("name = \"smb\"\ningress {\n  from_port = 445\n}\n");
        assert!(check(&c, &d, true).unwrap_err().contains("`ingress`"));
        let c = config(r#"{"name":{"constant_value":"smb"},"ingress":{"references":["var.x"]}}"#);
        let d = declared("name = \"smb\"\n");
        assert!(check(&c, &d, true).unwrap_err().contains("`ingress`"));
    }

    #[test]
    fn a_reference_behind_an_index_the_plan_cannot_evaluate_matches() {
        let d = declared("security_group_id = aws_security_group.x[count.index].id\n");
        let c = config(
            r#"{"security_group_id":{"references":["aws_security_group.x","count.index"]}}"#,
        );
        assert_eq!(check(&c, &d, true), Ok(()));
    }
}

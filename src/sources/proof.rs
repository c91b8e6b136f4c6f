//! The expression shapes the rules stage may rely on, read from a [`Declared`] resource.
//!
//! Only two shapes prove anything: a bare reference (`aws_vpc.main.cidr_block`,
//! `aws_security_group.web[0].id`, `aws_security_group.web[count.index].id`) and a list whose
//! elements are each a string literal or a bare reference. A conditional, a function call, a
//! splat, a `for` expression or a variable could yield anything, including the world.

use hcl_edit::expr::{Expression, TraversalOperator};

use super::Declared;

/// One element of a list (or a scalar) as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    Literal(String),
    Reference(Reference),
}

/// A bare reference: `text` is how Terraform writes it in `references`
/// (`aws_vpc.main["a"].cidr_block`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub text: String,
    /// Set when one index is the instance's own key (`[count.index]` / `[each.key]`): the
    /// text then holds `[*]` in its place.
    pub keyed: Option<InstanceKey>,
}

/// Which instance key a `[…]` index names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceKey {
    CountIndex,
    EachKey,
}

/// How a resource writes inline `ingress` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InlineIngress {
    /// Neither an `ingress` argument, nor an `ingress` block, nor `dynamic "ingress"`.
    None,
    /// Static `ingress` blocks only.
    StaticBlocks,
    /// A `dynamic "ingress"` block or `ingress = …`: what it yields is not written here.
    Computed,
}

impl Declared {
    pub fn inline_ingress(&self) -> InlineIngress {
        if self.dynamic.contains("ingress") || self.attributes.contains_key("ingress") {
            InlineIngress::Computed
        } else if self.blocks.contains_key("ingress") {
            InlineIngress::StaticBlocks
        } else {
            InlineIngress::None
        }
    }

    /// The elements of list attribute `name` (`None` when it is not a list of literals and bare
    /// references; `Some(empty)` when it is absent).
    pub fn list(&self, name: &str) -> Option<Vec<Element>> {
        match self.attributes.get(name) {
            None => Some(Vec::new()),
            Some(expr) => list_shape(expr),
        }
    }

    /// Scalar attribute `name` when it is a literal or a bare reference.
    pub fn scalar(&self, name: &str) -> Option<Element> {
        element(self.attributes.get(name)?)
    }

    /// For each static `ingress` block, the elements of its list attribute `name`; `None` when
    /// the rules are not all static blocks or one of them writes `name` in another shape.
    pub fn ingress_lists(&self, name: &str) -> Option<Vec<Vec<Element>>> {
        if self.inline_ingress() != InlineIngress::StaticBlocks {
            return None;
        }
        self.blocks
            .get("ingress")?
            .iter()
            .map(|block| match block.body.get_attribute(name) {
                None => Some(Vec::new()),
                Some(attribute) => list_shape(&attribute.value),
            })
            .collect()
    }
}

fn list_shape(expr: &Expression) -> Option<Vec<Element>> {
    match expr {
        Expression::Array(array) => array.iter().map(element).collect(),
        Expression::Parenthesis(inner) => list_shape(inner.inner()),
        _ => None,
    }
}

fn element(expr: &Expression) -> Option<Element> {
    match expr {
        Expression::String(text) => Some(Element::Literal(text.value().clone())),
        Expression::Parenthesis(inner) => element(inner.inner()),
        Expression::Traversal(_) => reference(expr).map(Element::Reference),
        // `"${aws_vpc.main.cidr_block}"`, the Terraform 0.11 spelling: one interpolation and
        // nothing around it is the value itself.
        Expression::StringTemplate(template) => {
            let parts: Vec<&hcl_edit::template::Element> = template.iter().collect();
            match parts.as_slice() {
                [hcl_edit::template::Element::Interpolation(only)] => {
                    reference(&only.expr).map(Element::Reference)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The reference text of a bare traversal: a root name followed by attribute names and literal
/// (or instance-key) indexes only.
pub fn reference(expr: &Expression) -> Option<Reference> {
    let Expression::Traversal(traversal) = expr else {
        return None;
    };
    let Expression::Variable(root) = &traversal.expr else {
        return None;
    };
    let mut text = root.as_str().to_string();
    let mut keyed = None;
    for operator in &traversal.operators {
        if let Some(step) = literal_step(operator.value()) {
            text.push_str(&step);
            continue;
        }
        // Anything else is an index by the instance's own key, or not a bare reference.
        let TraversalOperator::Index(index) = operator.value() else {
            return None;
        };
        let key = match reference(index)?.text.as_str() {
            "count.index" => InstanceKey::CountIndex,
            "each.key" => InstanceKey::EachKey,
            _ => return None,
        };
        if keyed.replace(key).is_some() {
            return None;
        }
        text.push_str("[*]");
    }
    Some(Reference { text, keyed })
}

/// How Terraform writes one step of a reference, when it needs no evaluation: `.name`, `[0]`,
/// `["key"]`.
pub(super) fn literal_step(operator: &TraversalOperator) -> Option<String> {
    match operator {
        TraversalOperator::GetAttr(name) => Some(format!(".{}", name.as_str())),
        TraversalOperator::LegacyIndex(i) => Some(format!("[{}]", i.value())),
        TraversalOperator::Index(Expression::Number(n)) => {
            Some(format!("[{}]", n.value().as_u64()?))
        }
        TraversalOperator::Index(Expression::String(s)) => {
            Some(format!("[{}]", serde_json::to_string(s.value()).ok()?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(text: &str) -> Option<Vec<Element>> {
        let body = hcl_edit::parser::parse_body(&format!("x = {text}\n")).unwrap();
        list_shape(&body.get_attribute("x").unwrap().value)
    }

    fn reference_text(text: &str) -> Option<String> {
        let body = hcl_edit::parser::parse_body(&format!("x = {text}\n")).unwrap();
        reference(&body.get_attribute("x").unwrap().value).map(|r| r.text)
    }

    #[test]
    fn bare_references_are_rendered_as_terraform_writes_them() {
        assert_eq!(
            reference_text("aws_vpc.main.cidr_block").as_deref(),
            Some("aws_vpc.main.cidr_block")
        );
        assert_eq!(
            reference_text(r#"aws_vpc.main["a.b"].cidr_block"#).as_deref(),
            Some(r#"aws_vpc.main["a.b"].cidr_block"#)
        );
        assert_eq!(
            reference_text("aws_vpc.main[0].cidr_block").as_deref(),
            Some("aws_vpc.main[0].cidr_block")
        );
        assert_eq!(
            reference_text("aws_security_group.x[count.index].id").as_deref(),
            Some("aws_security_group.x[*].id")
        );
    }

    #[test]
    fn anything_but_a_bare_reference_proves_nothing() {
        for text in [
            r#"true ? "0.0.0.0/0" : aws_vpc.main.cidr_block"#,
            "cidrsubnet(aws_vpc.main.cidr_block, 8, 1)",
            "aws_vpc.main[*].cidr_block",
            "aws_vpc.main[var.i].cidr_block",
            "var.cidr",
        ] {
            if text == "var.cidr" {
                // A bare reference, but to a variable: the callers only accept resource
                // attributes, which the plan's configuration then confirms.
                assert!(reference_text(text).is_some());
                continue;
            }
            assert_eq!(reference_text(text), None, "{text}");
        }
        assert_eq!(shape("concat([aws_vpc.main.cidr_block], [])"), None);
        assert_eq!(
            shape(r#"["10.0.0.0/8", (aws_vpc.main.cidr_block)]"#),
            Some(vec![
                Element::Literal("10.0.0.0/8".into()),
                Element::Reference(Reference {
                    text: "aws_vpc.main.cidr_block".into(),
                    keyed: None
                })
            ])
        );
        assert_eq!(
            shape(r#"["${aws_vpc.main.cidr_block}"]"#),
            shape("[aws_vpc.main.cidr_block]")
        );
        assert_eq!(shape(r#"["${aws_vpc.main.cidr_block}/16"]"#), None);
    }
}

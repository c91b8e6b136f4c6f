//! What the generator knows about one resource kind, as data: [`Kind`] is the description each
//! kind fills in once (its type, its arguments as written, its state after apply, which of its
//! attributes stay unknown until apply), and the renderers ([`super::layout`] for the plan JSON,
//! [`super::sources`] for the `.tf` files) read nothing else about a kind.
//!
//! The descriptions themselves live beside what they draw on: the common AWS resources that
//! fill a plan in [`super::resources`], the security-group kinds, whose values come from a rule
//! template, in [`super::security_groups`]. A new kind is one more description there; no
//! renderer changes.

use serde_json::{Map, Value, json};

use super::security_groups::SgShape;
use super::tools::Rng;
use super::words::Ctx;

/// One resource kind.
pub struct Kind {
    /// `aws_instance`, `aws_security_group`, ...
    pub resource_type: &'static str,
    /// A data source: always read, never managed or destroyed.
    pub data: bool,
    /// The provider's schema version, as `planned_values` and `configuration` write it.
    pub schema_version: u32,
    /// The block's arguments as written: the same for every instance of the block (the rng
    /// is the block's). The plan's `configuration` and the `.tf` files both render these.
    pub arguments: fn(&Scope, &mut Rng) -> Vec<(&'static str, Expr)>,
    /// Fills in an instance's full state after apply (the rng is the instance's).
    pub state: fn(&mut Attrs, &mut Rng, &Site),
    /// Attributes the provider computes: unknown in the plan while the object is created.
    /// [`Attrs::unknown_on_create`] adds those that depend on the instance.
    pub unknown_on_create: &'static [&'static str],
    /// Security-group kinds that take their rules as nested `ingress`/`egress` blocks.
    pub inline_rules: bool,
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = if self.data { "data." } else { "" };
        write!(f, "{mode}{}", self.resource_type)
    }
}

impl Kind {
    /// Is this the kind `other` describes?
    pub fn is(&self, other: &Kind) -> bool {
        self.resource_type == other.resource_type && self.data == other.data
    }
}

/// A configuration expression: a literal, or an expression with references.
#[derive(Debug, Clone)]
pub enum Expr {
    Const(Value),
    /// HCL text and the references Terraform lists for it.
    Ref(String, Vec<String>),
}

impl Expr {
    /// The expression as the plan's `configuration` summarizes it.
    pub fn config(&self) -> Value {
        match self {
            Expr::Const(v) => json!({"constant_value": v}),
            Expr::Ref(_, refs) => json!({"references": refs}),
        }
    }
}

/// A literal argument.
pub fn constant(v: Value) -> Expr {
    Expr::Const(v)
}

/// An expression that is a single reference, with the references Terraform lists for it.
pub fn reference(text: &str) -> Expr {
    // Terraform lists `a.b.c` and its prefixes that are themselves references.
    let parts: Vec<&str> = text.split('.').collect();
    let mut refs = vec![text.to_string()];
    if parts.len() > 2 && !matches!(parts[0], "var" | "local" | "each" | "count") {
        refs.push(parts[..2].join("."));
    }
    Expr::Ref(text.to_string(), refs)
}

/// Where a block is written, for its arguments.
pub struct Scope<'a> {
    /// Terraform 1.1+ (`format_version` 1.x) summarizes attributes written as blocks.
    pub format_1x: bool,
    /// The block is in a child module: what the root gives as literals comes from variables.
    pub in_module: bool,
    /// The `name`-like argument, varying with `count.index` / `each.key`.
    pub name: Expr,
    /// The security group rule resources of the root module attach to, and its VPC.
    pub group_id: &'a str,
    pub vpc_id: &'a str,
    /// The rule template of a security-group kind.
    pub rules: Option<&'a SgShape>,
}

impl Scope<'_> {
    pub fn tags(&self) -> Expr {
        if self.in_module {
            reference("var.tags")
        } else {
            reference("local.common_tags")
        }
    }

    pub fn group(&self) -> Expr {
        if self.in_module {
            reference("var.security_group_id")
        } else {
            constant(json!(self.group_id))
        }
    }

    pub fn vpc(&self) -> Expr {
        if self.in_module {
            reference("var.vpc_id")
        } else {
            constant(json!(self.vpc_id))
        }
    }

    /// The rule template; only security-group kinds are given one.
    pub fn rules(&self) -> &SgShape {
        self.rules
            .expect("a security-group kind has a rule template")
    }
}

/// What an instance's state is made from.
pub struct Site<'a> {
    pub ctx: Ctx,
    /// The instance's tags. Common resources draw them before anything else; security-group
    /// kinds draw their own (`Null` here).
    pub tags: Value,
    /// The rule template of a security-group kind.
    pub rules: Option<&'a SgShape>,
    /// The group a rule resource attaches to.
    pub group_id: String,
    /// The group's `name`: the block's name and the instance key, unslugged.
    pub name: String,
}

impl Site<'_> {
    /// The rule template; only security-group kinds are given one.
    pub fn rules(&self) -> &SgShape {
        self.rules
            .expect("a security-group kind has a rule template")
    }
}

/// An instance's state as a kind fills it in, and the attributes unknown until it is created.
#[derive(Default)]
pub struct Attrs {
    pub values: Map<String, Value>,
    pub unknown: Vec<&'static str>,
}

impl Attrs {
    /// Sets `key`, unless a constant argument already gave it.
    pub fn set(&mut self, key: &str, value: Value) {
        self.values.entry(key.to_string()).or_insert(value);
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// Attributes of this instance (beyond [`Kind::unknown_on_create`]) unknown until it is
    /// created.
    pub fn unknown_on_create(&mut self, keys: &[&'static str]) {
        self.unknown.extend_from_slice(keys);
    }
}

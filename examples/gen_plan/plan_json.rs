//! Writes a [`Layout`] as the JSON of `terraform show -json PLANFILE`, section by section in
//! Terraform's key order, by hand (a plan of a million resources is never held whole): the
//! resource instances come from [`Layout::change`], what each block looks like in
//! `configuration` from its kind's arguments.

use std::io::{self, Write};

use serde_json::{Map, Value, json};

use super::layout::{Action, Block, Expansion, Layout};
use super::tools::{Rng, put, put_json, put_key, put_member};

impl Layout {
    pub fn write_plan(&self, w: &mut impl Write) -> io::Result<()> {
        let v = self.opts.format_version.as_str();
        put(w, "{")?;
        put_key(w, "format_version")?;
        put_json!(w, v)?;
        put_member(w, "terraform_version", self.terraform_version)?;
        put_member(w, "variables", &self.variables_values())?;
        put(w, ",")?;
        put_key(w, "planned_values")?;
        put(w, "{")?;
        put_key(w, "outputs")?;
        put_json!(w, &self.planned_outputs())?;
        put(w, ",")?;
        put_key(w, "root_module")?;
        self.write_module_values(w, 0, &|i| self.instances[i].action != Action::Delete, false)?;
        put(w, "},")?;
        put_key(w, "resource_changes")?;
        put(w, "[")?;
        for (n, &i) in self.sorted.iter().enumerate() {
            if n > 0 {
                put(w, ",")?;
            }
            self.write_resource_change(w, i)?;
        }
        put(w, "],")?;
        put_key(w, "output_changes")?;
        self.write_output_changes(w)?;
        put(w, ",")?;
        put_key(w, "prior_state")?;
        put(w, "{")?;
        put_key(w, "format_version")?;
        put_json!(w, if v == "0.1" { "0.1" } else { "1.0" })?;
        put_member(w, "terraform_version", self.terraform_version)?;
        put(w, ",")?;
        put_key(w, "values")?;
        put(w, "{")?;
        put_key(w, "root_module")?;
        self.write_module_values(w, 0, &|i| self.instances[i].action.exists(), true)?;
        put(w, "}},")?;
        put_key(w, "configuration")?;
        self.write_configuration(w)?;
        if v >= "1.1" {
            put(w, ",")?;
            put_key(w, "relevant_attributes")?;
            self.write_relevant_attributes(w)?;
        }
        if v == "1.2" {
            let mut r = Rng::new(self.opts.seed ^ 0x7157);
            put_member(
                w,
                "timestamp",
                &format!(
                    "2025-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    r.range(1, 12),
                    r.range(1, 28),
                    r.range(0, 23),
                    r.range(0, 59),
                    r.range(0, 59)
                ),
            )?;
            put(w, r#","applyable":true,"complete":true,"errored":false"#)?;
        }
        put(w, "}\n")
    }

    pub fn variables_values(&self) -> Value {
        json!({
            "environment": {"value": self.env},
            "office_cidrs": {"value": ["203.0.113.0/24", "198.51.100.0/24"]},
            "region": {"value": self.region},
            "vpc_id": {"value": "vpc-0a1b2c3d4e5f60718"},
        })
    }

    pub fn outputs(&self) -> Vec<&'static str> {
        vec!["file_server_sg_ids", "lambda_arns", "vpc_id"]
    }

    pub fn planned_outputs(&self) -> Value {
        let mut m = Map::new();
        for o in self.outputs() {
            m.insert(o.into(), json!({"sensitive": false}));
        }
        Value::Object(m)
    }

    pub fn write_output_changes(&self, w: &mut impl Write) -> io::Result<()> {
        put(w, "{")?;
        for (n, o) in self.outputs().into_iter().enumerate() {
            if n > 0 {
                put(w, ",")?;
            }
            put_key(w, o)?;
            put(
                w,
                r#"{"actions":["create"],"before":null,"after_unknown":true"#,
            )?;
            if self.has_sensitive() {
                put(w, r#","before_sensitive":false,"after_sensitive":false"#)?;
            }
            put(w, "}")?;
        }
        put(w, "}")
    }

    /// `relevant_attributes`: a sample of existing resources whose `id` others read.
    pub fn write_relevant_attributes(&self, w: &mut impl Write) -> io::Result<()> {
        put(w, "[")?;
        let mut first = true;
        for &i in &self.sorted {
            let inst = &self.instances[i];
            if !(inst.action.exists()
                && inst.action != Action::Delete
                && inst.rng.0.is_multiple_of(40))
            {
                continue;
            }
            if !first {
                put(w, ",")?;
            }
            first = false;
            put(w, "{")?;
            put_key(w, "resource")?;
            put_json!(w, &inst.address)?;
            put(w, r#","attribute":["id"]}"#)?;
        }
        put(w, "]")
    }

    /// Number of instances under module instance `m` (itself included) that pass `keep`.
    pub fn subtree_has(&self, m: usize, keep: &dyn Fn(usize) -> bool) -> bool {
        self.modules[m].resources.iter().any(|&i| keep(i))
            || self.modules[m]
                .children
                .iter()
                .any(|&c| self.subtree_has(c, keep))
    }

    /// A module of `planned_values` or `prior_state`: its resources that pass `keep`, then its
    /// child modules.
    pub fn write_module_values(
        &self,
        w: &mut impl Write,
        m: usize,
        keep: &dyn Fn(usize) -> bool,
        prior: bool,
    ) -> io::Result<()> {
        let module = &self.modules[m];
        put(w, "{")?;
        let mut first = true;
        let resources: Vec<usize> = module
            .resources
            .iter()
            .copied()
            .filter(|&i| keep(i))
            .collect();
        if !resources.is_empty() {
            put_key(w, "resources")?;
            put(w, "[")?;
            for (n, &i) in resources.iter().enumerate() {
                if n > 0 {
                    put(w, ",")?;
                }
                self.write_resource_values(w, i, prior)?;
            }
            put(w, "]")?;
            first = false;
        }
        if m != 0 {
            if !first {
                put(w, ",")?;
            }
            put_key(w, "address")?;
            put_json!(w, &module.address)?;
            first = false;
        }
        let children: Vec<usize> = module
            .children
            .iter()
            .copied()
            .filter(|&c| self.subtree_has(c, keep))
            .collect();
        if !children.is_empty() {
            if !first {
                put(w, ",")?;
            }
            put_key(w, "child_modules")?;
            put(w, "[")?;
            for (n, &c) in children.iter().enumerate() {
                if n > 0 {
                    put(w, ",")?;
                }
                self.write_module_values(w, c, keep, prior)?;
            }
            put(w, "]")?;
        }
        put(w, "}")
    }

    pub fn write_resource_header(
        &self,
        w: &mut impl Write,
        i: usize,
        with_module: bool,
    ) -> io::Result<()> {
        let inst = &self.instances[i];
        let block = &self.blocks[inst.block];
        put_key(w, "address")?;
        put_json!(w, &inst.address)?;
        let module = &self.modules[inst.module].address;
        if with_module && !module.is_empty() {
            put_member(w, "module_address", module)?;
        }
        write_mode_type_name(w, block)?;
        if let Some(key) = &inst.key {
            put_member(w, "index", &key.json())?;
        }
        put_member(w, "provider_name", self.provider_name)
    }

    pub fn write_resource_values(
        &self,
        w: &mut impl Write,
        i: usize,
        prior: bool,
    ) -> io::Result<()> {
        let change = self.change(i);
        let (values, sensitive) = if prior {
            (change.before, change.before_sensitive)
        } else {
            (change.after, change.after_sensitive)
        };
        put(w, "{")?;
        self.write_resource_header(w, i, false)?;
        put_member(
            w,
            "schema_version",
            &self.blocks[self.instances[i].block].kind.schema_version,
        )?;
        put_member(w, "values", &values.unwrap_or_else(|| json!({})))?;
        if self.has_sensitive() {
            put(w, ",")?;
            put_key(w, "sensitive_values")?;
            let sensitive = match sensitive {
                Value::Bool(_) => json!({}),
                other => other,
            };
            put_json!(w, &sensitive)?;
        }
        put(w, "}")
    }

    pub fn write_resource_change(&self, w: &mut impl Write, i: usize) -> io::Result<()> {
        let inst = &self.instances[i];
        let c = self.change(i);
        put(w, "{")?;
        self.write_resource_header(w, i, true)?;
        put(w, ",")?;
        put_key(w, "change")?;
        put(w, "{")?;
        put_key(w, "actions")?;
        put_json!(w, inst.action.words())?;
        put_member(w, "before", &c.before)?;
        put_member(w, "after", &c.after)?;
        put_member(w, "after_unknown", &c.after_unknown)?;
        if self.has_sensitive() {
            put_member(w, "before_sensitive", &c.before_sensitive)?;
            put_member(w, "after_sensitive", &c.after_sensitive)?;
        }
        let v1 = self.format_1x;
        if let (Some(paths), true) = (&c.replace_paths, v1) {
            put_member(w, "replace_paths", paths)?;
        }
        put(w, "}")?;
        if v1 {
            let reason = match inst.action {
                Action::DeleteCreate | Action::CreateDelete => {
                    Some("replace_because_cannot_update")
                }
                Action::Delete => Some("delete_because_no_resource_config"),
                _ => None,
            };
            if let Some(reason) = reason {
                put_member(w, "action_reason", reason)?;
            }
        }
        put(w, "}")
    }

    pub fn write_configuration(&self, w: &mut impl Write) -> io::Result<()> {
        put(w, "{")?;
        put_key(w, "provider_config")?;
        if self.opts.format_version == "0.1" {
            put(w, r#"{"aws":{"name":"aws","#)?;
        } else {
            put(
                w,
                r#"{"aws":{"name":"aws","full_name":"registry.terraform.io/hashicorp/aws","version_constraint":"~> 5.60","#,
            )?;
        }
        put(
            w,
            r#""expressions":{"region":{"references":["var.region"]}}}},"#,
        )?;
        put_key(w, "root_module")?;
        self.write_config_module(w, 0)?;
        put(w, "}")
    }

    pub fn write_config_module(&self, w: &mut impl Write, d: usize) -> io::Result<()> {
        let def = &self.defs[d];
        put(w, "{")?;
        put_key(w, "outputs")?;
        let outputs = if d == 0 {
            let mut m = Map::new();
            for o in self.outputs() {
                m.insert(
                    o.into(),
                    json!({"expression": {"references": [format!("module.{}", self.defs.get(1).map_or("app", |d| d.name.as_str()))]},
                        "description": format!("The {}", o.replace('_', " "))}),
                );
            }
            Value::Object(m)
        } else {
            json!({"id": {"expression": {"references": ["aws_security_group.this.id", "aws_security_group.this"]}}})
        };
        put_json!(w, &outputs)?;
        put(w, ",")?;
        put_key(w, "resources")?;
        put(w, "[")?;
        let mut blocks: Vec<&Block> = def
            .blocks
            .iter()
            .map(|&b| &self.blocks[b])
            .filter(|b| !b.deleted)
            .collect();
        blocks.sort_by_key(|b| b.local_address());
        for (n, block) in blocks.iter().enumerate() {
            if n > 0 {
                put(w, ",")?;
            }
            self.write_config_resource(w, block)?;
        }
        put(w, "]")?;
        if !def.children.is_empty() {
            put(w, ",")?;
            put_key(w, "module_calls")?;
            put(w, "{")?;
            let mut children = def.children.clone();
            children.sort_by_key(|&c| self.defs[c].name.clone());
            for (n, &c) in children.iter().enumerate() {
                let child = &self.defs[c];
                if n > 0 {
                    put(w, ",")?;
                }
                put_key(w, &child.name)?;
                put(w, "{")?;
                put_key(w, "source")?;
                put_json!(w, &child.source)?;
                put_member(
                    w,
                    "expressions",
                    &json!({
                        "environment": {"references": ["var.environment"]},
                        "security_group_id": {"references": ["aws_security_group.shared.id", "aws_security_group.shared"]},
                        "tags": {"references": ["local.common_tags"]},
                        "vpc_id": {"references": ["var.vpc_id"]},
                    }),
                )?;
                write_expansion(
                    w,
                    &child.expansion,
                    &json!({"references": ["local.tenants"]}),
                )?;
                put(w, ",")?;
                put_key(w, "module")?;
                self.write_config_module(w, c)?;
                if let Some(version) = child.version {
                    put_member(w, "version_constraint", version)?;
                }
                put(w, "}")?;
            }
            put(w, "}")?;
        }
        put(w, ",")?;
        put_key(w, "variables")?;
        let variables = if d == 0 {
            json!({
                "environment": {"default": "dev", "description": "Deployment environment"},
                "office_cidrs": {"default": ["203.0.113.0/24"], "description": "Office egress ranges"},
                "region": {"default": "eu-west-1", "description": "AWS region"},
                "vpc_id": {"description": "The VPC everything lives in"},
            })
        } else {
            json!({
                "environment": {"description": "Deployment environment"},
                "security_group_id": {"default": null, "description": "Group the rules attach to"},
                "tags": {"default": {}, "description": "Tags for every resource"},
                "vpc_id": {"description": "VPC id"},
            })
        };
        put_json!(w, &variables)?;
        put(w, "}")
    }

    /// One block of the configuration summary, in Terraform's key order.
    pub fn write_config_resource(&self, w: &mut impl Write, block: &Block) -> io::Result<()> {
        let in_module = block.def != 0;
        let mut expressions = Map::new();
        for (k, e) in block.arguments(self.format_1x) {
            expressions.insert(k.to_string(), e.config());
        }
        let key = if in_module && self.opts.format_version == "0.1" {
            format!("{}:aws", self.module_path(block.def))
        } else {
            "aws".to_string()
        };
        put(w, "{")?;
        put_key(w, "address")?;
        put_json!(w, &block.local_address())?;
        write_mode_type_name(w, block)?;
        put_member(w, "provider_config_key", &key)?;
        put_member(w, "expressions", &expressions)?;
        put_member(w, "schema_version", &block.kind.schema_version)?;
        // `toset([...])` is a function call: Terraform summarizes it as `{}`.
        write_expansion(w, &block.expansion, &json!({}))?;
        put(w, "}")
    }

    pub fn module_path(&self, d: usize) -> String {
        let mut names = Vec::new();
        let mut at = Some(d);
        while let Some(i) = at {
            if i != 0 {
                names.push(self.defs[i].name.clone());
            }
            at = self.defs[i].parent;
        }
        names.reverse();
        names.join(".")
    }
}

/// `,"count_expression":...` or `,"for_each_expression":FOR_EACH` after a block or module call
/// that has one.
fn write_expansion(w: &mut impl Write, expansion: &Expansion, for_each: &Value) -> io::Result<()> {
    match expansion {
        Expansion::Single => Ok(()),
        Expansion::Count(n) => put_member(w, "count_expression", &json!({"constant_value": n})),
        Expansion::ForEach(_) => put_member(w, "for_each_expression", for_each),
    }
}

/// `,"mode":...,"type":...,"name":...` of a block, as both a resource and its configuration
/// write them.
fn write_mode_type_name(w: &mut impl Write, block: &Block) -> io::Result<()> {
    put_member(w, "mode", if block.kind.data { "data" } else { "managed" })?;
    put_member(w, "type", block.kind.resource_type)?;
    put_member(w, "name", &block.name)
}

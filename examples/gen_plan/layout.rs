//! The layout of a plan: its modules (nested, with `count` and `for_each`), its blocks (each
//! one [`Kind`], security-group kinds with a rule template), their instances with the action
//! each takes, and each instance's state and change, drawn from the seed. What portgate must
//! report ([`Expected`]) is read from the templates planted here. The renderers
//! ([`super::plan_json`], [`super::sources`]) write this layout out.

use serde_json::{Map, Value, json};

use super::kinds::{Attrs, Expr, Kind, Scope, Site};
use super::resources::{FILLERS, POLICY_DOCUMENT};
use super::security_groups::{SgShape, near_miss, violation};
use super::tools::Rng;
use super::words::{
    ACCOUNTS, CHILD_MODULES, Ctx, ENVS, KEYS, REGIONS, TEAMS, TOP_MODULES, WORDS, tags,
};
use super::{Expected, Options};

/// An instance key: `count.index` or `each.key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Int(usize),
    Str(String),
}

impl Key {
    pub fn suffix(&self) -> String {
        match self {
            Key::Int(i) => format!("[{i}]"),
            Key::Str(s) => format!("[{}]", Value::String(s.clone())),
        }
    }

    pub fn json(&self) -> Value {
        match self {
            Key::Int(i) => json!(i),
            Key::Str(s) => json!(s),
        }
    }

    pub fn slug(&self) -> String {
        match self {
            Key::Int(i) => i.to_string(),
            Key::Str(s) => s.replace(['.', '/'], "-"),
        }
    }
}

/// How a block or module call expands: once, `count`, or `for_each` over keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expansion {
    Single,
    Count(usize),
    ForEach(Vec<String>),
}

impl Expansion {
    pub fn keys(&self) -> Vec<Option<Key>> {
        match self {
            Expansion::Single => vec![None],
            Expansion::Count(n) => (0..*n).map(|i| Some(Key::Int(i))).collect(),
            Expansion::ForEach(keys) => keys.iter().map(|k| Some(Key::Str(k.clone()))).collect(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Expansion::Single => 1,
            Expansion::Count(n) => *n,
            Expansion::ForEach(keys) => keys.len(),
        }
    }

    pub fn draw(r: &mut Rng, single_percent: u64) -> Expansion {
        if r.chance(single_percent) {
            return Expansion::Single;
        }
        if r.chance(50) {
            Expansion::Count(r.range(2, 3) as usize)
        } else {
            let n = r.range(2, 3) as usize;
            let start = r.below(KEYS.len());
            let mut keys: Vec<String> = (0..n)
                .map(|i| KEYS[(start + i * 3) % KEYS.len()].to_string())
                .collect();
            keys.sort();
            keys.dedup();
            Expansion::ForEach(keys)
        }
    }
}

/// A module definition: the body of one `module` call (shared by its instances).
#[derive(Debug)]
pub struct ModuleDef {
    /// The call's name; empty for the root module.
    pub name: String,
    pub source: String,
    pub version: Option<&'static str>,
    pub expansion: Expansion,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    pub blocks: Vec<usize>,
    /// Instances of this module in the plan.
    pub instances: usize,
}

/// One instance of a module definition, at its address.
#[derive(Debug)]
pub struct ModuleInst {
    pub def: usize,
    /// `module.app["x"].module.sg`; empty for the root module.
    pub address: String,
    pub children: Vec<usize>,
    /// Resource instances, sorted by address.
    pub resources: Vec<usize>,
}

/// A `resource` or `data` block of a module: one kind, expanded to its instances.
#[derive(Debug)]
pub struct Block {
    pub def: usize,
    pub name: String,
    pub kind: &'static Kind,
    /// The rule template of a security-group kind.
    pub rules: Option<Box<SgShape>>,
    pub expansion: Expansion,
    /// Every instance is destroyed and the block is gone from the configuration.
    pub deleted: bool,
    /// For values shared by all instances.
    pub rng: Rng,
    /// The security group rule resources attach to (root module only).
    pub group_id: String,
    pub vpc_id: String,
}

impl Block {
    /// The module-relative address: `aws_instance.web`, `data.aws_security_group.x`.
    pub fn local_address(&self) -> String {
        let prefix = if self.kind.data { "data." } else { "" };
        format!("{prefix}{}.{}", self.kind.resource_type, self.name)
    }

    /// The `name`-like argument: varies with `each.key` / `count.index`.
    pub fn name_expr(&self) -> Expr {
        let base = self.name.replace('_', "-");
        match self.expansion {
            Expansion::Single => Expr::Const(json!(base)),
            Expansion::Count(_) => Expr::Ref(
                format!("\"{base}-${{count.index}}\""),
                vec!["count.index".into()],
            ),
            Expansion::ForEach(_) => {
                Expr::Ref(format!("\"{base}-${{each.key}}\""), vec!["each.key".into()])
            }
        }
    }

    /// The block's arguments as its kind writes them.
    pub fn arguments(&self, format_1x: bool) -> Vec<(&'static str, Expr)> {
        let scope = Scope {
            format_1x,
            in_module: self.def != 0,
            name: self.name_expr(),
            group_id: &self.group_id,
            vpc_id: &self.vpc_id,
            rules: self.rules.as_deref(),
        };
        (self.kind.arguments)(&scope, &mut self.rng.clone())
    }
}

/// What the plan does to an instance (its `actions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    NoOp,
    Delete,
    DeleteCreate,
    CreateDelete,
    Read,
}

impl Action {
    pub fn words(self) -> &'static [&'static str] {
        match self {
            Action::Create => &["create"],
            Action::Update => &["update"],
            Action::NoOp => &["no-op"],
            Action::Delete => &["delete"],
            Action::DeleteCreate => &["delete", "create"],
            Action::CreateDelete => &["create", "delete"],
            Action::Read => &["read"],
        }
    }

    /// The object exists before the plan is applied.
    pub fn exists(self) -> bool {
        !matches!(self, Action::Create | Action::Read)
    }

    /// A new object is made: computed attributes are unknown.
    pub fn creates(self) -> bool {
        matches!(
            self,
            Action::Create | Action::DeleteCreate | Action::CreateDelete | Action::Read
        )
    }
}

/// One resource instance: its block, its module instance, its key and action, and the rng its
/// values are drawn from.
#[derive(Debug)]
pub struct Instance {
    pub block: usize,
    pub module: usize,
    pub key: Option<Key>,
    pub address: String,
    pub action: Action,
    pub rng: Rng,
}

/// One resource change, ready to write.
pub struct Change {
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub after_unknown: Value,
    pub before_sensitive: Value,
    pub after_sensitive: Value,
    pub replace_paths: Option<Value>,
}

/// Everything drawn from the options, before anything is written.
pub struct Layout {
    pub opts: Options,
    pub format_1x: bool,
    pub defs: Vec<ModuleDef>,
    pub modules: Vec<ModuleInst>,
    pub blocks: Vec<Block>,
    pub instances: Vec<Instance>,
    /// Instance indices sorted by address (the order of `resource_changes`).
    pub sorted: Vec<usize>,
    pub security_groups: usize,
    pub provider_name: &'static str,
    pub terraform_version: &'static str,
    pub env: &'static str,
    pub region: &'static str,
}

impl Layout {
    pub fn build(opts: &Options) -> Layout {
        let mut r = Rng::new(opts.seed);
        let format_1x = opts.format_version.starts_with('1');
        let n = opts.resources;
        let m = opts.security_group_count();

        // Module definitions: a few top-level calls, some with nested calls.
        let mut defs = vec![ModuleDef {
            name: String::new(),
            source: String::new(),
            version: None,
            expansion: Expansion::Single,
            parent: None,
            children: Vec::new(),
            blocks: Vec::new(),
            instances: 1,
        }];
        let top = if n < 40 { 0 } else { (n / 2500).clamp(2, 24) };
        let first = r.below(TOP_MODULES.len());
        for t in 0..top {
            let name = TOP_MODULES[(first + t) % TOP_MODULES.len()].to_string();
            let d = Self::add_def(&mut defs, &mut r, 0, name, 1);
            for c in 0..[0, 1, 1, 2][r.below(4)] {
                let child_name = CHILD_MODULES[(t + c * 3) % CHILD_MODULES.len()].to_string();
                let cd = Self::add_def(&mut defs, &mut r, d, child_name, 2);
                if r.chance(30) {
                    let leaf = CHILD_MODULES[(t + c * 3 + 1) % CHILD_MODULES.len()].to_string();
                    Self::add_def(&mut defs, &mut r, cd, leaf, 3);
                }
            }
        }

        // Resource blocks, until the instance budgets are spent exactly.
        let violations = if m == 0 {
            0
        } else {
            (m * opts.shape.violation_percent())
                .div_ceil(100)
                .max(6.min(m / 2))
                .min(m)
        };
        let mut blocks: Vec<Block> = Vec::new();
        let mut counter = 0usize;
        let budgets = [
            (0u8, violations, 75u64),
            (1, m - violations, 35),
            (2, n - m, 30),
        ];
        let v_start = r.below(16);
        let n_start = r.below(18);
        let filler_weights: Vec<u32> = FILLERS.iter().map(|(_, w)| *w).collect();
        for (class, budget, root_percent) in budgets {
            let mut left = budget;
            let mut t = 0usize;
            while left > 0 {
                let mut br = r.fork(blocks.len() as u64);
                let (violations, near_misses) = (opts.shape.violations(), opts.shape.near_misses());
                let rules = match class {
                    0 => Some(violation(
                        violations[(v_start + t) % violations.len()],
                        &mut br,
                    )),
                    1 => Some(near_miss(
                        near_misses[(n_start + t) % near_misses.len()],
                        &mut br,
                        format_1x,
                    )),
                    _ => None,
                };
                let kind = match &rules {
                    Some(rules) => rules.kind,
                    None if r.chance(1) => &POLICY_DOCUMENT,
                    None => FILLERS[r.weighted(&filler_weights)].0,
                };
                t += 1;
                let mut def = if defs.len() == 1 || r.chance(root_percent) {
                    0
                } else {
                    1 + r.below(defs.len() - 1)
                };
                let mut expansion = Expansion::draw(&mut r, 70);
                if expansion.len() * defs[def].instances > left {
                    def = 0;
                    expansion = Expansion::Single;
                }
                left -= expansion.len() * defs[def].instances;
                counter += 1;
                let deleted = match &rules {
                    Some(s) => s.deleted,
                    None => !kind.data && r.chance(4),
                };
                let word = r.pick(&WORDS);
                let name = match &rules {
                    Some(s) if !s.ids.is_empty() => {
                        let what = ["files", "shares", "legacy", "partner", "lab", "print"];
                        format!("{}_{}_{counter}", word, r.pick(&what))
                    }
                    _ => format!("{word}_{counter}"),
                };
                let group_id = format!("sg-0{}", r.hex(16));
                let vpc_id = format!("vpc-0{}", r.hex(16));
                let index = blocks.len();
                defs[def].blocks.push(index);
                blocks.push(Block {
                    def,
                    name,
                    kind,
                    rules: rules.map(Box::new),
                    expansion,
                    deleted,
                    rng: br,
                    group_id,
                    vpc_id,
                });
            }
        }

        // Module instances, then resource instances.
        let mut modules = Vec::new();
        Self::add_module(&defs, &mut modules, 0, String::new());
        let mut instances = Vec::new();
        for mi in 0..modules.len() {
            let def = &defs[modules[mi].def];
            for &b in &def.blocks {
                let block = &blocks[b];
                for key in block.expansion.keys() {
                    let prefix = if modules[mi].address.is_empty() {
                        String::new()
                    } else {
                        format!("{}.", modules[mi].address)
                    };
                    let address = format!(
                        "{prefix}{}{}",
                        block.local_address(),
                        key.as_ref().map(Key::suffix).unwrap_or_default()
                    );
                    let action = if block.deleted {
                        Action::Delete
                    } else if block.kind.data {
                        Action::Read
                    } else {
                        [
                            Action::Create,
                            Action::Update,
                            Action::NoOp,
                            Action::DeleteCreate,
                            Action::CreateDelete,
                        ][r.weighted(&[48, 15, 26, 6, 5])]
                    };
                    let rng = r.fork(1_000_000 + instances.len() as u64);
                    instances.push(Instance {
                        block: b,
                        module: mi,
                        key,
                        address,
                        action,
                        rng,
                    });
                }
            }
        }
        let mut sorted: Vec<usize> = (0..instances.len()).collect();
        sorted.sort_by(|a, b| instances[*a].address.cmp(&instances[*b].address));
        for &i in &sorted {
            modules[instances[i].module].resources.push(i);
        }
        let (provider_name, terraform_version) = match opts.format_version.as_str() {
            "0.1" => ("aws", "0.12.31"),
            "0.2" => ("registry.terraform.io/hashicorp/aws", "1.0.11"),
            "1.0" => ("registry.terraform.io/hashicorp/aws", "1.1.9"),
            "1.1" => ("registry.terraform.io/hashicorp/aws", "1.3.10"),
            _ => ("registry.terraform.io/hashicorp/aws", "1.9.8"),
        };
        let env = *r.pick(&ENVS);
        let region = *r.pick(&REGIONS);
        debug_assert_eq!(instances.len(), n);
        Layout {
            opts: opts.clone(),
            format_1x,
            defs,
            modules,
            blocks,
            instances,
            sorted,
            security_groups: m,
            provider_name,
            terraform_version,
            env,
            region,
        }
    }

    pub fn add_def(
        defs: &mut Vec<ModuleDef>,
        r: &mut Rng,
        parent: usize,
        name: String,
        depth: u32,
    ) -> usize {
        let expansion = if depth == 1 {
            Expansion::draw(r, 45)
        } else {
            Expansion::draw(r, 75)
        };
        let (source, version) = if r.chance(75) {
            let prefix = if depth == 1 { "./modules/" } else { "../" };
            (format!("{prefix}{name}"), None)
        } else {
            (
                format!("app.terraform.io/acme-corp/{name}/aws"),
                Some(["~> 2.4", ">= 1.0.0, < 3.0.0", "3.1.7"][r.below(3)]),
            )
        };
        let instances = defs[parent].instances * expansion.len();
        let index = defs.len();
        defs.push(ModuleDef {
            name,
            source,
            version,
            expansion,
            parent: Some(parent),
            children: Vec::new(),
            blocks: Vec::new(),
            instances,
        });
        defs[parent].children.push(index);
        index
    }

    pub fn add_module(
        defs: &[ModuleDef],
        modules: &mut Vec<ModuleInst>,
        def: usize,
        address: String,
    ) -> usize {
        let index = modules.len();
        modules.push(ModuleInst {
            def,
            address: address.clone(),
            children: Vec::new(),
            resources: Vec::new(),
        });
        let mut children: Vec<(String, usize)> = Vec::new();
        for &child in &defs[def].children {
            for key in defs[child].expansion.keys() {
                let prefix = if address.is_empty() {
                    String::new()
                } else {
                    format!("{address}.")
                };
                let child_address = format!(
                    "{prefix}module.{}{}",
                    defs[child].name,
                    key.as_ref().map(Key::suffix).unwrap_or_default()
                );
                children.push((child_address, child));
            }
        }
        children.sort();
        for (child_address, child) in children {
            let c = Self::add_module(defs, modules, child, child_address);
            modules[index].children.push(c);
        }
        index
    }

    pub fn expected(&self) -> Expected {
        let mut expected = Expected {
            resources: self.instances.len(),
            security_groups: self.security_groups,
            ..Expected::default()
        };
        for inst in &self.instances {
            let block = &self.blocks[inst.block];
            let Some(sg) = &block.rules else { continue };
            if sg.rules_elsewhere && inst.action.creates() && !block.kind.data {
                expected.unproven.insert(inst.address.clone());
            }
            if sg.ids.is_empty() || inst.action == Action::Delete || block.kind.data {
                continue;
            }
            expected.violations.insert(
                inst.address.clone(),
                sg.ids.iter().map(|s| s.to_string()).collect(),
            );
            if block.def == 0 {
                expected.root_violations.insert(inst.address.clone());
            }
        }
        expected
    }

    pub fn has_sensitive(&self) -> bool {
        self.opts.format_version != "0.1"
    }

    // ---- values of one instance ---------------------------------------------------------

    pub fn ctx(&self, inst: &Instance) -> Ctx {
        let block = &self.blocks[inst.block];
        let mut r = block.rng.clone();
        let base = block.name.replace('_', "-");
        let name = match &inst.key {
            Some(k) => format!("{base}-{}", k.slug()),
            None => base,
        };
        Ctx {
            env: self.env,
            region: self.region,
            account: ACCOUNTS[(r.next() % 3) as usize],
            team: TEAMS[r.below(TEAMS.len())],
            name,
        }
    }

    /// The full state of an instance (as after apply) and its attributes computed on create.
    pub fn state(&self, i: usize) -> (Map<String, Value>, Vec<&'static str>) {
        let inst = &self.instances[i];
        let block = &self.blocks[inst.block];
        let mut r = inst.rng.clone();
        let mut attrs = Attrs::default();
        let mut site = Site {
            ctx: self.ctx(inst),
            tags: Value::Null,
            rules: block.rules.as_deref(),
            group_id: String::new(),
            name: String::new(),
        };
        if block.rules.is_some() {
            // A rule resource attaches to the root module's group, or to a module's own.
            site.group_id = if block.def == 0 {
                block.group_id.clone()
            } else {
                format!("sg-0{}", r.hex(16))
            };
            let base = block.name.replace('_', "-");
            site.name = match &inst.key {
                Some(Key::Int(i)) => format!("{base}-{i}"),
                Some(Key::Str(k)) => format!("{base}-{k}"),
                None => base,
            };
        } else {
            // A common resource's state starts from its literal arguments, and its tags.
            for (k, e) in block.arguments(self.format_1x) {
                if let Expr::Const(v) = e {
                    attrs.values.insert(k.to_string(), v);
                }
            }
            let extra = r.below(3);
            site.tags = tags(&mut r, &site.ctx, extra);
        }
        (block.kind.state)(&mut attrs, &mut r, &site);
        let mut unknown = block.kind.unknown_on_create.to_vec();
        unknown.extend(attrs.unknown);
        (attrs.values, unknown)
    }

    pub fn change(&self, i: usize) -> Change {
        let inst = &self.instances[i];
        let (state, computed) = self.state(i);
        let mut r = inst.rng.fork(7);
        let planned = |state: &Map<String, Value>| {
            let mut after = state.clone();
            for k in &computed {
                after.remove(*k);
            }
            after
        };
        let with_computed = |after: &Map<String, Value>, unknown: bool| {
            let mut shape = shape_object(after);
            for k in &computed {
                let v = if unknown {
                    Value::Bool(true)
                } else {
                    match state.get(*k) {
                        Some(Value::Array(_)) => json!([]),
                        Some(Value::Object(_)) => json!({}),
                        _ => continue,
                    }
                };
                shape.insert(k.to_string(), v);
            }
            Value::Object(shape)
        };
        let (before, after) = match inst.action {
            Action::Create | Action::Read => (None, Some(planned(&state))),
            Action::NoOp => (Some(state.clone()), Some(state.clone())),
            Action::Update => {
                let mut before = state.clone();
                if let Some(Value::Object(tags)) = before.get_mut("tags") {
                    tags.insert(
                        "acme:review".into(),
                        json!(format!("2024-{:02}-01", r.range(1, 12))),
                    );
                } else if let Some(Value::String(d)) = before.get_mut("description") {
                    d.push_str(" (old)");
                }
                (Some(before), Some(state.clone()))
            }
            Action::DeleteCreate | Action::CreateDelete => {
                let mut before = state.clone();
                if let Some(Value::String(id)) = before.get_mut("id") {
                    let tail = r.hex(8);
                    id.truncate(id.len().saturating_sub(8));
                    id.push_str(&tail);
                }
                (Some(before), Some(planned(&state)))
            }
            Action::Delete => (Some(state.clone()), None),
        };
        let after_unknown = match &after {
            Some(a) if inst.action.creates() => with_computed(a, true),
            Some(a) => Value::Object(shape_object(a)),
            None => json!({}),
        };
        let after_sensitive = match &after {
            Some(a) if inst.action.creates() => with_computed(a, false),
            Some(a) => Value::Object(shape_object(a)),
            None => Value::Bool(false),
        };
        let before_sensitive = match &before {
            Some(b) => Value::Object(shape_object(b)),
            None => Value::Bool(false),
        };
        let replace_paths = matches!(inst.action, Action::DeleteCreate | Action::CreateDelete)
            .then(|| {
                let key = ["name", "ami", "description", "vpc_id", "function_name"]
                    .into_iter()
                    .find(|k| state.contains_key(*k))
                    .unwrap_or("id");
                json!([[key]])
            });
        Change {
            before: before.map(Value::Object),
            after: after.map(Value::Object),
            after_unknown,
            before_sensitive,
            after_sensitive,
            replace_paths,
        }
    }
}

/// The `after_unknown` / `*_sensitive` shape of a known object: collections mirrored, other
/// values left out (lists hold `false` for their known scalar elements).
fn shape_object(m: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in m {
        match v {
            Value::Array(items) => {
                out.insert(
                    k.clone(),
                    Value::Array(items.iter().map(shape_element).collect()),
                );
            }
            Value::Object(inner) => {
                out.insert(k.clone(), Value::Object(shape_object(inner)));
            }
            _ => {}
        }
    }
    out
}

fn shape_element(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(shape_element).collect()),
        Value::Object(inner) => Value::Object(shape_object(inner)),
        _ => Value::Bool(false),
    }
}

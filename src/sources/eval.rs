//! Evaluating a module's expressions from its sources, the way Terraform would: literals,
//! `var.NAME` (set where Terraform's precedence says), `local.NAME`, `count.index`, `each.*`,
//! `dynamic` block iterators and a few pure functions. Anything the sources alone cannot give
//! (a resource attribute, a data source, a module output) stays as its expression text
//! ([`Val::Opaque`]), which is still comparable before and after a patch.
//!
//! The fix stage uses it twice: to tell which `ingress` block declares a planned rule (ports
//! written as variables or locals), and to prove a patch: every instance whose sources it edits
//! is derived again from the patched text and compared with the plan.
//!
//! Every place an evaluation reads is recorded in [`Eval::deps`] — also for expressions it cannot
//! evaluate, whose references are still followed — so a caller knows which instances an edit
//! feeds. What it must not do: guess. A value it cannot compute is an `Err` or `Opaque`, never a
//! plausible default.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::rc::Rc;

use hcl_edit::Span;
use hcl_edit::expr::{
    BinaryOperator, Expression, ObjectKey, Traversal, TraversalOperator, UnaryOperator,
};
use hcl_edit::structure::{Block, Body, Structure};
use hcl_edit::template::Element;
use hcl_edit::visit::{Visit, visit_traversal};

use super::ModuleCallSource;
use super::tree::{SourceFile, SourceTree, label};

/// A value as the sources give it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Number(f64),
    Str(String),
    List(Vec<Val>),
    Map(BTreeMap<String, Val>),
    /// A value the sources do not hold (`aws_security_group.db.id`): the expression's text.
    Opaque(String),
}

impl Val {
    /// The value as a number, after Terraform's conversion of numeric strings.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Val::Number(n) if n.fract() == 0.0 => Some(*n as i64),
            Val::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a string, after Terraform's conversion of numbers and booleans.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Val::Str(s) => Some(s.clone()),
            Val::Number(n) if n.fract() == 0.0 => Some((*n as i64).to_string()),
            Val::Number(n) => Some(n.to_string()),
            Val::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn from_json(value: &serde_json::Value) -> Val {
        match value {
            serde_json::Value::Null => Val::Null,
            serde_json::Value::Bool(b) => Val::Bool(*b),
            serde_json::Value::Number(n) => Val::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Val::Str(s.clone()),
            serde_json::Value::Array(items) => {
                Val::List(items.iter().map(Val::from_json).collect())
            }
            serde_json::Value::Object(map) => Val::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Val::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The elements of a `for_each` or `dynamic` collection, as `(key, value)`: a map's keys are
    /// its keys; a set of strings (written as a list) is keyed by its values; any other list by
    /// its indexes.
    fn entries(&self) -> Option<Vec<(Val, Val)>> {
        match self {
            Val::List(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        Val::Str(_) => (v.clone(), v.clone()),
                        _ => (Val::Number(i as f64), v.clone()),
                    })
                    .collect(),
            ),
            Val::Map(map) => Some(
                map.iter()
                    .map(|(k, v)| (Val::Str(k.clone()), v.clone()))
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// Where an expression is evaluated: the module instance, and the names a block binds.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The module calls from the root to the module.
    pub calls: Vec<ModuleCallSource>,
    /// The instance key of each call (`module.net["a"]`), when it has one.
    pub module_keys: Vec<Option<Val>>,
    pub count_index: Option<Val>,
    /// `each.key`, `each.value`.
    pub each: Option<(Val, Val)>,
    /// `dynamic` block iterators: name, key, value.
    pub iterators: Vec<(String, Val, Val)>,
}

impl Scope {
    /// The scope of the module's own top level (locals, variable defaults).
    fn module(&self) -> Scope {
        Scope {
            calls: self.calls.clone(),
            module_keys: self.module_keys.clone(),
            ..Scope::default()
        }
    }
}

/// One place an evaluation read: a byte range of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    pub path: PathBuf,
    pub range: Range<usize>,
}

/// An evaluator over one source tree.
pub struct Eval<'a> {
    pub tree: &'a mut SourceTree,
    /// Root variables taken from the plan (what Terraform used, however it was set) instead of
    /// the files: for matching blocks to planned rules. `None` reads the files: for proofs.
    pub plan_variables: Option<&'a BTreeMap<String, serde_json::Value>>,
    /// Everything read so far.
    pub deps: Vec<Dep>,
    depth: usize,
}

/// References deeper than this are a cycle or not worth following.
const MAX_DEPTH: usize = 64;

impl<'a> Eval<'a> {
    pub fn new(
        tree: &'a mut SourceTree,
        plan_variables: Option<&'a BTreeMap<String, serde_json::Value>>,
    ) -> Eval<'a> {
        Eval {
            tree,
            plan_variables,
            deps: Vec::new(),
            depth: 0,
        }
    }

    fn dep(&mut self, file: &SourceFile, span: Option<Range<usize>>) {
        self.deps.push(Dep {
            path: file.path.clone(),
            range: span.unwrap_or(0..file.text.len()),
        });
    }

    /// Evaluates `expr` in `scope`.
    pub fn eval(&mut self, expr: &Expression, scope: &Scope) -> Result<Val, String> {
        if self.depth > MAX_DEPTH {
            return Err("references nest too deep (a cycle?)".to_string());
        }
        self.depth += 1;
        let result = self.eval_inner(expr, scope);
        self.depth -= 1;
        result
    }

    fn eval_inner(&mut self, expr: &Expression, scope: &Scope) -> Result<Val, String> {
        Ok(match expr {
            Expression::Null(_) => Val::Null,
            Expression::Bool(b) => Val::Bool(*b.value()),
            Expression::Number(n) => Val::Number(
                n.value()
                    .as_f64()
                    .ok_or_else(|| format!("`{}` is not a number", text(expr)))?,
            ),
            Expression::String(s) => Val::Str(s.value().clone()),
            Expression::Array(items) => {
                let values: Vec<Result<Val, String>> =
                    items.iter().map(|e| self.eval(e, scope)).collect();
                Val::List(values.into_iter().collect::<Result<_, _>>()?)
            }
            Expression::Object(object) => {
                let mut map = BTreeMap::new();
                let mut error = None;
                for (key, value) in object.iter() {
                    let key = match key {
                        ObjectKey::Ident(ident) => Ok(ident.as_str().to_string()),
                        ObjectKey::Expression(e) => self
                            .eval(e, scope)
                            .and_then(|k| k.as_text().ok_or_else(|| cannot(e))),
                    };
                    match (key, self.eval(value.expr(), scope)) {
                        (Ok(k), Ok(v)) => {
                            map.insert(k, v);
                        }
                        (Err(e), _) | (_, Err(e)) => {
                            error.get_or_insert(e);
                        }
                    }
                }
                if let Some(e) = error {
                    return Err(e);
                }
                Val::Map(map)
            }
            Expression::StringTemplate(template) => {
                let mut out = String::new();
                let mut error = None;
                for element in template.iter() {
                    match element {
                        Element::Literal(s) => out.push_str(s.value()),
                        Element::Interpolation(i) => match self.eval(&i.expr, scope) {
                            Ok(v) => match v.as_text() {
                                Some(t) => out.push_str(&t),
                                None => {
                                    error.get_or_insert(cannot(&i.expr));
                                }
                            },
                            Err(e) => {
                                error.get_or_insert(e);
                            }
                        },
                        Element::Directive(_) => {
                            error.get_or_insert(cannot(expr));
                        }
                    }
                }
                if let Some(e) = error {
                    return Err(e);
                }
                Val::Str(out)
            }
            Expression::Parenthesis(inner) => self.eval(inner.inner(), scope)?,
            Expression::UnaryOp(op) => {
                let value = self.eval(&op.expr, scope)?;
                match (op.operator.value(), value) {
                    (UnaryOperator::Neg, Val::Number(n)) => Val::Number(-n),
                    (UnaryOperator::Not, Val::Bool(b)) => Val::Bool(!b),
                    _ => return Err(cannot(expr)),
                }
            }
            Expression::Conditional(c) => {
                let cond = self.eval(&c.cond_expr, scope);
                let yes = self.eval(&c.true_expr, scope);
                let no = self.eval(&c.false_expr, scope);
                match cond? {
                    Val::Bool(true) => yes?,
                    Val::Bool(false) => no?,
                    _ => return Err(cannot(expr)),
                }
            }
            Expression::BinaryOp(op) => {
                let lhs = self.eval(&op.lhs_expr, scope);
                let rhs = self.eval(&op.rhs_expr, scope);
                let (lhs, rhs) = (lhs?, rhs?);
                if matches!(lhs, Val::Opaque(_)) || matches!(rhs, Val::Opaque(_)) {
                    return Err(cannot(expr));
                }
                match op.operator.value() {
                    BinaryOperator::Eq => Val::Bool(lhs == rhs),
                    BinaryOperator::NotEq => Val::Bool(lhs != rhs),
                    BinaryOperator::And | BinaryOperator::Or => match (lhs, rhs) {
                        (Val::Bool(a), Val::Bool(b)) => {
                            Val::Bool(if *op.operator.value() == BinaryOperator::And {
                                a && b
                            } else {
                                a || b
                            })
                        }
                        _ => return Err(cannot(expr)),
                    },
                    arithmetic => match (lhs.as_i64(), rhs.as_i64()) {
                        (Some(a), Some(b)) => Val::Number(match arithmetic {
                            BinaryOperator::Plus => (a + b) as f64,
                            BinaryOperator::Minus => (a - b) as f64,
                            BinaryOperator::Mul => (a * b) as f64,
                            _ => return Err(cannot(expr)),
                        }),
                        _ => return Err(cannot(expr)),
                    },
                }
            }
            Expression::FuncCall(call) => {
                let args: Vec<Result<Val, String>> =
                    call.args.iter().map(|a| self.eval(a, scope)).collect();
                let args: Vec<Val> = args.into_iter().collect::<Result<_, _>>()?;
                let name = call.name.name.as_str();
                if !call.name.namespace.is_empty() || call.args.expand_final() {
                    return Err(cannot(expr));
                }
                function(name, args).ok_or_else(|| cannot(expr))?
            }
            Expression::Traversal(traversal) => self.traversal(traversal, expr, scope)?,
            Expression::Variable(_) | Expression::HeredocTemplate(_) | Expression::ForExpr(_) => {
                // Not evaluated, but what it reads is still followed.
                self.follow_references(expr, scope);
                return Err(cannot(expr));
            }
        })
    }

    fn traversal(
        &mut self,
        traversal: &Traversal,
        expr: &Expression,
        scope: &Scope,
    ) -> Result<Val, String> {
        let Expression::Variable(root) = &traversal.expr else {
            // `(expr)[0]`, `[...][0]`: evaluate the base, then the operators.
            let base = self.eval(&traversal.expr, scope)?;
            return self.apply(base, &traversal.operators, 0, expr, scope);
        };
        let root = root.as_str();
        let ops = &traversal.operators;
        let first = ops.first().and_then(|op| match op.value() {
            TraversalOperator::GetAttr(name) => Some(name.as_str()),
            _ => None,
        });
        let base = match (root, first) {
            ("var", Some(name)) => self.variable(name, scope)?,
            ("local", Some(name)) => self.local(name, scope)?,
            ("count", Some("index")) => scope
                .count_index
                .clone()
                .ok_or_else(|| "count.index outside a counted block".to_string())?,
            ("each", Some("key")) => scope
                .each
                .as_ref()
                .map(|(k, _)| k.clone())
                .ok_or_else(|| "each.key outside a for_each block".to_string())?,
            ("each", Some("value")) => scope
                .each
                .as_ref()
                .map(|(_, v)| v.clone())
                .ok_or_else(|| "each.value outside a for_each block".to_string())?,
            (name, Some(part)) if scope.iterators.iter().any(|(n, _, _)| n == name) => {
                let (_, key, value) = scope
                    .iterators
                    .iter()
                    .rev()
                    .find(|(n, _, _)| n == name)
                    .expect("just found");
                match part {
                    "key" => key.clone(),
                    "value" => value.clone(),
                    _ => return Err(cannot(expr)),
                }
            }
            ("path" | "terraform" | "self" | "count" | "each" | "var" | "local", _) => {
                return Err(cannot(expr));
            }
            // A resource, data source or module output: not in the sources. Index
            // expressions are still followed (`aws_subnet.a[var.i].id`).
            _ => {
                self.follow_references(expr, scope);
                return Ok(Val::Opaque(text(expr)));
            }
        };
        self.apply(base, ops, 1, expr, scope)
    }

    fn apply(
        &mut self,
        mut value: Val,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
        skip: usize,
        expr: &Expression,
        scope: &Scope,
    ) -> Result<Val, String> {
        for op in &ops[skip..] {
            value = match (op.value(), value) {
                (TraversalOperator::GetAttr(name), Val::Map(mut map)) => map
                    .remove(name.as_str())
                    .ok_or_else(|| format!("`{}` has no attribute {name}", text(expr)))?,
                (TraversalOperator::Index(index), base) => {
                    let index = self.eval(index, scope)?;
                    element(base, &index).ok_or_else(|| cannot(expr))?
                }
                (TraversalOperator::LegacyIndex(n), base) => {
                    element(base, &Val::Number(*n.value() as f64)).ok_or_else(|| cannot(expr))?
                }
                _ => return Err(cannot(expr)),
            };
        }
        Ok(value)
    }

    /// Follows every `var.*` and `local.*` an expression reads, for [`Eval::deps`].
    fn follow_references(&mut self, expr: &Expression, scope: &Scope) {
        for (root, name, _) in References::of_expr(expr).0 {
            let _ = match root.as_str() {
                "var" => self.variable(&name, scope),
                "local" => self.local(&name, scope),
                _ => continue,
            };
        }
    }

    /// `var.NAME` of the module `scope` is in.
    pub fn variable(&mut self, name: &str, scope: &Scope) -> Result<Val, String> {
        let dir = self.tree.module_dir(&scope.calls)?;
        if let Some((last, parent)) = scope.calls.split_last() {
            // A child module: the argument of its `module` block in the parent, if written.
            let parent_scope = Scope {
                calls: parent.to_vec(),
                module_keys: scope.module_keys[..parent.len()].to_vec(),
                ..Scope::default()
            };
            if let Some((file, call)) = self.module_call(&parent_scope, &last.name)?
                && let Some(attribute) = call.body.get_attribute(name)
            {
                self.dep(&file, attribute.value.span());
                let mut call_scope = parent_scope.clone();
                let key = scope.module_keys.get(parent.len()).cloned().flatten();
                let for_each = call.body.get_attribute("for_each").map(|a| &a.value);
                self.bind_instance(&file, for_each, key, &mut call_scope)?;
                return self.eval(&attribute.value, &call_scope);
            }
        } else if self.tree.from_state {
            return Err(super::tree::unrecorded_variable(name));
        } else if let Some(values) = self.plan_variables {
            if let Some(value) = values.get(name) {
                return Ok(Val::from_json(value));
            }
        } else {
            // The root module, in Terraform's precedence, highest first: `*.auto.tfvars` and
            // `*.auto.tfvars.json` in reverse lexical order, `terraform.tfvars.json`,
            // `terraform.tfvars`, the `TF_VAR_` environment, the variable's default.
            for path in tfvars_files(self.tree, &dir) {
                let file = self.tree.file_or_json(&path)?;
                match file {
                    VarFile::Hcl(file) => {
                        if let Some(attribute) = file.body.get_attribute(name) {
                            self.dep(&file, attribute.value.span());
                            return self.eval(&attribute.value, &Scope::default());
                        }
                    }
                    VarFile::Json(file, value) => {
                        if let Some(value) = value.get(name) {
                            self.dep(&file, None);
                            return Ok(Val::from_json(value));
                        }
                    }
                }
            }
            if std::env::var_os(format!("TF_VAR_{name}")).is_some() {
                return Err(format!(
                    "var.{name} is set by the TF_VAR_{name} environment variable"
                ));
            }
        }
        for path in self.tree.files_in(&dir, ".tf").iter() {
            let file = self.tree.file(path)?;
            let declared = file.body.iter().find_map(|s| match s {
                Structure::Block(b)
                    if b.ident.as_str() == "variable"
                        && b.labels.first().map(label) == Some(name) =>
                {
                    Some(b.body.get_attribute("default").map(|a| a.value.clone()))
                }
                _ => None,
            });
            match declared {
                Some(Some(default)) => {
                    self.dep(&file, default.span());
                    return self.eval(&default, &scope.module());
                }
                Some(None) => break,
                None => {}
            }
        }
        Err(format!(
            "var.{name} is set outside the source files (-var, a -var-file, TF_VAR_{name})"
        ))
    }

    /// `local.NAME` of the module `scope` is in (a later override file's definition wins).
    pub fn local(&mut self, name: &str, scope: &Scope) -> Result<Val, String> {
        let dir = self.tree.module_dir(&scope.calls)?;
        let mut found: Option<(Rc<SourceFile>, Expression)> = None;
        // Primary files first, then overrides, as Terraform merges them.
        for path in self.tree.tf_files_merge_order(&dir).iter() {
            let file = self.tree.file(path)?;
            for structure in file.body.iter() {
                if let Structure::Block(b) = structure
                    && b.ident.as_str() == "locals"
                    && let Some(attribute) = b.body.get_attribute(name)
                {
                    found = Some((file.clone(), attribute.value.clone()));
                }
            }
        }
        let (file, expr) = found.ok_or_else(|| format!("local.{name} is not defined"))?;
        self.dep(&file, expr.span());
        self.eval(&expr, &scope.module())
    }

    /// The `module "NAME"` block of the module `scope` is in.
    fn module_call(
        &mut self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<(Rc<SourceFile>, Block)>, String> {
        let dir = self.tree.module_dir(&scope.calls)?;
        for path in self.tree.files_in(&dir, ".tf").iter() {
            let file = self.tree.file(path)?;
            let call = file.body.iter().find_map(|s| match s {
                Structure::Block(b)
                    if b.ident.as_str() == "module"
                        && b.labels.first().map(label) == Some(name) =>
                {
                    Some(b.clone())
                }
                _ => None,
            });
            if let Some(call) = call {
                return Ok(Some((file, call)));
            }
        }
        Ok(None)
    }

    /// The scope of the resource instance `address`, declared by a block (in `file`, with this
    /// `for_each`) of the module reached through `calls`: its module instance keys, and
    /// `count.index` or `each.*`.
    pub fn instance_scope(
        &mut self,
        address: &str,
        calls: &[ModuleCallSource],
        file: &SourceFile,
        for_each: Option<&Expression>,
    ) -> Result<Scope, String> {
        let (module_keys, key) = instance_keys(address)
            .filter(|(keys, _)| keys.len() == calls.len())
            .ok_or_else(|| format!("cannot read the address {address}"))?;
        let mut scope = Scope {
            calls: calls.to_vec(),
            module_keys,
            ..Scope::default()
        };
        self.bind_instance(file, for_each, key, &mut scope)?;
        Ok(scope)
    }

    /// Sets `count.index` or `each.*` in `scope` for the instance `key` of a block (in `file`)
    /// with this `for_each`.
    fn bind_instance(
        &mut self,
        file: &SourceFile,
        for_each: Option<&Expression>,
        key: Option<Val>,
        scope: &mut Scope,
    ) -> Result<(), String> {
        match key {
            None => Ok(()),
            Some(Val::Number(n)) => {
                scope.count_index = Some(Val::Number(n));
                Ok(())
            }
            Some(key @ Val::Str(_)) => {
                let for_each =
                    for_each.ok_or_else(|| "an instance key without for_each".to_string())?;
                self.dep(file, for_each.span());
                let collection = self.eval(for_each, &scope.clone())?;
                let value = collection
                    .entries()
                    .and_then(|entries| entries.into_iter().find(|(k, _)| *k == key))
                    .map(|(_, v)| v)
                    .ok_or_else(|| {
                        format!(
                            "for_each at {} has no key {}",
                            file.rel,
                            key.as_text().unwrap_or_default()
                        )
                    })?;
                scope.each = Some((key, value));
                Ok(())
            }
            Some(_) => Err("an instance key that is neither a number nor a string".to_string()),
        }
    }

    /// The instances of a `dynamic` block: its content body with each iterator binding.
    pub fn dynamic_instances(
        &mut self,
        block: &Block,
        scope: &Scope,
    ) -> Result<Vec<(Body, Scope)>, String> {
        let kind = block.labels.first().map(label).unwrap_or_default();
        let for_each = block
            .body
            .get_attribute("for_each")
            .ok_or_else(|| format!("dynamic \"{kind}\" has no for_each"))?;
        let collection = self.eval(&for_each.value, scope)?;
        let iterator = match block.body.get_attribute("iterator") {
            Some(a) => match &a.value {
                Expression::Variable(v) => v.as_str().to_string(),
                other => return Err(cannot(other)),
            },
            None => kind.to_string(),
        };
        let content = block
            .body
            .blocks()
            .find(|b| b.ident.as_str() == "content")
            .ok_or_else(|| format!("dynamic \"{kind}\" has no content block"))?;
        let entries = collection
            .entries()
            .ok_or_else(|| format!("the for_each of dynamic \"{kind}\" is not a collection"))?;
        Ok(entries
            .into_iter()
            .map(|(key, value)| {
                let mut inner = scope.clone();
                inner.iterators.push((iterator.clone(), key, value));
                (content.body.clone(), inner)
            })
            .collect())
    }
}

/// Every traversal that starts `ROOT.NAME` (`var.x`, `local.y`, `aws_vpc.main`) in a body or an
/// expression, with the byte offset where it starts.
#[derive(Debug, Default)]
pub struct References(pub Vec<(String, String, usize)>);

impl References {
    pub fn of_body(body: &Body) -> References {
        let mut found = References::default();
        found.visit_body(body);
        found
    }

    pub fn of_expr(expr: &Expression) -> References {
        let mut found = References::default();
        found.visit_expr(expr);
        found
    }

    /// The offsets of the traversals that start `ROOT.NAME`.
    pub fn offsets<'a>(&'a self, root: &'a str, name: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.0
            .iter()
            .filter(move |(r, n, _)| r == root && n == name)
            .map(|(_, _, offset)| *offset)
    }

    pub fn contains(&self, root: &str, name: &str) -> bool {
        self.offsets(root, name).next().is_some()
    }
}

impl Visit for References {
    fn visit_traversal(&mut self, node: &Traversal) {
        if let Expression::Variable(root) = &node.expr
            && let Some(TraversalOperator::GetAttr(name)) =
                node.operators.first().map(|o| o.value())
        {
            self.0.push((
                root.as_str().to_string(),
                name.as_str().to_string(),
                node.span().map_or(0, |s| s.start),
            ));
        }
        visit_traversal(self, node);
    }
}

/// A variable definitions file, HCL or JSON.
pub enum VarFile {
    Hcl(Rc<SourceFile>),
    Json(Rc<SourceFile>, serde_json::Value),
}

impl SourceTree {
    /// A `.tfvars` file parsed as HCL, or a `.tfvars.json` file parsed as JSON.
    pub fn file_or_json(&mut self, path: &std::path::Path) -> Result<VarFile, String> {
        if path.to_string_lossy().ends_with(".json") {
            let file = self.raw_file(path)?;
            let value = serde_json::from_str(&file.text)
                .map_err(|e| format!("cannot parse {}: {e}", file.rel))?;
            return Ok(VarFile::Json(file, value));
        }
        self.file(path).map(VarFile::Hcl)
    }
}

/// The root module's variable definitions files that exist, highest precedence first.
pub fn tfvars_files(tree: &mut SourceTree, dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = tree.files_in(dir, ".auto.tfvars").to_vec();
    files.extend(tree.files_in(dir, ".auto.tfvars.json").iter().cloned());
    files.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    files.reverse();
    files.push(dir.join("terraform.tfvars.json"));
    files.push(dir.join("terraform.tfvars"));
    files.retain(|p| p.is_file());
    files
}

fn element(base: Val, index: &Val) -> Option<Val> {
    match base {
        Val::List(mut items) => {
            let i = usize::try_from(index.as_i64()?).ok()?;
            (i < items.len()).then(|| items.swap_remove(i))
        }
        Val::Map(mut map) => map.remove(&index.as_text()?),
        _ => None,
    }
}

/// The few pure functions rule arguments use.
fn function(name: &str, args: Vec<Val>) -> Option<Val> {
    let list = |v: Val| match v {
        Val::List(items) => Some(items),
        _ => None,
    };
    Some(match (name, args.as_slice()) {
        ("concat", _) => Val::List(
            args.into_iter()
                .map(list)
                .collect::<Option<Vec<_>>>()?
                .concat(),
        ),
        ("tolist" | "toset", [Val::List(_)]) => args.into_iter().next()?,
        ("flatten", [Val::List(_)]) => {
            fn flat(v: Val, out: &mut Vec<Val>) {
                match v {
                    Val::List(items) => items.into_iter().for_each(|i| flat(i, out)),
                    other => out.push(other),
                }
            }
            let mut out = Vec::new();
            flat(args.into_iter().next()?, &mut out);
            Val::List(out)
        }
        ("tostring", [v]) => Val::Str(v.as_text()?),
        ("tonumber", [v]) => Val::Number(v.as_i64()? as f64),
        ("lookup", [Val::Map(map), key, rest @ ..]) if rest.len() <= 1 => {
            match map.get(&key.as_text()?) {
                Some(v) => v.clone(),
                None => rest.first()?.clone(),
            }
        }
        _ => return None,
    })
}

fn text(expr: &Expression) -> String {
    let mut expr = expr.clone();
    use hcl_edit::Decorate;
    expr.decor_mut().clear();
    expr.to_string().trim().to_string()
}

fn cannot(expr: &Expression) -> String {
    format!("`{}` cannot be evaluated from the sources", text(expr))
}

/// The instance keys of an address: of each module call, then of the resource.
/// `module.a["x"].aws_security_group.b[0]` gives `[Some("x")]` and `Some(0)`.
pub fn instance_keys(address: &str) -> Option<(Vec<Option<Val>>, Option<Val>)> {
    let mut modules = Vec::new();
    let mut rest = address;
    let key = |rest: &mut &str| -> Option<Option<Val>> {
        if !rest.starts_with('[') {
            return Some(None);
        }
        let len = crate::plan::address::instance_key_len(rest)?;
        let inner = &rest[1..len - 1];
        *rest = &rest[len..];
        let value: serde_json::Value = serde_json::from_str(inner).ok()?;
        Some(Some(Val::from_json(&value)))
    };
    while let Some(after) = rest.strip_prefix("module.") {
        let end = after.find(['.', '[']).unwrap_or(after.len());
        rest = &after[end..];
        modules.push(key(&mut rest)?);
        rest = rest.strip_prefix('.')?;
    }
    // TYPE.NAME[KEY]
    let dot = rest.find('.')?;
    rest = &rest[dot + 1..];
    let end = rest.find('[').unwrap_or(rest.len());
    rest = &rest[end..];
    let own = key(&mut rest)?;
    rest.is_empty().then_some((modules, own))
}

/// A resource block as Terraform reads it, with the files its parts come from: the primary block
/// with every override file merged over it.
pub struct MergedResource {
    /// The primary block's file, then each override's.
    pub files: Vec<(Rc<SourceFile>, Block)>,
    pub attributes: BTreeMap<String, Expression>,
    /// Nested blocks by type, static or `dynamic` (the label is the type), in order.
    pub blocks: BTreeMap<String, Vec<Block>>,
}

impl MergedResource {
    pub fn read(
        tree: &mut SourceTree,
        calls: &[ModuleCallSource],
        resource_type: &str,
        name: &str,
    ) -> Result<MergedResource, String> {
        let dir = tree.module_dir(calls)?;
        let primary = tree.resource(&dir, resource_type, name)?;
        let mut files = vec![(primary.file.clone(), primary.block().clone())];
        for over in tree.overrides(&dir, resource_type, name)? {
            files.push((over.file.clone(), over.block().clone()));
        }
        let mut merged = MergedResource {
            files: Vec::new(),
            attributes: BTreeMap::new(),
            blocks: BTreeMap::new(),
        };
        for (_, block) in &files {
            let kind_of = |b: &Block| -> String {
                if b.ident.as_str() == "dynamic" {
                    b.labels.first().map(label).unwrap_or_default().to_string()
                } else {
                    b.ident.as_str().to_string()
                }
            };
            let types: std::collections::BTreeSet<String> =
                block.body.blocks().map(kind_of).collect();
            for kind in &types {
                merged.blocks.remove(kind);
            }
            for structure in block.body.iter() {
                match structure {
                    Structure::Attribute(a) => {
                        merged
                            .attributes
                            .insert(a.key.as_str().to_string(), a.value.clone());
                    }
                    Structure::Block(b) => {
                        merged.blocks.entry(kind_of(b)).or_default().push(b.clone())
                    }
                }
            }
        }
        merged.files = files;
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source tree from `(path, text)` pairs.
    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, SourceTree) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let tree = SourceTree::new(dir.path());
        (dir, tree)
    }

    fn expr(text: &str) -> Expression {
        hcl_edit::parser::parse_expr(text).unwrap()
    }

    fn call(name: &str, source: &str) -> ModuleCallSource {
        ModuleCallSource {
            name: name.to_string(),
            source: Some(source.to_string()),
        }
    }

    #[test]
    fn variables_follow_terraforms_precedence() {
        let (_dir, mut tree) = tree(&[
            (
                "variables.tf",
                "variable \"a\" {\n  default = [\"0.0.0.0/0\"]\n}\nvariable \"b\" {\n  default = 1\n}\n",
            ),
            ("terraform.tfvars", "a = [\"10.1.0.0/16\"]\n"),
            ("x.auto.tfvars", "a = [\"10.2.0.0/16\"]\n"),
            ("y.auto.tfvars.json", "{\"a\": [\"10.3.0.0/16\"]}"),
        ]);
        let mut eval = Eval::new(&mut tree, None);
        let scope = Scope::default();
        assert_eq!(
            eval.eval(&expr("var.a"), &scope).unwrap(),
            Val::List(vec![Val::Str("10.3.0.0/16".into())])
        );
        assert_eq!(
            eval.eval(&expr("var.b + 1"), &scope).unwrap(),
            Val::Number(2.0)
        );
        // What was read: the winning JSON file and the default of b.
        let read: Vec<String> = eval
            .deps
            .iter()
            .map(|d| d.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(read, ["y.auto.tfvars.json", "variables.tf"]);
    }

    #[test]
    fn module_arguments_locals_and_instance_keys_are_evaluated() {
        let (_dir, mut tree) = tree(&[
            (
                "main.tf",
                "module \"sg\" {\n  source   = \"./modules/sg\"\n  for_each = { smb = 445, web = 443 }\n  port     = each.value\n  clients  = local.open\n}\nlocals {\n  open = concat([\"0.0.0.0/0\"], [\"10.0.0.0/8\"])\n}\n",
            ),
            (
                "modules/sg/main.tf",
                "variable \"port\" {}\nvariable \"clients\" {}\n",
            ),
        ]);
        let mut eval = Eval::new(&mut tree, None);
        let scope = Scope {
            calls: vec![call("sg", "./modules/sg")],
            module_keys: vec![Some(Val::Str("smb".into()))],
            ..Scope::default()
        };
        assert_eq!(
            eval.eval(&expr("var.port"), &scope).unwrap(),
            Val::Number(445.0)
        );
        assert_eq!(
            eval.eval(&expr("var.clients[0]"), &scope).unwrap(),
            Val::Str("0.0.0.0/0".into())
        );
        // A resource attribute is not in the sources: its text stands for it.
        assert_eq!(
            eval.eval(&expr("aws_vpc.main.cidr_block"), &scope).unwrap(),
            Val::Opaque("aws_vpc.main.cidr_block".into())
        );
        // What cannot be evaluated is an error, never a guess.
        assert!(
            eval.eval(&expr("cidrsubnet(var.port, 8, 1)"), &scope)
                .is_err()
        );
        assert!(
            eval.eval(&expr("[for c in var.clients : c]"), &scope)
                .is_err()
        );
    }

    #[test]
    fn dynamic_blocks_give_one_body_per_element() {
        let (_dir, mut tree) = tree(&[(
            "main.tf",
            "resource \"aws_security_group\" \"g\" {\n  dynamic \"ingress\" {\n    for_each = [139, 445]\n    iterator = rule\n    content {\n      from_port = rule.value\n    }\n  }\n}\n",
        )]);
        let file = tree.file(&tree.root.join("main.tf")).unwrap();
        let Some(Structure::Block(resource)) = file.body.get(0) else {
            panic!("a block")
        };
        let dynamic = resource.body.blocks().next().unwrap().clone();
        let mut eval = Eval::new(&mut tree, None);
        let bodies = eval.dynamic_instances(&dynamic, &Scope::default()).unwrap();
        let ports: Vec<Val> = bodies
            .iter()
            .map(|(body, scope)| {
                eval.eval(&body.get_attribute("from_port").unwrap().value, scope)
                    .unwrap()
            })
            .collect();
        assert_eq!(ports, [Val::Number(139.0), Val::Number(445.0)]);
    }

    #[test]
    fn instance_keys_are_read_from_addresses() {
        assert_eq!(
            instance_keys("module.a[\"x.y\"].module.b.aws_security_group.c[2]"),
            Some((
                vec![Some(Val::Str("x.y".into())), None],
                Some(Val::Number(2.0))
            ))
        );
        assert_eq!(
            instance_keys("aws_security_group_rule.r[\"smb\"]"),
            Some((vec![], Some(Val::Str("smb".into()))))
        );
        assert_eq!(instance_keys("aws_security_group.g"), Some((vec![], None)));
    }
}

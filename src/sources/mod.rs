//! The Terraform sources a plan was made from, as a second witness beside the plan's lossy
//! `configuration`.
//!
//! Terraform's plan JSON records only static blocks (no `dynamic` blocks) and, for an expression,
//! only its references or its constant value. That can add knowledge (a reference ties a rule to
//! its group) but never prove a rule safe: `cond ? "0.0.0.0/0" : aws_vpc.main.cidr_block` and
//! `aws_vpc.main.cidr_block` record the same references. The sources can: they show the
//! expression itself. This module reads them ([`tree`]), merges a resource block with its
//! override files as Terraform does ([`Declared`]), checks that the result says what the plan's
//! configuration recorded ([`matches`](mod@matches): a tree edited after the plan, or another root module in
//! the directory, proves nothing), and gives the rules stage the shapes it may rely on
//! ([`proof`]).
//!
//! What it must not do: decide anything about exposure. It only answers "what is written here".

pub mod eval;
pub mod matches;
pub mod proof;
pub mod tree;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body, Structure};
use serde_json::{Map, Value};

use tree::{SourceTree, label, line_of, normalize};

/// One `module` call on the way from the root module to a resource: what the plan's
/// `configuration` (or, for a state, the sources' `module` blocks) says leads to its source
/// directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ModuleCallSource {
    /// The call's name: `net` in `module "net" { ... }`.
    pub name: String,
    /// Its `source` argument: `./modules/sg`, a registry address, a git URL.
    pub source: Option<String>,
}

/// Nested blocks of a resource that are Terraform's, not the provider's: never in the plan's
/// `expressions`.
const META_BLOCKS: [&str; 3] = ["lifecycle", "provisioner", "connection"];

/// The source tree of one check, with what it has already read.
pub struct Sources {
    tree: RefCell<SourceTree>,
    /// `.terraform/modules/modules.json`, read at open: module key (`net.inner`) → directory.
    modules: Option<Result<HashMap<String, PathBuf>, String>>,
    declared: RefCell<HashMap<String, Result<Rc<Declared>, String>>>,
    /// `.tf.json` files, parsed once.
    json_files: RefCell<HashMap<PathBuf, Result<Rc<Value>, String>>>,
}

/// A resource block as Terraform reads it: the block of a primary file with every override file
/// merged over it (an argument in an override replaces the original's; a nested block type in an
/// override, static or `dynamic`, replaces all of the original's blocks of that type).
#[derive(Debug)]
pub struct Declared {
    /// `main.tf:12`, for messages.
    pub origin: String,
    pub attributes: BTreeMap<String, Expression>,
    /// Static nested blocks by type (meta blocks such as `lifecycle` left out).
    pub blocks: BTreeMap<String, Vec<Block>>,
    /// Types with a `dynamic` block: the plan's configuration never shows these.
    pub dynamic: BTreeSet<String>,
}

impl Sources {
    /// The Terraform root module at `root`. Nothing is read until a question needs it, except
    /// `.terraform/modules/modules.json`, which says where `terraform init` put remote modules.
    pub fn open(root: &Path) -> Sources {
        Sources::open_with_read_limit(root, None)
    }

    /// [`Sources::open`], reading at most `limit` bytes of files (see
    /// [`SourceTree::with_read_limit`]).
    pub fn open_with_read_limit(root: &Path, limit: Option<u64>) -> Sources {
        let tree = SourceTree::new(root).with_read_limit(limit);
        let modules = read_modules_json(&tree);
        Sources {
            tree: RefCell::new(tree),
            modules,
            declared: RefCell::new(HashMap::new()),
            json_files: RefCell::new(HashMap::new()),
        }
    }

    /// The resource block `TYPE.NAME` of the module reached through `calls`, once it is shown to
    /// say what `configuration` (the plan's `expressions` for it) recorded. `blocks_recorded` is
    /// false for plans of format 0.x, whose configuration leaves out arguments written as
    /// blocks (`ingress`). `Err` says why the sources prove nothing about it.
    pub fn resource(
        &self,
        calls: &[ModuleCallSource],
        resource_type: &str,
        name: &str,
        configuration: Option<&Map<String, Value>>,
        blocks_recorded: bool,
    ) -> Result<Rc<Declared>, String> {
        let mut key: String = calls
            .iter()
            .map(|c| format!("module.{}.", c.name))
            .collect();
        key.push_str(&format!("{resource_type}.{name}"));
        if let Some(found) = self.declared.borrow().get(&key) {
            return found.clone();
        }
        let found = self.read_resource(calls, resource_type, name).and_then(|declared| {
            let configuration = configuration.ok_or_else(|| {
                format!("the plan does not record the configuration of {key}, so the sources cannot be checked against it")
            })?;
            matches::check(configuration, &declared, blocks_recorded).map_err(|why| {
                format!("the sources do not match the plan ({why}): were they edited after the plan, or is this another root module?")
            })?;
            Ok(Rc::new(declared))
        });
        self.declared.borrow_mut().insert(key, found.clone());
        found
    }

    fn read_resource(
        &self,
        calls: &[ModuleCallSource],
        resource_type: &str,
        name: &str,
    ) -> Result<Declared, String> {
        let dir = self.module_dir(calls)?;
        let mut tree = self.tree.borrow_mut();
        let shown = tree.shown(&dir);
        let mut primary: Vec<(Rc<tree::SourceFile>, Block)> = Vec::new();
        let mut overrides: Vec<(Rc<tree::SourceFile>, Block)> = Vec::new();
        for path in tree.files_in(&dir, "").iter() {
            let file_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(stem) = [".tf.json", ".tofu.json", ".tf", ".tofu"]
                .iter()
                .find_map(|ext| file_name.strip_suffix(ext))
            else {
                continue;
            };
            if file_name.ends_with(".json") {
                let parsed = self
                    .json_files
                    .borrow_mut()
                    .entry(path.clone())
                    .or_insert_with(|| read_json(&tree, path))
                    .clone()?;
                if json_declares(&parsed, resource_type, name) {
                    return Err(format!(
                        "{shown}/{file_name} declares it in JSON syntax, which portgate does not read for proofs"
                    ));
                }
                continue;
            }
            let file = tree.file(path)?;
            for structure in file.body.iter() {
                let Structure::Block(block) = structure else {
                    continue;
                };
                if block.ident.as_str() == "resource"
                    && block.labels.len() == 2
                    && label(&block.labels[0]) == resource_type
                    && label(&block.labels[1]) == name
                {
                    let is_override = stem == "override" || stem.ends_with("_override");
                    let list = if is_override {
                        &mut overrides
                    } else {
                        &mut primary
                    };
                    list.push((file.clone(), block.clone()));
                }
            }
        }
        let origin = |(file, block): &(Rc<tree::SourceFile>, Block)| {
            format!(
                "{}:{}",
                file.rel,
                line_of(&file.text, block.span().unwrap_or(0..0).start)
            )
        };
        let first = match primary.as_slice() {
            [] => {
                return Err(format!(
                    "no file in {shown} declares resource \"{resource_type}\" \"{name}\""
                ));
            }
            [only] => only,
            several => {
                return Err(format!(
                    "resource \"{resource_type}\" \"{name}\" is declared more than once ({}); Terraform and OpenTofu may read different ones",
                    several.iter().map(origin).collect::<Vec<_>>().join(", ")
                ));
            }
        };
        let mut declared = Declared {
            origin: origin(first),
            attributes: BTreeMap::new(),
            blocks: BTreeMap::new(),
            dynamic: BTreeSet::new(),
        };
        for (_, block) in std::iter::once(first).chain(overrides.iter()) {
            declared.merge(&block.body);
        }
        Ok(declared)
    }

    /// The module calls, with their `source`, from the root module down to the module at
    /// `module_address` (`module.net["a"].module.sg`), read from the `module` blocks of the
    /// sources: what a plan's configuration says and a state does not. `None` when a call is
    /// not found, or its `source` is not a plain string.
    pub fn module_calls_of(&self, module_address: Option<&str>) -> Option<Vec<ModuleCallSource>> {
        let Some(module_address) = module_address else {
            return Some(Vec::new());
        };
        let names = crate::plan::address::module_call_names(module_address)?;
        let mut calls: Vec<ModuleCallSource> = Vec::new();
        for name in names {
            let dir = self.module_dir(&calls).ok()?;
            let mut tree = self.tree.borrow_mut();
            let files = tree.tf_files_merge_order(&dir);
            // An override file's `source` replaces the primary file's.
            let mut source: Option<String> = None;
            let mut found = false;
            for path in files.iter() {
                let file = tree.file(path).ok()?;
                for structure in file.body.iter() {
                    if let Structure::Block(b) = structure
                        && b.ident.as_str() == "module"
                        && b.labels.first().map(label) == Some(name.as_str())
                    {
                        found = true;
                        if let Some(attribute) = b.body.get_attribute("source") {
                            source =
                                Some(matches::literal(&attribute.value)?.as_str()?.to_string());
                        }
                    }
                }
            }
            if !found {
                return None;
            }
            calls.push(ModuleCallSource { name, source });
        }
        Some(calls)
    }

    /// The directory of the module reached through `calls`: local `source` paths are followed;
    /// any other source is looked up in `.terraform/modules/modules.json`.
    fn module_dir(&self, calls: &[ModuleCallSource]) -> Result<PathBuf, String> {
        let is_local = |c: &ModuleCallSource| {
            c.source
                .as_deref()
                .is_some_and(|s| s.starts_with("./") || s.starts_with("../"))
        };
        let tree = self.tree.borrow();
        if calls.iter().all(is_local) {
            return tree.module_dir(calls);
        }
        let key = calls
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let address: String = calls
            .iter()
            .map(|c| format!("module.{}", c.name))
            .collect::<Vec<_>>()
            .join(".");
        match &self.modules {
            None => Err(format!(
                "{address} is not a local module and there is no .terraform/modules/modules.json saying where `terraform init` put it"
            )),
            Some(Err(e)) => Err(e.clone()),
            Some(Ok(modules)) => modules.get(&key).cloned().ok_or_else(|| {
                format!(".terraform/modules/modules.json does not list {address}; run `terraform init` again")
            }),
        }
    }
}

impl Declared {
    fn merge(&mut self, body: &Body) {
        let mut block_types: BTreeSet<String> = BTreeSet::new();
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attribute) => {
                    self.attributes
                        .insert(attribute.key.as_str().to_string(), attribute.value.clone());
                }
                Structure::Block(block) => {
                    if let Some(kind) = dynamic_label(block) {
                        block_types.insert(kind.to_string());
                    } else if !META_BLOCKS.contains(&block.ident.as_str()) {
                        block_types.insert(block.ident.as_str().to_string());
                    }
                }
            }
        }
        for kind in &block_types {
            self.blocks.remove(kind);
            self.dynamic.remove(kind);
        }
        for structure in body.iter() {
            let Structure::Block(block) = structure else {
                continue;
            };
            if let Some(kind) = dynamic_label(block) {
                self.dynamic.insert(kind.to_string());
            } else if !META_BLOCKS.contains(&block.ident.as_str()) {
                self.blocks
                    .entry(block.ident.as_str().to_string())
                    .or_default()
                    .push(block.clone());
            }
        }
    }
}

/// `T` for a `dynamic "T" { … }` block.
fn dynamic_label(block: &Block) -> Option<&str> {
    match block.labels.as_slice() {
        [kind] if block.ident.as_str() == "dynamic" => Some(label(kind)),
        _ => None,
    }
}

/// A `.tf.json` file, read through the tree (within its read limit). One that cannot be read
/// is an error: Terraform would read it, so it could hold anything. Named in messages by its
/// path inside the source directory: where that directory is (the run task's job directory)
/// is nobody else's business.
fn read_json(tree: &tree::SourceTree, path: &Path) -> Result<Rc<Value>, String> {
    let (_, shown, text) = tree.read_text(path)?;
    serde_json::from_str(&text)
        .map(Rc::new)
        .map_err(|e| format!("cannot parse {shown}: {e}"))
}

/// Whether a `.tf.json` document declares `resource.TYPE.NAME`.
fn json_declares(value: &Value, resource_type: &str, name: &str) -> bool {
    // `resource` may be an object or an array of objects (Terraform's JSON syntax allows both
    // at every level).
    fn entries<'a>(value: &'a Value, key: &str) -> Vec<&'a Value> {
        match value {
            Value::Object(map) => map.get(key).into_iter().collect(),
            Value::Array(items) => items.iter().flat_map(|v| entries(v, key)).collect(),
            _ => Vec::new(),
        }
    }
    entries(value, "resource")
        .into_iter()
        .flat_map(|r| entries(r, resource_type))
        .any(|t| !entries(t, name).is_empty())
}

/// Reads `.terraform/modules/modules.json` under `root`: `None` when there is none. A directory
/// that leaves the root is refused (the file is input like any other).
fn read_modules_json(tree: &SourceTree) -> Option<Result<HashMap<String, PathBuf>, String>> {
    let root = tree.root.as_path();
    #[derive(serde::Deserialize)]
    struct Manifest {
        #[serde(rename = "Modules")]
        modules: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "Key")]
        key: String,
        #[serde(rename = "Dir")]
        dir: String,
    }
    let path = root.join(".terraform/modules/modules.json");
    if !path.is_file() {
        return None;
    }
    // Through the tree: within its read limit, like every file of the configuration.
    let text = match tree.read_text(&path) {
        Ok((_, _, text)) => text,
        Err(e) => return Some(Err(e)),
    };
    let parsed = serde_json::from_str::<Manifest>(&text)
        .map_err(|e| format!("cannot read .terraform/modules/modules.json: {e}"))
        .and_then(|manifest| {
            manifest
                .modules
                .into_iter()
                .map(|entry| {
                    let dir = normalize(&root.join(&entry.dir));
                    if dir.starts_with(root) {
                        Ok((entry.key, dir))
                    } else {
                        Err(format!(
                            ".terraform/modules/modules.json puts module {:?} at {:?}, outside the source directory",
                            entry.key, entry.dir
                        ))
                    }
                })
                .collect()
        });
    Some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_modules_json_that_points_outside_the_sources_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".terraform/modules")).unwrap();
        std::fs::write(
            dir.path().join(".terraform/modules/modules.json"),
            r#"{"Modules":[{"Key":"net","Source":"x","Dir":"../../etc"}]}"#,
        )
        .unwrap();
        let sources = Sources::open(dir.path());
        let calls = [ModuleCallSource {
            name: "net".into(),
            source: Some("registry.terraform.io/x/y/aws".into()),
        }];
        let error = sources
            .resource(&calls, "aws_security_group", "x", Some(&Map::new()), true)
            .unwrap_err();
        assert!(error.contains("outside the source directory"), "{error}");
    }

    #[test]
    fn an_override_file_replaces_the_blocks_of_a_type() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "main.tf",
            "resource \"aws_security_group\" \"x\" {\n  name = \"x\"\n}\n",
        );
        write(
            "main_override.tf",
            "resource \"aws_security_group\" \"x\" {\n  dynamic \"ingress\" {\n    for_each = var.r\n    content {}\n  }\n}\n",
        );
        // Ignored by Terraform: an editor backup.
        write(
            "main.tf~",
            "resource \"aws_security_group\" \"x\" {\n  ingress {}\n}\n",
        );
        let sources = Sources::open(dir.path());
        let configuration: Map<String, Value> =
            serde_json::from_str(r#"{"name":{"constant_value":"x"}}"#).unwrap();
        let declared = sources
            .resource(&[], "aws_security_group", "x", Some(&configuration), true)
            .unwrap();
        assert_eq!(declared.inline_ingress(), proof::InlineIngress::Computed);
    }

    #[test]
    fn a_block_in_json_syntax_proves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("main.tf.json"),
            r#"{"resource": {"aws_security_group": {"x": {"name": "x"}}}}"#,
        )
        .unwrap();
        let error = Sources::open(dir.path())
            .resource(&[], "aws_security_group", "x", Some(&Map::new()), true)
            .unwrap_err();
        assert!(
            error.contains("main.tf.json declares it in JSON syntax"),
            "{error}"
        );
    }
}

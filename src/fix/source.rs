//! Finding the Terraform source that produced a planned rule.
//!
//! Files are parsed with hcl-edit, which keeps every byte (comments, alignment) and records
//! byte spans, so an edit can target exactly the characters of one CIDR. Each `.tf` file is
//! parsed once per run. A value that is not written literally where the rule is declared is
//! followed through `var.NAME` to where the variable is set (`*.auto.tfvars`,
//! `terraform.tfvars`, a `module` block argument, or the variable's `default`); anything else
//! is reported with the expression to change instead of a guessed patch.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use hcl_edit::Span;
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::{Block, BlockLabel, Body, Structure};

use crate::rules::ModuleCallSource;

/// One parsed source file.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Path relative to the source directory, with `/` separators: what patches name.
    pub rel: String,
    pub text: String,
    pub body: Body,
}

/// A literal expression in a file that holds a value to patch.
#[derive(Debug, Clone)]
pub struct Site {
    pub file: Rc<SourceFile>,
    /// Byte span of the expression in `file.text`.
    pub span: Range<usize>,
    /// How the value got there, for messages: `main.tf:12 cidr_blocks`, `var.allowed (default)`.
    pub origin: String,
}

/// Reads and caches the `.tf` / `.tfvars` files under the source directory.
pub struct SourceTree {
    root: PathBuf,
    files: HashMap<PathBuf, Result<Rc<SourceFile>, String>>,
    dirs: HashMap<PathBuf, Vec<PathBuf>>,
}

/// A resource block found in the sources.
pub struct ResourceBlock {
    pub file: Rc<SourceFile>,
    /// Index of the block among the file body's structures.
    index: usize,
}

impl ResourceBlock {
    pub fn block(&self) -> &Block {
        match self.file.body.get(self.index) {
            Some(Structure::Block(block)) => block,
            _ => unreachable!("a ResourceBlock always indexes a block of its file"),
        }
    }
}

/// 1-based line of byte `offset`.
pub fn line_of(text: &str, offset: usize) -> usize {
    crate::plan::line_column(text, offset).0
}

fn label(label: &BlockLabel) -> &str {
    label.as_str()
}

impl SourceTree {
    pub fn new(root: &Path) -> SourceTree {
        let absolute = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        SourceTree {
            root: normalize(&absolute),
            files: HashMap::new(),
            dirs: HashMap::new(),
        }
    }

    /// The directory of the module reached through `calls`, following local `source` paths.
    pub fn module_dir(&self, calls: &[ModuleCallSource]) -> Result<PathBuf, String> {
        let mut dir = self.root.clone();
        let mut address = String::new();
        for call in calls {
            address.push_str(&format!("module.{}", call.name));
            let source = call.source.as_deref().unwrap_or("");
            if !(source.starts_with("./") || source.starts_with("../")) {
                return Err(format!(
                    "{address} comes from {source:?}, which is not a local path portgate can patch; \
                     change the inputs you pass to that module instead"
                ));
            }
            dir = normalize(&dir.join(source));
            address.push('.');
        }
        Ok(dir)
    }

    /// Path of `path` relative to the source directory, when it lies inside it.
    fn relative(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let parts: Vec<String> = rel
            .components()
            .map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect::<Option<_>>()?;
        Some(parts.join("/"))
    }

    /// The files of `dir` whose names end with `suffix`, sorted by name.
    fn files_in(&mut self, dir: &Path, suffix: &str) -> Vec<PathBuf> {
        let listed = self.dirs.entry(dir.to_path_buf()).or_insert_with(|| {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.is_file())
                        .collect()
                })
                .unwrap_or_default();
            paths.sort();
            paths
        });
        listed
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .cloned()
            .collect()
    }

    /// Parses a file (once).
    pub fn file(&mut self, path: &Path) -> Result<Rc<SourceFile>, String> {
        if let Some(cached) = self.files.get(path) {
            return cached.clone();
        }
        let loaded = self.load(path);
        self.files.insert(path.to_path_buf(), loaded.clone());
        loaded
    }

    fn load(&self, path: &Path) -> Result<Rc<SourceFile>, String> {
        let rel = self.relative(path).ok_or_else(|| {
            format!(
                "{} is outside the source directory {}",
                path.display(),
                self.root.display()
            )
        })?;
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {rel}: {e}"))?;
        let body = hcl_edit::parser::parse_body(&text).map_err(|e| {
            let location = e.location();
            format!(
                "cannot parse {rel}:{}:{}: {}",
                location.line(),
                location.column(),
                e.message()
            )
        })?;
        Ok(Rc::new(SourceFile {
            path: path.to_path_buf(),
            rel,
            text,
            body,
        }))
    }

    /// The `resource "TYPE" "NAME"` block in the `.tf` files of `dir`.
    pub fn resource(
        &mut self,
        dir: &Path,
        resource_type: &str,
        name: &str,
    ) -> Result<ResourceBlock, String> {
        let paths = self.files_in(dir, ".tf");
        if paths.is_empty() {
            return Err(format!("no .tf files in {}", self.shown(dir)));
        }
        for path in paths {
            let file = self.file(&path)?;
            let found = file.body.iter().position(|s| match s {
                Structure::Block(b) => {
                    b.ident.as_str() == "resource"
                        && b.labels.len() == 2
                        && label(&b.labels[0]) == resource_type
                        && label(&b.labels[1]) == name
                }
                Structure::Attribute(_) => false,
            });
            if let Some(index) = found {
                return Ok(ResourceBlock { file, index });
            }
        }
        Err(format!(
            "no .tf file in {} declares resource \"{resource_type}\" \"{name}\"",
            self.shown(dir)
        ))
    }

    fn shown(&self, dir: &Path) -> String {
        match self.relative(dir) {
            Some(rel) if rel.is_empty() => "the --source directory".to_string(),
            Some(rel) => rel,
            None => dir.display().to_string(),
        }
    }

    /// Where the value of attribute `key` of `body` (in `file`, module `calls`) is written as a
    /// literal. `Ok(None)` when the attribute is absent.
    pub fn value_site(
        &mut self,
        file: &Rc<SourceFile>,
        body: &Body,
        key: &str,
        calls: &[ModuleCallSource],
    ) -> Result<Option<Site>, String> {
        let Some(attribute) = body.get_attribute(key) else {
            return Ok(None);
        };
        let expr = &attribute.value;
        let span = expr.span().unwrap_or(0..0);
        let line = line_of(&file.text, span.start);
        match expr {
            Expression::Array(_) | Expression::String(_) => Ok(Some(Site {
                file: file.clone(),
                span,
                origin: format!("{}:{line}", file.rel),
            })),
            _ => match variable_name(expr) {
                Some(var) => self.variable_site(&var, calls).map(Some),
                None => Err(format!(
                    "`{key} = {}` at {}:{line} is not a literal; change that expression so it no longer yields the world",
                    file.text[span].trim(),
                    file.rel
                )),
            },
        }
    }

    /// Where `var.NAME` of the module reached through `calls` gets its value.
    fn variable_site(&mut self, name: &str, calls: &[ModuleCallSource]) -> Result<Site, String> {
        let dir = self.module_dir(calls)?;
        if let Some((parent, last)) = calls.split_last().map(|(l, p)| (p, l)) {
            // A child module: the value is the argument of its `module` block in the parent.
            let parent_dir = self.module_dir(parent)?;
            for path in self.files_in(&parent_dir, ".tf") {
                let file = self.file(&path)?;
                let call = file.body.iter().find_map(|s| match s {
                    Structure::Block(b)
                        if b.ident.as_str() == "module"
                            && b.labels.first().map(label) == Some(last.name.as_str()) =>
                    {
                        Some(b)
                    }
                    _ => None,
                });
                if let Some(call) = call {
                    if call.body.get_attribute(name).is_some() {
                        let body = call.body.clone();
                        return self
                            .value_site(&file, &body, name, parent)?
                            .ok_or_else(|| format!("var.{name} has no value"));
                    }
                    break;
                }
            }
        } else {
            // The root module: the last of *.auto.tfvars, then terraform.tfvars, wins.
            let mut tfvars = self.files_in(&dir, ".auto.tfvars");
            tfvars.reverse();
            tfvars.push(dir.join("terraform.tfvars"));
            for path in tfvars {
                if !path.is_file() {
                    continue;
                }
                let file = self.file(&path)?;
                if let Some(attribute) = file.body.get_attribute(name) {
                    return literal_site(&file, &attribute.value, &format!("var.{name}"));
                }
            }
        }
        // Otherwise the variable's default.
        for path in self.files_in(&dir, ".tf") {
            let file = self.file(&path)?;
            let default = file.body.iter().find_map(|s| match s {
                Structure::Block(b)
                    if b.ident.as_str() == "variable"
                        && b.labels.first().map(label) == Some(name) =>
                {
                    Some(b.body.get_attribute("default"))
                }
                _ => None,
            });
            match default {
                Some(Some(attribute)) => {
                    return literal_site(&file, &attribute.value, &format!("var.{name} default"));
                }
                Some(None) => break,
                None => {}
            }
        }
        Err(format!(
            "var.{name} is set outside the source files portgate can see (-var, a -var-file, \
             TF_VAR_{name}); change it there"
        ))
    }
}

fn literal_site(file: &Rc<SourceFile>, expr: &Expression, what: &str) -> Result<Site, String> {
    let span = expr.span().unwrap_or(0..0);
    let line = line_of(&file.text, span.start);
    match expr {
        Expression::Array(_) | Expression::String(_) => Ok(Site {
            file: file.clone(),
            span,
            origin: format!("{what} ({}:{line})", file.rel),
        }),
        _ => Err(format!(
            "{what} at {}:{line} is `{}`, not a literal; change that expression",
            file.rel,
            file.text[span].trim()
        )),
    }
}

/// `NAME` when `expr` is exactly `var.NAME`.
fn variable_name(expr: &Expression) -> Option<String> {
    let Expression::Traversal(traversal) = expr else {
        return None;
    };
    let Expression::Variable(root) = &traversal.expr else {
        return None;
    };
    match traversal.operators.as_slice() {
        [op] if root.as_str() == "var" => match op.value() {
            TraversalOperator::GetAttr(name) => Some(name.as_str().to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Removes `.` and `..` components lexically (the paths need not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

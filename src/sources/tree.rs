//! Reading a Terraform source tree: which files Terraform reads in a module directory, each
//! parsed once with hcl-edit (which keeps every byte and records spans, so the same parse serves
//! proofs and format-preserving patches), and where each module's directory is.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

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

/// Reads and caches the `.tf` / `.tfvars` files under the source directory.
pub struct SourceTree {
    pub(crate) root: PathBuf,
    /// The plan's root variable values, when a fix checks a file's value against them.
    pub(crate) variables: std::collections::BTreeMap<String, serde_json::Value>,
    files: HashMap<PathBuf, Result<Rc<SourceFile>, String>>,
    dirs: HashMap<PathBuf, Vec<PathBuf>>,
    /// Where each directory's resource blocks are (see [`DirResources`]), made once per
    /// directory: looking a block up is then one hash lookup, not a walk through every file.
    resources: HashMap<PathBuf, DirResources>,
    /// Texts read instead of the files at these (real) paths: the tree as a patch would leave
    /// it, for proving the patch.
    overlay: HashMap<PathBuf, String>,
}

/// The resource blocks of one directory's primary `.tf` files, as a walk through them in name
/// order finds them: the first file that declares a block wins, and a file that cannot be read
/// or parsed ends the walk (a block declared only after it is that error).
#[derive(Default)]
struct DirResources {
    found: HashMap<(String, String), ResourceBlock>,
    error: Option<String>,
}

/// A resource block found in the sources.
#[derive(Clone)]
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

pub(crate) fn label(label: &BlockLabel) -> &str {
    label.as_str()
}

impl SourceTree {
    pub fn new(root: &Path) -> SourceTree {
        let absolute = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        // The real path, so files are named by where they really are (see `load`).
        let root = std::fs::canonicalize(&absolute).unwrap_or_else(|_| normalize(&absolute));
        SourceTree {
            root,
            variables: Default::default(),
            files: HashMap::new(),
            dirs: HashMap::new(),
            resources: HashMap::new(),
            overlay: HashMap::new(),
        }
    }

    /// The same tree with the files at `texts`' (real) paths reading as the given texts.
    pub fn with_overlay(&self, texts: HashMap<PathBuf, String>) -> SourceTree {
        SourceTree {
            root: self.root.clone(),
            variables: self.variables.clone(),
            // Files parsed already are shared, except those the overlay replaces.
            files: self
                .files
                .iter()
                .filter(|(_, f)| f.as_ref().is_ok_and(|f| !texts.contains_key(&f.path)))
                .map(|(k, f)| (k.clone(), f.clone()))
                .collect(),
            dirs: self.dirs.clone(),
            // Made again: the overlay's texts may declare other blocks.
            resources: HashMap::new(),
            overlay: texts,
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
    pub(crate) fn relative(&self, path: &Path) -> Option<String> {
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
    pub(crate) fn files_in(&mut self, dir: &Path, suffix: &str) -> Vec<PathBuf> {
        let listed = self.dirs.entry(dir.to_path_buf()).or_insert_with(|| {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.is_file() && !is_ignored(p))
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

    /// Reads a file without parsing it as HCL (a `.tfvars.json`): its `body` is empty.
    pub fn raw_file(&mut self, path: &Path) -> Result<Rc<SourceFile>, String> {
        let key = path.with_extension("json#raw");
        if let Some(cached) = self.files.get(&key) {
            return cached.clone();
        }
        let loaded = self.read_text(path).map(|(path, rel, text)| {
            Rc::new(SourceFile {
                path,
                rel,
                text,
                body: Body::default(),
            })
        });
        self.files.insert(key, loaded.clone());
        loaded
    }

    /// The real path, the path relative to the source directory, and the text of a file.
    fn read_text(&self, path: &Path) -> Result<(PathBuf, String, String), String> {
        // A symlinked file or module directory is read, named and written where it really is:
        // `git apply` refuses paths through a symbolic link, and writing through the link keeps
        // it a link. A link out of the source directory is not followed.
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let rel = self.relative(&real).ok_or_else(|| {
            format!(
                "{} is outside the source directory {} (a symbolic link out of it?)",
                path.display(),
                self.root.display()
            )
        })?;
        let text = match self.overlay.get(&real) {
            Some(text) => text.clone(),
            None => {
                std::fs::read_to_string(&real).map_err(|e| format!("cannot read {rel}: {e}"))?
            }
        };
        Ok((real, rel, text))
    }

    fn load(&self, path: &Path) -> Result<Rc<SourceFile>, String> {
        let (real, rel, text) = self.read_text(path)?;
        let path = real.as_path();
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
        if !self.resources.contains_key(dir) {
            let mut index = DirResources::default();
            for path in paths.into_iter().filter(|p| !is_override(p)) {
                let file = match self.file(&path) {
                    Ok(file) => file,
                    Err(e) => {
                        index.error = Some(e);
                        break;
                    }
                };
                for (position, structure) in file.body.iter().enumerate() {
                    if let Structure::Block(b) = structure
                        && b.ident.as_str() == "resource"
                        && let [kind, block_name] = &b.labels[..]
                    {
                        let key = (label(kind).to_string(), label(block_name).to_string());
                        index.found.entry(key).or_insert_with(|| ResourceBlock {
                            file: file.clone(),
                            index: position,
                        });
                    }
                }
            }
            self.resources.insert(dir.to_path_buf(), index);
        }
        let index = &self.resources[dir];
        if let Some(found) = index
            .found
            .get(&(resource_type.to_string(), name.to_string()))
        {
            return Ok(found.clone());
        }
        if let Some(error) = &index.error {
            return Err(error.clone());
        }
        Err(format!(
            "no .tf file in {} declares resource \"{resource_type}\" \"{name}\"",
            self.shown(dir)
        ))
    }

    /// The blocks of `resource "TYPE" "NAME"` in the override files of `dir` (`override.tf`,
    /// `*_override.tf`), which Terraform merges over the primary block in this order.
    pub fn overrides(
        &mut self,
        dir: &Path,
        resource_type: &str,
        name: &str,
    ) -> Result<Vec<ResourceBlock>, String> {
        let mut found = Vec::new();
        for path in self
            .files_in(dir, ".tf")
            .into_iter()
            .filter(|p| is_override(p))
        {
            let file = self.file(&path)?;
            if let Some(index) = declares(&file, resource_type, name) {
                found.push(ResourceBlock { file, index });
            }
        }
        Ok(found)
    }

    pub(crate) fn shown(&self, dir: &Path) -> String {
        match self.relative(dir) {
            Some(rel) if rel.is_empty() => "the --source directory".to_string(),
            Some(rel) => rel,
            None => dir.display().to_string(),
        }
    }
}

/// Removes `.` and `..` components lexically (the paths need not exist).
pub(crate) fn normalize(path: &Path) -> PathBuf {
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

/// Whether `dir` can be the root module of a plan's sources: it holds a Terraform file
/// (`.tf`, `.tf.json`, `.tofu`, `.tofu.json`) or the module manifest `terraform init` writes.
/// Without either, no source can prove or patch anything.
pub fn holds_terraform(dir: &Path) -> bool {
    if dir.join(".terraform/modules/modules.json").is_file() {
        return true;
    }
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            [".tf", ".tf.json", ".tofu", ".tofu.json"]
                .iter()
                .any(|ext| name.ends_with(ext))
                && !is_ignored(&entry.path())
        })
    })
}

/// Files Terraform skips in a module directory: names starting with `.`, ending in `~`, or
/// wrapped in `#…#` (editor backups and locks; internal/configs/parser_config_dir.go,
/// `IsIgnoredFile`).
pub fn is_ignored(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.starts_with('.') || name.ends_with('~') || (name.starts_with('#') && name.ends_with('#'))
}

/// Whether Terraform merges this file over the others: `override.tf`, `*_override.tf` (and
/// their `.tf.json` twins).
pub fn is_override(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".tf.json")
        .or_else(|| name.strip_suffix(".tf"))
        .unwrap_or(&name);
    stem == "override" || stem.ends_with("_override")
}

/// The index of `resource "TYPE" "NAME"` among the structures of `file`.
fn declares(file: &SourceFile, resource_type: &str, name: &str) -> Option<usize> {
    file.body.iter().position(|s| match s {
        Structure::Block(b) => {
            b.ident.as_str() == "resource"
                && b.labels.len() == 2
                && label(&b.labels[0]) == resource_type
                && label(&b.labels[1]) == name
        }
        Structure::Attribute(_) => false,
    })
}

/// `dir` with `/` separators, as reports and patches name paths (`infra/modules`, `../x`; an
/// absolute path keeps its leading `/`); `.` components are left out.
pub fn slash_path(dir: &Path) -> String {
    dir.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            Component::RootDir => Some(String::new()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

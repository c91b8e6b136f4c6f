//! Reading a Terraform source tree: which files Terraform reads in a module directory, each
//! parsed once with hcl-edit (which keeps every byte and records spans, so the same parse serves
//! proofs and format-preserving patches), and where each module's directory is.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use hcl_edit::structure::{Block, BlockLabel, Body, Structure};

use super::ModuleCallSource;

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
    /// The input is a state, which records no root variable values: a value that comes from
    /// a root variable cannot be traced to the file that set it for this workspace.
    pub(crate) from_state: bool,
    files: HashMap<PathBuf, Result<Rc<SourceFile>, String>>,
    dirs: HashMap<PathBuf, Vec<PathBuf>>,
    /// [`SourceTree::files_in`]'s answers.
    listed: HashMap<(PathBuf, &'static str), Rc<[PathBuf]>>,
    /// [`SourceTree::tf_files_merge_order`]'s answers.
    merge_order: HashMap<PathBuf, Rc<[PathBuf]>>,
    /// Where each directory's resource blocks are (see [`DirResources`]), made once per
    /// directory: looking a block up is then one hash lookup, not a walk through every file.
    resources: HashMap<PathBuf, DirResources>,
    /// Texts read instead of the files at these (real) paths: the tree as a patch would leave
    /// it, for proving the patch.
    overlay: HashMap<PathBuf, String>,
    /// Most bytes of files this tree reads from disk (`None`: no limit), and how many are
    /// left. Once a file would pass it, nothing more is read: what needed it proves nothing
    /// and patches nothing, and says why (the run task's `--max-config-mib`).
    read_limit: Option<u64>,
    read_left: std::cell::Cell<u64>,
}

/// The resource blocks of one directory's `.tf` files, as walks through them in name order
/// find them. Primary files: the first file that declares a block wins, and a file that cannot
/// be read or parsed ends the walk (a block declared only after it is that error). Override
/// files: every block, in order, unless one of them cannot be read (then that error, for every
/// block).
#[derive(Default)]
struct DirResources {
    found: HashMap<(String, String), ResourceBlock>,
    error: Option<String>,
    overrides: HashMap<(String, String), Vec<ResourceBlock>>,
    override_error: Option<String>,
}

/// Each `resource "TYPE" "NAME"` block of `file`, with its index among the file's structures.
fn resource_blocks(file: &SourceFile) -> impl Iterator<Item = ((String, String), usize)> + '_ {
    file.body
        .iter()
        .enumerate()
        .filter_map(|(position, structure)| match structure {
            Structure::Block(b) if b.ident.as_str() == "resource" => match &b.labels[..] {
                [kind, name] => {
                    Some(((label(kind).to_string(), label(name).to_string()), position))
                }
                _ => None,
            },
            _ => None,
        })
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
            from_state: false,
            files: HashMap::new(),
            dirs: HashMap::new(),
            listed: HashMap::new(),
            merge_order: HashMap::new(),
            resources: HashMap::new(),
            overlay: HashMap::new(),
            read_limit: None,
            read_left: std::cell::Cell::new(u64::MAX),
        }
    }

    /// The same tree, reading at most `limit` bytes of files from disk (see `read_limit`).
    pub fn with_read_limit(mut self, limit: Option<u64>) -> SourceTree {
        self.read_limit = limit;
        self.read_left.set(limit.unwrap_or(u64::MAX));
        self
    }

    /// The same tree with the files at `texts`' (real) paths reading as the given texts.
    pub fn with_overlay(&self, texts: HashMap<PathBuf, String>) -> SourceTree {
        SourceTree {
            root: self.root.clone(),
            variables: self.variables.clone(),
            from_state: self.from_state,
            // Files parsed already are shared, except those the overlay replaces.
            files: self
                .files
                .iter()
                .filter(|(_, f)| f.as_ref().is_ok_and(|f| !texts.contains_key(&f.path)))
                .map(|(k, f)| (k.clone(), f.clone()))
                .collect(),
            dirs: self.dirs.clone(),
            listed: self.listed.clone(),
            merge_order: self.merge_order.clone(),
            // Made again: the overlay's texts may declare other blocks.
            resources: HashMap::new(),
            overlay: texts,
            read_limit: self.read_limit,
            read_left: self.read_left.clone(),
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

    /// The files of `dir` whose names end with `suffix`, sorted by name. Listed once per
    /// directory and suffix: a module's files are asked for again for every lookup in it.
    pub(crate) fn files_in(&mut self, dir: &Path, suffix: &'static str) -> Rc<[PathBuf]> {
        if let Some(files) = self.listed.get(&(dir.to_path_buf(), suffix)) {
            return files.clone();
        }
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
        let files: Rc<[PathBuf]> = listed
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .cloned()
            .collect();
        self.listed
            .insert((dir.to_path_buf(), suffix), files.clone());
        files
    }

    /// The `.tf` files of `dir` in the order Terraform merges them: primary files by name,
    /// then override files by name.
    pub(crate) fn tf_files_merge_order(&mut self, dir: &Path) -> Rc<[PathBuf]> {
        if let Some(files) = self.merge_order.get(dir) {
            return files.clone();
        }
        let files = self.files_in(dir, ".tf");
        let (primary, overrides): (Vec<&PathBuf>, Vec<&PathBuf>) =
            files.iter().partition(|p| !is_override(p));
        let ordered: Rc<[PathBuf]> = primary.into_iter().chain(overrides).cloned().collect();
        self.merge_order.insert(dir.to_path_buf(), ordered.clone());
        ordered
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
    pub(crate) fn read_text(&self, path: &Path) -> Result<(PathBuf, String, String), String> {
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
            None => self.read_within_limit(&real, &rel)?,
        };
        Ok((real, rel, text))
    }

    /// The text of the file at `real` (named `rel`), charged to the read limit.
    fn read_within_limit(&self, real: &Path, rel: &str) -> Result<String, String> {
        use std::io::Read;
        let left = self.read_left.get();
        let mut text = String::new();
        std::fs::File::open(real)
            .and_then(|file| file.take(left.saturating_add(1)).read_to_string(&mut text))
            .map_err(|e| format!("cannot read {rel}: {e}"))?;
        let size = text.len() as u64;
        if size > left {
            // Nothing more is read, however small: which files a check can use must not
            // depend on the order it happens to need them in beyond this point.
            self.read_left.set(0);
            return Err(format!(
                "{rel} was not read: the Terraform files read for this check would pass the limit of {} MiB (--max-config-mib)",
                self.read_limit.unwrap_or(0).div_ceil(1024 * 1024)
            ));
        }
        self.read_left.set(left - size);
        Ok(text)
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
        let index = self.dir_resources(dir);
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
        let index = self.dir_resources(dir);
        if let Some(error) = &index.override_error {
            return Err(error.clone());
        }
        Ok(index
            .overrides
            .get(&(resource_type.to_string(), name.to_string()))
            .cloned()
            .unwrap_or_default())
    }

    /// The resource blocks of `dir`, indexed once (see [`DirResources`]).
    fn dir_resources(&mut self, dir: &Path) -> &DirResources {
        if !self.resources.contains_key(dir) {
            let mut index = DirResources::default();
            let paths = self.files_in(dir, ".tf");
            for path in paths.iter().filter(|p| !is_override(p)) {
                let file = match self.file(path) {
                    Ok(file) => file,
                    Err(e) => {
                        index.error = Some(e);
                        break;
                    }
                };
                for (key, position) in resource_blocks(&file) {
                    index.found.entry(key).or_insert_with(|| ResourceBlock {
                        file: file.clone(),
                        index: position,
                    });
                }
            }
            for path in paths.iter().filter(|p| is_override(p)) {
                let file = match self.file(path) {
                    Ok(file) => file,
                    Err(e) => {
                        index.override_error = Some(e);
                        break;
                    }
                };
                // A file's first block of a name counts, as Terraform's merge reads it.
                let mut seen = std::collections::HashSet::new();
                for (key, position) in resource_blocks(&file) {
                    if seen.insert(key.clone()) {
                        index.overrides.entry(key).or_default().push(ResourceBlock {
                            file: file.clone(),
                            index: position,
                        });
                    }
                }
            }
            self.resources.insert(dir.to_path_buf(), index);
        }
        &self.resources[dir]
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

/// Why a value that comes from root variable `name` is not patched when the input is a state.
pub(crate) fn unrecorded_variable(name: &str) -> String {
    format!(
        "the value comes from var.{name}, a root variable, and a state does not record where this workspace set it (a tfvars file, -var, TF_VAR_{name}, the workspace's variables); set var.{name} to the trusted CIDRs there"
    )
}

//! Stage 1: reads the JSON of `terraform show -json PLANFILE` into typed data.
//!
//! This module owns everything about the *file*: encodings, telling a plan apart from the things
//! people mistake for one (state, binary plans, the `terraform plan -json` log stream), the
//! `format_version` gate, and the flat list of planned resource instances. It deliberately does
//! not interpret any resource: the planned attribute values stay raw JSON ([`RawJson`]) until a
//! later stage asks for them.
//!
//! The file is read as a stream (`scan`), once, in a window of a few hundred kilobytes: a
//! 500 MB plan costs one validating pass and memory for the resources the caller keeps (chosen
//! by type), never a copy of the file or a tree of it.
//!
//! Both `resource_changes` (flat, carries actions and `after_unknown`) and `planned_values`
//! (nested modules) are read. `resource_changes` is the source of truth; a resource that only
//! appears in `planned_values` (older or errored plans) is still returned, so nothing is skipped.

pub mod address;
pub mod config;
mod decode;
mod read;
mod read_ahead;
mod scan;
mod unique_keys;

pub use decode::{decode, line_column};
pub use read_ahead::ReadAhead;
pub(crate) use unique_keys::Key as JsonKey;

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use serde::Deserialize;

/// Why a file could not be read as a plan. Every variant renders as one line that says what was
/// found and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputErrorKind {
    #[error("the file is empty; expected the output of `terraform show -json PLANFILE`")]
    Empty,
    #[error(
        "this is a binary plan file (zip archive), not JSON; run `terraform show -json PLANFILE > plan.json` and check plan.json"
    )]
    BinaryPlan,
    #[error("invalid UTF-8 (byte offset {offset}); save the plan as UTF-8 or UTF-16 with a BOM")]
    InvalidUtf8 {
        line: usize,
        column: usize,
        offset: usize,
    },
    #[error("invalid UTF-16 at byte offset {offset}: {reason}")]
    InvalidUtf16 { offset: usize, reason: &'static str },
    #[error("{message}{}", path_suffix(.path))]
    Json {
        line: usize,
        column: usize,
        path: String,
        message: String,
    },
    #[error(
        "this is the `terraform plan -json` log stream (one `@level`/`@message` object per line), not a plan; run `terraform plan -out=PLANFILE` then `terraform show -json PLANFILE`"
    )]
    UiLogStream,
    #[error(
        "this is a Terraform state file (`version`/`lineage`/`resources`), not a plan: `portgate audit FILE` audits what it holds; to gate a change, run `terraform plan -out=PLANFILE` then `terraform show -json PLANFILE`"
    )]
    StateFile,
    #[error(
        "this is the human-readable text of `terraform plan` or `terraform show`, not JSON; run `terraform plan -out=PLANFILE` then `terraform show -json PLANFILE > plan.json` and check plan.json"
    )]
    HumanReadablePlan,
    #[error(
        "this is `terraform show -json` of state (top-level `values`, no `planned_values`/`resource_changes`), not of a plan: `portgate audit FILE` audits what it holds; to gate a change, pass a plan file: `terraform show -json PLANFILE`"
    )]
    ShowJsonOfState,
    #[error(
        "this is a plan (`planned_values`/`resource_changes`), not a state: check it with `portgate check FILE`; `portgate audit` reads `terraform show -json` (no plan file) or `terraform state pull`"
    )]
    PlanGivenToAudit,
    #[error(
        "this is an encrypted OpenTofu state or plan (`encrypted_data`, `encryption_version`), which portgate cannot read: run `tofu show -json > state.json` (or `tofu show -json PLANFILE` for a plan) where the encryption keys are configured, and pass that file"
    )]
    Encrypted,
    #[error(
        "at version: unsupported state version {version}; portgate reads version 4 (Terraform 0.12 and later, OpenTofu): run `terraform state pull > state.json` with one of them, or pass `terraform show -json` of the state"
    )]
    UnsupportedStateVersion { version: String },
    #[error(
        "not a Terraform state: expected `terraform show -json` of a state (`format_version` and `values`) or a raw state (`terraform state pull`: `version` 4 and `resources`)"
    )]
    NotAState,
    #[error(
        "not a Terraform plan: the top-level `format_version` key is missing; expected the output of `terraform show -json PLANFILE`"
    )]
    MissingFormatVersion,
    #[error(
        "expected a JSON object at the top level (the output of `terraform show -json PLANFILE`), found {found}"
    )]
    NotAnObject { found: &'static str },
    #[error(
        "at format_version: unsupported plan format version {version:?}; portgate reads format 0.x and 1.x (Terraform 0.12+ and OpenTofu)"
    )]
    UnsupportedFormat { version: String },
    #[error(
        "not a Terraform plan: the top-level `planned_values` object is missing (`terraform show -json PLANFILE` always writes it); check that the file is the whole output of that command"
    )]
    MissingPlannedValues,
    #[error("at {path}: {message}")]
    Invalid { path: String, message: String },
    #[error("cannot read: {message}")]
    Read { message: String },
}

fn path_suffix(path: &str) -> String {
    // serde_path_to_error writes `?` for a key it had not read yet (truncated input).
    let path = path.trim_end_matches(".?").trim_end_matches('?');
    if path.is_empty() || path == "." {
        String::new()
    } else {
        format!(" (at {path})")
    }
}

impl InputErrorKind {
    /// 1-based line and column (in bytes) in the file, when the error has one.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            InputErrorKind::InvalidUtf8 { line, column, .. }
            | InputErrorKind::Json { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }
}

/// A plan input error together with the name of the file it came from. Renders as
/// `FILE:LINE:COLUMN: message` when the position is known, else `FILE: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub source_name: String,
    pub kind: InputErrorKind,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys in a JSON path come from the file and may hold control characters (a `\n` escape
        // in a key); an error stays one line whatever the file contains.
        let kind: String = self
            .kind
            .to_string()
            .chars()
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect();
        match self.kind.position() {
            Some((line, column)) => {
                write!(f, "{}:{line}:{column}: {kind}", self.source_name)
            }
            None => write!(f, "{}: {kind}", self.source_name),
        }
    }
}

impl std::error::Error for InputError {}

/// What a document read is: a plan (`portgate check`) or a state (`portgate audit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    #[default]
    Plan,
    State,
}

impl InputKind {
    /// How reports name the input: "plan" or "state".
    pub fn noun(self) -> &'static str {
        match self {
            InputKind::Plan => "plan",
            InputKind::State => "state",
        }
    }

    /// The subcommand that reads it: "check" or "audit".
    pub fn command(self) -> &'static str {
        match self {
            InputKind::Plan => "check",
            InputKind::State => "audit",
        }
    }
}

/// What the plan says will happen to a resource instance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub enum Action {
    Create,
    Update,
    NoOp,
    Delete,
    /// `["delete","create"]` or `["create","delete"]` (create_before_destroy).
    Replace,
    Read,
    Forget,
    /// Only present in `planned_values`: the plan recorded no change for it.
    PlannedOnly,
    /// An action list portgate does not know; kept so its after-state is still checked.
    Other(String),
    /// An object of a Terraform state (`portgate audit`): it exists now.
    Existing,
    /// An object of a state marked tainted: it exists now, and the next apply replaces it.
    Tainted,
}

impl Action {
    fn from_actions(actions: &[String]) -> Action {
        // Without allocating: this runs once per resource change.
        let is = |i: usize, word: &str| actions[i].eq_ignore_ascii_case(word);
        match actions.len() {
            1 if is(0, "create") => Action::Create,
            1 if is(0, "update") => Action::Update,
            1 if is(0, "no-op") || is(0, "noop") => Action::NoOp,
            1 if is(0, "delete") => Action::Delete,
            1 if is(0, "deletethencreate") || is(0, "createthendelete") => Action::Replace,
            2 if (is(0, "delete") && is(1, "create")) || (is(0, "create") && is(1, "delete")) => {
                Action::Replace
            }
            1 if is(0, "read") => Action::Read,
            1 if is(0, "forget") => Action::Forget,
            _ => Action::Other(actions.join(",")),
        }
    }

    /// True for actions that create or modify infrastructure, or may (what `--only-changes`
    /// keeps). A resource seen only in `planned_values` has no change record, so what the plan
    /// does to it is unknown: it counts as a change, since a gate that cannot tell fails closed.
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Action::Create
                | Action::Update
                | Action::Replace
                | Action::Other(_)
                | Action::PlannedOnly
                | Action::Existing
                | Action::Tainted
        )
    }

    pub fn as_str(&self) -> &str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::NoOp => "no-op",
            Action::Delete => "delete",
            Action::Replace => "replace",
            Action::Read => "read",
            Action::Forget => "forget",
            Action::PlannedOnly => "planned",
            Action::Other(s) => s,
            Action::Existing => "existing",
            Action::Tainted => "tainted",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A piece of the plan kept as raw JSON, with the line and column (in bytes) where it starts,
/// so errors found when it is finally read still point into the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson {
    /// The value's text, exactly as the plan has it (valid JSON).
    pub json: Box<str>,
    pub line: usize,
    pub column: usize,
}

impl RawJson {
    pub fn get(&self) -> &str {
        &self.json
    }
}

/// One planned resource instance (or deposed object), as the plan lists it.
#[derive(Debug, Clone)]
pub struct PlannedResource {
    pub address: String,
    /// `module.a["x"].module.b`, absent for the root module.
    pub module_address: Option<String>,
    pub managed: bool,
    pub resource_type: String,
    pub name: String,
    /// Set for deposed objects, which share their address with the current object.
    pub deposed: Option<String>,
    pub action: Action,
    /// The planned state; `None` when the object will not exist after apply.
    pub after: Option<RawJson>,
    /// Which planned attributes are unknown until apply (`change.after_unknown`).
    pub after_unknown: Option<RawJson>,
    /// Read from `planned_values` or a state (no change record): unknown attributes are
    /// simply omitted there, so an absent attribute means "unknown", not "null".
    pub from_planned_values: bool,
    /// JSON path of the object holding `after` (`resource_changes[3].change`), for diagnostics.
    pub json_path: String,
    /// The key of `after` in that object: `after`, `values` (`planned_values`, `terraform show
    /// -json` of a state) or `attributes` (a raw state's instance).
    pub after_key: &'static str,
}

impl PlannedResource {
    /// JSON path of the planned attribute values.
    pub fn after_path(&self) -> String {
        format!("{}.{}", self.json_path, self.after_key)
    }
}

/// Top-level planned string attributes that look like CIDRs, of every managed resource the
/// plan lists, by address: what a rule's `cidr_blocks = [aws_vpc.main.cidr_block]` can resolve
/// to. Kept instead of the resources themselves, which a streamed plan does not hold.
#[derive(Debug, Default)]
pub struct PlannedCidrs {
    by_address: HashMap<String, Vec<(String, String)>>,
}

impl PlannedCidrs {
    /// The known planned value of `attribute` of the resource at `address`.
    pub fn get(&self, address: &str, attribute: &str) -> Option<&str> {
        self.by_address
            .get(address)?
            .iter()
            .find(|(name, _)| name == attribute)
            .map(|(_, value)| value.as_str())
    }
}

/// What [`Plan::read`] does with a resource, by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Validated and skipped; its CIDR-like attributes are still noted ([`PlannedCidrs`]).
    Skip,
    /// Kept whole, and its CIDR-like attributes noted.
    Yes,
    /// Kept whole; its CIDR-like attributes are not noted: security group rules, whose CIDRs
    /// are what references are resolved *for*. A reference to one stays unresolved (unknown,
    /// so PG003, never a pass), and noting every rule's CIDRs would make a plan of rules cost
    /// twice.
    NotATarget,
}

/// What the caller of [`Plan::read_filtered`] did with a kept resource it was offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// The plan keeps it, raw, in [`Plan::resources`].
    Keep,
    /// It cannot matter: the plan only counts it ([`Plan::set_aside`]).
    SetAside,
    /// The caller read what it needs of it and holds that under this token; the plan keeps
    /// only its place in the order of resources ([`Plan::taken`]).
    Taken(u32),
}

/// Receives each kept resource as soon as the reader has read it, so that a caller can decode
/// it once and drop its raw JSON instead of holding the whole plan's resources.
pub trait Collector {
    /// A kept resource of `planned_values` or `resource_changes`, just read. A resource of
    /// `planned_values` is offered before its module's `address` is known: its
    /// `module_address` is `None` (the reader records it in [`Taken::module_address`]).
    fn offer(&mut self, resource: &PlannedResource) -> Offered;
    /// A resource taken from `planned_values` (`token`) has a change record after all, which
    /// supersedes it: what the caller holds for it will not be asked for.
    fn superseded(&mut self, token: u32);
}

/// Keeps every resource: the collector of [`Plan::read`].
struct KeepAll;

impl Collector for KeepAll {
    fn offer(&mut self, _: &PlannedResource) -> Offered {
        Offered::Keep
    }
    fn superseded(&mut self, _: u32) {}
}

/// The place of a resource the collector took: it comes before `resources[before]` (after any
/// earlier taken resource with the same `before`), exactly where the raw resource would be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub before: usize,
    pub token: u32,
    /// `module.a["x"].module.b`, absent for the root module; one copy per module instance,
    /// shared by its resources.
    pub module_address: Option<std::sync::Arc<str>>,
}

/// A Terraform plan, read and validated, ready for rule extraction.
#[derive(Debug)]
pub struct Plan {
    pub source_name: String,
    /// A plan, or a state read by [`Plan::read_state`].
    pub kind: InputKind,
    pub format_version: String,
    pub terraform_version: Option<String>,
    /// `errored: true`: `terraform plan` failed; the planned values may be incomplete.
    pub errored: bool,
    /// `complete: false`: some changes were deferred to a later plan.
    pub complete: bool,
    /// The resources of the types the reader was asked to keep (all, for [`Plan::parse`]).
    pub resources: Vec<PlannedResource>,
    /// The configuration's module tree, with the resource blocks of the kept types.
    pub configuration: Option<config::ConfigModule>,
    pub planned_cidrs: PlannedCidrs,
    /// Every root module variable's value in this plan (`variables`), however it was set.
    pub variables: std::collections::BTreeMap<String, serde_json::Value>,
    /// Kept resources the caller's filter dropped ([`Plan::read_filtered`]), each counted once
    /// (a resource in both `planned_values` and `resource_changes` is one resource).
    pub set_aside: usize,
    /// The resources the collector took, in order ([`Collector`]).
    pub taken: Vec<Taken>,
}

impl Plan {
    /// Parses plan text, keeping every resource. `source_name` names the file in errors (`-`
    /// for stdin).
    pub fn parse(text: &str, source_name: &str) -> Result<Plan, InputError> {
        Plan::read(text.as_bytes(), source_name, &|_| Keep::Yes)
    }

    /// Reads a plan from a stream of bytes in any encoding Terraform users produce (UTF-8 with
    /// or without BOM, UTF-16), in one pass and bounded memory. Only resources (and
    /// configuration blocks) whose type `keep_type` keeps are kept; the others are validated
    /// and skipped.
    pub fn read<R: Read>(
        reader: R,
        source_name: &str,
        keep_type: &dyn Fn(&str) -> Keep,
    ) -> Result<Plan, InputError> {
        Plan::read_filtered(reader, source_name, keep_type, &mut KeepAll)
    }

    /// [`Plan::read`], offering each kept resource of `planned_values` and `resource_changes`
    /// to `collector` as soon as it is read: a resource it sets aside is dropped at once (and
    /// counted in [`Plan::set_aside`]), one it takes leaves only its place ([`Plan::taken`]),
    /// so memory holds only the raw resources the caller wants.
    pub fn read_filtered<R: Read>(
        reader: R,
        source_name: &str,
        keep_type: &dyn Fn(&str) -> Keep,
        collector: &mut dyn Collector,
    ) -> Result<Plan, InputError> {
        Plan::read_with(reader, source_name, keep_type, collector, false)
            .map(|plan| plan.expect("every planned resource is decoded"))
    }

    /// [`Plan::read_filtered`] for a plan that can be read again (a file): the managed
    /// resources of `planned_values` are not decoded, since Terraform writes a change record
    /// for each, which supersedes it. `None` when one has none (a plan made by hand or cut
    /// down): the caller must then read the plan again with [`Plan::read_filtered`], with a
    /// new collector. Errors inside a superseded `planned_values` resource's values are not
    /// seen (its change record is what is checked).
    pub fn read_optimistic<R: Read>(
        reader: R,
        source_name: &str,
        keep_type: &dyn Fn(&str) -> Keep,
        collector: &mut dyn Collector,
    ) -> Result<Option<Plan>, InputError> {
        Plan::read_with(reader, source_name, keep_type, collector, true)
    }

    /// Reads a Terraform state, in either form: `terraform show -json` without a plan file
    /// (`values.root_module`, as `planned_values` of a plan) or the raw state
    /// (`terraform.tfstate`, `terraform state pull`: version 4, `resources[].instances[]`).
    /// Every object in it, deposed and tainted ones too, becomes a resource with
    /// [`Action::Existing`] or [`Action::Tainted`]; a state holds no unknown values, so only
    /// an attribute that is missing is unknown (as in `planned_values`). A plan, an encrypted
    /// OpenTofu state and a state in Terraform 0.11's flat format are refused.
    pub fn read_state<R: Read>(
        reader: R,
        source_name: &str,
        keep_type: &dyn Fn(&str) -> Keep,
        collector: &mut dyn Collector,
    ) -> Result<Plan, InputError> {
        let error = |kind| InputError {
            source_name: source_name.to_string(),
            kind,
        };
        let doc = walk(reader, source_name, keep_type, collector, false, true)?;
        if doc.has_planned_values || doc.has_resource_changes || doc.has_prior_state {
            return Err(error(InputErrorKind::PlanGivenToAudit));
        }
        let format_version = match (&doc.state_version, &doc.format_version) {
            (Some(version), _) => {
                if version != "4" {
                    return Err(error(InputErrorKind::UnsupportedStateVersion {
                        version: version.clone(),
                    }));
                }
                version.clone()
            }
            (None, Some(format_version)) if !doc.has_state_resources => {
                check_format_version(format_version).map_err(error)?;
                format_version.clone()
            }
            _ => return Err(error(InputErrorKind::NotAState)),
        };
        if doc.state_version.is_some() && doc.has_values {
            return Err(error(InputErrorKind::NotAState));
        }
        Ok(Plan {
            source_name: source_name.to_string(),
            kind: InputKind::State,
            format_version,
            terraform_version: doc.terraform_version,
            errored: false,
            complete: true,
            resources: doc.resources,
            configuration: None,
            planned_cidrs: doc.cidrs,
            variables: Default::default(),
            set_aside: doc.set_aside,
            taken: doc.taken,
        })
    }

    fn read_with<R: Read>(
        reader: R,
        source_name: &str,
        keep_type: &dyn Fn(&str) -> Keep,
        collector: &mut dyn Collector,
        defer_planned: bool,
    ) -> Result<Option<Plan>, InputError> {
        let error = |kind| InputError {
            source_name: source_name.to_string(),
            kind,
        };
        let doc = walk(
            reader,
            source_name,
            keep_type,
            collector,
            defer_planned,
            false,
        )?;

        let has_plan_content =
            doc.has_planned_values || doc.has_resource_changes || doc.has_prior_state;
        if !has_plan_content {
            if doc.has_lineage_or_serial {
                return Err(error(InputErrorKind::StateFile));
            }
            if doc.has_values {
                return Err(error(InputErrorKind::ShowJsonOfState));
            }
        }
        let Some(format_version) = doc.format_version else {
            if doc.has_lineage_or_serial {
                return Err(error(InputErrorKind::StateFile));
            }
            return Err(error(InputErrorKind::MissingFormatVersion));
        };
        check_format_version(&format_version).map_err(error)?;
        // Terraform writes `planned_values` in every plan (jsonplan.Marshal), even an empty
        // one. A document without it was cut down or made by hand, and what it leaves out can
        // hide a resource, so it is not read as a plan.
        if !doc.has_planned_values {
            return Err(error(InputErrorKind::MissingPlannedValues));
        }
        if doc.deferred_missing {
            return Ok(None);
        }
        Ok(Some(Plan {
            source_name: source_name.to_string(),
            kind: InputKind::Plan,
            format_version,
            terraform_version: doc.terraform_version,
            errored: doc.errored.unwrap_or(false),
            complete: doc.complete.unwrap_or(true),
            resources: doc.resources,
            configuration: doc.configuration,
            planned_cidrs: doc.cidrs,
            variables: doc.variables,
            set_aside: doc.set_aside,
            taken: doc.taken,
        }))
    }

    /// Deserializes part of the plan (a resource's `after`, say) into `T`, turning a type
    /// mismatch into an input error that names the file, line, column and full JSON path.
    /// `T` must read the same way every time (it is read twice when it fails).
    pub fn read_value<'p, T: Deserialize<'p>>(
        &self,
        raw: &'p RawJson,
        path: &str,
    ) -> Result<T, InputError> {
        // The JSON path is only tracked to explain an error: the value is read again for it.
        if let Ok(value) = serde_json::from_str(raw.get()) {
            return Ok(value);
        }
        let mut de = serde_json::Deserializer::from_str(raw.get());
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let inner_path = e.path().to_string();
            let full_path = if inner_path == "." {
                path.to_string()
            } else {
                format!("{path}.{inner_path}")
            };
            let inner_line = e.inner().line();
            let (line, column) = if inner_line <= 1 {
                (raw.line, raw.column + e.inner().column().saturating_sub(1))
            } else {
                (raw.line + inner_line - 1, e.inner().column())
            };
            InputError {
                source_name: self.source_name.clone(),
                kind: InputErrorKind::Json {
                    line,
                    column,
                    path: full_path,
                    message: describe_json_error(e.inner()),
                },
            }
        })
    }

    /// An input error about this plan, at a JSON path.
    pub fn invalid(&self, path: impl Into<String>, message: impl Into<String>) -> InputError {
        InputError {
            source_name: self.source_name.clone(),
            kind: InputErrorKind::Invalid {
                path: path.into(),
                message: message.into(),
            },
        }
    }
}

/// Walks a plan (or, with `state`, a state) document; an encrypted one is refused whatever
/// it was meant to be.
fn walk<R: Read>(
    reader: R,
    source_name: &str,
    keep_type: &dyn Fn(&str) -> Keep,
    collector: &mut dyn Collector,
    defer_planned: bool,
    state: bool,
) -> Result<read::Document, InputError> {
    let error = |kind| InputError {
        source_name: source_name.to_string(),
        kind,
    };
    let scanner = scan::Scanner::new(reader).map_err(error)?;
    let mut walker = read::Walker::new(scanner, keep_type, collector, defer_planned);
    if state {
        walker = walker.reading_state();
    }
    let doc = walker.document().map_err(error)?;
    if doc.encrypted {
        return Err(error(InputErrorKind::Encrypted));
    }
    Ok(doc)
}

fn check_format_version(version: &str) -> Result<(), InputErrorKind> {
    let major = version.split('.').next().unwrap_or("");
    match major.parse::<u32>() {
        Ok(0) | Ok(1) => Ok(()),
        _ => Err(InputErrorKind::UnsupportedFormat {
            version: version.to_string(),
        }),
    }
}

/// serde_json's message without its trailing " at line L column C" (the position is printed
/// first), in words a Terraform user reads without knowing Rust.
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let message = message
        .replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected a list")
        .replace("expected a boolean", "expected true, false or null");
    match e.classify() {
        serde_json::error::Category::Eof => {
            format!("invalid JSON: {message}: the file ends early (truncated?)")
        }
        serde_json::error::Category::Syntax => format!("invalid JSON: {message}"),
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn action_lists_are_read_in_any_case() {
        let action = |words: &[&str]| {
            Action::from_actions(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(action(&["create"]), Action::Create);
        assert_eq!(action(&["Update"]), Action::Update);
        assert_eq!(action(&["no-op"]), Action::NoOp);
        assert_eq!(action(&["NoOp"]), Action::NoOp);
        assert_eq!(action(&["DELETE"]), Action::Delete);
        for replace in [
            &["delete", "create"][..],
            &["create", "delete"],
            &["DeleteThenCreate"],
            &["createthendelete"],
        ] {
            assert_eq!(action(replace), Action::Replace, "{replace:?}");
        }
        assert_eq!(action(&["read"]), Action::Read);
        assert_eq!(action(&["forget"]), Action::Forget);
        assert_eq!(
            action(&["create", "create"]),
            Action::Other("create,create".into())
        );
        assert_eq!(action(&[]), Action::Other(String::new()));
        assert_eq!(
            action(&["delete", "read"]),
            Action::Other("delete,read".into())
        );
        assert_eq!(action(&["creat"]), Action::Other("creat".into()));
    }
}

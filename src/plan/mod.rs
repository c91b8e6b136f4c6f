//! Stage 1: reads the JSON of `terraform show -json PLANFILE` into typed data.
//!
//! This module owns everything about the *file*: encodings, telling a plan apart from the things
//! people mistake for one (state, binary plans, the `terraform plan -json` log stream), the
//! `format_version` gate, and the flat list of planned resource instances. It deliberately does
//! not interpret any resource: the planned attribute values stay as borrowed raw JSON
//! ([`RawValue`]) so a 500 MB plan costs one validation pass, and only the few resources a later
//! stage cares about are ever deserialized.
//!
//! Both `resource_changes` (flat, carries actions and `after_unknown`) and `planned_values`
//! (nested modules) are read. `resource_changes` is the source of truth; a resource that only
//! appears in `planned_values` (older or errored plans) is still returned, so nothing is skipped.

pub mod address;
pub mod config;
mod decode;

pub use decode::{decode, line_column};

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

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
        "this is a Terraform state file (`version`/`lineage`/`resources`), not a plan; run `terraform plan -out=PLANFILE` then `terraform show -json PLANFILE`"
    )]
    StateFile,
    #[error(
        "this is `terraform show -json` of state (top-level `values`, no `planned_values`/`resource_changes`), not of a plan; pass a plan file: `terraform show -json PLANFILE`"
    )]
    ShowJsonOfState,
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
        "not a Terraform plan: none of `planned_values`, `resource_changes` or `prior_state` is present"
    )]
    NoPlanContent,
    #[error("at {path}: {message}")]
    Invalid { path: String, message: String },
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
    /// 1-based line and column in the file, when the error has one.
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
        match self.kind.position() {
            Some((line, column)) => {
                write!(f, "{}:{line}:{column}: {}", self.source_name, self.kind)
            }
            None => write!(f, "{}: {}", self.source_name, self.kind),
        }
    }
}

impl std::error::Error for InputError {}

/// What the plan says will happen to a resource instance.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Action {
    fn from_actions(actions: &[String]) -> Action {
        let lower: Vec<String> = actions.iter().map(|a| a.to_ascii_lowercase()).collect();
        let words: Vec<&str> = lower.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["create"] => Action::Create,
            ["update"] => Action::Update,
            ["no-op"] | ["noop"] => Action::NoOp,
            ["delete"] => Action::Delete,
            ["delete", "create"]
            | ["create", "delete"]
            | ["deletethencreate"]
            | ["createthendelete"] => Action::Replace,
            ["read"] => Action::Read,
            ["forget"] => Action::Forget,
            _ => Action::Other(actions.join(",")),
        }
    }

    /// True for actions that create or modify infrastructure (what `--only-changes` keeps).
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update | Action::Replace | Action::Other(_)
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
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One planned resource instance (or deposed object), as the plan lists it.
#[derive(Debug, Clone)]
pub struct PlannedResource<'a> {
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
    pub after: Option<&'a RawValue>,
    /// Which planned attributes are unknown until apply (`change.after_unknown`).
    pub after_unknown: Option<&'a RawValue>,
    /// Read from `planned_values` (no change record): unknown attributes are simply omitted
    /// there, so an absent attribute means "unknown", not "null".
    pub from_planned_values: bool,
    /// JSON path of the object holding `after` (`resource_changes[3].change`), for diagnostics.
    pub json_path: String,
}

impl PlannedResource<'_> {
    /// JSON path of the planned attribute values.
    pub fn after_path(&self) -> String {
        if self.from_planned_values {
            format!("{}.values", self.json_path)
        } else {
            format!("{}.after", self.json_path)
        }
    }
}

/// A Terraform plan, read and validated, ready for rule extraction.
#[derive(Debug)]
pub struct Plan<'a> {
    pub source_name: String,
    pub format_version: String,
    pub terraform_version: Option<String>,
    /// `errored: true`: `terraform plan` failed; the planned values may be incomplete.
    pub errored: bool,
    /// `complete: false`: some changes were deferred to a later plan.
    pub complete: bool,
    pub resources: Vec<PlannedResource<'a>>,
    pub configuration: Option<config::ConfigModule<'a>>,
    text: &'a str,
}

impl<'a> Plan<'a> {
    /// Parses decoded plan text. `source_name` names the file in errors (`-` for stdin).
    pub fn parse(text: &'a str, source_name: &str) -> Result<Plan<'a>, InputError> {
        let error = |kind| InputError {
            source_name: source_name.to_string(),
            kind,
        };
        let first = text.trim_start().chars().next();
        match first {
            Some('{') => {}
            Some('[') => return Err(error(InputErrorKind::NotAnObject { found: "an array" })),
            Some('"') => return Err(error(InputErrorKind::NotAnObject { found: "a string" })),
            Some(_) | None => {
                // Let serde_json describe it (number, literal or garbage) with a position.
                let value: Result<IgnoredAny, _> = serde_json::from_str(text);
                return Err(error(match value {
                    Ok(_) => InputErrorKind::NotAnObject {
                        found: "a scalar value",
                    },
                    Err(e) => json_error(&e, String::new()),
                }));
            }
        }

        let mut de = serde_json::Deserializer::from_str(text);
        let raw: RawPlan<'a> = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            error(json_error(e.inner(), path))
        })?;
        if raw.at_level.is_some() || raw.at_message.is_some() {
            return Err(error(InputErrorKind::UiLogStream));
        }
        de.end().map_err(|e| error(json_error(&e, String::new())))?;

        let has_plan_content = raw.planned_values.is_some()
            || raw.resource_changes.is_some()
            || raw.prior_state.is_some();
        if !has_plan_content {
            if raw.lineage.is_some() || raw.serial.is_some() {
                return Err(error(InputErrorKind::StateFile));
            }
            if raw.values.is_some() {
                return Err(error(InputErrorKind::ShowJsonOfState));
            }
        }
        let Some(format_version) = raw.format_version else {
            if raw.lineage.is_some() || raw.serial.is_some() {
                return Err(error(InputErrorKind::StateFile));
            }
            return Err(error(InputErrorKind::MissingFormatVersion));
        };
        check_format_version(&format_version).map_err(error)?;
        if !has_plan_content {
            return Err(error(InputErrorKind::NoPlanContent));
        }

        let mut resources = Vec::new();
        let mut seen = HashSet::new();
        for (i, rc) in raw
            .resource_changes
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let action = Action::from_actions(&rc.change.actions);
            if rc.deposed.is_none() {
                seen.insert(rc.address.clone());
            }
            resources.push(PlannedResource {
                address: rc.address,
                module_address: rc.module_address,
                managed: rc.mode.as_deref().unwrap_or("managed") == "managed",
                resource_type: rc.resource_type,
                name: rc.name,
                deposed: rc.deposed,
                action,
                after: rc.change.after,
                after_unknown: rc.change.after_unknown,
                from_planned_values: false,
                json_path: format!("resource_changes[{i}].change"),
            });
        }
        if let Some(root) = raw.planned_values.and_then(|pv| pv.root_module) {
            collect_planned(
                root,
                "planned_values.root_module".to_string(),
                &seen,
                &mut resources,
            );
        }

        let configuration = raw.configuration.and_then(|c| c.root_module);
        Ok(Plan {
            source_name: source_name.to_string(),
            format_version,
            terraform_version: raw.terraform_version,
            errored: raw.errored.unwrap_or(false),
            complete: raw.complete.unwrap_or(true),
            resources,
            configuration,
            text,
        })
    }

    /// 1-based line and column in the decoded text where `raw` starts, when `raw` was borrowed
    /// from this plan's text.
    pub fn position_of(&self, raw: &RawValue) -> Option<(usize, usize)> {
        let start = self.text.as_ptr() as usize;
        let at = raw.get().as_ptr() as usize;
        if at < start || at > start + self.text.len() {
            return None;
        }
        Some(line_column(self.text, at - start))
    }

    /// Deserializes part of the plan (a resource's `after`, say) into `T`, turning a type
    /// mismatch into an input error that names the file, line, column and full JSON path.
    pub fn read_value<T: Deserialize<'a>>(
        &self,
        raw: &'a RawValue,
        path: &str,
    ) -> Result<T, InputError> {
        let mut de = serde_json::Deserializer::from_str(raw.get());
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let inner_path = e.path().to_string();
            let full_path = if inner_path == "." {
                path.to_string()
            } else {
                format!("{path}.{inner_path}")
            };
            let (line, column) = match (self.position_of(raw), e.inner().line()) {
                (Some((base_line, base_col)), inner_line) => {
                    if inner_line <= 1 {
                        (base_line, base_col + e.inner().column().saturating_sub(1))
                    } else {
                        (base_line + inner_line - 1, e.inner().column())
                    }
                }
                (None, _) => (e.inner().line(), e.inner().column()),
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

fn check_format_version(version: &str) -> Result<(), InputErrorKind> {
    let major = version.split('.').next().unwrap_or("");
    match major.parse::<u32>() {
        Ok(0) | Ok(1) => Ok(()),
        _ => Err(InputErrorKind::UnsupportedFormat {
            version: version.to_string(),
        }),
    }
}

fn json_error(e: &serde_json::Error, path: String) -> InputErrorKind {
    InputErrorKind::Json {
        line: e.line(),
        column: e.column(),
        path,
        message: describe_json_error(e),
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

fn collect_planned<'a>(
    module: RawModule<'a>,
    path: String,
    seen: &HashSet<String>,
    out: &mut Vec<PlannedResource<'a>>,
) {
    for (i, r) in module.resources.into_iter().enumerate() {
        if seen.contains(&r.address) {
            continue;
        }
        out.push(PlannedResource {
            module_address: module.address.clone(),
            address: r.address,
            managed: r.mode.as_deref().unwrap_or("managed") == "managed",
            resource_type: r.resource_type,
            name: r.name,
            deposed: None,
            action: Action::PlannedOnly,
            after: r.values,
            after_unknown: None,
            from_planned_values: true,
            json_path: format!("{path}.resources[{i}]"),
        });
    }
    for (i, child) in module.child_modules.into_iter().enumerate() {
        collect_planned(child, format!("{path}.child_modules[{i}]"), seen, out);
    }
}

// ---- serde shapes of the file ----------------------------------------------------------------

#[derive(Deserialize)]
struct RawPlan<'a> {
    format_version: Option<String>,
    terraform_version: Option<String>,
    #[serde(borrow)]
    planned_values: Option<RawValues<'a>>,
    #[serde(borrow)]
    resource_changes: Option<Vec<RawResourceChange<'a>>>,
    #[serde(borrow)]
    configuration: Option<config::RawConfiguration<'a>>,
    errored: Option<bool>,
    complete: Option<bool>,
    prior_state: Option<IgnoredAny>,
    // Probes that tell a plan apart from look-alikes.
    values: Option<IgnoredAny>,
    lineage: Option<IgnoredAny>,
    serial: Option<IgnoredAny>,
    #[serde(rename = "@level")]
    at_level: Option<IgnoredAny>,
    #[serde(rename = "@message")]
    at_message: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct RawValues<'a> {
    #[serde(borrow)]
    root_module: Option<RawModule<'a>>,
}

#[derive(Deserialize)]
struct RawModule<'a> {
    address: Option<String>,
    #[serde(borrow, default)]
    resources: Vec<RawResource<'a>>,
    #[serde(borrow, default)]
    child_modules: Vec<RawModule<'a>>,
}

#[derive(Deserialize)]
struct RawResource<'a> {
    address: String,
    mode: Option<String>,
    #[serde(rename = "type")]
    resource_type: String,
    name: String,
    #[serde(borrow)]
    values: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawResourceChange<'a> {
    address: String,
    module_address: Option<String>,
    mode: Option<String>,
    #[serde(rename = "type")]
    resource_type: String,
    name: String,
    deposed: Option<String>,
    #[serde(borrow)]
    change: RawChange<'a>,
}

#[derive(Deserialize)]
struct RawChange<'a> {
    actions: Vec<String>,
    #[serde(borrow)]
    after: Option<&'a RawValue>,
    #[serde(borrow)]
    after_unknown: Option<&'a RawValue>,
}

//! `--format sarif`: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.
//!
//! One run. `tool.driver.rules` lists every loaded policy, then the two engine diagnostics
//! (PG003, PG004), each with its text from the policy file, a `security-severity` score and
//! tags. There is one result per finding:
//!
//! - `level` is `error` when the finding fails the gate and `warning` otherwise; a finding
//!   waived by an active waiver also carries an external, accepted `suppressions` entry.
//! - The location is the `ingress` block or resource block in the Terraform sources when it was
//!   found (`uriBaseId` `%SRCROOT%`: the working directory, usually the repository root, with
//!   paths that include the `--source` directory), else the resource's planned
//!   values in the plan file. Every result also names the resource as a logical location.
//! - `partialFingerprints["portgate/v1"]` hashes the rule id, address, deposed key, block and
//!   address family, so an alert keeps its identity when lines move.
//! - `fixes[]` holds the source patch as region replacements (line/column and byte offsets of
//!   the same region), when the finding has one.
//!
//! Columns count Unicode code points (`run.columnKind`), as portgate counts them everywhere.
//! `originalUriBaseIds` is not written: the report does not know the absolute source directory.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::ReportContext;
use crate::fix::{Fix, FixKind, Region};
use crate::gate::GatedFinding;
use crate::policy::{RuleMeta, Severity, invalid_cidr_meta, unknown_value_meta};

/// Where users learn about portgate (the SARIF `informationUri`).
pub const INFORMATION_URI: &str = env!("CARGO_PKG_REPOSITORY");

const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The `uriBaseId` of source files: the working directory (the repository root in CI).
const SOURCE_ROOT: &str = "%SRCROOT%";

/// The key of portgate's fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "portgate/v1";

/// Every rule a finding can have, in the order SARIF lists them: the loaded policies, then the
/// engine diagnostics.
pub(super) fn all_rules(context: &ReportContext<'_>) -> Vec<RuleMeta> {
    context
        .policies
        .policies
        .iter()
        .map(|p| p.meta.clone())
        .chain([unknown_value_meta(), invalid_cidr_meta()])
        .collect()
}

/// What a finding or test case is about: `ADDRESS [(deposed KEY)] [BLOCK]`.
pub(super) fn subject(address: &str, deposed: Option<&str>, block: Option<&str>) -> String {
    let mut out = address.to_string();
    if let Some(key) = deposed {
        out.push_str(&format!(" (deposed {key})"));
    }
    if let Some(block) = block {
        out.push(' ');
        out.push_str(block);
    }
    out
}

/// GitHub's `security-severity` score of a severity.
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// The stable identity of a finding: FNV-1a (64 bit) of `RULE|ADDRESS|DEPOSED|BLOCK|FAMILY`, in
/// hex. Line numbers are not part of it.
pub fn fingerprint(finding: &crate::policy::Finding) -> String {
    let family = finding
        .family
        .map(|f| f.as_str().to_ascii_lowercase())
        .unwrap_or_default();
    let key = [
        finding.rule_id.as_str(),
        finding.address.as_str(),
        finding.deposed.as_deref().unwrap_or(""),
        finding.block.as_deref().unwrap_or(""),
        family.as_str(),
    ]
    .join("|");
    format!("{:016x}", fnv1a(key.as_bytes()))
}

/// A finding's fingerprint in a run of several inputs: the same finding in two inputs (one
/// address in two workspaces) is two findings.
pub fn input_fingerprint(input: &str, fingerprint: &str) -> String {
    format!(
        "{:016x}",
        fnv1a(format!("{input}|{fingerprint}").as_bytes())
    )
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A file path as a URI reference: relative paths stay relative (with `/` separators), absolute
/// ones are made relative to the working directory when they are under it and otherwise kept as
/// given (a path-absolute reference, not a `file:` URI naming this machine). Anything but
/// unreserved characters and `/` is percent-encoded.
pub fn path_uri(path: &str) -> String {
    let path = if cfg!(windows) {
        path.replace('\\', "/")
    } else {
        path.to_string()
    };
    if path.starts_with('/') {
        // Relative to the working directory (where code scanning resolves paths) when the
        // file is under it; else the path as given, never a `file://` URI naming this machine.
        if let Ok(cwd) = std::env::current_dir()
            && let Ok(relative) = std::path::Path::new(&path).strip_prefix(&cwd)
        {
            return percent_encode(&relative.to_string_lossy().replace('\\', "/"));
        }
        return percent_encode(&path);
    }
    let bytes = path.as_bytes();
    if cfg!(windows)
        && bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && bytes[2] == b'/'
    {
        return format!("file:///{}:{}", &path[..1], percent_encode(&path[2..]));
    }
    let mut relative = path.as_str();
    while let Some(rest) = relative.strip_prefix("./") {
        relative = rest;
    }
    percent_encode(relative)
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn write(context: &ReportContext<'_>, out: &mut dyn io::Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &log(std::slice::from_ref(context), &[]))?;
    writeln!(out)
}

/// The SARIF log of several inputs: one run, whose results each carry their input (the
/// property `input`, and an `input` part in their fingerprint, so that one address in two
/// workspaces is two alerts), whose notifications are every input's warnings (prefixed with
/// its file) and an error notification for each input that could not be read, and whose
/// properties list the inputs (`plans` or `states`).
pub fn write_many(
    contexts: &[ReportContext<'_>],
    unreadable: &[(String, String)],
    out: &mut dyn io::Write,
) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &log(contexts, unreadable))?;
    writeln!(out)
}

// The SARIF objects portgate writes, fields in the order a reader expects them.

#[derive(Serialize)]
struct Log<'c, 'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'c, 'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'c, 'a> {
    tool: Tool,
    invocations: [Invocation; 1],
    column_kind: &'static str,
    results: Results<'c, 'a>,
    properties: RunProperties<'a>,
}

/// The results, each made as it is written (see [`super::Streamed`]).
struct Results<'c, 'a> {
    contexts: &'c [ReportContext<'a>],
    rules: Vec<RuleMeta>,
    /// The run has several inputs: results name theirs.
    several: bool,
}

impl Serialize for Results<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let several = self.several;
        super::Streamed(|| {
            self.contexts.iter().flat_map(move |context| {
                context.report.findings.iter().map(move |finding| {
                    let mut made = result(context, &self.rules, finding);
                    if several {
                        let input = &context.report.plan.file;
                        made.properties
                            .insert("input".to_string(), Value::String(input.clone()));
                        if let Some(print) = made.partial_fingerprints.get_mut(FINGERPRINT_KEY) {
                            *print = input_fingerprint(input, print);
                        }
                    }
                    made
                })
            })
        })
        .serialize(serializer)
    }
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    information_uri: &'static str,
    rules: Vec<ReportingDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Text,
}

#[derive(Serialize)]
struct RunProperties<'a> {
    /// The input: `plan` for `check`, `state` for `audit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<&'a crate::gate::PlanInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a crate::gate::PlanInfo>,
    /// Several inputs: each one's facts (`plans` or `states`).
    #[serde(skip_serializing_if = "Option::is_none")]
    plans: Option<Vec<&'a crate::gate::PlanInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    states: Option<Vec<&'a crate::gate::PlanInfo>>,
    resources_scanned: usize,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

fn text(text: impl Into<String>) -> Text {
    Text { text: text.into() }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: String,
    name: String,
    short_description: Text,
    full_description: Text,
    help: Help,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
    severity: Severity,
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    compliance: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    message: Text,
    locations: [Location; 1],
    partial_fingerprints: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fixes: Vec<SarifFix>,
    properties: Map<String, Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
    logical_locations: [LogicalLocation; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: SarifRegion,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

impl ArtifactLocation {
    /// A source file, by its path from the working directory.
    fn source(file: &str) -> ArtifactLocation {
        ArtifactLocation {
            uri: path_uri(file),
            uri_base_id: Some(SOURCE_ROOT),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRegion {
    start_line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_offset: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_length: Option<usize>,
}

impl SarifRegion {
    fn line(start_line: usize) -> SarifRegion {
        SarifRegion {
            start_line,
            start_column: None,
            end_line: None,
            end_column: None,
            byte_offset: None,
            byte_length: None,
        }
    }

    fn lines_and_columns(region: &Region) -> SarifRegion {
        SarifRegion {
            start_column: Some(region.start_column),
            end_line: Some(region.end_line),
            end_column: Some(region.end_column),
            ..SarifRegion::line(region.start_line)
        }
    }

    /// Lines and columns, and the byte offsets of the same region.
    fn with_bytes(region: &Region) -> SarifRegion {
        SarifRegion {
            byte_offset: Some(region.byte_offset),
            byte_length: Some(region.byte_length),
            ..SarifRegion::lines_and_columns(region)
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    fully_qualified_name: String,
    kind: &'static str,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    status: &'static str,
    justification: String,
    properties: SuppressionProperties,
}

#[derive(Serialize)]
struct SuppressionProperties {
    expires: String,
    origin: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifFix {
    description: Text,
    artifact_changes: Vec<ArtifactChange>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactChange {
    artifact_location: ArtifactLocation,
    replacements: Vec<Replacement>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Replacement {
    deleted_region: SarifRegion,
    inserted_content: Text,
}

/// The SARIF log of the inputs judged (one, or several) and of those that could not be read.
fn log<'c, 'a>(contexts: &'c [ReportContext<'a>], unreadable: &[(String, String)]) -> Log<'c, 'a> {
    let first = contexts.first().copied();
    let rules = first.as_ref().map(all_rules).unwrap_or_default();
    let several = contexts.len() + unreadable.len() > 1;
    let mut notifications: Vec<Notification> = Vec::new();
    for context in contexts {
        for w in &context.report.warnings {
            notifications.push(Notification {
                level: "warning",
                message: text(if several {
                    format!("{}: {w}", context.report.plan.file)
                } else {
                    w.clone()
                }),
            });
        }
    }
    for (file, message) in unreadable {
        notifications.push(Notification {
            level: "error",
            message: text(format!("{file}: {message}")),
        });
    }
    let kind = first.map_or(crate::plan::InputKind::Plan, |c| c.report.plan.kind);
    let infos =
        || -> Vec<&'a crate::gate::PlanInfo> { contexts.iter().map(|c| &c.report.plan).collect() };
    let one = (!several).then(|| first.map(|c| &c.report.plan)).flatten();
    let properties = RunProperties {
        plan: one.filter(|_| kind == crate::plan::InputKind::Plan),
        state: one.filter(|_| kind == crate::plan::InputKind::State),
        plans: (several && kind == crate::plan::InputKind::Plan).then(infos),
        states: (several && kind == crate::plan::InputKind::State).then(infos),
        resources_scanned: contexts.iter().map(|c| c.report.resources_scanned).sum(),
    };
    Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "portgate",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    information_uri: INFORMATION_URI,
                    rules: rules.iter().map(rule_descriptor).collect(),
                },
            },
            invocations: [Invocation {
                execution_successful: unreadable.is_empty(),
                tool_execution_notifications: notifications,
            }],
            column_kind: "unicodeCodePoints",
            results: Results {
                contexts,
                rules,
                several,
            },
            properties,
        }],
    }
}

fn rule_descriptor(meta: &RuleMeta) -> ReportingDescriptor {
    let mut tags = vec!["security".to_string()];
    for tag in &meta.tags {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    let mut plain = format!(
        "{}\n\nWhy it matters: {}\n\nHow to fix: {}",
        meta.summary, meta.rationale, meta.remediation
    );
    let mut markdown = format!(
        "{}\n\n**Why it matters**\n\n{}\n\n**How to fix**\n\n{}",
        meta.summary, meta.rationale, meta.remediation
    );
    if !meta.references.is_empty() {
        plain.push_str("\n\nReferences:");
        markdown.push_str("\n\n**References**\n");
        for r in &meta.references {
            plain.push_str(&format!("\n- {r}"));
            markdown.push_str(&format!("\n- <{r}>"));
        }
    }
    if !meta.compliance.is_empty() {
        plain.push_str(&format!("\n\nCompliance: {}", meta.compliance.join("; ")));
        markdown.push_str("\n\n**Compliance**\n");
        for c in &meta.compliance {
            markdown.push_str(&format!("\n- {c}"));
        }
    }
    ReportingDescriptor {
        id: meta.id.clone(),
        name: meta.name.clone(),
        short_description: text(&meta.title),
        full_description: text(&meta.summary),
        help: Help {
            text: plain,
            markdown,
        },
        help_uri: meta.references.first().cloned(),
        default_configuration: Configuration {
            // What the default gate does with it: PG003 warns, everything else fails.
            level: if meta.id == crate::policy::UNKNOWN_VALUE {
                "warning"
            } else {
                "error"
            },
        },
        properties: RuleProperties {
            security_severity: security_severity(meta.severity),
            severity: meta.severity,
            tags,
            compliance: meta.compliance.clone(),
        },
    }
}

fn result(context: &ReportContext<'_>, rules: &[RuleMeta], gated: &GatedFinding) -> SarifResult {
    let finding = &gated.finding;
    let fix = context.fixes.and_then(|set| set.for_finding(finding));
    let suppressions = match &gated.waiver {
        Some(applied) if gated.waived => vec![Suppression {
            kind: "external",
            status: "accepted",
            justification: applied.waiver.reason.clone(),
            properties: SuppressionProperties {
                expires: crate::waiver::format_date(applied.waiver.expires),
                origin: applied.waiver.origin.clone(),
            },
        }],
        _ => Vec::new(),
    };
    SarifResult {
        rule_id: finding.rule_id.clone(),
        rule_index: rules.iter().position(|r| r.id == finding.rule_id),
        level: if gated.fails_gate { "error" } else { "warning" },
        message: text(&finding.message),
        locations: [location(context, finding)],
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, fingerprint(finding))]),
        suppressions,
        fixes: fix
            .filter(|f| f.kind == FixKind::Source && !f.edits.is_empty())
            .map(|fix| source_fix(context, fix))
            .into_iter()
            .collect(),
        properties: result_properties(gated, fix),
    }
}

/// The source block when it was located, else the resource in the plan file; plus the
/// resource as a logical location.
fn location(context: &ReportContext<'_>, finding: &crate::policy::Finding) -> Location {
    let physical_location = match context.locations.get(&finding.rule_index) {
        Some(found) => PhysicalLocation {
            artifact_location: ArtifactLocation::source(&context.source_path(&found.file)),
            region: SarifRegion::lines_and_columns(&found.region),
        },
        None => {
            let line = context
                .report
                .rules
                .resources
                .get(finding.resource_index)
                .and_then(|r| r.plan_line)
                .unwrap_or(1);
            PhysicalLocation {
                // Relative to the working directory, not to the sources: no base id.
                artifact_location: ArtifactLocation {
                    uri: path_uri(&context.report.plan.file),
                    uri_base_id: None,
                },
                region: SarifRegion::line(line),
            }
        }
    };
    Location {
        physical_location,
        logical_locations: [LogicalLocation {
            fully_qualified_name: subject(
                &finding.address,
                finding.deposed.as_deref(),
                finding.block.as_deref(),
            ),
            kind: "resource",
        }],
    }
}

fn source_fix(context: &ReportContext<'_>, fix: &Fix) -> SarifFix {
    let mut changes: Vec<ArtifactChange> = Vec::new();
    for edit in &fix.edits {
        let replacement = Replacement {
            deleted_region: SarifRegion::with_bytes(&edit.region),
            inserted_content: text(&edit.replacement),
        };
        let path = context.source_path(&edit.file);
        let uri = path_uri(&path);
        match changes.iter_mut().find(|c| c.artifact_location.uri == uri) {
            Some(change) => change.replacements.push(replacement),
            None => changes.push(ArtifactChange {
                artifact_location: ArtifactLocation::source(&path),
                replacements: vec![replacement],
            }),
        }
    }
    let action = if fix.trusted_cidrs.is_empty() {
        "Remove the world CIDRs (no trusted CIDR of their address family was given)".to_string()
    } else {
        format!(
            "Put the trusted CIDR{} {} in place of the world CIDRs",
            if fix.trusted_cidrs.len() == 1 {
                ""
            } else {
                "s"
            },
            fix.trusted_cidrs.join(", ")
        )
    };
    let mut description = format!("{action} in {}.", fix.files.join(", "));
    for note in &fix.notes {
        description.push_str(&format!(" Note: {}.", note.trim_end_matches('.')));
    }
    SarifFix {
        description: text(description),
        artifact_changes: changes,
    }
}

/// The finding's facts, named as in `--format json`; absent values are left out.
fn result_properties(gated: &GatedFinding, fix: Option<&Fix>) -> Map<String, Value> {
    let finding = &gated.finding;
    let mut props = Map::new();
    let mut put = |key: &str, value: Value| {
        if !value.is_null() {
            props.insert(key.to_string(), value);
        }
    };
    put("severity", json!(finding.severity));
    put("kind", json!(finding.kind));
    put("address", json!(finding.address));
    put("resource_type", json!(finding.resource_type));
    put("action", json!(finding.action));
    put("deposed", json!(finding.deposed));
    put("block", json!(finding.block));
    put("protocol", json!(finding.protocol));
    put("from_port", json!(finding.from_port));
    put("to_port", json!(finding.to_port));
    put("cidr", json!(finding.cidr));
    put("family", json!(finding.family));
    put("ports", json!(finding.ports));
    if !finding.related.is_empty() {
        put("related", json!(finding.related));
    }
    put("json_path", json!(finding.json_path));
    put("fails_gate", json!(gated.fails_gate));
    put("waived", json!(gated.waived));
    if let Some(applied) = &gated.waiver {
        put("waiver", json!(applied));
    }
    if let Some(fix) = fix {
        put(
            "fix",
            json!({
                "kind": fix.kind,
                "trusted_cidrs": fix.trusted_cidrs,
                "patch": fix.patch,
                "notes": fix.notes,
                "reason": fix.reason,
            }),
        );
    }
    props
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(path_uri("main.tf"), "main.tf");
        assert_eq!(path_uri("./plans/a b.json"), "plans/a%20b.json");
        // Outside the working directory: the path as given, not a URI naming this machine.
        assert_eq!(
            path_uri("/nonexistent-root/x#1.json"),
            "/nonexistent-root/x%231.json"
        );
        let cwd = std::env::current_dir().unwrap();
        let inside = cwd.join("plans/p.json");
        assert_eq!(path_uri(inside.to_str().unwrap()), "plans/p.json");
        assert_eq!(path_uri("c:d.json"), "c%3Ad.json");
        if cfg!(windows) {
            assert_eq!(path_uri("modules\\sg\\main.tf"), "modules/sg/main.tf");
            assert_eq!(path_uri("C:\\work\\plan.json"), "file:///C:/work/plan.json");
        } else {
            assert_eq!(path_uri("odd\\name.tf"), "odd%5Cname.tf");
        }
    }

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}

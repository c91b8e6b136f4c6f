//! Stage 3: policies, and their evaluation against normalized ingress rules.
//!
//! A policy is data: one TOML file per rule (id, severity, the protocol/port ranges it guards,
//! and the text a user reads: rationale, remediation, references, compliance tags). The two
//! defaults, `policies/netbios.toml` (PG001) and `policies/smb.toml` (PG002), are compiled into
//! the binary; `--policy-dir` adds more in the same format. Loading validates every file and
//! reports problems at the line and column of the offending key.
//!
//! Two diagnostics are built into the engine rather than loaded, because they are about what
//! portgate could not read rather than about a port: [`UNKNOWN_VALUE`] (PG003, a rule whose
//! CIDRs, protocol or ports are unknown until apply) and [`INVALID_CIDR`] (PG004).
//!
//! What it must not do: read the plan (rules come from [`crate::rules`]) or decide whether a
//! finding fails the gate (waivers, `--fail-on`, `--unknown` are [`crate::gate`]'s).

mod eval;
mod groups;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use eval::{Finding, FindingKind, SortKey, evaluate};

use crate::rules::protocol::{L4, PortRange};

/// How bad a finding is. Ordered, so `--fail-on high` keeps `high` and `critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The user-facing description of a rule, shared by policies and built-in diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMeta {
    /// `PG001`: what users grep for, waive and see in SARIF.
    pub id: String,
    /// `netbios-open-to-world`: a readable slug.
    pub name: String,
    pub title: String,
    pub severity: Severity,
    /// One sentence: what the rule detects.
    pub summary: String,
    /// Why it matters.
    pub rationale: String,
    /// How to fix it.
    pub remediation: String,
    pub references: Vec<String>,
    pub compliance: Vec<String>,
    pub tags: Vec<String>,
}

/// One protocol and port range a policy guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PortSpec {
    pub protocol: L4,
    pub range: PortRange,
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.protocol, self.range)
    }
}

/// A loaded policy: never world-open on these ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    #[serde(flatten)]
    pub meta: RuleMeta,
    pub ports: Vec<PortSpec>,
    /// `built-in` or the file it was loaded from.
    pub origin: String,
}

/// The policies of one run, in the order they were loaded (built-ins first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicySet {
    pub policies: Vec<Policy>,
}

/// A policy file that cannot be used, with the place in it that is wrong.
pub type PolicyError = crate::file_error::FileError;

pub const BUILTIN_POLICIES: [(&str, &str); 2] = [
    (
        "policies/netbios.toml",
        include_str!("../../policies/netbios.toml"),
    ),
    ("policies/smb.toml", include_str!("../../policies/smb.toml")),
];

/// PG003: a rule that could open a guarded port to the world, but whose CIDRs, protocol or
/// ports are unknown until apply.
pub fn unknown_value_meta() -> RuleMeta {
    RuleMeta {
        id: UNKNOWN_VALUE.to_string(),
        name: "ingress-unknown-until-apply".to_string(),
        title: "Ingress rule cannot be proven safe: values unknown until apply".to_string(),
        severity: Severity::Medium,
        summary: "An ingress rule's CIDRs, protocol or ports are computed during apply, and the \
                  known parts could open a guarded port to the world."
            .to_string(),
        rationale: "Terraform only knows some values after apply (a new VPC's CIDR, a module \
                    output, a list built from data sources). Until then nobody can tell whether \
                    the rule opens NetBIOS or SMB to the internet, so a gate cannot pass it \
                    silently."
            .to_string(),
        remediation: "Make the value known at plan time (a literal, a variable, or a resource \
                      attribute that is known), or apply in two steps so the second plan \
                      shows the real CIDRs. Where the message says the Terraform sources can \
                      settle it (a `dynamic` block, an expression that is only a reference), \
                      run portgate with `--source` on the root module the plan was made from. \
                      `--unknown` chooses whether these warnings block the gate or are hidden."
            .to_string(),
        references: vec![
            "https://developer.hashicorp.com/terraform/internals/json-format#change-representation"
                .to_string(),
        ],
        compliance: Vec::new(),
        tags: vec!["unknown-value".to_string()],
    }
}

/// PG004: a CIDR the rule lists is not valid.
pub fn invalid_cidr_meta() -> RuleMeta {
    RuleMeta {
        id: INVALID_CIDR.to_string(),
        name: "ingress-invalid-cidr".to_string(),
        title: "Ingress rule has a CIDR that cannot be parsed".to_string(),
        severity: Severity::High,
        summary: "An ingress rule that could reach a guarded port lists a CIDR that is not a \
                  valid IPv4 or IPv6 network."
            .to_string(),
        rationale: "A source that cannot be parsed cannot be proven narrower than the internet. \
                    AWS will most likely reject it at apply, after other resources have already \
                    changed."
            .to_string(),
        remediation: "Write the source as a valid CIDR such as 10.0.0.0/8 or 2001:db8::/32."
            .to_string(),
        references: vec![
            "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html"
                .to_string(),
        ],
        compliance: Vec::new(),
        tags: vec!["invalid-input".to_string()],
    }
}

pub const UNKNOWN_VALUE: &str = "PG003";
pub const INVALID_CIDR: &str = "PG004";
const RESERVED_IDS: [&str; 2] = [UNKNOWN_VALUE, INVALID_CIDR];

impl PolicySet {
    /// The built-in policies.
    pub fn builtin() -> Result<PolicySet, PolicyError> {
        let mut set = PolicySet::default();
        for (name, text) in BUILTIN_POLICIES {
            set.add(parse_policy(text, name, "built-in")?)?;
        }
        Ok(set)
    }

    /// Adds every `*.toml` file of `dir`, in file-name order.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), PolicyError> {
        let file_error = |message: String| PolicyError::File {
            file: dir.display().to_string(),
            message,
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| file_error(format!("cannot read policy directory: {e}")))?;
        let mut paths: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|e| file_error(format!("cannot read policy directory: {e}")))?
                .path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                paths.push(path);
            }
        }
        if paths.is_empty() {
            return Err(file_error(
                "no *.toml policy files in this directory".to_string(),
            ));
        }
        paths.sort();
        for path in paths {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| PolicyError::File {
                file: shown.clone(),
                message: format!("cannot read policy file: {e}"),
            })?;
            let policy = parse_policy(&text, &shown, &shown)?;
            self.add(policy)?;
        }
        Ok(())
    }

    fn add(&mut self, policy: Policy) -> Result<(), PolicyError> {
        if let Some(existing) = self.policies.iter().find(|p| p.meta.id == policy.meta.id) {
            return Err(PolicyError::File {
                file: policy.origin.clone(),
                message: format!(
                    "policy id {} is already defined by {}; ids must be unique",
                    policy.meta.id, existing.origin
                ),
            });
        }
        self.policies.push(policy);
        Ok(())
    }

    /// Whether any policy may concern the rule: it opens, or may open, a port one guards.
    /// A rule that none concerns yields no finding of any kind.
    pub fn may_concern(&self, rule: &crate::rules::IngressRule) -> bool {
        self.policies.iter().any(|p| eval::may_touch(rule, p))
    }

    pub fn get(&self, id: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.meta.id == id)
    }
}

/// The TOML shape of a policy file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    id: toml::Spanned<String>,
    name: String,
    title: String,
    severity: Severity,
    summary: String,
    rationale: String,
    remediation: String,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    compliance: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    ports: toml::Spanned<Vec<toml::Spanned<PortFile>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PortFile {
    protocol: L4File,
    from: i64,
    to: i64,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum L4File {
    Tcp,
    Udp,
}

/// Parses and validates one policy file. `file` names it in errors.
pub fn parse_policy(text: &str, file: &str, origin: &str) -> Result<Policy, PolicyError> {
    let at = |span: std::ops::Range<usize>, message: String| {
        PolicyError::at(text, file, span.start, message)
    };
    let raw: PolicyFile = crate::file_error::parse_toml(text, file)?;
    let id_span = raw.id.span();
    let id = raw.id.into_inner();
    let id_ok = id.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err(at(
            id_span,
            format!(
                "invalid id {id:?}: use letters, digits, '-' and '_', starting with a letter (e.g. \"ACME001\")"
            ),
        ));
    }
    if RESERVED_IDS.contains(&id.as_str()) {
        return Err(at(
            id_span,
            format!("id {id} is reserved for a built-in diagnostic; choose another id"),
        ));
    }
    let ports_span = raw.ports.span();
    let port_entries = raw.ports.into_inner();
    if port_entries.is_empty() {
        return Err(at(
            ports_span,
            "`ports` is empty; list at least one { protocol = \"tcp\"|\"udp\", from, to }"
                .to_string(),
        ));
    }
    let mut ports = Vec::new();
    for entry in port_entries {
        let span = entry.span();
        let p = entry.into_inner();
        let bound = |v: i64| u16::try_from(v).ok();
        let (Some(from), Some(to)) = (bound(p.from), bound(p.to)) else {
            return Err(at(
                span,
                format!("port range {}-{} is outside 0-65535", p.from, p.to),
            ));
        };
        if from > to {
            return Err(at(
                span,
                format!("port range {from}-{to} is reversed: `from` must not exceed `to`"),
            ));
        }
        ports.push(PortSpec {
            protocol: match p.protocol {
                L4File::Tcp => L4::Tcp,
                L4File::Udp => L4::Udp,
            },
            range: PortRange { from, to },
        });
    }
    for (label, value) in [
        ("name", &raw.name),
        ("title", &raw.title),
        ("summary", &raw.summary),
        ("rationale", &raw.rationale),
        ("remediation", &raw.remediation),
    ] {
        if value.trim().is_empty() {
            return Err(PolicyError::File {
                file: file.to_string(),
                message: format!("`{label}` is empty; every policy explains itself"),
            });
        }
    }
    Ok(Policy {
        meta: RuleMeta {
            id,
            name: raw.name,
            title: raw.title,
            severity: raw.severity,
            summary: raw.summary.trim().to_string(),
            rationale: raw.rationale.trim().to_string(),
            remediation: raw.remediation.trim().to_string(),
            references: raw.references,
            compliance: raw.compliance,
            tags: raw.tags,
        },
        ports,
        origin: origin.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RDP: &str = r#"
id = "ACME001"
name = "rdp-open-to-world"
title = "RDP open to the world"
severity = "high"
summary = "RDP reachable from anywhere."
rationale = "Brute force."
remediation = "Restrict it."
ports = [{ protocol = "tcp", from = 3389, to = 3389 }]
"#;

    #[test]
    fn builtin_policies_load_and_guard_netbios_and_smb() {
        let set = PolicySet::builtin().unwrap();
        let ids: Vec<&str> = set.policies.iter().map(|p| p.meta.id.as_str()).collect();
        assert_eq!(ids, ["PG001", "PG002"]);
        let netbios: Vec<String> = set.policies[0]
            .ports
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(netbios, ["tcp/137-139", "udp/137-139"]);
        let smb: Vec<String> = set.policies[1]
            .ports
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(smb, ["tcp/445", "udp/445"]);
        for p in &set.policies {
            assert_eq!(p.meta.severity, Severity::Critical);
            assert!(!p.meta.references.is_empty());
            for tag in ["PCI", "APRA", "MAS", "NIST"] {
                assert!(
                    p.meta.compliance.iter().any(|c| c.starts_with(tag)),
                    "{} lacks {tag}",
                    p.meta.id
                );
            }
        }
    }

    #[test]
    fn a_user_policy_parses() {
        let p = parse_policy(RDP, "rdp.toml", "rdp.toml").unwrap();
        assert_eq!(p.meta.id, "ACME001");
        assert_eq!(p.ports[0].to_string(), "tcp/3389");
    }

    fn error_of(text: &str) -> String {
        parse_policy(text, "p.toml", "p.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_bad_severity_points_at_its_line() {
        let text = RDP.replace("\"high\"", "\"severe\"");
        let err = error_of(&text);
        assert!(err.starts_with("p.toml:5:"), "{err}");
        assert!(err.contains("critical"), "lists valid choices: {err}");
    }

    #[test]
    fn unknown_keys_reversed_ranges_and_reserved_ids_are_rejected() {
        let typo = RDP.replace("remediation =", "remedy = \"x\"\nremediation =");
        assert!(error_of(&typo).contains("remedy"), "{}", error_of(&typo));
        let reversed = RDP.replace("from = 3389, to = 3389", "from = 3390, to = 3389");
        let err = error_of(&reversed);
        assert!(
            err.starts_with("p.toml:9:") && err.contains("reversed"),
            "{err}"
        );
        let big = RDP.replace("to = 3389", "to = 70000");
        assert!(error_of(&big).contains("outside 0-65535"));
        let reserved = RDP.replace("ACME001", "PG003");
        assert!(error_of(&reserved).contains("reserved"));
        let empty = RDP.replace(
            "ports = [{ protocol = \"tcp\", from = 3389, to = 3389 }]",
            "ports = []",
        );
        assert!(error_of(&empty).contains("empty"));
        let icmp = RDP.replace("\"tcp\"", "\"icmp\"");
        assert!(error_of(&icmp).contains("tcp"), "{}", error_of(&icmp));
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let mut set = PolicySet::builtin().unwrap();
        let dup = parse_policy(&RDP.replace("ACME001", "PG001"), "x.toml", "x.toml").unwrap();
        let err = set.add(dup).unwrap_err().to_string();
        assert!(err.contains("already defined by built-in"), "{err}");
    }
}

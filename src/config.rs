//! `portgate.toml`: settings a project keeps next to its Terraform code.
//!
//! Found in the current directory, or named with `--config`: trusted CIDRs, extra policy
//! directories, gate settings (`fail_on`, `unknown`, `only_changes`) and waivers. Unknown keys
//! are errors; every error points at the file, line and column of the bad key, like policy
//! files. [`EXAMPLE`] is what `portgate init` writes.
//!
//! It only reads and validates settings: the gate applies them ([`crate::gate`]), and a flag
//! given on the command line wins over them (the CLI merges the two).

use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

use crate::waiver::Waiver;

/// The file name looked for in the current directory.
pub const FILE_NAME: &str = "portgate.toml";

/// A commented example, written by `portgate init`. A test parses it, so it stays valid.
pub const EXAMPLE: &str = r#"# portgate.toml: settings for `portgate check` in this directory.
# Command-line flags override everything here.

# Networks trusted to reach NetBIOS/SMB. Suggested patches put them in place of 0.0.0.0/0
# (IPv4 entries) and ::/0 (IPv6 entries). Write your own: no network is trusted until you do
# (these lines are only an example).
# trusted_cidrs = [
#   "10.0.0.0/8",
#   "2001:db8::/32",
# ]

# Extra policy files (*.toml), relative to this file.
# policy_dirs = ["policies/custom"]

# Lowest severity that fails the gate: any (= info), low, medium, high, critical.
fail_on = "any"

# Rules whose values are unknown until apply (PG003): warn, fail or ignore.
unknown = "warn"

# Only check resources the plan creates, updates or replaces.
only_changes = false

# Accepted exceptions. Every waiver needs a reason and an expiry date; an expired waiver stops
# waiving, and one that matches nothing is reported as stale.
# [[waiver]]
# rule = "PG002"
# address = "module.legacy.*"          # exact address, or a glob with * and ?
# reason = "legacy file server, reachable only through the VPN; ticket OPS-123"
# expires = 2027-01-31
"#;

pub use crate::file_error::FileError;
use crate::file_error::parse_toml;

/// A settings file that cannot be used, or a bad setting given on the command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{flag} {value}: {message}")]
    Flag {
        flag: &'static str,
        value: String,
        message: String,
    },
}

/// Project settings. Every field can also be given on the command line, which wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectConfig {
    /// The file they were read from, if any.
    pub path: Option<PathBuf>,
    pub trusted_cidrs: Vec<TrustedCidr>,
    /// `"vpc"` among `trusted_cidrs`: use each security group's own VPC CIDRs (see
    /// [`VPC_KEYWORD`]).
    pub trusted_vpc: bool,
    /// Extra policy directories, relative to the config file's directory.
    pub policy_dirs: Vec<PathBuf>,
    pub fail_on: Option<crate::gate::FailOn>,
    pub unknown: Option<crate::gate::UnknownMode>,
    pub only_changes: Option<bool>,
    pub waivers: Vec<Waiver>,
}

/// The `trusted_cidrs` entry (and `--trusted-cidr` value) that means "each security group's own
/// VPC CIDRs": an explicit choice of what, without it, is only a suggestion to confirm.
pub const VPC_KEYWORD: &str = "vpc";

/// A network trusted to reach NetBIOS/SMB, put in place of `0.0.0.0/0` or `::/0` by fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCidr {
    pub net: IpNet,
}

impl TrustedCidr {
    /// Parses a trusted CIDR. The world (`/0`) is refused, and so is a CIDR with host bits set,
    /// which AWS would not store as written.
    pub fn parse(text: &str) -> Result<TrustedCidr, String> {
        let net: IpNet = text
            .trim()
            .parse()
            .map_err(|_| "not a CIDR (expected e.g. 10.0.0.0/8 or 2001:db8::/32)".to_string())?;
        if net.prefix_len() == 0 {
            return Err(
                "the world cannot be trusted; give the networks that need access (e.g. 10.0.0.0/8)"
                    .to_string(),
            );
        }
        if net.trunc() != net {
            return Err(format!("host bits are set; did you mean {}?", net.trunc()));
        }
        Ok(TrustedCidr { net })
    }

    pub fn is_ipv4(&self) -> bool {
        matches!(self.net, IpNet::V4(_))
    }
}

/// Checks a whole set of trusted CIDRs: `Err` when together they cover all of IPv4 or IPv6
/// (`0.0.0.0/1` + `128.0.0.0/1` is as much the world as `0.0.0.0/0`, so a patch would leave the
/// hole open), else the warnings a user must see on every run: a public CIDR wider than a /8
/// (IPv4) or /16 (IPv6) opens NetBIOS/SMB to a good part of the internet.
pub fn check_trusted_set(cidrs: &[TrustedCidr]) -> Result<Vec<String>, String> {
    let nets: Vec<IpNet> = cidrs.iter().map(|c| c.net).collect();
    for family in crate::rules::cidr::Family::ALL {
        if crate::rules::cidr::covers_world(&nets, family) {
            let members: Vec<String> = nets
                .iter()
                .filter(|n| crate::rules::cidr::family(n) == family)
                .map(ToString::to_string)
                .collect();
            return Err(format!(
                "{} together cover all of {}: the world cannot be trusted; give the networks that need access (e.g. 10.0.0.0/8)",
                members.join(", "),
                family.as_str()
            ));
        }
    }
    Ok(nets
        .iter()
        .filter(|net| {
            let widest = match net {
                IpNet::V4(_) => 8,
                IpNet::V6(_) => 16,
            };
            net.prefix_len() < widest && crate::rules::cidr::is_public(net)
        })
        .map(|net| {
            format!(
                "trusted CIDR {net} is public and wider than a /{}: patches would open NetBIOS/SMB to all of it; check that it is the network you mean",
                if matches!(net, IpNet::V4(_)) { 8 } else { 16 }
            )
        })
        .collect())
}

impl std::fmt::Display for TrustedCidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.net.fmt(f)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    trusted_cidrs: Vec<toml::Spanned<String>>,
    #[serde(default)]
    policy_dirs: Vec<String>,
    fail_on: Option<crate::gate::FailOn>,
    unknown: Option<crate::gate::UnknownMode>,
    only_changes: Option<bool>,
    #[serde(default)]
    waiver: Vec<toml::Spanned<RawWaiver>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    rule: String,
    address: String,
    reason: String,
    expires: DateValue,
}

/// `expires = 2027-01-31` (a TOML date) or `expires = "2027-01-31"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum DateValue {
    Date(toml::value::Datetime),
    Text(String),
}

impl ProjectConfig {
    /// Reads `explicit` (which must exist), else `portgate.toml` in `dir` when present. Policy
    /// directories are made relative to the file's directory.
    pub fn load(explicit: Option<&Path>, dir: &Path) -> Result<ProjectConfig, ConfigError> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => {
                let candidate = dir.join(FILE_NAME);
                if !candidate.is_file() {
                    return Ok(ProjectConfig::default());
                }
                candidate
            }
        };
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| FileError::File {
            file: file.clone(),
            message: format!("cannot read config file: {e}"),
        })?;
        let mut config = ProjectConfig::parse(&text, &file)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for dir in &mut config.policy_dirs {
            *dir = base.join(&*dir);
        }
        config.path = Some(path);
        Ok(config)
    }

    /// Parses the text of a config file; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<ProjectConfig, ConfigError> {
        let raw: RawConfig = parse_toml(text, file)?;
        let mut trusted_cidrs = Vec::new();
        let raw_trusted_start = raw.trusted_cidrs.first().map(|e| e.span().start);
        let mut trusted_vpc = false;
        for entry in raw.trusted_cidrs {
            if entry.get_ref().trim() == VPC_KEYWORD {
                trusted_vpc = true;
                continue;
            }
            let cidr = TrustedCidr::parse(entry.get_ref()).map_err(|message| {
                let message = format!("trusted_cidrs: {:?}: {message}", entry.get_ref());
                FileError::at(text, file, entry.span().start, message)
            })?;
            trusted_cidrs.push(cidr);
        }
        if let Err(message) = check_trusted_set(&trusted_cidrs) {
            let start = raw_trusted_start.unwrap_or(0);
            return Err(
                FileError::at(text, file, start, format!("trusted_cidrs: {message}")).into(),
            );
        }
        let mut waivers = Vec::new();
        for entry in raw.waiver {
            let start = entry.span().start;
            let (line, _) = crate::plan::line_column(text, start);
            let at = |message: String| FileError::at(text, file, start, message);
            let w = entry.into_inner();
            for (key, value) in [
                ("rule", &w.rule),
                ("address", &w.address),
                ("reason", &w.reason),
            ] {
                if value.trim().is_empty() {
                    return Err(at(format!("[[waiver]] `{key}` must not be empty")).into());
                }
            }
            let expires = match w.expires {
                DateValue::Text(text) => crate::waiver::parse_date(&text),
                DateValue::Date(datetime) => match (datetime.date, datetime.time) {
                    (Some(date), None) => crate::waiver::parse_date(&date.to_string()),
                    _ => Err(format!("{datetime} is not a date; write it as YYYY-MM-DD")),
                },
            }
            .map_err(|e| at(format!("[[waiver]] expires: {e}")))?;
            waivers.push(Waiver {
                rule: w.rule,
                address: w.address,
                reason: w.reason,
                expires,
                origin: format!("{file}:{line}"),
            });
        }
        Ok(ProjectConfig {
            path: None,
            trusted_cidrs,
            trusted_vpc,
            policy_dirs: raw.policy_dirs.into_iter().map(PathBuf::from).collect(),
            fail_on: raw.fail_on,
            unknown: raw.unknown,
            only_changes: raw.only_changes,
            waivers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_cidrs_parse_and_refuse_the_world_and_host_bits() {
        assert!(TrustedCidr::parse("10.0.0.0/8").unwrap().is_ipv4());
        assert!(!TrustedCidr::parse("2001:db8::/32").unwrap().is_ipv4());
        assert!(
            TrustedCidr::parse("0.0.0.0/0")
                .unwrap_err()
                .contains("world")
        );
        assert!(TrustedCidr::parse("::/0").unwrap_err().contains("world"));
        assert!(
            TrustedCidr::parse("10.0.0.1/8")
                .unwrap_err()
                .contains("10.0.0.0/8")
        );
        assert!(
            TrustedCidr::parse("10.0.0.0")
                .unwrap_err()
                .contains("not a CIDR")
        );
    }

    #[test]
    fn config_errors_point_at_the_entry() {
        let err = ProjectConfig::parse(
            "trusted_cidrs = [\n  \"10.0.0.0/8\",\n  \"0.0.0.0/0\",\n]\n",
            "p.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("p.toml:3:3: "), "{err}");
        assert!(err.contains("world"), "{err}");
        let err = ProjectConfig::parse("trusted = []\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p.toml:1:1: ") && err.contains("trusted_cidrs"),
            "{err}"
        );
    }

    #[test]
    fn the_init_example_is_a_valid_config() {
        let config = ProjectConfig::parse(EXAMPLE, "portgate.toml").unwrap();
        assert!(config.trusted_cidrs.is_empty(), "no live default network");
        assert_eq!(config.fail_on, Some(crate::gate::FailOn::Any));
        let uncommented = EXAMPLE
            .replace("# trusted_cidrs = [", "trusted_cidrs = [")
            .replace("#   \"", "  \"")
            .replace("# ]", "]")
            .replace("# [[waiver]]", "[[waiver]]")
            .replace("# rule", "rule")
            .replace("# address", "address")
            .replace("# reason", "reason")
            .replace("# expires", "expires");
        let config = ProjectConfig::parse(&uncommented, "portgate.toml").unwrap();
        assert_eq!(config.trusted_cidrs.len(), 2);
        assert_eq!(config.waivers[0].address, "module.legacy.*");
        assert_eq!(
            crate::waiver::format_date(config.waivers[0].expires),
            "2027-01-31"
        );
    }

    #[test]
    fn waivers_need_a_reason_and_a_valid_date_and_unknown_keys_are_named() {
        let base = "[[waiver]]\nrule = \"PG002\"\naddress = \"x\"\nreason = \"r\"\nexpires = \"2027-01-31\"\n";
        assert_eq!(
            ProjectConfig::parse(base, "p.toml").unwrap().waivers.len(),
            1
        );
        let no_reason = base.replace("reason = \"r\"", "reason = \" \"");
        let err = ProjectConfig::parse(&no_reason, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p.toml:1:1:") && err.contains("reason"),
            "{err}"
        );
        let missing = base.replace("expires = \"2027-01-31\"\n", "");
        let err = ProjectConfig::parse(&missing, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expires"), "{err}");
        let bad_date = base.replace("2027-01-31", "31/01/2027");
        let err = ProjectConfig::parse(&bad_date, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("YYYY-MM-DD"), "{err}");
        let err = ProjectConfig::parse("fail_onn = \"high\"\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("fail_onn"), "{err}");
        let err = ProjectConfig::parse("fail_on = \"severe\"\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p.toml:1:11:") && err.contains("critical"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_default_file_is_no_config_but_a_missing_explicit_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            ProjectConfig::load(None, dir.path()).unwrap(),
            ProjectConfig::default()
        );
        let missing = dir.path().join("nope.toml");
        assert!(ProjectConfig::load(Some(&missing), dir.path()).is_err());
        std::fs::write(
            dir.path().join(FILE_NAME),
            "trusted_cidrs = [\"192.168.0.0/16\"]\n",
        )
        .unwrap();
        let config = ProjectConfig::load(None, dir.path()).unwrap();
        assert_eq!(config.trusted_cidrs[0].to_string(), "192.168.0.0/16");
    }
}

//! The flags `check`, `audit` and `serve` share, defined once: the gate settings, the policy
//! directories, the report (format, sources, output), and how they resolve with
//! `portgate.toml` (the flag wins). Each subcommand's own flags live in its file.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::Error;
use crate::config::{ConfigError, ProjectConfig, TrustedCidr};
use crate::gate::{CheckOptions, FailOn, UnknownMode};
use crate::policy::PolicySet;

/// `300`, `300s`, `5m`, `1h`, `500ms`.
pub(super) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 90s, 5m)"))?;
    let duration = match unit.trim() {
        "" | "s" => std::time::Duration::from_secs(number),
        "ms" => std::time::Duration::from_millis(number),
        "m" | "min" => std::time::Duration::from_secs(number.saturating_mul(60)),
        "h" => std::time::Duration::from_secs(number.saturating_mul(3600)),
        other => return Err(format!("unknown unit {other:?} (use ms, s, m or h)")),
    };
    if duration.is_zero() {
        return Err("must be more than zero".to_string());
    }
    Ok(duration)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Human-readable, one block per finding, with its suggested patch.
    Text,
    /// Machine-readable (documented in README.md).
    Json,
    /// Only the combined patch of the source files, for `git apply` (needs trusted CIDRs).
    Diff,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// JUnit XML: one testsuite per policy (per input, with several), one testcase per checked
    /// ingress rule.
    Junit,
    /// GitHub workflow commands (annotations), plus a summary in $GITHUB_STEP_SUMMARY.
    Github,
    /// A GitLab Code Quality report (`artifacts: reports: codequality:`).
    Gitlab,
    /// A Markdown report for pull request comments (Atlantis and other bots).
    Markdown,
    /// conftest-style lines for Atlantis `policy_check` with `custom_policy_check: true`.
    Conftest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Color when stdout is a terminal and NO_COLOR is not set.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Load additional policies from every *.toml file in DIR (repeatable).
    #[arg(long = "policy-dir", value_name = "DIR")]
    pub policy_dirs: Vec<PathBuf>,
}

/// The gate settings `check` and `serve` share; each also has a key in portgate.toml, which the
/// flag overrides.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// A network trusted to reach NetBIOS/SMB (repeatable, IPv4 or IPv6): findings get a
    /// patch that puts these in place of 0.0.0.0/0 and ::/0. Overrides `trusted_cidrs` of
    /// portgate.toml.
    #[arg(long = "trusted-cidr", value_name = "CIDR")]
    pub trusted_cidrs: Vec<String>,

    /// Settings file (default: portgate.toml in the current directory, when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Lowest severity that fails the gate (`check`: exit code 1; `serve`: a failed run task)
    /// [default: any, or fail_on in portgate.toml].
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,

    /// What to do when values that decide a finding are unknown until apply (PG003)
    /// [default: warn, or unknown in portgate.toml].
    #[arg(long, value_enum, value_name = "MODE")]
    pub unknown: Option<UnknownMode>,

    /// Only report resources the plan creates, updates or replaces (skip no-op ones; a resource
    /// with no change record, only in planned_values, counts as changed).
    #[arg(long)]
    pub only_changes: bool,

    /// Ignore `portgate:waive` tags on resources (each is reported): they are written by the
    /// author of the change being judged. A flag only, never a portgate.toml key, since the
    /// change can edit portgate.toml too.
    #[arg(long)]
    pub no_tag_waivers: bool,

    /// Ignore, and report, any waiver (portgate.toml or tag) that expires more than N days
    /// from today. A flag only, like --no-tag-waivers.
    #[arg(long, value_name = "N")]
    pub max_waiver_days: Option<u32>,

    #[command(flatten)]
    pub policies: PolicyArgs,
}

/// What the gate settings resolve to, after the config file.
pub(crate) struct Gate {
    /// Read by `portgate serve`, which logs where its settings came from.
    #[cfg_attr(not(feature = "serve"), allow(dead_code))]
    pub config: ProjectConfig,
    pub policies: PolicySet,
    pub trusted: Vec<TrustedCidr>,
    /// `--trusted-cidr vpc`: each group's own VPC CIDRs, chosen explicitly.
    pub trusted_vpc: bool,
    pub options: CheckOptions,
}

impl GateArgs {
    /// Reads the config file and merges it with the flags (flags win).
    pub(crate) fn resolve(&self, today: time::Date) -> Result<Gate, Error> {
        let config = load_config(self.config.as_deref())?;
        let policies = load_policies(&self.policies, &config)?;
        let (trusted, trusted_vpc) = trusted_cidrs(&self.trusted_cidrs, &config)?;
        let options = CheckOptions {
            only_changes: self.only_changes || config.only_changes.unwrap_or(false),
            unknown: self.unknown.or(config.unknown).unwrap_or_default(),
            fail_on: self
                .fail_on
                .or(config.fail_on)
                .unwrap_or_default()
                .severity(),
            waivers: config.waivers.clone(),
            tag_waivers: !self.no_tag_waivers,
            max_waiver_days: self.max_waiver_days,
            today,
            source_dir: None,
            ..CheckOptions::default()
        };
        Ok(Gate {
            config,
            policies,
            trusted,
            trusted_vpc,
            options,
        })
    }
}

/// What `check` and `audit` share: the report, the sources, the gate.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,

    /// The Terraform root module the input was made from. Its files prove what the input
    /// cannot show (no `dynamic "ingress"`, a CIDR that is exactly a reference), once they are
    /// shown to match it, and patches are made against them.
    /// With several inputs, `--source INPUT=DIR` pairs one with its root module (repeatable),
    /// and each input without a pair uses `--source DIR` or else its own directory.
    /// [default: . with one input]
    #[arg(long, value_name = "DIR")]
    pub source: Vec<String>,

    /// Read no Terraform sources: values only they could settle stay unknown (PG003), as in
    /// the Rego policies, and patches are rendered from the plan or state.
    #[arg(long, conflicts_with = "source")]
    pub no_source: bool,

    #[command(flatten)]
    pub gate: GateArgs,

    /// Apply the suggested source patches to the files in place.
    #[arg(long)]
    pub write: bool,

    /// Write the report in --format to FILE, and print the text report to stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Report findings but exit 0 (errors still exit 2).
    #[arg(long, visible_alias = "exit-zero")]
    pub soft_fail: bool,

    /// Today's date for waiver expiry (YYYY-MM-DD); defaults to the current UTC date.
    #[arg(long, value_name = "DATE", hide = true)]
    pub today: Option<String>,

    /// When to color text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// The trusted CIDRs of this run: the flags, else the config file.
pub(crate) fn trusted_cidrs(
    flags: &[String],
    config: &ProjectConfig,
) -> Result<(Vec<TrustedCidr>, bool), Error> {
    if flags.is_empty() {
        return Ok((config.trusted_cidrs.clone(), config.trusted_vpc));
    }
    let vpc = flags.iter().any(|f| f.trim() == crate::config::VPC_KEYWORD);
    let cidrs = flags
        .iter()
        .filter(|f| f.trim() != crate::config::VPC_KEYWORD)
        .map(|text| {
            TrustedCidr::parse(text).map_err(|message| {
                Error::Config(ConfigError::Flag {
                    flag: "--trusted-cidr",
                    value: text.clone(),
                    message,
                })
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    crate::config::check_trusted_set(&cidrs).map_err(|message| {
        Error::Config(ConfigError::Flag {
            flag: "--trusted-cidr",
            value: flags.join(" "),
            message,
        })
    })?;
    Ok((cidrs, vpc))
}

pub(crate) fn load_config(explicit: Option<&std::path::Path>) -> Result<ProjectConfig, Error> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    Ok(ProjectConfig::load(explicit, &cwd)?)
}

/// The built-in policies, then the config file's policy directories, then `--policy-dir`.
pub(crate) fn load_policies(args: &PolicyArgs, config: &ProjectConfig) -> Result<PolicySet, Error> {
    let mut set = PolicySet::builtin()?;
    for dir in config.policy_dirs.iter().chain(&args.policy_dirs) {
        set.load_dir(dir)?;
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_take_a_unit_or_seconds() {
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 days").is_err());
        assert!(parse_duration("soon").is_err());
    }
}

//! The command line: every flag, with its help, defined once.
//!
//! [`Cli`] is parsed by the binary; [`run`] does the work and returns the exit code. Output goes
//! to the writers it is given, so tests drive the whole CLI in-process, and nothing here calls
//! `std::process::exit`.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{ConfigError, ProjectConfig, TrustedCidr};
use crate::fix::{self, FixOptions};
use crate::policy::PolicySet;
use crate::report::ReportContext;
use crate::report::text::TextOptions;
use crate::{CheckOptions, Error, FailOn, UnknownMode};

/// `portgate serve`: only in builds with the `serve` feature (the service's HTTP stack is half
/// of portgate's dependencies, and a pre-commit hook builds the checker alone).
#[cfg(feature = "serve")]
mod serve;

/// `portgate check` and `portgate audit`.
mod check;
use check::{Inputs, run_check};

/// Reading several inputs at once.
mod parallel;
/// The progress bar of long runs.
mod progress;

/// Exit code: no finding at or above `--fail-on`.
pub const EXIT_PASS: u8 = 0;
/// Exit code: at least one blocking finding.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: usage error or input that cannot be read.
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "portgate",
    version,
    about = "Stop Terraform plans that open NetBIOS (137-139) or SMB (445) to the internet.",
    long_about = "portgate reads `terraform show -json PLANFILE` and fails when a planned AWS \
                  security group rule opens NetBIOS or SMB to 0.0.0.0/0 or ::/0; `portgate \
                  audit` does the same for what Terraform state says is open now.\n\n\
                  Exit codes: 0 no blocking finding, 1 blocking findings, 2 usage or input error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a plan (the JSON of `terraform show -json PLANFILE`).
    Check(CheckArgs),
    /// Audit a Terraform state: what is already open (`terraform show -json`, or the raw
    /// state of `terraform state pull`). Same policies, reports and exit codes as `check`.
    Audit(AuditArgs),
    /// List the loaded policies.
    Policies(PoliciesArgs),
    /// Write a commented portgate.toml to the current directory.
    Init(InitArgs),
    /// Run the HCP Terraform / Terraform Enterprise run task service (HTTP).
    #[command(long_about = SERVE_ABOUT)]
    Serve(ServeArgs),
    /// Exit 0 when the service at URL answers its health check with 200, else 1 (for a
    /// container HEALTHCHECK: the image has no curl).
    #[cfg(feature = "serve")]
    Healthcheck(HealthcheckArgs),
    /// Print a shell completion script (e.g. `portgate completions bash > /etc/bash_completion.d/portgate`).
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. `portgate man > /usr/local/share/man/man1/portgate.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The health endpoint, plain HTTP (e.g. http://127.0.0.1:8080/healthz).
    #[arg(value_name = "URL", default_value = "http://127.0.0.1:8080/healthz")]
    pub url: String,
    /// How long to wait for the answer (e.g. 5s).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

const SERVE_ABOUT: &str = "Run the HCP Terraform / Terraform Enterprise run task service.\n\n\
TFC POSTs a signed run task request to / or /runtask; portgate answers 200 at once, fetches the \
plan JSON, runs the same check as `portgate check`, and reports passed or failed with one \
outcome per finding back to TFC. GET /healthz answers ok.\n\n\
Requests must carry a valid X-TFC-Task-Signature (HMAC-SHA512 with the run task's HMAC key, \
from --hmac-key-file or PORTGATE_HMAC_KEY). The access token is only ever sent to --tfc-url. \
Serve plain HTTP behind a TLS-terminating proxy. Logs go to stderr (RUST_LOG sets the level). \
SIGTERM or SIGINT drains: running jobs finish while new requests get 503; a second signal makes \
unfinished jobs report failed and exits with status 2.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (plain HTTP: terminate TLS in front of it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,

    /// File holding the run task's HMAC key (a trailing newline is ignored). The environment
    /// variable PORTGATE_HMAC_KEY can hold it instead.
    #[arg(long, value_name = "PATH")]
    pub hmac_key_file: Option<PathBuf>,

    /// Accept requests without verifying their signature (no HMAC key). Only for local trials:
    /// anyone who reaches the service can then submit runs. Every request logs a warning.
    #[arg(long)]
    pub insecure_no_hmac: bool,

    /// The HCP Terraform or Terraform Enterprise address. Plans are fetched from and results
    /// sent to this origin only (scheme, host and port must match); requests naming another
    /// are refused with 400, so the run's token never leaves it.
    #[arg(long, value_name = "URL", default_value = "https://app.terraform.io")]
    pub tfc_url: String,

    #[command(flatten)]
    pub gate: GateArgs,

    /// Jobs checked at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_concurrent: u32,

    /// Accepted jobs that may wait for a free slot; when they are all taken, new requests
    /// get 503 and TFC retries them.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub max_queue: u32,

    /// Time from a request to its verdict (e.g. 300s, 5m); after it, the run gets `failed`.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub job_timeout: std::time::Duration,

    /// On SIGTERM/SIGINT, how long to wait for running and queued jobs; after it, they report
    /// `failed` and the service exits.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub drain_timeout: std::time::Duration,

    /// Largest plan JSON fetched, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub max_plan_mib: u64,

    /// Connections served at once; beyond it, new connections get 503 with Retry-After (or
    /// are closed) [default: 1024, or the open-file limit less 64 when that is lower].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: Option<u32>,

    /// Most MiB of request bodies held at once, over all connections (a body is read before
    /// its signature can be checked, so this bounds what unauthenticated clients can make the
    /// service hold); beyond it, new requests get 503 with Retry-After.
    #[arg(long, value_name = "MIB", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4095))]
    pub max_body_buffer_mib: u64,

    /// Most MiB of the run's Terraform files (`.tf`, `.tf.json`, `.tfvars`) a job reads, for
    /// proofs and patches; beyond it the sources prove and patch nothing more (findings stay,
    /// fixes become suggestions) and the outcomes say why. Parsed HCL takes up to about 26
    /// times its size in memory.
    #[arg(long, value_name = "MIB", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_config_mib: u64,

    /// Directory for the per-job temporary directories (unpacked configurations)
    /// [default: the system temporary directory].
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,

    /// Log format (to stderr).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,
}

/// `300`, `300s`, `5m`, `1h`, `500ms`.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
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

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Replace an existing portgate.toml.
    #[arg(long)]
    pub force: bool,
}

/// Formats of `portgate policies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable: one block per policy (id, severity, title, guarded ports, origin).
    Text,
    /// Machine-readable: every policy with its metadata and ports (documented in README.md).
    Json,
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

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Plan JSON file(s), or `-` to read standard input. Several plans (a monorepo's root
    /// modules, Terragrunt `run-all`) give one report that names each; the exit code is the
    /// worst of them.
    #[arg(value_name = "PLAN", required = true)]
    pub plans: Vec<PathBuf>,

    #[command(flatten)]
    pub run: RunArgs,

    /// The name reports give the plan (default: PLAN as given): for a plan read from standard
    /// input or from a temporary file, so no temporary path ends up in a report.
    #[arg(long, value_name = "NAME")]
    pub plan_name: Option<String>,

    /// Exit 2 when a Terraform file of --source (or of a local module the plan uses) changed
    /// more than a minute after the plan file was written: the plan may not show the sources
    /// being committed (the pre-commit hooks use this). Without it, a warning.
    #[arg(long)]
    pub require_fresh_plan: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// State file: `terraform show -json` without a plan file, or the raw state
    /// (`terraform state pull`, terraform.tfstate); `-` reads standard input.
    #[arg(value_name = "STATE", required = true)]
    pub states: Vec<PathBuf>,

    #[command(flatten)]
    pub run: RunArgs,

    /// The name reports give the state (default: STATE as given).
    #[arg(long, value_name = "NAME")]
    pub state_name: Option<String>,
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

#[derive(Debug, Args)]
pub struct PoliciesArgs {
    #[command(flatten)]
    pub policies: PolicyArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Facts about the process environment that decide presentation.
#[derive(Debug, Clone, Default)]
pub struct Terminal {
    pub stdout_is_terminal: bool,
    /// `NO_COLOR` is set to a non-empty value.
    pub no_color: bool,
    /// `$GITHUB_STEP_SUMMARY`: where `--format github` appends its Markdown summary.
    pub github_step_summary: Option<PathBuf>,
    /// A person watches stderr: it is a terminal and the run is not in CI. Long runs show a
    /// progress bar there.
    pub show_progress: bool,
}

impl Terminal {
    /// The process's own terminal and environment.
    pub fn detect() -> Terminal {
        use std::io::IsTerminal;
        Terminal {
            stdout_is_terminal: io::stdout().is_terminal(),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            github_step_summary: std::env::var_os("GITHUB_STEP_SUMMARY")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            show_progress: progress_wanted(
                io::stderr().is_terminal(),
                std::env::var_os("CI").as_deref(),
            ),
        }
    }
}

/// Whether a progress bar may be drawn: stderr is a terminal, and `CI` (which CI services
/// set, to `true` mostly) is unset, empty, `false` or `0`: a CI log is no place for one, even
/// where the service gives the job a terminal.
fn progress_wanted(stderr_is_terminal: bool, ci: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && ci.is_none_or(|v| v.is_empty() || v == "false" || v == "0")
}

/// Where a command's output goes. Reports go to `stdout`; notes about what was done (files
/// written, findings a diff cannot carry) go to `stderr`.
pub struct Streams<'a> {
    pub stdin: &'a mut dyn Read,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
}

/// Runs a parsed command. Returns the exit code, or an error (exit code 2) to print.
pub fn run(cli: Cli, streams: Streams<'_>, terminal: Terminal) -> Result<u8, Error> {
    match cli.command {
        Command::Check(args) => run_check(
            &Inputs {
                kind: crate::plan::InputKind::Plan,
                paths: &args.plans,
                name: args.plan_name.as_deref(),
                require_fresh_plan: args.require_fresh_plan,
            },
            &args.run,
            streams,
            terminal,
        ),
        Command::Audit(args) => run_check(
            &Inputs {
                kind: crate::plan::InputKind::State,
                paths: &args.states,
                name: args.state_name.as_deref(),
                require_fresh_plan: false,
            },
            &args.run,
            streams,
            terminal,
        ),
        Command::Policies(args) => run_policies(&args, streams.stdout),
        Command::Init(args) => run_init(&args, streams.stdout),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run_serve(&args),
        #[cfg(feature = "serve")]
        Command::Healthcheck(args) => serve::run_healthcheck(&args, streams.stdout),
        #[cfg(not(feature = "serve"))]
        Command::Serve(_) => Err(Error::Usage(format!(
            "this portgate was built without the run task service; build it with the `serve` feature: cargo install --locked --git {} portgate --features serve",
            env!("CARGO_PKG_REPOSITORY")
        ))),
        Command::Completions(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut command, "portgate", streams.stdout);
            Ok(EXIT_PASS)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command)
                .render(streams.stdout)
                .map_err(|e| Error::Io {
                    path: "<stdout>".to_string(),
                    message: e.to_string(),
                })?;
            Ok(EXIT_PASS)
        }
    }
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

fn run_init(args: &InitArgs, stdout: &mut dyn Write) -> Result<u8, Error> {
    let path = PathBuf::from(crate::config::FILE_NAME);
    if path.exists() && !args.force {
        return Err(Error::Usage(format!(
            "{} already exists; pass --force to replace it",
            path.display()
        )));
    }
    std::fs::write(&path, crate::config::EXAMPLE).map_err(|e| Error::Io {
        path: path.display().to_string(),
        message: format!("cannot write: {e}"),
    })?;
    ignore_broken_pipe(writeln!(
        stdout,
        "wrote {}: set trusted_cidrs, then run `portgate check PLAN.json`",
        path.display()
    ))?;
    Ok(EXIT_PASS)
}

fn run_policies(args: &PoliciesArgs, stdout: &mut dyn Write) -> Result<u8, Error> {
    let config = load_config(None)?;
    let policies = load_policies(&args.policies, &config)?;
    let written = match args.format {
        Format::Json => serde_json::to_writer_pretty(&mut *stdout, &policies.policies)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(stdout)),
        Format::Text => (|| {
            let mut rows: Vec<[String; 5]> = vec![[
                "ID".into(),
                "SEVERITY".into(),
                "PORTS".into(),
                "ORIGIN".into(),
                "TITLE".into(),
            ]];
            for p in &policies.policies {
                let ports: Vec<String> = p.ports.iter().map(ToString::to_string).collect();
                rows.push([
                    p.meta.id.clone(),
                    p.meta.severity.to_string(),
                    ports.join(","),
                    p.origin.clone(),
                    p.meta.title.clone(),
                ]);
            }
            for meta in [
                crate::policy::unknown_value_meta(),
                crate::policy::invalid_cidr_meta(),
            ] {
                rows.push([
                    meta.id,
                    meta.severity.to_string(),
                    "-".into(),
                    "engine".into(),
                    meta.title,
                ]);
            }
            let width = |col: usize| rows.iter().map(|r| r[col].len()).max().unwrap_or(0);
            let widths = [width(0), width(1), width(2), width(3)];
            for r in &rows {
                writeln!(
                    stdout,
                    "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    w0 = widths[0],
                    w1 = widths[1],
                    w2 = widths[2],
                    w3 = widths[3],
                )?;
            }
            Ok(())
        })(),
    };
    ignore_broken_pipe(written)?;
    Ok(EXIT_PASS)
}

/// A closed pipe (`portgate check … | head`) is not an error worth exit code 2.
fn ignore_broken_pipe(result: io::Result<()>) -> Result<(), Error> {
    match result {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::Io {
            path: "<stdout>".to_string(),
            message: e.to_string(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn progress_is_for_terminals_outside_ci() {
        use std::ffi::OsStr;
        assert!(progress_wanted(true, None));
        assert!(progress_wanted(true, Some(OsStr::new(""))));
        assert!(progress_wanted(true, Some(OsStr::new("false"))));
        assert!(progress_wanted(true, Some(OsStr::new("0"))));
        assert!(!progress_wanted(true, Some(OsStr::new("true"))));
        assert!(!progress_wanted(true, Some(OsStr::new("1"))));
        assert!(!progress_wanted(false, None));
        // Not a terminal: no progress is drawn or even started.
        let quiet = Terminal::default();
        let progress = progress::Progress::start(&[PathBuf::from("Cargo.toml")], &quiet);
        assert!(!progress.is_shown());
        progress.finish();
    }

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

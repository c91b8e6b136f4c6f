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
                  security group rule opens NetBIOS or SMB to 0.0.0.0/0 or ::/0.\n\n\
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
    /// List the loaded policies.
    Policies(PoliciesArgs),
    /// Write a commented portgate.toml to the current directory.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Replace an existing portgate.toml.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable, one block per finding.
    Text,
    /// Machine-readable (documented in README.md).
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
    /// JUnit XML: one testsuite per policy, one testcase per checked ingress rule.
    Junit,
    /// GitHub workflow commands (annotations), plus a summary in $GITHUB_STEP_SUMMARY.
    Github,
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

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Plan JSON file, or `-` to read standard input.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,

    /// A network trusted to reach NetBIOS/SMB (repeatable, IPv4 or IPv6): suggested patches
    /// put these in place of 0.0.0.0/0 and ::/0. Overrides `trusted_cidrs` of portgate.toml.
    #[arg(long = "trusted-cidr", value_name = "CIDR")]
    pub trusted_cidrs: Vec<String>,

    /// The Terraform root module the plan was made from; patches are made against its files.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub source: PathBuf,

    /// Settings file (default: portgate.toml in the current directory, when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Apply the suggested source patches to the files in place.
    #[arg(long)]
    pub write: bool,

    /// Write the report in --format to FILE, and print the text report to stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Lowest severity that fails the gate (exit code 1) [default: any, or fail_on in
    /// portgate.toml].
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,

    /// What to do when values that decide a finding are unknown until apply (PG003)
    /// [default: warn, or unknown in portgate.toml].
    #[arg(long, value_enum, value_name = "MODE")]
    pub unknown: Option<UnknownMode>,

    /// Only report resources the plan creates, updates or replaces (skip no-op ones).
    #[arg(long)]
    pub only_changes: bool,

    /// Report findings but exit 0 (errors still exit 2).
    #[arg(long, visible_alias = "exit-zero")]
    pub soft_fail: bool,

    /// Today's date for waiver expiry (YYYY-MM-DD); defaults to the current UTC date.
    #[arg(long, value_name = "DATE", hide = true)]
    pub today: Option<String>,

    #[command(flatten)]
    pub policies: PolicyArgs,

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
        Command::Check(args) => run_check(&args, streams, terminal),
        Command::Policies(args) => run_policies(&args, streams.stdout),
        Command::Init(args) => run_init(&args, streams.stdout),
    }
}

/// The trusted CIDRs of this run: the flags, else the config file.
fn trusted_cidrs(args: &CheckArgs, config: &ProjectConfig) -> Result<Vec<TrustedCidr>, Error> {
    if args.trusted_cidrs.is_empty() {
        return Ok(config.trusted_cidrs.clone());
    }
    args.trusted_cidrs
        .iter()
        .map(|text| {
            TrustedCidr::parse(text).map_err(|message| {
                Error::Config(ConfigError::Flag {
                    flag: "--trusted-cidr",
                    value: text.clone(),
                    message,
                })
            })
        })
        .collect()
}

fn load_config(explicit: Option<&std::path::Path>) -> Result<ProjectConfig, Error> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    Ok(ProjectConfig::load(explicit, &cwd)?)
}

/// The built-in policies, then the config file's policy directories, then `--policy-dir`.
fn load_policies(args: &PolicyArgs, config: &ProjectConfig) -> Result<PolicySet, Error> {
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

fn run_check(args: &CheckArgs, streams: Streams<'_>, terminal: Terminal) -> Result<u8, Error> {
    let Streams {
        stdin,
        stdout,
        stderr,
    } = streams;
    let config = load_config(args.config.as_deref())?;
    let policies = load_policies(&args.policies, &config)?;
    let trusted = trusted_cidrs(args, &config)?;
    let today = match &args.today {
        Some(text) => crate::waiver::parse_date(text).map_err(|message| {
            Error::Config(ConfigError::Flag {
                flag: "--today",
                value: text.clone(),
                message,
            })
        })?,
        None => time::OffsetDateTime::now_utc().date(),
    };
    if trusted.is_empty() && (args.format == CheckFormat::Diff || args.write) {
        return Err(Error::Usage(format!(
            "{} needs trusted CIDRs to put in place of the world: pass --trusted-cidr CIDR or set trusted_cidrs in portgate.toml",
            if args.write {
                "--write"
            } else {
                "--format diff"
            }
        )));
    }
    if !args.source.is_dir() {
        return Err(Error::Io {
            path: args.source.display().to_string(),
            message: "--source must be a directory (the Terraform root module)".to_string(),
        });
    }
    let (bytes, source_name) = if args.plan.as_os_str() == "-" {
        let mut bytes = Vec::new();
        stdin.read_to_end(&mut bytes).map_err(|e| Error::Io {
            path: "-".to_string(),
            message: format!("cannot read standard input: {e}"),
        })?;
        (bytes, "-".to_string())
    } else {
        let shown = args.plan.display().to_string();
        let bytes = std::fs::read(&args.plan).map_err(|e| Error::Io {
            path: shown.clone(),
            message: match e.kind() {
                io::ErrorKind::NotFound => "no such file".to_string(),
                io::ErrorKind::IsADirectory => {
                    "is a directory; pass the plan JSON file".to_string()
                }
                _ => format!("cannot read: {e}"),
            },
        })?;
        (bytes, shown)
    };
    let options = CheckOptions {
        only_changes: args.only_changes || config.only_changes.unwrap_or(false),
        unknown: args.unknown.or(config.unknown).unwrap_or_default(),
        fail_on: args
            .fail_on
            .or(config.fail_on)
            .unwrap_or_default()
            .severity(),
        waivers: config.waivers.clone(),
        today,
    };
    let report = crate::check(&bytes, &source_name, &policies, &options)?;
    let fixes = (!trusted.is_empty()).then(|| {
        let findings: Vec<_> = report.findings.iter().map(|g| g.finding.clone()).collect();
        fix::suggest(
            &report.rules,
            &findings,
            &FixOptions {
                trusted: trusted.clone(),
                source_dir: args.source.clone(),
            },
        )
    });
    let locations = if matches!(
        args.format,
        CheckFormat::Sarif | CheckFormat::Github | CheckFormat::Junit
    ) {
        let findings: Vec<_> = report.findings.iter().map(|g| g.finding.clone()).collect();
        fix::locate(&report.rules, &findings, &args.source)
    } else {
        Default::default()
    };
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal.stdout_is_terminal && !terminal.no_color,
    };
    let context = ReportContext {
        report: &report,
        policies: &policies,
        fixes: fixes.as_ref(),
        locations: &locations,
        source_dir: &args.source,
    };
    let written = match &args.output {
        Some(path) => {
            let mut rendered = Vec::new();
            render(
                args.format,
                &context,
                false,
                &mut rendered,
                stderr,
                &terminal,
            )
            .map_err(|e| Error::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            std::fs::write(path, rendered).map_err(|e| Error::Io {
                path: path.display().to_string(),
                message: format!("cannot write: {e}"),
            })?;
            render(
                CheckFormat::Text,
                &context,
                color,
                stdout,
                stderr,
                &terminal,
            )
        }
        None => render(args.format, &context, color, stdout, stderr, &terminal),
    };
    ignore_broken_pipe(written)?;
    if args.write {
        let fixes = fixes
            .as_ref()
            .unwrap_or_else(|| unreachable!("checked above"));
        for file in fix::write::write_files(&fixes.files)? {
            let _ = writeln!(stderr, "portgate: wrote {file}");
        }
    }
    Ok(if report.fails() && !args.soft_fail {
        EXIT_FINDINGS
    } else {
        EXIT_PASS
    })
}

/// Renders the report in `format`.
fn render(
    format: CheckFormat,
    context: &ReportContext<'_>,
    color: bool,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    terminal: &Terminal,
) -> io::Result<()> {
    let ReportContext {
        report,
        policies,
        fixes,
        ..
    } = *context;
    match format {
        CheckFormat::Json => crate::report::json::write(report, fixes, stdout),
        CheckFormat::Diff => match fixes {
            Some(fixes) => crate::report::diff::write(report, fixes, stdout, stderr),
            None => Ok(()),
        },
        CheckFormat::Text => {
            crate::report::text::write(report, policies, fixes, TextOptions { color }, stdout)
        }
        CheckFormat::Sarif => crate::report::sarif::write(context, stdout),
        CheckFormat::Junit => crate::report::junit::write(context, stdout),
        CheckFormat::Markdown => crate::report::markdown::write(context, stdout),
        CheckFormat::Conftest => crate::report::conftest::write(context, stdout),
        CheckFormat::Github => {
            crate::report::github::write(context, stdout)?;
            if let Some(path) = &terminal.github_step_summary {
                let mut summary = Vec::new();
                crate::report::markdown::write(context, &mut summary)?;
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                file.write_all(&summary)?;
            }
            Ok(())
        }
    }
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

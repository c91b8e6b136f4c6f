//! The command line: every flag, with its help, defined once.
//!
//! [`Cli`] is parsed by the binary; [`run`] does the work and returns the exit code. Output goes
//! to the writers it is given, so tests drive the whole CLI in-process, and nothing here calls
//! `std::process::exit`. One file per subcommand under `src/cli/`; the flags several share
//! (the gate, the report) in `flags.rs`, and what `check` and `audit` both do in `inputs.rs`.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::Error;

mod audit;
mod check;
mod completions;
mod flags;
mod init;
/// What `check` and `audit` share: one input or many, judged, reported, patched.
mod inputs;
/// Reading several inputs at once.
mod parallel;
mod policies;
/// The progress bar of long runs.
mod progress;
mod serve;

pub use audit::AuditArgs;
pub use check::CheckArgs;
pub use completions::CompletionsArgs;
pub use flags::{CheckFormat, ColorChoice, GateArgs, PolicyArgs, RunArgs};
pub use init::InitArgs;
pub use policies::{Format, PoliciesArgs};
pub use serve::{HealthcheckArgs, LogFormat, ServeArgs};

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
    #[command(long_about = serve::SERVE_ABOUT)]
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
        Command::Check(args) => check::run(&args, streams, terminal),
        Command::Audit(args) => audit::run(&args, streams, terminal),
        Command::Policies(args) => policies::run(&args, streams.stdout),
        Command::Init(args) => init::run(&args, streams.stdout),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run_serve(&args),
        #[cfg(feature = "serve")]
        Command::Healthcheck(args) => serve::run_healthcheck(&args, streams.stdout),
        #[cfg(not(feature = "serve"))]
        Command::Serve(_) => Err(Error::Usage(format!(
            "this portgate was built without the run task service; build it with the `serve` feature: cargo install --locked --git {} portgate --features serve",
            env!("CARGO_PKG_REPOSITORY")
        ))),
        Command::Completions(args) => completions::run(&args, streams.stdout),
        Command::Man => completions::run_man(streams.stdout),
    }
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
}

//! `portgate check PLAN...`: the gate over plans (see `inputs` for what it shares with
//! `audit`).

use std::path::PathBuf;

use clap::Args;

use super::flags::RunArgs;
use super::inputs::{self, Inputs};
use super::{Streams, Terminal};
use crate::Error;
use crate::plan::InputKind;

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

pub(super) fn run(args: &CheckArgs, streams: Streams<'_>, terminal: Terminal) -> Result<u8, Error> {
    inputs::run(
        &Inputs {
            kind: InputKind::Plan,
            paths: &args.plans,
            name: args.plan_name.as_deref(),
            require_fresh_plan: args.require_fresh_plan,
        },
        &args.run,
        streams,
        terminal,
    )
}

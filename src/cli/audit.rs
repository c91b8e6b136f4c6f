//! `portgate audit STATE...`: the same judgement over Terraform state, what is open now (see
//! `inputs` for what it shares with `check`).

use std::path::PathBuf;

use clap::Args;

use super::flags::RunArgs;
use super::inputs::{self, Inputs};
use super::{Streams, Terminal};
use crate::Error;
use crate::plan::InputKind;

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

pub(super) fn run(args: &AuditArgs, streams: Streams<'_>, terminal: Terminal) -> Result<u8, Error> {
    inputs::run(
        &Inputs {
            kind: InputKind::State,
            paths: &args.states,
            name: args.state_name.as_deref(),
            require_fresh_plan: false,
        },
        &args.run,
        streams,
        terminal,
    )
}

//! `portgate completions SHELL` and `portgate man`: generated from the flags themselves.

use std::io::Write;

use clap::Args;

use super::{Cli, EXIT_PASS};
use crate::Error;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the completion script of `args.shell`.
pub(super) fn run(args: &CompletionsArgs, stdout: &mut dyn Write) -> Result<u8, Error> {
    let mut command = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(args.shell, &mut command, "portgate", stdout);
    Ok(EXIT_PASS)
}

/// Prints the man page (roff).
pub(super) fn run_man(stdout: &mut dyn Write) -> Result<u8, Error> {
    let command = <Cli as clap::CommandFactory>::command();
    clap_mangen::Man::new(command)
        .render(stdout)
        .map_err(|e| Error::Io {
            path: "<stdout>".to_string(),
            message: e.to_string(),
        })?;
    Ok(EXIT_PASS)
}

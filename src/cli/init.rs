//! `portgate init`: writes a commented `portgate.toml`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{EXIT_PASS, ignore_broken_pipe};
use crate::Error;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Replace an existing portgate.toml.
    #[arg(long)]
    pub force: bool,
}

pub(super) fn run(args: &InitArgs, stdout: &mut dyn Write) -> Result<u8, Error> {
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

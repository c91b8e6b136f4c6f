//! `portgate policies`: lists the loaded policies and the engine's diagnostics.

use std::io::{self, Write};

use clap::{Args, ValueEnum};

use super::flags::{PolicyArgs, load_config, load_policies};
use super::{EXIT_PASS, ignore_broken_pipe};
use crate::Error;

/// Formats of `portgate policies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable: one block per policy (id, severity, title, guarded ports, origin).
    Text,
    /// Machine-readable: every policy with its metadata and ports (documented in README.md).
    Json,
}

#[derive(Debug, Args)]
pub struct PoliciesArgs {
    #[command(flatten)]
    pub policies: PolicyArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub(super) fn run(args: &PoliciesArgs, stdout: &mut dyn Write) -> Result<u8, Error> {
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

//! The `portgate` binary: parse arguments, run, map errors to exit code 2. Nothing else.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use portgate::cli::{self, Cli, Terminal};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and --version exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { cli::EXIT_ERROR } else { 0 });
        }
    };
    let terminal = Terminal::detect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let streams = cli::Streams {
        stdin: &mut std::io::stdin().lock(),
        stdout: &mut out,
        stderr: &mut std::io::stderr(),
    };
    let result = cli::run(cli, streams, terminal);
    let _ = out.flush();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("portgate: error: {e}");
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}

//! Running the `portgate` binary from a test: in the repository root (so paths in reports stay
//! relative) or in a directory of the test's own, with the environment cleaned of what would
//! change the output (`NO_COLOR`, `GITHUB_STEP_SUMMARY`) and what the test adds.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `portgate ARGS` in the repository root.
pub fn portgate(args: &[&str]) -> Output {
    portgate_in(root(), args)
}

/// `portgate ARGS` in `dir`.
pub fn portgate_in(dir: &Path, args: &[&str]) -> Output {
    portgate_env::<&str>(dir, args, &[])
}

/// `portgate ARGS` in `dir`, with `env` added to the cleaned environment.
pub fn portgate_env<V: AsRef<OsStr>>(dir: &Path, args: &[&str], env: &[(&str, V)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portgate"));
    command
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("GITHUB_STEP_SUMMARY")
        .args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("portgate runs")
}

/// Output that must be UTF-8 (portgate only ever prints UTF-8).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("portgate prints UTF-8")
}

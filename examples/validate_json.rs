//! The performance floor of reading a plan: `validate_json FILE`.
//!
//! Reads the whole file (`std::fs::read`) and runs one serde_json pass over it with
//! `serde::de::IgnoredAny`: every byte is tokenized and checked as JSON, and nothing is kept
//! (no allocation per value, no tree, no strings copied). A plan reader has to do at least
//! this much work on every byte of its input, so `portgate check` cannot beat this time by
//! much; compare the two on a plan from `scripts/gen-plan` to see what portgate's own work
//! costs on top of the parse.
//!
//! Exits 0 when the file is valid JSON; otherwise prints the error and exits 1 (2 on a usage
//! or read error).

use serde::de::IgnoredAny;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: validate_json FILE");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("validate_json: cannot read {path}: {e}");
            std::process::exit(2);
        }
    };
    match serde_json::from_slice::<IgnoredAny>(&bytes) {
        Ok(IgnoredAny) => {}
        Err(e) => {
            eprintln!("validate_json: {path}: {e}");
            std::process::exit(1);
        }
    }
}

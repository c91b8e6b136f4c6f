//! The performance floor of reading a plan: `validate_json [--memchr] FILE`.
//!
//! Reads the whole file (`std::fs::read`) and runs one serde_json pass over it with
//! `serde::de::IgnoredAny`: every byte is tokenized and checked as JSON, and nothing is kept
//! (no allocation per value, no tree, no strings copied). A plan reader has to do at least
//! this much work on every byte of its input, so `portgate check` cannot beat this time by
//! much; compare the two on a plan from `scripts/gen-plan` to see what portgate's own work
//! costs on top of the parse.
//!
//! `--memchr` measures the machine instead: the file is read in 1 MiB pieces (as portgate
//! streams it) and every `"` counted with `memchr`, the least any reader that looks at each
//! byte can do. It prints the count.
//!
//! Exits 0 when the file is valid JSON; otherwise prints the error and exits 1 (2 on a usage
//! or read error).

use std::io::Read;

use serde::de::IgnoredAny;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (memchr_only, path) = match args.as_slice() {
        [path] => (false, path.clone()),
        [flag, path] if flag == "--memchr" => (true, path.clone()),
        _ => {
            eprintln!("usage: validate_json [--memchr] FILE");
            std::process::exit(2);
        }
    };
    let fail = |e: std::io::Error| -> ! {
        eprintln!("validate_json: cannot read {path}: {e}");
        std::process::exit(2);
    };
    if memchr_only {
        let mut file = std::fs::File::open(&path).unwrap_or_else(|e| fail(e));
        let mut buffer = vec![0u8; 1 << 20];
        let mut quotes = 0usize;
        loop {
            let n = file.read(&mut buffer).unwrap_or_else(|e| fail(e));
            if n == 0 {
                break;
            }
            quotes += memchr::memchr_iter(b'"', &buffer[..n]).count();
        }
        println!("{quotes}");
        return;
    }
    let bytes = std::fs::read(&path).unwrap_or_else(|e| fail(e));
    match serde_json::from_slice::<IgnoredAny>(&bytes) {
        Ok(IgnoredAny) => {}
        Err(e) => {
            eprintln!("validate_json: {path}: {e}");
            std::process::exit(1);
        }
    }
}

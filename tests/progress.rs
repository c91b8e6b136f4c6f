//! The progress bar: drawn on stderr when it is a terminal and the run goes on for about a
//! second, cleared before the end, never on stdout. The run is held open on a named pipe, so
//! the test waits for the bar to appear (a condition), never for a time; `script` gives
//! portgate a terminal. (When stderr is not a terminal, or CI is set, no bar is even started:
//! `cli::tests::progress_is_for_terminals_outside_ci`.)

#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Far more than any wait here should take; only a stuck run reaches it.
const WAIT: Duration = Duration::from_secs(120);

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[test]
fn a_long_run_shows_progress_on_a_terminal_and_keeps_stdout_clean() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("notice: `script` (util-linux) not found; the progress bar is not tested");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("plan.json");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    let plan =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/plans/example.json"))
            .unwrap();
    let report = dir.path().join("report.txt");
    // portgate's stderr is the terminal `script` makes; its stdout goes to a file.
    let command = format!(
        "{} check {} --no-source --color never > {}",
        shell_quote(env!("CARGO_BIN_EXE_portgate")),
        shell_quote(&fifo.display().to_string()),
        shell_quote(&report.display().to_string()),
    );
    let mut script = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env_remove("CI")
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let terminal = Arc::new(Mutex::new(Vec::new()));
    let mut out = script.stdout.take().unwrap();
    let seen = Arc::clone(&terminal);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    // Half the plan, then hold the pipe open until the bar is on the terminal.
    let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let half = plan.len() / 2;
    pipe.write_all(&plan[..half]).unwrap();
    pipe.flush().unwrap();
    let start = Instant::now();
    loop {
        let text = String::from_utf8_lossy(&terminal.lock().unwrap()).into_owned();
        if text.contains("0/1 inputs") {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "no progress bar on the terminal: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    pipe.write_all(&plan[half..]).unwrap();
    drop(pipe);
    let status = script.wait().unwrap();
    reader.join().unwrap();
    assert_eq!(status.code(), Some(1), "the example plan fails the gate");
    // stdout is the report, byte for byte what a run without a terminal writes.
    let written = std::fs::read_to_string(&report).unwrap();
    let plain = Command::new(env!("CARGO_BIN_EXE_portgate"))
        .args([
            "check",
            "--no-source",
            "--color",
            "never",
            "-",
            "--plan-name",
        ])
        .arg(fifo.display().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(&plan)?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(written, String::from_utf8(plain.stdout).unwrap());
    assert!(!written.contains("inputs"), "{written}");
}

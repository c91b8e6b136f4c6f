//! Several large inputs in one run stay within the streaming memory bound: inputs are read
//! at most one per core at a time, each in the reader's bounded memory, and what is kept of
//! each (its report) is small when it has few findings. Measured as the real binary's peak
//! resident set (the kernel's count, `wait4`), never timed.

#[path = "../examples/gen_plan/main.rs"]
#[allow(dead_code)]
mod gen_plan;

use std::process::{Command, Stdio};

/// Runs `portgate ARGS` to its end; its exit code and peak RSS in MiB.
#[cfg(target_os = "linux")]
#[allow(
    clippy::zombie_processes,
    reason = "reaped by wait4, which also gives its rusage"
)]
fn run_measured(args: &[String]) -> (i32, f64) {
    let child = Command::new(env!("CARGO_BIN_EXE_portgate"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value, and wait4 only writes into the two locals.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    assert!(libc::WIFEXITED(status), "portgate ended by a signal");
    // ru_maxrss is in KiB on Linux.
    (libc::WEXITSTATUS(status), usage.ru_maxrss as f64 / 1024.0)
}

/// The streaming bound of one input (docs/performance.md: 32 MiB for plans of 100,000
/// resources, in a release build), with room for a debug build's larger code and buffers.
const BOUND_MIB: f64 = 48.0;

#[cfg(target_os = "linux")]
#[test]
fn eight_large_inputs_stay_within_the_streaming_bound() {
    let dir = tempfile::tempdir().unwrap();
    let options = gen_plan::Options {
        resources: 20_000,
        ..gen_plan::Options::default()
    };
    let first = dir.path().join("plan0.json");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&first).unwrap());
    gen_plan::generate(&options, &mut file).unwrap();
    drop(file);
    let size = std::fs::metadata(&first).unwrap().len() as f64 / (1 << 20) as f64;
    // Eight inputs, each its own file (links: the same bytes, read eight times).
    let mut inputs = vec![first.display().to_string()];
    for i in 1..8 {
        let path = dir.path().join(format!("plan{i}.json"));
        std::fs::hard_link(&first, &path).unwrap();
        inputs.push(path.display().to_string());
    }
    let args = |inputs: &[String]| -> Vec<String> {
        let mut args = vec!["check".to_string()];
        args.extend(inputs.iter().cloned());
        args.extend(["--no-source", "--format", "json"].map(String::from));
        args
    };
    let (one, eight) = (args(&inputs[..1]), args(&inputs));
    let (code, one_mib) = run_measured(&one);
    assert_eq!(code, 1, "the generated plan has findings");
    let (code, eight_mib) = run_measured(&eight);
    assert_eq!(code, 1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let at_once = cores.min(8) as f64;
    println!(
        "{size:.0} MiB plan: one input {one_mib:.1} MiB, eight inputs {eight_mib:.1} MiB ({cores} cores)"
    );
    assert!(one_mib <= BOUND_MIB, "one input: {one_mib:.1} MiB");
    // Eight inputs, read at most `at_once` at a time: never eight plans' worth, and at most
    // one streaming bound per input being read.
    assert!(
        eight_mib <= at_once * BOUND_MIB,
        "eight inputs: {eight_mib:.1} MiB ({at_once} at once)"
    );
    assert!(
        eight_mib < 8.0 * size,
        "eight inputs: {eight_mib:.1} MiB, as much as the files ({size:.0} MiB each)"
    );
}

#[cfg(not(target_os = "linux"))]
#[test]
fn eight_large_inputs_stay_within_the_streaming_bound() {
    eprintln!("notice: peak RSS is measured on Linux only");
}

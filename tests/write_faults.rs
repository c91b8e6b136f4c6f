//! `check --write` under faults: the binary is killed in the middle of its writes, or its
//! writes fail, and every `.tf` file must still be either its old or its new content.
//!
//! The scene is a generated plan with its root module written as Terraform
//! (`examples/gen_plan/`): many files, several of which get patched. Faults are injected
//! into the real binary through the file size limit (`RLIMIT_FSIZE`), which stops a write at
//! an exact byte: with `SIGXFSZ` at its default action the kernel kills the process right
//! there (a kill at a chosen point of the write), with `SIGXFSZ` ignored the write fails with
//! `EFBIG` (a full disk, as far as portgate can tell). Sweeping the limit over the patched
//! files' sizes puts the kill inside each file's write in turn. A second test kills with
//! `SIGKILL` after a sweep of delays over the whole run, for the moments the limit cannot
//! reach (between writes, between renames).
#![cfg(unix)]

#[path = "../examples/gen_plan/main.rs"]
#[allow(dead_code)]
mod gen_plan;

use std::collections::BTreeMap;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gen_plan::Options;

/// A source tree and plan, with the contents before and after a clean `--write`.
struct Scene {
    _tmp: tempfile::TempDir,
    plan: PathBuf,
    original: BTreeMap<String, Vec<u8>>,
    patched: BTreeMap<String, Vec<u8>>,
    /// The files `--write` replaces with their new sizes, in the order it writes them.
    written: Vec<(String, u64)>,
    /// How long a clean run takes.
    clean_run: Duration,
}

/// Every regular file under `root`, by relative path.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn plant(root: &Path, files: &BTreeMap<String, Vec<u8>>) {
    if root.exists() {
        std::fs::remove_dir_all(root).unwrap();
    }
    for (rel, content) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

/// `portgate check PLAN --source DIR --trusted-cidr ... --write`, not yet started.
fn write_command(plan: &Path, dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portgate"));
    command
        .args(["check", "--format", "json", "--write"])
        .arg(plan)
        .arg("--source")
        .arg(dir)
        .args([
            "--trusted-cidr",
            "10.0.0.0/8",
            "--trusted-cidr",
            "2001:db8::/32",
        ])
        .current_dir(plan.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn scene() -> Scene {
    let tmp = tempfile::tempdir().unwrap();
    let opts = Options {
        resources: 800,
        security_groups: Some(300),
        seed: 7,
        format_version: "1.2".to_string(),
        ..Options::default()
    };
    let plan = tmp.path().join("plan.json");
    gen_plan::generate(&opts, &mut std::fs::File::create(&plan).unwrap()).unwrap();
    let dir = tmp.path().join("src");
    gen_plan::write_sources(&opts, &dir).unwrap();
    // Pad every file so that each write takes many blocks: the kills below land inside them.
    for (rel, content) in tree(&dir) {
        let mut padded = content;
        for i in 0..2000 {
            padded.extend_from_slice(format!("# padding line {i} of {rel}\n").as_bytes());
        }
        std::fs::write(dir.join(&rel), padded).unwrap();
    }
    let original = tree(&dir);

    let started = Instant::now();
    let out = write_command(&plan, &dir).output().unwrap();
    let clean_run = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the findings stay: {stderr}");
    let patched = tree(&dir);
    let changed: Vec<&String> = original
        .keys()
        .filter(|rel| original[*rel] != patched[*rel])
        .collect();
    assert!(changed.len() >= 3, "several files are patched: {changed:?}");
    let written: Vec<(String, u64)> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("portgate: wrote "))
        .map(|rel| (rel.to_string(), patched[rel].len() as u64))
        .collect();
    let mut named: Vec<&String> = written.iter().map(|(rel, _)| rel).collect();
    named.sort();
    assert_eq!(named, changed, "{stderr}");
    assert_eq!(original.len(), patched.len(), "no file appears or vanishes");
    plant(&dir, &original);
    Scene {
        _tmp: tmp,
        plan,
        original,
        patched,
        written,
        clean_run,
    }
}

/// What a run left in the source directory.
#[derive(Debug, Default, PartialEq, Eq)]
struct Left {
    /// Files `--write` patches, holding their new content.
    new: usize,
    /// Files `--write` patches, still holding their old content.
    old: usize,
    temporary: usize,
}

/// Checks that every file is whole (old or new content) and counts what is what; panics on a
/// partial, unknown or missing file.
fn inspect(scene: &Scene, dir: &Path, what: &str) -> Left {
    let now = tree(dir);
    let mut left = Left::default();
    for (rel, content) in &now {
        let name = Path::new(rel).file_name().unwrap().to_string_lossy();
        if name.starts_with(".portgate-") && name.ends_with(".tmp") {
            left.temporary += 1;
            continue;
        }
        let Some(old) = scene.original.get(rel) else {
            panic!("{what}: unexpected file {rel}");
        };
        let patched = scene.written.iter().any(|(name, _)| name == rel);
        if content == old {
            left.old += usize::from(patched);
        } else if *content == scene.patched[rel] {
            left.new += 1;
        } else {
            panic!(
                "{what}: {rel} is neither the old nor the new content ({} bytes; old {}, new {})",
                content.len(),
                old.len(),
                scene.patched[rel].len()
            );
        }
    }
    for rel in scene.original.keys() {
        assert!(now.contains_key(rel), "{what}: {rel} is gone");
    }
    left
}

/// Runs `--write` with a file size limit of `limit` bytes; `ignore_sigxfsz` makes the write
/// fail with EFBIG instead of killing the process.
fn run_with_size_limit(scene: &Scene, dir: &Path, limit: u64, ignore_sigxfsz: bool) -> Output {
    let mut command = write_command(&scene.plan, dir);
    // SAFETY: only async-signal-safe calls (setrlimit, signal) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let rlimit = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let action = if ignore_sigxfsz {
                libc::SIG_IGN
            } else {
                libc::SIG_DFL
            };
            libc::signal(libc::SIGXFSZ, action);
            Ok(())
        });
    }
    command.output().unwrap()
}

/// Limits that stop the write inside each patched file, at its first byte, in its middle,
/// one byte short of its end, and limits every file fits under.
fn limits(scene: &Scene) -> Vec<u64> {
    let mut limits = vec![0, 1];
    for &(_, size) in &scene.written {
        limits.extend([size / 2, size - 1, size]);
    }
    limits.push(largest(scene) + 1);
    limits.sort_unstable();
    limits.dedup();
    limits
}

fn largest(scene: &Scene) -> u64 {
    scene.written.iter().map(|(_, size)| *size).max().unwrap()
}

#[test]
fn killed_in_the_middle_of_any_write_no_file_changes() {
    let scene = scene();
    let dir = scene._tmp.path().join("run");
    let mut killed = 0;
    for limit in limits(&scene) {
        plant(&dir, &scene.original);
        let out = run_with_size_limit(&scene, &dir, limit, false);
        let what = format!("killed at file size {limit}");
        let left = inspect(&scene, &dir, &what);
        // Files are prepared in write order; the first one over the limit is cut short.
        match scene.written.iter().position(|(_, size)| *size > limit) {
            Some(cut) => {
                assert_eq!(
                    out.status.signal(),
                    Some(libc::SIGXFSZ),
                    "{what}: {:?} {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
                killed += 1;
                // No original was replaced yet; the files prepared before the cut and the
                // one being written are left as temporary files (a killed process cannot
                // remove them).
                assert_eq!(left.new, 0, "{what}: {left:?}");
                assert_eq!(left.temporary, cut + 1, "{what}: {left:?}");
            }
            None => {
                assert_eq!(out.status.code(), Some(1), "{what}: {out:?}");
                assert_eq!(left.new, scene.written.len(), "{what}: {left:?}");
                assert_eq!(left.temporary, 0, "{what}: {left:?}");
            }
        }
    }
    assert!(killed > scene.written.len(), "{killed} kills");
}

#[test]
fn a_failing_write_changes_nothing_and_leaves_no_temporary_file() {
    let scene = scene();
    let dir = scene._tmp.path().join("run");
    for limit in limits(&scene).into_iter().filter(|&l| l < largest(&scene)) {
        plant(&dir, &scene.original);
        let out = run_with_size_limit(&scene, &dir, limit, true);
        let what = format!("writes failing at file size {limit}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: one line: {stderr}");
        assert!(
            lines[0].contains("cannot write") && lines[0].ends_with("nothing was written"),
            "{what}: {stderr}"
        );
        assert_eq!(
            inspect(&scene, &dir, &what),
            Left {
                new: 0,
                old: scene.written.len(),
                temporary: 0
            },
            "{what}"
        );
    }
}

/// Starts `--write`, kills it with SIGKILL after `delay`, and says what it left.
fn kill_after(scene: &Scene, dir: &Path, delay: Duration) -> &'static str {
    plant(dir, &scene.original);
    let mut child = write_command(&scene.plan, dir).spawn().unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    let status = child.wait().unwrap();
    let left = inspect(scene, dir, &format!("SIGKILL after {delay:?}"));
    match (status.code(), left.new, left.old) {
        (Some(1), _, 0) if left.temporary == 0 => "finished",
        (_, 0, _) if left.temporary == 0 => "killed before writing",
        (_, 0, _) => "killed while preparing",
        (_, _, 0) => "killed after the renames",
        _ => "killed between renames",
    }
}

/// Every kill is checked wherever it lands (`inspect` panics on a partial, missing or unknown
/// file); where the kills land depends on how fast the machine is at that moment, so nothing
/// is asserted about that. The sweep adapts instead: it first spans the whole run, growing
/// until a run finished before its kill (a busy machine makes runs slower than the clean run
/// measured), then sweeps twice over the span between the last kill that found nothing
/// written and the first run that finished: where the writes happen.
#[test]
fn sigkill_at_any_moment_leaves_every_file_old_or_new() {
    /// Only a stuck `--write` takes this long (a run takes well under a second alone).
    const LONGEST_RUN: Duration = Duration::from_secs(300);
    let scene = scene();
    let dir = scene._tmp.path().join("run");
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut from, mut to) = (Duration::ZERO, scene.clean_run.mul_f64(1.5));
    let mut refinements = 0;
    while refinements < 2 {
        let steps = 20u32;
        let (mut last_before, mut first_after) = (from, None::<Duration>);
        for step in 0..=steps {
            let delay = from + (to - from) * step / steps;
            let outcome = kill_after(&scene, &dir, delay);
            *outcomes.entry(outcome).or_default() += 1;
            match outcome {
                "killed before writing" => last_before = last_before.max(delay),
                "finished" => first_after = Some(first_after.map_or(delay, |d| d.min(delay))),
                _ => {}
            }
        }
        match first_after {
            Some(first_after) => {
                (from, to) = (last_before, first_after.max(last_before));
                refinements += 1;
            }
            // No run finished before its kill: the span did not reach the end of a run.
            None if refinements == 0 => {
                to *= 2;
                assert!(
                    to <= LONGEST_RUN,
                    "--write never finished before a kill ({outcomes:?})"
                );
            }
            None => refinements += 1,
        }
    }
    eprintln!(
        "{} files written per run; kills: {outcomes:?}",
        scene.written.len()
    );
}

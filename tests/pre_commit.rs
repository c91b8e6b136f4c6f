//! The hooks of `.pre-commit-hooks.yaml`, run by pre-commit itself (`pre-commit try-repo`) in a
//! throwaway git repository (issue 19): `portgate-system` with the binary on PATH, and
//! `portgate`, which pre-commit builds from this repository with `cargo install --path`
//! (no features: the checker alone). `.ci/run` installs pre-commit with pip; where it is not
//! installed, the tests say so and pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `pre-commit`, when installed (`PORTGATE_PRE_COMMIT` names it, else PATH has it).
fn pre_commit() -> Option<PathBuf> {
    let program = std::env::var_os("PORTGATE_PRE_COMMIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("pre-commit"));
    match Command::new(&program).arg("--version").output() {
        Ok(output) if output.status.success() => Some(program),
        _ => {
            eprintln!(
                "notice: pre-commit is not installed (pip install pre-commit; .ci/run does): the hooks were not run"
            );
            None
        }
    }
}

fn git(repo: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
}

/// A git repository with `plan` as `tfplan.json` and `main.tf`, committed; `stale` makes the
/// plan older than the sources by ten minutes.
fn repository(plan: &str, main_tf: &str, stale: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    std::fs::copy(root().join(plan), repo.join("tfplan.json")).unwrap();
    std::fs::copy(root().join(main_tf), repo.join("main.tf")).unwrap();
    let now = SystemTime::now();
    let (plan_time, tf_time) = if stale {
        (now - Duration::from_secs(600), now)
    } else {
        (now, now - Duration::from_secs(600))
    };
    let set = |name: &str, time: SystemTime| {
        std::fs::File::options()
            .write(true)
            .open(repo.join(name))
            .unwrap()
            .set_modified(time)
            .unwrap();
    };
    set("tfplan.json", plan_time);
    set("main.tf", tf_time);
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "plan"]);
    dir
}

/// `pre-commit try-repo <this repository> HOOK --all-files` in `repo`, with `path_first` at the
/// front of PATH.
fn try_hook(pre_commit: &Path, repo: &Path, hook: &str, path_first: &Path) -> Output {
    let path = format!(
        "{}:{}",
        path_first.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(pre_commit)
        .args(["try-repo"])
        .arg(root())
        .args([hook, "--all-files", "--verbose"])
        .current_dir(repo)
        .env("PATH", path)
        // pre-commit's own cache, per test run (it holds the hook's build).
        .env("PRE_COMMIT_HOME", repo.join(".pre-commit-home"))
        // The rust hook's build shares a target directory with `.ci/run`'s timed
        // `cargo install --path .`, so CI builds the checker once.
        .env("CARGO_TARGET_DIR", root().join("target/pre-commit"))
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `hook` fails a commit whose plan opens SMB to the world (exit 1, the finding shown) and
/// passes one whose plan the sources prove safe.
fn blocks_findings_and_passes_a_clean_plan(pre_commit: &Path, hook: &str, path_first: &Path) {
    let open = repository(
        "testdata/plans/resolved_world_cidr.json",
        "testdata/plans/resolved_world_cidr/main.tf",
        false,
    );
    let output = try_hook(pre_commit, open.path(), hook, path_first);
    assert_eq!(output.status.code(), Some(1), "{hook}: {}", text(&output));
    assert!(text(&output).contains("PG00"), "{hook}: {}", text(&output));
    let clean = repository(
        "testdata/plans/resolved_vpc_cidr.json",
        "testdata/plans/resolved_vpc_cidr/main.tf",
        false,
    );
    let output = try_hook(pre_commit, clean.path(), hook, path_first);
    assert_eq!(output.status.code(), Some(0), "{hook}: {}", text(&output));
}

#[test]
fn the_system_hook_blocks_findings_passes_clean_plans_and_refuses_stale_ones() {
    let Some(pre_commit) = pre_commit() else {
        return;
    };
    // The binary under test, as `portgate` on PATH.
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_portgate"), bin.path().join("portgate"))
        .unwrap();

    blocks_findings_and_passes_a_clean_plan(&pre_commit, "portgate-system", bin.path());

    // --require-fresh-plan: the .tf file changed after the plan was made.
    let stale = repository(
        "testdata/plans/resolved_vpc_cidr.json",
        "testdata/plans/resolved_vpc_cidr/main.tf",
        true,
    );
    let output = try_hook(&pre_commit, stale.path(), "portgate-system", bin.path());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("--require-fresh-plan"),
        "{}",
        text(&output)
    );
}

#[test]
fn the_rust_hook_builds_portgate_with_cargo_and_runs_it() {
    let Some(pre_commit) = pre_commit() else {
        return;
    };
    // Nothing called portgate on PATH: the hook must use the one pre-commit built.
    let empty = tempfile::tempdir().unwrap();
    blocks_findings_and_passes_a_clean_plan(&pre_commit, "portgate", empty.path());
}

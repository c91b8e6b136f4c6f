//! The integrations of docs/integrations.md, each run the way its host runs it: the pre-commit
//! hook's entry, the Atlantis workflow script, the Atlantis policy check command, the local
//! plan-and-check wrapper and the GitHub Actions example.
//!
//! The scripts run with `bash SCRIPT` against a fake `terraform` (a bash script first on PATH)
//! that writes a dummy plan for `plan -out=FILE`, prints a plan JSON from testdata for
//! `show -json FILE` and logs every call; `$PORTGATE` points them at the binary under test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn portgate_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("portgate")
}

fn plan(name: &str) -> PathBuf {
    root().join("testdata/plans").join(name)
}

/// A plan with blocking findings.
const FAILING: &str = "example.json";
/// A plan without findings.
const PASSING: &str = "resolved_vpc_cidr.json";
/// A plan whose only finding is a warning (PG003).
const WARNING: &str = "unknown_cidr.json";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// A temporary directory with a fake `terraform` in `bin/`.
struct Sandbox {
    dir: tempfile::TempDir,
}

const FAKE_TERRAFORM: &str = r#"#!/usr/bin/env bash
# Fake terraform for portgate's integration tests.
set -euo pipefail
echo "$*" >> "$FAKE_TF_LOG"
case "${1:-}" in
  plan)
    [[ -n "${FAKE_TF_PLAN_FAILS:-}" ]] && { echo "Error: fake plan failure" >&2; exit 1; }
    for arg in "$@"; do
      case "$arg" in -out=*) echo "dummy binary plan" > "${arg#-out=}" ;; esac
    done
    echo "Plan: 1 to add, 0 to change, 0 to destroy."
    ;;
  show)
    [[ "${2:-}" == "-json" ]] || { echo "fake terraform: show needs -json" >&2; exit 64; }
    [[ -f "${3:-}" ]] || { echo "fake terraform: no plan file ${3:-}" >&2; exit 1; }
    cat "$FAKE_TF_PLAN_JSON"
    ;;
  *)
    echo "fake terraform: unexpected command $*" >&2; exit 64
    ;;
esac
"#;

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let terraform = bin.join("terraform");
        std::fs::write(&terraform, FAKE_TERRAFORM).unwrap();
        make_executable(&terraform);
        std::fs::create_dir(dir.path().join("work")).unwrap();
        Sandbox { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The working directory of the scripts (no .tf files).
    fn work(&self) -> PathBuf {
        self.path().join("work")
    }

    fn log(&self) -> PathBuf {
        self.path().join("terraform.log")
    }

    /// The calls the fake terraform got, one per line.
    fn terraform_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// `bash SCRIPT ARGS` in the work directory; `show -json` prints `plan_json`.
    fn command(&self, script: &str, plan_json: &Path) -> Command {
        let path = format!(
            "{}:{}",
            self.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("bash");
        cmd.arg(root().join("scripts").join(script))
            .current_dir(self.work())
            .env("PATH", path)
            .env("PORTGATE", portgate_bin())
            .env("FAKE_TF_LOG", self.log())
            .env("FAKE_TF_PLAN_JSON", plan_json)
            .env("TMPDIR", self.path())
            .env_remove("SHOWFILE")
            .env_remove("PLANFILE")
            .env_remove("PORTGATE_ARGS")
            .env_remove("PORTGATE_FORMAT")
            .env_remove("TERRAFORM")
            .env_remove("ATLANTIS_TERRAFORM_VERSION")
            .env_remove("GITHUB_STEP_SUMMARY");
        cmd
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    perms.set_mode(0o755);
    std::fs::set_permissions(path, perms).unwrap();
}

#[cfg(not(unix))]
fn make_executable(_: &Path) {}

#[cfg(unix)]
#[test]
fn scripts_are_executable_bash_with_strict_mode() {
    use std::os::unix::fs::PermissionsExt;
    for script in ["atlantis-portgate.sh", "plan-and-check.sh"] {
        let path = root().join("scripts").join(script);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{script} is not executable");
        let body = std::fs::read_to_string(&path).unwrap();
        assert!(body.starts_with("#!/usr/bin/env bash\n"), "{script}");
        assert!(body.contains("\nset -euo pipefail\n"), "{script}");
    }
}

// ---------------------------------------------------------------------------------------------
// pre-commit.

/// One hook of .pre-commit-hooks.yaml, read with line checks (the file is flat and ours).
#[derive(Debug, Default)]
struct Hook {
    id: String,
    entry: String,
    language: String,
    pass_filenames: Option<bool>,
    args: Vec<String>,
}

fn hooks() -> Vec<Hook> {
    let yaml = std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).unwrap();
    let mut hooks: Vec<Hook> = Vec::new();
    for line in yaml.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(id) = line.strip_prefix("- id: ") {
            hooks.push(Hook {
                id: id.trim().to_string(),
                ..Hook::default()
            });
            continue;
        }
        let hook = hooks.last_mut().expect("a key before the first `- id:`");
        let (key, value) = line
            .trim()
            .split_once(": ")
            .unwrap_or_else(|| panic!("not `key: value`: {line:?}"));
        assert!(
            line.starts_with("  ") && !line.starts_with("   "),
            "{line:?}"
        );
        match key {
            "entry" => hook.entry = value.to_string(),
            "language" => hook.language = value.to_string(),
            "pass_filenames" => hook.pass_filenames = Some(value == "true"),
            "args" => {
                let inner = value
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                    .expect("args as a flow list");
                hook.args = inner.split(',').map(|a| a.trim().to_string()).collect();
            }
            "name" | "description" | "files" => {}
            other => panic!("unexpected key {other}"),
        }
    }
    hooks
}

#[test]
fn pre_commit_hooks_run_portgate_check_on_one_plan() {
    let hooks = hooks();
    let ids: Vec<&str> = hooks.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["portgate", "portgate-system"]);
    assert_eq!(hooks[0].language, "rust");
    assert_eq!(hooks[1].language, "system");
    for hook in &hooks {
        assert_eq!(
            hook.entry, "portgate check --require-fresh-plan",
            "{hook:?}"
        );
        assert_eq!(hook.pass_filenames, Some(false), "{hook:?}");
        assert_eq!(hook.args, ["tfplan.json"], "{hook:?}");
    }
}

/// Runs a hook as pre-commit does: `entry` split on spaces, then `args` (no file names), in
/// the repository root.
fn run_hook(hook: &Hook, repo: &Path, args: Option<&[&str]>) -> Output {
    let mut words = hook.entry.split(' ');
    assert_eq!(words.next(), Some("portgate"));
    let mut cmd = Command::new(portgate_bin());
    cmd.args(words)
        .current_dir(repo)
        .env_remove("GITHUB_STEP_SUMMARY");
    match args {
        Some(args) => cmd.args(args),
        None => cmd.args(&hook.args),
    };
    cmd.output().unwrap()
}

#[test]
fn pre_commit_hook_blocks_a_plan_with_findings_and_passes_a_clean_one() {
    let hook = &hooks()[0];
    let repo = tempfile::tempdir().unwrap();
    let tfplan = repo.path().join("tfplan.json");

    std::fs::copy(plan(FAILING), &tfplan).unwrap();
    let out = run_hook(hook, repo.path(), None);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(text(&out.stdout).contains("PG002 SMB open to the world"));

    std::fs::copy(plan(PASSING), &tfplan).unwrap();
    let out = run_hook(hook, repo.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // No plan made yet: an error, not a pass.
    std::fs::remove_file(&tfplan).unwrap();
    let out = run_hook(hook, repo.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("tfplan.json: no such file"));

    // `args` in .pre-commit-config.yaml replace the default, as documented.
    std::fs::create_dir(repo.path().join("infra")).unwrap();
    std::fs::copy(plan(FAILING), repo.path().join("infra/tfplan.json")).unwrap();
    let out = run_hook(
        hook,
        repo.path(),
        Some(&[
            "infra/tfplan.json",
            "--source",
            "infra",
            "--trusted-cidr",
            "10.0.0.0/8",
        ]),
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));

    // A source edited after the plan was made: the plan is refused until it is made again.
    let main_tf = repo.path().join("infra/main.tf");
    std::fs::write(&main_tf, "# edited after the plan\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&main_tf)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600))
        .unwrap();
    let out = run_hook(
        hook,
        repo.path(),
        Some(&["infra/tfplan.json", "--source", "infra"]),
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("the plan is older than infra/main.tf"),
        "{}",
        describe(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// Atlantis custom workflow: scripts/atlantis-portgate.sh.

/// A fresh binary plan file for PLANFILE.
fn planfile(sandbox: &Sandbox) -> PathBuf {
    let path = sandbox.work().join("default.tfplan");
    std::fs::write(&path, "dummy binary plan").unwrap();
    path
}

#[test]
fn atlantis_script_deletes_the_plan_on_findings() {
    let sandbox = Sandbox::new();
    let planfile = planfile(&sandbox);
    let out = sandbox
        .command("atlantis-portgate.sh", &plan(FAILING))
        .env("PLANFILE", &planfile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(!planfile.exists(), "the plan must be gone");
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("## portgate: ❌ FAILED · 2 blocking findings\n"),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("deleted the plan"));
    assert_eq!(
        sandbox.terraform_calls(),
        [format!("show -json {}", planfile.display())]
    );
    // The report names the plan as the project knows it, not by the temporary JSON's path.
    assert!(stdout.contains("`default.tfplan`"), "{stdout}");
    assert!(!stdout.contains("portgate-plan."), "{stdout}");
    // The temporary JSON is cleaned up.
    let left: Vec<_> = std::fs::read_dir(sandbox.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("portgate-plan."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn atlantis_script_without_planfile_cannot_check_anything() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .command("atlantis-portgate.sh", &plan(FAILING))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("PLANFILE is not set"));
}

#[test]
fn atlantis_script_keeps_the_plan_when_nothing_blocks() {
    for json in [PASSING, WARNING] {
        let sandbox = Sandbox::new();
        let planfile = planfile(&sandbox);
        let out = sandbox
            .command("atlantis-portgate.sh", &plan(json))
            .env("PLANFILE", &planfile)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{json}: {}", describe(&out));
        assert!(planfile.exists(), "{json}: the plan must stay");
        assert!(text(&out.stdout).starts_with("## portgate: "), "{json}");
    }
}

#[test]
fn atlantis_script_prefers_showfile_when_it_exists() {
    let sandbox = Sandbox::new();
    let planfile = planfile(&sandbox);
    // terraform would print a failing plan; SHOWFILE holds a passing one.
    let showfile = sandbox.work().join("default.json");
    std::fs::copy(plan(PASSING), &showfile).unwrap();
    let out = sandbox
        .command("atlantis-portgate.sh", &plan(FAILING))
        .env("PLANFILE", &planfile)
        .env("SHOWFILE", &showfile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(planfile.exists());
    assert!(sandbox.terraform_calls().is_empty(), "terraform was run");
    // Named relative to the project directory, where Atlantis runs the step.
    assert!(
        text(&out.stdout).contains("`default.json`"),
        "{}",
        describe(&out)
    );

    // SHOWFILE set but not written (no `show` step): terraform show is used.
    let missing = sandbox.work().join("not-written.json");
    let out = sandbox
        .command("atlantis-portgate.sh", &plan(FAILING))
        .env("PLANFILE", &planfile)
        .env("SHOWFILE", &missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(!planfile.exists());
    assert_eq!(sandbox.terraform_calls().len(), 1);
}

#[test]
fn atlantis_script_passes_arguments_and_format_to_portgate() {
    let sandbox = Sandbox::new();
    let planfile = planfile(&sandbox);
    let out = sandbox
        .command("atlantis-portgate.sh", &plan(FAILING))
        .arg("--trusted-cidr")
        .arg("10.0.0.0/8")
        .env("PLANFILE", &planfile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    // No .tf files in the work directory: the fixes are suggestions.
    assert!(text(&out.stdout).contains("**Suggested change** (trusted: `10.0.0.0/8`)"));

    let planfile = self::planfile(&sandbox);
    let out = sandbox
        .command("atlantis-portgate.sh", &plan(FAILING))
        .arg("--fail-on")
        .arg("critical")
        .env("PLANFILE", &planfile)
        .env("PORTGATE_FORMAT", "conftest")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(text(&out.stdout).starts_with("FAIL - "));
}

#[test]
fn atlantis_script_fails_closed_when_the_plan_cannot_be_checked() {
    // portgate cannot read the JSON: exit 2 passes through, and the plan is deleted.
    let sandbox = Sandbox::new();
    let planfile = planfile(&sandbox);
    let out = sandbox
        .command(
            "atlantis-portgate.sh",
            &root().join("testdata/bad/not_json.txt"),
        )
        .env("PLANFILE", &planfile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(!planfile.exists());
    assert!(text(&out.stderr).contains("portgate: error:"));

    // terraform show does not work (here: the plan file is missing).
    let gone = sandbox.work().join("never-planned.tfplan");
    let out = sandbox
        .command("atlantis-portgate.sh", &plan(FAILING))
        .env("PLANFILE", &gone)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("terraform show -json` did not work"));

    // Not run by Atlantis at all.
    let out = sandbox
        .command("atlantis-portgate.sh", &plan(FAILING))
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(text(&out.stderr).contains("PLANFILE is not set"));
}

#[test]
fn atlantis_script_uses_the_terraform_version_atlantis_installed() {
    let sandbox = Sandbox::new();
    let planfile = planfile(&sandbox);
    // Atlantis puts terraform1.9.5 on PATH for projects pinned to 1.9.5.
    let versioned = sandbox.path().join("bin/terraform1.9.5");
    std::fs::write(
        &versioned,
        FAKE_TERRAFORM.replace(
            "echo \"$*\" >> \"$FAKE_TF_LOG\"",
            "echo \"1.9.5 $*\" >> \"$FAKE_TF_LOG\"",
        ),
    )
    .unwrap();
    make_executable(&versioned);
    let out = sandbox
        .command("atlantis-portgate.sh", &plan(PASSING))
        .env("PLANFILE", &planfile)
        .env("ATLANTIS_TERRAFORM_VERSION", "1.9.5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        sandbox.terraform_calls(),
        [format!("1.9.5 show -json {}", planfile.display())]
    );
}

// ---------------------------------------------------------------------------------------------
// Atlantis policy_check with custom_policy_check: true.

fn policy_check(json: &Path) -> Output {
    // The command of the documented snippet, with $SHOWFILE.
    let mut cmd = Command::new(portgate_bin());
    cmd.args(["check"])
        .arg(json)
        .args(["--format", "conftest", "--exit-zero"])
        .env_remove("GITHUB_STEP_SUMMARY");
    cmd.output().unwrap()
}

#[test]
fn atlantis_policy_check_reports_failures_in_the_output_not_the_exit_code() {
    let out = policy_check(&plan(FAILING));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("FAIL - "), "{stdout}");
    assert!(lines[0].contains(" - main - PG002 aws_security_group.file_share ingress[0]: "));
    assert!(lines[1].starts_with("FAIL - "), "{stdout}");
    assert_eq!(lines[2], "");
    assert_eq!(
        lines[3],
        "6 tests, 4 passed, 0 warnings, 2 failures, 0 exceptions"
    );
}

#[test]
fn atlantis_policy_check_output_of_a_pass_never_says_fail() {
    for json in [PASSING, WARNING] {
        let out = policy_check(&plan(json));
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let stdout = text(&out.stdout);
        assert!(
            !stdout.to_lowercase().contains("fail"),
            "{json}: Atlantis would see a failure in:\n{stdout}"
        );
        assert!(stdout.contains(" passed, "), "{stdout}");
    }
}

#[test]
fn atlantis_snippets_are_documented() {
    let doc = std::fs::read_to_string(root().join("docs/integrations.md")).unwrap();
    for needle in [
        "custom_policy_check: true",
        "portgate check $SHOWFILE --format conftest --exit-zero",
        "atlantis-portgate.sh",
        "id: portgate",
        "plan-and-check.sh",
        "github-actions.yml",
    ] {
        assert!(
            doc.contains(needle),
            "docs/integrations.md lacks {needle:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Local wrapper: scripts/plan-and-check.sh.

#[test]
fn plan_and_check_plans_shows_and_blocks_on_findings() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .command("plan-and-check.sh", &plan(FAILING))
        .arg("-var-file=prod.tfvars")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        sandbox.terraform_calls(),
        [
            "plan -out=tfplan -var-file=prod.tfvars",
            "show -json tfplan"
        ]
    );
    assert!(sandbox.work().join("tfplan").exists());
    let json = std::fs::read_to_string(sandbox.work().join("tfplan.json")).unwrap();
    assert_eq!(json, std::fs::read_to_string(plan(FAILING)).unwrap());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Plan: 1 to add"), "{stdout}");
    assert!(stdout.contains("portgate: FAILED, 2 findings"), "{stdout}");
    assert!(text(&out.stderr).contains("do not apply tfplan"));
}

#[test]
fn plan_and_check_passes_a_clean_plan_and_portgate_args() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .command("plan-and-check.sh", &plan(PASSING))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        sandbox.terraform_calls(),
        ["plan -out=tfplan", "show -json tfplan"]
    );

    // PORTGATE_ARGS reach portgate check: JSON output, and a gate that only fails on critical
    // (the invalid CIDR is high: not blocking).
    let sandbox = Sandbox::new();
    let out = sandbox
        .command("plan-and-check.sh", &plan("invalid_cidr.json"))
        .env("PORTGATE_ARGS", "--format json  --fail-on critical")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    let json_start = stdout.find("{\n").expect("JSON report");
    let report: serde_json::Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    assert_eq!(report["summary"]["result"], "pass");
    // The sandbox holds no Terraform sources, so the group's unknown ingress is PG003 too.
    let ids: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"PG004"), "{ids:?}");
}

#[test]
fn plan_and_check_stops_when_terraform_plan_does() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .command("plan-and-check.sh", &plan(PASSING))
        .env("FAKE_TF_PLAN_FAILS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(sandbox.terraform_calls(), ["plan -out=tfplan"]);
    assert!(!sandbox.work().join("tfplan.json").exists());
    assert!(!text(&out.stdout).contains("portgate"));
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions example.

#[test]
fn github_actions_example_uploads_sarif_and_fails_on_findings() {
    let yaml = std::fs::read_to_string(root().join("docs/github-actions.yml")).unwrap();
    for needle in [
        "terraform show -json tfplan > tfplan.json",
        "uses: portgate/portgate@",
        "plan: tfplan.json",
        "security-events: write",
        "terraform_wrapper: false",
    ] {
        assert!(
            yaml.contains(needle),
            "docs/github-actions.yml lacks {needle:?}"
        );
    }
    assert!(!yaml.contains("continue-on-error"));
    // The action it uses (tests/action.rs runs it): the SARIF upload runs even when the job
    // fails, and the gate step does not soften the exit code.
    let action = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let upload = action
        .find("uses: github/codeql-action/upload-sarif@")
        .unwrap();
    let step_start = action[..upload].rfind("- name:").unwrap();
    assert!(action[step_start..upload].contains("if: always()"));
    let gate = &action[action.find("- name: portgate check").unwrap()..];
    assert!(!gate.contains("--exit-zero") && !gate.contains("--soft-fail"));
    assert!(!action.contains("continue-on-error"));
}

#[test]
fn github_actions_example_command_works() {
    // The check step's command, on a failing plan: exit 1, SARIF written, text printed.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(plan(FAILING), dir.path().join("tfplan.json")).unwrap();
    let out = Command::new(portgate_bin())
        .current_dir(dir.path())
        .args([
            "check",
            "tfplan.json",
            "--format",
            "sarif",
            "--output",
            "portgate.sarif",
            "--trusted-cidr",
            "10.0.0.0/8",
        ])
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(text(&out.stdout).contains("portgate: FAILED"));
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("portgate.sarif")).unwrap())
            .unwrap();
    assert_eq!(sarif["version"], "2.1.0");
}

//! `action.yml`, the GitHub Action, run the way a runner runs a composite action: its shell
//! steps with bash, a fake `GITHUB_*` environment, a fake `cargo` that "installs" the real
//! binary (behind a shim that records its command lines), and its `uses:` steps checked for
//! what they would be given (issue 19).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn action() -> Yaml {
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn text(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::BadValue | Yaml::Null => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// What a run of the action saw and did.
struct Run {
    /// Exit code of each step that ran, by name (or id).
    steps: Vec<(String, i32, String)>,
    cargo_calls: Vec<String>,
    portgate_calls: Vec<String>,
    github_path: String,
    /// The `with:` of the upload-sarif step, when it ran.
    uploaded: Option<BTreeMap<String, String>>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    workspace: tempfile::TempDir,
}

/// Runs action.yml's steps in order with `given` inputs, in a workspace holding the
/// group_union plan as `tfplan.json` and its sources under `infra/`. Stops after a failing
/// step, as a runner does (only `if: always()` steps run after one).
fn run_action(given: &[(&str, &str)]) -> Run {
    let action = action();
    let workspace = tempfile::tempdir().unwrap();
    let ws = workspace.path();
    std::fs::copy(
        root().join("testdata/plans/group_union.json"),
        ws.join("tfplan.json"),
    )
    .unwrap();
    std::fs::create_dir(ws.join("infra")).unwrap();
    std::fs::copy(
        root().join("testdata/plans/group_union/main.tf"),
        ws.join("infra/main.tf"),
    )
    .unwrap();
    for dir in ["home", "temp", "fake-bin"] {
        std::fs::create_dir(ws.join(dir)).unwrap();
    }
    let (home, temp, fake_bin) = (ws.join("home"), ws.join("temp"), ws.join("fake-bin"));
    let log = |name: &str| ws.join(format!("{name}.log"));
    // cargo install --path P --root R: puts a portgate at R/bin that logs its arguments and
    // runs the real binary.
    let fake_cargo = format!(
        r#"#!/usr/bin/env bash
echo "$*" >> "{cargo_log}"
while [ $# -gt 0 ]; do
  case "$1" in --root) root="$2"; shift ;; esac
  shift
done
mkdir -p "$root/bin"
cat > "$root/bin/portgate" <<SHIM
#!/usr/bin/env bash
echo "\$*" >> "{portgate_log}"
exec "{real}" "\$@"
SHIM
chmod +x "$root/bin/portgate"
"#,
        cargo_log = log("cargo").display(),
        portgate_log = log("portgate").display(),
        real = env!("CARGO_BIN_EXE_portgate"),
    );
    std::fs::write(fake_bin.join("cargo"), fake_cargo).unwrap();
    make_executable(&fake_bin.join("cargo"));

    let declared = action["inputs"].as_hash().unwrap();
    let mut inputs: BTreeMap<String, String> = declared
        .iter()
        .map(|(k, v)| (text(k), text(&v["default"])))
        .collect();
    for (name, value) in given {
        assert!(inputs.contains_key(*name), "action.yml has no input {name}");
        inputs.insert(name.to_string(), value.to_string());
    }

    let github_path = ws.join("github_path");
    std::fs::write(&github_path, "").unwrap();
    let mut outputs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut steps = Vec::new();
    let mut uploaded = None;
    let mut failed = false;
    for (index, step) in action["runs"]["steps"].as_vec().unwrap().iter().enumerate() {
        let id = text(&step["id"]);
        let name = [text(&step["name"]), id.clone(), format!("step {index}")]
            .into_iter()
            .find(|n| !n.is_empty())
            .unwrap();
        let condition = text(&step["if"]);
        let runs = if condition.is_empty() {
            !failed
        } else {
            evaluate(&condition, &inputs, &outputs, failed)
        };
        if !runs {
            continue;
        }
        let expand = |value: &str| expand(value, &inputs, &outputs);
        if let Some(uses) = step["uses"].as_str() {
            let with: BTreeMap<String, String> = step["with"]
                .as_hash()
                .map(|h| h.iter().map(|(k, v)| (text(k), expand(&text(v)))).collect())
                .unwrap_or_default();
            if uses.starts_with("actions/cache@") {
                // A cache miss: the install step runs.
                assert_eq!(with["path"], "~/.portgate-action");
                assert!(with["key"].starts_with("portgate-Linux-X64-"), "{with:?}");
                outputs
                    .entry(id)
                    .or_default()
                    .insert("cache-hit".into(), String::new());
            } else if uses == "github/codeql-action/upload-sarif@v4" {
                uploaded = Some(with);
            } else {
                panic!("action.yml uses {uses}, which this test does not know");
            }
            continue;
        }
        let script = text(&step["run"]);
        assert!(!script.is_empty(), "{name}: neither run nor uses");
        assert_eq!(text(&step["shell"]), "bash", "{name}");
        // Inputs reach scripts only through env: an expression in the script's text would be
        // pasted into the shell code before it runs.
        assert!(
            !script.contains("${{"),
            "{name}: an expression in run:\n{script}"
        );
        let output_file = ws.join(format!("output-{index}"));
        std::fs::write(&output_file, "").unwrap();
        let script_file = ws.join(format!("step-{index}.sh"));
        std::fs::write(&script_file, &script).unwrap();
        let added_paths = std::fs::read_to_string(&github_path).unwrap();
        let path = added_paths
            .lines()
            .rev()
            .map(str::to_string)
            .chain([
                fake_bin.display().to_string(),
                std::env::var("PATH").unwrap(),
            ])
            .collect::<Vec<_>>()
            .join(":");
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_file)
            .current_dir(ws)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &home)
            .env("RUNNER_TEMP", &temp)
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("GITHUB_ACTION_PATH", root())
            .env("GITHUB_WORKSPACE", ws)
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_PATH", &github_path)
            .env("GITHUB_STEP_SUMMARY", ws.join("summary.md"));
        if let Some(env) = step["env"].as_hash() {
            for (key, value) in env {
                command.env(text(key), expand(&text(value)));
            }
        }
        let output = command.output().unwrap();
        let code = output.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !id.is_empty() {
            let written = std::fs::read_to_string(&output_file).unwrap();
            let recorded = outputs.entry(id).or_default();
            for line in written.lines() {
                let (key, value) = line.split_once('=').expect("key=value outputs");
                recorded.insert(key.to_string(), value.to_string());
            }
        }
        failed |= code != 0;
        steps.push((
            name,
            code,
            stdout + &String::from_utf8_lossy(&output.stderr),
        ));
    }
    let read_log = |name: &str| {
        std::fs::read_to_string(log(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    Run {
        steps,
        cargo_calls: read_log("cargo"),
        portgate_calls: read_log("portgate"),
        github_path: std::fs::read_to_string(github_path).unwrap(),
        uploaded,
        outputs,
        workspace,
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `${{ inputs.X }}` and `${{ steps.ID.outputs.X }}` in `value`, as the runner expands them.
fn expand(
    value: &str,
    inputs: &BTreeMap<String, String>,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("a closed expression") + start;
        out.push_str(&lookup(rest[start + 3..end].trim(), inputs, outputs));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn lookup(
    name: &str,
    inputs: &BTreeMap<String, String>,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> String {
    if let Some(input) = name.strip_prefix("inputs.") {
        return inputs
            .get(input)
            .unwrap_or_else(|| panic!("no input {input}"))
            .clone();
    }
    let path: Vec<&str> = name.split('.').collect();
    match path.as_slice() {
        ["steps", id, "outputs", key] => outputs
            .get(*id)
            .and_then(|o| o.get(*key))
            .cloned()
            .unwrap_or_default(),
        _ => panic!("an expression this test does not evaluate: {name}"),
    }
}

/// The `if:` forms action.yml uses: `always()`, and `A == 'v'` / `A != 'v'` joined by `&&`.
fn evaluate(
    condition: &str,
    inputs: &BTreeMap<String, String>,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
    failed: bool,
) -> bool {
    let mut always = false;
    let mut holds = true;
    for term in condition.split("&&").map(str::trim) {
        if term == "always()" {
            always = true;
            continue;
        }
        let (left, right, equal) = match (term.split_once("!="), term.split_once("==")) {
            (Some((l, r)), _) => (l, r, false),
            (None, Some((l, r))) => (l, r, true),
            _ => panic!("a condition this test does not evaluate: {term}"),
        };
        let value = lookup(left.trim(), inputs, outputs);
        let literal = right.trim().trim_matches('\'');
        holds &= (value == literal) == equal;
    }
    holds && (always || !failed)
}

#[test]
fn the_action_declares_its_inputs_and_keeps_them_out_of_scripts() {
    let action = action();
    assert_eq!(text(&action["runs"]["using"]), "composite");
    let inputs: Vec<String> = action["inputs"]
        .as_hash()
        .unwrap()
        .keys()
        .map(text)
        .collect();
    for name in [
        "plan",
        "source",
        "trusted-cidrs",
        "fail-on",
        "unknown",
        "sarif",
        "annotations",
    ] {
        assert!(
            inputs.contains(&name.to_string()),
            "input {name}: {inputs:?}"
        );
    }
    assert_eq!(action["inputs"]["plan"]["required"].as_bool(), Some(true));
}

#[test]
fn a_plan_with_findings_is_installed_checked_annotated_uploaded_and_fails() {
    let run = run_action(&[
        ("plan", "tfplan.json"),
        ("source", "infra"),
        ("trusted-cidrs", "10.0.0.0/8, 2001:db8::/32"),
        ("fail-on", "high"),
    ]);
    let home = run.workspace.path().join("home");
    // Built once, from the action's own checkout, into the cached directory.
    assert_eq!(
        run.cargo_calls,
        [format!(
            "install --locked --path {} --root {}/.portgate-action",
            root().display(),
            home.display()
        )]
    );
    assert_eq!(
        run.github_path.trim(),
        format!("{}/.portgate-action/bin", home.display())
    );
    let sarif = run.outputs["sarif"]["file"].clone();
    let temp = run.workspace.path().join("temp");
    assert_eq!(sarif, format!("{}/portgate.sarif", temp.display()));
    let common = "check tfplan.json --source infra --trusted-cidr 10.0.0.0/8 --trusted-cidr 2001:db8::/32 --fail-on high";
    assert_eq!(
        run.portgate_calls,
        [
            format!("{common} --format sarif --output {sarif} --exit-zero"),
            format!("{common} --format github"),
        ]
    );
    // The SARIF went up, and holds the findings.
    let uploaded = run.uploaded.expect("the upload step ran");
    assert_eq!(uploaded["sarif_file"], sarif);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert!(!doc["runs"][0]["results"].as_array().unwrap().is_empty());
    // The gate: annotations on the .tf lines, and the job fails.
    let (name, code, output) = run.steps.last().unwrap();
    assert_eq!(name, "portgate check");
    assert_eq!(*code, 1, "{output}");
    assert!(output.contains("::error file=infra/main.tf"), "{output}");
    assert!(run.workspace.path().join("summary.md").exists());
}

#[test]
fn without_sarif_or_annotations_only_the_text_report_gates() {
    let run = run_action(&[
        ("plan", "tfplan.json"),
        ("sarif", "false"),
        ("annotations", "false"),
    ]);
    assert!(run.uploaded.is_none());
    assert_eq!(run.portgate_calls, ["check tfplan.json"]);
    let (_, code, output) = run.steps.last().unwrap();
    assert_eq!(*code, 1);
    assert!(output.contains("FAILED"), "{output}");
    assert!(!output.contains("::error"), "{output}");
}

/// An input is data, never shell: a plan name built to run a command runs nothing, and the
/// gate fails closed on the plan it cannot read.
#[test]
fn inputs_cannot_inject_shell() {
    let run = run_action(&[
        ("plan", "x.json\"; touch pwned; echo \"$(touch pwned2)"),
        ("trusted-cidrs", "$(touch pwned3) `touch pwned4`"),
    ]);
    for file in ["pwned", "pwned2", "pwned3", "pwned4"] {
        assert!(
            !run.workspace.path().join(file).exists(),
            "{file} was created"
        );
    }
    let (_, code, output) = run.steps.last().unwrap();
    assert_ne!(*code, 0, "{output}");
    // The SARIF step ran first and failed on the plan: the gate step did not run after it,
    // as on a runner; the upload (if: always()) found no file to send.
    assert!(
        run.steps
            .iter()
            .any(|(name, code, _)| name == "SARIF report" && *code == 2)
    );
    assert!(run.uploaded.is_none());
}

//! Suggested patches end to end: the cases of `testdata/fix/`, run through the built binary.
//!
//! Each `testdata/fix/CASE/` is a small Terraform root module (`main.tf`, and `variables.tf`,
//! `terraform.tfvars`, `modules/NAME/` where the case needs them) with the `plan.json` that
//! `terraform show -json` gives for it, a `case.toml` (what the case proves, the extra CLI
//! arguments, what stderr must say, where the world CIDRs must be gone) and `expected.patch`:
//! the exact stdout of `portgate check CASE/plan.json --source CASE --format diff ARGS`, written
//! by hand, empty when no source patch is expected.
//!
//! Every case has one test here that calls `case("CASE")`; the patch is also applied with
//! `git apply` to a copy of the case, and the patched files must still parse as HCL.

#[path = "common/run.rs"]
mod run;
#[path = "common/tree.rs"]
mod tree;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use portgate::config::TrustedCidr;
use portgate::fix::edit::Edit;
use portgate::fix::write::{WriteError, write_files};
use portgate::fix::{FilePatch, FixOptions};
use portgate::policy::PolicySet;
use serde::Deserialize;
use serde_json::Value;

use run::text;
use tree::{Scratch, git};

/// The world CIDR literals a fix replaces.
const WORLD_LITERALS: [&str; 2] = ["\"0.0.0.0/0\"", "\"::/0\""];

/// `case.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    /// What the case proves.
    description: String,
    /// Extra arguments of `portgate check` (the trusted CIDRs).
    args: Vec<String>,
    /// Texts stderr must contain. When empty, stderr must be empty.
    #[serde(default)]
    stderr_contains: Vec<String>,
    /// Files (relative to the case) that hold a world CIDR literal before the patch and none
    /// after it.
    #[serde(default)]
    world_gone_from: Vec<String>,
    /// Files that still hold this many world CIDR literals after the patch (rules that are not
    /// findings keep theirs).
    #[serde(default)]
    world_left: BTreeMap<String, usize>,
    /// The patch splits rules: the world stays on their unguarded ports, so a file may hold
    /// more world literals after the patch than before (the exact patch is expected.patch).
    #[serde(default)]
    split: bool,
}

fn fix_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fix")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn load_spec(dir: &Path) -> CaseSpec {
    let path = dir.join("case.toml");
    toml::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `portgate check DIR/plan.json --source DIR ARGS` (every case: `--format diff`, then
/// `--format json`, then `--write`, each compared with the expected patch).
fn portgate_check(dir: &Path, args: &[String]) -> Output {
    portgate_check_env(dir, args, &[])
}

/// [`portgate_check`] with more environment variables.
fn portgate_check_env(dir: &Path, args: &[String], env: &[(&str, &str)]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    check_case_in(run::root(), dir, &args, env)
}

/// `portgate check DIR/plan.json --source DIR ARGS`, run in `cwd`.
fn check_case_in(cwd: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let plan = dir.join("plan.json");
    let mut all = vec![
        "check",
        plan.to_str().unwrap(),
        "--source",
        dir.to_str().unwrap(),
    ];
    all.extend(args);
    run::portgate_env(cwd, &all, env)
}

/// The symbolic links of a tree, by path relative to its root, with their targets.
fn links(root: &Path) -> BTreeMap<String, PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if entry.file_type().unwrap().is_symlink() {
                out.insert(rel, std::fs::read_link(&path).unwrap());
            } else if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Every file of a tree by path relative to its root, with its content.
fn tree_contents(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.insert(rel.join("/"), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The files a unified diff changes (its `+++ b/PATH` lines).
fn patched_files(patch: &str) -> Vec<String> {
    patch
        .lines()
        .filter_map(|l| l.strip_prefix("+++ b/"))
        .map(str::to_string)
        .collect()
}

fn world_literal_count(content: &str) -> usize {
    WORLD_LITERALS
        .iter()
        .map(|w| content.matches(w).count())
        .sum()
}

/// The outcome of one case, for case-specific assertions.
struct CaseRun {
    dir: PathBuf,
    spec: CaseSpec,
    stdout: String,
}

/// Runs the case `name` of `testdata/fix` and checks everything its files promise.
fn case(name: &str) -> CaseRun {
    let dir = fix_dir().join(name);
    let spec = load_spec(&dir);
    assert!(
        !spec.description.trim().is_empty(),
        "{name}: case.toml needs a description"
    );
    let expected = read(&dir.join("expected.patch"));

    let mut args: Vec<String> = vec!["--format".into(), "diff".into()];
    args.extend(spec.args.iter().cloned());
    let out = portgate_check(&dir, &args);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{name}: the plan still fails the gate\nstderr:\n{stderr}"
    );
    assert!(
        stdout == expected,
        "{name}: stdout differs from expected.patch\n--- expected ---\n{expected}--- actual ---\n{stdout}--- stderr ---\n{stderr}"
    );
    if spec.stderr_contains.is_empty() {
        assert!(
            stderr.is_empty(),
            "{name}: stderr must be empty unless case.toml lists what it says (stderr_contains), but it says:\n{stderr}"
        );
    }
    for part in &spec.stderr_contains {
        assert!(
            stderr.contains(part.as_str()),
            "{name}: stderr lacks {part:?}:\n{stderr}"
        );
    }

    // The JSON report carries the same combined patch.
    let mut json_args: Vec<String> = vec!["--format".into(), "json".into()];
    json_args.extend(spec.args.iter().cloned());
    let json: Value = serde_json::from_slice(&portgate_check(&dir, &json_args).stdout)
        .unwrap_or_else(|e| panic!("{name}: --format json is not JSON: {e}"));
    assert_eq!(
        json["patch"].as_str(),
        Some(expected.as_str()),
        "{name}: the JSON `patch` differs from --format diff"
    );

    if expected.is_empty() {
        assert!(
            spec.world_gone_from.is_empty() && spec.world_left.is_empty(),
            "{name}: world_gone_from / world_left need a patch"
        );
        // With no patch to offer, `--write` changes nothing either.
        let copy = Scratch::copy_of(&dir);
        let mut args = vec!["--write".to_string()];
        args.extend(spec.args.iter().cloned());
        let out = portgate_check(&copy.dir, &args);
        assert_eq!(out.status.code(), Some(1), "{name}: --write");
        assert_eq!(
            tree_contents(&copy.dir),
            tree_contents(&dir),
            "{name}: --write changed files although there is no patch"
        );
        return CaseRun { dir, spec, stdout };
    }

    let copy = Scratch::copy_of(&dir);
    copy.apply(&expected);
    let files = patched_files(&expected);
    assert!(!files.is_empty(), "{name}: the patch names no file");
    for file in &files {
        let patched = read(&copy.dir.join(file));
        if file.ends_with(".tfvars.json") {
            // JSON syntax stays JSON.
            if let Err(e) = serde_json::from_str::<Value>(&patched) {
                panic!("{name}: {file} is no longer JSON after the patch: {e}\n{patched}");
            }
            continue;
        }
        assert!(
            file.ends_with(".tf") || file.ends_with(".tofu") || file.ends_with(".tfvars"),
            "{name}: the patch changes {file}, which is not Terraform source"
        );
        if let Err(e) = hcl_edit::parser::parse_body(&patched) {
            panic!("{name}: {file} no longer parses after the patch: {e}\n{patched}");
        }
    }
    for file in &spec.world_gone_from {
        let before = read(&dir.join(file));
        let after = read(&copy.dir.join(file));
        assert!(
            world_literal_count(&before) > 0,
            "{name}: {file} holds no world CIDR to begin with"
        );
        assert_eq!(
            world_literal_count(&after),
            0,
            "{name}: a world CIDR is left in {file}:\n{after}"
        );
    }
    for (file, left) in &spec.world_left {
        let before = read(&dir.join(file));
        let after = read(&copy.dir.join(file));
        assert!(
            spec.split || world_literal_count(&before) > *left,
            "{name}: the patch should remove world CIDRs from {file}"
        );
        assert_eq!(
            world_literal_count(&after),
            *left,
            "{name}: world CIDRs left in {file}:\n{after}"
        );
    }
    for file in &files {
        assert!(
            spec.world_gone_from.contains(file) || spec.world_left.contains_key(file),
            "{name}: case.toml should say what is left of the world in {file}"
        );
    }
    // `--write` makes exactly the change the diff shows.
    let written: Vec<&str> = files.iter().map(String::as_str).collect();
    write_case(name, &written);
    CaseRun { dir, spec, stdout }
}

/// The JSON report of a case (same arguments as its diff run).
fn json_report(run: &CaseRun) -> Value {
    let mut args: Vec<String> = vec!["--format".into(), "json".into()];
    args.extend(run.spec.args.iter().cloned());
    let out = portgate_check(&run.dir, &args);
    assert_eq!(out.status.code(), Some(1));
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

fn findings(json: &Value) -> &Vec<Value> {
    json["findings"].as_array().expect("`findings` is a list")
}

// ---- one test per case ------------------------------------------------------------------------

#[test]
fn only_the_offending_one_of_three_inline_blocks_changes() {
    case("inline_second_of_three");
}

#[test]
fn a_security_group_rule_gets_its_cidr_blocks_patched() {
    case("security_group_rule");
}

#[test]
fn vpc_ingress_rules_get_the_trusted_cidr_of_their_own_family() {
    case("vpc_ingress_rule_v4_v6");
}

#[test]
fn the_other_cidrs_of_a_mixed_list_stay() {
    case("mixed_list");
}

#[test]
fn a_variable_default_is_patched_where_it_is_declared() {
    let run = case("variable_default");
    assert_eq!(patched_files(&run.stdout), ["variables.tf"]);
}

#[test]
fn a_patch_that_would_leave_the_group_open_is_never_offered() {
    let run = case("trusted_reopens_the_cover");
    let json = json_report(&run);
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["address"] == "aws_security_group_rule.smb_world")
        .unwrap();
    assert!(finding["fix"].is_null(), "{finding:#}");
    // With a trusted CIDR that closes the cover, the same finding gets its patch.
    let out = portgate_check(
        &run.dir,
        &[
            "--format".into(),
            "diff".into(),
            "--trusted-cidr".into(),
            "10.0.0.0/8".into(),
        ],
    );
    assert!(
        text(&out.stdout).contains("+  cidr_blocks       = [\"10.0.0.0/8\"]"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_wide_tcp_range_is_split_so_only_the_guarded_ports_change() {
    let run = case("tcp_range_split");
    // The JSON report carries the same note on the fix, for the other formats.
    let json = json_report(&run);
    let notes: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["fix"]["notes"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("the rule is split")),
        "{notes:?}"
    );
}

#[test]
fn an_all_protocols_rule_says_that_every_port_loses_the_world() {
    case("all_protocols_note");
}

#[test]
fn a_patch_of_a_source_subdirectory_applies_from_the_working_directory() {
    // A repository whose Terraform lives in infra/: portgate runs at the top, like CI does.
    let copy = Scratch::copy_of(&fix_dir().join("inline_second_of_three"));
    let root = copy.parent().join("repo");
    tree::copy_tree(&copy.dir, &root.join("infra"));
    let out = run::portgate_in(
        &root,
        &[
            "check",
            "infra/plan.json",
            "--source",
            "infra",
            "--trusted-cidr",
            "10.0.0.0/8",
            "--format",
            "diff",
        ],
    );
    let patch = text(&out.stdout);
    assert!(
        patch.starts_with("--- a/infra/main.tf\n+++ b/infra/main.tf\n"),
        "{patch}"
    );
    std::fs::write(&copy.patch_file, &patch).unwrap();
    let out = git(&root, &["apply", copy.patch_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The same change as the case's own patch, applied inside the case directory.
    copy.apply(&read(
        &fix_dir().join("inline_second_of_three/expected.patch"),
    ));
    assert_eq!(
        read(&root.join("infra/main.tf")),
        read(&copy.dir.join("main.tf"))
    );
    assert_eq!(world_literal_count(&read(&root.join("infra/main.tf"))), 1);
}

#[test]
fn a_plan_older_than_its_sources_is_said_and_refused_on_request() {
    let copy = Scratch::copy_of(&fix_dir().join("inline_second_of_three"));
    let main_tf = copy.dir.join("main.tf");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&main_tf)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let run = |extra: &[&str]| {
        let mut args: Vec<String> = vec!["--trusted-cidr".into(), "10.0.0.0/8".into()];
        args.extend(extra.iter().map(|a| a.to_string()));
        portgate_check(&copy.dir, &args)
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("the plan is older than") && stdout.contains("run `terraform plan` again"),
        "{stdout}"
    );
    let out = run(&["--require-fresh-plan"]);
    assert_one_line_error(&out, "the plan is older than");
    assert!(text(&out.stderr).contains("(--require-fresh-plan)"));
    // A plan written after its sources passes the check.
    std::fs::File::options()
        .write(true)
        .open(copy.dir.join("plan.json"))
        .unwrap()
        .set_modified(later + std::time::Duration::from_secs(1))
        .unwrap();
    assert_eq!(run(&["--require-fresh-plan"]).status.code(), Some(1));
}

#[test]
fn a_literal_the_plan_shows_but_the_sources_no_longer_hold_asks_for_a_new_plan() {
    let copy = Scratch::copy_of(&fix_dir().join("inline_second_of_three"));
    // Already patched by hand after the plan was made.
    let main_tf = copy.dir.join("main.tf");
    let patched = read(&main_tf).replacen(
        "cidr_blocks = [\"0.0.0.0/0\"]",
        "cidr_blocks = [\"10.0.0.0/8\"]",
        1,
    );
    std::fs::write(&main_tf, patched).unwrap();
    let out = portgate_check(
        &copy.dir,
        &[
            "--trusted-cidr".into(),
            "10.0.0.0/8".into(),
            "--format".into(),
            "diff".into(),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the plan is older than the sources (already patched, or edited after the plan); run `terraform plan` again"),
        "{stderr}"
    );
}

#[test]
fn the_vpc_keyword_puts_the_groups_own_vpc_cidr_in_place_of_the_world() {
    case("vpc_cidr_keyword");
    // Without any trusted CIDR the same change is only suggested: a diff needs the choice.
    let out = portgate_check(
        &fix_dir().join("vpc_cidr_keyword"),
        &["--format".into(), "diff".into()],
    );
    assert_one_line_error(&out, "--trusted-cidr vpc");
}

#[test]
fn the_last_ingress_block_becomes_an_empty_list_not_nothing() {
    let run = case("last_ingress_block");
    assert!(run.stdout.contains("+  ingress = []"), "{}", run.stdout);
}

#[test]
fn a_resource_something_refers_to_is_never_removed() {
    case("referenced_rule");
}

#[test]
fn a_json_tfvars_file_read_later_wins_and_is_patched_as_json() {
    let run = case("tfvars_json_wins");
    assert_eq!(patched_files(&run.stdout), ["terraform.tfvars.json"]);
}

#[test]
fn a_file_whose_value_is_not_the_plans_is_not_patched() {
    case("var_set_elsewhere");
}

#[cfg(unix)]
#[test]
fn a_symlinked_file_is_patched_where_it_really_is_and_stays_a_link() {
    let run = case("symlinked_file");
    assert_eq!(patched_files(&run.stdout), ["real/main.tf"]);
}

#[cfg(unix)]
#[test]
fn a_symlinked_module_directory_is_patched_where_it_really_is() {
    let run = case("symlinked_module");
    assert_eq!(patched_files(&run.stdout), ["shared/sg/main.tf"]);
}

#[cfg(unix)]
#[test]
fn a_symlink_out_of_the_sources_is_not_followed() {
    let copy = Scratch::copy_of(&fix_dir().join("inline_second_of_three"));
    let outside = copy.parent().join("outside.tf");
    std::fs::rename(copy.dir.join("main.tf"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, copy.dir.join("main.tf")).unwrap();
    let out = portgate_check(
        &copy.dir,
        &[
            "--trusted-cidr".into(),
            "10.0.0.0/8".into(),
            "--format=diff".into(),
        ],
    );
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("outside the source directory"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_rule_an_override_file_decides_is_patched_in_the_override_file() {
    case("override_file");
}

#[test]
fn a_file_with_an_opentofu_twin_gets_the_same_edit_in_both() {
    let run = case("tofu_twin");
    assert_eq!(patched_files(&run.stdout), ["main.tf", "main.tofu"]);
}

#[test]
fn twins_that_differ_where_the_patch_lands_are_not_patched() {
    case("tofu_twin_differs");
}

#[test]
fn a_world_entry_from_a_reference_in_a_list_is_not_left_behind() {
    case("mixed_list_reference");
}

#[test]
fn a_literal_shared_with_an_instance_that_is_not_a_finding_is_not_narrowed() {
    case("shared_for_each_literal");
}

#[test]
fn ports_written_as_variables_match_the_block_by_their_planned_values() {
    case("expression_ports");
}

#[test]
fn files_terraform_ignores_are_never_patched() {
    let run = case("ignored_files");
    assert_eq!(
        run.stdout,
        read(&fix_dir().join("inline_second_of_three/expected.patch"))
    );
}

#[test]
fn a_tfvars_value_is_patched_instead_of_the_default() {
    let run = case("tfvars_value");
    assert_eq!(patched_files(&run.stdout), ["terraform.tfvars"]);
}

#[test]
fn for_each_instances_of_a_local_module_share_one_edit() {
    let run = case("module_for_each");
    assert_eq!(patched_files(&run.stdout), ["modules/sg/main.tf"]);
    let removed = run
        .stdout
        .lines()
        .filter(|l| l.starts_with('-') && !l.starts_with("---"))
        .count();
    assert_eq!(
        removed, 1,
        "one edit, not one per instance:\n{}",
        run.stdout
    );
    let json = json_report(&run);
    let findings = findings(&json);
    assert_eq!(findings.len(), 2, "one finding per module instance");
    for finding in findings {
        assert_eq!(finding["fix"]["kind"], "source", "{finding}");
        assert_eq!(
            finding["fix"]["files"],
            serde_json::json!(["modules/sg/main.tf"])
        );
    }
}

#[test]
fn a_dynamic_ingress_block_gets_no_guessed_patch() {
    let run = case("dynamic_block");
    let json = json_report(&run);
    let findings = findings(&json);
    assert_eq!(findings.len(), 2, "139 and 445");
    for finding in findings {
        assert_eq!(finding["fix"]["kind"], "suggestion", "{finding}");
        let reason = finding["fix_reason"].as_str().unwrap_or_default();
        assert!(reason.contains("dynamic \"ingress\""), "{reason}");
    }
}

#[test]
fn without_sources_the_fix_is_a_rendered_suggestion() {
    let run = case("no_sources");
    let files: Vec<String> = tree_contents(&run.dir).into_keys().collect();
    assert_eq!(
        files,
        ["case.toml", "expected.patch", "plan.json"],
        "the case must hold no Terraform source"
    );
    let json = json_report(&run);
    let findings = findings(&json);
    assert_eq!(findings.len(), 1);
    let fix = &findings[0]["fix"];
    assert_eq!(fix["kind"], "suggestion", "{fix}");
    assert_eq!(fix["trusted_cidrs"], serde_json::json!(["10.0.0.0/8"]));
    assert_eq!(fix["files"], serde_json::json!([]));
    assert!(fix["file"].is_null());
    assert!(
        fix["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no .tf files")),
        "{fix}"
    );
    assert_eq!(
        fix["patch"].as_str(),
        Some(concat!(
            "--- planned: aws_security_group.files ingress[0]\n",
            "+++ suggested: aws_security_group.files ingress[0]\n",
            "@@ -3,6 +3,6 @@\n",
            "     protocol    = \"tcp\"\n",
            "     from_port   = 445\n",
            "     to_port     = 445\n",
            "-    cidr_blocks = [\"0.0.0.0/0\"]\n",
            "+    cidr_blocks = [\"10.0.0.0/8\"]\n",
            "   }\n",
            " }\n",
        )),
        "{fix}"
    );
    assert_eq!(json["patch"], "", "no source patch at all");
}

#[test]
fn comments_spacing_and_tabs_are_kept_byte_for_byte() {
    let run = case("comments_and_spacing");
    // Beyond the exact patch: undoing the CIDR swaps gives back the original, byte for byte.
    let copy = Scratch::copy_of(&run.dir);
    copy.apply(&run.stdout);
    let original = read(&run.dir.join("main.tf"));
    let patched = read(&copy.dir.join("main.tf"));
    let undone = patched
        .replace(
            "      \"10.0.0.0/8\",       # TODO",
            "      \"0.0.0.0/0\",       # TODO",
        )
        .replace(
            "[ \"10.0.0.0/8\" ]   # legacy",
            "[ \"0.0.0.0/0\" ]   # legacy",
        );
    assert_eq!(undone, original);
    assert!(patched.contains('\t'), "tabs are kept");
}

#[test]
fn ipv6_world_is_removed_when_no_trusted_ipv6_cidr_is_given() {
    let run = case("no_trusted_ipv6");
    let json = json_report(&run);
    let findings = findings(&json);
    assert_eq!(findings.len(), 2, "one finding per family");
    for finding in findings {
        let fix = &finding["fix"];
        assert_eq!(fix["kind"], "source", "{fix}");
        let notes: Vec<&str> = fix["notes"]
            .as_array()
            .expect("notes is a list")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            notes.iter().any(|n| n.contains("::/0")
                && n.contains("ipv6_cidr_blocks")
                && n.contains("without a replacement")),
            "fix.notes should say ::/0 is removed without a replacement: {notes:?}"
        );
    }
}

// ---- --write ------------------------------------------------------------------------------

/// Runs `--write` on a copy of a case and compares the result with `git apply` of its
/// expected patch on another copy: every file must be identical.
fn write_case(name: &str, written: &[&str]) {
    let dir = fix_dir().join(name);
    let spec = load_spec(&dir);
    let expected = read(&dir.join("expected.patch"));

    let by_git = Scratch::copy_of(&dir);
    by_git.apply(&expected);

    let by_portgate = Scratch::copy_of(&dir);
    let mut args = vec!["--write".to_string()];
    args.extend(spec.args.iter().cloned());
    let out = portgate_check(&by_portgate.dir, &args);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{name}: the plan is unchanged, so the gate still fails\n{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    let mut wanted: Vec<String> = written
        .iter()
        .map(|f| format!("portgate: wrote {f}"))
        .collect();
    wanted.push("portgate: the findings above are from the plan made before these changes: run `terraform plan` again and check the new plan".to_string());
    assert_eq!(lines, wanted, "{name}: stderr of --write");
    assert_eq!(
        tree_contents(&by_portgate.dir),
        tree_contents(&by_git.dir),
        "{name}: --write and git apply of the patch disagree"
    );
    assert_ne!(
        tree_contents(&by_portgate.dir),
        tree_contents(&dir),
        "{name}: --write changed nothing"
    );
    // A file or module directory behind a link is written where it really is: links stay.
    assert_eq!(
        links(&by_portgate.dir),
        links(&dir),
        "{name}: --write replaced a symbolic link"
    );
}

#[test]
fn write_changes_main_tf_exactly_as_the_patch_does() {
    write_case("inline_second_of_three", &["main.tf"]);
}

#[test]
fn write_changes_a_module_file_exactly_as_the_patch_does() {
    write_case("module_for_each", &["modules/sg/main.tf"]);
}

#[test]
fn write_changes_terraform_tfvars_exactly_as_the_patch_does() {
    write_case("tfvars_value", &["terraform.tfvars"]);
}

#[test]
fn write_refuses_a_file_changed_since_it_was_read() {
    let dir = fix_dir().join("inline_second_of_three");
    let copy = Scratch::copy_of(&dir);
    let plan = std::fs::read(copy.dir.join("plan.json")).unwrap();
    let policies = PolicySet::builtin().unwrap();
    let report =
        portgate::check(&plan, "plan.json", &policies, &Default::default()).expect("plan checks");
    let findings: Vec<_> = report.findings.iter().map(|g| g.finding.clone()).collect();
    let fixes = portgate::fix::suggest(
        &report.rules,
        &findings,
        &policies,
        &FixOptions {
            trusted: vec![TrustedCidr::parse("10.0.0.0/8").unwrap()],
            source_dir: Some(copy.dir.clone()),
            use_vpc: false,
            max_source_bytes: None,
        },
    );
    assert_eq!(fixes.files.len(), 1, "one file to patch");
    assert_eq!(fixes.combined_patch(), read(&dir.join("expected.patch")));

    // Someone edits main.tf after portgate read it.
    let main_tf = copy.dir.join("main.tf");
    let edited = format!("# edited meanwhile\n{}", read(&main_tf));
    std::fs::write(&main_tf, &edited).unwrap();
    let err = write_files(&fixes.files).expect_err("a changed file is not written");
    assert!(matches!(err, WriteError::Changed { .. }), "{err:?}");
    assert!(err.to_string().contains("main.tf"), "{err}");
    assert_eq!(read(&main_tf), edited, "the file is untouched");
}

#[test]
fn write_checks_every_file_before_writing_any() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("a.tf");
    let second = tmp.path().join("b.tf");
    std::fs::write(&first, "x = [\"0.0.0.0/0\"]\n").unwrap();
    std::fs::write(&second, "y = [\"0.0.0.0/0\"]\n# changed\n").unwrap();
    let patch = |path: &Path, rel: &str, original: &str| FilePatch {
        path: path.to_path_buf(),
        rel: rel.to_string(),
        original: original.to_string(),
        edits: vec![Edit {
            range: 5..16,
            replacement: "\"10.0.0.0/8\"".to_string(),
        }],
        patch: String::new(),
    };
    let patches = [
        patch(&first, "a.tf", "x = [\"0.0.0.0/0\"]\n"),
        patch(&second, "b.tf", "y = [\"0.0.0.0/0\"]\n"),
    ];
    assert_eq!(patches[0].patched(), "x = [\"10.0.0.0/8\"]\n");
    let err = write_files(&patches).expect_err("b.tf changed");
    assert!(
        matches!(&err, WriteError::Changed { file } if file.ends_with("b.tf")),
        "{err:?}"
    );
    assert_eq!(
        read(&first),
        "x = [\"0.0.0.0/0\"]\n",
        "a.tf is not written either"
    );
    assert_eq!(read(&second), "y = [\"0.0.0.0/0\"]\n# changed\n");

    // With b.tf as it was read, both are written.
    std::fs::write(&second, "y = [\"0.0.0.0/0\"]\n").unwrap();
    assert_eq!(write_files(&patches).unwrap(), ["a.tf", "b.tf"]);
    assert_eq!(read(&first), "x = [\"10.0.0.0/8\"]\n");
    assert_eq!(read(&second), "y = [\"10.0.0.0/8\"]\n");
}

// ---- usage errors ---------------------------------------------------------------------------

/// Runs portgate in an empty directory (no portgate.toml to supply trusted CIDRs).
fn portgate_in_empty_dir(args: &[&str]) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    check_case_in(
        cwd.path(),
        &fix_dir().join("inline_second_of_three"),
        args,
        &[],
    )
}

fn assert_one_line_error(out: &Output, wanted: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert_eq!(stderr.lines().count(), 1, "one line:\n{stderr}");
    assert!(stderr.starts_with("portgate: error: "), "{stderr}");
    assert!(stderr.contains(wanted), "{stderr}");
}

#[test]
fn diff_without_trusted_cidrs_is_a_usage_error() {
    let out = portgate_in_empty_dir(&["--format", "diff"]);
    assert_one_line_error(&out, "--format diff needs trusted CIDRs");
    assert!(text(&out.stderr).contains("--trusted-cidr"));
    let out = portgate_in_empty_dir(&["--write"]);
    assert_one_line_error(&out, "--write needs trusted CIDRs");
}

#[test]
fn patching_without_sources_is_a_usage_error() {
    for (flag, wanted) in [
        ("--write", "--write patches the Terraform sources"),
        (
            "--format=diff",
            "--format diff patches the Terraform sources",
        ),
    ] {
        let plan = fix_dir().join("inline_second_of_three/plan.json");
        let out = run::portgate(&[
            "check",
            plan.to_str().unwrap(),
            "--trusted-cidr",
            "10.0.0.0/8",
            "--no-source",
            flag,
        ]);
        assert_one_line_error(&out, wanted);
    }
}

#[test]
fn the_world_is_not_a_trusted_cidr() {
    for world in ["0.0.0.0/0", "::/0"] {
        let out = portgate_in_empty_dir(&["--format", "diff", "--trusted-cidr", world]);
        assert_one_line_error(
            &out,
            &format!("--trusted-cidr {world}: the world cannot be trusted"),
        );
    }
}

// ---- the cases themselves -----------------------------------------------------------------

#[test]
fn every_case_directory_is_complete_and_tested() {
    let this_file = include_str!("fix.rs");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(fix_dir()).unwrap() {
        let entry = entry.unwrap();
        assert!(
            entry.file_type().unwrap().is_dir(),
            "testdata/fix holds only case directories, not {:?}",
            entry.file_name()
        );
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = entry.path();
        for file in ["case.toml", "plan.json", "expected.patch"] {
            assert!(dir.join(file).is_file(), "{name}: {file} is missing");
        }
        load_spec(&dir);
        let plan: Value = serde_json::from_str(&read(&dir.join("plan.json")))
            .unwrap_or_else(|e| panic!("{name}: plan.json: {e}"));
        assert_eq!(
            plan["format_version"], "1.2",
            "{name}: a Terraform 1.9 plan"
        );
        assert!(
            plan["configuration"]["root_module"].is_object(),
            "{name}: plan.json carries the configuration"
        );
        let call = format!("case(\"{name}\")");
        assert!(
            this_file.contains(&call),
            "{name}: no test in tests/fix.rs calls {call}"
        );
        names.push(name);
    }
    assert!(names.len() >= 11, "the cases are there: {names:?}");
}

#[test]
fn a_variable_that_also_feeds_a_public_rule_is_not_narrowed() {
    case("variable_read_by_public_rule");
}

#[test]
fn a_module_called_twice_gets_only_the_finding_calls_argument_patched() {
    case("module_called_twice");
}

#[test]
fn a_static_block_is_patched_and_a_dynamic_ones_rule_is_never_taken_for_it() {
    case("static_and_dynamic");
}

#[test]
fn a_block_that_keeps_self_as_a_source_is_kept() {
    let run = case("self_source");
    let patched = run
        .stdout
        .lines()
        .filter(|l| l.starts_with('-') && !l.starts_with("---"));
    assert_eq!(patched.count(), 1, "only the cidr_blocks line changes");
}

#[test]
fn a_rule_argument_an_override_file_sets_is_patched_there() {
    let run = case("override_rule_arguments");
    assert_eq!(patched_files(&run.stdout), ["main_override.tf"]);
}

#[test]
fn the_tfvars_file_that_wins_among_auto_tfvars_is_patched() {
    let run = case("auto_tfvars_order");
    assert_eq!(patched_files(&run.stdout), ["b.auto.tfvars.json"]);
}

#[test]
fn a_variable_also_read_by_a_resource_portgate_does_not_derive_is_not_patched() {
    case("variable_read_by_other_resource");
}

/// `portgate check CASE/plan.json --source CASE --format diff --trusted-cidr 10.0.0.0/8` with
/// one more environment variable.
fn check_with_env(case_name: &str, key: &str, value: &str) -> Output {
    let args: Vec<String> = ["--trusted-cidr", "10.0.0.0/8", "--format", "diff"]
        .map(String::from)
        .to_vec();
    portgate_check_env(&fix_dir().join(case_name), &args, &[(key, value)])
}

#[test]
fn a_tf_var_environment_value_beats_the_default_and_is_not_patched() {
    // Terraform reads TF_VAR_smb_clients over the variable's default: the default is not what
    // the plan used, so patching it would change nothing.
    let out = check_with_env("variable_default", "TF_VAR_smb_clients", "[\"0.0.0.0/0\"]");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains(
            "var.smb_clients is set by the TF_VAR_smb_clients environment variable; change it there"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn terraform_tfvars_beats_a_tf_var_environment_value() {
    // terraform.tfvars comes after TF_VAR_ in Terraform's precedence: it is still the file to
    // patch.
    let out = check_with_env("tfvars_value", "TF_VAR_smb_clients", "[\"10.9.0.0/16\"]");
    assert_eq!(
        text(&out.stdout),
        read(&fix_dir().join("tfvars_value/expected.patch")),
        "{}",
        text(&out.stderr)
    );
}

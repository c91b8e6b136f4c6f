//! The command line as users see it: text and JSON output, colors, exit codes, policies.

#[path = "common/run.rs"]
mod run;

use assert_cmd::Command;
use clap::Parser;
use portgate::cli::{Cli, Streams, Terminal, run};

/// A plan with one world-open SMB rule and one safe HTTPS rule.
const PLAN: &str = r#"{
  "format_version": "1.2",
  "terraform_version": "1.9.5",
  "planned_values": {"root_module": {}},
  "resource_changes": [
    {
      "address": "aws_security_group.files",
      "mode": "managed",
      "type": "aws_security_group",
      "name": "files",
      "change": {
        "actions": ["create"],
        "before": null,
        "after": {
          "ingress": [
            {"cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [], "from_port": 445, "to_port": 445,
             "protocol": "tcp", "prefix_list_ids": [], "security_groups": [], "self": false, "description": ""}
          ]
        },
        "after_unknown": {"ingress": [{"cidr_blocks": [false]}]}
      }
    },
    {
      "address": "aws_vpc_security_group_ingress_rule.rdp",
      "mode": "managed",
      "type": "aws_vpc_security_group_ingress_rule",
      "name": "rdp",
      "change": {
        "actions": ["no-op"],
        "before": {},
        "after": {"ip_protocol": "tcp", "from_port": 3389, "to_port": 3389, "cidr_ipv4": "0.0.0.0/0",
                  "cidr_ipv6": null, "prefix_list_id": null, "referenced_security_group_id": null},
        "after_unknown": {}
      }
    }
  ]
}"#;

fn write_plan(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

use run::{portgate, portgate_in};

#[test]
fn text_output_shows_rule_severity_address_traffic_why_and_fix() {
    let plan = write_plan(PLAN);
    let out = portgate(&["check", plan.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    for part in [
        "PG002 SMB open to the world [critical] aws_security_group.files",
        "aws_security_group (create), ingress[0]",
        "allows tcp 445 from 0.0.0.0/0",
        "why: SMB over TCP 445",
        "fix: Replace 0.0.0.0/0",
        "resource_changes[0].change.after.ingress[0]",
    ] {
        assert!(text.contains(part), "missing {part:?} in:\n{text}");
    }
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("portgate: FAILED, 1 finding (1 critical), 1 blocking: 2 security group resources checked"),
        "{last}"
    );
    assert!(!text.contains('\u{1b}'), "no color when piped");
}

#[test]
fn a_passing_run_never_says_fail() {
    let plan = write_plan(&PLAN.replace("\"0.0.0.0/0\"], \"ipv6", "\"10.0.0.0/8\"], \"ipv6"));
    let out = portgate(&["check", plan.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("portgate: passed,"), "{text}");
    assert!(!text.to_lowercase().contains("fail"), "{text}");
}

#[test]
fn json_output_has_the_documented_shape() {
    let plan = write_plan(PLAN);
    let out = portgate(&["check", "--format", "json", plan.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["portgate_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["plan"]["format_version"], "1.2");
    assert_eq!(doc["plan"]["terraform_version"], "1.9.5");
    let f = &doc["findings"][0];
    for (key, value) in [
        ("rule_id", serde_json::json!("PG002")),
        ("title", serde_json::json!("SMB open to the world")),
        ("severity", serde_json::json!("critical")),
        ("address", serde_json::json!("aws_security_group.files")),
        ("resource_type", serde_json::json!("aws_security_group")),
        ("block", serde_json::json!("ingress[0]")),
        ("protocol", serde_json::json!("tcp")),
        ("from_port", serde_json::json!(445)),
        ("to_port", serde_json::json!(445)),
        ("cidr", serde_json::json!("0.0.0.0/0")),
        ("family", serde_json::json!("ipv4")),
        ("ports", serde_json::json!(["tcp/445"])),
        ("fails_gate", serde_json::json!(true)),
    ] {
        assert_eq!(f[key], value, "field {key}");
    }
    assert!(f["message"].as_str().unwrap().contains("SMB (tcp/445)"));
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1);
    assert_eq!(doc["summary"]["resources_scanned"], 2);
    assert_eq!(doc["summary"]["findings"], 1);
    assert_eq!(doc["summary"]["result"], "fail");
}

#[test]
fn stdin_is_read_with_dash() {
    let out = Command::cargo_bin("portgate")
        .unwrap()
        .args(["check", "-", "--format", "json"])
        .write_stdin(PLAN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["plan"]["file"], "-");
}

#[test]
fn fail_on_critical_still_fails_on_critical_findings_and_only_changes_keeps_creates() {
    let plan = write_plan(PLAN);
    let path = plan.path().to_str().unwrap();
    assert_eq!(
        portgate(&["check", path, "--fail-on", "critical"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        portgate(&["check", path, "--only-changes"]).status.code(),
        Some(1)
    );
}

/// An RDP policy of the user's own, in the documented format.
const RDP_POLICY: &str = r#"
id = "ACME001"
name = "rdp-open-to-world"
title = "RDP open to the world"
severity = "high"
summary = "RDP reachable from the internet."
rationale = "Brute force and BlueKeep."
remediation = "Use a bastion or SSM."
references = ["https://example.com/rdp"]
[[ports]]
protocol = "tcp"
from = 3389
to = 3389
"#;

#[test]
fn a_user_policy_dir_adds_a_policy_with_its_own_severity() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rdp.toml"), RDP_POLICY).unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let plan = write_plan(PLAN);
    let path = plan.path().to_str().unwrap();

    let out = portgate(&["check", path, "--format", "json", "--policy-dir", dir_arg]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<(&str, &str)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap(),
                f["address"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("PG002", "aws_security_group.files"),
            ("ACME001", "aws_vpc_security_group_ingress_rule.rdp")
        ]
    );
    // The RDP rule is a no-op and high, not critical.
    assert_eq!(
        portgate(&[
            "check",
            path,
            "--policy-dir",
            dir_arg,
            "--fail-on",
            "critical",
            "--format",
            "json"
        ])
        .status
        .code(),
        Some(1)
    );
    let only = portgate(&[
        "check",
        path,
        "--policy-dir",
        dir_arg,
        "--only-changes",
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&only.stdout).unwrap();
    assert_eq!(
        doc["findings"].as_array().unwrap().len(),
        1,
        "no-op RDP rule dropped"
    );

    let listed =
        String::from_utf8(portgate(&["policies", "--policy-dir", dir_arg]).stdout).unwrap();
    assert!(listed.contains("ACME001"), "{listed}");
    assert!(listed.contains("tcp/3389"), "{listed}");
    assert!(listed.contains("rdp.toml"), "{listed}");
}

#[test]
fn policies_lists_builtins_and_engine_diagnostics() {
    let out = portgate(&["policies"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for id in ["PG001", "PG002", "PG003", "PG004"] {
        assert!(text.contains(id), "{text}");
    }
    assert!(text.contains("tcp/137-139,udp/137-139"));
    let json = portgate(&["policies", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc[0]["id"], "PG001");
    assert_eq!(doc[1]["ports"][0]["protocol"], "tcp");
    assert_eq!(doc[1]["ports"][0]["range"]["from"], 445);
}

fn run_in_process(args: &[&str], terminal: Terminal) -> (u8, String) {
    let cli = Cli::try_parse_from(args).unwrap();
    let mut out = Vec::new();
    let streams = Streams {
        stdin: &mut std::io::empty(),
        stdout: &mut out,
        stderr: &mut std::io::sink(),
    };
    let code = run(cli, streams, terminal).unwrap();
    (code, String::from_utf8(out).unwrap())
}

#[test]
fn color_follows_terminal_no_color_and_the_flag() {
    let plan = write_plan(PLAN);
    let path = plan.path().to_str().unwrap();
    let tty = Terminal {
        stdout_is_terminal: true,
        no_color: false,
        ..Terminal::default()
    };
    let (_, colored) = run_in_process(&["portgate", "check", path], tty.clone());
    assert!(colored.contains('\u{1b}'), "a terminal gets color");
    let no_color = Terminal {
        stdout_is_terminal: true,
        no_color: true,
        ..Terminal::default()
    };
    let (_, plain) = run_in_process(&["portgate", "check", path], no_color.clone());
    assert!(!plain.contains('\u{1b}'), "NO_COLOR wins in auto mode");
    let (_, forced) = run_in_process(&["portgate", "check", "--color", "always", path], no_color);
    assert!(forced.contains('\u{1b}'), "--color always forces color");
    let (_, never) = run_in_process(&["portgate", "check", "--color", "never", path], tty);
    assert!(!never.contains('\u{1b}'));
}

#[test]
fn fail_on_sets_the_lowest_blocking_severity() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rdp.toml"), RDP_POLICY).unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    // Only the high-severity RDP finding remains.
    let plan = write_plan(&PLAN.replace("\"0.0.0.0/0\"], \"ipv6", "\"10.0.0.0/8\"], \"ipv6"));
    let path = plan.path().to_str().unwrap();
    let code = |fail_on: &str| {
        portgate(&["check", path, "--policy-dir", dir_arg, "--fail-on", fail_on])
            .status
            .code()
    };
    assert_eq!(code("critical"), Some(0));
    assert_eq!(code("high"), Some(1));
    assert_eq!(code("any"), Some(1));
    let out = portgate(&[
        "check",
        path,
        "--policy-dir",
        dir_arg,
        "--fail-on",
        "critical",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("(warning, does not block)"), "{text}");
    assert!(!text.to_lowercase().contains("fail"), "{text}");
}

#[test]
fn an_errored_plan_passes_only_with_a_visible_warning() {
    let plan = write_plan(
        r#"{"format_version":"1.2","applyable":false,"complete":false,"errored":true,
            "planned_values":{"root_module":{}},"prior_state":{}}"#,
    );
    let path = plan.path().to_str().unwrap();
    let out = portgate(&["check", path]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("warning:") && text.contains("errored"),
        "{text}"
    );
    assert!(text.contains("marked incomplete"), "{text}");
    assert!(text.contains("passed with warnings"), "{text}");
    let json = portgate(&["check", "--format", "json", path]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["plan"]["errored"], true);
    assert_eq!(doc["plan"]["complete"], false);
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 2);
}

/// `testdata/fix/security_group_rule`: one world-open rule resource with its source.
fn rule_case() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fix/security_group_rule")
}

#[test]
fn without_trusted_cidrs_text_output_hints_at_the_flag() {
    let case = rule_case();
    let out = portgate(&[
        "check",
        case.join("plan.json").to_str().unwrap(),
        "--source",
        case.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("hint: pass --trusted-cidr CIDR"), "{text}");
    assert!(!text.contains("--- a/main.tf"), "{text}");
}

#[test]
fn with_trusted_cidrs_each_finding_shows_its_patch() {
    let case = rule_case();
    let out = portgate(&[
        "check",
        case.join("plan.json").to_str().unwrap(),
        "--source",
        case.to_str().unwrap(),
        "--trusted-cidr",
        "10.0.0.0/8",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("patch: main.tf (trusted: 10.0.0.0/8)"),
        "{text}"
    );
    assert!(
        text.contains("      -  cidr_blocks       = [\"0.0.0.0/0\"]"),
        "{text}"
    );
    assert!(
        text.contains("      +  cidr_blocks       = [\"10.0.0.0/8\"]"),
        "{text}"
    );
    assert!(!text.contains("hint:"), "{text}");
}

#[test]
fn trusted_cidrs_come_from_portgate_toml_and_the_flag_overrides_them() {
    let case = rule_case();
    let plan = case.join("plan.json");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("portgate.toml"),
        "trusted_cidrs = [\"192.168.0.0/16\"]\n",
    )
    .unwrap();
    let args = [
        "check",
        plan.to_str().unwrap(),
        "--source",
        case.to_str().unwrap(),
        "--format",
        "diff",
    ];
    let from_file = String::from_utf8(portgate_in(dir.path(), &args).stdout).unwrap();
    assert!(
        from_file.contains("+  cidr_blocks       = [\"192.168.0.0/16\"]"),
        "{from_file}"
    );

    let mut with_flag = args.to_vec();
    with_flag.extend(["--trusted-cidr", "172.16.0.0/12"]);
    let overridden = String::from_utf8(portgate_in(dir.path(), &with_flag).stdout).unwrap();
    assert!(
        overridden.contains("[\"172.16.0.0/12\"]") && !overridden.contains("192.168"),
        "{overridden}"
    );

    let other = tempfile::tempdir().unwrap();
    let explicit = dir.path().join("portgate.toml");
    let mut with_config = args.to_vec();
    with_config.extend(["--config", explicit.to_str().unwrap()]);
    let named = String::from_utf8(portgate_in(other.path(), &with_config).stdout).unwrap();
    assert!(named.contains("192.168.0.0/16"), "{named}");
}

#[test]
fn a_bad_portgate_toml_is_an_error_at_its_line() {
    let case = rule_case();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("portgate.toml"),
        "# settings\ntrusted_cidrs = [\"10.0.0.0/8\", \"::/0\"]\n",
    )
    .unwrap();
    let out = portgate_in(
        dir.path(),
        &["check", case.join("plan.json").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("portgate.toml:2:32:"), "{stderr}");
    assert!(stderr.contains("world"), "{stderr}");
    let missing = portgate_in(dir.path(), &["check", "x.json", "--config", "nope.toml"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn patches_are_colored_on_a_terminal() {
    let case = rule_case();
    let plan = case.join("plan.json");
    let tty = Terminal {
        stdout_is_terminal: true,
        no_color: false,
        ..Terminal::default()
    };
    let (_, text) = run_in_process(
        &[
            "portgate",
            "check",
            plan.to_str().unwrap(),
            "--source",
            case.to_str().unwrap(),
            "--trusted-cidr",
            "10.0.0.0/8",
        ],
        tty,
    );
    let added = text
        .lines()
        .find(|l| l.contains("+  cidr_blocks"))
        .expect("the patch is shown");
    assert!(
        added.contains("\u{1b}[32m"),
        "added lines are green: {added:?}"
    );
    let removed = text.lines().find(|l| l.contains("-  cidr_blocks")).unwrap();
    assert!(
        removed.contains("\u{1b}[31m"),
        "removed lines are red: {removed:?}"
    );
}

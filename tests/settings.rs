//! portgate.toml settings, waivers (file and tag), `portgate init`, `--output` and `--soft-fail`.
//!
//! Waiver expiry is tested with a fixed date (`--today`), never the system clock.

#[path = "common/run.rs"]
mod run;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn example_plan() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/plans/example.json")
}

/// Runs portgate in `dir` (where a portgate.toml may live).
use run::portgate_in;

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The finding of `rule_id` in a JSON report.
fn finding<'a>(doc: &'a Value, rule_id: &str) -> &'a Value {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == rule_id)
        .unwrap_or_else(|| panic!("no {rule_id} finding in {doc:#}"))
}

fn dir_with_config(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("portgate.toml"), config).unwrap();
    dir
}

const WAIVE_BOTH: &str = r#"
[[waiver]]
rule = "PG002"
address = "aws_security_group.file_share"
reason = "legacy share, VPN only; OPS-1"
expires = 2027-01-31

[[waiver]]
rule = "PG001"
address = "aws_security_group_rule.*"
reason = "being removed in OPS-2"
expires = "2026-12-01"
"#;

fn check_json(dir: &Path, today: &str) -> (Option<i32>, Value) {
    let plan = example_plan();
    let out = portgate_in(
        dir,
        &[
            "check",
            plan.to_str().unwrap(),
            "--format",
            "json",
            "--today",
            today,
        ],
    );
    (out.status.code(), json_of(&out))
}

#[test]
fn active_waivers_keep_findings_visible_but_not_blocking() {
    let dir = dir_with_config(WAIVE_BOTH);
    let (code, doc) = check_json(dir.path(), "2026-11-22");
    assert_eq!(code, Some(0), "{doc:#}");
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "waived findings are still reported");
    for f in findings {
        assert_eq!(f["waived"], true, "{f:#}");
        assert_eq!(f["fails_gate"], false);
        assert_eq!(f["waiver"]["expired"], false);
    }
    let pg002 = finding(&doc, "PG002");
    assert_eq!(pg002["waiver"]["reason"], "legacy share, VPN only; OPS-1");
    assert_eq!(pg002["waiver"]["expires"], "2027-01-31");
    let origin = pg002["waiver"]["origin"].as_str().unwrap();
    assert!(origin.ends_with("portgate.toml:2"), "{origin}");
    assert_eq!(doc["summary"]["waived"], 2);
    assert_eq!(doc["summary"]["result"], "pass");
}

#[test]
fn a_waiver_stops_waiving_the_day_after_it_expires_and_says_so() {
    let dir = dir_with_config(WAIVE_BOTH);
    // PG001's waiver ends on 2026-12-01: still active that day, expired the next.
    let (code, _) = check_json(dir.path(), "2026-12-01");
    assert_eq!(code, Some(0));
    let (code, doc) = check_json(dir.path(), "2026-12-02");
    assert_eq!(code, Some(1));
    let pg001 = finding(&doc, "PG001");
    assert_eq!(pg001["waived"], false);
    assert_eq!(pg001["fails_gate"], true);
    assert_eq!(pg001["waiver"]["expired"], true);
    let warnings: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("expired waiver") && w.contains("2026-12-01")),
        "{warnings:?}"
    );
    let plan = example_plan();
    let text = portgate_in(
        dir.path(),
        &["check", plan.to_str().unwrap(), "--today", "2026-12-02"],
    );
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("waiver expired on 2026-12-01"), "{text}");
    // The text report names where each applied waiver comes from.
    assert!(
        text.contains("waived until 2027-01-31 by ")
            && text.contains("portgate.toml:2: legacy share"),
        "{text}"
    );
}

#[test]
fn a_waiver_that_matches_nothing_is_reported_as_stale() {
    let dir = dir_with_config(
        "[[waiver]]\nrule = \"PG002\"\naddress = \"module.gone.*\"\nreason = \"old\"\nexpires = 2030-01-01\n",
    );
    let (code, doc) = check_json(dir.path(), "2026-11-22");
    assert_eq!(code, Some(1), "a stale waiver waives nothing");
    assert_eq!(doc["stale_waivers"][0]["address"], "module.gone.*");
    let warning = doc["warnings"][0].as_str().unwrap();
    assert!(warning.starts_with("stale waiver"), "{warning}");
}

/// A directory holding `plan.json`, whose world-open SG carries the `portgate:waive` tag `tag`.
fn tagged_plan_file(tag: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.json");
    std::fs::write(&plan, tagged_plan(tag)).unwrap();
    (dir, plan)
}

/// A plan whose world-open SG carries a `portgate:waive` tag.
fn tagged_plan(tag: &str) -> String {
    format!(
        r#"{{"format_version":"1.2","planned_values":{{"root_module":{{}}}},"resource_changes":[{{"address":"aws_security_group.files","mode":"managed",
        "type":"aws_security_group","name":"files","change":{{"actions":["create"],"after_unknown":{{}},
        "after":{{"tags":{{"portgate:waive":{tag:?},"Name":"files"}},"ingress":[{{"protocol":"tcp","from_port":445,
        "to_port":445,"cidr_blocks":["0.0.0.0/0"],"ipv6_cidr_blocks":[],"prefix_list_ids":[],"security_groups":[],
        "self":false}}]}}}}}}]}}"#
    )
}

#[test]
fn a_resource_tag_waives_like_a_config_waiver() {
    let (dir, plan) = tagged_plan_file("PG002: file share behind VPN, until 2027-01-31");
    let args = ["check", plan.to_str().unwrap(), "--format", "json"];
    let out = portgate_in(
        dir.path(),
        &[&args[..], &["--today", "2026-11-22"]].concat(),
    );
    assert_eq!(out.status.code(), Some(0));
    let doc = json_of(&out);
    assert_eq!(doc["findings"][0]["waived"], true);
    assert_eq!(
        doc["findings"][0]["waiver"]["origin"],
        "tag portgate:waive on aws_security_group.files"
    );
    let expired = portgate_in(
        dir.path(),
        &[&args[..], &["--today", "2027-02-01"]].concat(),
    );
    assert_eq!(expired.status.code(), Some(1));
}

#[test]
fn no_tag_waivers_ignores_waiver_tags_and_says_so() {
    let (dir, plan) = tagged_plan_file("PG002: file share behind VPN, until 2027-01-31");
    let out = portgate_in(
        dir.path(),
        &[
            "check",
            plan.to_str().unwrap(),
            "--format",
            "json",
            "--today",
            "2026-11-22",
            "--no-tag-waivers",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "the tag waives nothing");
    let doc = json_of(&out);
    assert_eq!(doc["findings"][0]["waived"], false);
    assert_eq!(doc["findings"][0]["fails_gate"], true);
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains(
            "tag portgate:waive on aws_security_group.files is ignored: waivers from tags are turned off (--no-tag-waivers)"
        ),
        "{warnings}"
    );
}

#[test]
fn max_waiver_days_ignores_and_reports_waivers_that_run_too_long() {
    // Config waivers: PG002 until 2027-01-31 (70 days after 2026-11-22), PG001 until 2026-12-01.
    let dir = dir_with_config(WAIVE_BOTH);
    let plan = example_plan();
    let run = |days: &str| {
        let out = portgate_in(
            dir.path(),
            &[
                "check",
                plan.to_str().unwrap(),
                "--format",
                "json",
                "--today",
                "2026-11-22",
                "--max-waiver-days",
                days,
            ],
        );
        (out.status.code(), json_of(&out))
    };
    let (code, doc) = run("70");
    assert_eq!(code, Some(0), "both within 70 days: {doc:#}");
    let (code, doc) = run("69");
    assert_eq!(code, Some(1), "the PG002 waiver is ignored");
    assert_eq!(finding(&doc, "PG002")["waived"], false);
    assert_eq!(finding(&doc, "PG001")["waived"], true);
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("PG002 on aws_security_group.file_share runs until 2027-01-31, more than 69 days from today (--max-waiver-days 69); it is ignored"),
        "{warnings}"
    );
    // A tag waiver is held to the same limit.
    let (tagged, tagged_file) = tagged_plan_file("PG002: file share behind VPN, until 2099-01-31");
    let out = portgate_in(
        tagged.path(),
        &[
            "check",
            tagged_file.to_str().unwrap(),
            "--today",
            "2026-11-22",
            "--max-waiver-days",
            "365",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_malformed_waiver_tag_waives_nothing_and_warns() {
    let (dir, plan) = tagged_plan_file("PG002 forever");
    let out = portgate_in(
        dir.path(),
        &["check", plan.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    let warning = doc["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("portgate:waive") && warning.contains("ignored"),
        "{warning}"
    );
}

#[test]
fn gate_settings_come_from_the_config_and_flags_override_them() {
    let plan = example_plan();
    let plan = plan.to_str().unwrap();
    let strict = dir_with_config("fail_on = \"critical\"\n");
    assert_eq!(
        portgate_in(strict.path(), &["check", plan]).status.code(),
        Some(1)
    );
    // A user policy dir from the config, relative to the config file, with a high RDP policy.
    let dir = dir_with_config(
        "policy_dirs = [\"custom\"]\nfail_on = \"critical\"\nonly_changes = true\nunknown = \"fail\"\n",
    );
    std::fs::create_dir(dir.path().join("custom")).unwrap();
    std::fs::write(
        dir.path().join("custom/https.toml"),
        "id = \"ACME443\"\nname = \"https\"\ntitle = \"HTTPS open\"\nseverity = \"low\"\nsummary = \"s\"\nrationale = \"r\"\nremediation = \"f\"\nports = [{ protocol = \"tcp\", from = 443, to = 443 }]\n",
    )
    .unwrap();
    let out = portgate_in(dir.path(), &["check", plan, "--format", "json"]);
    let doc = json_of(&out);
    let ids: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"ACME443"), "{ids:?}");
    let low = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "ACME443")
        .unwrap();
    assert_eq!(
        low["fails_gate"], false,
        "fail_on = critical from the config"
    );
    let overridden = portgate_in(
        dir.path(),
        &["check", plan, "--format", "json", "--fail-on", "low"],
    );
    let doc = json_of(&overridden);
    let low = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "ACME443")
        .unwrap();
    assert_eq!(low["fails_gate"], true, "--fail-on wins over the config");
}

#[test]
fn unknown_config_keys_are_errors_naming_the_key() {
    let dir = dir_with_config("trusted_cidrs = []\nfail-on = \"high\"\n");
    let plan = example_plan();
    let out = portgate_in(dir.path(), &["check", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("portgate.toml:2:1:") && stderr.contains("fail-on"),
        "{stderr}"
    );
}

#[test]
fn init_writes_a_commented_config_that_portgate_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out = portgate_in(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(0));
    let written = std::fs::read_to_string(dir.path().join("portgate.toml")).unwrap();
    assert!(written.contains("trusted_cidrs") && written.contains("[[waiver]]"));
    let again = portgate_in(dir.path(), &["init"]);
    assert_eq!(again.status.code(), Some(2), "never overwrites silently");
    assert_eq!(
        portgate_in(dir.path(), &["init", "--force"]).status.code(),
        Some(0)
    );
    // The written config is in effect, and trusts no network until the user writes one: the
    // patch only suggests the group's own VPC CIDR, to be confirmed.
    let plan = example_plan();
    let check = portgate_in(
        dir.path(),
        &["check", plan.to_str().unwrap(), "--format", "json"],
    );
    let doc = json_of(&check);
    assert_eq!(doc["findings"][0]["fix"]["vpc"], "aws_vpc.main", "{doc:#}");
    assert_eq!(
        doc["findings"][0]["fix"]["trusted_cidrs"][0],
        "10.40.0.0/16"
    );
    let edited = written
        .replace("# trusted_cidrs = [", "trusted_cidrs = [")
        .replace("#   \"10.0.0.0/8\",", "  \"10.0.0.0/8\",")
        .replace("# ]", "]");
    std::fs::write(dir.path().join("portgate.toml"), edited).unwrap();
    let check = portgate_in(
        dir.path(),
        &["check", plan.to_str().unwrap(), "--format", "json"],
    );
    let doc = json_of(&check);
    assert_eq!(doc["findings"][0]["fix"]["trusted_cidrs"][0], "10.0.0.0/8");
    assert!(doc["findings"][0]["fix"]["vpc"].is_null());
}

#[test]
fn output_writes_the_format_to_a_file_and_prints_text() {
    let dir = tempfile::tempdir().unwrap();
    let plan = example_plan();
    let file = dir.path().join("report.json");
    let out = portgate_in(
        dir.path(),
        &[
            "check",
            plan.to_str().unwrap(),
            "--format",
            "json",
            "--output",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("portgate: FAILED"), "{text}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["summary"]["findings"], 2);
}

#[test]
fn soft_fail_and_exit_zero_report_but_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let plan = example_plan();
    for flag in ["--soft-fail", "--exit-zero"] {
        let out = portgate_in(dir.path(), &["check", plan.to_str().unwrap(), flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert!(String::from_utf8(out.stdout).unwrap().contains("PG002"));
    }
    let bad = portgate_in(dir.path(), &["check", "missing.json", "--soft-fail"]);
    assert_eq!(bad.status.code(), Some(2), "errors still exit 2");
}

#[test]
fn trusted_cidrs_that_together_cover_a_family_are_refused() {
    let plan = example_plan();
    let plan = plan.to_str().unwrap();
    let empty = tempfile::tempdir().unwrap();
    for (a, b, family) in [
        ("0.0.0.0/1", "128.0.0.0/1", "IPv4"),
        ("::/1", "8000::/1", "IPv6"),
    ] {
        let out = portgate_in(
            empty.path(),
            &["check", plan, "--trusted-cidr", a, "--trusted-cidr", b],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("{a}, {b} together cover all of {family}")),
            "{stderr}"
        );
        // The same from portgate.toml, with the file and line.
        let dir = dir_with_config(&format!(
            "fail_on = \"any\"\ntrusted_cidrs = [\"{a}\", \"{b}\"]\n"
        ));
        let out = portgate_in(dir.path(), &["check", plan]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("portgate.toml:2:") && stderr.contains("together cover all of"),
            "{stderr}"
        );
    }
    // The run task service refuses them at start, before it listens.
    let out = portgate_in(
        empty.path(),
        &[
            "serve",
            "--insecure-no-hmac",
            "--listen",
            "127.0.0.1:0",
            "--trusted-cidr",
            "0.0.0.0/1",
            "--trusted-cidr",
            "128.0.0.0/1",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("together cover all of IPv4"));
    // Three pieces cover it as well as two.
    let out = portgate_in(
        empty.path(),
        &[
            "check",
            plan,
            "--trusted-cidr=0.0.0.0/2",
            "--trusted-cidr=64.0.0.0/2",
            "--trusted-cidr=128.0.0.0/1",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_wide_public_trusted_cidr_is_warned_about_on_every_run() {
    let plan = example_plan();
    let empty = tempfile::tempdir().unwrap();
    let out = portgate_in(
        empty.path(),
        &[
            "check",
            plan.to_str().unwrap(),
            "--trusted-cidr=8.0.0.0/7",
            "--trusted-cidr=10.0.0.0/8",
            "--trusted-cidr=2000::/12",
            "--format=json",
        ],
    );
    let doc = json_of(&out);
    let warnings: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|w| w.starts_with("trusted CIDR"))
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("8.0.0.0/7 is public and wider than a /8"));
    assert!(warnings[1].contains("2000::/12 is public and wider than a /16"));
}

#[test]
fn fail_on_info_is_every_finding_like_any() {
    let plan = example_plan();
    let empty = tempfile::tempdir().unwrap();
    let out = portgate_in(
        empty.path(),
        &["check", plan.to_str().unwrap(), "--fail-on", "info"],
    );
    assert_eq!(out.status.code(), Some(1));
    let dir = dir_with_config("fail_on = \"info\"\n");
    let out = portgate_in(dir.path(), &["check", plan.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

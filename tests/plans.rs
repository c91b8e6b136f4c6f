//! The hand-written plans of `testdata/plans/`, one idea each, run through the built binary.
//!
//! Every `NAME.json` there has a `NAME.expect` beside it and at least one test here that calls
//! `assert_plan("NAME")`. An `.expect` file starts with `# ` comment lines saying what the plan
//! proves, then lists the findings of `portgate check --format json NAME.json`, sorted, one per
//! line as `RULE_ID ADDRESS BLOCK FAMILY` (`-` where the JSON has null), and ends with `exit N`,
//! the exit code with default options. Behaviour under other options is asserted in the tests.
//! A plan whose findings depend on its Terraform sources has them in the directory `NAME/`
//! (passed as `--source`); every other plan is checked with `--no-source`.

#[path = "common/run.rs"]
mod run;

use std::path::PathBuf;

use serde_json::Value;

fn plans_dir() -> PathBuf {
    run::root().join("testdata/plans")
}

/// One run of `portgate check --format json` on a plan of `testdata/plans`.
struct Run {
    /// The JSON report.
    json: Value,
    /// The findings as `.expect` lines, sorted, then `exit N`.
    lines: Vec<String>,
}

impl Run {
    fn findings(&self) -> &Vec<Value> {
        self.json["findings"]
            .as_array()
            .expect("`findings` is a list")
    }
}

fn run(name: &str, options: &[&str]) -> Run {
    let path = plans_dir().join(format!("{name}.json"));
    // A plan whose proof needs its Terraform sources has them in `NAME/`; the others are
    // checked with none, so no run depends on the directory the tests start in.
    let sources = plans_dir().join(name);
    let chosen = options
        .iter()
        .any(|o| o.starts_with("--source") || *o == "--no-source");
    let source_args: Vec<String> = if chosen {
        Vec::new()
    } else if sources.is_dir() {
        vec!["--source".into(), sources.display().to_string()]
    } else {
        vec!["--no-source".into()]
    };
    let mut args = vec!["check", "--format", "json"];
    args.extend(source_args.iter().map(String::as_str));
    args.extend(options);
    args.push(path.to_str().unwrap());
    let output = run::portgate(&args);
    let code = output
        .status
        .code()
        .expect("portgate exits with a code, not a signal");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{name}.json {options:?}: no JSON report on stdout ({e}); exit {code}\n\
             --- stderr\n{}--- stdout\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let mut lines: Vec<String> = json["findings"]
        .as_array()
        .expect("`findings` is a list")
        .iter()
        .map(finding_line)
        .collect();
    lines.sort();
    lines.push(format!("exit {code}"));
    Run { json, lines }
}

/// `RULE_ID ADDRESS BLOCK FAMILY`, with `-` for null.
fn finding_line(finding: &Value) -> String {
    let field = |key: &str| match &finding[key] {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => panic!("finding field `{key}` is not a string or null: {other}\n{finding:#}"),
    };
    format!(
        "{} {} {} {}",
        field("rule_id"),
        field("address"),
        field("block"),
        field("family")
    )
}

/// The expected lines of `NAME.expect`, without comments and blank lines.
fn expected(name: &str) -> Vec<String> {
    let path = plans_dir().join(format!("{name}.expect"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(String::from)
        .collect()
}

fn assert_lines(context: &str, want: &[String], got: &[String]) {
    assert!(
        want == got,
        "{context}\n--- expected\n{}\n--- actual\n{}\n",
        want.join("\n"),
        got.join("\n")
    );
}

/// Runs a plan with default options and compares it with its `.expect` file.
fn assert_plan(name: &str) -> Run {
    let run = run(name, &[]);
    assert_lines(
        &format!("{name}.json: findings and exit code differ from {name}.expect"),
        &expected(name),
        &run.lines,
    );
    run
}

/// Runs a plan with extra options and compares it with lines given inline.
fn assert_plan_with(name: &str, options: &[&str], want: &[&str]) -> Run {
    let run = run(name, options);
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    assert_lines(
        &format!("{name}.json {options:?}: unexpected findings or exit code"),
        &want,
        &run.lines,
    );
    run
}

// ---- protocols and ports -----------------------------------------------------------------------

#[test]
fn inline_tcp_445_from_anywhere_is_smb_exposure() {
    assert_plan("inline_smb_world");
}

#[test]
fn protocol_minus_one_opens_every_port() {
    assert_plan("protocol_minus_one");
}

#[test]
fn protocol_names_numbers_and_case_are_read_as_aws_reads_them() {
    assert_plan("protocol_spellings");
}

#[test]
fn all_ports_from_both_families_is_one_finding_per_policy_and_family() {
    assert_plan("all_ports_both_families");
}

#[test]
fn port_ranges_match_only_the_policies_they_overlap() {
    assert_plan("partial_port_ranges");
}

#[test]
fn reversed_or_missing_tcp_ports_open_nothing() {
    assert_plan("invalid_port_ranges");
}

#[test]
fn icmp_from_anywhere_has_no_ports_to_expose() {
    assert_plan("icmp_world");
}

// ---- resource types ----------------------------------------------------------------------------

#[test]
fn security_group_rule_type_decides_whether_it_is_ingress() {
    assert_plan("security_group_rule_direction");
}

#[test]
fn vpc_ingress_rules_all_traffic_and_ipv6_are_checked() {
    assert_plan("vpc_ingress_rules");
}

#[test]
fn default_security_group_inline_rules_are_checked() {
    assert_plan("default_security_group");
}

// ---- sources -----------------------------------------------------------------------------------

#[test]
fn the_world_is_found_by_coverage_not_by_string() {
    assert_plan("world_cidr_spellings");
}

#[test]
fn self_and_security_group_sources_never_excuse_a_block() {
    assert_plan("self_and_security_groups");
}

#[test]
fn a_known_world_cidr_beside_an_unknown_one_is_exposed() {
    assert_plan("partly_unknown_cidrs");
}

#[test]
fn an_unparseable_cidr_on_a_guarded_port_is_pg004() {
    assert_plan("invalid_cidr");
}

// ---- addresses and actions ---------------------------------------------------------------------

#[test]
fn nested_module_instances_are_reported_with_their_full_address() {
    assert_plan("modules_for_each");
}

#[test]
fn deleted_resources_are_not_checked() {
    assert_plan("delete_world_open");
}

#[test]
fn replaced_resources_are_checked_on_their_new_object() {
    let run = assert_plan("replace_world_open");
    for finding in run.findings() {
        assert_eq!(finding["action"], "replace", "{finding:#}");
    }
}

#[test]
fn deposed_objects_are_neither_checked_nor_double_counted() {
    let run = assert_plan("deposed_object");
    for finding in run.findings() {
        assert_eq!(
            finding["deposed"],
            Value::Null,
            "the finding is about the current object: {finding:#}"
        );
    }
}

#[test]
fn data_sources_are_not_checked() {
    let run = assert_plan("data_source");
    assert_eq!(
        run.json["summary"]["resources_scanned"], 1,
        "only the managed SG is scanned, not data.aws_security_group.legacy"
    );
}

#[test]
fn no_op_resources_are_reported_by_default() {
    let run = assert_plan("no_op_world_open");
    assert_eq!(run.findings()[0]["action"], "no-op");
}

#[test]
fn only_changes_skips_no_op_resources() {
    assert_plan_with("no_op_world_open", &["--only-changes"], &["exit 0"]);
}

#[test]
fn only_changes_keeps_resources_without_a_change_record() {
    // Only in planned_values: what the plan does to them is unknown, so they count as changes.
    assert_plan_with(
        "planned_values_only",
        &["--only-changes"],
        &[
            "PG002 aws_security_group.smb ingress[0] ipv4",
            "PG003 aws_security_group_rule.partner_smb - -",
            "exit 1",
        ],
    );
}

// ---- values unknown until apply ----------------------------------------------------------------

#[test]
fn an_unknown_cidr_is_a_warning_that_does_not_fail_the_gate() {
    let run = assert_plan("unknown_cidr");
    assert_eq!(run.findings()[0]["fails_gate"], false);
    assert_eq!(run.json["summary"]["result"], "pass");
}

#[test]
fn unknown_fail_makes_an_unknown_cidr_fail_the_gate() {
    let run = assert_plan_with(
        "unknown_cidr",
        &["--unknown=fail"],
        &["PG003 aws_security_group_rule.partner_smb - -", "exit 1"],
    );
    assert_eq!(run.findings()[0]["fails_gate"], true);
}

#[test]
fn unknown_ignore_hides_an_unknown_cidr() {
    assert_plan_with("unknown_cidr", &["--unknown=ignore"], &["exit 0"]);
}

#[test]
fn an_unknown_cidr_resolved_to_a_private_vpc_range_is_not_a_finding() {
    assert_plan("resolved_vpc_cidr");
}

#[test]
fn an_unknown_cidr_resolved_to_the_world_is_exposure_naming_the_reference() {
    let run = assert_plan("resolved_world_cidr");
    let message = run.findings()[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("aws_vpc.main.cidr_block"),
        "the message says where 0.0.0.0/0 came from: {message}"
    );
    // The plan alone cannot tell the reference from a conditional that records the same one.
    let run = self::run("resolved_world_cidr", &["--no-source"]);
    assert_eq!(
        run.lines,
        [
            "PG003 aws_security_group.files - -",
            "PG003 aws_security_group_rule.smb_from_vpc - -",
            "exit 0"
        ]
    );
    let message = run.findings()[1]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("cidr_blocks[0] is likely aws_vpc.main.cidr_block = 0.0.0.0/0, but portgate had no Terraform sources"),
        "{message}"
    );
}

#[test]
fn unknown_port_bounds_are_pg003_only_where_a_guarded_port_is_reachable() {
    assert_plan("partly_unknown_ports");
}

#[test]
fn pg003_names_only_the_policies_a_partly_unknown_range_can_reach() {
    let run = run("partly_unknown_ports", &[]);
    let related = |name: &str| -> Vec<String> {
        let address = format!("aws_vpc_security_group_ingress_rule.{name}");
        let finding = run
            .findings()
            .iter()
            .find(|f| f["address"] == address.as_str())
            .unwrap_or_else(|| panic!("no finding for {address}"));
        serde_json::from_value(finding["related"].clone()).expect("`related` is a list of ids")
    };
    // A valid range starts at from_port and ends at or after it (AWS rejects anything else), so
    // tcp 445-? can only reach SMB and udp ?-139 can only reach NetBIOS.
    assert_eq!(
        related("smb_to_unknown"),
        ["PG002"],
        "tcp 445-(unknown) cannot reach NetBIOS"
    );
    assert_eq!(
        related("netbios_from_unknown"),
        ["PG001"],
        "udp (unknown)-139 cannot reach SMB"
    );
}

#[test]
fn wholly_unknown_ingress_is_reported_unless_the_sources_show_no_inline_rules() {
    assert_plan("computed_ingress");
    let run = self::run("computed_ingress", &["--no-source"]);
    assert_eq!(
        run.lines,
        [
            "PG003 aws_security_group.from_locals - -",
            "PG003 aws_security_group.rules_elsewhere - -",
            "exit 0"
        ]
    );
    let message = run.findings()[1]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("dynamic \"ingress\"") && message.contains("--source DIR"),
        "the message says what the plan cannot show and how to settle it: {message}"
    );
}

#[test]
fn a_dynamic_ingress_block_is_never_proven_empty_by_the_configuration() {
    let run = assert_plan("dynamic_ingress");
    let message = |address: &str| {
        run.findings()
            .iter()
            .find(|f| f["address"] == address)
            .and_then(|f| f["message"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        message("aws_security_group.dynamic_only")
            .contains("main.tf:13 writes its inline rules with `dynamic \"ingress\"`")
    );
    assert!(message("aws_security_group.static_and_dynamic").contains(
        "cidr_blocks[0] is likely aws_vpc.main.cidr_block = 10.0.0.0/16, but main.tf:29 does not write every inline rule as a static `ingress` block"
    ));
}

#[test]
fn an_expression_that_only_references_a_value_is_not_resolved_to_it() {
    let run = assert_plan("expression_not_a_reference");
    let messages: Vec<&str> = run
        .findings()
        .iter()
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(
        messages[0].contains(
            "`cidr_blocks` at main.tf:15 is not written as just `aws_vpc.main.cidr_block`"
        ),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains("its security_group_id likely refers to aws_security_group.files.id, but `security_group_id` at main.tf:25 is not written as a plain reference"),
        "{}",
        messages[1]
    );
}

#[test]
fn sources_edited_after_the_plan_prove_nothing() {
    let run = assert_plan("sources_edited_after_plan");
    let message = run.findings()[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("the sources do not match the plan (`cidr_blocks` at main.tf:14 is a literal, the plan records an expression)"),
        "{message}"
    );
}

#[test]
fn a_rule_left_with_no_source_is_shown_removed_in_the_suggestion_too() {
    assert_plan("ipv6_only_world");
    let run = self::run("ipv6_only_world", &["--trusted-cidr", "10.0.0.0/8"]);
    let fix = &run.findings()[0]["fix"];
    assert_eq!(fix["kind"], "suggestion", "{fix:#}");
    let patch = fix["patch"].as_str().unwrap();
    assert!(
        patch.contains("+  # this rule is removed: no source is left"),
        "{patch}"
    );
    assert!(
        fix["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "no source is left in aws_security_group_rule.v6only, so the whole resource is removed"),
        "{fix:#}"
    );
}

#[test]
fn without_trusted_cidrs_the_groups_own_vpc_cidrs_are_suggested() {
    let run = assert_plan("vpc_cidrs");
    let fix = |address: &str| {
        run.findings()
            .iter()
            .find(|f| f["address"] == address)
            .map(|f| f["fix"].clone())
            .unwrap()
    };
    for (address, vpc, cidrs) in [
        (
            "aws_security_group.app",
            "aws_vpc.main",
            vec!["10.40.0.0/16", "10.41.0.0/16"],
        ),
        (
            "aws_default_security_group.default",
            "aws_default_vpc.default",
            vec!["172.31.0.0/16"],
        ),
        (
            "aws_security_group.shared",
            "data.aws_vpc.shared",
            vec!["10.50.0.0/16", "10.51.0.0/16"],
        ),
    ] {
        let fix = fix(address);
        assert_eq!(fix["vpc"], vpc, "{fix:#}");
        assert_eq!(fix["trusted_cidrs"], serde_json::json!(cidrs), "{fix:#}");
        let label = format!("is the VPC's own CIDR ({vpc}) — confirm before applying");
        assert!(
            fix["notes"][0].as_str().unwrap().contains(&label),
            "{fix:#}"
        );
    }
    assert!(fix("aws_security_group.elsewhere").is_null());
    // A trusted CIDR given: it is used, and the VPC's only with `--trusted-cidr vpc`.
    let run = self::run("vpc_cidrs", &["--trusted-cidr", "192.168.0.0/16"]);
    let fix = &run.findings()[1]["fix"];
    assert_eq!(
        fix["trusted_cidrs"],
        serde_json::json!(["192.168.0.0/16"]),
        "{fix:#}"
    );
    assert!(fix["vpc"].is_null());
    let run = self::run(
        "vpc_cidrs",
        &["--trusted-cidr", "192.168.0.0/16", "--trusted-cidr", "vpc"],
    );
    let fix = &run.findings()[1]["fix"];
    assert_eq!(
        fix["trusted_cidrs"],
        serde_json::json!(["192.168.0.0/16", "10.40.0.0/16", "10.41.0.0/16"]),
        "{fix:#}"
    );
}

#[test]
fn registry_modules_are_read_where_terraform_init_put_them() {
    assert_plan("registry_modules");
    // Without .terraform/modules/modules.json nothing says where the modules are.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(
        plans_dir().join("registry_modules/main.tf"),
        copy.path().join("main.tf"),
    )
    .unwrap();
    let source = copy.path().display().to_string();
    let run = self::run("registry_modules", &["--source", &source]);
    assert_eq!(
        run.lines,
        [
            "PG003 module.dyn.aws_security_group.this - -",
            "PG003 module.files.aws_security_group.this - -",
            "exit 0"
        ]
    );
    let message = run.findings()[1]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(
            "module.files is not a local module and there is no .terraform/modules/modules.json"
        ),
        "{message}"
    );
}

#[test]
fn a_rule_keyed_by_count_index_joins_the_group_instance_of_its_own_index() {
    assert_plan("count_keyed_rules");
    // Without the sources the plan shows only `aws_security_group.shard` and `count.index`:
    // each half-world rule's group is unknown, so each is PG003, never a pass (and so are the
    // groups, whose inline rules nothing proves empty).
    let run = self::run("count_keyed_rules", &["--no-source"]);
    let (exit, findings) = run.lines.split_last().unwrap();
    assert_eq!(exit, "exit 0");
    assert_eq!(findings.len(), 6, "{findings:?}");
    assert!(
        findings.iter().all(|l| l.starts_with("PG003 ")),
        "{findings:?}"
    );
}

#[test]
fn a_wholly_unknown_ingress_element_is_pg003_beside_the_known_ones() {
    assert_plan("ingress_element_unknown");
}

#[test]
fn a_world_split_across_the_rules_of_one_group_is_reported_on_each_of_them() {
    let run = assert_plan("group_union");
    let finding = |address: &str| {
        run.findings()
            .iter()
            .find(|f| f["address"] == address && f["rule_id"] != "PG003")
            .unwrap_or_else(|| panic!("no finding for {address}"))
            .clone()
    };
    // Each finding names the rules that complete the cover, and only the ports they cover
    // together.
    let rest = finding("aws_security_group_rule.netbios_rest");
    assert_eq!(rest["ports"], serde_json::json!(["udp/138"]));
    assert_eq!(
        rest["related"],
        serde_json::json!(["aws_security_group.netbios ingress[0]"])
    );
    let message = rest["message"].as_str().unwrap();
    assert!(
        message.contains("AWS allows the union of a group's rules"),
        "{message}"
    );
    let low = finding("aws_vpc_security_group_ingress_rule.foreign_low");
    assert!(
        low["message"]
            .as_str()
            .unwrap()
            .contains("of the same security group (sg-0f0f0f0f0f0f0f0f0)"),
        "{low:#}"
    );
}

#[test]
fn prefix_lists_of_the_plan_count_as_sources_and_others_are_named_as_not_checked() {
    let run = assert_plan("prefix_lists");
    let message = |address: &str| {
        run.findings()
            .iter()
            .find(|f| f["address"] == address)
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let via_list = message("aws_security_group_rule.via_list");
    assert!(
        via_list.contains("0.0.0.0/0 is an entry of prefix list aws_ec2_managed_prefix_list.open"),
        "{via_list}"
    );
    let warnings = run.json["warnings"].to_string();
    assert!(
        warnings.contains(
            "prefix list pl-63a5400a (a source of aws_security_group_rule.aws_managed) is not in the plan: its entries are not checked"
        ),
        "{warnings}"
    );
}

#[test]
fn a_change_whose_whole_planned_state_is_unknown_is_pg003_and_fails_under_unknown_fail() {
    let run = assert_plan("whole_state_unknown");
    for finding in run.findings() {
        assert!(
            finding["message"]
                .as_str()
                .unwrap()
                .contains("its whole planned state is unknown until apply"),
            "{finding:#}"
        );
    }
    assert_plan_with(
        "whole_state_unknown",
        &["--unknown", "fail"],
        &[
            "PG003 aws_security_group.deferred - -",
            "PG003 aws_security_group_rule.deferred - -",
            "PG003 aws_vpc_security_group_ingress_rule.deferred - -",
            "exit 1",
        ],
    );
}

// ---- file formats ------------------------------------------------------------------------------

#[test]
fn a_terraform_0_12_plan_is_read() {
    let run = assert_plan("format_0_1");
    assert_eq!(run.json["plan"]["format_version"], "0.1");
}

#[test]
fn planned_values_without_resource_changes_are_checked() {
    let run = assert_plan("planned_values_only");
    for finding in run.findings() {
        assert_eq!(finding["action"], "planned", "{finding:#}");
    }
}

/// Checks that a plan saved with a byte order mark still has it and reads like the plain UTF-8
/// `inline_smb_world.json` it was made from.
fn assert_same_as_plain_utf8(with_bom: &Run, name: &str, bom: &[u8]) {
    let bytes = std::fs::read(plans_dir().join(format!("{name}.json"))).unwrap();
    assert!(
        bytes.starts_with(bom),
        "{name}.json must keep its byte order mark {bom:02X?}; regenerate it rather than re-save it"
    );
    assert_lines(
        &format!("{name}.json: findings differ from inline_smb_world.json"),
        &run("inline_smb_world", &[]).lines,
        &with_bom.lines,
    );
}

#[test]
fn a_utf8_plan_with_a_bom_gives_the_same_findings() {
    let run = assert_plan("utf8_bom");
    assert_same_as_plain_utf8(&run, "utf8_bom", &[0xEF, 0xBB, 0xBF]);
}

#[test]
fn a_utf16le_plan_with_a_bom_gives_the_same_findings() {
    let run = assert_plan("utf16le_bom");
    assert_same_as_plain_utf8(&run, "utf16le_bom", &[0xFF, 0xFE]);
}

#[test]
fn the_readme_example_plan() {
    assert_plan("example");
}

// ---- the corpus itself -------------------------------------------------------------------------

/// Every plan has an `.expect` file in the documented format and a test above that checks it, so
/// nobody adds an unchecked plan.
#[test]
fn every_plan_has_an_expect_file_and_a_test() {
    let source = include_str!("plans.rs");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(plans_dir()).expect("testdata/plans exists") {
        let path = entry.unwrap().path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.is_dir() {
            assert!(
                path.with_extension("json").is_file(),
                "testdata/plans/{name}/ holds the sources of no plan"
            );
            continue;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => names.push(name.to_string()),
            Some("expect") => assert!(
                path.with_extension("json").is_file(),
                "{name}.expect has no {name}.json"
            ),
            _ => panic!(
                "unexpected file in testdata/plans: {} (only NAME.json, NAME.expect and NAME/)",
                path.display()
            ),
        }
    }
    assert!(!names.is_empty(), "testdata/plans has no plans");
    names.sort();
    let mut problems = Vec::new();
    for name in &names {
        let expect_path = plans_dir().join(format!("{name}.expect"));
        let Ok(text) = std::fs::read_to_string(&expect_path) else {
            problems.push(format!("{name}.json has no {name}.expect"));
            continue;
        };
        if !text.starts_with("# ") {
            problems.push(format!(
                "{name}.expect must start with a `# ` line saying what the plan proves"
            ));
        }
        let lines = expected(name);
        match lines.split_last() {
            Some((last, findings)) if last.starts_with("exit ") => {
                if !findings.is_sorted() {
                    problems.push(format!("{name}.expect: finding lines are not sorted"));
                }
                if let Some(bad) = findings
                    .iter()
                    .find(|l| l.split(' ').count() != 4 || l.starts_with("exit "))
                {
                    problems.push(format!(
                        "{name}.expect: `{bad}` is not `RULE_ID ADDRESS BLOCK FAMILY`"
                    ));
                }
            }
            _ => problems.push(format!("{name}.expect must end with an `exit N` line")),
        }
        if !source.contains(&format!("assert_plan(\"{name}\")")) {
            problems.push(format!(
                "{name}.json is not checked by any test: add one calling assert_plan(\"{name}\")"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

//! `--format gitlab`: a GitLab Code Quality report whose fingerprints are SARIF's (issue 19).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `portgate check ARGS --format FORMAT` from the repository root, as JSON.
fn report(format: &str, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_portgate"))
        .args(["check"])
        .args(args)
        .args(["--format", format])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The issues, after checking each has exactly the fields GitLab reads, of the right types.
fn issues(args: &[&str]) -> Vec<Value> {
    let doc = report("gitlab", args);
    let issues = doc.as_array().expect("a JSON array").clone();
    for issue in &issues {
        let keys: Vec<&str> = issue
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "check_name",
                "description",
                "fingerprint",
                "location",
                "severity"
            ],
            "{issue}"
        );
        assert!(issue["description"].as_str().is_some_and(|d| d.len() > 20));
        assert!(
            issue["check_name"]
                .as_str()
                .is_some_and(|c| c.starts_with("PG"))
        );
        assert!(
            ["info", "minor", "major", "critical", "blocker"]
                .contains(&issue["severity"].as_str().unwrap()),
            "{issue}"
        );
        assert!(
            issue["location"]["path"]
                .as_str()
                .is_some_and(|p| !p.is_empty())
        );
        assert!(
            issue["location"]["lines"]["begin"]
                .as_u64()
                .is_some_and(|l| l >= 1)
        );
    }
    issues
}

/// SARIF's results in order: (fingerprint, level-independent location path, start line).
fn sarif_results(args: &[&str]) -> Vec<(String, String, u64, bool)> {
    let doc = report("sarif", args);
    doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| {
            let location = &result["locations"][0]["physicalLocation"];
            (
                result["partialFingerprints"]["portgate/v1"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                location["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                location["region"]["startLine"].as_u64().unwrap(),
                result["suppressions"].is_array(),
            )
        })
        .collect()
}

#[test]
fn issues_match_sarif_results_fingerprint_for_fingerprint() {
    let cases: [&[&str]; 4] = [
        &["testdata/plans/example.json"],
        &[
            "testdata/plans/group_union.json",
            "--source",
            "testdata/plans/group_union",
        ],
        &[
            "testdata/plans/dynamic_ingress.json",
            "--source",
            "testdata/plans/dynamic_ingress",
        ],
        &["testdata/plans/modules_for_each.json"],
    ];
    let mut from_sources = 0;
    for args in cases {
        let issues = issues(args);
        let sarif: Vec<_> = sarif_results(args)
            .into_iter()
            .filter(|(_, _, _, suppressed)| !suppressed)
            .collect();
        assert_eq!(issues.len(), sarif.len(), "{args:?}");
        assert!(!issues.is_empty(), "{args:?}");
        for (issue, (fingerprint, uri, line, _)) in issues.iter().zip(&sarif) {
            assert_eq!(issue["fingerprint"], fingerprint.as_str(), "{args:?}");
            // SARIF's source URIs are relative to %SRCROOT%, the working directory.
            assert_eq!(issue["location"]["path"], uri.as_str(), "{args:?}");
            assert_eq!(issue["location"]["lines"]["begin"], *line, "{args:?}");
            if uri.ends_with(".tf") {
                from_sources += 1;
            } else {
                assert!(uri.ends_with(".json"), "{uri}");
            }
        }
        // The same run again: the same fingerprints (no line, no time in them).
        assert_eq!(issues, self::issues(args), "{args:?}");
    }
    assert!(from_sources > 0, "some issues point at the .tf line");
}

#[test]
fn severities_map_to_gitlabs_names() {
    use portgate::policy::Severity;
    use portgate::report::gitlab::severity;
    assert_eq!(severity(Severity::Info), "info");
    assert_eq!(severity(Severity::Low), "minor");
    assert_eq!(severity(Severity::Medium), "major");
    assert_eq!(severity(Severity::High), "critical");
    assert_eq!(severity(Severity::Critical), "blocker");
    // PG001/PG002 are critical, PG003 medium.
    let issues = issues(&["testdata/plans/partly_unknown_cidrs.json"]);
    for issue in &issues {
        let expected = match issue["check_name"].as_str().unwrap() {
            "PG001" | "PG002" => "blocker",
            "PG003" => "major",
            other => panic!("{other}"),
        };
        assert_eq!(issue["severity"], expected, "{issue}");
    }
}

#[test]
fn waived_findings_are_left_out_and_a_clean_plan_gives_an_empty_list() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portgate.toml");
    std::fs::write(
        &config,
        "[[waiver]]\nrule = \"PG002\"\naddress = \"aws_security_group.file_share\"\nreason = \"behind the VPN\"\nexpires = 2099-01-31\n",
    )
    .unwrap();
    let all = issues(&["testdata/plans/example.json"]);
    let waived = issues(&[
        "testdata/plans/example.json",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(all.len(), 2);
    assert_eq!(waived.len(), 1);
    assert_eq!(waived[0]["check_name"], "PG001");
    // The sources prove the only rule safe: no finding, an empty report (not a missing one).
    let clean = report(
        "gitlab",
        &[
            "testdata/plans/resolved_vpc_cidr.json",
            "--source",
            "testdata/plans/resolved_vpc_cidr",
        ],
    );
    assert_eq!(clean, serde_json::json!([]));
}

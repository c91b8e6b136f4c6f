//! Runs portgate over every real `terraform show -json` plan in `../shared/testdata/real/` and
//! compares its findings with the ground truth there (`expected.json`, `expected_broad.json`).
//!
//! The files are read in place, never copied. Where `../shared` is absent (a user's own clone)
//! the test prints a notice and passes without checking anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use portgate::policy::{FindingKind, PolicySet};
use portgate::{CheckOptions, check};
use serde::Deserialize;

#[derive(Deserialize)]
struct Expected {
    address: String,
    port: u16,
    protocol: String,
    cidr: String,
}

fn real_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/real");
    if dir.join("expected.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "notice: {} not found; skipping the real-plan corpus tests",
            dir.display()
        );
        None
    }
}

fn load_expected(dir: &Path, name: &str) -> BTreeMap<String, Vec<Expected>> {
    let text = std::fs::read_to_string(dir.join(name)).expect("expected file is readable");
    serde_json::from_str(&text).expect("expected file is JSON")
}

/// Policy id of a strict/broad port, as the issue maps them: 137-139 → PG001, 445 → PG002.
fn policy_of(port: u16) -> &'static str {
    if port == 445 { "PG002" } else { "PG001" }
}

/// Expands `tcp/137-139` into (protocol, port) pairs.
fn expand(ports: &[String]) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for p in ports {
        let (protocol, range) = p.split_once('/').expect("ports look like tcp/445");
        let (from, to) = match range.split_once('-') {
            Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
            None => (range.parse().unwrap(), range.parse().unwrap()),
        };
        for port in from..=to {
            out.push((protocol.to_string(), port));
        }
    }
    out
}

type Entry = (String, String, u16, String);

/// Runs portgate on one file; returns (address, policy) pairs and the exposed
/// (address, protocol, port, cidr) entries restricted to `port_set`.
fn run(path: &Path, port_set: &[(&str, u16)]) -> (BTreeSet<(String, String)>, BTreeSet<Entry>) {
    let bytes = std::fs::read(path).unwrap();
    let policies = PolicySet::builtin().unwrap();
    let report = check(
        &bytes,
        &path.display().to_string(),
        &policies,
        &CheckOptions::default(),
    )
    .unwrap_or_else(|e| panic!("portgate could not read a real plan: {e}"));
    let mut pairs = BTreeSet::new();
    let mut entries = BTreeSet::new();
    for f in report.findings.iter().map(|g| &g.finding) {
        if f.kind != FindingKind::Exposed {
            continue;
        }
        pairs.insert((f.address.clone(), f.rule_id.clone()));
        for (protocol, port) in expand(&f.ports) {
            if port_set.contains(&(protocol.as_str(), port)) {
                for cidr in &f.cidrs {
                    entries.insert((f.address.clone(), protocol.clone(), port, cidr.clone()));
                }
            }
        }
    }
    (pairs, entries)
}

const STRICT: [(&str, u16); 4] = [("tcp", 139), ("tcp", 445), ("udp", 137), ("udp", 138)];
const BROAD: [(&str, u16); 7] = [
    ("tcp", 137),
    ("tcp", 138),
    ("tcp", 139),
    ("tcp", 445),
    ("udp", 137),
    ("udp", 138),
    ("udp", 139),
];

fn compare(expected_file: &str, port_set: &[(&str, u16)]) {
    let Some(dir) = real_dir() else { return };
    let expected = load_expected(&dir, expected_file);
    assert_eq!(expected.len(), 48, "the corpus has 48 plans");
    let mut failures = Vec::new();
    for (file, wanted) in &expected {
        let (pairs, entries) = run(&dir.join(file), port_set);
        let want_pairs: BTreeSet<(String, String)> = wanted
            .iter()
            .map(|e| (e.address.clone(), policy_of(e.port).to_string()))
            .collect();
        let want_entries: BTreeSet<Entry> = wanted
            .iter()
            .map(|e| {
                (
                    e.address.clone(),
                    e.protocol.clone(),
                    e.port,
                    e.cidr.clone(),
                )
            })
            .collect();
        if pairs != want_pairs {
            failures.push(format!(
                "{file}: (address, policy)\n  expected {want_pairs:?}\n  got      {pairs:?}"
            ));
        }
        if entries != want_entries {
            failures.push(format!(
                "{file}: (address, protocol, port, cidr)\n  expected {want_entries:?}\n  got      {entries:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn real_plans_match_the_strict_ground_truth() {
    compare("expected.json", &STRICT);
}

#[test]
fn real_plans_match_the_broad_ground_truth() {
    compare("expected_broad.json", &BROAD);
}

#[test]
fn every_real_plan_is_read_by_the_cli_with_exit_0_or_1() {
    let Some(dir) = real_dir() else { return };
    let expected = load_expected(&dir, "expected.json");
    for (file, wanted) in &expected {
        let output = assert_cmd::Command::cargo_bin("portgate")
            .unwrap()
            .args(["check", "--format", "json"])
            .arg(dir.join(file))
            .output()
            .unwrap();
        let want = if wanted.is_empty() { 0 } else { 1 };
        assert_eq!(
            output.status.code(),
            Some(want),
            "{file}: stderr {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            doc["summary"]["result"],
            if want == 0 { "pass" } else { "fail" }
        );
    }
}

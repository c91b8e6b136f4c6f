//! The streaming reader gives the same answer however the bytes arrive, and refuses what a
//! whole-document JSON parser refuses.
//!
//! - Every plan (project and real corpus) read through a reader that hands out a few bytes at a
//!   time, so window refills fall at every possible place, gives exactly the report of reading
//!   it from one slice.
//! - Keeping only security group resources (what `check` does) gives the same rules as keeping
//!   every resource (`Plan::parse`).
//! - Damaged plans: whatever `serde_json` refuses as JSON, portgate refuses too; whatever
//!   portgate calls invalid JSON, `serde_json` refuses too.

#[path = "common/valid_plan.rs"]
mod valid_plan;

use std::io::Read;
use std::path::{Path, PathBuf};

use portgate::plan::Plan;
use portgate::policy::PolicySet;
use portgate::{CheckOptions, CheckReport, check, check_reader, rules};
use proptest::prelude::*;
use valid_plan::VALID_PLAN;

/// A reader that returns at most a few bytes per call, the count drawn from a fixed sequence.
struct Trickle<'a> {
    bytes: &'a [u8],
    state: u64,
    max: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        // xorshift: deterministic, no dependency.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let n = (1 + (self.state as usize) % self.max)
            .min(out.len())
            .min(self.bytes.len());
        out[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

fn plans() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![root.join("testdata/plans"), root.join("testdata/fix")];
    let real = root.join("../shared/testdata/real");
    if real.is_dir() {
        dirs.push(real);
    } else {
        eprintln!(
            "notice: {} not found; streaming tests use the project's own plans only",
            real.display()
        );
    }
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                dirs.push(path);
            } else if name.ends_with(".json") && !name.starts_with("expected") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() > 20, "found only {} plans", files.len());
    files
}

fn report(result: Result<CheckReport, portgate::Error>) -> String {
    match result {
        Ok(report) => format!("{:?}\n{:?}", report.rules, report.findings),
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn any_read_sizes_give_the_same_report() {
    let policies = PolicySet::builtin().unwrap();
    let options = CheckOptions::default();
    for path in plans() {
        let bytes = std::fs::read(&path).unwrap();
        let whole = report(check(&bytes, "p.json", &policies, &options));
        for (seed, max) in [(1, 1), (7, 13), (99, 4096)] {
            if max == 1 && bytes.len() > 200_000 {
                continue; // a byte at a time is slow in debug builds; 13 covers the same edges
            }
            let trickle = Trickle {
                bytes: &bytes,
                state: seed,
                max,
            };
            let streamed = report(check_reader(trickle, "p.json", &policies, &options));
            assert_eq!(
                streamed,
                whole,
                "{} read {max} bytes at a time",
                path.display()
            );
        }
    }
}

#[test]
fn keeping_only_security_groups_gives_the_rules_of_keeping_everything() {
    let policies = PolicySet::builtin().unwrap();
    for path in plans() {
        let bytes = std::fs::read(&path).unwrap();
        // Every rule is listed: this compares the rules, not which of them are set aside.
        let options = CheckOptions {
            list_every_rule: true,
            ..CheckOptions::default()
        };
        let Ok(report) = check(&bytes, "p.json", &policies, &options) else {
            continue;
        };
        let text = portgate::plan::decode(&bytes).unwrap();
        let everything = Plan::parse(&text, "p.json").unwrap();
        assert_eq!(
            rules::extract(&everything, None).unwrap(),
            report.rules,
            "{}",
            path.display()
        );
    }
}

fn json_is_valid(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// One damaged byte anywhere: if it breaks the JSON, portgate refuses the plan; and a
    /// portgate "invalid JSON" error is never a false alarm.
    #[test]
    fn damaged_json_is_refused_exactly_when_serde_json_refuses_it(
        at in 0usize..VALID_PLAN.len(),
        byte in prop_oneof![
            Just(b'"'), Just(b'\\'), Just(b','), Just(b':'), Just(b'{'), Just(b'}'),
            Just(b'['), Just(b']'), Just(b' '), Just(b'0'), Just(b'e'), Just(b'.'),
            Just(b'-'), Just(b'u'), Just(b'n'), Just(0x01u8), any::<u8>()
        ],
        cut in prop::option::weighted(0.2, 0usize..VALID_PLAN.len()),
    ) {
        let mut bytes = VALID_PLAN.as_bytes().to_vec();
        bytes[at] = byte;
        if let Some(cut) = cut {
            bytes.truncate(cut);
        }
        prop_assume!(std::str::from_utf8(&bytes).is_ok());
        let policies = PolicySet::builtin().unwrap();
        let result = check(&bytes, "p.json", &policies, &CheckOptions::default());
        if !json_is_valid(&bytes) {
            prop_assert!(result.is_err(), "serde_json refuses it, portgate read it");
        }
        if let Err(e) = &result
            && e.to_string().contains("invalid JSON")
        {
            prop_assert!(!json_is_valid(&bytes), "portgate calls valid JSON invalid: {e}");
        }
    }

    /// A syntax error is reported where serde_json reports it. (A value of the wrong type
    /// can come first: portgate reads the plan's structure as it goes, like a typed parser.)
    #[test]
    fn syntax_error_positions_are_serde_jsons(at in 0usize..VALID_PLAN.len(), byte in 0u8..0x80) {
        let mut bytes = VALID_PLAN.as_bytes().to_vec();
        bytes[at] = byte;
        prop_assume!(std::str::from_utf8(&bytes).is_ok());
        let Err(serde_error) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) else {
            return Ok(());
        };
        let policies = PolicySet::builtin().unwrap();
        let message = check(&bytes, "p.json", &policies, &CheckOptions::default())
            .unwrap_err()
            .to_string();
        if message.contains("invalid JSON") {
            let expected = format!("p.json:{}:{}:", serde_error.line(), serde_error.column());
            prop_assert!(message.contains(&expected), "{message} vs serde {serde_error}");
        }
    }
}

#[test]
fn the_valid_plan_used_for_damage_is_read() {
    let policies = PolicySet::builtin().unwrap();
    let report = check(
        VALID_PLAN.as_bytes(),
        "p.json",
        &policies,
        &CheckOptions::default(),
    )
    .unwrap();
    assert!(report.fails());
    // The rule (read in one pass) has its finding too: damage to it is covered.
    let labels: Vec<&str> = report
        .findings
        .iter()
        .map(|f| f.finding.address.as_str())
        .collect();
    assert!(
        labels.contains(&r#"aws_security_group_rule.r["a"]"#),
        "{labels:?}"
    );
}

/// A checked resource is read in one pass when it is plain, and that pass keeps the scanner's
/// depth limit exactly: an empty object one level too deep inside a rule is refused as it is
/// anywhere else, and one level less is read.
#[test]
fn the_depth_limit_holds_inside_a_rule_read_in_one_pass() {
    // The document (1), `resource_changes` (2), the record (3), `change` (4), `before` (5),
    // then `arrays` lists, then `{}`: at level 6 + arrays.
    let plan = |arrays: usize| {
        format!(
            r#"{{"format_version":"1.2","planned_values":{{"root_module":{{}}}},
"resource_changes":[{{"address":"aws_security_group_rule.r","mode":"managed",
"type":"aws_security_group_rule","name":"r","change":{{"actions":["create"],
"before":{{"x":{}{{}}{}}},"after":{{"type":"ingress","from_port":445,"to_port":445,
"protocol":"tcp","cidr_blocks":["0.0.0.0/0"],"security_group_id":"sg-1"}},
"after_unknown":{{}}}}}}]}}"#,
            "[".repeat(arrays),
            "]".repeat(arrays)
        )
    };
    let policies = PolicySet::builtin().unwrap();
    let read = |arrays: usize| {
        check(
            plan(arrays).as_bytes(),
            "p.json",
            &policies,
            &CheckOptions::default(),
        )
    };
    let report = read(1018).expect("1,024 levels are allowed");
    assert!(report.fails(), "the rule opens SMB");
    let error = read(1019).unwrap_err().to_string();
    assert!(error.contains("nesting deeper than 1024 levels"), "{error}");
}

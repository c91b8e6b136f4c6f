//! A run task shows at most 249 findings of a check, so it checks in batches of whole groups
//! and keeps only the findings it shows (`portgate::check_top`), and it reads its spooled plan
//! without decoding the `planned_values` resources that change records supersede (read again
//! when one has none). These tests hold it to what a whole check of a stream shows: for every
//! batch size and number shown, the run task's body (status, message, outcomes with their
//! patches) is byte-for-byte the one the whole report gives, and so are the counts and
//! warnings, on every plan of `testdata/`, every real plan (with its sources where the corpus
//! has them) and generated plans of every shape.

#[path = "../examples/gen_plan/main.rs"]
#[allow(dead_code)]
mod gen_plan;

#[path = "common/corpus.rs"]
mod corpus;

use std::path::{Path, PathBuf};

use corpus::json_files;

use portgate::config::TrustedCidr;
use portgate::fix::FixOptions;
use portgate::policy::PolicySet;
use portgate::runtask::outcomes;
use portgate::waiver::Waiver;
use portgate::{CheckOptions, TopReport, UnknownMode};

thread_local! {
    /// How many times a check read its plan a second time (a planned resource without a
    /// change record), on this test's thread.
    static REOPENED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Batch sizes (resources per batch) and numbers of findings shown tried on every plan.
const BATCHES: [usize; 3] = [1, 3, usize::MAX];
const SHOWN: [usize; 2] = [2, outcomes::SHOWN];

/// The gate options tried: the defaults, and configured waivers (an expired glob, an active
/// one, one that matches nothing) with unknown values failing the gate.
fn options(source_dir: Option<&Path>) -> [CheckOptions; 2] {
    let plain = CheckOptions {
        today: time::macros::date!(2026 - 06 - 01),
        source_dir: source_dir.map(Path::to_path_buf),
        ..CheckOptions::default()
    };
    let waiver = |rule: &str, address: &str, expires| Waiver {
        rule: rule.to_string(),
        address: address.to_string(),
        reason: "test".to_string(),
        expires,
        origin: "portgate.toml".to_string(),
    };
    let waived = CheckOptions {
        waivers: vec![
            waiver("PG002", "*", time::macros::date!(2026 - 01 - 01)),
            waiver(
                "PG001",
                "aws_security_group.*",
                time::macros::date!(2027 - 01 - 01),
            ),
            waiver(
                "PG001",
                "aws_nothing.here",
                time::macros::date!(2027 - 01 - 01),
            ),
        ],
        unknown: UnknownMode::Fail,
        ..plain.clone()
    };
    [plain, waived]
}

/// The run task's body for `top`, with the patches a run task makes (a trusted CIDR, the
/// sources when there are any, else suggestions rendered from the plan).
fn body(top: &TopReport, policies: &PolicySet, source_dir: Option<&Path>) -> String {
    let empty = std::env::temp_dir().join("portgate-batches-no-sources");
    let fixes = portgate::fix::suggest(
        &top.report.rules,
        top.report.findings.iter().map(|g| &g.finding),
        policies,
        &FixOptions {
            trusted: vec![TrustedCidr::parse("10.20.0.0/16").unwrap()],
            source_dir: Some(source_dir.map_or(empty, Path::to_path_buf)),
            use_vpc: false,
            max_source_bytes: None,
        },
    );
    let body = outcomes::result(top, policies, Some(&fixes), true, true, None);
    serde_json::to_string_pretty(&body).unwrap()
}

/// Everything of `top` but the findings' indices into their rule sets (a batch's rule set is
/// not the whole plan's).
fn facts(top: &TopReport) -> String {
    let findings: Vec<String> = top
        .report
        .findings
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f.finding.rule_index = 0;
            f.finding.resource_index = 0;
            format!("{f:?}")
        })
        .collect();
    format!(
        "{:?}\nscanned {}\ntotal {} blocking {} first {:?}\nwarnings {:#?}\nstale {:?}\nfindings {findings:#?}",
        top.report.plan,
        top.report.resources_scanned,
        top.total,
        top.blocking,
        top.first_blocking,
        top.report.warnings,
        top.report.stale_waivers,
    )
}

/// Checks `bytes` whole and in batches; they must agree (or fail with the same error).
/// Returns the number of findings.
fn assert_batches_agree(name: &str, bytes: &[u8], source_dir: Option<&Path>) -> usize {
    let policies = PolicySet::builtin().unwrap();
    let mut found = 0;
    for options in options(source_dir) {
        found = assert_agree(name, bytes, source_dir, &policies, &options);
    }
    found
}

fn assert_agree(
    name: &str,
    bytes: &[u8],
    source_dir: Option<&Path>,
    policies: &PolicySet,
    options: &CheckOptions,
) -> usize {
    let whole = portgate::check_reader(bytes, "plan.json", policies, options);
    // Read as a file is: without decoding what change records supersede, and again when a
    // planned resource has none.
    let reopen = || -> std::io::Result<Box<dyn std::io::Read>> {
        REOPENED.with(|n| n.set(n.get() + 1));
        Ok(Box::new(bytes))
    };
    // And read twice, holding only the rules that may be needed, when held rules pass their
    // budget: none here, so every plan that holds a rule takes that path.
    let twice = CheckOptions {
        hold_budget: 0,
        ..options.clone()
    };
    let read_twice = portgate::check_input(bytes, Some(&reopen), "plan.json", policies, &twice);
    match (&whole, read_twice) {
        (Ok(whole), Ok(read_twice)) => {
            let (whole, read_twice) = (
                TopReport::of(whole.clone(), usize::MAX),
                TopReport::of(read_twice, usize::MAX),
            );
            assert_eq!(facts(&read_twice), facts(&whole), "{name}, read twice");
            assert_eq!(
                body(&read_twice, policies, source_dir),
                body(&whole, policies, source_dir),
                "{name}, read twice"
            );
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{name}: read twice"),
        (a, b) => panic!(
            "{name}: one way read it, the other did not: {:?} / {:?}",
            a.as_ref().err(),
            b.err()
        ),
    }
    for shown in SHOWN {
        for batch in BATCHES {
            let options = if batch == 3 { &twice } else { options };
            let top = portgate::check_top(
                bytes,
                Some(&reopen),
                "plan.json",
                policies,
                options,
                shown,
                batch,
            );
            let (whole, top) = match (&whole, top) {
                (Ok(whole), Ok(top)) => (TopReport::of(whole.clone(), shown), top),
                (Err(a), Err(b)) => {
                    assert_eq!(a.to_string(), b.to_string(), "{name}: the error changed");
                    continue;
                }
                (a, b) => panic!(
                    "{name}: one way read it, the other did not: {:?} / {:?}",
                    a.as_ref().err(),
                    b.err()
                ),
            };
            let context = format!(
                "{name}, {shown} shown, {batch} resources per batch, {} waivers",
                options.waivers.len()
            );
            assert_eq!(facts(&top), facts(&whole), "{context}");
            assert_eq!(
                body(&top, policies, source_dir),
                body(&whole, policies, source_dir),
                "{context}"
            );
        }
    }
    whole.map_or(0, |w| w.findings.len())
}

#[test]
fn every_project_plan_shows_the_same_in_batches() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files = Vec::new();
    json_files(&root, &mut files);
    assert!(files.len() >= 100, "only {} plans found", files.len());
    let mut found = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        found += assert_batches_agree(&file.display().to_string(), &bytes, None);
    }
    assert!(found > 100, "only {found} findings in all");
    assert!(
        REOPENED.with(|n| n.get()) > 0,
        "no plan was read a second time: the path where a planned resource has no change record is not covered"
    );
}

fn shared() -> Option<PathBuf> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    if shared.join("real-sources/index.json").is_file() {
        Some(shared)
    } else {
        eprintln!(
            "notice: {} is absent: the real plans are not checked",
            shared.display()
        );
        None
    }
}

#[test]
fn every_real_plan_shows_the_same_in_batches() {
    let Some(shared) = shared() else {
        return;
    };
    let mut files = Vec::new();
    json_files(&shared.join("real"), &mut files);
    json_files(&shared.join("real2"), &mut files);
    assert!(files.len() >= 48, "only {} real plans found", files.len());
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        assert_batches_agree(&file.display().to_string(), &bytes, None);
    }
}

/// With the sources, patches are made against them: they must be the same too.
#[test]
fn every_real_plan_with_sources_shows_the_same_in_batches() {
    let Some(shared) = shared() else {
        return;
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shared.join("real-sources/index.json")).unwrap())
            .unwrap();
    let mut pairs: Vec<(PathBuf, PathBuf)> = index
        .as_object()
        .unwrap()
        .iter()
        .map(|(plan, entry)| {
            let dir = entry["sources_dir"].as_str().unwrap();
            (shared.join(plan), shared.join(dir))
        })
        .collect();
    let real2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shared.join("real2/sources.json")).unwrap()).unwrap();
    for entry in real2.as_array().unwrap() {
        if let (Some(plan), Some(dir)) = (entry["file"].as_str(), entry["sources_dir"].as_str()) {
            pairs.push((shared.join("real2").join(plan), shared.join(dir)));
        }
    }
    assert!(pairs.len() >= 30, "only {} plans with sources", pairs.len());
    for (plan, dir) in &pairs {
        let bytes = std::fs::read(plan).unwrap();
        assert_batches_agree(&plan.display().to_string(), &bytes, Some(dir));
    }
}

#[test]
fn generated_plans_of_every_shape_show_the_same_in_batches() {
    for (shape, seed, pretty) in [
        (gen_plan::Shape::Sparse, 31, false),
        (gen_plan::Shape::Dense, 32, true),
        (gen_plan::Shape::Rules, 33, false),
    ] {
        let opts = gen_plan::Options {
            resources: 600,
            seed,
            shape,
            pretty,
            ..gen_plan::Options::default()
        };
        let mut bytes = Vec::new();
        gen_plan::generate(&opts, &mut bytes).unwrap();
        let found = assert_batches_agree(&format!("{opts:?}"), &bytes, None);
        assert!(found > 0, "{opts:?}: no findings");
    }
}

//! The real Terraform sources in `../shared/testdata/real-sources/` next to the real plans they
//! produced: portgate must find them matching the plan (else `--source` would prove nothing on
//! real projects), and reading them may settle unknowns but never remove an exposure.
//!
//! Read in place, never copied; where `../shared` is absent the tests print a notice and pass.

#[path = "common/tree.rs"]
mod tree;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use portgate::policy::{FindingKind, PolicySet};
use portgate::rules::{ModuleCallSource, RESOURCE_TYPES};
use portgate::sources::Sources;
use portgate::{CheckOptions, check};
use serde_json::Value;

fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    if dir.join("real-sources/index.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "notice: {} not found; skipping the real-sources tests",
            dir.display()
        );
        None
    }
}

/// (plan file, its sources directory) for every plan that has sources.
fn pairs(shared: &Path) -> Vec<(PathBuf, PathBuf)> {
    let read =
        |path: &Path| -> Value { serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap() };
    let mut out = Vec::new();
    let index = read(&shared.join("real-sources/index.json"));
    for (plan, entry) in index.as_object().unwrap() {
        out.push((
            shared.join(plan),
            shared.join(entry["sources_dir"].as_str().unwrap()),
        ));
    }
    let real2 = read(&shared.join("real2/sources.json"));
    for entry in real2.as_array().unwrap() {
        if let (Some(plan), Some(dir)) = (entry["file"].as_str(), entry["sources_dir"].as_str()) {
            out.push((shared.join("real2").join(plan), shared.join(dir)));
        }
    }
    assert!(
        out.len() >= 30,
        "the corpus lists {} plans with sources",
        out.len()
    );
    out
}

/// A plan as JSON, whatever Unicode encoding the corpus file has (some carry a BOM).
fn plan_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap();
    let text = match bytes.as_slice() {
        [0xFF, 0xFE, rest @ ..] => String::from_utf16(
            &rest
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
        )
        .unwrap(),
        [0xFE, 0xFF, rest @ ..] => String::from_utf16(
            &rest
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
        )
        .unwrap(),
        _ => String::from_utf8(bytes).unwrap(),
    };
    serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap()
}

/// Every checked resource block of the configuration in a local module: (module calls, type,
/// name, its `expressions`).
fn checked_blocks(
    module: &Value,
    calls: &[ModuleCallSource],
    out: &mut Vec<(Vec<ModuleCallSource>, String, String, Value)>,
) {
    for resource in module["resources"].as_array().into_iter().flatten() {
        let kind = resource["type"].as_str().unwrap_or_default();
        if resource["mode"] == "managed" && RESOURCE_TYPES.contains(&kind) {
            out.push((
                calls.to_vec(),
                kind.to_string(),
                resource["name"].as_str().unwrap().to_string(),
                resource
                    .get("expressions")
                    .cloned()
                    .unwrap_or(Value::Object(Default::default())),
            ));
        }
    }
    for (name, call) in module["module_calls"].as_object().into_iter().flatten() {
        let source = call["source"].as_str().map(str::to_string);
        if !source
            .as_deref()
            .is_some_and(|s| s.starts_with("./") || s.starts_with("../"))
        {
            continue; // registry and git modules are not in the corpus
        }
        let mut inner = calls.to_vec();
        inner.push(ModuleCallSource {
            name: name.clone(),
            source,
        });
        checked_blocks(&call["module"], &inner, out);
    }
}

#[test]
fn the_sources_of_every_real_plan_match_its_configuration() {
    let Some(shared) = shared() else { return };
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for (plan, dir) in pairs(&shared) {
        let json = plan_json(&plan);
        let mut blocks = Vec::new();
        checked_blocks(&json["configuration"]["root_module"], &[], &mut blocks);
        let sources = Sources::open(&dir);
        let blocks_recorded = !json["format_version"]
            .as_str()
            .unwrap_or_default()
            .starts_with("0.");
        for (calls, kind, name, expressions) in blocks {
            checked += 1;
            if let Err(why) = sources.resource(
                &calls,
                &kind,
                &name,
                expressions.as_object(),
                blocks_recorded,
            ) {
                mismatches.push(format!("{}: {kind}.{name}: {why}", plan.display()));
            }
        }
    }
    assert!(checked >= 20, "only {checked} resource blocks were checked");
    assert!(
        mismatches.is_empty(),
        "sources that produced the plan were found not to match it:\n{}",
        mismatches.join("\n")
    );
}

/// (address, rule id) of the findings of `kind`.
fn findings(
    plan: &Path,
    source_dir: Option<PathBuf>,
    kind: FindingKind,
) -> BTreeSet<(String, String)> {
    let options = CheckOptions {
        source_dir,
        ..CheckOptions::default()
    };
    let report = check(
        &std::fs::read(plan).unwrap(),
        &plan.display().to_string(),
        &PolicySet::builtin().unwrap(),
        &options,
    )
    .unwrap();
    report
        .findings
        .iter()
        .filter(|f| f.finding.kind == kind)
        .map(|f| (f.finding.address.clone(), f.finding.rule_id.clone()))
        .collect()
}

#[test]
fn sources_settle_unknowns_but_never_remove_an_exposure() {
    let Some(shared) = shared() else { return };
    let mut settled = 0;
    for (plan, dir) in pairs(&shared) {
        let without = findings(&plan, None, FindingKind::Exposed);
        let with = findings(&plan, Some(dir.clone()), FindingKind::Exposed);
        assert_eq!(
            with,
            without,
            "{}: exposures changed with sources",
            plan.display()
        );
        let unknown_without = findings(&plan, None, FindingKind::Unknown);
        let unknown_with = findings(&plan, Some(dir), FindingKind::Unknown);
        assert!(
            unknown_with.is_subset(&unknown_without),
            "{}: sources added PG003 {:?}",
            plan.display(),
            unknown_with
                .difference(&unknown_without)
                .collect::<Vec<_>>()
        );
        settled += unknown_without.len() - unknown_with.len();
    }
    // Six real plans have groups whose rules all come from rule resources, which only their
    // sources can show.
    assert!(
        settled >= 6,
        "sources settled only {settled} PG003 findings"
    );
}

#[test]
fn source_patches_of_real_plans_apply_parse_and_remove_the_world() {
    let Some(shared) = shared() else { return };
    let policies = PolicySet::builtin().unwrap();
    let mut patched = 0;
    for (plan, dir) in pairs(&shared) {
        let options = CheckOptions {
            source_dir: Some(dir.clone()),
            ..CheckOptions::default()
        };
        let bytes = std::fs::read(&plan).unwrap();
        let report = check(&bytes, "plan.json", &policies, &options).unwrap();
        let findings: Vec<_> = report.findings.iter().map(|g| g.finding.clone()).collect();
        let fixes = portgate::fix::suggest(
            &report.rules,
            &findings,
            &policies,
            &portgate::fix::FixOptions {
                trusted: vec![portgate::config::TrustedCidr::parse("10.0.0.0/8").unwrap()],
                source_dir: Some(dir.clone()),
                use_vpc: false,
                max_source_bytes: None,
            },
        );
        if fixes.files.is_empty() {
            continue;
        }
        let copy = tree::Scratch::copy_of(&dir);
        if let Err(e) = copy.try_apply(&fixes.combined_patch()) {
            panic!("{}: {e}\n{}", plan.display(), fixes.combined_patch());
        }
        for file in &fixes.files {
            let text = std::fs::read_to_string(copy.dir.join(&file.rel)).unwrap();
            hcl_edit::parser::parse_body(&text).unwrap_or_else(|e| {
                panic!(
                    "{}: {} does not parse after the patch: {e}",
                    plan.display(),
                    file.rel
                )
            });
            // Written literally after the patch, no rule opens a guarded port to the world
            // (split rules keep the world on their other ports only).
            let body = hcl_edit::parser::parse_body(&text).unwrap();
            for (what, from, to, protocol, cidrs) in literal_rules(&body) {
                let guarded = match protocol.as_str() {
                    "-1" | "all" => true,
                    "tcp" | "6" | "udp" | "17" => (from..=to).any(|p| matches!(p, 137..=139 | 445)),
                    _ => false,
                };
                assert!(
                    !(guarded && cidrs.iter().any(|c| c == "0.0.0.0/0" || c == "::/0")),
                    "{}: {}: {what} still opens a guarded port to the world after the patch",
                    plan.display(),
                    file.rel
                );
            }
        }
        patched += 1;
    }
    assert!(patched >= 5, "only {patched} real plans got source patches");
}

/// The rules written with literal ports, protocol and CIDR lists in a file: inline `ingress`
/// blocks and rule resources, as (what, from, to, protocol, CIDRs).
fn literal_rules(body: &hcl_edit::structure::Body) -> Vec<(String, i64, i64, String, Vec<String>)> {
    use hcl_edit::expr::Expression;
    let number = |b: &hcl_edit::structure::Body, k: &str| match b.get_attribute(k).map(|a| &a.value)
    {
        Some(Expression::Number(n)) => n.value().as_i64(),
        _ => None,
    };
    let string = |b: &hcl_edit::structure::Body, k: &str| match b.get_attribute(k).map(|a| &a.value)
    {
        Some(Expression::String(s)) => Some(s.value().to_lowercase()),
        _ => None,
    };
    let list = |b: &hcl_edit::structure::Body, k: &str| -> Vec<String> {
        match b.get_attribute(k).map(|a| &a.value) {
            Some(Expression::Array(items)) => items
                .iter()
                .filter_map(|e| match e {
                    Expression::String(s) => Some(s.value().to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut out = Vec::new();
    let mut read = |what: String, b: &hcl_edit::structure::Body| {
        if let (Some(from), Some(to), Some(protocol)) = (
            number(b, "from_port"),
            number(b, "to_port"),
            string(b, "protocol"),
        ) {
            let mut cidrs = list(b, "cidr_blocks");
            cidrs.extend(list(b, "ipv6_cidr_blocks"));
            out.push((what, from, to, protocol, cidrs));
        }
    };
    for resource in body.blocks().filter(|b| b.ident.as_str() == "resource") {
        let kind = resource
            .labels
            .first()
            .map(|l| l.as_str())
            .unwrap_or_default();
        let name = resource
            .labels
            .get(1)
            .map(|l| l.as_str())
            .unwrap_or_default();
        match kind {
            "aws_security_group" | "aws_default_security_group" => {
                for block in resource
                    .body
                    .blocks()
                    .filter(|b| b.ident.as_str() == "ingress")
                {
                    read(format!("{kind}.{name} ingress"), &block.body);
                }
            }
            "aws_security_group_rule"
                if string(&resource.body, "type").as_deref() == Some("ingress") =>
            {
                read(format!("{kind}.{name}"), &resource.body);
            }
            _ => {}
        }
    }
    out
}

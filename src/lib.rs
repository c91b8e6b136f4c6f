//! portgate: a pre-apply gate that finds Windows NetBIOS (137-139) and SMB (445) opened to the
//! internet by AWS security groups in a Terraform plan.
//!
//! Data flows one way, one module per stage, with plain data between them:
//!
//! 1. [`plan`]: bytes of `terraform show -json` → [`plan::Plan`] (typed, borrowed, validated).
//! 2. [`rules`]: plan → [`rules::RuleSet`] of normalized [`rules::IngressRule`]s.
//! 3. [`policy`]: rules × [`policy::PolicySet`] → [`policy::Finding`]s.
//! 4. [`fix`]: findings → suggested patches (byte edits of the user's `.tf` files).
//! 5. [`report`]: findings and fixes → text, JSON or a combined diff.
//!
//! [`check`] runs stages 1-3 and applies the gate options; [`cli`] parses arguments and renders.
//! The library never prints and never exits: errors are typed ([`Error`]), and the binary maps
//! them to exit code 2 in one place.

#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod fix;
pub mod plan;
pub mod policy;
pub mod report;
pub mod rules;
#[cfg(feature = "serve")]
pub mod runtask;
pub mod sources;
pub mod waiver;

use policy::{Finding, FindingKind, PolicySet, Severity};

/// Everything that stops a check from producing a verdict. All are exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Input(#[from] plan::InputError),
    #[error(transparent)]
    Policy(#[from] policy::PolicyError),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error(transparent)]
    Write(#[from] fix::write::WriteError),
    #[error("{0}")]
    Usage(String),
}

/// What to do with PG003 (values unknown until apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownMode {
    /// Report them, but do not fail the gate.
    #[default]
    Warn,
    /// Report them and fail the gate, whatever `--fail-on` says.
    Fail,
    /// Do not report them.
    Ignore,
}

/// `--fail-on` / `fail_on` levels: `any` is every finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Every finding (the same as `info`).
    #[default]
    Any,
    /// Findings of severity info and above: every finding, named after the lowest severity a
    /// policy file may give.
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl FailOn {
    /// The lowest severity that fails.
    pub fn severity(self) -> Severity {
        match self {
            FailOn::Any | FailOn::Info => Severity::Info,
            FailOn::Low => Severity::Low,
            FailOn::Medium => Severity::Medium,
            FailOn::High => Severity::High,
            FailOn::Critical => Severity::Critical,
        }
    }
}

/// Gate options of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    /// Only report resources the plan creates, updates or replaces.
    pub only_changes: bool,
    pub unknown: UnknownMode,
    /// The lowest severity that fails the gate.
    pub fail_on: Severity,
    /// Waivers from the config file (tag waivers are read from the plan).
    pub waivers: Vec<waiver::Waiver>,
    /// Read waivers from `portgate:waive` tags. They are written by the author of the change
    /// the gate judges, so whoever owns the gate can refuse them (`--no-tag-waivers`).
    pub tag_waivers: bool,
    /// Ignore, and report, any waiver that expires more than this many days after `today`
    /// (`--max-waiver-days`): a waiver "until 2099" is not an exception but a removal.
    pub max_waiver_days: Option<u32>,
    /// Today's date, for waiver expiry: an input so tests can fix it.
    pub today: time::Date,
    /// The Terraform root module the plan was made from. Its files can prove what the plan's
    /// configuration only suggests (no `dynamic "ingress"`, a CIDR that is exactly a reference);
    /// without them such values stay unknown (PG003). See [`sources`].
    pub source_dir: Option<std::path::PathBuf>,
    /// Most bytes of `source_dir`'s files read (`None`: no limit); beyond it the sources prove
    /// nothing more (the run task's `--max-config-mib`, see `sources::tree::SourceTree`).
    pub max_source_bytes: Option<u64>,
    /// Keep every ingress rule of the plan in [`CheckReport::rules`], also those no policy can
    /// concern (a report with a test case per rule needs them). Otherwise they are set aside as
    /// the plan streams, and only counted.
    pub list_every_rule: bool,
    /// When the plan can be read again ([`check_input`]): the bytes its held rules may take
    /// (their compact records and the places the plan keeps for them) before the plan is read
    /// a second time, holding only the rules that can take part in a finding (see
    /// `rules::spill`). Tests set it low to take that path on small plans.
    pub hold_budget: usize,
    /// What the input is: a plan (`portgate check`, the default) or a state (`portgate
    /// audit`, see `plan::Plan::read_state`). Each refuses the other.
    pub input: plan::InputKind,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            only_changes: false,
            unknown: UnknownMode::Warn,
            fail_on: Severity::Info,
            waivers: Vec::new(),
            tag_waivers: true,
            max_waiver_days: None,
            today: time::OffsetDateTime::now_utc().date(),
            source_dir: None,
            max_source_bytes: None,
            list_every_rule: false,
            hold_budget: HOLD_BUDGET,
            input: plan::InputKind::Plan,
        }
    }
}

/// The plan facts a report shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanInfo {
    /// A plan or a state: reports name the input by it ("plan" / "state").
    #[serde(skip)]
    pub kind: plan::InputKind,
    pub file: String,
    pub format_version: String,
    pub terraform_version: Option<String>,
    pub errored: bool,
    pub complete: bool,
}

/// A finding and whether it fails the gate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GatedFinding {
    #[serde(flatten)]
    pub finding: Finding,
    pub fails_gate: bool,
    /// Waived by an active waiver: shown, but does not fail the gate.
    pub waived: bool,
    /// The waiver that matched (active or expired).
    /// Boxed: most findings have none, and a report may hold very many findings.
    pub waiver: Option<Box<waiver::AppliedWaiver>>,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub plan: PlanInfo,
    /// Resources of the checked types that exist after apply.
    pub resources_scanned: usize,
    pub findings: Vec<GatedFinding>,
    /// Things a user should know that are not findings (an errored plan, say).
    pub warnings: Vec<String>,
    /// The normalized rules the findings refer to (by index), for fixes.
    pub rules: rules::RuleSet,
    /// Waivers that matched no finding.
    pub stale_waivers: Vec<waiver::Waiver>,
}

impl CheckReport {
    /// True when any finding fails the gate (exit code 1).
    pub fn fails(&self) -> bool {
        self.findings.iter().any(|f| f.fails_gate)
    }
}

/// Reads a plan and evaluates it: the whole job of `portgate check`, without the rendering.
///
/// ```
/// use portgate::{check, CheckOptions};
/// use portgate::policy::PolicySet;
///
/// let plan = br#"{"format_version": "1.2", "planned_values": {}, "resource_changes": [{
///     "address": "aws_security_group_rule.smb", "mode": "managed",
///     "type": "aws_security_group_rule", "name": "smb",
///     "change": {"actions": ["create"], "after_unknown": {}, "after": {
///         "type": "ingress", "protocol": "tcp", "from_port": 445, "to_port": 445,
///         "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": null, "prefix_list_ids": null}}}]}"#;
/// let policies = PolicySet::builtin()?;
/// let report = check(plan, "plan.json", &policies, &CheckOptions::default())?;
/// assert!(report.fails());
/// assert_eq!(report.findings[0].finding.rule_id, "PG002");
/// assert_eq!(report.findings[0].finding.ports, ["tcp/445"]);
/// # Ok::<(), portgate::Error>(())
/// ```
pub fn check(
    bytes: &[u8],
    source_name: &str,
    policies: &PolicySet,
    options: &CheckOptions,
) -> Result<CheckReport, Error> {
    check_reader(bytes, source_name, policies, options)
}

/// [`check`] on a stream (a file, standard input, an HTTP body): the plan is read once, in
/// bounded memory, keeping only the security group resources.
pub fn check_reader(
    reader: impl std::io::Read,
    source_name: &str,
    policies: &PolicySet,
    options: &CheckOptions,
) -> Result<CheckReport, Error> {
    check_input(reader, None, source_name, policies, options)
}

/// Opens a plan again from its start: a file can, a stream cannot.
pub type Reopen<'a> = &'a dyn Fn() -> std::io::Result<Box<dyn std::io::Read + 'a>>;

/// [`check_reader`] on a plan that can be read again (`reopen`, a file): the resources of
/// `planned_values` that `resource_changes` supersedes (with Terraform, all of them) are then
/// not decoded, and in the rare plan where one has no change record, the plan is read a second
/// time (see `plan::Plan::read_optimistic`).
pub fn check_input(
    reader: impl std::io::Read,
    reopen: Option<Reopen<'_>>,
    source_name: &str,
    policies: &PolicySet,
    options: &CheckOptions,
) -> Result<CheckReport, Error> {
    let concerns = |rule: &rules::IngressRule| policies.may_concern(rule);
    let (sources, parsed, collected) = open_input(reader, reopen, source_name, options, &concerns)?;
    let extraction = rules::Extraction::new(&parsed, sources.as_ref(), collected)?;
    let mut warnings = Vec::new();
    let waivers = gate::waivers(&extraction, options, &mut warnings);
    let rule_set = extraction.into_rule_set()?;
    let findings = policy::evaluate(&rule_set, policies);

    let mut used = vec![false; waivers.len()];
    let index = waiver::Index::new(&waivers);
    let mut gated = Vec::with_capacity(findings.len());
    gated.extend(
        findings
            .into_iter()
            .filter_map(|finding| gate::judge(finding, &waivers, &index, options, &mut used)),
    );
    // Kept until the reports are written: no room left from filtering.
    gated.shrink_to_fit();
    let findings: Vec<GatedFinding> = gated;
    let stale_waivers = gate::stale(&waivers, &used, &mut warnings);
    warnings.extend(findings.iter().filter_map(gate::expired_warning));
    let pairs: Vec<(&str, &str)> = rule_set
        .unchecked_prefix_lists
        .iter()
        .map(|(list, address)| (list.as_str(), address.as_str()))
        .collect();
    gate::plan_warnings(&parsed, &pairs, &mut warnings);
    Ok(CheckReport {
        plan: PlanInfo::of(&parsed, source_name),
        resources_scanned: rule_set.resources.len() + rule_set.resources_set_aside,
        findings,
        warnings,
        rules: rule_set,
        stale_waivers,
    })
}

/// What a run task shows of a check (see [`check_top`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopReport {
    /// The check's report, but with only the first findings in the report's order, and the
    /// rules of their groups (the findings' indices point into them).
    pub report: CheckReport,
    /// How many findings there are in all, and how many of them fail the gate.
    pub total: usize,
    pub blocking: usize,
    /// `RULE ADDRESS` of the first five findings that fail the gate, in the report's order.
    pub first_blocking: Vec<String>,
}

impl TopReport {
    /// The same view of a whole report.
    pub fn of(mut report: CheckReport, keep: usize) -> TopReport {
        let total = report.findings.len();
        let blocking = report.findings.iter().filter(|f| f.fails_gate).count();
        let first_blocking = report
            .findings
            .iter()
            .filter(|f| f.fails_gate)
            .take(FIRST_BLOCKING)
            .map(gate::label)
            .collect();
        report.findings.truncate(keep);
        TopReport {
            report,
            total,
            blocking,
            first_blocking,
        }
    }

    /// True when any finding fails the gate.
    pub fn fails(&self) -> bool {
        self.blocking > 0
    }
}

/// How many blocking findings a [`TopReport`] names.
const FIRST_BLOCKING: usize = 5;

/// [`check_reader`] for a caller that shows only the first `keep` findings (a run task): the
/// same findings, warnings and verdict, but the rules are evaluated in batches of whole groups
/// of about `batch_resources` resources each, and only the findings shown are kept, with the
/// rules of their groups. So memory grows with the plan's held rules (a compact record each,
/// see `rules::held`), not with its findings.
pub fn check_top(
    reader: impl std::io::Read,
    reopen: Option<Reopen<'_>>,
    source_name: &str,
    policies: &PolicySet,
    options: &CheckOptions,
    keep: usize,
    batch_resources: usize,
) -> Result<TopReport, Error> {
    let concerns = |rule: &rules::IngressRule| policies.may_concern(rule);
    let (sources, parsed, collected) = open_input(reader, reopen, source_name, options, &concerns)?;
    let mut extraction = rules::Extraction::new(&parsed, sources.as_ref(), collected)?;
    let mut warnings = Vec::new();
    let waivers = gate::waivers(&extraction, options, &mut warnings);
    let mut used = vec![false; waivers.len()];
    let index = waiver::Index::new(&waivers);
    let batches = extraction.batches(batch_resources);
    // The findings shown so far, by sort key, with the group each comes from.
    let mut shown: Vec<(GatedFinding, rules::GroupTag)> = Vec::new();
    let mut first_blocking: Vec<GatedFinding> = Vec::new();
    let (mut total, mut blocking) = (0, 0);
    // Warnings about expired waivers, by the finding they come from.
    let mut expired: Vec<(OwnedKey, String)> = Vec::new();
    let mut pairs: Vec<(usize, (String, String))> = Vec::new();
    let mut scanned = 0;
    let by_key =
        |a: &GatedFinding, b: &GatedFinding| a.finding.sort_key().cmp(&b.finding.sort_key());
    for batch in 0..batches.count {
        let assembled = extraction.batch(&batches, batch)?;
        // What a finding must come before to enter a full list (both are sorted after each
        // batch): only those are kept.
        let shown_bar = shown
            .last()
            .filter(|_| shown.len() >= keep)
            .map(|(f, _)| OwnedKey::of(&f.finding));
        let blocking_bar = first_blocking
            .last()
            .filter(|_| first_blocking.len() >= FIRST_BLOCKING)
            .map(|f| OwnedKey::of(&f.finding));
        scanned += assembled.rules.resources.len();
        pairs.extend(
            assembled
                .pair_places
                .iter()
                .copied()
                .zip(assembled.rules.unchecked_prefix_lists.iter().cloned()),
        );
        for finding in policy::evaluate(&assembled.rules, policies) {
            let Some(gated) = gate::judge(finding, &waivers, &index, options, &mut used) else {
                continue;
            };
            total += 1;
            if let Some(warning) = gate::expired_warning(&gated) {
                expired.push((OwnedKey::of(&gated.finding), warning));
            }
            if gated.fails_gate {
                blocking += 1;
                if blocking_bar
                    .as_ref()
                    .is_none_or(|bar| gated.finding.sort_key() < bar.key())
                {
                    first_blocking.push(gated.clone());
                }
            }
            if shown_bar
                .as_ref()
                .is_none_or(|bar| gated.finding.sort_key() < bar.key())
            {
                let rule = &assembled.rules.rules[gated.finding.rule_index];
                shown.push((gated, assembled.tags[rule.resource]));
            }
            if shown.len() >= 2 * keep.max(1) {
                shown.sort_by(|a, b| by_key(&a.0, &b.0));
                shown.truncate(keep);
            }
        }
        shown.sort_by(|a, b| by_key(&a.0, &b.0));
        shown.truncate(keep);
        first_blocking.sort_by(by_key);
        first_blocking.truncate(FIRST_BLOCKING);
    }
    drop(batches);
    // The rules behind the findings shown: their groups again, evaluated as one rule set, so
    // that fixes see every rule of each group and the findings' indices point into it.
    let tags: std::collections::HashSet<rules::GroupTag> =
        shown.iter().map(|(_, tag)| *tag).collect();
    let keys: std::collections::HashSet<policy::SortKey<'_>> =
        shown.iter().map(|(f, _)| f.finding.sort_key()).collect();
    let assembled = extraction.select(&tags)?;
    let mut again = vec![false; waivers.len()];
    let mut findings: Vec<GatedFinding> = policy::evaluate(&assembled.rules, policies)
        .into_iter()
        .filter(|f| keys.contains(&f.sort_key()))
        .filter_map(|finding| gate::judge(finding, &waivers, &index, options, &mut again))
        .collect();
    findings.shrink_to_fit();
    drop(keys);
    drop(shown);

    let stale_waivers = gate::stale(&waivers, &used, &mut warnings);
    expired.sort_by(|a, b| a.0.key().cmp(&b.0.key()));
    warnings.extend(expired.into_iter().map(|(_, warning)| warning));
    pairs.sort_by_key(|(place, _)| *place);
    let mut seen = std::collections::HashSet::new();
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(_, pair)| seen.insert(pair))
        .map(|(_, (list, address))| (list.as_str(), address.as_str()))
        .collect();
    gate::plan_warnings(&parsed, &pairs, &mut warnings);
    Ok(TopReport {
        report: CheckReport {
            plan: PlanInfo::of(&parsed, source_name),
            resources_scanned: scanned + assembled.rules.resources_set_aside,
            findings,
            warnings,
            rules: assembled.rules,
            stale_waivers,
        },
        total,
        blocking,
        first_blocking: first_blocking.iter().map(gate::label).collect(),
    })
}

/// A finding's [`policy::SortKey`], owned.
struct OwnedKey {
    address: String,
    deposed: Option<String>,
    block: Option<String>,
    rule_id: String,
    family: Option<rules::cidr::Family>,
}

impl OwnedKey {
    fn of(f: &Finding) -> OwnedKey {
        OwnedKey {
            address: f.address.clone(),
            deposed: f.deposed.clone(),
            block: f.block.clone(),
            rule_id: f.rule_id.clone(),
            family: f.family,
        }
    }

    fn key(&self) -> policy::SortKey<'_> {
        (
            &self.address,
            self.deposed.as_deref(),
            self.block.as_deref(),
            &self.rule_id,
            self.family,
        )
    }
}

impl PlanInfo {
    fn of(plan: &plan::Plan, source_name: &str) -> PlanInfo {
        PlanInfo {
            kind: plan.kind,
            file: source_name.to_string(),
            format_version: plan.format_version.clone(),
            terraform_version: plan.terraform_version.clone(),
            errored: plan.errored,
            complete: plan.complete,
        }
    }
}

/// The default [`CheckOptions::hold_budget`]: plans of up to about 150,000 rule resources (of
/// which about 40% may touch a guarded port and are held) are read once.
pub const HOLD_BUDGET: usize = 16 << 20;

/// What every check starts from: the sources (when given) and the plan read (see [`read_plan`]).
fn open_input<'c>(
    reader: impl std::io::Read,
    reopen: Option<Reopen<'_>>,
    source_name: &str,
    options: &CheckOptions,
    concerns: &'c dyn Fn(&rules::IngressRule) -> bool,
) -> Result<(Option<sources::Sources>, plan::Plan, rules::Collected<'c>), Error> {
    let sources = options
        .source_dir
        .as_deref()
        .map(|dir| sources::Sources::open_with_read_limit(dir, options.max_source_bytes));
    let (parsed, collected) = read_plan(
        reader,
        reopen,
        source_name,
        options,
        sources.as_ref(),
        concerns,
    )?;
    Ok((sources, parsed, collected))
}

/// Reads the plan, keeping only what the rules stage needs (see `rules::Intake`); with
/// `reopen`, without decoding what `resource_changes` supersedes, and in bounded memory
/// however many rules it holds.
fn read_plan<'c>(
    reader: impl std::io::Read,
    reopen: Option<Reopen<'_>>,
    source_name: &str,
    options: &CheckOptions,
    sources: Option<&sources::Sources>,
    concerns: &'c dyn Fn(&rules::IngressRule) -> bool,
) -> Result<(plan::Plan, rules::Collected<'c>), Error> {
    let keep = keep_type;
    // A rule no policy can concern yields nothing, so it is set aside as soon as it is read
    // (see `rules::Intake`), unless something later needs every rule: a report that lists
    // them, or fixes against the sources, whose proofs compare every rule of an instance. The
    // rules of any other resource that needs nothing but itself are read at once, and its raw
    // JSON dropped.
    let sources_present = options
        .source_dir
        .as_deref()
        .is_some_and(sources::tree::holds_terraform);
    let filter = !options.list_every_rule && !sources_present;
    let intake = || rules::Intake::new(concerns, filter).spilling_above(options.hold_budget);
    if options.input == plan::InputKind::State {
        return read_state(
            reader,
            reopen,
            source_name,
            options,
            filter,
            sources,
            concerns,
        );
    }
    let Some(reopen) = reopen else {
        let mut intake = rules::Intake::new(concerns, filter);
        let parsed = plan::Plan::read_filtered(reader, source_name, &keep, &mut intake)?;
        return Ok((parsed, intake.finish()));
    };
    let read_again = || {
        reopen().map_err(|e| Error::Io {
            path: source_name.to_string(),
            message: format!("cannot read the plan a second time: {e}"),
        })
    };
    let mut first = intake();
    let (parsed, collected, optimistic) =
        match plan::Plan::read_optimistic(reader, source_name, &keep, &mut first)? {
            Some(parsed) => (parsed, first.finish(), true),
            None => {
                // A resource of `planned_values` has no change record: read it all again,
                // decoding every resource (the collector starts afresh).
                drop(first);
                let mut again = intake();
                let parsed =
                    plan::Plan::read_filtered(read_again()?, source_name, &keep, &mut again)?;
                (parsed, again.finish(), false)
            }
        };
    if !collected.spilled() {
        return Ok((parsed, collected));
    }
    // Too many rules to hold: read once more, holding only those that may be needed.
    let narrowing = rules::narrowing(&parsed, sources, collected)?;
    drop(parsed);
    let mut narrowed = rules::Intake::narrowed(concerns, narrowing);
    let parsed = if optimistic {
        plan::Plan::read_optimistic(read_again()?, source_name, &keep, &mut narrowed)?
    } else {
        Some(plan::Plan::read_filtered(
            read_again()?,
            source_name,
            &keep,
            &mut narrowed,
        )?)
    };
    let collected = narrowed.finish();
    match parsed {
        Some(parsed) if !collected.saw_another_plan() => Ok((parsed, collected)),
        _ => Err(Error::Io {
            path: source_name.to_string(),
            message: "the plan changed between its two reads (it holds too many rules to be \
                      read once in bounded memory): check it again once it is written"
                .to_string(),
        }),
    }
}

/// [`read_plan`] for a state: read once (a state has no change records to supersede
/// anything), and once more, holding only the rules that may be needed, when it holds too many
/// to keep.
fn read_state<'c>(
    reader: impl std::io::Read,
    reopen: Option<Reopen<'_>>,
    source_name: &str,
    options: &CheckOptions,
    filter: bool,
    sources: Option<&sources::Sources>,
    concerns: &'c dyn Fn(&rules::IngressRule) -> bool,
) -> Result<(plan::Plan, rules::Collected<'c>), Error> {
    let keep = keep_type;
    let mut intake = rules::Intake::new(concerns, filter);
    if reopen.is_some() {
        intake = intake.spilling_above(options.hold_budget);
    }
    let parsed = plan::Plan::read_state(reader, source_name, &keep, &mut intake)?;
    let collected = intake.finish();
    let Some(reopen) = reopen.filter(|_| collected.spilled()) else {
        return Ok((parsed, collected));
    };
    let narrowing = rules::narrowing(&parsed, sources, collected)?;
    drop(parsed);
    let again = reopen().map_err(|e| Error::Io {
        path: source_name.to_string(),
        message: format!("cannot read the state a second time: {e}"),
    })?;
    let mut narrowed = rules::Intake::narrowed(concerns, narrowing);
    let parsed = plan::Plan::read_state(again, source_name, &keep, &mut narrowed)?;
    let collected = narrowed.finish();
    if collected.saw_another_plan() {
        return Err(Error::Io {
            path: source_name.to_string(),
            message: "the state changed between its two reads (it holds too many rules to be \
                      read once in bounded memory): audit it again once it is written"
                .to_string(),
        });
    }
    Ok((parsed, collected))
}

/// What the reader does with a resource of `resource_type` (see [`plan::Keep`]).
fn keep_type(resource_type: &str) -> plan::Keep {
    if rules::RESOURCE_TYPES.contains(&resource_type) {
        plan::Keep::NotATarget
    } else if rules::PREFIX_LIST_TYPES.contains(&resource_type)
        || rules::VPC_TYPES.contains(&resource_type)
    {
        plan::Keep::Yes
    } else {
        plan::Keep::Skip
    }
}

/// The gate: which findings a check reports, which of them fail it, and what it says about
/// its waivers and the plan.
mod gate {
    use super::*;

    /// The waivers of a check: the configured ones and those of the plan's tags, less those
    /// that run too long (each refused one is a warning).
    pub(super) fn waivers(
        extraction: &rules::Extraction<'_>,
        options: &CheckOptions,
        warnings: &mut Vec<String>,
    ) -> Vec<waiver::Waiver> {
        let mut waivers = options.waivers.clone();
        extraction.for_each_tagged(|resource| {
            let Some(tag) = resource.tags.get(rules::WAIVER_TAG) else {
                return;
            };
            if !options.tag_waivers {
                warnings.push(format!(
                    "tag portgate:waive on {} is ignored: waivers from tags are turned off (--no-tag-waivers)",
                    resource.address
                ));
                return;
            }
            match waiver::from_tag(tag, &resource.address) {
                Ok(found) => waivers.extend(found),
                Err(message) => warnings.push(format!("{message}; the tag is ignored")),
            }
        });
        if let Some(days) = options.max_waiver_days {
            let latest = options
                .today
                .saturating_add(time::Duration::days(i64::from(days)));
            waivers.retain(|w| {
                let within = w.expires <= latest;
                if !within {
                    warnings.push(format!(
                        "waiver ({}): {} on {} runs until {}, more than {days} days from today (--max-waiver-days {days}); it is ignored",
                        w.origin,
                        w.rule,
                        w.address,
                        waiver::format_date(w.expires)
                    ));
                }
                within
            });
        }
        waivers
    }

    /// A finding as the gate sees it: `None` when the options leave it out of the report;
    /// `used` marks the waiver that matched.
    pub(super) fn judge(
        finding: Finding,
        waivers: &[waiver::Waiver],
        index: &waiver::Index<'_>,
        options: &CheckOptions,
        used: &mut [bool],
    ) -> Option<GatedFinding> {
        if (options.only_changes && !finding.is_change)
            || (finding.kind == FindingKind::Unknown && options.unknown == UnknownMode::Ignore)
        {
            return None;
        }
        let matched = index.first_match(waivers, &finding.rule_id, &finding.address);
        let waiver = matched.map(|i| {
            used[i] = true;
            Box::new(waiver::AppliedWaiver {
                waiver: waivers[i].clone(),
                expired: !waivers[i].is_active(options.today),
            })
        });
        let waived = waiver.as_ref().is_some_and(|w| !w.expired);
        let fails_gate = !waived
            && match finding.kind {
                FindingKind::Unknown => options.unknown == UnknownMode::Fail,
                _ => finding.severity >= options.fail_on,
            };
        Some(GatedFinding {
            finding,
            fails_gate,
            waived,
            waiver,
        })
    }

    /// The waivers that matched no finding, each with a warning.
    pub(super) fn stale(
        waivers: &[waiver::Waiver],
        used: &[bool],
        warnings: &mut Vec<String>,
    ) -> Vec<waiver::Waiver> {
        let stale: Vec<waiver::Waiver> = waivers
            .iter()
            .zip(used)
            .filter(|(_, used)| !**used)
            .map(|(w, _)| w.clone())
            .collect();
        for w in &stale {
            warnings.push(format!(
                "stale waiver ({}): {} on {} matches no finding; remove it",
                w.origin, w.rule, w.address
            ));
        }
        stale
    }

    /// The warning about a finding whose waiver has expired.
    pub(super) fn expired_warning(f: &GatedFinding) -> Option<String> {
        let applied = f.waiver.as_ref().filter(|w| w.expired)?;
        Some(format!(
            "expired waiver ({}): {} on {} ended on {}, so the finding counts again",
            applied.waiver.origin,
            applied.waiver.rule,
            f.finding.address,
            waiver::format_date(applied.waiver.expires)
        ))
    }

    /// The warnings about the plan itself: prefix lists it names but does not define
    /// (`(list, address)`, in the plan's order), and a plan that errored or is incomplete.
    pub(super) fn plan_warnings(
        parsed: &plan::Plan,
        pairs: &[(&str, &str)],
        warnings: &mut Vec<String>,
    ) {
        let mut unchecked: Vec<(&str, Vec<&str>)> = Vec::new();
        for &(list, address) in pairs {
            match unchecked.iter_mut().find(|(l, _)| *l == list) {
                Some((_, addresses)) => addresses.push(address),
                None => unchecked.push((list, vec![address])),
            }
        }
        for (list, addresses) in unchecked {
            let more = match addresses.len() {
                1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            warnings.push(format!(
                "prefix list {list} (a source of {}{more}) is not in the plan: its entries are not checked",
                addresses[0]
            ));
        }
        if parsed.errored {
            warnings.push(
                "the plan is marked errored: `terraform plan` failed, so its planned values may be incomplete"
                    .to_string(),
            );
        }
        if !parsed.complete {
            warnings.push(
                "the plan is marked incomplete: some changes were deferred and are not checked"
                    .to_string(),
            );
        }
    }

    /// How a run task's summary names a blocking finding.
    pub(super) fn label(f: &GatedFinding) -> String {
        format!("{} {}", f.finding.rule_id, f.finding.address)
    }
}

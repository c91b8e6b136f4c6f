//! portgate: a pre-apply gate that finds Windows NetBIOS (137-139) and SMB (445) opened to the
//! internet by AWS security groups in a Terraform plan (`check`), or in Terraform state
//! (`audit`).
//!
//! Data flows one way, one module per stage, with plain data between them:
//!
//! 1. [`plan`]: bytes of `terraform show -json` (or a state) → [`plan::Plan`] (typed,
//!    validated, streamed).
//! 2. [`rules`]: plan → [`rules::RuleSet`] of normalized [`rules::IngressRule`]s ([`sources`]
//!    settles what the plan cannot show).
//! 3. [`policy`]: rules × [`policy::PolicySet`] → [`policy::Finding`]s.
//! 4. [`gate`]: findings × the check's options and waivers → [`CheckReport`] and its verdict
//!    ([`config`] and [`waiver`] beside it).
//! 5. [`fix`]: findings → suggested patches (byte edits of the user's `.tf` files), proved.
//! 6. [`report`]: findings and fixes → text, JSON, SARIF, JUnit and the other formats.
//! 7. `runtask` (feature `serve`) and [`cli`]: the HCP Terraform run task and the command
//!    line, on top of all of them.
//!
//! An import only runs down this list (`tests/layers.rs` holds every module to it). This file
//! only declares the modules and wires stages 1-4 together ([`check`], [`check_input`],
//! [`check_top`]); it re-exports the gate's types. The library never prints and never exits:
//! errors are typed ([`Error`]), and the binary maps them to exit code 2 in one place.

#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod file_error;
pub mod fix;
pub mod gate;
pub mod plan;
pub mod policy;
pub mod report;
pub mod rules;
#[cfg(feature = "serve")]
pub mod runtask;
pub mod sources;
pub mod waiver;

use policy::PolicySet;

pub use gate::{
    CheckOptions, CheckReport, FailOn, GatedFinding, HOLD_BUDGET, PlanInfo, TopReport, UnknownMode,
};

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
    let mut first = gate::FirstFindings::new(keep);
    let mut pairs: Vec<(usize, (String, String))> = Vec::new();
    let mut scanned = 0;
    for batch in 0..batches.count {
        let assembled = extraction.batch(&batches, batch)?;
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
            first.add(gated, |gated| {
                let rule = &assembled.rules.rules[gated.finding.rule_index];
                assembled.tags[rule.resource]
            });
        }
        first.end_batch();
    }
    let first = first.finish();
    let shown = first.shown;
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
    warnings.extend(first.expired_warnings);
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
        total: first.total,
        blocking: first.blocking,
        first_blocking: first.first_blocking,
    })
}

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

/// Reads the plan (or state), keeping only what the rules stage needs (see `rules::Intake`);
/// with `reopen`, without decoding what `resource_changes` supersedes, and in bounded memory
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
    let Some(reopen) = reopen else {
        // Read once: there is no second read to narrow what is held.
        let mut intake = rules::Intake::new(concerns, filter);
        let parsed = match options.input {
            plan::InputKind::State => {
                plan::Plan::read_state(reader, source_name, &keep, &mut intake)?
            }
            plan::InputKind::Plan => {
                plan::Plan::read_filtered(reader, source_name, &keep, &mut intake)?
            }
        };
        return Ok((parsed, intake.finish()));
    };
    let noun = options.input.noun();
    let read_again = || {
        reopen().map_err(|e| Error::Io {
            path: source_name.to_string(),
            message: format!("cannot read the {noun} a second time: {e}"),
        })
    };
    let again = Again {
        input: options.input,
        source_name,
        sources,
        concerns,
    };
    if options.input == plan::InputKind::State {
        // A state has no change records to supersede anything: read once, and once more when
        // it holds too many rules to keep.
        let mut first = intake();
        let parsed = plan::Plan::read_state(reader, source_name, &keep, &mut first)?;
        return again.if_spilled(parsed, first.finish(), |narrowed| {
            Ok(Some(plan::Plan::read_state(
                read_again()?,
                source_name,
                &keep,
                narrowed,
            )?))
        });
    }
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
    again.if_spilled(parsed, collected, |narrowed| {
        Ok(if optimistic {
            plan::Plan::read_optimistic(read_again()?, source_name, &keep, narrowed)?
        } else {
            Some(plan::Plan::read_filtered(
                read_again()?,
                source_name,
                &keep,
                narrowed,
            )?)
        })
    })
}

/// The read of an input after the one that found it holds too many rules to keep.
struct Again<'s, 'c> {
    input: plan::InputKind,
    source_name: &'s str,
    sources: Option<&'s sources::Sources>,
    concerns: &'c dyn Fn(&rules::IngressRule) -> bool,
}

impl<'c> Again<'_, 'c> {
    /// `parsed` and `collected` as they are, unless the rules spilled: then `read` reads the
    /// input once more into an intake that holds only the rules that may be needed (see
    /// `rules::narrowing`), and the input must be the same one (`None` from `read`, or another
    /// plan's rules, says it is not).
    fn if_spilled(
        &self,
        parsed: plan::Plan,
        collected: rules::Collected<'c>,
        read: impl FnOnce(&mut rules::Intake<'c>) -> Result<Option<plan::Plan>, Error>,
    ) -> Result<(plan::Plan, rules::Collected<'c>), Error> {
        if !collected.spilled() {
            return Ok((parsed, collected));
        }
        let narrowing = rules::narrowing(&parsed, self.sources, collected)?;
        drop(parsed);
        let mut narrowed = rules::Intake::narrowed(self.concerns, narrowing);
        let parsed = read(&mut narrowed)?;
        let collected = narrowed.finish();
        match parsed {
            Some(parsed) if !collected.saw_another_plan() => Ok((parsed, collected)),
            _ => Err(Error::Io {
                path: self.source_name.to_string(),
                message: format!(
                    "the {} changed between its two reads (it holds too many rules to be read \
                     once in bounded memory): {} it again once it is written",
                    self.input.noun(),
                    self.input.command()
                ),
            }),
        }
    }
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

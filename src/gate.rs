//! The gate: which findings a check reports, which of them fail it, and what it says about its
//! waivers and its input: the options of a check (`--fail-on`, `--unknown`, waivers, the
//! input's kind), each finding judged against them ([`GatedFinding`]), and the outcome
//! ([`CheckReport`], [`TopReport`]); for a caller that shows only the first findings, which of
//! them to keep as they come, batch by batch (`FirstFindings`).
//!
//! It owns the verdict and nothing before it: the plan, rules and policies are read and
//! evaluated by the stages below it (wired together in `lib.rs`), and reports, fixes and the
//! run task only read what it decided.

use crate::policy::{self, Finding, FindingKind, Severity};
use crate::{plan, rules, waiver};

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
    /// without them such values stay unknown (PG003). See [`crate::sources`].
    pub source_dir: Option<std::path::PathBuf>,
    /// Most bytes of `source_dir`'s files read (`None`: no limit); beyond it the sources prove
    /// nothing more (the run task's `--max-config-mib`, see `sources::tree::SourceTree`).
    pub max_source_bytes: Option<u64>,
    /// Keep every ingress rule of the plan in [`CheckReport::rules`], also those no policy can
    /// concern (a report with a test case per rule needs them). Otherwise they are set aside as
    /// the plan streams, and only counted.
    pub list_every_rule: bool,
    /// When the plan can be read again ([`crate::check_input`]): the bytes its held rules may take
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

/// What a run task shows of a check (see [`crate::check_top`]).
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
            .map(label)
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
pub(crate) const FIRST_BLOCKING: usize = 5;

/// A finding's [`policy::SortKey`], owned.
#[derive(Clone)]
pub(crate) struct OwnedKey {
    address: String,
    deposed: Option<String>,
    block: Option<String>,
    rule_id: String,
    family: Option<rules::cidr::Family>,
}

impl OwnedKey {
    pub(crate) fn of(f: &Finding) -> OwnedKey {
        OwnedKey {
            address: f.address.clone(),
            deposed: f.deposed.clone(),
            block: f.block.clone(),
            rule_id: f.rule_id.clone(),
            family: f.family,
        }
    }

    pub(crate) fn key(&self) -> policy::SortKey<'_> {
        (
            &self.address,
            self.deposed.as_deref(),
            self.block.as_deref(),
            &self.rule_id,
            self.family,
        )
    }
}

/// The findings a caller shows when it shows only the first `keep` of them (a run task),
/// gathered batch by batch ([`crate::check_top`]): only the findings that can still be among
/// the first are kept, each with a tag (the group it comes from); the rest are counted. The
/// labels of the first blocking findings and the warnings of expired waivers are kept too.
pub(crate) struct FirstFindings<T> {
    keep: usize,
    shown: Vec<(GatedFinding, T)>,
    first_blocking: Vec<(OwnedKey, String)>,
    total: usize,
    blocking: usize,
    /// Warnings about expired waivers, by the finding they come from.
    expired: Vec<(OwnedKey, String)>,
    /// What a finding must come before to enter each list once it is full (both are sorted at
    /// the end of a batch).
    shown_bar: Option<OwnedKey>,
    blocking_bar: Option<OwnedKey>,
}

/// What [`FirstFindings::finish`] hands back: the first findings, sorted, with their tags, and
/// what the report says of the others.
pub(crate) struct First<T> {
    pub shown: Vec<(GatedFinding, T)>,
    pub total: usize,
    pub blocking: usize,
    /// `RULE ADDRESS` of the first [`FIRST_BLOCKING`] blocking findings, in the report's order.
    pub first_blocking: Vec<String>,
    /// In the report's order.
    pub expired_warnings: Vec<String>,
}

impl<T> FirstFindings<T> {
    pub(crate) fn new(keep: usize) -> Self {
        FirstFindings {
            keep,
            shown: Vec::new(),
            first_blocking: Vec::new(),
            total: 0,
            blocking: 0,
            expired: Vec::new(),
            shown_bar: None,
            blocking_bar: None,
        }
    }

    /// Takes a finding of the current batch; `tag` is asked only for one that is kept.
    pub(crate) fn add(&mut self, gated: GatedFinding, tag: impl FnOnce(&GatedFinding) -> T) {
        let before = |bar: &Option<OwnedKey>| {
            bar.as_ref()
                .is_none_or(|bar| gated.finding.sort_key() < bar.key())
        };
        self.total += 1;
        if let Some(warning) = expired_warning(&gated) {
            self.expired.push((OwnedKey::of(&gated.finding), warning));
        }
        if gated.fails_gate {
            self.blocking += 1;
            if before(&self.blocking_bar) {
                self.first_blocking
                    .push((OwnedKey::of(&gated.finding), label(&gated)));
            }
        }
        if before(&self.shown_bar) {
            let tag = tag(&gated);
            self.shown.push((gated, tag));
        }
        if self.shown.len() >= 2 * self.keep.max(1) {
            self.trim();
        }
    }

    /// Ends a batch: the lists are cut to their lengths, and what the next batch's findings
    /// must come before is set.
    pub(crate) fn end_batch(&mut self) {
        self.trim();
        self.first_blocking
            .sort_by(|a, b| a.0.key().cmp(&b.0.key()));
        self.first_blocking.truncate(FIRST_BLOCKING);
        self.shown_bar = self
            .shown
            .last()
            .filter(|_| self.shown.len() >= self.keep)
            .map(|(f, _)| OwnedKey::of(&f.finding));
        self.blocking_bar = self
            .first_blocking
            .last()
            .filter(|_| self.first_blocking.len() >= FIRST_BLOCKING)
            .map(|(key, _)| key.clone());
    }

    fn trim(&mut self) {
        self.shown
            .sort_by(|a, b| a.0.finding.sort_key().cmp(&b.0.finding.sort_key()));
        self.shown.truncate(self.keep);
    }

    pub(crate) fn finish(mut self) -> First<T> {
        self.end_batch();
        self.expired.sort_by(|a, b| a.0.key().cmp(&b.0.key()));
        First {
            shown: self.shown,
            total: self.total,
            blocking: self.blocking,
            first_blocking: self.first_blocking.into_iter().map(|(_, l)| l).collect(),
            expired_warnings: self.expired.into_iter().map(|(_, w)| w).collect(),
        }
    }
}

impl PlanInfo {
    pub(crate) fn of(plan: &plan::Plan, source_name: &str) -> PlanInfo {
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

/// The waivers of a check: the configured ones and those of the plan's tags, less those
/// that run too long (each refused one is a warning).
pub(crate) fn waivers(
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
pub(crate) fn judge(
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
pub(crate) fn stale(
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
pub(crate) fn expired_warning(f: &GatedFinding) -> Option<String> {
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
pub(crate) fn plan_warnings(
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
pub(crate) fn label(f: &GatedFinding) -> String {
    format!("{} {}", f.finding.rule_id, f.finding.address)
}

//! Stage 5: findings → suggested patches that swap the world CIDR for trusted CIDRs.
//!
//! For every rule with an exposed finding, portgate finds the Terraform source that declared
//! it (through the plan's module tree and local module `source` paths), the `ingress` block or
//! rule argument, and the literal that holds the world CIDR, following `var.NAME` to where the
//! variable is set. The change is a list of byte [`edit::Edit`]s on the original file, so
//! formatting and comments stay exactly as they were; it is shown as a unified diff and can be
//! written back with [`write::write_files`].
//!
//! When no source can be patched safely, the fix is a *suggestion*: the planned rule rendered
//! as HCL before and after, with a sentence saying which expression to change.
//!
//! Several findings on one rule (PG001 and PG002, IPv4 and IPv6) share one fix; count and
//! for_each instances of one block share one edit.
//!
//! What it must not do: offer a patch it has not proved (every patch is re-derived and the
//! group judged again by the policies; one that would leave or reopen a hole becomes a
//! suggestion), decide the verdict, or write a file except through [`write::write_files`]
//! when asked (`--write`).

pub mod edit;
mod json;
mod patch;
mod prove;
mod rederive;
mod render;
mod source;
mod split;
pub mod write;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;

use hcl_edit::Span;
use hcl_edit::expr::{Expression, UnaryOperator};
use hcl_edit::structure::{Block, Body};
use serde::Serialize;

use crate::config::TrustedCidr;
use crate::policy::{Finding, FindingKind, PolicySet};
use crate::rules::cidr;
use crate::rules::protocol::Protocol;
use crate::rules::{CheckedResource, CidrValue, IngressRule, ModuleCallSource, RuleSet};
use crate::sources::eval::{Eval, References, Scope};
use edit::Edit;
use patch::{ElementChange, World};
use source::{SourceFile, SourceTree, line_of};

/// What fixes are made with.
#[derive(Debug, Clone)]
pub struct FixOptions {
    pub trusted: Vec<TrustedCidr>,
    /// The Terraform root module the plan was made from; `None` (`--no-source`): patches are
    /// rendered from the plan.
    pub source_dir: Option<PathBuf>,
    /// Also put each security group's own VPC CIDRs (from the plan) in place of the world:
    /// chosen with `--trusted-cidr vpc`, or the suggestion made when no trusted CIDR was
    /// configured. Every such fix says so and asks for confirmation.
    pub use_vpc: bool,
    /// Most bytes of `source_dir`'s files read (`None`: no limit); beyond it fixes are
    /// suggestions saying why (the run task's `--max-config-mib`).
    pub max_source_bytes: Option<u64>,
}

/// Whether a fix patches the user's files or only shows the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FixKind {
    /// A patch of the `.tf` / `.tfvars` files under the source directory.
    Source,
    /// The planned rule rendered as HCL, before and after: no source file could be patched.
    Suggestion,
}

/// The fix of one rule, shared by all its findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub kind: FixKind,
    /// The trusted CIDRs of the families the rule opens to the world.
    pub trusted_cidrs: Vec<String>,
    /// The first file the patch changes (source fixes only).
    pub file: Option<String>,
    /// Every file the patch changes.
    pub files: Vec<String>,
    /// A unified diff: applicable with `git apply` for source fixes.
    pub patch: String,
    /// What the patch does beyond the obvious (an entry removed without replacement, ...).
    pub notes: Vec<String>,
    /// Why there is no source patch (suggestions only).
    pub reason: Option<String>,
    /// The VPC whose own CIDRs the fix puts in place of the world, when it does (see
    /// [`FixOptions::use_vpc`]).
    pub vpc: Option<String>,
    /// The patch as replacements of file regions (source fixes only), for SARIF `fixes[]`.
    pub edits: Vec<RegionEdit>,
}

/// A region of a source file: 1-based lines and columns (columns count characters; the end
/// column is the one just past the region), plus byte offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Region {
    pub start_line: usize,
    pub start_column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub byte_offset: usize,
    pub byte_length: usize,
}

impl Region {
    fn of(text: &str, range: &std::ops::Range<usize>) -> Region {
        let (start_line, start_column) = crate::plan::line_column(text, range.start);
        let (end_line, end_column) = crate::plan::line_column(text, range.end);
        Region {
            start_line,
            start_column,
            end_line,
            end_column,
            byte_offset: range.start,
            byte_length: range.end - range.start,
        }
    }
}

/// One replacement of a fix, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionEdit {
    /// Path relative to the source directory.
    pub file: String,
    pub region: Region,
    pub replacement: String,
}

/// Where a rule is declared in the sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceLocation {
    /// Path relative to the source directory.
    pub file: String,
    pub region: Region,
}

/// The combined change to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    pub path: PathBuf,
    /// The path the patch names: relative to the working directory when the source directory
    /// was given as a relative path, else relative to the source directory.
    pub rel: String,
    /// The text the edits were computed against.
    pub original: String,
    pub edits: Vec<Edit>,
    pub patch: String,
}

impl FilePatch {
    pub fn patched(&self) -> String {
        edit::apply(&self.original, &self.edits)
    }
}

/// All fixes of one check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixSet {
    /// By rule index (see [`Finding::rule_index`]).
    pub by_rule: BTreeMap<usize, Fix>,
    /// Rules whose fix was withdrawn because, with every offered change made, their security
    /// group would still be open (see `prove`), with the reason.
    pub withdrawn: BTreeMap<usize, String>,
    /// The combined source patch, file by file.
    pub files: Vec<FilePatch>,
}

impl FixSet {
    /// The fix of a finding, if it has one.
    pub fn for_finding(&self, finding: &Finding) -> Option<&Fix> {
        match finding.kind {
            FindingKind::Exposed => self.by_rule.get(&finding.rule_index),
            _ => None,
        }
    }

    /// Why a finding's rule has no fix although it was exposed, when its fix was withdrawn.
    pub fn withdrawn_reason(&self, finding: &Finding) -> Option<&str> {
        match finding.kind {
            FindingKind::Exposed => self.withdrawn.get(&finding.rule_index).map(String::as_str),
            _ => None,
        }
    }

    /// Every source patch in one diff, for `git apply`.
    pub fn combined_patch(&self) -> String {
        self.files.iter().map(|f| f.patch.as_str()).collect()
    }
}

/// Computes the fixes of every exposed finding. A fix is only kept when, with every fix made,
/// `policies` find its security group closed (see `prove`).
pub fn suggest<'f>(
    rules: &RuleSet,
    findings: impl IntoIterator<Item = &'f Finding>,
    policies: &PolicySet,
    options: &FixOptions,
) -> FixSet {
    let mut worlds: BTreeMap<usize, World> = BTreeMap::new();
    // A finding with no CIDR to replace is part of a group's cover that the patches of the
    // group's other rules close (see `policy::groups`): nothing to change in its rule.
    for finding in findings
        .into_iter()
        .filter(|f| f.kind == FindingKind::Exposed && !f.cidrs.is_empty())
    {
        let world = worlds.entry(finding.rule_index).or_default();
        for text in &finding.cidrs {
            if let Some(net) = cidr::parse(text) {
                let members = world.members.entry(cidr::family(&net)).or_default();
                if !members.contains(&net) {
                    members.push(net);
                }
            }
        }
    }

    let mut tree = options.source_dir.as_deref().map(|dir| {
        let mut tree = SourceTree::new(dir).with_read_limit(options.max_source_bytes);
        tree.variables = rules.root_variables.clone();
        tree.from_state = rules.input == crate::plan::InputKind::State;
        tree
    });
    // Patches name files as seen from where portgate runs, so `git apply` works there: a
    // relative `--source infra` gives `infra/main.tf`. An absolute source directory (a run
    // task's unpacked configuration) keeps paths relative to it.
    let prefix: Option<String> = options
        .source_dir
        .as_deref()
        .filter(|dir| dir.is_relative())
        .map(crate::sources::tree::slash_path)
        .filter(|prefix| !prefix.is_empty());
    let shown = |rel: &str| match &prefix {
        Some(prefix) => format!("{prefix}/{rel}"),
        None => rel.to_string(),
    };
    let mut accepted: BTreeMap<PathBuf, (Rc<SourceFile>, Vec<Edit>)> = BTreeMap::new();
    let mut set = FixSet::default();
    let mut own_edits: BTreeMap<usize, Vec<(PathBuf, Edit)>> = BTreeMap::new();
    let mut trusted_of: BTreeMap<usize, Vec<TrustedCidr>> = BTreeMap::new();
    // Source fixes whose notes say other ports of the rule lose the world too.
    let mut narrows: std::collections::BTreeSet<usize> = Default::default();
    // The notes a fix keeps if it falls back to a suggestion: the VPC's, and what the change
    // takes beyond the guarded ports.
    let mut prefix_notes: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (&rule_index, world) in &worlds {
        let rule = &rules.rules[rule_index];
        let resource = &rules.resources[rule.resource];
        let mut trusted: Vec<TrustedCidr> = options
            .trusted
            .iter()
            .filter(|t| world.members.contains_key(&cidr::family(&t.net)))
            .cloned()
            .collect();
        let mut notes = Vec::new();
        let mut vpc_notes: Vec<String> = Vec::new();
        let mut vpc = None;
        if options.use_vpc
            && let Some(group_vpc) = rule.group.as_ref().and_then(|g| rules.group_vpcs.get(g))
        {
            let own: Vec<TrustedCidr> = group_vpc
                .cidrs
                .iter()
                .filter_map(|c| TrustedCidr::parse(c).ok())
                .filter(|t| world.members.contains_key(&cidr::family(&t.net)))
                .filter(|t| !trusted.contains(t))
                .collect();
            // A VPC CIDR passes the checks of a trusted one: never a cover of the world.
            if let (false, Ok(warnings)) = (own.is_empty(), crate::config::check_trusted_set(&own))
            {
                vpc_notes.push(format!(
                    "{} is the VPC's own CIDR ({}) — confirm before applying: pass --trusted-cidr CIDR to name the networks that need NetBIOS/SMB yourself",
                    own.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                    group_vpc.vpc
                ));
                vpc_notes.extend(warnings);
                trusted.extend(own);
                vpc = Some(group_vpc.vpc.clone());
            }
        }
        if options.trusted.is_empty() && vpc.is_none() {
            // Nothing chosen and no VPC CIDR to suggest: the report gives the hint.
            continue;
        }
        let width = split::width(rule, policies);
        // A world entry from a prefix list is not written in the rule: a patch of the rule
        // alone would leave it open.
        let from_list = rule.cidrs.iter().find_map(|c| match &c.value {
            CidrValue::PrefixList { value, list } if world.holds(value) => Some(format!(
                "the world comes from the entry {value} of prefix list {list}; change that entry"
            )),
            _ => None,
        });
        let source = match from_list {
            Some(reason) => Err(reason),
            None => match tree.as_mut() {
                Some(tree) => {
                    source_edits(tree, resource, rule, world, &trusted, &width, &mut notes)
                        .and_then(|edits| accept(&mut accepted, edits))
                }
                None => Err("no Terraform sources were read (--no-source)".to_string()),
            },
        };
        // What a patch of the whole rule takes away beyond the guarded ports, unless a split
        // was written.
        let width_note = match &width {
            _ if notes.iter().any(|n| n.starts_with(SPLIT_NOTE)) => None,
            split::Width::Wider { l4, pieces } => Some(format!(
                "this rule also allows {}: the change takes the world away from those ports too, not only from {}; to keep them open, split the rule",
                split::describe(*l4, pieces, false),
                split::describe(*l4, pieces, true)
            )),
            split::Width::AllProtocols => Some(
                "this rule allows every protocol and port (protocol -1): the change takes the world away from all of them, not only from the guarded ports; to keep other traffic open, write separate rules for it".to_string(),
            ),
            split::Width::GuardedOnly => None,
        };
        notes.extend(width_note.clone());
        let mut kept_notes = vpc_notes.clone();
        kept_notes.extend(width_note.clone());
        prefix_notes.insert(rule_index, kept_notes);
        let fix = match source {
            Ok(by_file) => {
                if width_note.is_some() {
                    narrows.insert(rule_index);
                }
                own_edits.insert(
                    rule_index,
                    by_file
                        .iter()
                        .flat_map(|(file, edits)| {
                            edits.iter().map(|e| (file.path.clone(), e.clone()))
                        })
                        .collect(),
                );
                source_fix(&by_file, &trusted, notes, &shown)
            }
            Err(reason) => {
                let mut fix = suggestion(resource, rule, world, &trusted, reason, rules.input);
                fix.notes.extend(width_note);
                fix
            }
        };
        let mut fix = fix;
        fix.vpc = vpc;
        // The VPC's own CIDR is a suggestion to confirm: said first, in every output.
        fix.notes.splice(0..0, vpc_notes);
        trusted_of.insert(rule_index, trusted);
        set.by_rule.insert(rule_index, fix);
    }
    let changes: BTreeMap<usize, prove::Change<'_>> = set
        .by_rule
        .keys()
        .map(|&i| {
            (
                i,
                prove::Change {
                    world: &worlds[&i],
                    trusted: &trusted_of[&i],
                },
            )
        })
        .collect();
    let mut withdrawn = prove::still_open(rules, &changes, policies);
    // Source patches that re-deriving the patched sources does not prove (see `rederive`):
    // they fall back to suggestions saying why.
    let mut disproved: BTreeMap<usize, String> = BTreeMap::new();
    let mut baseline: Option<rederive::Baseline> = None;
    let mut proof_notes: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    loop {
        // An edit shared with a fix that goes (count instances of one block) goes with it.
        loop {
            let mut more: Vec<(usize, String, bool)> = Vec::new();
            for (&i, edits) in &own_edits {
                if withdrawn.contains_key(&i) || disproved.contains_key(&i) {
                    continue;
                }
                let shares = |gone: &BTreeMap<usize, String>| {
                    gone.iter()
                        .find(|(g, _)| {
                            own_edits
                                .get(g)
                                .is_some_and(|theirs| edits.iter().any(|e| theirs.contains(e)))
                        })
                        .map(|(&g, why)| (g, why.clone()))
                };
                if shares(&withdrawn).is_some() {
                    more.push((i, "no patch is offered: its edit is shared with the fix of another resource, which would leave that resource's security group open".to_string(), true));
                } else if let Some((g, why)) = shares(&disproved) {
                    let other = &rules.resources[rules.rules[g].resource].address;
                    more.push((i, format!("its edit is shared with the fix of {other}, which cannot be offered: {why}"), false));
                }
            }
            if more.is_empty() {
                break;
            }
            for (i, why, withdraw) in more {
                if withdraw {
                    withdrawn.insert(i, why);
                } else {
                    disproved.insert(i, why);
                }
            }
        }
        let Some(tree) = tree.as_mut() else {
            break;
        };
        let live: BTreeMap<usize, rederive::Candidate<'_>> = own_edits
            .iter()
            .filter(|(i, _)| !withdrawn.contains_key(i) && !disproved.contains_key(i))
            .map(|(&i, edits)| {
                (
                    i,
                    rederive::Candidate {
                        edits: edits.clone(),
                        world: &worlds[&i],
                        trusted: &trusted_of[&i],
                        narrows: narrows.contains(&i),
                    },
                )
            })
            .collect();
        if live.is_empty() {
            break;
        }
        let baseline = baseline.get_or_insert_with(|| rederive::Baseline::new(tree, rules));
        let verdict = rederive::verdict(tree, baseline, rules, policies, &live);
        if verdict.disproved.is_empty() {
            proof_notes = verdict.notes;
            break;
        }
        disproved.extend(verdict.disproved);
    }
    for (index, notes) in proof_notes {
        if let Some(fix) = set.by_rule.get_mut(&index) {
            fix.notes.extend(notes);
        }
    }
    for index in withdrawn.keys().chain(disproved.keys()) {
        for (path, edit) in own_edits.get(index).into_iter().flatten() {
            if let Some((_, edits)) = accepted.get_mut(path) {
                edits.retain(|e| e != edit);
            }
        }
    }
    for index in withdrawn.keys() {
        set.by_rule.remove(index);
    }
    for (&index, why) in &disproved {
        let Some(old) = set.by_rule.remove(&index) else {
            continue;
        };
        let rule = &rules.rules[index];
        let resource = &rules.resources[rule.resource];
        let mut fix = suggestion(
            resource,
            rule,
            &worlds[&index],
            &trusted_of[&index],
            why.clone(),
            rules.input,
        );
        fix.vpc = old.vpc;
        let mut notes = prefix_notes.remove(&index).unwrap_or_default();
        notes.extend(fix.notes);
        fix.notes = notes;
        set.by_rule.insert(index, fix);
    }
    accepted.retain(|_, (_, edits)| !edits.is_empty());
    set.withdrawn = withdrawn;
    for (path, (file, edits)) in accepted {
        let patched = edit::apply(&file.text, &edits);
        set.files.push(FilePatch {
            patch: edit::unified_diff(&shown(&file.rel), &file.text, &patched),
            path,
            rel: shown(&file.rel),
            original: file.text.clone(),
            edits,
        });
    }
    set
}

type FileEdits = Vec<(Rc<SourceFile>, Edit)>;
/// Edits grouped by the file they change.
type EditsByFile = Vec<(Rc<SourceFile>, Vec<Edit>)>;

/// Adds one rule's edits to those accepted so far, unless they clash with them. Returns the
/// rule's own edits grouped by file.
fn accept(
    accepted: &mut BTreeMap<PathBuf, (Rc<SourceFile>, Vec<Edit>)>,
    edits: FileEdits,
) -> Result<EditsByFile, String> {
    let mut by_file: BTreeMap<PathBuf, (Rc<SourceFile>, Vec<Edit>)> = BTreeMap::new();
    for (file, e) in edits {
        by_file
            .entry(file.path.clone())
            .or_insert_with(|| (file.clone(), Vec::new()))
            .1
            .push(e);
    }
    let mut merged = Vec::new();
    for (path, (file, own)) in &by_file {
        let own = edit::normalize(own.clone())
            .map_err(|_| format!("the edits for {} overlap", file.rel))?;
        let mut all = accepted
            .get(path)
            .map(|(_, e)| e.clone())
            .unwrap_or_default();
        all.extend(own.iter().cloned());
        let all = edit::normalize(all).map_err(|_| {
            format!(
                "its edit of {} overlaps the fix of another finding; apply that one, re-plan and run portgate again",
                file.rel
            )
        })?;
        merged.push((path.clone(), file.clone(), own, all));
    }
    let mut result = Vec::new();
    for (path, file, own, all) in merged {
        accepted.insert(path, (file.clone(), all));
        result.push((file, own));
    }
    Ok(result)
}

fn trusted_texts(trusted: &[TrustedCidr]) -> Vec<String> {
    trusted.iter().map(ToString::to_string).collect()
}

fn source_fix(
    by_file: &[(Rc<SourceFile>, Vec<Edit>)],
    trusted: &[TrustedCidr],
    notes: Vec<String>,
    shown: &dyn Fn(&str) -> String,
) -> Fix {
    let files: Vec<String> = by_file.iter().map(|(f, _)| shown(&f.rel)).collect();
    let patch = by_file
        .iter()
        .map(|(file, edits)| {
            edit::unified_diff(
                &shown(&file.rel),
                &file.text,
                &edit::apply(&file.text, edits),
            )
        })
        .collect();
    let edits = by_file
        .iter()
        .flat_map(|(file, edits)| {
            edits.iter().map(|e| RegionEdit {
                file: file.rel.clone(),
                region: Region::of(&file.text, &e.range),
                replacement: e.replacement.clone(),
            })
        })
        .collect();
    Fix {
        kind: FixKind::Source,
        trusted_cidrs: trusted_texts(trusted),
        file: files.first().cloned(),
        files,
        patch,
        notes,
        reason: None,
        vpc: None,
        edits,
    }
}

/// Where each rule that has a finding is declared: the matching `ingress` block, or the
/// resource block. Rules whose source cannot be found are left out.
pub fn locate<'f>(
    rules: &RuleSet,
    findings: impl IntoIterator<Item = &'f Finding>,
    source_dir: &std::path::Path,
) -> BTreeMap<usize, SourceLocation> {
    let mut tree = SourceTree::new(source_dir);
    let mut out = BTreeMap::new();
    for finding in findings {
        if out.contains_key(&finding.rule_index) {
            continue;
        }
        let rule = &rules.rules[finding.rule_index];
        let resource = &rules.resources[rule.resource];
        let Some(calls) = &resource.module_calls else {
            continue;
        };
        let Ok(dir) = tree.module_dir(calls) else {
            continue;
        };
        let Ok(found) = tree.resource(&dir, &resource.resource_type, &resource.name) else {
            continue;
        };
        let block = found.block();
        let inline = rule.block.and_then(|_| {
            block.body.blocks().find(|b| {
                b.ident.as_str() == "ingress"
                    && b.labels.is_empty()
                    && block_matches(&b.body, rule) == Some(true)
            })
        });
        let span = inline.unwrap_or(block).span().unwrap_or(0..0);
        out.insert(
            finding.rule_index,
            SourceLocation {
                file: found.file.rel.clone(),
                region: Region::of(&found.file.text, &span),
            },
        );
    }
    out
}

/// The fallback: render the planned rule before and after.
fn suggestion(
    resource: &CheckedResource,
    rule: &IngressRule,
    world: &World,
    trusted: &[TrustedCidr],
    reason: String,
    input: crate::plan::InputKind,
) -> Fix {
    // Entries a rule gets from prefix lists are not written in the rule: the reason says which
    // entry to change.
    let mut attributes: Vec<&'static str> = Vec::new();
    for entry in &rule.cidrs {
        let from_list = matches!(entry.value, CidrValue::PrefixList { .. });
        if entry.text().is_some() && !from_list && !attributes.contains(&entry.attribute) {
            attributes.push(entry.attribute);
        }
    }
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut notes = Vec::new();
    // A rule resource's `source_security_group_id` conflicts with CIDR blocks in the provider's
    // schema: unknown in the plan, it is computed, not a source the rule keeps.
    let mut remaining = rule
        .other_sources
        .iter()
        .filter(|s| {
            !(resource.resource_type == "aws_security_group_rule"
                && s.as_str() == "source_security_group_id (unknown until apply)")
        })
        .count();
    for attribute in attributes {
        let values: Vec<String> = rule
            .cidrs
            .iter()
            .filter(|c| c.attribute == attribute)
            .filter_map(|c| c.text().map(str::to_string))
            .collect();
        let is_list = attribute.ends_with("_blocks");
        let change = patch::plan_list(
            &values.iter().cloned().map(Some).collect::<Vec<_>>(),
            world,
            trusted,
        );
        let mut new_values = Vec::new();
        for (value, c) in values.iter().zip(&change.changes) {
            match c {
                ElementChange::Keep => new_values.push(value.clone()),
                ElementChange::Remove => {}
                ElementChange::Replace(items) => new_values.extend(items.iter().cloned()),
            }
        }
        if !is_list {
            new_values.truncate(1);
        }
        remaining += new_values.len();
        removed_notes(&mut notes, attribute, &change.removed_without_replacement);
        before.push(render::Argument {
            name: attribute,
            values,
            is_list,
        });
        if is_list || !new_values.is_empty() {
            after.push(render::Argument {
                name: attribute,
                values: new_values,
                is_list,
            });
        }
    }
    if remaining == 0 {
        notes.push(match rule.block_label() {
            Some(block) => format!(
                "no source is left in {} {block}, so the block is removed",
                resource.address
            ),
            None => format!(
                "no source is left in {}, so the whole resource is removed",
                resource.address
            ),
        });
    }
    let before_text = render::render(resource, rule, Some(&before));
    let after_text = render::render(resource, rule, (remaining > 0).then_some(after.as_slice()));
    let label = match rule.block_label() {
        Some(block) => format!("{} {block}", resource.address),
        None => resource.address.clone(),
    };
    Fix {
        kind: FixKind::Suggestion,
        trusted_cidrs: trusted_texts(trusted),
        file: None,
        files: Vec::new(),
        patch: edit::labelled_diff(
            &format!(
                "{}: {label}",
                match input {
                    crate::plan::InputKind::Plan => "planned",
                    crate::plan::InputKind::State => "in state",
                }
            ),
            &format!("suggested: {label}"),
            &before_text,
            &after_text,
        ),
        notes,
        reason: Some(reason),
        vpc: None,
        edits: Vec::new(),
    }
}

fn removed_notes(notes: &mut Vec<String>, attribute: &str, removed: &[String]) {
    for value in removed {
        let family = cidr::parse(value)
            .map(|n| cidr::family(&n).as_str())
            .unwrap_or("matching");
        notes.push(format!(
            "{value} is removed from {attribute} without a replacement: no trusted {family} CIDR was given"
        ));
    }
}

/// How the note of a written split starts (see [`split`]).
const SPLIT_NOTE: &str = "the rule is split";

/// The note of a written split.
fn split_note(l4: crate::rules::protocol::L4, pieces: &[split::Piece]) -> String {
    format!(
        "{SPLIT_NOTE}: {} keep their sources; {} get the patched ones",
        split::describe(l4, pieces, false),
        split::describe(l4, pieces, true)
    )
}

/// The block a split would replace: an `ingress` block, or a rule resource (whose copies
/// need names of their own).
struct SplitTarget<'a> {
    file: &'a Rc<SourceFile>,
    block: &'a Block,
    is_resource: bool,
}

/// Replaces a rule's edits by one that splits its block (see [`split`]), when it can.
fn try_split(
    target: SplitTarget<'_>,
    rule: &IngressRule,
    edits: &FileEdits,
    width: &split::Width,
    removed: bool,
    notes: &mut Vec<String>,
) -> Option<FileEdits> {
    let SplitTarget {
        file,
        block,
        is_resource: rename,
    } = target;
    let split::Width::Wider { l4, pieces } = width else {
        return None;
    };
    if edits.iter().any(|(f, _)| f.path != file.path) {
        return None;
    }
    // A block left with no source keeps only its unguarded pieces.
    let kept: Vec<split::Piece> = pieces
        .iter()
        .copied()
        .filter(|p| !(removed && p.guarded))
        .collect();
    let cidr_edits: Vec<Edit> = if removed {
        Vec::new()
    } else {
        edits.iter().map(|(_, e)| e.clone()).collect()
    };
    let edit = split::split_block(file, block, rule, &cidr_edits, &kept, rename)?;
    notes.push(split_note(*l4, pieces));
    Some(vec![(file.clone(), edit)])
}

/// The source edits for one rule, with the same edits of every OpenTofu twin.
fn source_edits(
    tree: &mut SourceTree,
    resource: &CheckedResource,
    rule: &IngressRule,
    world: &World,
    trusted: &[TrustedCidr],
    width: &split::Width,
    notes: &mut Vec<String>,
) -> Result<FileEdits, String> {
    let edits = declared_edits(tree, resource, rule, world, trusted, width, notes)?;
    with_tofu_twins(tree, edits, notes)
}

/// OpenTofu reads `NAME.tofu` instead of `NAME.tf`: an edit of one must be made in the other
/// too. Each edit is carried over when the top-level block (or tfvars argument) it lies in is
/// written the same in both files; otherwise the twins differ where it matters, and there is
/// no patch.
fn with_tofu_twins(
    tree: &mut SourceTree,
    edits: FileEdits,
    notes: &mut Vec<String>,
) -> Result<FileEdits, String> {
    let mut out = Vec::new();
    let mut twins_named: Vec<String> = Vec::new();
    for (file, e) in edits {
        let is_tf = file.path.extension().is_some_and(|x| x == "tf");
        let twin_path = file.path.with_extension("tofu");
        if !is_tf || !twin_path.is_file() {
            out.push((file, e));
            continue;
        }
        let twin = tree.file(&twin_path)?;
        let pair = format!("{} and {}", file.rel, twin.rel);
        let refuse = || {
            format!(
                "{pair} both declare what the patch changes (OpenTofu reads the .tofu file instead), and they differ there: change the rule in both"
            )
        };
        let (own_span, key) = top_level_at(&file, e.range.start).ok_or_else(refuse)?;
        let own_span = whole_lines(&file.text, own_span);
        if e.range.start < own_span.start || e.range.end > own_span.end {
            return Err(refuse());
        }
        let twin_span = twin
            .body
            .iter()
            .filter_map(|s| {
                let span = s.span()?;
                (structure_key(s) == key).then_some(span)
            })
            .next()
            .map(|span| whole_lines(&twin.text, span))
            .ok_or_else(refuse)?;
        if file.text[own_span.clone()] != twin.text[twin_span.clone()] {
            return Err(refuse());
        }
        let shift = |offset: usize| offset - own_span.start + twin_span.start;
        let twin_edit = Edit {
            range: shift(e.range.start)..shift(e.range.end),
            replacement: e.replacement.clone(),
        };
        if !twins_named.contains(&pair) {
            notes.push(format!(
                "{} is OpenTofu's twin of {}: it gets the same change",
                twin.rel, file.rel
            ));
            twins_named.push(pair);
        }
        out.push((file, e));
        out.push((twin, twin_edit));
    }
    Ok(out)
}

/// `span` widened to whole lines, with the last line's newline.
fn whole_lines(text: &str, span: std::ops::Range<usize>) -> std::ops::Range<usize> {
    patch::line_range(text, span.start).start..patch::line_range(text, span.end).end
}

/// The span and identity (`resource aws_security_group web`) of the top-level structure of
/// `file` that holds byte `offset`.
fn top_level_at(file: &SourceFile, offset: usize) -> Option<(std::ops::Range<usize>, String)> {
    file.body.iter().find_map(|s| {
        let span = s.span()?;
        let lines = whole_lines(&file.text, span.clone());
        (lines.start <= offset && offset < lines.end).then(|| (span, structure_key(s)))
    })
}

fn structure_key(structure: &hcl_edit::structure::Structure) -> String {
    match structure {
        hcl_edit::structure::Structure::Attribute(a) => format!("= {}", a.key.as_str()),
        hcl_edit::structure::Structure::Block(b) => {
            let mut key = b.ident.as_str().to_string();
            for l in &b.labels {
                key.push(' ');
                key.push_str(l.as_str());
            }
            key
        }
    }
}

/// The source edits for one rule, in the files Terraform reads.
fn declared_edits(
    tree: &mut SourceTree,
    resource: &CheckedResource,
    rule: &IngressRule,
    world: &World,
    trusted: &[TrustedCidr],
    width: &split::Width,
    notes: &mut Vec<String>,
) -> Result<FileEdits, String> {
    let calls = resource.module_calls.as_ref().ok_or_else(|| {
        if tree.from_state {
            "no `module` block of the sources leads to this resource's module (or its `source` is not a plain string), so its source cannot be found"
        } else {
            "the plan has no configuration for this resource's module, so its source cannot be found"
        }
        .to_string()
    })?;
    let dir = tree.module_dir(calls)?;
    let found = tree.resource(&dir, &resource.resource_type, &resource.name)?;
    let file = found.file.clone();
    let block = found.block();
    // An override file's arguments replace the block's, and its nested block types replace all
    // of the block's blocks of that type: what decides the rule may not be in `block` at all.
    let decisive: &[&str] = if rule.block.is_some() {
        &["ingress"]
    } else {
        &[
            "cidr_blocks",
            "ipv6_cidr_blocks",
            "cidr_ipv4",
            "cidr_ipv6",
            "from_port",
            "to_port",
            "protocol",
            "ip_protocol",
        ]
    };
    // Inline rules: the last override that writes `ingress` (blocks, `dynamic` or the
    // argument) holds all of the group's inline rules, so that block is the one to patch. A
    // rule resource's arguments are each decided by the last file that writes them.
    let mut inline_in: Option<crate::sources::tree::ResourceBlock> = None;
    let mut decided_in: BTreeMap<&str, crate::sources::tree::ResourceBlock> = BTreeMap::new();
    for over in tree.overrides(&dir, &resource.resource_type, &resource.name)? {
        let body = &over.block().body;
        let sets = |key: &str| {
            body.get_attribute(key).is_some()
                || body.blocks().any(|b| {
                    b.ident.as_str() == key
                        || (b.ident.as_str() == "dynamic"
                            && b.labels.first().map(|l| l.as_str()) == Some(key))
                })
        };
        if rule.block.is_some() {
            if sets("ingress") {
                inline_in = Some(over);
            }
            continue;
        }
        let keys: Vec<&str> = decisive.iter().copied().filter(|k| sets(k)).collect();
        for key in keys {
            decided_in.insert(key, over.clone());
        }
    }
    if rule.block.is_some() {
        if let Some(over) = inline_in {
            let over_file = over.file.clone();
            notes.push(format!(
                "the group's ingress rules are written in the override file {}, which replaces those of {}: the patch is made there",
                over_file.rel, file.rel
            ));
            let scope = instance_scope(tree, resource, &file, block);
            return inline_edits(
                tree,
                &over_file,
                over.block(),
                rule,
                (calls, scope.as_ref()),
                world,
                trusted,
                width,
                notes,
            );
        }
        let scope = instance_scope(tree, resource, &file, block);
        return inline_edits(
            tree,
            &file,
            block,
            rule,
            (calls, scope.as_ref()),
            world,
            trusted,
            width,
            notes,
        );
    }
    let attributes = if resource.resource_type == "aws_vpc_security_group_ingress_rule" {
        ["cidr_ipv4", "cidr_ipv6"]
    } else {
        ["cidr_blocks", "ipv6_cidr_blocks"]
    };
    if !decided_in.is_empty() {
        return override_edits(
            tree,
            (&file, block),
            &decided_in,
            &attributes,
            calls,
            rule,
            world,
            trusted,
            notes,
        );
    }
    let outcome = attribute_edits(
        tree,
        &file,
        &block.body,
        &attributes,
        calls,
        rule,
        world,
        trusted,
        notes,
    )?;
    let removed = outcome.remaining == 0;
    let target = SplitTarget {
        file: &file,
        block,
        is_resource: true,
    };
    if let Some(split) = try_split(target, rule, &outcome.edits, width, removed, notes) {
        return Ok(split);
    }
    if removed {
        // Removing a block that something refers to would break `terraform validate`.
        let own = (resource.resource_type.as_str(), resource.name.as_str());
        let users = references_to(tree, &dir, own, &file, block)?;
        if !users.is_empty() {
            return Err(format!(
                "no source would be left in {}, but removing it would break what refers to it ({}); remove or change those first, or give a trusted CIDR of its family",
                resource.address,
                users.join(", ")
            ));
        }
        notes.push(format!(
            "no source is left in {}, so the whole resource is removed",
            resource.address
        ));
        let span = block.span().unwrap_or(0..0);
        return Ok(vec![(file.clone(), patch::remove_lines(&file.text, &span))]);
    }
    Ok(outcome.edits)
}

/// The edits for a rule resource that override files change: each CIDR argument is patched in
/// the last file that writes it. Neither a split (its copies would not get the overrides) nor
/// a removal is written then: those fall back.
#[allow(clippy::too_many_arguments)]
fn override_edits(
    tree: &mut SourceTree,
    (file, block): (&Rc<SourceFile>, &Block),
    decided_in: &BTreeMap<&str, crate::sources::tree::ResourceBlock>,
    attributes: &[&'static str],
    calls: &[ModuleCallSource],
    rule: &IngressRule,
    world: &World,
    trusted: &[TrustedCidr],
    notes: &mut Vec<String>,
) -> Result<FileEdits, String> {
    let mut edits: FileEdits = Vec::new();
    let mut remaining = other_sources_left(rule, &block.body);
    for &attribute in attributes {
        let (target_file, body) = match decided_in.get(attribute) {
            Some(over) => (over.file.clone(), over.block().body.clone()),
            None => (file.clone(), block.body.clone()),
        };
        let mut own_notes = Vec::new();
        match attribute_edits(
            tree,
            &target_file,
            &body,
            &[attribute],
            calls,
            rule,
            world,
            trusted,
            &mut own_notes,
        ) {
            Ok(outcome) => {
                remaining += outcome.remaining - other_sources_left(rule, &body);
                if decided_in.contains_key(attribute) {
                    notes.push(format!(
                        "{attribute} is written in the override file {}, which replaces that of {}: the patch is made there",
                        target_file.rel, file.rel
                    ));
                }
                notes.extend(own_notes);
                edits.extend(outcome.edits);
            }
            Err(e) if e == NO_WORLD => {
                remaining += rule
                    .cidrs
                    .iter()
                    .filter(|c| c.attribute == attribute)
                    .count();
            }
            Err(e) => return Err(e),
        }
    }
    if edits.is_empty() {
        return Err(NO_WORLD.to_string());
    }
    if remaining == 0 {
        return Err(format!(
            "no source would be left in the rule, and override files ({}) change it: remove the rule by hand",
            decided_in
                .values()
                .map(|o| o.file.rel.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(edits)
}

/// Why a block gets no CIDR edit.
const NO_WORLD: &str = "none of its CIDR arguments holds the world";

/// The edits for an inline `ingress` rule of a security group.
#[allow(clippy::too_many_arguments)]
fn inline_edits(
    tree: &mut SourceTree,
    file: &Rc<SourceFile>,
    resource_block: &Block,
    rule: &IngressRule,
    (calls, scope): (&[ModuleCallSource], Option<&Scope>),
    world: &World,
    trusted: &[TrustedCidr],
    width: &split::Width,
    notes: &mut Vec<String>,
) -> Result<FileEdits, String> {
    let body = &resource_block.body;
    let statics: Vec<&Block> = body
        .blocks()
        .filter(|b| b.ident.as_str() == "ingress" && b.labels.is_empty())
        .collect();
    let declares: Vec<Option<bool>> = {
        let variables = tree.variables.clone();
        let mut eval = Eval::new(tree, Some(&variables));
        statics
            .iter()
            .map(|b| block_declares(&mut eval, scope, &b.body, rule))
            .collect()
    };
    let exact: Vec<&Block> = statics
        .iter()
        .zip(&declares)
        .filter(|(_, d)| **d == Some(true))
        .map(|(b, _)| *b)
        .collect();
    let dynamic = body.blocks().find(|b| {
        b.ident.as_str() == "dynamic" && b.labels.first().map(|l| l.as_str()) == Some("ingress")
    });
    // A rule no static block is known to declare may come from the dynamic block: a static
    // block whose ports cannot be read is never taken for it.
    if let (true, Some(dynamic)) = (exact.is_empty(), dynamic) {
        return Err(format!(
            "the rule comes from the `dynamic \"ingress\"` block at {}:{} (no static block declares {}); change its for_each or content so cidr_blocks no longer holds {}",
            file.rel,
            line_of(&file.text, dynamic.span().unwrap_or(0..0).start),
            describe_rule(rule),
            world_text(world)
        ));
    }
    let candidates = if exact.is_empty() {
        statics
            .iter()
            .zip(&declares)
            .filter(|(_, d)| d.is_none())
            .map(|(b, _)| *b)
            .collect()
    } else {
        exact
    };
    let mut edits = Vec::new();
    let mut first_error = None;
    let candidate_count = candidates.len();
    for block in candidates {
        let mut block_notes = Vec::new();
        match attribute_edits(
            tree,
            file,
            &block.body,
            &["cidr_blocks", "ipv6_cidr_blocks"],
            calls,
            rule,
            world,
            trusted,
            &mut block_notes,
        ) {
            Ok(outcome) => {
                let removed = outcome.remaining == 0;
                let target = SplitTarget {
                    file,
                    block,
                    is_resource: false,
                };
                // A split needs to know which block it splits: only when one block is the rule's.
                let split = (candidate_count == 1)
                    .then(|| {
                        try_split(
                            target,
                            rule,
                            &outcome.edits,
                            width,
                            removed,
                            &mut block_notes,
                        )
                    })
                    .flatten();
                if let Some(split) = split {
                    edits.extend(split);
                } else if removed {
                    let span = block.span().unwrap_or(0..0);
                    let line = line_of(&file.text, span.start);
                    let dynamic = body.blocks().any(|b| {
                        b.ident.as_str() == "dynamic"
                            && b.labels.first().map(|l| l.as_str()) == Some("ingress")
                    });
                    if statics.len() == 1 && !dynamic {
                        // `ingress` is an attribute written as blocks: with no block left, the
                        // AWS provider stops managing the rules and AWS keeps them.
                        block_notes.push(format!(
                            "no source is left in the ingress block at {}:{line}, the group's last one, so it becomes `ingress = []`: without any ingress block the AWS provider would leave the rule in place",
                            file.rel
                        ));
                        edits.push((
                            file.clone(),
                            Edit {
                                range: span,
                                replacement: "ingress = []".to_string(),
                            },
                        ));
                    } else {
                        block_notes.push(format!(
                            "no source is left in the ingress block at {}:{line}, so the block is removed",
                            file.rel
                        ));
                        edits.push((file.clone(), patch::remove_lines(&file.text, &span)));
                    }
                } else {
                    edits.extend(outcome.edits);
                }
                notes.extend(block_notes);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if !edits.is_empty() {
        return Ok(edits);
    }
    if let Some(dynamic) = dynamic {
        return Err(format!(
            "the rule comes from the `dynamic \"ingress\"` block at {}:{}; change its for_each or content so cidr_blocks no longer holds {}",
            file.rel,
            line_of(&file.text, dynamic.span().unwrap_or(0..0).start),
            world_text(world)
        ));
    }
    if let Some(attribute) = body.get_attribute("ingress") {
        return Err(format!(
            "the rules are written as `ingress = [...]` at {}:{}; change the CIDRs of the rule allowing {} there",
            file.rel,
            line_of(&file.text, attribute.span().unwrap_or(0..0).start),
            describe_rule(rule)
        ));
    }
    Err(first_error.unwrap_or_else(|| {
        format!(
            "no static ingress block in {} matches {}",
            file.rel,
            describe_rule(rule)
        )
    }))
}

fn world_text(world: &World) -> String {
    let all: Vec<String> = world
        .members
        .values()
        .flatten()
        .map(ToString::to_string)
        .collect();
    all.join(" and ")
}

fn describe_rule(rule: &IngressRule) -> String {
    let text = |p: Option<&Option<i64>>| match p {
        Some(Some(n)) => n.to_string(),
        _ => "?".to_string(),
    };
    format!(
        "protocol {} ports {}-{}",
        rule.protocol
            .known()
            .cloned()
            .flatten()
            .unwrap_or_else(|| "?".into()),
        text(rule.from_port.known()),
        text(rule.to_port.known())
    )
}

/// The scope of a resource's instance (module instance keys, `count.index`, `each.*`), for
/// evaluating its blocks; `None` when it cannot be told.
fn instance_scope(
    tree: &mut SourceTree,
    resource: &CheckedResource,
    file: &SourceFile,
    block: &Block,
) -> Option<Scope> {
    let calls = resource.module_calls.as_deref()?;
    let variables = tree.variables.clone();
    let mut eval = Eval::new(tree, Some(&variables));
    let for_each = block.body.get_attribute("for_each").map(|a| &a.value);
    eval.instance_scope(&resource.address, calls, file, for_each)
        .ok()
}

/// Whether a static `ingress` block declares `rule`: its protocol and ports, evaluated from the
/// sources in the instance's scope (literals, variables as the plan has them, module arguments,
/// locals), equal the planned ones. `None` when they cannot be evaluated.
fn block_declares(
    eval: &mut Eval<'_>,
    scope: Option<&Scope>,
    body: &Body,
    rule: &IngressRule,
) -> Option<bool> {
    let scope = scope?;
    let mut value = |key: &str| eval.eval(&body.get_attribute(key)?.value, scope).ok();
    let protocol = value("protocol")?.as_text()?;
    let from = value("from_port")?.as_i64()?;
    let to = value("to_port")?.as_i64()?;
    let planned_protocol = rule.protocol.known().cloned().flatten()?;
    Some(
        Protocol::parse(&protocol) == Protocol::parse(&planned_protocol)
            && rule.from_port.known() == Some(&Some(from))
            && rule.to_port.known() == Some(&Some(to)),
    )
}

/// Whether an `ingress` block's literal protocol and ports are the planned rule's: `Some(true)`
/// or `Some(false)` when all three are literals, `None` when one is an expression.
fn block_matches(body: &Body, rule: &IngressRule) -> Option<bool> {
    let value = |key: &str| -> Option<serde_json::Value> {
        let expr = &body.get_attribute(key)?.value;
        if let Some(n) = integer(expr) {
            return Some(serde_json::Value::from(n));
        }
        match expr {
            Expression::String(s) => Some(serde_json::Value::String(s.value().clone())),
            _ => None,
        }
    };
    let protocol = match value("protocol")? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let planned_protocol = rule.protocol.known().cloned().flatten()?;
    let same_protocol = Protocol::parse(&protocol) == Protocol::parse(&planned_protocol);
    let mut same_ports = true;
    for (key, planned) in [("from_port", &rule.from_port), ("to_port", &rule.to_port)] {
        let written = match value(key)? {
            serde_json::Value::Number(n) => n.as_i64()?,
            serde_json::Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        same_ports &= planned.known() == Some(&Some(written));
    }
    Some(same_protocol && same_ports)
}

fn integer(expr: &Expression) -> Option<i64> {
    match expr {
        Expression::Number(n) => n.value().as_i64(),
        Expression::UnaryOp(op) if *op.operator.value() == UnaryOperator::Neg => {
            integer(&op.expr).map(|n| -n)
        }
        _ => None,
    }
}

struct AttributeOutcome {
    edits: FileEdits,
    /// Sources the rule keeps after the edits (CIDRs of every family, SGs, prefix lists).
    remaining: usize,
}

/// The non-CIDR sources (security groups, `self`, prefix lists) a rule keeps. One that is
/// unknown until apply counts only when `body` sets it: `source_security_group_id` is computed,
/// so plans mark it unknown even where the configuration leaves it out.
fn other_sources_left(rule: &IngressRule, body: &Body) -> usize {
    rule.other_sources
        .iter()
        .filter(
            |source| match source.strip_suffix(" (unknown until apply)") {
                Some(key) => body.get_attribute(key).is_some(),
                None => true,
            },
        )
        .count()
}

/// Where the `.tf` files of `dir` refer to the resource `TYPE.NAME`, outside its own block: outputs, other resources, `depends_on`. As `FILE:LINE`.
fn references_to(
    tree: &mut SourceTree,
    dir: &std::path::Path,
    (resource_type, name): (&str, &str),
    own_file: &Rc<SourceFile>,
    own_block: &Block,
) -> Result<Vec<String>, String> {
    let own_span = own_block.span().unwrap_or(0..0);
    let mut users = Vec::new();
    for path in tree.files_in(dir, ".tf").iter() {
        let file = tree.file(path)?;
        let found = References::of_body(&file.body);
        for offset in found.offsets(resource_type, name) {
            if file.path == own_file.path && own_span.contains(&offset) {
                continue;
            }
            users.push(format!("{}:{}", file.rel, line_of(&file.text, offset)));
        }
    }
    Ok(users)
}

/// The edits to the CIDR arguments `attributes` of `body`, with the sources left afterwards.
#[allow(clippy::too_many_arguments)]
fn attribute_edits(
    tree: &mut SourceTree,
    file: &Rc<SourceFile>,
    body: &Body,
    attributes: &[&'static str],
    calls: &[ModuleCallSource],
    rule: &IngressRule,
    world: &World,
    trusted: &[TrustedCidr],
    notes: &mut Vec<String>,
) -> Result<AttributeOutcome, String> {
    let mut outcome = AttributeOutcome {
        edits: Vec::new(),
        remaining: other_sources_left(rule, body),
    };
    let mut touched_any = false;
    for &attribute in attributes {
        let planned: Vec<_> = rule
            .cidrs
            .iter()
            .filter(|c| c.attribute == attribute)
            .collect();
        let holds_world = planned.iter().any(|c| {
            c.text().and_then(cidr::parse).is_some_and(|n| {
                world
                    .members
                    .get(&cidr::family(&n))
                    .is_some_and(|m| m.contains(&n))
            })
        });
        if !holds_world {
            outcome.remaining += planned.len();
            continue;
        }
        if let Some(reference) = planned.iter().find_map(|c| match &c.value {
            CidrValue::Resolved { reference, .. } => Some(reference.clone()),
            _ => None,
        }) {
            return Err(format!(
                "{attribute} gets the world from {reference}; change that value"
            ));
        }
        let site = tree
            .value_site(file, body, attribute, calls)?
            .ok_or_else(|| format!("no `{attribute}` argument in the block at {}", file.rel))?;
        let literal = patch::literal(&site.file.text, site.span.clone())
            .ok_or_else(|| format!("{} is not a list or string literal", site.origin))?;
        let values: Vec<Option<String>> = literal.elements.iter().map(|(_, v)| v.clone()).collect();
        // Every world entry the plan shows must be one the edit can reach: in
        // `["0.0.0.0/0", var.vpn]`, var.vpn may hold the world too.
        let world_in_plan = planned
            .iter()
            .filter(|c| c.text().is_some_and(|t| world.holds(t)))
            .count();
        let world_written = values.iter().flatten().filter(|v| world.holds(v)).count();
        let untraced: Vec<String> = literal
            .elements
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(range, _)| site.file.text[range.clone()].trim().to_string())
            .collect();
        // (With every element a literal, fewer world entries than planned means the sources
        // changed after the plan: said below.)
        let input = if tree.from_state { "state" } else { "plan" };
        if world_in_plan > world_written && !untraced.is_empty() {
            return Err(format!(
                "{attribute} at {} holds {world_in_plan} world entr{} in the {input}, but only {world_written} written there; the others come from {}: change them where they are set",
                site.origin,
                if world_in_plan == 1 { "y" } else { "ies" },
                untraced.join(", ")
            ));
        }
        let change = patch::plan_list(&values, world, trusted);
        if !change.touched {
            let why = match (tree.from_state, site.origin.starts_with("var.")) {
                (false, true) => {
                    "the sources changed after the plan (already patched?), or the variable is set with -var, a -var-file or TF_VAR_, which portgate cannot see"
                }
                (false, false) => {
                    "the plan is older than the sources (already patched, or edited after the plan)"
                }
                (true, _) => {
                    "the sources changed after the state was written (patched, and not applied yet?); run `terraform plan`, check the plan and apply it"
                }
            };
            let again = if tree.from_state {
                String::new()
            } else {
                "; run `terraform plan` again and check the new plan".to_string()
            };
            return Err(format!(
                "{attribute} at {} does not hold {} although the {input} does: {why}{again}",
                site.origin,
                world_text(world)
            ));
        }
        touched_any = true;
        removed_notes(notes, attribute, &change.removed_without_replacement);
        if literal.is_list {
            outcome.remaining += change.remaining;
        } else if let Some(ElementChange::Replace(items)) = change.changes.first() {
            outcome.remaining += 1;
            if items.len() > 1 {
                notes.push(format!(
                    "{attribute} holds one CIDR, so {} is used; add one rule per other trusted CIDR ({})",
                    items[0],
                    items[1..].join(", ")
                ));
            }
        }
        if site.file.path != file.path || site.origin.starts_with("var.") {
            notes.push(format!("the value is set in {}", site.origin));
        }
        let site_edits = patch::edits(&site.file.text, &literal, &change);
        if site.file.rel.ends_with(".json") {
            let patched = edit::apply(
                &site.file.text,
                &edit::normalize(site_edits.clone()).unwrap_or_default(),
            );
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&patched) {
                return Err(format!(
                    "the patched {} would not be valid JSON ({e}); change {} there",
                    site.file.rel, site.origin
                ));
            }
        }
        for e in site_edits {
            outcome.edits.push((site.file.clone(), e));
        }
    }
    if !touched_any {
        return Err(NO_WORLD.to_string());
    }
    Ok(outcome)
}

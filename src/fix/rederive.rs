//! The proof of a source patch: re-derive, from the patched sources, every instance the edited
//! places feed, and check it against the plan.
//!
//! Each checked resource of the plan is first derived from the sources as they are (with
//! [`crate::sources::eval`]), which also records every place its value is read from: its block
//! and override blocks, the variable definitions, tfvars entries, module arguments and locals it
//! follows. An instance is *fed* by an edit that touches one of those places. For every fed
//! instance:
//!
//! - the derivation from the unpatched sources must give the plan's values (otherwise the
//!   sources are not what the plan was made from, or the value comes from somewhere portgate
//!   cannot see), and the derivation from the patched sources must succeed;
//! - an instance none of whose rules is being fixed must come out exactly as before: an edit
//!   of a shared variable, module argument or literal must not change anything that was not a
//!   finding;
//! - an instance with fixed rules must, per source: no longer let the fixes' world CIDRs reach a
//!   guarded port; let the trusted CIDRs reach the guarded ports the world reached; and keep
//!   every other port's world reachability (or lose it only on the rules whose fixes say so),
//!   and every other source's reachability, exactly.
//!
//! Besides, every other user of an edited variable or local (a resource that is not a checked
//! rule, an output, another module's argument) must be shown not to exist: an edit that feeds
//! something portgate cannot derive is not offered.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};

use super::edit::{self, Edit};
use super::patch::World;
use super::source::{SourceTree, line_of};
use crate::config::TrustedCidr;
use crate::plan::Action;
use crate::policy::PolicySet;
use crate::rules::protocol::{Exposure, L4, Protocol};
use crate::rules::{CheckedResource, CidrValue, RuleSet, cidr};
use crate::sources::eval::{Dep, Eval, MergedResource, References, Scope, Val};
use crate::sources::tree::label;

/// What a set of sources lets in: every protocol and port, or port ranges per protocol, or
/// other protocols (ICMP type/code kept as written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Reach {
    all: bool,
    ports: BTreeMap<L4, Vec<(i64, i64)>>,
    other: BTreeSet<String>,
}

impl Reach {
    fn add(&mut self, l4: L4, from: i64, to: i64) {
        let ranges = self.ports.entry(l4).or_default();
        ranges.push((from, to));
        ranges.sort();
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for &(a, b) in ranges.iter() {
            match merged.last_mut() {
                Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *ranges = merged;
    }

    fn add_rule(&mut self, protocol: &str, from: Option<i64>, to: Option<i64>) {
        let parsed = Protocol::parse(protocol);
        match Exposure::of(&parsed, from, to) {
            Exposure::All => self.all = true,
            Exposure::Ports(l4, range) => self.add(l4, range.from.into(), range.to.into()),
            Exposure::Nothing => {
                if let Protocol::Other(name) = parsed {
                    self.other.insert(format!(
                        "{name} {} {}",
                        from.map(|n| n.to_string()).unwrap_or_default(),
                        to.map(|n| n.to_string()).unwrap_or_default()
                    ));
                }
            }
        }
    }

    fn union(&mut self, other: &Reach) {
        self.all |= other.all;
        for (l4, ranges) in &other.ports {
            for &(a, b) in ranges {
                self.add(*l4, a, b);
            }
        }
        self.other.extend(other.other.iter().cloned());
    }

    fn is_empty(&self) -> bool {
        !self.all && self.ports.values().all(Vec::is_empty) && self.other.is_empty()
    }

    /// The guarded ports this reaches.
    fn guarded_part(&self, guarded: &Reach) -> Reach {
        let mut out = Reach::default();
        for (l4, ranges) in &guarded.ports {
            for &(a, b) in ranges {
                if self.all {
                    out.add(*l4, a, b);
                    continue;
                }
                for &(c, d) in self.ports.get(l4).into_iter().flatten() {
                    if a.max(c) <= b.min(d) {
                        out.add(*l4, a.max(c), b.min(d));
                    }
                }
            }
        }
        out
    }

    /// What this reaches that `other` does not; `None` when that cannot be written (every
    /// protocol but some ports).
    fn minus(&self, other: &Reach) -> Option<Reach> {
        if other.all {
            return Some(Reach::default());
        }
        if self.all {
            return other.is_empty().then(|| self.clone());
        }
        let mut out = Reach {
            other: self.other.difference(&other.other).cloned().collect(),
            ..Reach::default()
        };
        for (l4, ranges) in &self.ports {
            let holes = other.ports.get(l4).cloned().unwrap_or_default();
            for &(a, b) in ranges {
                let mut next = a;
                for &(c, d) in &holes {
                    if d < next || c > b {
                        continue;
                    }
                    if c > next {
                        out.add(*l4, next, c - 1);
                    }
                    next = next.max(d + 1);
                }
                if next <= b {
                    out.add(*l4, next, b);
                }
            }
        }
        Some(out)
    }

    /// Whether everything `self` reaches, `other` reaches too.
    fn within(&self, other: &Reach) -> bool {
        if other.all {
            return true;
        }
        if self.all {
            return false;
        }
        let ports = self.ports.iter().all(|(l4, ranges)| {
            ranges.iter().all(|&(a, b)| {
                other
                    .ports
                    .get(l4)
                    .is_some_and(|o| o.iter().any(|&(c, d)| c <= a && b <= d))
            })
        });
        ports && self.other.is_subset(&other.other)
    }
}

/// What an instance lets in, by source: a CIDR (normalised), `self`, `sg:EXPR`, `pl:EXPR`.
type InstanceReach = BTreeMap<String, Reach>;

/// An instance derived from the sources: what it lets in, and which group it joins (rule
/// resources).
#[derive(Debug, Clone, PartialEq)]
struct Derived {
    reach: InstanceReach,
    group: Option<Val>,
}

/// One instance derived, or why not, with every place the derivation read.
type Derivation = (Result<Derived, String>, Vec<Dep>);

/// The derivation of every checked instance from the unpatched sources, with what each read.
pub(super) struct Baseline {
    instances: Vec<Option<Derivation>>,
}

/// One fix to prove: its edits, the world it takes away and the trusted CIDRs it gives, and
/// whether its notes say other ports of the rule lose the world too.
pub(super) struct Candidate<'a> {
    pub edits: Vec<(PathBuf, Edit)>,
    pub world: &'a World,
    pub trusted: &'a [TrustedCidr],
    pub narrows: bool,
}

fn key_of_cidr(text: &str) -> String {
    match cidr::parse(text) {
        Some(net) => net.to_string(),
        None => format!("cidr:{text}"),
    }
}

/// The instances of the plan the sources can say anything about.
fn derivable(resource: &CheckedResource) -> bool {
    resource.deposed.is_none()
        && !matches!(resource.action, Action::Delete | Action::Forget)
        && resource.module_calls.is_some()
}

impl Baseline {
    pub(super) fn new(tree: &mut SourceTree, rules: &RuleSet) -> Baseline {
        let instances = rules
            .resources
            .iter()
            .map(|resource| derivable(resource).then(|| derive(tree, resource)))
            .collect();
        Baseline { instances }
    }
}

/// Derives one instance. The places read are returned even when the derivation fails.
fn derive(
    tree: &mut SourceTree,
    resource: &CheckedResource,
) -> (Result<Derived, String>, Vec<Dep>) {
    let mut eval = Eval::new(tree, None);
    let result = derive_with(&mut eval, resource, &resource.name);
    (result, eval.deps)
}

fn derive_with(
    eval: &mut Eval<'_>,
    resource: &CheckedResource,
    name: &str,
) -> Result<Derived, String> {
    let calls = resource.module_calls.clone().unwrap_or_default();
    let merged = MergedResource::read(eval.tree, &calls, &resource.resource_type, name)?;
    for (file, block) in &merged.files {
        eval.deps.push(Dep {
            path: file.path.clone(),
            range: block.span().unwrap_or(0..file.text.len()),
        });
    }
    let primary = merged.files[0].0.clone();
    let scope = eval.instance_scope(
        &resource.address,
        &calls,
        &primary,
        merged.attributes.get("for_each"),
    )?;
    let mut reach = InstanceReach::new();
    let mut group = None;
    let mut first_error: Option<String> = None;
    let mut keep = |r: Result<(), String>| {
        if let Err(e) = r {
            first_error.get_or_insert(e);
        }
    };
    match resource.resource_type.as_str() {
        "aws_security_group" | "aws_default_security_group" => {
            if let Some(list) = merged.attributes.get("ingress") {
                match eval.eval(list, &scope) {
                    Ok(Val::List(items)) => {
                        for item in items {
                            let Val::Map(map) = item else {
                                keep(Err("an `ingress` element is not an object".to_string()));
                                continue;
                            };
                            keep(add_rule(&mut reach, &|k| map.get(k).cloned(), INLINE));
                        }
                    }
                    Ok(_) => keep(Err("`ingress` is not a list".to_string())),
                    Err(e) => keep(Err(e)),
                }
            }
            for block in merged.blocks.get("ingress").into_iter().flatten() {
                let bodies = if block.ident.as_str() == "dynamic" {
                    match eval.dynamic_instances(block, &scope) {
                        Ok(bodies) => bodies,
                        Err(e) => {
                            keep(Err(e));
                            continue;
                        }
                    }
                } else {
                    vec![(block.body.clone(), scope.clone())]
                };
                for (body, inner) in bodies {
                    let values = evaluate_body(eval, &body, &inner);
                    keep(values.and_then(|values| {
                        add_rule(&mut reach, &|k| values.get(k).cloned(), INLINE)
                    }));
                }
            }
        }
        "aws_security_group_rule" | "aws_vpc_security_group_ingress_rule" => {
            let mut values = BTreeMap::new();
            for (k, expr) in &merged.attributes {
                match eval.eval(expr, &scope) {
                    Ok(v) => {
                        values.insert(k.clone(), v);
                    }
                    Err(e) => {
                        // An argument that is not a rule's is never read.
                        if RULE_KEYS.contains(&k.as_str()) {
                            keep(Err(e));
                        }
                    }
                }
            }
            group = values.get("security_group_id").cloned();
            let ingress = resource.resource_type == "aws_vpc_security_group_ingress_rule"
                || values.get("type") == Some(&Val::Str("ingress".to_string()));
            if ingress {
                let shape = if resource.resource_type == "aws_security_group_rule" {
                    RULE
                } else {
                    VPC_RULE
                };
                keep(add_rule(&mut reach, &|k| values.get(k).cloned(), shape));
            } else if !matches!(values.get("type"), Some(Val::Str(_))) {
                keep(Err("the rule's `type` cannot be evaluated".to_string()));
            }
        }
        other => keep(Err(format!("{other} is not a rule type"))),
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(Derived { reach, group }),
    }
}

/// Every argument a rule's reach depends on.
const RULE_KEYS: [&str; 18] = [
    "type",
    "protocol",
    "ip_protocol",
    "from_port",
    "to_port",
    "cidr_blocks",
    "ipv6_cidr_blocks",
    "cidr_ipv4",
    "cidr_ipv6",
    "self",
    "security_groups",
    "source_security_group_id",
    "referenced_security_group_id",
    "prefix_list_ids",
    "prefix_list_id",
    "security_group_id",
    "for_each",
    "count",
];

/// Where a kind of rule keeps its protocol and sources.
struct Shape {
    protocol: &'static str,
    cidrs: &'static [&'static str],
    groups: &'static [&'static str],
    lists: &'static [&'static str],
}

const INLINE: Shape = Shape {
    protocol: "protocol",
    cidrs: &["cidr_blocks", "ipv6_cidr_blocks"],
    groups: &["security_groups"],
    lists: &["prefix_list_ids"],
};
const RULE: Shape = Shape {
    protocol: "protocol",
    cidrs: &["cidr_blocks", "ipv6_cidr_blocks"],
    groups: &["source_security_group_id"],
    lists: &["prefix_list_ids"],
};
const VPC_RULE: Shape = Shape {
    protocol: "ip_protocol",
    cidrs: &["cidr_ipv4", "cidr_ipv6"],
    groups: &["referenced_security_group_id"],
    lists: &["prefix_list_id"],
};

fn evaluate_body(
    eval: &mut Eval<'_>,
    body: &Body,
    scope: &Scope,
) -> Result<BTreeMap<String, Val>, String> {
    let mut values = BTreeMap::new();
    let mut first_error = None;
    for attribute in body.attributes() {
        match eval.eval(&attribute.value, scope) {
            Ok(v) => {
                values.insert(attribute.key.as_str().to_string(), v);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(values),
    }
}

/// Adds what one rule lets in to `reach`.
fn add_rule(
    reach: &mut InstanceReach,
    get: &dyn Fn(&str) -> Option<Val>,
    shape: Shape,
) -> Result<(), String> {
    let protocol = get(shape.protocol)
        .and_then(|v| v.as_text())
        .ok_or_else(|| format!("the rule's {} cannot be evaluated", shape.protocol))?;
    let port = |key: &str| -> Result<Option<i64>, String> {
        match get(key) {
            None | Some(Val::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("the rule's {key} cannot be evaluated")),
        }
    };
    let (from, to) = (port("from_port")?, port("to_port")?);
    let mut rule = Reach::default();
    rule.add_rule(&protocol, from, to);
    let mut sources: Vec<String> = Vec::new();
    let texts = |v: Option<Val>| -> Vec<Val> {
        match v {
            None | Some(Val::Null) => Vec::new(),
            Some(Val::List(items)) => items,
            Some(other) => vec![other],
        }
    };
    for key in shape.cidrs {
        for v in texts(get(key)) {
            match v {
                Val::Str(s) => sources.push(key_of_cidr(&s)),
                // A value only known after apply (`aws_vpc.main.cidr_block`): not the plan's to
                // compare, but it must come out of the patch as it went in.
                Val::Opaque(text) => sources.push(format!("ref:{text}")),
                other => {
                    return Err(format!(
                        "an entry of {key} cannot be evaluated from the sources ({other:?})"
                    ));
                }
            }
        }
    }
    for (keys, prefix) in [(shape.groups, "sg"), (shape.lists, "pl")] {
        for key in keys {
            for v in texts(get(key)) {
                let text = match v {
                    Val::Str(s) | Val::Opaque(s) => s,
                    other => format!("{other:?}"),
                };
                sources.push(format!("{prefix}:{text}"));
            }
        }
    }
    if get("self") == Some(Val::Bool(true)) {
        sources.push("self".to_string());
    }
    for source in sources {
        reach.entry(source).or_default().union(&rule);
    }
    Ok(())
}

/// What the plan says an instance lets in from CIDRs; `None` when the plan does not know.
fn planned_reach(rules: &RuleSet, resource: usize) -> Option<InstanceReach> {
    let mut reach = InstanceReach::new();
    for rule in rules.rules.iter().filter(|r| r.resource == resource) {
        let protocol = rule.protocol.known()?.clone()?;
        let from = *rule.from_port.known()?;
        let to = *rule.to_port.known()?;
        let mut one = Reach::default();
        one.add_rule(&protocol, from, to);
        for entry in &rule.cidrs {
            match &entry.value {
                CidrValue::Literal(text) => {
                    reach.entry(key_of_cidr(text)).or_default().union(&one);
                }
                // Entries of prefix lists are not written in the rule; values known only
                // after apply are compared before and after the patch, not with the plan.
                CidrValue::PrefixList { .. } | CidrValue::Resolved { .. } | CidrValue::Unknown => {}
            }
        }
    }
    Some(reach)
}

fn cidr_part(reach: &InstanceReach) -> InstanceReach {
    reach
        .iter()
        .filter(|(k, r)| cidr::parse(k).is_some() && !r.is_empty())
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect()
}

/// Whether an edit touches a place an instance reads.
fn touches(edit: &(PathBuf, Edit), deps: &[Dep]) -> bool {
    deps.iter().any(|d| {
        d.path == edit.0
            && (overlaps(&edit.1.range, &d.range)
                || (edit.1.range.is_empty()
                    && d.range.start <= edit.1.range.start
                    && edit.1.range.start <= d.range.end))
    })
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// What one round of checks found.
#[derive(Default)]
pub(super) struct Verdict {
    /// Every candidate whose patch cannot be proved, with why.
    pub disproved: BTreeMap<usize, String>,
    /// What the others' notes must add: outputs whose value changes with the edit.
    pub notes: BTreeMap<usize, Vec<String>>,
}

/// The checks of one round.
pub(super) fn verdict(
    tree: &mut SourceTree,
    baseline: &Baseline,
    rules: &RuleSet,
    policies: &PolicySet,
    candidates: &BTreeMap<usize, Candidate<'_>>,
) -> Verdict {
    let mut out: BTreeMap<usize, String> = BTreeMap::new();
    let mut notes: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    if candidates.is_empty() {
        return Verdict::default();
    }
    // The patched tree: every candidate's edits at once.
    let mut by_path: BTreeMap<PathBuf, Vec<Edit>> = BTreeMap::new();
    for candidate in candidates.values() {
        for (path, e) in &candidate.edits {
            by_path.entry(path.clone()).or_default().push(e.clone());
        }
    }
    let mut texts: HashMap<PathBuf, String> = HashMap::new();
    for (path, edits) in by_path {
        let Ok(edits) = edit::normalize(edits) else {
            // Overlapping edits were refused when they were made.
            continue;
        };
        let Ok(file) = tree.raw_file(&path) else {
            continue;
        };
        texts.insert(path, edit::apply(&file.text, &edits));
    }
    let mut patched = tree.with_overlay(texts);
    let guarded = guarded_reach(policies);
    let rule_of_resource: BTreeMap<usize, Vec<usize>> =
        candidates.keys().fold(BTreeMap::new(), |mut m, &i| {
            m.entry(rules.rules[i].resource).or_default().push(i);
            m
        });
    let mut fed_own: BTreeSet<usize> = BTreeSet::new();
    for (index, slot) in baseline.instances.iter().enumerate() {
        let Some((before, deps)) = slot else {
            continue;
        };
        let feeding: Vec<usize> = candidates
            .iter()
            .filter(|(_, c)| c.edits.iter().any(|e| touches(e, deps)))
            .map(|(&i, _)| i)
            .collect();
        if feeding.is_empty() {
            continue;
        }
        fed_own.extend(
            feeding
                .iter()
                .copied()
                .filter(|&i| rules.rules[i].resource == index),
        );
        let resource = &rules.resources[index];
        let fail = |out: &mut BTreeMap<usize, String>, why: String| {
            for &i in &feeding {
                out.entry(i).or_insert_with(|| why.clone());
            }
        };
        let before = match before {
            Ok(before) => before,
            Err(e) => {
                fail(
                    &mut out,
                    format!(
                        "its edit feeds {}, whose values portgate cannot derive from the sources to prove the patch ({e})",
                        resource.address
                    ),
                );
                continue;
            }
        };
        match planned_reach(rules, index) {
            Some(planned) if planned == cidr_part(&before.reach) => {}
            Some(_) => {
                fail(
                    &mut out,
                    match rules.input {
                        crate::plan::InputKind::Plan => format!(
                            "the sources of {} do not give its planned values (edited after the plan, or a value set where portgate cannot see it): the patch cannot be proved; plan again",
                            resource.address
                        ),
                        crate::plan::InputKind::State => format!(
                            "the sources of {} do not give its values in the state (edited after the state was written, or a value set where portgate cannot see it): the patch cannot be proved",
                            resource.address
                        ),
                    },
                );
                continue;
            }
            None => {
                fail(
                    &mut out,
                    format!(
                        "its edit feeds {}, whose {} values are not all known: the patch cannot be proved",
                        resource.address,
                        match rules.input {
                            crate::plan::InputKind::Plan => "planned",
                            crate::plan::InputKind::State => "recorded",
                        }
                    ),
                );
                continue;
            }
        }
        let (after, _) = derive(&mut patched, resource);
        let mut after = match after {
            Ok(after) => after,
            // A resource the patch removes lets nothing in.
            Err(_) if !still_declared(&mut patched, resource) => Derived {
                reach: InstanceReach::new(),
                group: before.group.clone(),
            },
            Err(e) => {
                fail(
                    &mut out,
                    format!(
                        "{} cannot be derived from the patched sources ({e})",
                        resource.address
                    ),
                );
                continue;
            }
        };
        // Rule resources a split added beside this one, with the same instance key.
        for name in split_copies(tree, &mut patched, resource) {
            let mut eval = Eval::new(&mut patched, None);
            match derive_with(&mut eval, resource, &name) {
                Ok(copy) if copy.group == after.group => {
                    for (k, r) in copy.reach {
                        after.reach.entry(k).or_default().union(&r);
                    }
                }
                Ok(_) => fail(
                    &mut out,
                    format!(
                        "the copy {name} of {} joins another group",
                        resource.address
                    ),
                ),
                Err(e) => fail(
                    &mut out,
                    format!(
                        "the copy {name} of {} cannot be derived ({e})",
                        resource.address
                    ),
                ),
            }
        }
        if after.group != before.group {
            fail(
                &mut out,
                format!(
                    "the patch would move {} to another security group",
                    resource.address
                ),
            );
            continue;
        }
        let fixed = rule_of_resource.get(&index).cloned().unwrap_or_default();
        if fixed.is_empty() {
            if after.reach != before.reach {
                let why = format!(
                    "its edit also changes {}, which opens no guarded port to the world: it would lose access it has now; give it its own source first",
                    resource.address
                );
                fail(&mut out, why);
            }
            continue;
        }
        if let Some(why) = check_fixed(rules, candidates, &fixed, before, &after, &guarded) {
            fail(&mut out, format!("{}: {why}", resource.address));
        }
    }
    // Every candidate must feed at least the instance it fixes.
    for (&i, candidate) in candidates {
        if !candidate.edits.is_empty() && !fed_own.contains(&i) && !out.contains_key(&i) {
            out.insert(
                i,
                format!(
                    "its edit does not feed {} as portgate derives it from the sources: the patch cannot be proved",
                    rules.resources[rules.rules[i].resource].address
                ),
            );
        }
    }
    // Other users of edited variables and locals that are not derived instances. The blocks
    // the derivations cover are the same for every candidate: collected once, when needed.
    let covered = std::cell::OnceCell::new();
    for (&i, candidate) in candidates {
        if out.contains_key(&i) {
            continue;
        }
        let mut outputs = Vec::new();
        let user = other_users(tree, baseline, &covered, &candidate.edits, &mut outputs);
        if let Some(user) = user {
            out.insert(
                i,
                format!(
                    "the edited value is also read by {user}, which portgate cannot check: an edit there could change more than the finding; change the rule's own source instead"
                ),
            );
        } else if !outputs.is_empty() {
            notes.insert(
                i,
                vec![format!(
                    "the edited value is also read by {}, whose value changes with it",
                    outputs.join(", ")
                )],
            );
        }
    }
    Verdict {
        disproved: out,
        notes,
    }
}

/// The checks of an instance holding fixed rules; `Some(why)` when one fails.
fn check_fixed(
    rules: &RuleSet,
    candidates: &BTreeMap<usize, Candidate<'_>>,
    fixed: &[usize],
    before: &Derived,
    after: &Derived,
    guarded: &Reach,
) -> Option<String> {
    let mut world: BTreeSet<String> = BTreeSet::new();
    let mut trusted: BTreeMap<String, Reach> = BTreeMap::new();
    // The guarded ports the fixed rules open (the world must lose them), and what the rules
    // whose notes say so may lose besides.
    let mut fixed_guarded = Reach::default();
    let mut may_lose = Reach::default();
    for &i in fixed {
        let candidate = &candidates[&i];
        let rule = &rules.rules[i];
        let mut own = Reach::default();
        if let (Some(Some(p)), Some(from), Some(to)) = (
            rule.protocol.known(),
            rule.from_port.known(),
            rule.to_port.known(),
        ) {
            own.add_rule(p, *from, *to);
        }
        let own_guarded = own.guarded_part(guarded);
        fixed_guarded.union(&own_guarded);
        let mut worlds_of_rule = BTreeSet::new();
        for members in candidate.world.members.values() {
            for net in members {
                world.insert(net.to_string());
                worlds_of_rule.insert(cidr::family(net));
            }
        }
        for t in candidate.trusted {
            if worlds_of_rule.contains(&cidr::family(&t.net)) {
                trusted
                    .entry(t.net.to_string())
                    .or_default()
                    .union(&own_guarded);
            }
        }
        if candidate.narrows {
            may_lose.union(&own);
        }
    }
    let empty = Reach::default();
    let keys: BTreeSet<&String> = before.reach.keys().chain(after.reach.keys()).collect();
    for key in keys {
        let was = before.reach.get(key).unwrap_or(&empty);
        let now = after.reach.get(key).unwrap_or(&empty);
        if world.contains(key) {
            if !now.guarded_part(&fixed_guarded).is_empty() {
                return Some(format!(
                    "with the patch, {key} would still reach a guarded port the fix closes"
                ));
            }
            if !now.within(was) {
                return Some(format!("the patch would let {key} reach more than before"));
            }
            // Everything else keeps the world, except on rules whose fix says they lose it.
            let keeps = match was.minus(&fixed_guarded).map(|rest| rest.minus(&may_lose)) {
                Some(Some(rest)) => rest.within(now),
                _ => may_lose.all,
            };
            if !keeps {
                return Some(format!(
                    "the patch would take {key} away from ports its fix does not close, which its notes do not say"
                ));
            }
        } else if let Some(needed) = trusted.get(key) {
            if !was.within(now) || !needed.within(now) {
                return Some(format!(
                    "with the patch, the trusted {key} would not reach the guarded ports the rule served"
                ));
            }
        } else if was != now {
            return Some(format!("the patch would change what {key} may reach"));
        }
    }
    // A trusted CIDR that is not in the patched sources at all.
    for (key, needed) in &trusted {
        if !needed.is_empty() && !after.reach.contains_key(key) {
            return Some(format!(
                "with the patch, the trusted {key} would not reach the guarded ports"
            ));
        }
    }
    None
}

fn guarded_reach(policies: &PolicySet) -> Reach {
    let mut reach = Reach::default();
    for spec in policies.policies.iter().flat_map(|p| &p.ports) {
        reach.add(spec.protocol, spec.range.from.into(), spec.range.to.into());
    }
    reach
}

/// Whether the (patched) sources still declare `resource`'s block.
fn still_declared(tree: &mut SourceTree, resource: &CheckedResource) -> bool {
    let Some(calls) = &resource.module_calls else {
        return true;
    };
    let Ok(dir) = tree.module_dir(calls) else {
        return true;
    };
    tree.resource(&dir, &resource.resource_type, &resource.name)
        .is_ok()
}

/// Rule resources of the patched module that the unpatched one does not declare, with the
/// same type as `resource`: the copies a split wrote.
fn split_copies(
    tree: &mut SourceTree,
    patched: &mut SourceTree,
    resource: &CheckedResource,
) -> Vec<String> {
    let Some(calls) = &resource.module_calls else {
        return Vec::new();
    };
    let names = |t: &mut SourceTree| -> BTreeSet<String> {
        let Ok(dir) = t.module_dir(calls) else {
            return BTreeSet::new();
        };
        let mut out = BTreeSet::new();
        for path in t.files_in(&dir, ".tf").iter() {
            let Ok(file) = t.file(path) else { continue };
            for s in file.body.iter() {
                if let Structure::Block(b) = s
                    && b.ident.as_str() == "resource"
                    && b.labels.len() == 2
                    && label(&b.labels[0]) == resource.resource_type
                {
                    out.insert(label(&b.labels[1]).to_string());
                }
            }
        }
        out
    };
    let before = names(tree);
    names(patched)
        .into_iter()
        .filter(|n| !before.contains(n) && n.starts_with(&resource.name))
        .collect()
}

/// A place outside the derived instances that reads a variable or local whose value an edit
/// changes: `main.tf:30 (aws_network_acl_rule.smb)`.
fn other_users(
    tree: &mut SourceTree,
    baseline: &Baseline,
    covered: &std::cell::OnceCell<BTreeSet<(PathBuf, usize)>>,
    edits: &[(PathBuf, Edit)],
    outputs: &mut Vec<String>,
) -> Option<String> {
    // The definitions an edit lands in: variable defaults, tfvars entries, locals.
    let mut names: Vec<(PathBuf, String, String)> = Vec::new(); // (module dir, root, name)
    for (path, e) in edits {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if path.to_string_lossy().ends_with(".json") {
            let Ok(file) = tree.raw_file(path) else {
                continue;
            };
            for (key, span) in super::json::members(&file.text).unwrap_or_default() {
                if overlaps(&span, &e.range) || span.contains(&e.range.start) {
                    names.push((dir.clone(), "var".into(), key));
                }
            }
            continue;
        }
        let Ok(file) = tree.file(path) else { continue };
        let name = file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        if name.as_deref().is_some_and(|n| n.ends_with(".tfvars")) {
            for a in file.body.attributes() {
                if a.span().is_some_and(|s| overlaps(&s, &e.range)) {
                    names.push((dir.clone(), "var".into(), a.key.as_str().to_string()));
                }
            }
            continue;
        }
        for s in file.body.iter() {
            let Structure::Block(b) = s else { continue };
            if !b.span().is_some_and(|s| overlaps(&s, &e.range)) {
                continue;
            }
            match b.ident.as_str() {
                "variable" => {
                    if let Some(l) = b.labels.first() {
                        names.push((dir.clone(), "var".into(), label(l).to_string()));
                    }
                }
                "locals" => {
                    for a in b.body.attributes() {
                        if a.span().is_some_and(|s| overlaps(&s, &e.range)) {
                            names.push((dir.clone(), "local".into(), a.key.as_str().to_string()));
                        }
                    }
                }
                // A module argument: what reads the variable inside the module.
                "module" => {
                    if let Some(child) = local_module_dir(&dir, b) {
                        for a in b.body.attributes() {
                            if a.span().is_some_and(|s| overlaps(&s, &e.range)) {
                                names.push((
                                    child.clone(),
                                    "var".into(),
                                    a.key.as_str().to_string(),
                                ));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    // Blocks of derived instances, which the proof covered.
    let covered = covered.get_or_init(|| {
        baseline
            .instances
            .iter()
            .flatten()
            .flat_map(|(_, deps)| deps.iter().map(|d| (d.path.clone(), d.range.start)))
            .collect()
    });
    let mut seen = BTreeSet::new();
    while let Some((dir, root, name)) = names.pop() {
        if !seen.insert((dir.clone(), root.clone(), name.clone())) {
            continue;
        }
        for path in tree.files_in(&dir, ".tf").iter() {
            let Ok(file) = tree.file(path) else { continue };
            for s in file.body.iter() {
                let Structure::Block(b) = s else { continue };
                if !reads(&b.body, &root, &name) {
                    continue;
                }
                let span = b.span().unwrap_or(0..0);
                let at = format!("{}:{}", file.rel, line_of(&file.text, span.start));
                match b.ident.as_str() {
                    "resource" if covered.contains(&(file.path.clone(), span.start)) => {}
                    "locals" => {
                        for a in b.body.attributes() {
                            if reads_expr(&a.value, &root, &name) {
                                names.push((
                                    dir.clone(),
                                    "local".into(),
                                    a.key.as_str().to_string(),
                                ));
                            }
                        }
                    }
                    "variable" => {}
                    "module" => {
                        // The module's own users of the argument.
                        let label = b.labels.first().map(label).unwrap_or_default().to_string();
                        match local_module_dir(&dir, b) {
                            Some(child) => {
                                for a in b.body.attributes() {
                                    if reads_expr(&a.value, &root, &name) {
                                        names.push((
                                            child.clone(),
                                            "var".into(),
                                            a.key.as_str().to_string(),
                                        ));
                                    }
                                }
                            }
                            None => return Some(format!("module.{label} ({at})")),
                        }
                    }
                    // An output only reports the value: its change is said, not refused.
                    "output" => {
                        let user = format!(
                            "output {} ({at})",
                            b.labels.first().map(label).unwrap_or_default()
                        );
                        if !outputs.contains(&user) {
                            outputs.push(user);
                        }
                    }
                    kind => {
                        let labels: Vec<&str> = b.labels.iter().map(label).collect();
                        return Some(format!("{kind} {} ({at})", labels.join(".")));
                    }
                }
            }
        }
    }
    None
}

/// The directory of a `module` block's local `source`.
fn local_module_dir(dir: &Path, block: &hcl_edit::structure::Block) -> Option<PathBuf> {
    let source = match &block.body.get_attribute("source")?.value {
        Expression::String(s) => s.value().clone(),
        _ => return None,
    };
    (source.starts_with("./") || source.starts_with("../"))
        .then(|| crate::sources::tree::normalize(&dir.join(source)))
}

/// Whether a body reads `ROOT.NAME`.
fn reads(body: &Body, root: &str, name: &str) -> bool {
    References::of_body(body).contains(root, name)
}

fn reads_expr(expr: &Expression, root: &str, name: &str) -> bool {
    References::of_expr(expr).contains(root, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reach(rules: &[(&str, i64, i64)]) -> Reach {
        let mut r = Reach::default();
        for &(p, from, to) in rules {
            r.add_rule(p, Some(from), Some(to));
        }
        r
    }

    #[test]
    fn reaches_split_and_compare_by_port() {
        let guarded = reach(&[("tcp", 137, 139), ("tcp", 445, 445), ("udp", 137, 138)]);
        let wide = reach(&[("tcp", 0, 65535)]);
        assert_eq!(
            wide.guarded_part(&guarded),
            reach(&[("tcp", 137, 139), ("tcp", 445, 445)])
        );
        let rest = wide.minus(&guarded).unwrap();
        assert_eq!(
            rest,
            reach(&[("tcp", 0, 136), ("tcp", 140, 444), ("tcp", 446, 65535)])
        );
        assert!(rest.within(&wide) && !wide.within(&rest));
        // Every protocol minus some ports cannot be written: the caller decides.
        let all = reach(&[("-1", 0, 0)]);
        assert!(all.minus(&guarded).is_none());
        assert_eq!(all.minus(&all), Some(Reach::default()));
        assert!(wide.within(&all) && !all.within(&wide));
        // Other protocols are kept as written.
        let icmp = reach(&[("icmp", 8, 0)]);
        assert!(!icmp.is_empty() && icmp.guarded_part(&guarded).is_empty());
    }
}

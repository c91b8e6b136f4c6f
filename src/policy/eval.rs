//! Evaluation: normalized ingress rules × policies → findings.
//!
//! For each rule and each address family, the rule's CIDRs either cover the whole family
//! (the world), provably do not, or cannot be told (unknown until apply). For each policy, the
//! rule's protocol and ports either reach a guarded port, provably do not, or cannot be told.
//! World × reaches is a policy finding; any pairing with "cannot be told" that could still be a
//! finding becomes one PG003 finding for the rule; a CIDR that does not parse becomes PG004.

use ipnet::IpNet;
use serde::Serialize;

use super::{Policy, PolicySet, PortSpec, RuleMeta, Severity};
use super::{invalid_cidr_meta, unknown_value_meta};
use crate::rules::cidr::{self, Family};
use crate::rules::protocol::{Exposure, L4, PortRange, Protocol};
use crate::rules::{IngressRule, Known, RuleSet, WHOLE_STATE};

/// What kind of problem a finding reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A guarded port is open to the world.
    Exposed,
    /// Could be open to the world; values unknown until apply (PG003).
    Unknown,
    /// A CIDR that does not parse (PG004).
    InvalidCidr,
}

/// One problem with one ingress rule, ready to report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub kind: FindingKind,
    pub address: String,
    pub resource_type: String,
    /// The planned action on the resource (`create`, `update`, `no-op`, `replace`, …).
    pub action: String,
    /// The deposed object key, when the rule belongs to a deposed object.
    pub deposed: Option<String>,
    /// `ingress[1]` for inline rules of a security group.
    pub block: Option<String>,
    /// The protocol as written in the plan (null when unknown).
    pub protocol: Option<String>,
    pub from_port: Option<i64>,
    pub to_port: Option<i64>,
    /// The world CIDR(s) of the rule, comma-separated (exposed findings only).
    pub cidr: Option<String>,
    /// The same, as a list, each exactly as written in the plan.
    pub cidrs: Vec<String>,
    pub family: Option<Family>,
    /// The guarded ports the rule opens (`tcp/445`) or, for PG003, could open.
    pub ports: Vec<String>,
    /// For PG003: the policies the rule could violate. For PG004: the CIDRs that do not parse.
    pub related: Vec<String>,
    pub message: String,
    /// JSON path of the rule in the plan file.
    pub json_path: String,
    /// Index into the rule set's resources (not serialized).
    #[serde(skip)]
    pub resource_index: usize,
    /// Index into the rule set's rules (not serialized).
    #[serde(skip)]
    pub rule_index: usize,
    /// Whether the planned action creates or changes the resource.
    #[serde(skip)]
    pub is_change: bool,
}

/// How one family of a rule's sources stands.
struct FamilyCover {
    /// The entries that make up the world cover, as written.
    world: Option<Vec<String>>,
    /// Some entry of this family is unknown until apply.
    unknown: bool,
}

/// How a rule's protocol and ports stand against one policy.
pub(super) enum PortMatch {
    Opens(Vec<PortSpec>),
    Maybe(Vec<PortSpec>),
    No,
}

/// Evaluates every rule against every policy.
pub fn evaluate(rules: &RuleSet, policies: &PolicySet) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, rule) in rules.rules.iter().enumerate() {
        let start = findings.len();
        evaluate_rule(rules, rule, policies, &mut findings);
        for finding in &mut findings[start..] {
            finding.rule_index = index;
        }
    }
    super::groups::evaluate_groups(rules, policies, &mut findings);
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    findings
}

/// How [`Finding::sort_key`] orders findings.
pub type SortKey<'f> = (
    &'f str,
    Option<&'f str>,
    Option<&'f str>,
    &'f str,
    Option<Family>,
);

impl Finding {
    /// The order reports list findings in: by resource, rule and policy. No two findings of
    /// one plan share a key (a rule has at most one finding per policy and family).
    pub fn sort_key(&self) -> SortKey<'_> {
        (
            &self.address,
            self.deposed.as_deref(),
            self.block.as_deref(),
            &self.rule_id,
            self.family,
        )
    }
}

fn evaluate_rule(set: &RuleSet, rule: &IngressRule, policies: &PolicySet, out: &mut Vec<Finding>) {
    let (covers, invalid) = analyze_cidrs(rule);
    let mut exposed_ids: Vec<&str> = Vec::new();
    let mut maybe: Vec<(&Policy, Vec<PortSpec>)> = Vec::new();
    for policy in &policies.policies {
        let matched = port_match(rule, policy);
        for (family, cover) in Family::ALL.iter().zip(&covers) {
            let (opens, possible) = match &matched {
                PortMatch::Opens(ports) => (Some(ports), None),
                PortMatch::Maybe(ports) => (None, Some(ports)),
                PortMatch::No => (None, None),
            };
            match (&cover.world, opens) {
                (Some(world), Some(ports)) if rule.direction_known => {
                    exposed_ids.push(&policy.meta.id);
                    out.push(exposed_finding(set, rule, policy, *family, world, ports));
                }
                _ => {
                    let could = match (&cover.world, cover.unknown) {
                        (Some(_), _) | (None, true) => opens.or(possible),
                        (None, false) => None,
                    };
                    if let Some(ports) = could
                        && !maybe.iter().any(|(p, _)| p.meta.id == policy.meta.id)
                    {
                        maybe.push((policy, ports.clone()));
                    }
                }
            }
        }
    }
    maybe.retain(|(p, _)| !exposed_ids.contains(&p.meta.id.as_str()));
    if !maybe.is_empty() {
        out.push(unknown_finding(set, rule, &maybe));
    }
    if !invalid.is_empty() {
        let reachable = policies.policies.iter().any(|p| may_touch(rule, p));
        if reachable {
            out.push(invalid_finding(set, rule, &invalid));
        }
    }
}

/// Splits a rule's CIDRs by family and decides, per family, world / not world / unknown.
/// When `nets` (all of `family`) cover the family: the entries a patch replaces, as indexes. The
/// /0 entries, and, when what remains still covers the family (`::/0` beside `::/1` and
/// `8000::/1`), public entries too, largest first, until it does not; without a /0 entry,
/// every entry (the split is the world). `None` when `nets` do not cover the family.
pub(super) fn world_entries(nets: &[IpNet], family: Family) -> Option<Vec<usize>> {
    if !cidr::covers_world(nets, family) {
        return None;
    }
    let mut chosen: Vec<usize> = (0..nets.len())
        .filter(|&i| nets[i].prefix_len() == 0)
        .collect();
    if chosen.is_empty() {
        return Some((0..nets.len()).collect());
    }
    let mut rest: Vec<usize> = (0..nets.len())
        .filter(|&i| nets[i].prefix_len() > 0 && cidr::is_public(&nets[i]))
        .collect();
    rest.sort_by_key(|&i| (nets[i].prefix_len(), i));
    for i in rest {
        let remaining: Vec<IpNet> = (0..nets.len())
            .filter(|j| !chosen.contains(j))
            .map(|j| nets[j])
            .collect();
        if !cidr::covers_world(&remaining, family) {
            break;
        }
        chosen.push(i);
    }
    chosen.sort_unstable();
    Some(chosen)
}

/// Returns the per-family covers (IPv4, IPv6) and the entries that do not parse.
fn analyze_cidrs(rule: &IngressRule) -> ([FamilyCover; 2], Vec<String>) {
    let mut parsed: Vec<(IpNet, String)> = Vec::new();
    let mut invalid = Vec::new();
    let mut unknown = [false, false];
    for entry in &rule.cidrs {
        match entry.text() {
            Some(text) => match cidr::parse(text) {
                Some(net) => parsed.push((net, text.to_string())),
                None => invalid.push(format!("{} = {text:?}", entry_label(entry))),
            },
            None => match entry.attribute_family() {
                Some(Family::Ipv4) => unknown[0] = true,
                Some(Family::Ipv6) => unknown[1] = true,
                None => unknown = [true, true],
            },
        }
    }
    let cover = |family: Family, unknown: bool| {
        let (nets, texts): (Vec<IpNet>, Vec<&String>) = parsed
            .iter()
            .filter(|(n, _)| cidr::family(n) == family)
            .map(|(n, t)| (*n, t))
            .unzip();
        let world = world_entries(&nets, family)
            .map(|chosen| chosen.into_iter().map(|i| texts[i].clone()).collect());
        FamilyCover { world, unknown }
    };
    (
        [
            cover(Family::Ipv4, unknown[0]),
            cover(Family::Ipv6, unknown[1]),
        ],
        invalid,
    )
}

fn entry_label(entry: &crate::rules::CidrEntry) -> String {
    match entry.index {
        Some(i) => format!("{}[{i}]", entry.attribute),
        None => entry.attribute.to_string(),
    }
}

/// What a rule's protocol and ports may open, before any policy is asked.
enum Reach {
    /// The protocol is unknown until apply: anything.
    Anything,
    /// No protocol (AWS requires one): nothing.
    Nothing,
    /// This, surely (`true`) or at most (`false`, a port bound is unknown).
    Exposure(Exposure, bool),
}

fn reach(rule: &IngressRule) -> Reach {
    let protocol = match &rule.protocol {
        Known::Unknown => return Reach::Anything,
        Known::Known(None) => return Reach::Nothing,
        Known::Known(Some(p)) => Protocol::parse(p),
    };
    let (exposure, certain) = match (&protocol, rule.from_port.known(), rule.to_port.known()) {
        (Protocol::Ported(l4), from, to) if from.is_none() || to.is_none() => {
            (widest_exposure(*l4, from, to), false)
        }
        (_, Some(from), Some(to)) => (Exposure::of(&protocol, *from, *to), true),
        // `-1` and port-less protocols: the ports do not matter.
        _ => (Exposure::of(&protocol, None, None), true),
    };
    Reach::Exposure(exposure, certain)
}

/// Whether `port_match` is not [`PortMatch::No`], without making its list (this is asked of
/// every rule of a plan, most of which touch no guarded port).
pub(super) fn may_touch(rule: &IngressRule, policy: &Policy) -> bool {
    match reach(rule) {
        Reach::Anything => true,
        Reach::Nothing => false,
        Reach::Exposure(exposure, _) => policy
            .ports
            .iter()
            .any(|spec| exposure.overlap(spec.protocol, spec.range).is_some()),
    }
}

pub(super) fn port_match(rule: &IngressRule, policy: &Policy) -> PortMatch {
    let (exposure, certain) = match reach(rule) {
        Reach::Anything => return PortMatch::Maybe(policy.ports.clone()),
        Reach::Nothing => return PortMatch::No,
        Reach::Exposure(exposure, certain) => (exposure, certain),
    };
    let hits: Vec<PortSpec> = policy
        .ports
        .iter()
        .filter_map(|spec| {
            exposure
                .overlap(spec.protocol, spec.range)
                .map(|range| PortSpec {
                    protocol: spec.protocol,
                    range,
                })
        })
        .collect();
    match (hits.is_empty(), certain) {
        (true, _) => PortMatch::No,
        (false, true) => PortMatch::Opens(hits),
        (false, false) => PortMatch::Maybe(hits),
    }
}

/// The most a TCP/UDP rule could open when one or both port bounds are unknown until apply: a
/// known bound limits the range (AWS rejects reversed ranges), and a known `null` or
/// out-of-range bound means the rule opens nothing whatever the other bound turns out to be.
fn widest_exposure(l4: L4, from: Option<&Option<i64>>, to: Option<&Option<i64>>) -> Exposure {
    let bound = |b: Option<&Option<i64>>, unknown: u16| -> Option<u16> {
        match b {
            None => Some(unknown),
            Some(None) => None,
            Some(Some(n)) => u16::try_from(*n).ok(),
        }
    };
    match (bound(from, 0), bound(to, u16::MAX)) {
        (Some(from), Some(to)) if from <= to => Exposure::Ports(l4, PortRange { from, to }),
        _ => Exposure::Nothing,
    }
}

/// A short description of what a rule allows: `tcp 0-65535`, `all traffic (protocol -1)`.
pub(super) fn describe_traffic(rule: &IngressRule) -> String {
    let port = |p: &Known<Option<i64>>| match p {
        Known::Known(Some(n)) => n.to_string(),
        Known::Known(None) => "null".to_string(),
        Known::Unknown => "(unknown)".to_string(),
    };
    match &rule.protocol {
        Known::Known(Some(p)) if Protocol::parse(p) == Protocol::All => {
            format!("all traffic (protocol {p})")
        }
        Known::Known(Some(p)) => {
            let (from, to) = (port(&rule.from_port), port(&rule.to_port));
            if from == to {
                format!("{p} {from}")
            } else {
                format!("{p} {from}-{to}")
            }
        }
        Known::Known(None) => "protocol null".to_string(),
        Known::Unknown => "an unknown protocol".to_string(),
    }
}

pub(super) fn base_finding(
    set: &RuleSet,
    rule: &IngressRule,
    meta: &RuleMeta,
    kind: FindingKind,
) -> Finding {
    let resource = &set.resources[rule.resource];
    Finding {
        rule_id: meta.id.clone(),
        title: meta.title.clone(),
        severity: meta.severity,
        kind,
        address: resource.address.clone(),
        resource_type: resource.resource_type.clone(),
        action: resource.action.as_str().to_string(),
        deposed: resource.deposed.clone(),
        block: rule.block_label(),
        protocol: rule.protocol.known().cloned().flatten(),
        from_port: rule.from_port.known().copied().flatten(),
        to_port: rule.to_port.known().copied().flatten(),
        cidr: None,
        cidrs: Vec::new(),
        family: None,
        ports: Vec::new(),
        related: Vec::new(),
        message: String::new(),
        json_path: rule.json_path.clone(),
        resource_index: rule.resource,
        rule_index: 0,
        is_change: resource.action.is_change(),
    }
}

fn subject(finding: &Finding) -> String {
    match &finding.block {
        Some(block) => format!("{} {block}", finding.address),
        None => finding.address.clone(),
    }
}

pub(super) fn exposed_finding(
    set: &RuleSet,
    rule: &IngressRule,
    policy: &Policy,
    family: Family,
    world: &[String],
    ports: &[PortSpec],
) -> Finding {
    let mut f = base_finding(set, rule, &policy.meta, FindingKind::Exposed);
    f.cidr = Some(world.join(", "));
    f.cidrs = world.to_vec();
    f.family = Some(family);
    f.ports = ports.iter().map(ToString::to_string).collect();
    let resolved: Vec<String> = rule
        .cidrs
        .iter()
        .filter_map(|c| match &c.value {
            crate::rules::CidrValue::Resolved { value, reference } if world.contains(value) => {
                Some(format!("{value} is {reference}"))
            }
            crate::rules::CidrValue::PrefixList { value, list } if world.contains(value) => {
                Some(format!("{value} is an entry of prefix list {list}"))
            }
            _ => None,
        })
        .collect();
    let via = if resolved.is_empty() {
        String::new()
    } else {
        format!(" ({})", resolved.join("; "))
    };
    let cover = if world.len() > 1 || world.first().is_some_and(|w| w != family.world()) {
        format!(", which together cover all of {}", family.as_str())
    } else {
        String::new()
    };
    f.message = format!(
        "{} allows {} from {}{via}{cover}: {} ({}) is open to the internet",
        subject(&f),
        describe_traffic(rule),
        world.join(", "),
        policy.meta.title.trim_end_matches(" open to the world"),
        f.ports.join(", "),
    );
    f
}

fn unknown_finding(
    set: &RuleSet,
    rule: &IngressRule,
    maybe: &[(&Policy, Vec<PortSpec>)],
) -> Finding {
    let meta = unknown_value_meta();
    let mut f = base_finding(set, rule, &meta, FindingKind::Unknown);
    f.related = maybe.iter().map(|(p, _)| p.meta.id.clone()).collect();
    f.ports = maybe
        .iter()
        .flat_map(|(_, ports)| ports.iter().map(ToString::to_string))
        .collect();
    let unknown = if rule.unknown_attributes.is_empty() {
        "some values".to_string()
    } else {
        rule.unknown_attributes.join(", ")
    };
    let could: Vec<String> = maybe
        .iter()
        .map(|(p, _)| format!("{} {}", p.meta.id, p.meta.title))
        .collect();
    let state = set.input == crate::plan::InputKind::State;
    let traffic = if rule.unknown_attributes.iter().any(|a| a == WHOLE_STATE) {
        if state {
            "its whole state is"
        } else {
            "its whole planned state is"
        }
        .to_string()
    } else if rule.unknown_attributes.iter().any(|a| a == "ingress") {
        "its ingress rules are".to_string()
    } else {
        format!(
            "it allows {} and {unknown} {}",
            describe_traffic(rule),
            plural(&rule.unknown_attributes)
        )
    };
    f.message = format!(
        "{}: {traffic} {}, so portgate cannot prove it safe; it could violate {}",
        subject(&f),
        if state {
            "missing from the state"
        } else {
            "unknown until apply"
        },
        could.join(" and "),
    );
    if let Some(note) = &rule.note {
        f.message.push_str(&format!(" ({note})"));
    }
    f
}

fn plural(items: &[String]) -> &'static str {
    if items.len() == 1 { "is" } else { "are" }
}

fn invalid_finding(set: &RuleSet, rule: &IngressRule, invalid: &[String]) -> Finding {
    let meta = invalid_cidr_meta();
    let mut f = base_finding(set, rule, &meta, FindingKind::InvalidCidr);
    f.related = invalid.to_vec();
    f.message = format!(
        "{} allows {} from {} {} not a valid CIDR, so portgate cannot prove it safe",
        subject(&f),
        describe_traffic(rule),
        invalid.join(", "),
        if invalid.len() == 1 {
            "which is"
        } else {
            "which are"
        },
    );
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;
    use crate::rules::{CheckedResource, CidrEntry, CidrValue};

    /// `may_touch` answers what `port_match` answers (not `No`) for every protocol and port
    /// shape, known and unknown, valid and invalid, against every built-in policy.
    #[test]
    fn may_touch_agrees_with_port_match() {
        let policies = crate::policy::PolicySet::builtin().unwrap();
        let protocols = [
            Known::Unknown,
            Known::Known(None),
            Known::Known(Some("tcp".to_string())),
            Known::Known(Some("6".to_string())),
            Known::Known(Some("udp".to_string())),
            Known::Known(Some("17".to_string())),
            Known::Known(Some("-1".to_string())),
            Known::Known(Some("all".to_string())),
            Known::Known(Some("icmp".to_string())),
            Known::Known(Some("58".to_string())),
            Known::Known(Some("bogus".to_string())),
        ];
        let ports = [
            Known::Unknown,
            Known::Known(None),
            Known::Known(Some(-1)),
            Known::Known(Some(0)),
            Known::Known(Some(137)),
            Known::Known(Some(139)),
            Known::Known(Some(140)),
            Known::Known(Some(445)),
            Known::Known(Some(65535)),
            Known::Known(Some(70000)),
        ];
        let (mut touched, mut untouched) = (0, 0);
        for protocol in &protocols {
            for from in &ports {
                for to in &ports {
                    let rule = IngressRule::new(
                        0,
                        None,
                        String::new(),
                        protocol.clone(),
                        from.clone(),
                        to.clone(),
                    );
                    for policy in &policies.policies {
                        let expected = !matches!(port_match(&rule, policy), PortMatch::No);
                        assert_eq!(
                            may_touch(&rule, policy),
                            expected,
                            "{protocol:?} {from:?}-{to:?} {}",
                            policy.meta.id
                        );
                        if expected {
                            touched += 1
                        } else {
                            untouched += 1
                        }
                    }
                }
            }
        }
        assert!(touched > 100 && untouched > 100, "{touched} {untouched}");
    }

    fn set_with(rule: IngressRule) -> RuleSet {
        RuleSet {
            resources: vec![CheckedResource {
                address: "aws_security_group.web".into(),
                resource_type: "aws_security_group".into(),
                name: "web".into(),
                action: Action::Create,
                deposed: None,
                json_path: "resource_changes[0].change.after".into(),
                module_calls: Some(vec![]),
                tags: Default::default(),
                plan_line: None,
            }],
            rules: vec![rule],
            unchecked_prefix_lists: Vec::new(),
            group_vpcs: Default::default(),
            root_variables: Default::default(),
            input: Default::default(),
            resources_set_aside: 0,
        }
    }

    fn rule(
        protocol: Option<&str>,
        from: Option<i64>,
        to: Option<i64>,
        cidrs: &[&str],
    ) -> IngressRule {
        IngressRule {
            resource: 0,
            block: Some(0),
            json_path: "x".into(),
            protocol: Known::Known(protocol.map(String::from)),
            from_port: Known::Known(from),
            to_port: Known::Known(to),
            cidrs: cidrs
                .iter()
                .enumerate()
                .map(|(i, c)| CidrEntry {
                    attribute: if c.contains(':') {
                        "ipv6_cidr_blocks"
                    } else {
                        "cidr_blocks"
                    },
                    index: Some(i),
                    value: CidrValue::Literal(c.to_string()),
                })
                .collect(),
            other_sources: vec![],
            direction_known: true,
            unknown_attributes: vec![],
            note: None,
            group: None,
        }
    }

    fn ids(r: IngressRule) -> Vec<(String, Option<Family>, Vec<String>)> {
        evaluate(&set_with(r), &PolicySet::builtin().unwrap())
            .into_iter()
            .map(|f| (f.rule_id, f.family, f.ports))
            .collect()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn all_ports_from_both_families_gives_both_policies_per_family() {
        let got = ids(rule(
            Some("tcp"),
            Some(0),
            Some(65535),
            &["0.0.0.0/0", "::/0"],
        ));
        assert_eq!(
            got,
            vec![
                ("PG001".into(), Some(Family::Ipv4), s(&["tcp/137-139"])),
                ("PG001".into(), Some(Family::Ipv6), s(&["tcp/137-139"])),
                ("PG002".into(), Some(Family::Ipv4), s(&["tcp/445"])),
                ("PG002".into(), Some(Family::Ipv6), s(&["tcp/445"])),
            ]
        );
    }

    #[test]
    fn protocol_minus_one_opens_tcp_and_udp_whatever_the_ports() {
        let got = ids(rule(Some("-1"), Some(0), Some(0), &["0.0.0.0/0"]));
        assert_eq!(
            got,
            vec![
                (
                    "PG001".into(),
                    Some(Family::Ipv4),
                    s(&["tcp/137-139", "udp/137-139"])
                ),
                (
                    "PG002".into(),
                    Some(Family::Ipv4),
                    s(&["tcp/445", "udp/445"])
                ),
            ]
        );
        assert_eq!(ids(rule(Some("ALL"), None, None, &["0.0.0.0/0"])).len(), 2);
    }

    #[test]
    fn partial_overlap_reports_only_the_overlap() {
        let got = ids(rule(Some("udp"), Some(138), Some(1000), &["0.0.0.0/0"]));
        assert_eq!(
            got,
            vec![
                ("PG001".into(), Some(Family::Ipv4), s(&["udp/138-139"])),
                ("PG002".into(), Some(Family::Ipv4), s(&["udp/445"])),
            ]
        );
    }

    #[test]
    fn safe_rules_give_nothing() {
        assert!(ids(rule(Some("tcp"), Some(443), Some(22), &["0.0.0.0/0"])).is_empty());
        assert!(ids(rule(Some("tcp"), None, Some(445), &["0.0.0.0/0"])).is_empty());
        assert!(ids(rule(Some("icmp"), Some(-1), Some(-1), &["0.0.0.0/0"])).is_empty());
        assert!(ids(rule(Some("tcp"), Some(445), Some(445), &["10.0.0.0/8"])).is_empty());
        assert!(ids(rule(Some("tcp"), Some(22), Some(22), &["0.0.0.0/0"])).is_empty());
        assert!(ids(rule(Some("50"), Some(0), Some(65535), &["0.0.0.0/0"])).is_empty());
        assert!(ids(rule(Some("tcp"), Some(445), Some(445), &[])).is_empty());
    }

    #[test]
    fn split_world_is_reported_with_its_members() {
        let findings = evaluate(
            &set_with(rule(
                Some("6"),
                Some(445),
                Some(445),
                &["0.0.0.0/1", "128.0.0.0/1"],
            )),
            &PolicySet::builtin().unwrap(),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].cidr.as_deref(), Some("0.0.0.0/1, 128.0.0.0/1"));
        assert!(
            findings[0].message.contains("together cover all of IPv4"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn unknown_cidrs_on_a_matching_port_give_one_pg003() {
        let mut r = rule(Some("tcp"), Some(445), Some(445), &[]);
        r.cidrs.push(CidrEntry {
            attribute: "cidr_blocks",
            index: None,
            value: CidrValue::Unknown,
        });
        r.unknown_attributes.push("cidr_blocks".into());
        let findings = evaluate(&set_with(r), &PolicySet::builtin().unwrap());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule_id, "PG003");
        assert_eq!(findings[0].related, s(&["PG002"]));
    }

    #[test]
    fn unknown_cidrs_on_an_unrelated_port_give_nothing() {
        let mut r = rule(Some("tcp"), Some(22), Some(22), &[]);
        r.cidrs.push(CidrEntry {
            attribute: "cidr_blocks",
            index: None,
            value: CidrValue::Unknown,
        });
        assert!(evaluate(&set_with(r), &PolicySet::builtin().unwrap()).is_empty());
    }

    #[test]
    fn unknown_ports_with_a_world_cidr_give_pg003() {
        let mut r = rule(Some("udp"), None, None, &["::/0"]);
        r.from_port = Known::Unknown;
        r.to_port = Known::Unknown;
        let findings = evaluate(&set_with(r), &PolicySet::builtin().unwrap());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule_id, "PG003");
        assert_eq!(findings[0].related, s(&["PG001", "PG002"]));
    }

    #[test]
    fn a_known_bound_limits_what_an_unknown_bound_could_open() {
        let mut r = rule(Some("udp"), None, Some(200), &["::/0"]);
        r.from_port = Known::Unknown;
        let findings = evaluate(&set_with(r), &PolicySet::builtin().unwrap());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].related, s(&["PG001"]));
        assert_eq!(findings[0].ports, s(&["udp/137-139"]));

        let mut r = rule(Some("tcp"), Some(139), None, &["0.0.0.0/0"]);
        r.to_port = Known::Unknown;
        let findings = evaluate(&set_with(r), &PolicySet::builtin().unwrap());
        assert_eq!(findings[0].ports, s(&["tcp/139", "tcp/445"]));

        let mut r = rule(Some("tcp"), None, None, &["0.0.0.0/0"]);
        r.to_port = Known::Unknown;
        assert!(
            evaluate(&set_with(r), &PolicySet::builtin().unwrap()).is_empty(),
            "a null bound opens nothing whatever the other bound is"
        );
    }

    #[test]
    fn an_invalid_cidr_on_a_matching_port_gives_pg004() {
        let findings = evaluate(
            &set_with(rule(Some("tcp"), Some(445), Some(445), &["10.0.0/8"])),
            &PolicySet::builtin().unwrap(),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule_id, "PG004");
        assert!(findings[0].message.contains("10.0.0/8"));
    }

    #[test]
    fn a_definite_finding_makes_the_same_policy_pg003_redundant() {
        let mut r = rule(Some("tcp"), Some(445), Some(445), &["::/0"]);
        r.cidrs.push(CidrEntry {
            attribute: "cidr_blocks",
            index: None,
            value: CidrValue::Unknown,
        });
        let got = ids(r);
        assert_eq!(
            got,
            vec![("PG002".into(), Some(Family::Ipv6), s(&["tcp/445"]))]
        );
    }
}

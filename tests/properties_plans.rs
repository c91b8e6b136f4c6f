//! Property: plan round trips. One plan model written as every `format_version` shape
//! Terraform and OpenTofu emit, pretty or compact, escaped or not, in UTF-8 (with or without
//! BOM) and UTF-16 (LE/BE, with or without BOM), gives the same findings, and those are the
//! findings an oracle computes from the model.
//!
//! The oracles and the seed are shared (`tests/common/properties.rs`); `tests/oracle.rs` checks
//! the evaluator on a small fixed sample. Seeds are fixed (override with `PROPTEST_RNG_SEED`),
//! so a run is reproducible.

#[path = "common/properties.rs"]
mod properties;
use properties::*;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use portgate::policy::{Finding, FindingKind, PolicySet};
use portgate::rules::cidr::Family;
use portgate::{CheckOptions, check};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;

// =============================================================================================
// 4. Plan round trips: format versions, layouts, escapes, encodings
// =============================================================================================

/// JSON that keeps its key order (serde_json's map sorts keys) and is written by hand, so the
/// layout and the escaping are ours to choose.
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    /// A number, as written.
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn js(text: &str) -> J {
    J::Str(text.to_string())
}

fn jint(n: i64) -> J {
    J::Num(n.to_string())
}

fn jport(n: Option<i64>) -> J {
    n.map_or(J::Null, jint)
}

fn jobj(pairs: Vec<(&str, J)>) -> J {
    J::Obj(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn jstrs(texts: &[String]) -> J {
    J::Arr(texts.iter().map(|t| js(t)).collect())
}

fn jconst(value: J) -> J {
    jobj(vec![("constant_value", value)])
}

fn from_serde(value: &serde_json::Value) -> J {
    match value {
        serde_json::Value::Null => J::Null,
        serde_json::Value::Bool(b) => J::Bool(*b),
        serde_json::Value::Number(n) => J::Num(n.to_string()),
        serde_json::Value::String(s) => js(s),
        serde_json::Value::Array(items) => J::Arr(items.iter().map(from_serde).collect()),
        serde_json::Value::Object(map) => J::Obj(
            map.iter()
                .map(|(k, v)| (k.clone(), from_serde(v)))
                .collect(),
        ),
    }
}

/// Whitespace between tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `terraform show -json`: one line.
    Compact,
    /// `jq .`: two spaces.
    Indented,
    Tabs,
    /// PowerShell's `ConvertTo-Json`-like: four spaces and CRLF.
    Crlf,
    /// Spaces and tabs between every token.
    Loose,
}

/// How strings (and keys) are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escapes {
    /// Only what JSON requires.
    Raw,
    /// Go's encoding/json, which Terraform uses: `<`, `>`, `&`, U+2028 and U+2029 as `\u00XX`.
    Go,
    /// ASCII only: every non-ASCII character as `\uXXXX` (surrogate pairs above U+FFFF), and
    /// `/` as `\/`.
    Ascii,
    /// Every character of every string and key as `\uXXXX`.
    Everything,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16LeBom,
    Utf16BeBom,
    Utf16Le,
    Utf16Be,
}

const LAYOUTS: [Layout; 5] = [
    Layout::Compact,
    Layout::Indented,
    Layout::Tabs,
    Layout::Crlf,
    Layout::Loose,
];
const ESCAPES: [Escapes; 4] = [
    Escapes::Raw,
    Escapes::Go,
    Escapes::Ascii,
    Escapes::Everything,
];
const ENCODINGS: [Encoding; 6] = [
    Encoding::Utf8,
    Encoding::Utf8Bom,
    Encoding::Utf16LeBom,
    Encoding::Utf16BeBom,
    Encoding::Utf16Le,
    Encoding::Utf16Be,
];

fn write_string(text: &str, escapes: Escapes, out: &mut String) {
    let unicode = |c: char, out: &mut String, upper: bool| {
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            if upper {
                write!(out, "\\u{unit:04X}").unwrap();
            } else {
                write!(out, "\\u{unit:04x}").unwrap();
            }
        }
    };
    out.push('"');
    for c in text.chars() {
        match c {
            c if escapes == Escapes::Everything => unicode(c, out, true),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => unicode(c, out, false),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' if escapes == Escapes::Go => {
                unicode(c, out, false)
            }
            '/' if escapes == Escapes::Ascii => out.push_str("\\/"),
            c if !c.is_ascii() && escapes == Escapes::Ascii => unicode(c, out, false),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json(value: &J, layout: Layout, escapes: Escapes) -> String {
    fn emit(value: &J, layout: Layout, escapes: Escapes, depth: usize, out: &mut String) {
        let (unit, newline) = match layout {
            Layout::Indented => ("  ", "\n"),
            Layout::Tabs => ("\t", "\n"),
            Layout::Crlf => ("    ", "\r\n"),
            Layout::Compact | Layout::Loose => ("", ""),
        };
        let space = |out: &mut String, depth: usize| {
            if !newline.is_empty() {
                out.push_str(newline);
                out.push_str(&unit.repeat(depth));
            } else if layout == Layout::Loose {
                out.push_str(" \t ");
            }
        };
        match value {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(n),
            J::Str(s) => write_string(s, escapes, out),
            J::Arr(items) if items.is_empty() => out.push_str("[]"),
            J::Obj(pairs) if pairs.is_empty() => out.push_str("{}"),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(out, depth + 1);
                    emit(item, layout, escapes, depth + 1, out);
                }
                space(out, depth);
                out.push(']');
            }
            J::Obj(pairs) => {
                out.push('{');
                for (i, (key, item)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(out, depth + 1);
                    write_string(key, escapes, out);
                    out.push(':');
                    if layout != Layout::Compact {
                        out.push(' ');
                    }
                    emit(item, layout, escapes, depth + 1, out);
                }
                space(out, depth);
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    emit(value, layout, escapes, 0, &mut out);
    match layout {
        Layout::Compact => {}
        Layout::Crlf => out.push_str("\r\n"),
        _ => out.push('\n'),
    }
    out
}

fn encode(text: &str, encoding: Encoding) -> Vec<u8> {
    let utf16 = |big_endian: bool, bom: bool| {
        let mut out = Vec::new();
        let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
        for unit in units {
            out.extend_from_slice(&if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        out
    };
    match encoding {
        Encoding::Utf8 => text.as_bytes().to_vec(),
        Encoding::Utf8Bom => [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
        Encoding::Utf16LeBom => utf16(false, true),
        Encoding::Utf16BeBom => utf16(true, true),
        Encoding::Utf16Le => utf16(false, false),
        Encoding::Utf16Be => utf16(true, false),
    }
}

/// The `format_version` shapes Terraform and OpenTofu write (see SOURCES.md of the real
/// plans): what changes is the version, the sections around `resource_changes`, the
/// `*_sensitive` fields, and whether the configuration shows attributes written as blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Shape {
    /// 0.1 from Terraform 0.12: no `*_sensitive`, provider names without a registry.
    Tf012,
    /// 0.1 from Terraform 1.0.0.
    Tf100,
    /// 0.2 from Terraform 1.0.x: `resource_drift`.
    Tf10x,
    /// 1.0 from Terraform 1.1: inline `ingress` in the configuration, `action_reason`.
    Tf11,
    /// 1.1 from Terraform 1.3: `relevant_attributes`.
    Tf13,
    /// 1.2 from Terraform 1.9: `checks`, `timestamp`, `applyable`, `complete`, `errored`.
    Tf19,
    /// 1.2 from OpenTofu 1.8.
    Tofu18,
    /// 1.2 with the top-level members in reverse order (configuration before the resources)
    /// and no `terraform_version`, as Terraform's own golden files.
    Reversed,
}

const SHAPES: [Shape; 8] = [
    Shape::Tf012,
    Shape::Tf100,
    Shape::Tf10x,
    Shape::Tf11,
    Shape::Tf13,
    Shape::Tf19,
    Shape::Tofu18,
    Shape::Reversed,
];

impl Shape {
    fn format_version(self) -> &'static str {
        match self {
            Shape::Tf012 | Shape::Tf100 => "0.1",
            Shape::Tf10x => "0.2",
            Shape::Tf11 => "1.0",
            Shape::Tf13 => "1.1",
            Shape::Tf19 | Shape::Tofu18 | Shape::Reversed => "1.2",
        }
    }

    fn terraform_version(self) -> Option<&'static str> {
        match self {
            Shape::Tf012 => Some("0.12.31"),
            Shape::Tf100 => Some("1.0.0"),
            Shape::Tf10x => Some("1.0.11"),
            Shape::Tf11 => Some("1.1.9"),
            Shape::Tf13 => Some("1.3.9"),
            Shape::Tf19 => Some("1.9.8"),
            Shape::Tofu18 => Some("1.8.3"),
            Shape::Reversed => None,
        }
    }

    fn provider(self) -> &'static str {
        match self {
            Shape::Tf012 => "aws",
            Shape::Tofu18 => "registry.opentofu.org/hashicorp/aws",
            _ => "registry.terraform.io/hashicorp/aws",
        }
    }

    fn sensitive(self) -> bool {
        self != Shape::Tf012
    }

    fn blocks_in_config(self) -> bool {
        !self.format_version().starts_with("0.")
    }
}

#[derive(Debug, Clone)]
struct ModelRule {
    protocol: String,
    from: Option<i64>,
    to: Option<i64>,
    v4: Vec<String>,
    v6: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sg,
    DefaultSg,
    SgRule,
    SgEgressRule,
    VpcIngress,
    /// Not checked, but look like it: none of them is a finding.
    Vpc,
    Bucket,
    DataSg,
    DeletedSg,
    VpcEgress,
    NaclRule,
}

impl Kind {
    fn type_name(self) -> &'static str {
        match self {
            Kind::Sg | Kind::DataSg | Kind::DeletedSg => "aws_security_group",
            Kind::DefaultSg => "aws_default_security_group",
            Kind::SgRule | Kind::SgEgressRule => "aws_security_group_rule",
            Kind::VpcIngress => "aws_vpc_security_group_ingress_rule",
            Kind::Vpc => "aws_vpc",
            Kind::Bucket => "aws_s3_bucket",
            Kind::VpcEgress => "aws_vpc_security_group_egress_rule",
            Kind::NaclRule => "aws_network_acl_rule",
        }
    }

    /// Resources of the checked types that exist after apply.
    fn scanned(self) -> bool {
        matches!(
            self,
            Kind::Sg | Kind::DefaultSg | Kind::SgRule | Kind::SgEgressRule | Kind::VpcIngress
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InstanceKey {
    Single,
    Count(i64),
    Each(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModelAction {
    Create,
    Update,
    NoOp,
    DeleteCreate,
    CreateDelete,
}

#[derive(Debug, Clone)]
struct ModelResource {
    kind: Kind,
    name: String,
    /// Index into [`MODULES`].
    module: Option<usize>,
    key: InstanceKey,
    action: ModelAction,
    /// Inline blocks (security groups) or the one rule (rule resources).
    rules: Vec<ModelRule>,
}

#[derive(Debug, Clone)]
struct PlanModel {
    resources: Vec<ModelResource>,
}

/// Module instances: address and the module call names that lead to it.
const MODULES: [(&str, &[&str]); 6] = [
    ("module.net", &["net"]),
    ("module.sg[\"prod\"]", &["sg"]),
    ("module.sg[\"a.b[1]\"]", &["sg"]),
    ("module.app[0]", &["app"]),
    ("module.app[1]", &["app"]),
    ("module.app[1].module.inner", &["app", "inner"]),
];

const RULE_PROTOCOLS: &[&str] = &[
    "tcp", "udp", "-1", "6", "17", "icmp", "all", "TCP", "icmpv6", "50", "Udp", "58",
];
const RULE_PORTS: &[(Option<i64>, Option<i64>)] = &[
    (Some(445), Some(445)),
    (Some(137), Some(139)),
    (Some(0), Some(65535)),
    (Some(0), Some(0)),
    (Some(-1), Some(-1)),
    (Some(443), Some(22)),
    (Some(138), Some(200)),
    (Some(22), Some(22)),
    (Some(1), Some(3000)),
    (Some(443), Some(3389)),
    (None, Some(445)),
    (None, None),
    (Some(139), Some(139)),
    (Some(445), Some(65536)),
];
const V4_POOL: &[&str] = &[
    "0.0.0.0/0",
    "0.0.0.0/1",
    "128.0.0.0/1",
    "10.0.0.0/8",
    "192.168.1.0/24",
    "203.0.113.7/32",
    "1.2.3.4/0",
    "0.0.0.0/2",
    "64.0.0.0/2",
];
const V6_POOL: &[&str] = &[
    "::/0",
    "::/1",
    "8000::/1",
    "2001:db8::/32",
    "fd00::/8",
    "2001:DB8::5/0",
    "::ffff:0.0.0.0/96",
];

fn model_rule() -> impl Strategy<Value = ModelRule> {
    let v4 = prop_oneof![
        2 => Just("0.0.0.0/0".to_string()),
        4 => select(V4_POOL).prop_map(String::from),
        1 => (any::<u32>(), 1u32..=32).prop_map(|(v, p)| {
            format!("{}/{p}", Ipv4Addr::from(v & !(ones(32 - p) as u32)))
        }),
    ];
    (
        select(RULE_PROTOCOLS),
        select(RULE_PORTS),
        prop::collection::vec(v4, 0..4),
        prop::collection::vec(
            prop_oneof![
                1 => Just("::/0".to_string()),
                3 => select(V6_POOL).prop_map(String::from),
            ],
            0..3,
        ),
    )
        .prop_map(|(protocol, (from, to), v4, v6)| ModelRule {
            protocol: protocol.to_string(),
            from,
            to,
            v4,
            v6,
        })
}

fn model_resource() -> impl Strategy<Value = ModelResource> {
    let kind = prop_oneof![
        4 => Just(Kind::Sg),
        1 => Just(Kind::DefaultSg),
        3 => Just(Kind::SgRule),
        1 => Just(Kind::SgEgressRule),
        3 => Just(Kind::VpcIngress),
        1 => Just(Kind::Vpc),
        1 => Just(Kind::Bucket),
        1 => Just(Kind::DataSg),
        1 => Just(Kind::DeletedSg),
        1 => Just(Kind::VpcEgress),
        1 => Just(Kind::NaclRule),
    ];
    let key = prop_oneof![
        3 => Just(InstanceKey::Single),
        1 => (0i64..3).prop_map(InstanceKey::Count),
        1 => select(&["prod", "a.b", "x[1]", "Zoë"][..]).prop_map(InstanceKey::Each),
    ];
    let action = select(
        &[
            ModelAction::Create,
            ModelAction::Create,
            ModelAction::Update,
            ModelAction::NoOp,
            ModelAction::DeleteCreate,
            ModelAction::CreateDelete,
        ][..],
    );
    (
        kind,
        prop::option::weighted(0.4, 0..MODULES.len()),
        key,
        action,
        prop::collection::vec(model_rule(), 1..4),
        0usize..4,
    )
        .prop_map(|(kind, module, key, action, mut rules, inline)| {
            match kind {
                Kind::Sg | Kind::DefaultSg => rules.truncate(inline),
                Kind::SgRule | Kind::SgEgressRule => rules.truncate(1),
                Kind::VpcIngress => {
                    rules.truncate(1);
                    // One source: an IPv4 or an IPv6 CIDR (or neither: a prefix list).
                    let rule = &mut rules[0];
                    rule.v4.truncate(1);
                    if rule.v4.is_empty() {
                        rule.v6.truncate(1);
                    } else {
                        rule.v6.clear();
                    }
                }
                _ => rules.clear(),
            }
            ModelResource {
                kind,
                name: String::new(),
                module,
                key,
                action,
                rules,
            }
        })
}

fn plan_model() -> impl Strategy<Value = PlanModel> {
    prop::collection::vec(model_resource(), 1..8).prop_map(|mut resources| {
        for (i, r) in resources.iter_mut().enumerate() {
            r.name = format!("r{i}");
        }
        PlanModel { resources }
    })
}

fn instance_suffix(key: InstanceKey) -> String {
    match key {
        InstanceKey::Single => String::new(),
        InstanceKey::Count(n) => format!("[{n}]"),
        InstanceKey::Each(k) => format!("[\"{k}\"]"),
    }
}

fn address(r: &ModelResource) -> String {
    let data = if r.kind == Kind::DataSg { "data." } else { "" };
    let local = format!(
        "{data}{}.{}{}",
        r.kind.type_name(),
        r.name,
        instance_suffix(r.key)
    );
    match r.module {
        Some(m) => format!("{}.{local}", MODULES[m].0),
        None => local,
    }
}

fn world_rule() -> ModelRule {
    ModelRule {
        protocol: "-1".into(),
        from: Some(0),
        to: Some(0),
        v4: vec!["0.0.0.0/0".into()],
        v6: vec!["::/0".into()],
    }
}

/// The planned state of an `aws_security_group` with these inline rules, and its
/// `after_unknown`.
fn sg_state(name: &str, rules: &[ModelRule]) -> (J, J) {
    let blocks = rules
        .iter()
        .map(|r| {
            jobj(vec![
                ("cidr_blocks", jstrs(&r.v4)),
                ("description", js("NetBIOS – Büro <alt> & neu")),
                ("from_port", jport(r.from)),
                ("ipv6_cidr_blocks", jstrs(&r.v6)),
                ("prefix_list_ids", J::Arr(vec![])),
                ("protocol", js(&r.protocol)),
                ("security_groups", J::Arr(vec![])),
                ("self", J::Bool(false)),
                ("to_port", jport(r.to)),
            ])
        })
        .collect();
    let unknown = rules
        .iter()
        .map(|r| {
            jobj(vec![
                ("cidr_blocks", J::Arr(vec![J::Bool(false); r.v4.len()])),
                ("ipv6_cidr_blocks", J::Arr(vec![J::Bool(false); r.v6.len()])),
                ("prefix_list_ids", J::Arr(vec![])),
                ("security_groups", J::Arr(vec![])),
            ])
        })
        .collect();
    let after = jobj(vec![
        ("description", js("Dateiserver 東京 😀 \u{2028} line")),
        ("egress", J::Arr(vec![])),
        ("ingress", J::Arr(blocks)),
        ("name", js(name)),
        ("revoke_rules_on_delete", J::Bool(false)),
        ("tags", jobj(vec![("Owner", js("Zoë <ops> & \"sec\""))])),
        ("timeouts", J::Null),
        ("vpc_id", js("vpc-0a1b2c3d4e5f60718")),
    ]);
    let after_unknown = jobj(vec![
        ("arn", J::Bool(true)),
        ("id", J::Bool(true)),
        ("ingress", J::Arr(unknown)),
        ("owner_id", J::Bool(true)),
        ("tags_all", J::Bool(true)),
    ]);
    (after, after_unknown)
}

fn list_or_null(texts: &[String]) -> J {
    if texts.is_empty() {
        J::Null
    } else {
        jstrs(texts)
    }
}

/// The planned state (`None` when deleted) and `after_unknown` of a resource.
fn planned_state(r: &ModelResource) -> (Option<J>, J) {
    let empty = jobj(vec![]);
    match r.kind {
        Kind::Sg | Kind::DefaultSg => {
            let (after, unknown) = sg_state(&r.name, &r.rules);
            (Some(after), unknown)
        }
        Kind::DataSg => {
            let (after, unknown) = sg_state(&r.name, &[world_rule()]);
            (Some(after), unknown)
        }
        Kind::DeletedSg => (None, empty),
        Kind::SgRule | Kind::SgEgressRule => {
            let rule = &r.rules[0];
            let direction = if r.kind == Kind::SgRule {
                "ingress"
            } else {
                "egress"
            };
            let after = jobj(vec![
                ("cidr_blocks", list_or_null(&rule.v4)),
                ("description", js("règle 😀")),
                ("from_port", jport(rule.from)),
                ("ipv6_cidr_blocks", list_or_null(&rule.v6)),
                ("prefix_list_ids", J::Null),
                ("protocol", js(&rule.protocol)),
                ("security_group_id", js("sg-0123456789abcdef0")),
                ("self", J::Bool(false)),
                ("timeouts", J::Null),
                ("to_port", jport(rule.to)),
                ("type", js(direction)),
            ]);
            let unknown = jobj(vec![
                ("cidr_blocks", J::Arr(vec![J::Bool(false); rule.v4.len()])),
                ("id", J::Bool(true)),
                ("security_group_rule_id", J::Bool(true)),
                ("source_security_group_id", J::Bool(true)),
            ]);
            (Some(after), unknown)
        }
        Kind::VpcIngress => {
            let rule = &r.rules[0];
            let one = |texts: &[String]| texts.first().map_or(J::Null, |t| js(t));
            let prefix_list = if rule.v4.is_empty() && rule.v6.is_empty() {
                js("pl-0123456789abcdef0")
            } else {
                J::Null
            };
            let after = jobj(vec![
                ("cidr_ipv4", one(&rule.v4)),
                ("cidr_ipv6", one(&rule.v6)),
                ("description", js("SMB für das Büro")),
                ("from_port", jport(rule.from)),
                ("ip_protocol", js(&rule.protocol)),
                ("prefix_list_id", prefix_list),
                ("referenced_security_group_id", J::Null),
                ("security_group_id", js("sg-0123456789abcdef0")),
                ("tags", J::Null),
                ("to_port", jport(rule.to)),
            ]);
            let unknown = jobj(vec![
                ("arn", J::Bool(true)),
                ("id", J::Bool(true)),
                ("security_group_rule_id", J::Bool(true)),
                ("tags_all", J::Bool(true)),
            ]);
            (Some(after), unknown)
        }
        Kind::VpcEgress => (
            Some(jobj(vec![
                ("cidr_ipv4", js("0.0.0.0/0")),
                ("from_port", J::Null),
                ("ip_protocol", js("-1")),
                ("security_group_id", js("sg-0123456789abcdef0")),
                ("to_port", J::Null),
            ])),
            jobj(vec![("id", J::Bool(true))]),
        ),
        Kind::Vpc => (
            Some(jobj(vec![
                ("assign_generated_ipv6_cidr_block", J::Bool(false)),
                ("cidr_block", js("10.0.0.0/16")),
                ("tags", jobj(vec![("Name", js("東京"))])),
            ])),
            jobj(vec![
                ("arn", J::Bool(true)),
                ("id", J::Bool(true)),
                ("ipv6_cidr_block", J::Bool(true)),
            ]),
        ),
        Kind::Bucket => (
            Some(jobj(vec![
                ("bucket", js("logs-zoë")),
                (
                    "policy",
                    js(
                        r#"{"Statement":[{"Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}]}"#,
                    ),
                ),
                ("tags", J::Null),
            ])),
            jobj(vec![("id", J::Bool(true))]),
        ),
        Kind::NaclRule => (
            Some(jobj(vec![
                ("cidr_block", js("0.0.0.0/0")),
                ("egress", J::Bool(false)),
                ("from_port", jint(445)),
                ("network_acl_id", js("acl-0123456789abcdef0")),
                ("protocol", js("tcp")),
                ("rule_action", js("allow")),
                ("rule_number", jint(100)),
                ("to_port", jint(445)),
            ])),
            jobj(vec![("id", J::Bool(true))]),
        ),
    }
}

fn actions(r: &ModelResource) -> J {
    let words: &[&str] = match (r.kind, r.action) {
        (Kind::DataSg, _) => &["read"],
        (Kind::DeletedSg, _) => &["delete"],
        (_, ModelAction::Create) => &["create"],
        (_, ModelAction::Update) => &["update"],
        (_, ModelAction::NoOp) => &["no-op"],
        (_, ModelAction::DeleteCreate) => &["delete", "create"],
        (_, ModelAction::CreateDelete) => &["create", "delete"],
    };
    J::Arr(words.iter().map(|w| js(w)).collect())
}

fn change_entry(r: &ModelResource, shape: Shape) -> J {
    let mut pairs = vec![("address", js(&address(r)))];
    if let Some(m) = r.module {
        pairs.push(("module_address", js(MODULES[m].0)));
    }
    pairs.push((
        "mode",
        js(if r.kind == Kind::DataSg {
            "data"
        } else {
            "managed"
        }),
    ));
    pairs.push(("type", js(r.kind.type_name())));
    pairs.push(("name", js(&r.name)));
    match r.key {
        InstanceKey::Single => {}
        InstanceKey::Count(n) => pairs.push(("index", jint(n))),
        InstanceKey::Each(k) => pairs.push(("index", js(k))),
    }
    pairs.push(("provider_name", js(shape.provider())));
    let (after, unknown) = planned_state(r);
    let before = match (r.kind, r.action) {
        (Kind::DeletedSg, _) => sg_state(&r.name, &[world_rule()]).0,
        (Kind::DataSg, _) | (_, ModelAction::Create) => J::Null,
        _ => after.clone().unwrap_or(J::Null),
    };
    let mut change = vec![
        ("actions", actions(r)),
        ("before", before),
        ("after", after.unwrap_or(J::Null)),
        ("after_unknown", unknown),
    ];
    if shape.sensitive() {
        change.push(("before_sensitive", J::Bool(false)));
        change.push(("after_sensitive", jobj(vec![("tags", jobj(vec![]))])));
    }
    pairs.push(("change", jobj(change)));
    let replace = matches!(
        r.action,
        ModelAction::DeleteCreate | ModelAction::CreateDelete
    );
    if replace && shape >= Shape::Tf11 && !matches!(r.kind, Kind::DataSg | Kind::DeletedSg) {
        pairs.push(("action_reason", js("replace_because_cannot_update")));
    }
    jobj(pairs)
}

fn parent_module(m: usize) -> Option<usize> {
    let (parent, _) = MODULES[m].0.rsplit_once(".module.")?;
    MODULES.iter().position(|(a, _)| *a == parent)
}

/// `planned_values`: the managed resources that exist after apply, nested by module.
fn planned_values(model: &PlanModel, shape: Shape) -> J {
    fn module(model: &PlanModel, shape: Shape, at: Option<usize>) -> Vec<(&'static str, J)> {
        let resources: Vec<J> = model
            .resources
            .iter()
            .filter(|r| r.module == at && r.kind != Kind::DataSg)
            .filter_map(|r| {
                let values = planned_state(r).0?;
                let mut pairs = vec![
                    ("address", js(&address(r))),
                    ("mode", js("managed")),
                    ("type", js(r.kind.type_name())),
                    ("name", js(&r.name)),
                ];
                match r.key {
                    InstanceKey::Single => {}
                    InstanceKey::Count(n) => pairs.push(("index", jint(n))),
                    InstanceKey::Each(k) => pairs.push(("index", js(k))),
                }
                pairs.push(("provider_name", js(shape.provider())));
                pairs.push(("schema_version", jint(1)));
                pairs.push(("values", values));
                if shape.sensitive() {
                    pairs.push(("sensitive_values", jobj(vec![])));
                }
                Some(jobj(pairs))
            })
            .collect();
        let children: Vec<J> = (0..MODULES.len())
            .filter(|&m| parent_module(m) == at)
            .map(|m| {
                let mut pairs = module(model, shape, Some(m));
                pairs.push(("address", js(MODULES[m].0)));
                jobj(pairs)
            })
            .collect();
        let mut pairs = vec![("resources", J::Arr(resources))];
        if !children.is_empty() {
            pairs.push(("child_modules", J::Arr(children)));
        }
        pairs
    }
    jobj(vec![("root_module", jobj(module(model, shape, None)))])
}

/// The configuration of the module reached through `calls`: one block per resource (its
/// instances share it), and the module calls below it.
fn config_module(model: &PlanModel, shape: Shape, calls: &[&str]) -> J {
    let mut resources = Vec::new();
    let mut seen = BTreeSet::new();
    for r in &model.resources {
        let here = r.module.map_or(&[][..], |m| MODULES[m].1);
        if here != calls || r.kind == Kind::DeletedSg || !seen.insert(r.name.clone()) {
            continue;
        }
        let data = r.kind == Kind::DataSg;
        let mut expressions = vec![("name", jconst(js(&r.name)))];
        let rule = r.rules.first();
        match (r.kind, rule) {
            (Kind::Sg | Kind::DefaultSg, _) if shape.blocks_in_config() && !r.rules.is_empty() => {
                let blocks = r
                    .rules
                    .iter()
                    .map(|b| {
                        jobj(vec![
                            ("cidr_blocks", list_or_null(&b.v4)),
                            ("description", J::Null),
                            ("from_port", jport(b.from)),
                            ("ipv6_cidr_blocks", list_or_null(&b.v6)),
                            ("prefix_list_ids", J::Null),
                            ("protocol", js(&b.protocol)),
                            ("security_groups", J::Null),
                            ("self", J::Null),
                            ("to_port", jport(b.to)),
                        ])
                    })
                    .collect();
                expressions.push(("ingress", jconst(J::Arr(blocks))));
            }
            (Kind::SgRule | Kind::SgEgressRule, Some(rule)) => {
                let direction = if r.kind == Kind::SgRule {
                    "ingress"
                } else {
                    "egress"
                };
                expressions = vec![
                    ("type", jconst(js(direction))),
                    ("protocol", jconst(js(&rule.protocol))),
                    ("from_port", jconst(jport(rule.from))),
                    ("to_port", jconst(jport(rule.to))),
                    ("cidr_blocks", jconst(list_or_null(&rule.v4))),
                    ("ipv6_cidr_blocks", jconst(list_or_null(&rule.v6))),
                    (
                        "security_group_id",
                        jobj(vec![(
                            "references",
                            jstrs(&[
                                "aws_security_group.x.id".into(),
                                "aws_security_group.x".into(),
                            ]),
                        )]),
                    ),
                ];
            }
            (Kind::VpcIngress, Some(rule)) => {
                expressions = vec![
                    ("ip_protocol", jconst(js(&rule.protocol))),
                    ("from_port", jconst(jport(rule.from))),
                    ("to_port", jconst(jport(rule.to))),
                ];
                if let Some(c) = rule.v4.first() {
                    expressions.push(("cidr_ipv4", jconst(js(c))));
                }
                if let Some(c) = rule.v6.first() {
                    expressions.push(("cidr_ipv6", jconst(js(c))));
                }
            }
            _ => {}
        }
        let local = format!(
            "{}{}.{}",
            if data { "data." } else { "" },
            r.kind.type_name(),
            r.name
        );
        let mut pairs = vec![
            ("address", js(&local)),
            ("mode", js(if data { "data" } else { "managed" })),
            ("type", js(r.kind.type_name())),
            ("name", js(&r.name)),
            ("provider_config_key", js("aws")),
            ("expressions", jobj(expressions)),
            ("schema_version", jint(1)),
        ];
        match r.key {
            InstanceKey::Single => {}
            InstanceKey::Count(_) => pairs.push(("count_expression", jconst(jint(3)))),
            InstanceKey::Each(_) => pairs.push((
                "for_each_expression",
                jobj(vec![("references", jstrs(&["var.groups".into()]))]),
            )),
        }
        resources.push(jobj(pairs));
    }
    let mut calls_below: Vec<(String, J)> = Vec::new();
    let mut names = BTreeSet::new();
    for (_, path) in MODULES {
        if path.len() == calls.len() + 1
            && path.starts_with(calls)
            && names.insert(path[calls.len()])
        {
            let name = path[calls.len()];
            let mut call = vec![("source", js(&format!("./modules/{name}")))];
            match name {
                "sg" => call.push((
                    "for_each_expression",
                    jobj(vec![("references", jstrs(&["var.groups".into()]))]),
                )),
                "app" => call.push(("count_expression", jconst(jint(2)))),
                _ => {}
            }
            call.push(("module", config_module(model, shape, path)));
            calls_below.push((name.to_string(), jobj(call)));
        }
    }
    let mut pairs = vec![("resources", J::Arr(resources))];
    if !calls_below.is_empty() {
        pairs.push(("module_calls", J::Obj(calls_below)));
    }
    jobj(pairs)
}

/// A whole plan document of `model` in `shape`.
fn plan_document(model: &PlanModel, shape: Shape) -> J {
    let world_sg = |name: &str| {
        jobj(vec![
            ("address", js(&format!("aws_security_group.{name}"))),
            ("mode", js("managed")),
            ("type", js("aws_security_group")),
            ("name", js(name)),
            ("provider_name", js(shape.provider())),
            ("schema_version", jint(1)),
            ("values", sg_state(name, &[world_rule()]).0),
        ])
    };
    let mut top = vec![("format_version", js(shape.format_version()))];
    if let Some(version) = shape.terraform_version() {
        top.push(("terraform_version", js(version)));
    }
    top.push((
        "variables",
        jobj(vec![(
            "allowed",
            jobj(vec![("value", jstrs(&["0.0.0.0/0".into()]))]),
        )]),
    ));
    top.push(("planned_values", planned_values(model, shape)));
    if shape >= Shape::Tf10x {
        // Drift is what changed outside Terraform: never a planned change.
        let (state, _) = sg_state("drifted", &[world_rule()]);
        top.push((
            "resource_drift",
            J::Arr(vec![jobj(vec![
                ("address", js("aws_security_group.drifted")),
                ("mode", js("managed")),
                ("type", js("aws_security_group")),
                ("name", js("drifted")),
                ("provider_name", js(shape.provider())),
                (
                    "change",
                    jobj(vec![
                        ("actions", J::Arr(vec![js("update")])),
                        ("before", state.clone()),
                        ("after", state),
                        ("before_sensitive", J::Bool(false)),
                        ("after_sensitive", jobj(vec![])),
                    ]),
                ),
            ])]),
        ));
    }
    top.push((
        "resource_changes",
        J::Arr(
            model
                .resources
                .iter()
                .map(|r| change_entry(r, shape))
                .collect(),
        ),
    ));
    top.push((
        "output_changes",
        jobj(vec![(
            "open",
            jobj(vec![
                ("actions", J::Arr(vec![js("create")])),
                ("before", J::Null),
                ("after", js("::/0")),
                ("after_unknown", J::Bool(false)),
            ]),
        )]),
    ));
    top.push((
        "prior_state",
        jobj(vec![
            ("format_version", js(shape.format_version())),
            (
                "values",
                jobj(vec![(
                    "root_module",
                    jobj(vec![("resources", J::Arr(vec![world_sg("old")]))]),
                )]),
            ),
        ]),
    ));
    let mut configuration = vec![(
        "provider_config",
        jobj(vec![(
            "aws",
            jobj(vec![
                ("name", js("aws")),
                (
                    "expressions",
                    jobj(vec![("region", jconst(js("eu-west-1")))]),
                ),
            ]),
        )]),
    )];
    configuration.push(("root_module", config_module(model, shape, &[])));
    top.push(("configuration", jobj(configuration)));
    if shape >= Shape::Tf13 {
        top.push((
            "relevant_attributes",
            J::Arr(vec![jobj(vec![
                ("resource", js("aws_vpc.main")),
                ("attribute", J::Arr(vec![js("cidr_block")])),
            ])]),
        ));
    }
    if shape >= Shape::Tf19 {
        top.push(("checks", J::Arr(vec![])));
        top.push(("timestamp", js("2024-09-12T10:15:42Z")));
        top.push(("applyable", J::Bool(true)));
        top.push(("complete", J::Bool(true)));
        top.push(("errored", J::Bool(false)));
    }
    if shape == Shape::Reversed {
        top.reverse();
    }
    jobj(top)
}

/// What a finding says about a rule, for comparison with the oracle.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    address: String,
    rule_id: String,
    kind: FindingKind,
    block: Option<String>,
    family: Option<Family>,
    resource_type: String,
    action: String,
    ports: BTreeSet<(String, u16)>,
    cidrs: Vec<String>,
    protocol: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
}

fn seen(f: &Finding) -> Seen {
    Seen {
        address: f.address.clone(),
        rule_id: f.rule_id.clone(),
        kind: f.kind,
        block: f.block.clone(),
        family: f.family,
        resource_type: f.resource_type.clone(),
        action: f.action.clone(),
        ports: expand_ports(&f.ports),
        cidrs: f.cidrs.clone(),
        protocol: f.protocol.clone(),
        from: f.from_port,
        to: f.to_port,
    }
}

/// The findings of a model: every ingress rule that exists after apply, whose CIDRs of one
/// family cover the world (interval union) and whose protocol and ports reach a policy port.
/// The CIDRs shown are the /0 entries of that family if there are any, else all of them.
fn oracle_findings(model: &PlanModel, policies: &PolicySet) -> Vec<Seen> {
    let mut out = Vec::new();
    for r in &model.resources {
        let rules: Vec<(Option<usize>, &ModelRule)> = match r.kind {
            Kind::Sg | Kind::DefaultSg => r
                .rules
                .iter()
                .enumerate()
                .map(|(i, b)| (Some(i), b))
                .collect(),
            Kind::SgRule | Kind::VpcIngress => vec![(None, &r.rules[0])],
            _ => vec![],
        };
        let action = match r.action {
            ModelAction::Create => "create",
            ModelAction::Update => "update",
            ModelAction::NoOp => "no-op",
            ModelAction::DeleteCreate | ModelAction::CreateDelete => "replace",
        };
        for (block, rule) in rules {
            let reach = oracle_protocol(Some(&rule.protocol));
            for policy in &policies.policies {
                let mut opened = BTreeSet::new();
                for spec in &policy.ports {
                    for port in u32::from(spec.range.from)..=u32::from(spec.range.to) {
                        if oracle_opens(reach, rule.from, rule.to, spec.protocol, port) {
                            opened.insert((spec.protocol.as_str().to_string(), port as u16));
                        }
                    }
                }
                if opened.is_empty() {
                    continue;
                }
                for (family, texts) in [(Family::Ipv4, &rule.v4), (Family::Ipv6, &rule.v6)] {
                    if !oracle_covers_world(texts, family) {
                        continue;
                    }
                    let zero: Vec<String> = texts
                        .iter()
                        .filter(|t| block_of(t).is_some_and(|b| b.3 == 0))
                        .cloned()
                        .collect();
                    out.push(Seen {
                        address: address(r),
                        rule_id: policy.meta.id.clone(),
                        kind: FindingKind::Exposed,
                        block: block.map(|i| format!("ingress[{i}]")),
                        family: Some(family),
                        resource_type: r.kind.type_name().to_string(),
                        action: action.to_string(),
                        ports: opened.clone(),
                        cidrs: if zero.is_empty() { texts.clone() } else { zero },
                        protocol: Some(rule.protocol.clone()),
                        from: rule.from,
                        to: rule.to,
                    });
                }
            }
        }
    }
    out.sort();
    out
}

type Variant = (Shape, Layout, Escapes, Encoding);

fn check_round_trip(model: &PlanModel, variants: &[Variant]) -> Result<Vec<Seen>, TestCaseError> {
    let policies = repo_policies();
    let expected = oracle_findings(model, policies);
    let scanned = model.resources.iter().filter(|r| r.kind.scanned()).count();
    let mut first: Option<(Variant, Vec<portgate::GatedFinding>)> = None;
    let mut plain: BTreeMap<Shape, serde_json::Value> = BTreeMap::new();
    for &variant in variants {
        let (shape, layout, escapes, encoding) = variant;
        let document = plan_document(model, shape);
        let text = write_json(&document, layout, escapes);
        // The writer itself: every layout and escape is the same JSON.
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            TestCaseError::fail(format!("{variant:?}: the test wrote bad JSON: {e}"))
        })?;
        let reference = plain.entry(shape).or_insert_with(|| {
            serde_json::from_str(&write_json(&document, Layout::Compact, Escapes::Raw)).unwrap()
        });
        prop_assert_eq!(
            &value,
            &*reference,
            "{:?}: the writer changed the JSON",
            variant
        );

        let bytes = encode(&text, encoding);
        let report = check(&bytes, "plan.json", policies, &CheckOptions::default())
            .map_err(|e| TestCaseError::fail(format!("{variant:?}: {e}")))?;
        prop_assert_eq!(
            report.plan.format_version.as_str(),
            shape.format_version(),
            "{:?}",
            variant
        );
        prop_assert_eq!(
            report.plan.terraform_version.as_deref(),
            shape.terraform_version()
        );
        prop_assert_eq!(report.resources_scanned, scanned, "{:?}", variant);
        let mut got: Vec<Seen> = report.findings.iter().map(|g| seen(&g.finding)).collect();
        got.sort();
        prop_assert_eq!(&got, &expected, "{:?}", variant);
        match &first {
            None => first = Some((variant, report.findings.clone())),
            Some((base, findings)) => prop_assert_eq!(
                &report.findings,
                findings,
                "{:?} and {:?} differ",
                variant,
                base
            ),
        }
    }
    Ok(expected)
}

fn variant() -> impl Strategy<Value = Variant> {
    (
        select(&SHAPES[..]),
        select(&LAYOUTS[..]),
        select(&ESCAPES[..]),
        select(&ENCODINGS[..]),
    )
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn every_shape_layout_and_encoding_of_a_plan_gives_the_oracle_findings(
        model in plan_model(),
        variants in prop::collection::vec(variant(), 6),
    ) {
        let mut all = vec![(Shape::Tf19, Layout::Compact, Escapes::Raw, Encoding::Utf8)];
        all.extend(variants);
        check_round_trip(&model, &all)?;
    }
}

/// One resource of every kind, in the root module and in child modules, with count and
/// for_each keys and every action: read in every shape × layout, and every escape × encoding.
#[test]
fn a_plan_of_every_resource_kind_reads_the_same_in_every_variant() {
    let rule = |protocol: &str, from: i64, to: i64, v4: &[&str], v6: &[&str]| ModelRule {
        protocol: protocol.into(),
        from: Some(from),
        to: Some(to),
        v4: v4.iter().map(|s| s.to_string()).collect(),
        v6: v6.iter().map(|s| s.to_string()).collect(),
    };
    let resource = |kind, module, key, action, rules: Vec<ModelRule>| ModelResource {
        kind,
        name: String::new(),
        module,
        key,
        action,
        rules,
    };
    let mut model = PlanModel {
        resources: vec![
            resource(
                Kind::Sg,
                None,
                InstanceKey::Single,
                ModelAction::Create,
                vec![
                    rule("tcp", 22, 22, &["0.0.0.0/0"], &[]),
                    rule(
                        "tcp",
                        0,
                        65535,
                        &["10.0.0.0/8", "0.0.0.0/1", "128.0.0.0/1"],
                        &["::/0"],
                    ),
                    rule("-1", 0, 0, &["1.2.3.4/0"], &[]),
                ],
            ),
            resource(
                Kind::DefaultSg,
                Some(0),
                InstanceKey::Single,
                ModelAction::Update,
                vec![rule("udp", 137, 138, &[], &["::/1", "8000::/1"])],
            ),
            resource(
                Kind::SgRule,
                Some(1),
                InstanceKey::Count(1),
                ModelAction::NoOp,
                vec![rule(
                    "6",
                    139,
                    139,
                    &["0.0.0.0/0", "10.0.0.0/8"],
                    &["2001:db8::/32"],
                )],
            ),
            resource(
                Kind::SgEgressRule,
                Some(2),
                InstanceKey::Single,
                ModelAction::Create,
                vec![rule("-1", 0, 0, &["0.0.0.0/0"], &["::/0"])],
            ),
            resource(
                Kind::VpcIngress,
                Some(5),
                InstanceKey::Each("a.b"),
                ModelAction::DeleteCreate,
                vec![rule("17", 445, 445, &[], &["2001:DB8::5/0"])],
            ),
            resource(
                Kind::VpcIngress,
                Some(3),
                InstanceKey::Each("Zoë"),
                ModelAction::CreateDelete,
                vec![rule("tcp", 443, 22, &["0.0.0.0/0"], &[])],
            ),
            resource(
                Kind::Vpc,
                None,
                InstanceKey::Single,
                ModelAction::Create,
                vec![],
            ),
            resource(
                Kind::Bucket,
                Some(4),
                InstanceKey::Single,
                ModelAction::Create,
                vec![],
            ),
            resource(
                Kind::DataSg,
                Some(0),
                InstanceKey::Single,
                ModelAction::Create,
                vec![],
            ),
            resource(
                Kind::DeletedSg,
                None,
                InstanceKey::Count(0),
                ModelAction::Create,
                vec![],
            ),
            resource(
                Kind::VpcEgress,
                None,
                InstanceKey::Single,
                ModelAction::Create,
                vec![],
            ),
            resource(
                Kind::NaclRule,
                Some(5),
                InstanceKey::Single,
                ModelAction::Create,
                vec![],
            ),
        ],
    };
    for (i, r) in model.resources.iter_mut().enumerate() {
        r.name = format!("r{i}");
    }
    let mut variants = Vec::new();
    for shape in SHAPES {
        for layout in LAYOUTS {
            variants.push((shape, layout, Escapes::Raw, Encoding::Utf8));
        }
        for encoding in ENCODINGS {
            variants.push((shape, Layout::Compact, Escapes::Go, encoding));
        }
    }
    for escapes in ESCAPES {
        for encoding in ENCODINGS {
            variants.push((Shape::Tf19, Layout::Crlf, escapes, encoding));
        }
    }
    let expected = check_round_trip(&model, &variants).unwrap_or_else(|e| panic!("{e}"));
    let described: BTreeSet<(String, String, Option<Family>)> = expected
        .iter()
        .map(|s| (s.address.clone(), s.rule_id.clone(), s.family))
        .collect();
    assert_eq!(
        described,
        [
            ("aws_security_group.r0", "PG001", Family::Ipv4),
            ("aws_security_group.r0", "PG001", Family::Ipv6),
            ("aws_security_group.r0", "PG002", Family::Ipv4),
            ("aws_security_group.r0", "PG002", Family::Ipv6),
            (
                "module.app[1].module.inner.aws_vpc_security_group_ingress_rule.r4[\"a.b\"]",
                "PG002",
                Family::Ipv6
            ),
            (
                "module.net.aws_default_security_group.r1",
                "PG001",
                Family::Ipv6
            ),
            (
                "module.sg[\"prod\"].aws_security_group_rule.r2[1]",
                "PG001",
                Family::Ipv4
            ),
        ]
        .into_iter()
        .map(|(a, r, f)| (a.to_string(), r.to_string(), Some(f)))
        .collect(),
        "the oracle's own answer for this plan, worked out by hand"
    );
}

/// The real plans, decoded here, re-written in other layouts, escapes and encodings: the same
/// findings as the files as they are.
#[test]
fn real_plans_read_the_same_in_every_encoding() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/real");
    if !real.is_dir() {
        eprintln!(
            "notice: {} not found; real plans are not re-encoded",
            real.display()
        );
        return;
    }
    let policies = repo_policies();
    // The plans are in one directory per upstream repository; the top level holds metadata.
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&real).unwrap() {
        let dir = entry.unwrap().path();
        if dir.is_dir() {
            for file in std::fs::read_dir(&dir).unwrap() {
                let path = file.unwrap().path();
                if path.extension().is_some_and(|e| e == "json") {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    assert!(files.len() >= 40, "found {} real plans", files.len());
    let variants = [
        (Layout::Compact, Escapes::Raw, Encoding::Utf8Bom),
        (Layout::Crlf, Escapes::Go, Encoding::Utf16LeBom),
        (Layout::Indented, Escapes::Ascii, Encoding::Utf16Be),
        (Layout::Loose, Escapes::Everything, Encoding::Utf16BeBom),
    ];
    // Two variants per file, in turn, so each variant meets about half the files (the whole
    // product is slow in debug builds); every escape of every character only on small files.
    for (i, path) in files.into_iter().enumerate() {
        let bytes = std::fs::read(&path).unwrap();
        let text = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
            let units: Vec<u16> = rest
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).unwrap()
        } else {
            String::from_utf8(
                bytes
                    .strip_prefix(&[0xEF, 0xBB, 0xBF])
                    .unwrap_or(&bytes)
                    .to_vec(),
            )
            .unwrap()
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let original = check(&bytes, "plan.json", policies, &CheckOptions::default());
        let document = from_serde(&value);
        for (layout, escapes, encoding) in [variants[i % 4], variants[(i + 1) % 4]] {
            let escapes = if escapes == Escapes::Everything && bytes.len() > 150_000 {
                Escapes::Ascii
            } else {
                escapes
            };
            let rewritten = encode(&write_json(&document, layout, escapes), encoding);
            let again = check(&rewritten, "plan.json", policies, &CheckOptions::default());
            match (&original, &again) {
                (Ok(a), Ok(b)) => assert_eq!(
                    a.findings,
                    b.findings,
                    "{} as {layout:?} {escapes:?} {encoding:?}",
                    path.display()
                ),
                (Err(_), Err(_)) => {}
                _ => panic!(
                    "{} as {layout:?} {escapes:?} {encoding:?}: {:?} vs {:?}",
                    path.display(),
                    original
                        .as_ref()
                        .map(|r| r.findings.len())
                        .map_err(ToString::to_string),
                    again
                        .as_ref()
                        .map(|r| r.findings.len())
                        .map_err(ToString::to_string)
                ),
            }
        }
    }
}

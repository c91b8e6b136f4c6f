//! The security-group resources of a plan: rule templates that must or must not be reported
//! ([`violation`], [`near_miss`]) and the kinds that carry them, one [`Kind`] each:
//! `aws_security_group` with inline rules, `aws_default_security_group`,
//! `aws_security_group_rule`, `aws_vpc_security_group_ingress_rule` / `_egress_rule` and
//! `data "aws_security_group"`. A template says which rules a resource holds and which rule ids
//! portgate must report on it; the kind says how those rules are written as arguments and
//! planned as attributes (a list per family inline, one CIDR per VPC rule resource).

use serde_json::{Value, json};

use super::kinds::{Attrs, Expr, Kind, Scope, Site, constant};
use super::tools::{Rng, list, obj};
use super::words::{arn, tags};

/// One security group rule, as written and as planned.
#[derive(Debug, Clone)]
pub struct Rule {
    pub description: String,
    /// As the plan shows it (the provider normalizes `6` to `tcp`).
    pub protocol: &'static str,
    /// As written in the configuration.
    pub written_protocol: &'static str,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub v4: Vec<String>,
    pub v6: Vec<String>,
    /// Security group ids (`security_groups`, `source_security_group_id`,
    /// `referenced_security_group_id`).
    pub groups: Vec<String>,
    pub self_: bool,
    pub prefix_lists: Vec<String>,
    /// Write the CIDR lists one element per line, with a comment.
    pub multiline: bool,
}

fn rule(description: &str, protocol: &'static str, from: i64, to: i64) -> Rule {
    Rule {
        description: description.to_string(),
        protocol,
        written_protocol: protocol,
        from: Some(from),
        to: Some(to),
        v4: Vec::new(),
        v6: Vec::new(),
        groups: Vec::new(),
        self_: false,
        prefix_lists: Vec::new(),
        multiline: false,
    }
}

impl Rule {
    fn v4(mut self, cidrs: &[&str]) -> Rule {
        self.v4 = cidrs.iter().map(|s| s.to_string()).collect();
        self
    }

    fn v6(mut self, cidrs: &[&str]) -> Rule {
        self.v6 = cidrs.iter().map(|s| s.to_string()).collect();
        self
    }

    fn written(mut self, protocol: &'static str) -> Rule {
        self.written_protocol = protocol;
        self
    }

    fn multiline(mut self, yes: bool) -> Rule {
        self.multiline = yes;
        self
    }

    /// An inline `ingress`/`egress` element of `aws_security_group`.
    fn inline_value(&self) -> Value {
        obj(vec![
            ("cidr_blocks", list(&self.v4)),
            ("description", json!(self.description)),
            ("from_port", json!(self.from)),
            ("ipv6_cidr_blocks", list(&self.v6)),
            ("prefix_list_ids", list(&self.prefix_lists)),
            ("protocol", json!(self.protocol)),
            ("security_groups", list(&self.groups)),
            ("self", json!(self.self_)),
            ("to_port", json!(self.to)),
        ])
    }

    /// The same element in the configuration summary (what was written; null when absent).
    fn inline_config(&self) -> Value {
        let opt = |items: &[String]| {
            if items.is_empty() {
                Value::Null
            } else {
                list(items)
            }
        };
        obj(vec![
            ("cidr_blocks", opt(&self.v4)),
            ("description", json!(self.description)),
            ("from_port", json!(self.from)),
            ("ipv6_cidr_blocks", opt(&self.v6)),
            ("prefix_list_ids", opt(&self.prefix_lists)),
            ("protocol", json!(self.written_protocol)),
            ("security_groups", opt(&self.groups)),
            ("self", if self.self_ { json!(true) } else { Value::Null }),
            ("to_port", json!(self.to)),
        ])
    }
}

/// A planted security-group resource block.
#[derive(Debug, Clone)]
pub struct SgShape {
    pub kind: &'static Kind,
    pub description: String,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
    /// A group whose rules come from rule resources: `ingress` is computed.
    pub rules_elsewhere: bool,
    /// The rule ids portgate must report on every instance.
    pub ids: &'static [&'static str],
    /// The group is being destroyed (no after state).
    pub deleted: bool,
}

impl SgShape {
    fn new(kind: &'static Kind, description: &str) -> SgShape {
        SgShape {
            kind,
            description: description.to_string(),
            ingress: Vec::new(),
            egress: Vec::new(),
            rules_elsewhere: false,
            ids: &[],
            deleted: false,
        }
    }

    fn ingress(mut self, rules: Vec<Rule>) -> SgShape {
        self.ingress = rules;
        self
    }

    fn egress(mut self, rules: Vec<Rule>) -> SgShape {
        self.egress = rules;
        self
    }

    fn ids(mut self, ids: &'static [&'static str]) -> SgShape {
        self.ids = ids;
        self
    }

    /// The one rule of a rule resource.
    pub fn single(&self) -> &Rule {
        self.ingress
            .first()
            .or(self.egress.first())
            .expect("a rule resource has one rule")
    }
}

const WORLD4: &str = "0.0.0.0/0";
const WORLD6: &str = "::/0";
const PG001: &[&str] = &["PG001"];
const PG002: &[&str] = &["PG002"];
const BOTH: &[&str] = &["PG001", "PG002"];

fn all_egress() -> Rule {
    rule("all outbound", "-1", 0, 0).v4(&[WORLD4]).v6(&[WORLD6])
}

/// Templates of resources portgate must report. Each keeps its rule ids whatever the
/// random choices.
pub fn violation(t: usize, r: &mut Rng) -> SgShape {
    let g = &GROUP;
    let ingress_rule = &INGRESS_RULE;
    let vpc = &VPC_INGRESS_RULE;
    match t % 16 {
        0 => {
            let smb = if r.chance(50) {
                rule("SMB for the branch offices", "tcp", 445, 445).v4(&[WORLD4])
            } else {
                rule("SMB", "tcp", 445, 445)
                    .v4(&["10.20.0.0/16", WORLD4])
                    .multiline(true)
            };
            SgShape::new(g, "File server")
                .ingress(vec![rule("HTTPS", "tcp", 443, 443).v4(&[WORLD4]), smb])
                .egress(vec![all_egress()])
                .ids(PG002)
        }
        1 => SgShape::new(g, "Legacy NetBIOS session service")
            .ingress(vec![
                rule("NetBIOS session", "tcp", 139, 139).v6(&[WORLD6]),
                rule("SSH from the VPN", "tcp", 22, 22).v4(&["10.0.0.0/8"]),
            ])
            .ids(PG001),
        2 => SgShape::new(g, "WINS and browsing")
            .ingress(vec![
                rule("NetBIOS name and datagram", "udp", 137, 138).v4(&[WORLD4]),
            ])
            .egress(vec![all_egress()])
            .ids(PG001),
        3 => {
            let all = rule("everything, temporarily", "-1", 0, 0).v4(&[WORLD4]);
            let all = if r.chance(50) { all.v6(&[WORLD6]) } else { all };
            SgShape::new(g, "Debug access - remove after incident")
                .ingress(vec![all])
                .egress(vec![all_egress()])
                .ids(BOTH)
        }
        4 => {
            let (from, to) = if r.chance(50) { (0, 65535) } else { (100, 500) };
            SgShape::new(g, "Application ports")
                .ingress(vec![
                    rule("app range", "tcp", from, to).v4(&[WORLD4]),
                    rule("health checks", "tcp", 8080, 8080).v4(&["10.0.0.0/8"]),
                ])
                .ids(BOTH)
        }
        5 => {
            let smb = if r.chance(60) {
                rule("SMB for partners", "tcp", 445, 445)
                    .v4(&["0.0.0.0/1", "128.0.0.0/1"])
                    .multiline(r.chance(50))
            } else {
                rule("SMB for partners", "tcp", 445, 445).v6(&["::/1", "8000::/1"])
            };
            SgShape::new(g, "Partner file exchange")
                .ingress(vec![smb])
                .ids(PG002)
        }
        6 => SgShape::new(ingress_rule, "")
            .ingress(vec![
                rule("SMB from anywhere", "tcp", 445, 445).v4(&[WORLD4]),
            ])
            .ids(PG002),
        7 => SgShape::new(ingress_rule, "")
            .ingress(vec![
                rule("all IPv6", "-1", 0, 0).v6(&[WORLD6]).written("all"),
            ])
            .ids(BOTH),
        8 => SgShape::new(ingress_rule, "")
            .ingress(vec![
                rule("NetBIOS for the lab", "udp", 137, 139).v4(&["0.0.0.0/1", "128.0.0.0/1"]),
            ])
            .ids(PG001),
        9 => SgShape::new(vpc, "")
            .ingress(vec![rule("NetBIOS session", "tcp", 139, 139).v4(&[WORLD4])])
            .ids(PG001),
        10 => {
            let mut all = rule("all traffic over IPv6", "-1", 0, 0).v6(&[WORLD6]);
            all.from = None;
            all.to = None;
            SgShape::new(vpc, "").ingress(vec![all]).ids(BOTH)
        }
        11 => SgShape::new(vpc, "")
            .ingress(vec![rule("legacy range", "tcp", 400, 500).v4(&[WORLD4])])
            .ids(PG002),
        12 => {
            let mut own = rule("", "-1", 0, 0);
            own.self_ = true;
            SgShape::new(&DEFAULT_GROUP, "default VPC security group")
                .ingress(vec![
                    own,
                    rule("CIFS over UDP", "udp", 445, 445).v4(&[WORLD4]),
                ])
                .egress(vec![all_egress()])
                .ids(PG002)
        }
        13 => SgShape::new(g, "Windows file and print")
            .ingress(vec![
                rule("NetBIOS session", "tcp", 139, 139).v4(&[WORLD4]),
                rule("SMB over IPv6", "tcp", 445, 445).v6(&[WORLD6]),
                rule("RDP from the bastion", "tcp", 3389, 3389).v4(&["10.0.12.0/24"]),
            ])
            .ids(BOTH),
        14 => SgShape::new(ingress_rule, "")
            .ingress(vec![
                rule("SMB by protocol number", "tcp", 445, 445)
                    .v4(&[WORLD4])
                    .written("6"),
            ])
            .ids(PG002),
        _ => SgShape::new(g, "CIFS")
            .ingress(vec![
                rule("CIFS by protocol number", "udp", 445, 445)
                    .v4(&["192.168.0.0/16", WORLD4])
                    .written("17")
                    .multiline(r.chance(50)),
            ])
            .ids(PG002),
    }
}

/// Templates portgate must not report: ordinary groups and near misses. Numbers 0-17 are the
/// sparse shape's; 18 (a group with five inline rules) and 19-20 (more rule resources) serve
/// the other shapes.
pub fn near_miss(t: usize, r: &mut Rng, format_1x: bool) -> SgShape {
    let g = &GROUP;
    let ingress_rule = &INGRESS_RULE;
    let vpc = &VPC_INGRESS_RULE;
    match t {
        18 => SgShape::new(g, "Application tier")
            .ingress(vec![
                rule("HTTPS", "tcp", 443, 443).v4(&[WORLD4]).v6(&[WORLD6]),
                rule("HTTP redirect", "tcp", 80, 80).v4(&[WORLD4]),
                rule("SSH from the office", "tcp", 22, 22).v4(&["203.0.113.0/24"]),
                rule("app from the VPC", "tcp", 8080, 8090).v4(&["10.0.0.0/16"]),
                rule("everything from the VPC", "-1", 0, 0).v4(&["10.0.0.0/16"]),
            ])
            .egress(vec![all_egress()]),
        19 => SgShape::new(vpc, "").ingress(vec![
            rule("PostgreSQL from the VPC", "tcp", 5432, 5432).v4(&["10.0.0.0/16"]),
        ]),
        20 => SgShape::new(ingress_rule, "").ingress(vec![
            rule("HTTPS", "tcp", 443, 443).v4(&[WORLD4]).v6(&[WORLD6]),
        ]),
        t => near_miss_sparse(t % 18, r, format_1x),
    }
}

fn near_miss_sparse(t: usize, r: &mut Rng, format_1x: bool) -> SgShape {
    let g = &GROUP;
    let ingress_rule = &INGRESS_RULE;
    let vpc = &VPC_INGRESS_RULE;
    match t {
        0 => SgShape::new(g, "Public web")
            .ingress(vec![
                rule("HTTPS", "tcp", 443, 443).v4(&[WORLD4]).v6(&[WORLD6]),
                rule("HTTP redirect", "tcp", 80, 80)
                    .v4(&[WORLD4])
                    .v6(&[WORLD6]),
                rule("SSH from the office", "tcp", 22, 22).v4(&["203.0.113.0/24"]),
            ])
            .egress(vec![all_egress()]),
        1 => SgShape::new(g, "File shares for the office").ingress(vec![
            rule("SMB", "tcp", 445, 445)
                .v4(&["10.0.0.0/8", "172.16.0.0/12"])
                .v6(&["fd00::/8"]),
            rule("NetBIOS", "tcp", 139, 139).v4(&["192.168.0.0/16"]),
        ]),
        2 => SgShape::new(g, "Backup agent")
            .ingress(vec![rule("agent", "tcp", 22, 22).v4(&["10.0.0.0/8"])])
            .egress(vec![
                rule("SMB to anywhere", "tcp", 445, 445).v4(&[WORLD4]),
                all_egress(),
            ]),
        3 => SgShape::new(&EGRESS_RULE, "").egress(vec![all_egress()]),
        4 => {
            let mut s = SgShape::new(g, "Decommissioned file server").ingress(vec![
                rule("SMB", "tcp", 445, 445).v4(&[WORLD4]),
                rule("NetBIOS", "udp", 137, 138).v4(&[WORLD4]),
            ]);
            s.deleted = true;
            s
        }
        5 => {
            let mut smb = rule("SMB from the app tier", "tcp", 445, 445);
            smb.groups = vec![format!("sg-0{}", r.hex(16))];
            SgShape::new(ingress_rule, "").ingress(vec![smb])
        }
        6 => SgShape::new(g, "Ping").ingress(vec![
            rule("echo", "icmp", 8, 0).v4(&[WORLD4]),
            rule("all ICMP", "icmp", -1, -1).v4(&[WORLD4]),
            rule("ICMPv6", "58", -1, -1).v6(&[WORLD6]),
        ]),
        7 => SgShape::new(g, "Half the internet").ingress(vec![
            rule("SMB", "tcp", 445, 445).v4(&["0.0.0.0/1", "128.0.0.0/2"]),
        ]),
        8 => SgShape::new(vpc, "").ingress(vec![rule("SMB", "tcp", 445, 445).v4(&["128.0.0.0/1"])]),
        9 => SgShape::new(g, "Next to the guarded ports").ingress(vec![
            rule("below 445", "tcp", 140, 444).v4(&[WORLD4]),
            rule("above 445", "tcp", 446, 1024)
                .v4(&[WORLD4])
                .v6(&[WORLD6]),
            rule("below 137", "udp", 136, 136).v4(&[WORLD4]),
            rule("between", "udp", 140, 400).v4(&[WORLD4]),
        ]),
        10 => SgShape::new(&VPC_EGRESS_RULE, "").egress(vec![{
            let mut all = rule("all outbound", "-1", 0, 0).v4(&[WORLD4]);
            all.from = None;
            all.to = None;
            all
        }]),
        11 => {
            let mut own = rule("SMB between members", "tcp", 445, 445);
            own.self_ = true;
            let mut listed = rule("NetBIOS from the print servers", "tcp", 139, 139);
            listed.prefix_lists = vec![format!("pl-0{}", r.hex(8))];
            let mut grouped = rule("SMB from the app tier", "tcp", 445, 445);
            grouped.groups = vec![format!("sg-0{}", r.hex(16))];
            SgShape::new(g, "Cluster members").ingress(vec![own, listed, grouped])
        }
        12 => {
            let mut s = SgShape::new(g, "Rules managed separately");
            s.rules_elsewhere = format_1x;
            s
        }
        13 => SgShape::new(&DATA_GROUP, ""),
        14 => SgShape::new(ingress_rule, "").ingress(vec![
            rule("SMB from the VPN", "tcp", 445, 445).v4(&["10.8.0.0/16"]),
        ]),
        15 => SgShape::new(vpc, "").ingress(vec![rule("HTTPS", "tcp", 443, 443).v4(&[WORLD4])]),
        16 => SgShape::new(ingress_rule, "").ingress(vec![
            rule("SSH from the office", "tcp", 22, 22).v4(&["203.0.113.0/24"]),
        ]),
        _ => SgShape::new(g, "Internal services")
            .ingress(vec![
                rule("gRPC", "tcp", 50051, 50051).v4(&["10.0.0.0/8"]),
                rule("metrics", "tcp", 9090, 9100).v4(&["10.0.0.0/8"]),
            ])
            .egress(vec![all_egress()]),
    }
}

// ---- the kinds ---------------------------------------------------------------------------------

pub const GROUP: Kind = Kind {
    resource_type: "aws_security_group",
    data: false,
    schema_version: 1,
    arguments: group_arguments,
    state: group_state,
    unknown_on_create: &["name_prefix", "arn", "id", "owner_id", "tags_all"],
    inline_rules: true,
};

pub const DEFAULT_GROUP: Kind = Kind {
    resource_type: "aws_default_security_group",
    data: false,
    schema_version: 1,
    arguments: default_group_arguments,
    state: default_group_state,
    unknown_on_create: &["arn", "id", "owner_id", "tags_all"],
    inline_rules: true,
};

pub const DATA_GROUP: Kind = Kind {
    resource_type: "aws_security_group",
    data: true,
    schema_version: 0,
    arguments: data_group_arguments,
    state: data_group_state,
    unknown_on_create: &["arn", "description", "id", "tags"],
    inline_rules: false,
};

/// `aws_security_group_rule` with `type = "ingress"`.
pub const INGRESS_RULE: Kind = Kind {
    resource_type: "aws_security_group_rule",
    data: false,
    schema_version: 2,
    arguments: |scope, _| rule_arguments(scope, "ingress"),
    state: |a, r, site| rule_state(a, r, site, "ingress"),
    unknown_on_create: &["id", "security_group_rule_id"],
    inline_rules: false,
};

/// `aws_security_group_rule` with `type = "egress"`.
pub const EGRESS_RULE: Kind = Kind {
    arguments: |scope, _| rule_arguments(scope, "egress"),
    state: |a, r, site| rule_state(a, r, site, "egress"),
    ..INGRESS_RULE
};

pub const VPC_INGRESS_RULE: Kind = Kind {
    resource_type: "aws_vpc_security_group_ingress_rule",
    data: false,
    schema_version: 0,
    arguments: vpc_rule_arguments,
    state: vpc_rule_state,
    unknown_on_create: &["arn", "id", "security_group_rule_id", "tags_all"],
    inline_rules: false,
};

pub const VPC_EGRESS_RULE: Kind = Kind {
    resource_type: "aws_vpc_security_group_egress_rule",
    ..VPC_INGRESS_RULE
};

/// What a group, the default group and a group read as data share; returns the group's tags.
fn group_base(a: &mut Attrs, r: &mut Rng, site: &Site) -> Value {
    let (ctx, shape) = (&site.ctx, site.rules());
    let id = format!("sg-0{}", r.hex(16));
    let t = tags(r, ctx, 1);
    a.set(
        "arn",
        json!(arn(ctx, "ec2", &format!("security-group/{id}"))),
    );
    a.set(
        "description",
        json!(if shape.description.is_empty() {
            "Managed by Terraform"
        } else {
            &shape.description
        }),
    );
    a.set("id", json!(id));
    a.set("name", json!(site.name));
    a.set("tags", t.clone());
    a.set("vpc_id", json!(format!("vpc-0{}", r.hex(16))));
    t
}

/// The inline rules of a group or the default group, as the provider plans them.
fn inline_rules(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let (ctx, shape) = (&site.ctx, site.rules());
    let inline = |rules: &[Rule]| Value::Array(rules.iter().map(Rule::inline_value).collect());
    let mut ingress = shape.ingress.clone();
    // The provider keeps the rules in a set: the plan's order is not the configuration's.
    if ingress.len() > 1 {
        let k = r.below(ingress.len());
        ingress.rotate_left(k);
    }
    a.set("egress", inline(&shape.egress));
    a.set("ingress", inline(&ingress));
    a.set("owner_id", json!(ctx.account));
    a.set("revoke_rules_on_delete", json!(false));
    if shape.egress.is_empty() {
        a.unknown_on_create(&["egress"]);
    }
    if shape.rules_elsewhere {
        a.unknown_on_create(&["ingress"]);
    }
}

fn group_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let t = group_base(a, r, site);
    inline_rules(a, r, site);
    a.set("tags_all", t);
    a.set("name_prefix", json!(""));
    a.set("timeouts", Value::Null);
}

fn default_group_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    // The default group is always called `default`, whatever the block's name.
    a.set("name", json!("default"));
    let t = group_base(a, r, site);
    inline_rules(a, r, site);
    a.set("tags_all", t);
}

fn data_group_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    group_base(a, r, site);
    a.set("filter", Value::Null);
    a.set("timeouts", Value::Null);
}

fn rule_state(a: &mut Attrs, r: &mut Rng, site: &Site, direction: &str) {
    let rule = site.rules().single();
    let opt = |items: &[String]| {
        if items.is_empty() {
            Value::Null
        } else {
            list(items)
        }
    };
    a.set("cidr_blocks", opt(&rule.v4));
    a.set("description", json!(rule.description));
    a.set("from_port", json!(rule.from));
    a.set("id", json!(format!("sgrule-{}", r.digits(10))));
    a.set("ipv6_cidr_blocks", opt(&rule.v6));
    a.set("prefix_list_ids", opt(&rule.prefix_lists));
    a.set("protocol", json!(rule.protocol));
    a.set("security_group_id", json!(site.group_id));
    a.set(
        "security_group_rule_id",
        json!(format!("sgr-0{}", r.hex(16))),
    );
    a.set("self", json!(rule.self_));
    a.set(
        "source_security_group_id",
        match rule.groups.first() {
            Some(g) => json!(g),
            None => Value::Null,
        },
    );
    a.set("timeouts", Value::Null);
    a.set("to_port", json!(rule.to));
    a.set("type", json!(direction));
    if rule.groups.is_empty() {
        a.unknown_on_create(&["source_security_group_id"]);
    }
}

fn vpc_rule_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let rule = site.rules().single();
    let id = format!("sgr-0{}", r.hex(16));
    let t = tags(r, ctx, 0);
    let first = |items: &[String]| match items.first() {
        Some(s) => json!(s),
        None => Value::Null,
    };
    a.set(
        "arn",
        json!(arn(ctx, "ec2", &format!("security-group-rule/{id}"))),
    );
    a.set("cidr_ipv4", first(&rule.v4));
    a.set("cidr_ipv6", first(&rule.v6));
    a.set("description", json!(rule.description));
    a.set("from_port", json!(rule.from));
    a.set("id", json!(id.clone()));
    a.set("ip_protocol", json!(rule.protocol));
    a.set("prefix_list_id", first(&rule.prefix_lists));
    a.set("referenced_security_group_id", first(&rule.groups));
    a.set("security_group_id", json!(site.group_id));
    a.set("security_group_rule_id", json!(id));
    a.set("tags", t.clone());
    a.set("tags_all", t);
    a.set("to_port", json!(rule.to));
}

fn group_arguments(scope: &Scope, _: &mut Rng) -> Vec<(&'static str, Expr)> {
    let mut args = vec![
        ("name", scope.name.clone()),
        ("description", constant(json!(scope.rules().description))),
    ];
    args.extend(inline_arguments(scope));
    args
}

fn default_group_arguments(scope: &Scope, _: &mut Rng) -> Vec<(&'static str, Expr)> {
    inline_arguments(scope)
}

/// The arguments of a group or the default group after its name: its VPC, its inline rules
/// (as Terraform 1.1+ summarizes blocks) and its tags.
fn inline_arguments(scope: &Scope) -> Vec<(&'static str, Expr)> {
    let shape = scope.rules();
    let mut args = vec![("vpc_id", scope.vpc())];
    if scope.format_1x {
        // Terraform 1.1+ summarizes attributes written as blocks (`ingress {}`).
        for (key, rules) in [("ingress", &shape.ingress), ("egress", &shape.egress)] {
            if !rules.is_empty() {
                let items = rules.iter().map(Rule::inline_config).collect();
                args.push((key, constant(Value::Array(items))));
            }
        }
    }
    args.push(("tags", scope.tags()));
    args
}

fn data_group_arguments(scope: &Scope, _: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![("name", scope.name.clone()), ("vpc_id", scope.vpc())]
}

fn rule_arguments(scope: &Scope, direction: &str) -> Vec<(&'static str, Expr)> {
    let rule = scope.rules().single();
    let mut args = vec![
        ("type", constant(json!(direction))),
        ("description", constant(json!(rule.description))),
        ("from_port", constant(json!(rule.from))),
        ("to_port", constant(json!(rule.to))),
        ("protocol", constant(json!(rule.written_protocol))),
    ];
    if !rule.v4.is_empty() {
        args.push(("cidr_blocks", constant(list(&rule.v4))));
    }
    if !rule.v6.is_empty() {
        args.push(("ipv6_cidr_blocks", constant(list(&rule.v6))));
    }
    if let Some(g) = rule.groups.first() {
        args.push(("source_security_group_id", constant(json!(g))));
    }
    args.push(("security_group_id", scope.group()));
    args
}

fn vpc_rule_arguments(scope: &Scope, _: &mut Rng) -> Vec<(&'static str, Expr)> {
    let rule = scope.rules().single();
    let mut args = vec![
        ("security_group_id", scope.group()),
        ("description", constant(json!(rule.description))),
        ("ip_protocol", constant(json!(rule.written_protocol))),
    ];
    if let (Some(from), Some(to)) = (rule.from, rule.to) {
        args.push(("from_port", constant(json!(from))));
        args.push(("to_port", constant(json!(to))));
    }
    if let Some(v4) = rule.v4.first() {
        args.push(("cidr_ipv4", constant(json!(v4))));
    }
    if let Some(v6) = rule.v6.first() {
        args.push(("cidr_ipv6", constant(json!(v6))));
    }
    args.push(("tags", scope.tags()));
    args
}

//! Generates large, realistic `terraform show -json` plans with a known set of violations.
//!
//! ```text
//! gen_plan --resources N [--security-groups M] [--seed S] [--format-version 1.2]
//!          [--shape sparse|dense|rules] [--pretty] [--out FILE] [--expect FILE] [--source-dir DIR]
//! ```
//!
//! `--shape` chooses how common security groups are (the plans a scanner meets differ mostly in
//! that): `sparse` (the default, described below), `dense` (21% of the resources are security
//! groups with five inline rules or so: an application workspace that owns its networking) and
//! `rules` (every resource an ingress rule resource with a known `security_group_id`: a
//! networking workspace). `--pretty` indents the JSON as `jq .` does, the way plans look after
//! passing through a script.
//!
//! The plan has `N` resource instances in `resource_changes`, `M` of them security-group
//! related (default `N/100`, at least 10): `aws_security_group` with inline rules,
//! `aws_default_security_group`, `aws_security_group_rule` (ingress and egress),
//! `aws_vpc_security_group_ingress_rule` / `_egress_rule` and a few `data.aws_security_group`
//! reads. The rest are common AWS resources with long attribute values (IAM policy documents,
//! ECS container definitions, Lambda environments, tags), spread over nested module instances
//! (`count` and `for_each`), with every action Terraform writes (create, update, no-op, delete,
//! both replace orders, read) and the values a real plan leaves unknown until apply.
//!
//! Every section a current Terraform writes is there, in its key order: `variables`,
//! `planned_values`, `resource_changes`, `output_changes`, `prior_state`, `configuration`,
//! `relevant_attributes`, `timestamp`, `applyable`, `complete`, `errored`; older
//! `--format-version`s (0.1 = Terraform 0.12, 0.2, 1.0, 1.1) leave out what those versions did
//! not write. The output is one compact line, about 3 KB per resource.
//!
//! The security-group resources are drawn from templates: violations that open NetBIOS
//! (PG001: TCP/UDP 137-139) or SMB (PG002: TCP/UDP 445) to `0.0.0.0/0`, `::/0` or CIDRs that
//! together cover them, and near misses that must not be reported (HTTPS from the world, SMB
//! from private networks, egress rules, deleted groups, security-group sources, ICMP, half the
//! world, ports next to the guarded ones). [`Expected`] lists, from the templates planted (not
//! from running portgate), which rule ids fire on which address; `--expect FILE` writes it as
//! JSON. Violating rules hold only known values.
//!
//! `--source-dir DIR` writes the plan's root module as Terraform: `main.tf` (providers,
//! variables, locals), `modules.tf` (the module calls) and every root-module block, the security
//! groups three to a file with other resources in between, the rest four to a file, with
//! comments and varied formatting. `portgate check PLAN --source DIR --format diff` patches
//! these files for every root-module violation; module sources are not written, so violations
//! inside modules get rendered suggestions.
//!
//! Everything is a function of the options: the same seed gives the same bytes. Only std and
//! serde_json are used.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::Path;

use serde_json::{Map, Value, json};

/// The plan format versions the generator writes, oldest first.
pub const FORMAT_VERSIONS: [&str; 5] = ["0.1", "0.2", "1.0", "1.1", "1.2"];

/// How common security groups are in the plan, and of which kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// 1% security-group related resources, of every kind, among common AWS resources.
    #[default]
    Sparse,
    /// 21% security groups (`aws_security_group` and the default group), most with five inline
    /// rules.
    Dense,
    /// Every resource an ingress rule resource (`aws_security_group_rule`,
    /// `aws_vpc_security_group_ingress_rule`) of a group outside the plan.
    Rules,
}

impl Shape {
    pub fn parse(text: &str) -> Result<Shape, String> {
        match text {
            "sparse" => Ok(Shape::Sparse),
            "dense" => Ok(Shape::Dense),
            "rules" => Ok(Shape::Rules),
            _ => Err(format!(
                "unsupported --shape {text:?}; one of sparse, dense, rules"
            )),
        }
    }

    /// Percent of the security-group related resources that are planted violations.
    fn violation_percent(self) -> usize {
        match self {
            Shape::Sparse => 15,
            Shape::Dense => 5,
            Shape::Rules => 2,
        }
    }

    /// The violation templates (numbers of [`violation`]) this shape draws from.
    fn violations(self) -> &'static [usize] {
        match self {
            Shape::Sparse => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
            Shape::Dense => &[0, 1, 2, 3, 4, 5, 12, 13, 15],
            Shape::Rules => &[6, 7, 8, 9, 10, 11, 14],
        }
    }

    /// The near-miss templates (numbers of [`near_miss`]) this shape draws from.
    fn near_misses(self) -> &'static [usize] {
        match self {
            Shape::Sparse => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
            Shape::Dense => &[18, 0, 18, 1, 18, 6, 18, 9, 18, 11, 18, 17],
            Shape::Rules => &[5, 8, 14, 15, 16, 19, 20],
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Resource instances in `resource_changes`.
    pub resources: usize,
    /// How many of them are security-group related; `None` for `resources / 100`, at least 10.
    pub security_groups: Option<usize>,
    pub seed: u64,
    /// One of [`FORMAT_VERSIONS`].
    pub format_version: String,
    pub shape: Shape,
    /// Indent the JSON as `jq .` does (else one compact line).
    pub pretty: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            resources: 1000,
            security_groups: None,
            seed: 1,
            format_version: "1.2".to_string(),
            shape: Shape::Sparse,
            pretty: false,
        }
    }
}

impl Options {
    /// The number of security-group related resource instances.
    pub fn security_group_count(&self) -> usize {
        let default = match self.shape {
            Shape::Sparse => (self.resources / 100).max(10),
            Shape::Dense => (self.resources * 21 / 100).max(10),
            Shape::Rules => self.resources,
        };
        self.security_groups.unwrap_or(default).min(self.resources)
    }

    fn validate(&self) -> Result<(), String> {
        if !FORMAT_VERSIONS.contains(&self.format_version.as_str()) {
            return Err(format!(
                "unsupported --format-version {:?}; one of {}",
                self.format_version,
                FORMAT_VERSIONS.join(", ")
            ));
        }
        Ok(())
    }
}

/// What portgate must report on a generated plan: derived from the planted templates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    pub resources: usize,
    pub security_groups: usize,
    /// Violating address → the rule ids that fire on it (sorted).
    pub violations: BTreeMap<String, Vec<String>>,
    /// The violating addresses in the root module: [`write_sources`] declares their blocks, so
    /// each gets a source patch.
    pub root_violations: BTreeSet<String>,
    /// Groups that declare no inline rules and are created: their `ingress` is unknown until
    /// apply, and only their sources can show that no `dynamic "ingress"` block fills it (the
    /// plan's configuration never records one). Without sources each is PG003; with
    /// [`write_sources`], the root module's are proven empty.
    pub unproven: BTreeSet<String>,
    /// Size of the plan written.
    pub bytes: u64,
}

impl Expected {
    /// The number of (address, rule id) pairs.
    pub fn finding_count(&self) -> usize {
        self.violations.values().map(Vec::len).sum()
    }

    /// Every (address, rule id) pair.
    pub fn pairs(&self) -> BTreeSet<(String, String)> {
        self.violations
            .iter()
            .flat_map(|(a, ids)| ids.iter().map(move |id| (a.clone(), id.clone())))
            .collect()
    }

    /// The `--expect` file: `{"resources": N, "security_groups": M, "violations": {ADDRESS:
    /// [RULE_ID, ...]}, "unproven": [ADDRESS, ...], "finding_count": K}`, one violation per
    /// line. Without the sources, each `unproven` group is also PG003.
    pub fn to_json(&self) -> String {
        let mut text = format!(
            "{{\n  \"resources\": {},\n  \"security_groups\": {},\n  \"violations\": {{",
            self.resources, self.security_groups
        );
        for (n, (address, ids)) in self.violations.iter().enumerate() {
            text.push_str(if n == 0 { "\n    " } else { ",\n    " });
            text.push_str(&Value::String(address.clone()).to_string());
            text.push_str(": ");
            text.push_str(&json!(ids).to_string());
        }
        if !self.violations.is_empty() {
            text.push_str("\n  ");
        }
        text.push_str("},\n  \"unproven\": ");
        text.push_str(&json!(self.unproven).to_string());
        text.push_str(&format!(
            ",\n  \"finding_count\": {}\n}}\n",
            self.finding_count()
        ));
        text
    }
}

/// What [`write_sources`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceSummary {
    /// `.tf` files written.
    pub files: usize,
    /// `resource` and `data` blocks written.
    pub blocks: usize,
}

/// Writes the plan JSON of `opts` to `out` and returns what portgate must find in it.
pub fn generate<W: Write>(opts: &Options, out: &mut W) -> io::Result<Expected> {
    opts.validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let layout = Layout::build(opts);
    let mut w = Counting {
        inner: io::BufWriter::with_capacity(1 << 20, out),
        bytes: 0,
    };
    if opts.pretty {
        let mut pretty = Indent::new(&mut w);
        layout.write_plan(&mut pretty)?;
        pretty.finish()?;
    } else {
        layout.write_plan(&mut w)?;
    }
    w.flush()?;
    let mut expected = layout.expected();
    expected.bytes = w.bytes;
    Ok(expected)
}

/// Writes the Terraform root module of the plan of `opts` into `dir` (created if needed).
pub fn write_sources(opts: &Options, dir: &Path) -> io::Result<SourceSummary> {
    opts.validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    Layout::build(opts).write_sources(dir)
}

// ---- the command line -----------------------------------------------------------------------

const USAGE: &str = "usage: gen_plan --resources N [--security-groups M] [--seed S] \
[--format-version 0.1|0.2|1.0|1.1|1.2] [--shape sparse|dense|rules] [--pretty] [--out FILE] \
[--expect FILE] [--source-dir DIR]";

struct Args {
    opts: Options,
    out: Option<String>,
    expect: Option<String>,
    source_dir: Option<String>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        opts: Options::default(),
        out: None,
        expect: None,
        source_dir: None,
    };
    let mut resources = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_string());
        }
        if flag == "--pretty" {
            parsed.opts.pretty = true;
            continue;
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        let number = |text: String| {
            text.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {text:?}"))
        };
        match flag.as_str() {
            "--resources" => resources = Some(number(value()?)? as usize),
            "--security-groups" => parsed.opts.security_groups = Some(number(value()?)? as usize),
            "--seed" => parsed.opts.seed = number(value()?)?,
            "--format-version" => parsed.opts.format_version = value()?,
            "--shape" => parsed.opts.shape = Shape::parse(&value()?)?,
            "--out" => parsed.out = Some(value()?),
            "--expect" => parsed.expect = Some(value()?),
            "--source-dir" => parsed.source_dir = Some(value()?),
            _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
        }
    }
    parsed.opts.resources = resources.ok_or_else(|| format!("--resources is required\n{USAGE}"))?;
    parsed.opts.validate()?;
    Ok(parsed)
}

fn run(args: Args) -> io::Result<()> {
    let started = std::time::Instant::now();
    let expected = match &args.out {
        Some(path) if path != "-" => generate(&args.opts, &mut std::fs::File::create(path)?)?,
        _ => generate(&args.opts, &mut io::stdout().lock())?,
    };
    let generated = started.elapsed();
    if let Some(path) = &args.expect {
        std::fs::write(path, expected.to_json())?;
    }
    let mut sources = String::new();
    if let Some(dir) = &args.source_dir {
        let summary = write_sources(&args.opts, Path::new(dir))?;
        sources = format!(
            "; {} blocks in {} .tf files under {dir}",
            summary.blocks, summary.files
        );
    }
    eprintln!(
        "gen_plan: {} resources ({} security-group related), {} violating addresses, {} findings \
         expected ({} in the root module); {:.1} MB in {:.2} s{sources}",
        expected.resources,
        expected.security_groups,
        expected.violations.len(),
        expected.finding_count(),
        expected.root_violations.len(),
        expected.bytes as f64 / 1e6,
        generated.as_secs_f64(),
    );
    Ok(())
}

fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("gen_plan: {message}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args) {
        eprintln!("gen_plan: {e}");
        std::process::exit(1);
    }
}

// ---- small tools ------------------------------------------------------------------------------

/// SplitMix64: small, fast and good enough for test data.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut r = Rng(seed ^ 0x5851_F42D_4C95_7F2D);
        r.next();
        r
    }

    /// An independent stream for item `n` of stream `self`.
    fn fork(&self, n: u64) -> Rng {
        Rng::new(self.0 ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Index drawn with the given weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut at = (self.next() % u64::from(total)) as u32;
        for (i, w) in weights.iter().enumerate() {
            if at < *w {
                return i;
            }
            at -= w;
        }
        weights.len() - 1
    }

    fn hex(&mut self, len: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        (0..len)
            .map(|_| DIGITS[(self.next() & 15) as usize] as char)
            .collect()
    }

    fn digits(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'0' + (self.next() % 10) as u8))
            .collect()
    }
}

/// Counts what goes through a writer.
/// Re-indents the compact JSON written through it as `jq .` does: two spaces per level, one
/// member or element per line, `": "` after keys, empty containers kept as `{}` and `[]`.
struct Indent<'w, W: Write> {
    inner: &'w mut W,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// An opening bracket whose line break waits for the next byte (none if it closes at once).
    open: bool,
    out: Vec<u8>,
}

impl<'w, W: Write> Indent<'w, W> {
    fn new(inner: &'w mut W) -> Self {
        Indent {
            inner,
            depth: 0,
            in_string: false,
            escaped: false,
            open: false,
            out: Vec::with_capacity(1 << 16),
        }
    }

    fn newline(&mut self) {
        self.out.push(b'\n');
        self.out.resize(self.out.len() + 2 * self.depth, b' ');
    }

    fn finish(mut self) -> io::Result<()> {
        self.out.push(b'\n');
        self.inner.write_all(&self.out)
    }
}

impl<W: Write> Write for Indent<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            if self.open {
                self.open = false;
                if matches!(b, b'}' | b']') {
                    self.depth -= 1;
                    self.out.push(b);
                    continue;
                }
                self.newline();
            }
            if self.in_string {
                self.out.push(b);
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    self.out.push(b);
                }
                b'{' | b'[' => {
                    self.out.push(b);
                    self.depth += 1;
                    self.open = true;
                }
                b'}' | b']' => {
                    self.depth -= 1;
                    self.newline();
                    self.out.push(b);
                }
                b',' => {
                    self.out.push(b);
                    self.newline();
                }
                b':' => self.out.extend_from_slice(b": "),
                _ => self.out.push(b),
            }
        }
        if self.out.len() >= 1 << 16 {
            self.inner.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.out)?;
        self.out.clear();
        self.inner.flush()
    }
}

struct Counting<W: Write> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn put(w: &mut impl Write, text: &str) -> io::Result<()> {
    w.write_all(text.as_bytes())
}

/// Writes any serializable value as compact JSON.
macro_rules! put_json {
    ($w:expr, $value:expr $(,)?) => {
        serde_json::to_writer(&mut *$w, $value).map_err(io::Error::from)
    };
}

/// `"key":` for a JSON object being written by hand.
fn put_key(w: &mut impl Write, key: &str) -> io::Result<()> {
    put_json!(w, key)?;
    put(w, ":")
}

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn list(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

// ---- words --------------------------------------------------------------------------------------

const ENVS: [&str; 5] = ["prod", "staging", "dev", "qa", "sandbox"];
const REGIONS: [&str; 4] = ["eu-west-1", "us-east-1", "eu-central-1", "ap-southeast-2"];
const ACCOUNTS: [&str; 3] = ["123456789012", "210987654321", "555566667777"];
const TEAMS: [&str; 8] = [
    "payments", "identity", "platform", "data-eng", "search", "growth", "billing", "sre",
];
const WORDS: [&str; 24] = [
    "web", "api", "worker", "batch", "etl", "ingest", "export", "report", "auth", "billing",
    "search", "cache", "queue", "audit", "media", "notify", "gateway", "ledger", "orders", "sync",
    "backup", "metrics", "profile", "catalog",
];
const TOP_MODULES: [&str; 24] = [
    "app",
    "network",
    "data",
    "platform",
    "edge",
    "batch",
    "shared",
    "monitoring",
    "security",
    "storage",
    "dns",
    "identity",
    "analytics",
    "payments",
    "search",
    "ml",
    "messaging",
    "backoffice",
    "legacy",
    "files",
    "reporting",
    "ingest",
    "gateway",
    "audit",
];
const CHILD_MODULES: [&str; 10] = [
    "sg", "vpc", "workers", "cache", "queue", "lambda", "bucket", "alarms", "iam", "records",
];
/// for_each keys, some with the dots and slashes real keys have.
const KEYS: [&str; 16] = [
    "prod",
    "staging",
    "eu",
    "us",
    "blue",
    "green",
    "primary",
    "secondary",
    "team-a",
    "team-b",
    "api.example.com",
    "files.corp.example",
    "eu-west-1a",
    "eu-west-1b",
    "team/data",
    "v2",
];
const INSTANCE_TYPES: [&str; 8] = [
    "t3.micro",
    "t3.medium",
    "m6i.large",
    "m6i.xlarge",
    "c6g.2xlarge",
    "r6i.large",
    "t4g.small",
    "m7g.medium",
];
const RUNTIMES: [&str; 5] = [
    "python3.12",
    "nodejs20.x",
    "java21",
    "provided.al2023",
    "python3.11",
];
const IAM_ACTIONS: [&str; 20] = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:DeleteObject",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParametersByPath",
    "ecr:BatchGetImage",
    "xray:PutTraceSegments",
];

/// The identity of one resource instance, for values that mention it.
struct Ctx {
    env: &'static str,
    region: &'static str,
    account: &'static str,
    team: &'static str,
    /// A name unique to the instance: `orders-worker-3-blue`.
    name: String,
}

fn tags(r: &mut Rng, ctx: &Ctx, extra: usize) -> Value {
    let mut m = Map::new();
    m.insert("Name".into(), Value::String(ctx.name.clone()));
    m.insert("Environment".into(), Value::String(ctx.env.into()));
    m.insert("Team".into(), Value::String(ctx.team.into()));
    m.insert("ManagedBy".into(), Value::String("terraform".into()));
    for i in 0..extra {
        m.insert(
            format!(
                "acme:{}",
                ["owner", "data-class", "backup", "review", "ticket"][i % 5]
            ),
            Value::String(
                [
                    format!("{}@acme-corp.example", ctx.team),
                    "internal".to_string(),
                    "daily-35d".to_string(),
                    format!("2025-{:02}-{:02}", r.range(1, 12), r.range(1, 28)),
                    format!("OPS-{}", r.digits(4)),
                ][i % 5]
                    .clone(),
            ),
        );
    }
    Value::Object(m)
}

fn arn(ctx: &Ctx, service: &str, rest: &str) -> String {
    format!("arn:aws:{service}:{}:{}:{rest}", ctx.region, ctx.account)
}

fn policy_document(r: &mut Rng, ctx: &Ctx, statements: usize) -> String {
    let statements: Vec<Value> = (0..statements)
        .map(|i| {
            let n = r.range(2, 6) as usize;
            let actions: BTreeSet<&str> = (0..n).map(|_| *r.pick(&IAM_ACTIONS)).collect();
            let resources: Vec<String> = (0..r.range(1, 4))
                .map(|_| match r.below(3) {
                    0 => format!(
                        "arn:aws:s3:::acme-{}-{}-{}/*",
                        ctx.env,
                        r.pick(&WORDS),
                        r.hex(6)
                    ),
                    1 => arn(
                        ctx,
                        "dynamodb",
                        &format!("table/{}-{}", ctx.env, r.pick(&WORDS)),
                    ),
                    _ => arn(
                        ctx,
                        "sqs",
                        &format!("{}-{}-events", ctx.env, r.pick(&WORDS)),
                    ),
                })
                .collect();
            let mut s = Map::new();
            s.insert("Sid".into(), Value::String(format!("Statement{i}")));
            s.insert("Effect".into(), Value::String("Allow".into()));
            s.insert("Action".into(), json!(actions));
            s.insert("Resource".into(), json!(resources));
            if r.chance(30) {
                s.insert(
                    "Condition".into(),
                    json!({"StringEquals": {"aws:PrincipalTag/team": ctx.team,
                        "aws:RequestedRegion": ctx.region}}),
                );
            }
            Value::Object(s)
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn assume_role_policy(service: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": service}}]})
    .to_string()
}

fn container_definitions(r: &mut Rng, ctx: &Ctx) -> String {
    let containers: Vec<Value> = (0..r.range(1, 2))
        .map(|i| {
            let env: Vec<Value> = (0..r.range(1, 3))
                .map(|j| {
                    json!({"name": format!("{}_{}", ["DB_HOST", "QUEUE_URL", "LOG_LEVEL",
                        "FEATURE_FLAGS", "OTEL_ENDPOINT", "CACHE_URL", "REGION", "BUCKET"][j as usize % 8], j),
                        "value": format!("{}-{}.{}.internal.acme-corp.example", ctx.name, r.hex(8), ctx.env)})
                })
                .collect();
            json!({
                "name": if i == 0 { ctx.name.clone() } else { "log-router".to_string() },
                "image": format!("{}.dkr.ecr.{}.amazonaws.com/{}:{}", ctx.account, ctx.region,
                    ctx.name, r.hex(12)),
                "cpu": 256, "memory": 512, "essential": i == 0,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "environment": env,
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": format!("/ecs/{}/{}", ctx.env, ctx.name),
                    "awslogs-region": ctx.region, "awslogs-stream-prefix": "ecs"}}
            })
        })
        .collect();
    Value::Array(containers).to_string()
}

// ---- non-security-group resources ---------------------------------------------------------------

/// A configuration expression: a literal, or an expression with references.
#[derive(Debug, Clone)]
enum Expr {
    Const(Value),
    /// HCL text and the references Terraform lists for it.
    Ref(String, Vec<String>),
}

impl Expr {
    fn config(&self) -> Value {
        match self {
            Expr::Const(v) => json!({"constant_value": v}),
            Expr::Ref(_, refs) => json!({"references": refs}),
        }
    }
}

fn reference(text: &str) -> Expr {
    // Terraform lists `a.b.c` and its prefixes that are themselves references.
    let parts: Vec<&str> = text.split('.').collect();
    let mut refs = vec![text.to_string()];
    if parts.len() > 2 && !matches!(parts[0], "var" | "local" | "each" | "count") {
        refs.push(parts[..2].join("."));
    }
    Expr::Ref(text.to_string(), refs)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Other {
    Instance,
    Bucket,
    IamPolicy,
    IamRole,
    Lambda,
    Subnet,
    Vpc,
    Record,
    LogGroup,
    TaskDefinition,
    NaclRule,
    Table,
    Queue,
    Attachment,
    RouteAssociation,
    PolicyDocument,
}

const OTHERS: [(Other, u32); 15] = [
    (Other::Instance, 10),
    (Other::Bucket, 10),
    (Other::IamPolicy, 10),
    (Other::IamRole, 10),
    (Other::Lambda, 9),
    (Other::Subnet, 8),
    (Other::Vpc, 2),
    (Other::Record, 15),
    (Other::LogGroup, 12),
    (Other::TaskDefinition, 4),
    (Other::NaclRule, 3),
    (Other::Table, 4),
    (Other::Queue, 6),
    (Other::Attachment, 14),
    (Other::RouteAssociation, 6),
];

impl Other {
    fn resource_type(self) -> &'static str {
        match self {
            Other::Instance => "aws_instance",
            Other::Bucket => "aws_s3_bucket",
            Other::IamPolicy => "aws_iam_policy",
            Other::IamRole => "aws_iam_role",
            Other::Lambda => "aws_lambda_function",
            Other::Subnet => "aws_subnet",
            Other::Vpc => "aws_vpc",
            Other::Record => "aws_route53_record",
            Other::LogGroup => "aws_cloudwatch_log_group",
            Other::TaskDefinition => "aws_ecs_task_definition",
            Other::NaclRule => "aws_network_acl_rule",
            Other::Table => "aws_dynamodb_table",
            Other::Queue => "aws_sqs_queue",
            Other::Attachment => "aws_iam_role_policy_attachment",
            Other::RouteAssociation => "aws_route_table_association",
            Other::PolicyDocument => "aws_iam_policy_document",
        }
    }

    fn schema_version(self) -> u32 {
        match self {
            Other::Instance | Other::Table => 1,
            _ => 0,
        }
    }

    /// The arguments of the block, as written (the same for every instance).
    fn arguments(self, r: &mut Rng, in_module: bool) -> Vec<(&'static str, Expr)> {
        let c = |v: Value| Expr::Const(v);
        let tags = if in_module {
            reference("var.tags")
        } else {
            reference("local.common_tags")
        };
        match self {
            Other::Instance => vec![
                ("ami", c(json!(format!("ami-0{}", r.hex(16))))),
                ("instance_type", c(json!(r.pick(&INSTANCE_TYPES)))),
                ("monitoring", c(json!(r.chance(50)))),
                ("subnet_id", reference("var.subnet_id")),
                ("tags", tags),
            ],
            Other::Bucket => vec![("force_destroy", c(json!(false))), ("tags", tags)],
            Other::IamPolicy => vec![
                ("path", c(json!("/service/"))),
                ("policy", reference("local.policy_documents")),
                ("tags", tags),
            ],
            Other::IamRole => vec![
                (
                    "assume_role_policy",
                    reference("local.assume_role_policies"),
                ),
                ("max_session_duration", c(json!(3600))),
                ("path", c(json!("/service-role/"))),
                ("tags", tags),
            ],
            Other::Lambda => vec![
                ("handler", c(json!("app.handler"))),
                ("memory_size", c(json!([128, 256, 512, 1024][r.below(4)]))),
                ("role", reference("aws_iam_role.lambda.arn")),
                ("runtime", c(json!(r.pick(&RUNTIMES)))),
                ("timeout", c(json!(r.range(3, 300)))),
                ("tags", tags),
            ],
            Other::Subnet => vec![
                ("map_public_ip_on_launch", c(json!(false))),
                ("vpc_id", reference("var.vpc_id")),
                ("tags", tags),
            ],
            Other::Vpc => vec![
                ("enable_dns_hostnames", c(json!(true))),
                ("enable_dns_support", c(json!(true))),
                ("tags", tags),
            ],
            Other::Record => vec![
                ("ttl", c(json!([60, 300, 3600][r.below(3)]))),
                ("type", c(json!(["A", "CNAME", "TXT"][r.below(3)]))),
                ("zone_id", reference("var.zone_id")),
            ],
            Other::LogGroup => vec![
                (
                    "retention_in_days",
                    c(json!([7, 14, 30, 90, 365][r.below(5)])),
                ),
                ("tags", tags),
            ],
            Other::TaskDefinition => vec![
                (
                    "container_definitions",
                    reference("local.container_definitions"),
                ),
                ("cpu", c(json!("512"))),
                ("memory", c(json!("1024"))),
                ("network_mode", c(json!("awsvpc"))),
                ("requires_compatibilities", c(json!(["FARGATE"]))),
            ],
            Other::NaclRule => vec![
                ("cidr_block", c(json!("0.0.0.0/0"))),
                ("egress", c(json!(false))),
                ("from_port", c(json!(445))),
                ("network_acl_id", reference("var.network_acl_id")),
                ("protocol", c(json!("tcp"))),
                ("rule_action", c(json!("deny"))),
                ("rule_number", c(json!(r.range(90, 120)))),
                ("to_port", c(json!(445))),
            ],
            Other::Table => vec![
                ("billing_mode", c(json!("PAY_PER_REQUEST"))),
                ("hash_key", c(json!("pk"))),
                ("range_key", c(json!("sk"))),
                ("tags", tags),
            ],
            Other::Queue => vec![
                ("message_retention_seconds", c(json!(1_209_600))),
                ("visibility_timeout_seconds", c(json!(r.range(30, 900)))),
                ("tags", tags),
            ],
            Other::Attachment => vec![
                ("policy_arn", reference("aws_iam_policy.service.arn")),
                ("role", reference("aws_iam_role.service.name")),
            ],
            Other::RouteAssociation => vec![
                ("route_table_id", reference("var.route_table_id")),
                ("subnet_id", reference("var.subnet_id")),
            ],
            Other::PolicyDocument => vec![],
        }
    }

    /// The full state of an instance, and which attributes are unknown until it is created.
    fn values(
        self,
        args: &[(&'static str, Expr)],
        r: &mut Rng,
        ctx: &Ctx,
    ) -> (Map<String, Value>, &'static [&'static str]) {
        let mut m = Map::new();
        for (k, e) in args {
            if let Expr::Const(v) = e {
                m.insert(k.to_string(), v.clone());
            }
        }
        macro_rules! set {
            ($k:expr, $v:expr $(,)?) => {
                m.entry($k.to_string()).or_insert($v)
            };
        }
        let extra = r.below(3);
        let t = tags(r, ctx, extra);
        let name = ctx.name.clone();
        let computed: &'static [&'static str] = match self {
            Other::Instance => {
                let id = format!("i-0{}", r.hex(16));
                let volume_size = [20, 50, 100][r.below(3)];
                set!("arn", json!(arn(ctx, "ec2", &format!("instance/{id}"))));
                set!("associate_public_ip_address", json!(false));
                set!(
                    "availability_zone",
                    json!(format!("{}{}", ctx.region, ["a", "b", "c"][r.below(3)]))
                );
                set!("cpu_core_count", json!(2));
                set!(
                    "credit_specification",
                    json!([{"cpu_credits": "unlimited"}])
                );
                set!("disable_api_termination", json!(ctx.env == "prod"));
                set!("ebs_block_device", json!([]));
                set!("ebs_optimized", json!(true));
                set!("hibernation", json!(false));
                set!("host_id", Value::Null);
                set!(
                    "iam_instance_profile",
                    json!(format!("{}-{}", ctx.env, name))
                );
                set!("id", json!(id));
                set!("instance_initiated_shutdown_behavior", json!("stop"));
                set!("instance_state", json!("running"));
                set!("ipv6_address_count", json!(0));
                set!("ipv6_addresses", json!([]));
                set!("key_name", json!(format!("{}-deploy", ctx.env)));
                set!(
                    "metadata_options",
                    json!([{"http_endpoint": "enabled", "http_protocol_ipv6": "disabled",
                        "http_put_response_hop_limit": 2, "http_tokens": "required",
                        "instance_metadata_tags": "disabled"}]),
                );
                set!(
                    "primary_network_interface_id",
                    json!(format!("eni-0{}", r.hex(16)))
                );
                set!(
                    "private_dns",
                    json!(format!(
                        "ip-10-{}-{}-{}.{}.compute.internal",
                        r.range(0, 255),
                        r.range(0, 255),
                        r.range(1, 254),
                        ctx.region
                    ))
                );
                set!(
                    "private_ip",
                    json!(format!(
                        "10.{}.{}.{}",
                        r.range(0, 255),
                        r.range(0, 255),
                        r.range(1, 254)
                    ))
                );
                set!("public_ip", json!(""));
                set!(
                    "root_block_device",
                    json!([{"delete_on_termination": true, "device_name": "/dev/xvda",
                        "encrypted": true, "iops": 3000,
                        "kms_key_id": arn(ctx, "kms", &format!("key/{}-{}-{}", r.hex(8), r.hex(4), r.hex(12))),
                        "tags": null, "throughput": 125, "volume_id": format!("vol-0{}", r.hex(16)),
                        "volume_size": volume_size, "volume_type": "gp3"}]),
                );
                set!("source_dest_check", json!(true));
                set!("subnet_id", json!(format!("subnet-0{}", r.hex(16))));
                set!("tags", t.clone());
                set!("tags_all", t);
                set!("tenancy", json!("default"));
                set!("user_data", json!(r.hex(40)));
                set!(
                    "vpc_security_group_ids",
                    json!([format!("sg-0{}", r.hex(16)), format!("sg-0{}", r.hex(16))]),
                );
                &[
                    "arn",
                    "id",
                    "instance_state",
                    "ipv6_addresses",
                    "primary_network_interface_id",
                    "private_dns",
                    "private_ip",
                    "public_ip",
                    "tags_all",
                    "host_id",
                    "cpu_core_count",
                ]
            }
            Other::Bucket => {
                let bucket = format!("acme-{}-{}-{}", ctx.env, name, r.hex(6));
                set!("acceleration_status", json!(""));
                set!("arn", json!(format!("arn:aws:s3:::{bucket}")));
                set!("bucket", json!(bucket.clone()));
                set!(
                    "bucket_domain_name",
                    json!(format!("{bucket}.s3.amazonaws.com"))
                );
                set!("bucket_prefix", json!(""));
                set!(
                    "bucket_regional_domain_name",
                    json!(format!("{bucket}.s3.{}.amazonaws.com", ctx.region)),
                );
                set!("hosted_zone_id", json!("Z1BKCTXD74EZPE"));
                set!("id", json!(bucket));
                set!("object_lock_enabled", json!(false));
                set!("region", json!(ctx.region));
                set!("request_payer", json!("BucketOwner"));
                set!("tags", t.clone());
                set!("tags_all", t);
                &[
                    "acceleration_status",
                    "arn",
                    "bucket_domain_name",
                    "bucket_regional_domain_name",
                    "hosted_zone_id",
                    "id",
                    "region",
                    "request_payer",
                    "tags_all",
                ]
            }
            Other::IamPolicy => {
                let n = r.range(1, 3) as usize;
                set!(
                    "arn",
                    json!(format!(
                        "arn:aws:iam::{}:policy/service/{name}",
                        ctx.account
                    ))
                );
                set!(
                    "description",
                    json!(format!(
                        "Least-privilege access for {name} in {} (owned by {}; reviewed quarterly)",
                        ctx.env, ctx.team
                    )),
                );
                set!(
                    "id",
                    json!(format!(
                        "arn:aws:iam::{}:policy/service/{name}",
                        ctx.account
                    ))
                );
                set!("name", json!(name));
                set!("policy", json!(policy_document(r, ctx, n)));
                set!(
                    "policy_id",
                    json!(format!("ANPA{}", r.hex(16).to_uppercase()))
                );
                set!("tags", t.clone());
                set!("tags_all", t);
                &["arn", "id", "policy_id", "tags_all"]
            }
            Other::IamRole => {
                set!(
                    "arn",
                    json!(format!(
                        "arn:aws:iam::{}:role/service-role/{name}",
                        ctx.account
                    ))
                );
                set!(
                    "assume_role_policy",
                    json!(assume_role_policy(
                        [
                            "lambda.amazonaws.com",
                            "ecs-tasks.amazonaws.com",
                            "ec2.amazonaws.com"
                        ][r.below(3)]
                    )),
                );
                set!(
                    "create_date",
                    json!(format!(
                        "2024-{:02}-{:02}T09:12:44Z",
                        r.range(1, 12),
                        r.range(1, 28)
                    ))
                );
                set!("description", json!(format!("Execution role of {name}")));
                set!("force_detach_policies", json!(false));
                set!("id", json!(name));
                set!("inline_policy", json!([]));
                set!(
                    "managed_policy_arns",
                    json!([
                        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                        format!("arn:aws:iam::{}:policy/service/{name}", ctx.account)
                    ]),
                );
                set!("name", json!(name));
                set!("permissions_boundary", Value::Null);
                set!("tags", t.clone());
                set!("tags_all", t);
                set!(
                    "unique_id",
                    json!(format!("AROA{}", r.hex(16).to_uppercase()))
                );
                &[
                    "arn",
                    "create_date",
                    "id",
                    "inline_policy",
                    "managed_policy_arns",
                    "tags_all",
                    "unique_id",
                ]
            }
            Other::Lambda => {
                let vars: Map<String, Value> = (0..r.range(2, 5))
                    .map(|i| {
                        let key = format!(
                            "{}_{i}",
                            [
                                "TABLE_NAME",
                                "QUEUE_URL",
                                "BUCKET",
                                "LOG_LEVEL",
                                "API_BASE_URL",
                                "SECRET_ARN",
                                "POWERTOOLS_SERVICE_NAME"
                            ][i as usize % 7]
                        );
                        let value = match i % 3 {
                            0 => arn(
                                ctx,
                                "secretsmanager",
                                &format!("secret:{}/{name}/{}", ctx.env, r.hex(6)),
                            ),
                            1 => format!(
                                "https://{}.{}.internal.acme-corp.example/v1/{}",
                                name,
                                ctx.env,
                                r.hex(10)
                            ),
                            _ => format!("{}-{}-{}", ctx.env, name, r.hex(8)),
                        };
                        (key, Value::String(value))
                    })
                    .collect();
                let fn_arn = arn(ctx, "lambda", &format!("function:{name}"));
                set!("architectures", json!(["arm64"]));
                set!("arn", json!(fn_arn.clone()));
                set!("description", json!(format!("{name} ({})", ctx.team)));
                set!("environment", json!([{"variables": vars}]));
                set!("function_name", json!(name));
                set!("id", json!(name));
                set!(
                    "invoke_arn",
                    json!(format!(
                        "arn:aws:apigateway:{}:lambda:path/2015-03-31/functions/{fn_arn}/invocations",
                        ctx.region
                    ))
                );
                set!("last_modified", json!("2025-01-14T08:31:02.000+0000"));
                set!("package_type", json!("Zip"));
                set!("publish", json!(true));
                set!(
                    "qualified_arn",
                    json!(format!("{fn_arn}:{}", r.range(1, 40)))
                );
                set!("reserved_concurrent_executions", json!(-1));
                set!("s3_bucket", json!(format!("acme-{}-artifacts", ctx.env)));
                set!("s3_key", json!(format!("lambda/{name}/{}.zip", r.hex(40))));
                set!("source_code_hash", json!(format!("{}=", r.hex(43))));
                set!("tags", t.clone());
                set!("tags_all", t);
                set!("tracing_config", json!([{"mode": "Active"}]));
                set!("version", json!(r.range(1, 40).to_string()));
                set!(
                    "vpc_config",
                    json!([{"ipv6_allowed_for_dual_stack": false,
                        "security_group_ids": [format!("sg-0{}", r.hex(16))],
                        "subnet_ids": [format!("subnet-0{}", r.hex(16)), format!("subnet-0{}", r.hex(16))],
                        "vpc_id": format!("vpc-0{}", r.hex(16))}]),
                );
                &[
                    "arn",
                    "id",
                    "invoke_arn",
                    "last_modified",
                    "qualified_arn",
                    "source_code_hash",
                    "tags_all",
                    "version",
                ]
            }
            Other::Subnet => {
                let id = format!("subnet-0{}", r.hex(16));
                set!("arn", json!(arn(ctx, "ec2", &format!("subnet/{id}"))));
                set!("assign_ipv6_address_on_creation", json!(false));
                set!(
                    "availability_zone",
                    json!(format!("{}{}", ctx.region, ["a", "b", "c"][r.below(3)]))
                );
                set!(
                    "cidr_block",
                    json!(format!("10.{}.{}.0/24", r.range(0, 255), r.range(0, 255)))
                );
                set!("enable_dns64", json!(false));
                set!("id", json!(id));
                set!("ipv6_cidr_block", Value::Null);
                set!("ipv6_native", json!(false));
                set!("owner_id", json!(ctx.account));
                set!("private_dns_hostname_type_on_launch", json!("ip-name"));
                set!("tags", t.clone());
                set!("tags_all", t);
                set!("vpc_id", json!(format!("vpc-0{}", r.hex(16))));
                &[
                    "arn",
                    "id",
                    "ipv6_cidr_block",
                    "owner_id",
                    "private_dns_hostname_type_on_launch",
                    "tags_all",
                ]
            }
            Other::Vpc => {
                let id = format!("vpc-0{}", r.hex(16));
                set!("arn", json!(arn(ctx, "ec2", &format!("vpc/{id}"))));
                set!(
                    "cidr_block",
                    json!(format!("10.{}.0.0/16", r.range(0, 255)))
                );
                set!(
                    "default_network_acl_id",
                    json!(format!("acl-0{}", r.hex(16)))
                );
                set!(
                    "default_route_table_id",
                    json!(format!("rtb-0{}", r.hex(16)))
                );
                set!(
                    "default_security_group_id",
                    json!(format!("sg-0{}", r.hex(16)))
                );
                set!("dhcp_options_id", json!(format!("dopt-0{}", r.hex(16))));
                set!("id", json!(id));
                set!("instance_tenancy", json!("default"));
                set!("main_route_table_id", json!(format!("rtb-0{}", r.hex(16))));
                set!("owner_id", json!(ctx.account));
                set!("tags", t.clone());
                set!("tags_all", t);
                &[
                    "arn",
                    "default_network_acl_id",
                    "default_route_table_id",
                    "default_security_group_id",
                    "dhcp_options_id",
                    "id",
                    "main_route_table_id",
                    "owner_id",
                    "tags_all",
                ]
            }
            Other::Record => {
                let fqdn = format!("{name}.{}.acme-corp.example", ctx.env);
                let records = match m.get("type").and_then(Value::as_str) {
                    Some("A") => json!([format!(
                        "10.{}.{}.{}",
                        r.range(0, 255),
                        r.range(0, 255),
                        r.range(1, 254)
                    )]),
                    Some("TXT") => json!([format!(
                        "v=spf1 include:_spf.acme-corp.example ~all {}",
                        r.hex(24)
                    )]),
                    _ => json!([format!(
                        "{name}-{}.elb.{}.amazonaws.com",
                        r.hex(12),
                        ctx.region
                    )]),
                };
                set!("alias", json!([]));
                set!("allow_overwrite", Value::Null);
                set!("fqdn", json!(fqdn.clone()));
                set!("health_check_id", json!(""));
                set!(
                    "id",
                    json!(format!("Z{}_{fqdn}_A", r.hex(12).to_uppercase()))
                );
                set!("name", json!(fqdn));
                set!("records", records);
                set!("set_identifier", json!(""));
                set!("zone_id", json!(format!("Z{}", r.hex(12).to_uppercase())));
                &["fqdn", "id", "allow_overwrite"]
            }
            Other::LogGroup => {
                let group = format!(
                    "/aws/{}/{}/{name}",
                    ["lambda", "ecs", "apigateway"][r.below(3)],
                    ctx.env
                );
                set!(
                    "arn",
                    json!(arn(ctx, "logs", &format!("log-group:{group}")))
                );
                set!("id", json!(group.clone()));
                set!("kms_key_id", json!(""));
                set!("log_group_class", json!("STANDARD"));
                set!("name", json!(group));
                set!("skip_destroy", json!(false));
                set!("tags", t.clone());
                set!("tags_all", t);
                &["arn", "id", "log_group_class", "tags_all"]
            }
            Other::TaskDefinition => {
                set!(
                    "arn",
                    json!(arn(
                        ctx,
                        "ecs",
                        &format!("task-definition/{name}:{}", r.range(1, 90))
                    ))
                );
                set!(
                    "container_definitions",
                    json!(container_definitions(r, ctx))
                );
                set!(
                    "execution_role_arn",
                    json!(format!("arn:aws:iam::{}:role/{name}-exec", ctx.account))
                );
                set!("family", json!(name));
                set!("id", json!(name));
                set!("revision", json!(r.range(1, 90)));
                set!(
                    "task_role_arn",
                    json!(format!("arn:aws:iam::{}:role/{name}-task", ctx.account))
                );
                &["arn", "id", "revision"]
            }
            Other::NaclRule => {
                set!("icmp_code", Value::Null);
                set!("icmp_type", Value::Null);
                set!("id", json!(format!("nacl-{}", r.digits(10))));
                set!("ipv6_cidr_block", Value::Null);
                set!("network_acl_id", json!(format!("acl-0{}", r.hex(16))));
                &["id"]
            }
            Other::Table => {
                set!("arn", json!(arn(ctx, "dynamodb", &format!("table/{name}"))));
                set!(
                    "attribute",
                    json!([{"name": "gsi1pk", "type": "S"}, {"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}])
                );
                set!(
                    "global_secondary_index",
                    json!([{"hash_key": "gsi1pk", "name": "gsi1", "non_key_attributes": [],
                        "projection_type": "ALL", "range_key": "sk", "read_capacity": 0, "write_capacity": 0}]),
                );
                set!("id", json!(name));
                set!("name", json!(name));
                set!(
                    "point_in_time_recovery",
                    json!([{"enabled": ctx.env == "prod"}])
                );
                set!(
                    "server_side_encryption",
                    json!([{"enabled": true, "kms_key_arn": arn(ctx, "kms", &format!("key/{}", r.hex(32)))}])
                );
                set!("stream_arn", json!(""));
                set!("tags", t.clone());
                set!("tags_all", t);
                set!(
                    "ttl",
                    json!([{"attribute_name": "expires_at", "enabled": true}])
                );
                &["arn", "id", "stream_arn", "tags_all"]
            }
            Other::Queue => {
                let q = format!("{}-{name}", ctx.env);
                let q_arn = arn(ctx, "sqs", &q);
                set!("arn", json!(q_arn.clone()));
                set!("fifo_queue", json!(false));
                set!(
                    "id",
                    json!(format!(
                        "https://sqs.{}.amazonaws.com/{}/{q}",
                        ctx.region, ctx.account
                    ))
                );
                set!("name", json!(q));
                set!(
                    "redrive_policy",
                    json!(json!({"deadLetterTargetArn": format!("{q_arn}-dlq"), "maxReceiveCount": 5}).to_string()),
                );
                set!("sqs_managed_sse_enabled", json!(true));
                set!("tags", t.clone());
                set!("tags_all", t);
                set!(
                    "url",
                    json!(format!(
                        "https://sqs.{}.amazonaws.com/{}/{q}",
                        ctx.region, ctx.account
                    ))
                );
                &["arn", "id", "tags_all", "url"]
            }
            Other::Attachment => {
                set!("id", json!(format!("{name}-{}", r.digits(20))));
                set!(
                    "policy_arn",
                    json!(format!(
                        "arn:aws:iam::{}:policy/service/{name}",
                        ctx.account
                    ))
                );
                set!("role", json!(format!("{}-{name}", ctx.env)));
                &["id"]
            }
            Other::RouteAssociation => {
                set!("gateway_id", Value::Null);
                set!("id", json!(format!("rtbassoc-0{}", r.hex(16))));
                set!("route_table_id", json!(format!("rtb-0{}", r.hex(16))));
                set!("subnet_id", json!(format!("subnet-0{}", r.hex(16))));
                &["id"]
            }
            Other::PolicyDocument => {
                let n = r.range(1, 3) as usize;
                set!("id", json!(r.digits(10)));
                set!("json", json!(policy_document(r, ctx, n)));
                set!("version", json!("2012-10-17"));
                &["id", "json"]
            }
        };
        (m, computed)
    }
}

// ---- security groups ------------------------------------------------------------------------------

/// One security group rule, as written and as planned.
#[derive(Debug, Clone)]
struct Rule {
    description: String,
    /// As the plan shows it (the provider normalizes `6` to `tcp`).
    protocol: &'static str,
    /// As written in the configuration.
    written_protocol: &'static str,
    from: Option<i64>,
    to: Option<i64>,
    v4: Vec<String>,
    v6: Vec<String>,
    /// Security group ids (`security_groups`, `source_security_group_id`,
    /// `referenced_security_group_id`).
    groups: Vec<String>,
    self_: bool,
    prefix_lists: Vec<String>,
    /// Write the CIDR lists one element per line, with a comment.
    multiline: bool,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SgKind {
    Group,
    DefaultGroup,
    /// `aws_security_group_rule`.
    GroupRule {
        egress: bool,
    },
    /// `aws_vpc_security_group_ingress_rule` / `_egress_rule`.
    VpcRule {
        egress: bool,
    },
    /// `data "aws_security_group"`.
    DataGroup,
}

impl SgKind {
    fn resource_type(self) -> &'static str {
        match self {
            SgKind::Group | SgKind::DataGroup => "aws_security_group",
            SgKind::DefaultGroup => "aws_default_security_group",
            SgKind::GroupRule { .. } => "aws_security_group_rule",
            SgKind::VpcRule { egress: false } => "aws_vpc_security_group_ingress_rule",
            SgKind::VpcRule { egress: true } => "aws_vpc_security_group_egress_rule",
        }
    }
}

/// A planted security-group resource block.
#[derive(Debug, Clone)]
struct SgShape {
    kind: SgKind,
    description: String,
    ingress: Vec<Rule>,
    egress: Vec<Rule>,
    /// A group whose rules come from rule resources: `ingress` is computed.
    rules_elsewhere: bool,
    /// The rule ids portgate must report on every instance.
    ids: &'static [&'static str],
    /// The group is being destroyed (no after state).
    deleted: bool,
}

impl SgShape {
    fn new(kind: SgKind, description: &str) -> SgShape {
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
    fn single(&self) -> &Rule {
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
fn violation(t: usize, r: &mut Rng) -> SgShape {
    let g = SgKind::Group;
    let ingress_rule = SgKind::GroupRule { egress: false };
    let vpc = SgKind::VpcRule { egress: false };
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
            SgShape::new(SgKind::DefaultGroup, "default VPC security group")
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
fn near_miss(t: usize, r: &mut Rng, format_1x: bool) -> SgShape {
    let g = SgKind::Group;
    let ingress_rule = SgKind::GroupRule { egress: false };
    let vpc = SgKind::VpcRule { egress: false };
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
    let g = SgKind::Group;
    let ingress_rule = SgKind::GroupRule { egress: false };
    let vpc = SgKind::VpcRule { egress: false };
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
        3 => SgShape::new(SgKind::GroupRule { egress: true }, "").egress(vec![all_egress()]),
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
        10 => SgShape::new(SgKind::VpcRule { egress: true }, "").egress(vec![{
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
        13 => SgShape::new(SgKind::DataGroup, ""),
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

impl SgShape {
    /// The full state of an instance and the attributes unknown until it is created.
    fn values(
        &self,
        r: &mut Rng,
        ctx: &Ctx,
        group_id: &str,
        name: &str,
    ) -> (Map<String, Value>, Vec<&'static str>) {
        let mut m = Map::new();
        let mut computed = Vec::new();
        match self.kind {
            SgKind::Group | SgKind::DefaultGroup | SgKind::DataGroup => {
                let id = format!("sg-0{}", r.hex(16));
                let t = tags(r, ctx, 1);
                m.insert(
                    "arn".into(),
                    json!(arn(ctx, "ec2", &format!("security-group/{id}"))),
                );
                m.insert(
                    "description".into(),
                    json!(if self.description.is_empty() {
                        "Managed by Terraform"
                    } else {
                        &self.description
                    }),
                );
                m.insert("id".into(), json!(id));
                m.insert("name".into(), json!(name));
                m.insert("tags".into(), t.clone());
                m.insert("vpc_id".into(), json!(format!("vpc-0{}", r.hex(16))));
                if self.kind == SgKind::DataGroup {
                    m.insert("filter".into(), Value::Null);
                    m.insert("timeouts".into(), Value::Null);
                    computed.extend(["arn", "description", "id", "tags"]);
                } else {
                    let inline = |rules: &[Rule]| {
                        Value::Array(rules.iter().map(Rule::inline_value).collect())
                    };
                    let mut ingress = self.ingress.clone();
                    // The provider keeps the rules in a set: the plan's order is not the
                    // configuration's.
                    if ingress.len() > 1 {
                        let k = r.below(ingress.len());
                        ingress.rotate_left(k);
                    }
                    m.insert("egress".into(), inline(&self.egress));
                    m.insert("ingress".into(), inline(&ingress));
                    m.insert("owner_id".into(), json!(ctx.account));
                    m.insert("revoke_rules_on_delete".into(), json!(false));
                    m.insert("tags_all".into(), t);
                    if self.kind == SgKind::Group {
                        m.insert("name_prefix".into(), json!(""));
                        m.insert("timeouts".into(), Value::Null);
                        computed.push("name_prefix");
                    } else {
                        m.insert("name".into(), json!("default"));
                    }
                    computed.extend(["arn", "id", "owner_id", "tags_all"]);
                    if self.egress.is_empty() {
                        computed.push("egress");
                    }
                    if self.rules_elsewhere {
                        computed.push("ingress");
                    }
                }
            }
            SgKind::GroupRule { egress } => {
                let rule = self.single();
                let opt = |items: &[String]| {
                    if items.is_empty() {
                        Value::Null
                    } else {
                        list(items)
                    }
                };
                m.insert("cidr_blocks".into(), opt(&rule.v4));
                m.insert("description".into(), json!(rule.description));
                m.insert("from_port".into(), json!(rule.from));
                m.insert("id".into(), json!(format!("sgrule-{}", r.digits(10))));
                m.insert("ipv6_cidr_blocks".into(), opt(&rule.v6));
                m.insert("prefix_list_ids".into(), opt(&rule.prefix_lists));
                m.insert("protocol".into(), json!(rule.protocol));
                m.insert("security_group_id".into(), json!(group_id));
                m.insert(
                    "security_group_rule_id".into(),
                    json!(format!("sgr-0{}", r.hex(16))),
                );
                m.insert("self".into(), json!(rule.self_));
                m.insert(
                    "source_security_group_id".into(),
                    match rule.groups.first() {
                        Some(g) => json!(g),
                        None => Value::Null,
                    },
                );
                m.insert("timeouts".into(), Value::Null);
                m.insert("to_port".into(), json!(rule.to));
                m.insert(
                    "type".into(),
                    json!(if egress { "egress" } else { "ingress" }),
                );
                computed.extend(["id", "security_group_rule_id"]);
                if rule.groups.is_empty() {
                    computed.push("source_security_group_id");
                }
            }
            SgKind::VpcRule { .. } => {
                let rule = self.single();
                let id = format!("sgr-0{}", r.hex(16));
                let t = tags(r, ctx, 0);
                let first = |items: &[String]| match items.first() {
                    Some(s) => json!(s),
                    None => Value::Null,
                };
                m.insert(
                    "arn".into(),
                    json!(arn(ctx, "ec2", &format!("security-group-rule/{id}"))),
                );
                m.insert("cidr_ipv4".into(), first(&rule.v4));
                m.insert("cidr_ipv6".into(), first(&rule.v6));
                m.insert("description".into(), json!(rule.description));
                m.insert("from_port".into(), json!(rule.from));
                m.insert("id".into(), json!(id.clone()));
                m.insert("ip_protocol".into(), json!(rule.protocol));
                m.insert("prefix_list_id".into(), first(&rule.prefix_lists));
                m.insert("referenced_security_group_id".into(), first(&rule.groups));
                m.insert("security_group_id".into(), json!(group_id));
                m.insert("security_group_rule_id".into(), json!(id));
                m.insert("tags".into(), t.clone());
                m.insert("tags_all".into(), t);
                m.insert("to_port".into(), json!(rule.to));
                computed.extend(["arn", "id", "security_group_rule_id", "tags_all"]);
            }
        }
        (m, computed)
    }

    /// The block's arguments, for the configuration summary and the `.tf` files.
    fn arguments(
        &self,
        format_1x: bool,
        in_module: bool,
        name: &Expr,
        group_id: &str,
        vpc_id: &str,
    ) -> Vec<(&'static str, Expr)> {
        let c = |v: Value| Expr::Const(v);
        let tags = if in_module {
            reference("var.tags")
        } else {
            reference("local.common_tags")
        };
        let group = if in_module {
            reference("var.security_group_id")
        } else {
            c(json!(group_id))
        };
        let vpc = if in_module {
            reference("var.vpc_id")
        } else {
            c(json!(vpc_id))
        };
        let mut args = Vec::new();
        match self.kind {
            SgKind::Group | SgKind::DefaultGroup => {
                if self.kind == SgKind::Group {
                    args.push(("name", name.clone()));
                    args.push(("description", c(json!(self.description))));
                }
                args.push(("vpc_id", vpc));
                if format_1x {
                    // Terraform 1.1+ summarizes attributes written as blocks (`ingress {}`).
                    for (key, rules) in [("ingress", &self.ingress), ("egress", &self.egress)] {
                        if !rules.is_empty() {
                            let items = rules.iter().map(Rule::inline_config).collect();
                            args.push((key, c(Value::Array(items))));
                        }
                    }
                }
                args.push(("tags", tags));
            }
            SgKind::DataGroup => {
                args.push(("name", name.clone()));
                args.push(("vpc_id", vpc));
            }
            SgKind::GroupRule { egress } => {
                let rule = self.single();
                args.push(("type", c(json!(if egress { "egress" } else { "ingress" }))));
                args.push(("description", c(json!(rule.description))));
                args.push(("from_port", c(json!(rule.from))));
                args.push(("to_port", c(json!(rule.to))));
                args.push(("protocol", c(json!(rule.written_protocol))));
                if !rule.v4.is_empty() {
                    args.push(("cidr_blocks", c(list(&rule.v4))));
                }
                if !rule.v6.is_empty() {
                    args.push(("ipv6_cidr_blocks", c(list(&rule.v6))));
                }
                if let Some(g) = rule.groups.first() {
                    args.push(("source_security_group_id", c(json!(g))));
                }
                args.push(("security_group_id", group));
            }
            SgKind::VpcRule { .. } => {
                let rule = self.single();
                args.push(("security_group_id", group));
                args.push(("description", c(json!(rule.description))));
                args.push(("ip_protocol", c(json!(rule.written_protocol))));
                if let (Some(from), Some(to)) = (rule.from, rule.to) {
                    args.push(("from_port", c(json!(from))));
                    args.push(("to_port", c(json!(to))));
                }
                if let Some(v4) = rule.v4.first() {
                    args.push(("cidr_ipv4", c(json!(v4))));
                }
                if let Some(v6) = rule.v6.first() {
                    args.push(("cidr_ipv6", c(json!(v6))));
                }
                args.push(("tags", tags));
            }
        }
        args
    }
}

// ---- the layout of a plan --------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Int(usize),
    Str(String),
}

impl Key {
    fn suffix(&self) -> String {
        match self {
            Key::Int(i) => format!("[{i}]"),
            Key::Str(s) => format!("[{}]", Value::String(s.clone())),
        }
    }

    fn json(&self) -> Value {
        match self {
            Key::Int(i) => json!(i),
            Key::Str(s) => json!(s),
        }
    }

    fn slug(&self) -> String {
        match self {
            Key::Int(i) => i.to_string(),
            Key::Str(s) => s.replace(['.', '/'], "-"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expansion {
    Single,
    Count(usize),
    ForEach(Vec<String>),
}

impl Expansion {
    fn keys(&self) -> Vec<Option<Key>> {
        match self {
            Expansion::Single => vec![None],
            Expansion::Count(n) => (0..*n).map(|i| Some(Key::Int(i))).collect(),
            Expansion::ForEach(keys) => keys.iter().map(|k| Some(Key::Str(k.clone()))).collect(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Expansion::Single => 1,
            Expansion::Count(n) => *n,
            Expansion::ForEach(keys) => keys.len(),
        }
    }

    fn draw(r: &mut Rng, single_percent: u64) -> Expansion {
        if r.chance(single_percent) {
            return Expansion::Single;
        }
        if r.chance(50) {
            Expansion::Count(r.range(2, 3) as usize)
        } else {
            let n = r.range(2, 3) as usize;
            let start = r.below(KEYS.len());
            let mut keys: Vec<String> = (0..n)
                .map(|i| KEYS[(start + i * 3) % KEYS.len()].to_string())
                .collect();
            keys.sort();
            keys.dedup();
            Expansion::ForEach(keys)
        }
    }
}

/// A module definition: the body of one `module` call (shared by its instances).
#[derive(Debug)]
struct ModuleDef {
    /// The call's name; empty for the root module.
    name: String,
    source: String,
    version: Option<&'static str>,
    expansion: Expansion,
    parent: Option<usize>,
    children: Vec<usize>,
    blocks: Vec<usize>,
    /// Instances of this module in the plan.
    instances: usize,
}

#[derive(Debug)]
struct ModuleInst {
    def: usize,
    /// `module.app["x"].module.sg`; empty for the root module.
    address: String,
    children: Vec<usize>,
    /// Resource instances, sorted by address.
    resources: Vec<usize>,
}

#[derive(Debug, Clone)]
enum Kind {
    Other(Other),
    Sg(Box<SgShape>),
}

#[derive(Debug)]
struct Block {
    def: usize,
    name: String,
    data: bool,
    expansion: Expansion,
    kind: Kind,
    /// Every instance is destroyed and the block is gone from the configuration.
    deleted: bool,
    /// For values shared by all instances.
    rng: Rng,
    /// The security group rule resources attach to (root module only).
    group_id: String,
    vpc_id: String,
}

impl Block {
    fn resource_type(&self) -> &'static str {
        match &self.kind {
            Kind::Other(o) => o.resource_type(),
            Kind::Sg(s) => s.kind.resource_type(),
        }
    }

    fn schema_version(&self) -> u32 {
        match &self.kind {
            Kind::Other(o) => o.schema_version(),
            Kind::Sg(s) => match s.kind {
                SgKind::Group | SgKind::DefaultGroup => 1,
                SgKind::GroupRule { .. } => 2,
                _ => 0,
            },
        }
    }

    fn sg(&self) -> Option<&SgShape> {
        match &self.kind {
            Kind::Sg(s) => Some(s),
            Kind::Other(_) => None,
        }
    }

    /// The module-relative address: `aws_instance.web`, `data.aws_security_group.x`.
    fn local_address(&self) -> String {
        let prefix = if self.data { "data." } else { "" };
        format!("{prefix}{}.{}", self.resource_type(), self.name)
    }

    /// The `name`-like argument: varies with `each.key` / `count.index`.
    fn name_expr(&self) -> Expr {
        let base = self.name.replace('_', "-");
        match self.expansion {
            Expansion::Single => Expr::Const(json!(base)),
            Expansion::Count(_) => Expr::Ref(
                format!("\"{base}-${{count.index}}\""),
                vec!["count.index".into()],
            ),
            Expansion::ForEach(_) => {
                Expr::Ref(format!("\"{base}-${{each.key}}\""), vec!["each.key".into()])
            }
        }
    }

    fn arguments(&self, format_1x: bool, in_module: bool) -> Vec<(&'static str, Expr)> {
        match &self.kind {
            Kind::Other(o) => o.arguments(&mut self.rng.clone(), in_module),
            Kind::Sg(s) => s.arguments(
                format_1x,
                in_module,
                &self.name_expr(),
                &self.group_id,
                &self.vpc_id,
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Update,
    NoOp,
    Delete,
    DeleteCreate,
    CreateDelete,
    Read,
}

impl Action {
    fn words(self) -> &'static [&'static str] {
        match self {
            Action::Create => &["create"],
            Action::Update => &["update"],
            Action::NoOp => &["no-op"],
            Action::Delete => &["delete"],
            Action::DeleteCreate => &["delete", "create"],
            Action::CreateDelete => &["create", "delete"],
            Action::Read => &["read"],
        }
    }

    /// The object exists before the plan is applied.
    fn exists(self) -> bool {
        !matches!(self, Action::Create | Action::Read)
    }

    /// A new object is made: computed attributes are unknown.
    fn creates(self) -> bool {
        matches!(
            self,
            Action::Create | Action::DeleteCreate | Action::CreateDelete | Action::Read
        )
    }
}

#[derive(Debug)]
struct Instance {
    block: usize,
    module: usize,
    key: Option<Key>,
    address: String,
    action: Action,
    rng: Rng,
}

/// One resource change, ready to write.
struct Change {
    before: Option<Value>,
    after: Option<Value>,
    after_unknown: Value,
    before_sensitive: Value,
    after_sensitive: Value,
    replace_paths: Option<Value>,
}

struct Layout {
    opts: Options,
    format_1x: bool,
    defs: Vec<ModuleDef>,
    modules: Vec<ModuleInst>,
    blocks: Vec<Block>,
    instances: Vec<Instance>,
    /// Instance indices sorted by address (the order of `resource_changes`).
    sorted: Vec<usize>,
    security_groups: usize,
    provider_name: &'static str,
    terraform_version: &'static str,
    env: &'static str,
    region: &'static str,
}

impl Layout {
    fn build(opts: &Options) -> Layout {
        let mut r = Rng::new(opts.seed);
        let format_1x = opts.format_version.starts_with('1');
        let n = opts.resources;
        let m = opts.security_group_count();

        // Module definitions: a few top-level calls, some with nested calls.
        let mut defs = vec![ModuleDef {
            name: String::new(),
            source: String::new(),
            version: None,
            expansion: Expansion::Single,
            parent: None,
            children: Vec::new(),
            blocks: Vec::new(),
            instances: 1,
        }];
        let top = if n < 40 { 0 } else { (n / 2500).clamp(2, 24) };
        let first = r.below(TOP_MODULES.len());
        for t in 0..top {
            let name = TOP_MODULES[(first + t) % TOP_MODULES.len()].to_string();
            let d = Self::add_def(&mut defs, &mut r, 0, name, 1);
            for c in 0..[0, 1, 1, 2][r.below(4)] {
                let child_name = CHILD_MODULES[(t + c * 3) % CHILD_MODULES.len()].to_string();
                let cd = Self::add_def(&mut defs, &mut r, d, child_name, 2);
                if r.chance(30) {
                    let leaf = CHILD_MODULES[(t + c * 3 + 1) % CHILD_MODULES.len()].to_string();
                    Self::add_def(&mut defs, &mut r, cd, leaf, 3);
                }
            }
        }

        // Resource blocks, until the instance budgets are spent exactly.
        let violations = if m == 0 {
            0
        } else {
            (m * opts.shape.violation_percent())
                .div_ceil(100)
                .max(6.min(m / 2))
                .min(m)
        };
        let mut blocks: Vec<Block> = Vec::new();
        let mut counter = 0usize;
        let budgets = [
            (0u8, violations, 75u64),
            (1, m - violations, 35),
            (2, n - m, 30),
        ];
        let v_start = r.below(16);
        let n_start = r.below(18);
        let other_weights: Vec<u32> = OTHERS.iter().map(|(_, w)| *w).collect();
        for (class, budget, root_percent) in budgets {
            let mut left = budget;
            let mut t = 0usize;
            while left > 0 {
                let mut br = r.fork(blocks.len() as u64);
                let (violations, near_misses) = (opts.shape.violations(), opts.shape.near_misses());
                let kind = match class {
                    0 => Kind::Sg(Box::new(violation(
                        violations[(v_start + t) % violations.len()],
                        &mut br,
                    ))),
                    1 => Kind::Sg(Box::new(near_miss(
                        near_misses[(n_start + t) % near_misses.len()],
                        &mut br,
                        format_1x,
                    ))),
                    _ => {
                        if r.chance(1) {
                            Kind::Other(Other::PolicyDocument)
                        } else {
                            Kind::Other(OTHERS[r.weighted(&other_weights)].0)
                        }
                    }
                };
                t += 1;
                let mut def = if defs.len() == 1 || r.chance(root_percent) {
                    0
                } else {
                    1 + r.below(defs.len() - 1)
                };
                let mut expansion = Expansion::draw(&mut r, 70);
                if expansion.len() * defs[def].instances > left {
                    def = 0;
                    expansion = Expansion::Single;
                }
                left -= expansion.len() * defs[def].instances;
                counter += 1;
                let data = matches!(kind, Kind::Other(Other::PolicyDocument))
                    || matches!(&kind, Kind::Sg(s) if s.kind == SgKind::DataGroup);
                let deleted = match &kind {
                    Kind::Sg(s) => s.deleted,
                    Kind::Other(_) => !data && r.chance(4),
                };
                let word = r.pick(&WORDS);
                let name = match &kind {
                    Kind::Sg(s) if !s.ids.is_empty() => {
                        let what = ["files", "shares", "legacy", "partner", "lab", "print"];
                        format!("{}_{}_{counter}", word, r.pick(&what))
                    }
                    _ => format!("{word}_{counter}"),
                };
                let group_id = format!("sg-0{}", r.hex(16));
                let vpc_id = format!("vpc-0{}", r.hex(16));
                let index = blocks.len();
                defs[def].blocks.push(index);
                blocks.push(Block {
                    def,
                    name,
                    data,
                    expansion,
                    kind,
                    deleted,
                    rng: br,
                    group_id,
                    vpc_id,
                });
            }
        }

        // Module instances, then resource instances.
        let mut modules = Vec::new();
        Self::add_module(&defs, &mut modules, 0, String::new());
        let mut instances = Vec::new();
        for mi in 0..modules.len() {
            let def = &defs[modules[mi].def];
            for &b in &def.blocks {
                let block = &blocks[b];
                for key in block.expansion.keys() {
                    let prefix = if modules[mi].address.is_empty() {
                        String::new()
                    } else {
                        format!("{}.", modules[mi].address)
                    };
                    let address = format!(
                        "{prefix}{}{}",
                        block.local_address(),
                        key.as_ref().map(Key::suffix).unwrap_or_default()
                    );
                    let action = if block.deleted {
                        Action::Delete
                    } else if block.data {
                        Action::Read
                    } else {
                        [
                            Action::Create,
                            Action::Update,
                            Action::NoOp,
                            Action::DeleteCreate,
                            Action::CreateDelete,
                        ][r.weighted(&[48, 15, 26, 6, 5])]
                    };
                    let rng = r.fork(1_000_000 + instances.len() as u64);
                    instances.push(Instance {
                        block: b,
                        module: mi,
                        key,
                        address,
                        action,
                        rng,
                    });
                }
            }
        }
        let mut sorted: Vec<usize> = (0..instances.len()).collect();
        sorted.sort_by(|a, b| instances[*a].address.cmp(&instances[*b].address));
        for &i in &sorted {
            modules[instances[i].module].resources.push(i);
        }
        let (provider_name, terraform_version) = match opts.format_version.as_str() {
            "0.1" => ("aws", "0.12.31"),
            "0.2" => ("registry.terraform.io/hashicorp/aws", "1.0.11"),
            "1.0" => ("registry.terraform.io/hashicorp/aws", "1.1.9"),
            "1.1" => ("registry.terraform.io/hashicorp/aws", "1.3.10"),
            _ => ("registry.terraform.io/hashicorp/aws", "1.9.8"),
        };
        let env = *r.pick(&ENVS);
        let region = *r.pick(&REGIONS);
        debug_assert_eq!(instances.len(), n);
        Layout {
            opts: opts.clone(),
            format_1x,
            defs,
            modules,
            blocks,
            instances,
            sorted,
            security_groups: m,
            provider_name,
            terraform_version,
            env,
            region,
        }
    }

    fn add_def(
        defs: &mut Vec<ModuleDef>,
        r: &mut Rng,
        parent: usize,
        name: String,
        depth: u32,
    ) -> usize {
        let expansion = if depth == 1 {
            Expansion::draw(r, 45)
        } else {
            Expansion::draw(r, 75)
        };
        let (source, version) = if r.chance(75) {
            let prefix = if depth == 1 { "./modules/" } else { "../" };
            (format!("{prefix}{name}"), None)
        } else {
            (
                format!("app.terraform.io/acme-corp/{name}/aws"),
                Some(["~> 2.4", ">= 1.0.0, < 3.0.0", "3.1.7"][r.below(3)]),
            )
        };
        let instances = defs[parent].instances * expansion.len();
        let index = defs.len();
        defs.push(ModuleDef {
            name,
            source,
            version,
            expansion,
            parent: Some(parent),
            children: Vec::new(),
            blocks: Vec::new(),
            instances,
        });
        defs[parent].children.push(index);
        index
    }

    fn add_module(
        defs: &[ModuleDef],
        modules: &mut Vec<ModuleInst>,
        def: usize,
        address: String,
    ) -> usize {
        let index = modules.len();
        modules.push(ModuleInst {
            def,
            address: address.clone(),
            children: Vec::new(),
            resources: Vec::new(),
        });
        let mut children: Vec<(String, usize)> = Vec::new();
        for &child in &defs[def].children {
            for key in defs[child].expansion.keys() {
                let prefix = if address.is_empty() {
                    String::new()
                } else {
                    format!("{address}.")
                };
                let child_address = format!(
                    "{prefix}module.{}{}",
                    defs[child].name,
                    key.as_ref().map(Key::suffix).unwrap_or_default()
                );
                children.push((child_address, child));
            }
        }
        children.sort();
        for (child_address, child) in children {
            let c = Self::add_module(defs, modules, child, child_address);
            modules[index].children.push(c);
        }
        index
    }

    fn expected(&self) -> Expected {
        let mut expected = Expected {
            resources: self.instances.len(),
            security_groups: self.security_groups,
            ..Expected::default()
        };
        for inst in &self.instances {
            let block = &self.blocks[inst.block];
            let Some(sg) = block.sg() else { continue };
            if sg.rules_elsewhere && inst.action.creates() && !block.data {
                expected.unproven.insert(inst.address.clone());
            }
            if sg.ids.is_empty() || inst.action == Action::Delete || block.data {
                continue;
            }
            expected.violations.insert(
                inst.address.clone(),
                sg.ids.iter().map(|s| s.to_string()).collect(),
            );
            if block.def == 0 {
                expected.root_violations.insert(inst.address.clone());
            }
        }
        expected
    }

    fn has_sensitive(&self) -> bool {
        self.opts.format_version != "0.1"
    }

    // ---- values of one instance ---------------------------------------------------------

    fn ctx(&self, inst: &Instance) -> Ctx {
        let block = &self.blocks[inst.block];
        let mut r = block.rng.clone();
        let base = block.name.replace('_', "-");
        let name = match &inst.key {
            Some(k) => format!("{base}-{}", k.slug()),
            None => base,
        };
        Ctx {
            env: self.env,
            region: self.region,
            account: ACCOUNTS[(r.next() % 3) as usize],
            team: TEAMS[r.below(TEAMS.len())],
            name,
        }
    }

    /// The full state of an instance (as after apply) and its attributes computed on create.
    fn state(&self, i: usize) -> (Map<String, Value>, Vec<&'static str>) {
        let inst = &self.instances[i];
        let block = &self.blocks[inst.block];
        let ctx = self.ctx(inst);
        let mut r = inst.rng.clone();
        match &block.kind {
            Kind::Other(o) => {
                let args = block.arguments(self.format_1x, block.def != 0);
                let (m, computed) = o.values(&args, &mut r, &ctx);
                (m, computed.to_vec())
            }
            Kind::Sg(s) => {
                let group_id = if block.def == 0 {
                    block.group_id.clone()
                } else {
                    format!("sg-0{}", r.hex(16))
                };
                let base = block.name.replace('_', "-");
                let name = match &inst.key {
                    Some(Key::Int(i)) => format!("{base}-{i}"),
                    Some(Key::Str(k)) => format!("{base}-{k}"),
                    None => base,
                };
                s.values(&mut r, &ctx, &group_id, &name)
            }
        }
    }

    fn change(&self, i: usize) -> Change {
        let inst = &self.instances[i];
        let (state, computed) = self.state(i);
        let mut r = inst.rng.fork(7);
        let planned = |state: &Map<String, Value>| {
            let mut after = state.clone();
            for k in &computed {
                after.remove(*k);
            }
            after
        };
        let with_computed = |after: &Map<String, Value>, unknown: bool| {
            let mut shape = shape_object(after);
            for k in &computed {
                let v = if unknown {
                    Value::Bool(true)
                } else {
                    match state.get(*k) {
                        Some(Value::Array(_)) => json!([]),
                        Some(Value::Object(_)) => json!({}),
                        _ => continue,
                    }
                };
                shape.insert(k.to_string(), v);
            }
            Value::Object(shape)
        };
        let (before, after) = match inst.action {
            Action::Create | Action::Read => (None, Some(planned(&state))),
            Action::NoOp => (Some(state.clone()), Some(state.clone())),
            Action::Update => {
                let mut before = state.clone();
                if let Some(Value::Object(tags)) = before.get_mut("tags") {
                    tags.insert(
                        "acme:review".into(),
                        json!(format!("2024-{:02}-01", r.range(1, 12))),
                    );
                } else if let Some(Value::String(d)) = before.get_mut("description") {
                    d.push_str(" (old)");
                }
                (Some(before), Some(state.clone()))
            }
            Action::DeleteCreate | Action::CreateDelete => {
                let mut before = state.clone();
                if let Some(Value::String(id)) = before.get_mut("id") {
                    let tail = r.hex(8);
                    id.truncate(id.len().saturating_sub(8));
                    id.push_str(&tail);
                }
                (Some(before), Some(planned(&state)))
            }
            Action::Delete => (Some(state.clone()), None),
        };
        let after_unknown = match &after {
            Some(a) if inst.action.creates() => with_computed(a, true),
            Some(a) => Value::Object(shape_object(a)),
            None => json!({}),
        };
        let after_sensitive = match &after {
            Some(a) if inst.action.creates() => with_computed(a, false),
            Some(a) => Value::Object(shape_object(a)),
            None => Value::Bool(false),
        };
        let before_sensitive = match &before {
            Some(b) => Value::Object(shape_object(b)),
            None => Value::Bool(false),
        };
        let replace_paths = matches!(inst.action, Action::DeleteCreate | Action::CreateDelete)
            .then(|| {
                let key = ["name", "ami", "description", "vpc_id", "function_name"]
                    .into_iter()
                    .find(|k| state.contains_key(*k))
                    .unwrap_or("id");
                json!([[key]])
            });
        Change {
            before: before.map(Value::Object),
            after: after.map(Value::Object),
            after_unknown,
            before_sensitive,
            after_sensitive,
            replace_paths,
        }
    }

    // ---- writing the plan ---------------------------------------------------------------------

    fn write_plan(&self, w: &mut impl Write) -> io::Result<()> {
        let v = self.opts.format_version.as_str();
        put(w, "{")?;
        put_key(w, "format_version")?;
        put_json!(w, v)?;
        put(w, ",")?;
        put_key(w, "terraform_version")?;
        put_json!(w, self.terraform_version)?;
        put(w, ",")?;
        put_key(w, "variables")?;
        put_json!(w, &self.variables_values())?;
        put(w, ",")?;
        put_key(w, "planned_values")?;
        put(w, "{")?;
        put_key(w, "outputs")?;
        put_json!(w, &self.planned_outputs())?;
        put(w, ",")?;
        put_key(w, "root_module")?;
        self.write_module_values(w, 0, &|i| self.instances[i].action != Action::Delete, false)?;
        put(w, "},")?;
        put_key(w, "resource_changes")?;
        put(w, "[")?;
        for (n, &i) in self.sorted.iter().enumerate() {
            if n > 0 {
                put(w, ",")?;
            }
            self.write_resource_change(w, i)?;
        }
        put(w, "],")?;
        put_key(w, "output_changes")?;
        self.write_output_changes(w)?;
        put(w, ",")?;
        put_key(w, "prior_state")?;
        put(w, "{")?;
        put_key(w, "format_version")?;
        put_json!(w, if v == "0.1" { "0.1" } else { "1.0" })?;
        put(w, ",")?;
        put_key(w, "terraform_version")?;
        put_json!(w, self.terraform_version)?;
        put(w, ",")?;
        put_key(w, "values")?;
        put(w, "{")?;
        put_key(w, "root_module")?;
        self.write_module_values(w, 0, &|i| self.instances[i].action.exists(), true)?;
        put(w, "}},")?;
        put_key(w, "configuration")?;
        self.write_configuration(w)?;
        if v >= "1.1" {
            put(w, ",")?;
            put_key(w, "relevant_attributes")?;
            self.write_relevant_attributes(w)?;
        }
        if v == "1.2" {
            let mut r = Rng::new(self.opts.seed ^ 0x7157);
            put(w, ",")?;
            put_key(w, "timestamp")?;
            put_json!(
                w,
                &format!(
                    "2025-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    r.range(1, 12),
                    r.range(1, 28),
                    r.range(0, 23),
                    r.range(0, 59),
                    r.range(0, 59)
                ),
            )?;
            put(w, r#","applyable":true,"complete":true,"errored":false"#)?;
        }
        put(w, "}\n")
    }

    fn variables_values(&self) -> Value {
        json!({
            "environment": {"value": self.env},
            "office_cidrs": {"value": ["203.0.113.0/24", "198.51.100.0/24"]},
            "region": {"value": self.region},
            "vpc_id": {"value": "vpc-0a1b2c3d4e5f60718"},
        })
    }

    fn outputs(&self) -> Vec<&'static str> {
        vec!["file_server_sg_ids", "lambda_arns", "vpc_id"]
    }

    fn planned_outputs(&self) -> Value {
        let mut m = Map::new();
        for o in self.outputs() {
            m.insert(o.into(), json!({"sensitive": false}));
        }
        Value::Object(m)
    }

    fn write_output_changes(&self, w: &mut impl Write) -> io::Result<()> {
        put(w, "{")?;
        for (n, o) in self.outputs().into_iter().enumerate() {
            if n > 0 {
                put(w, ",")?;
            }
            put_key(w, o)?;
            put(
                w,
                r#"{"actions":["create"],"before":null,"after_unknown":true"#,
            )?;
            if self.has_sensitive() {
                put(w, r#","before_sensitive":false,"after_sensitive":false"#)?;
            }
            put(w, "}")?;
        }
        put(w, "}")
    }

    /// `relevant_attributes`: a sample of existing resources whose `id` others read.
    fn write_relevant_attributes(&self, w: &mut impl Write) -> io::Result<()> {
        put(w, "[")?;
        let mut first = true;
        for &i in &self.sorted {
            let inst = &self.instances[i];
            if !(inst.action.exists()
                && inst.action != Action::Delete
                && inst.rng.0.is_multiple_of(40))
            {
                continue;
            }
            if !first {
                put(w, ",")?;
            }
            first = false;
            put(w, "{")?;
            put_key(w, "resource")?;
            put_json!(w, &inst.address)?;
            put(w, r#","attribute":["id"]}"#)?;
        }
        put(w, "]")
    }

    /// Number of instances under module instance `m` (itself included) that pass `keep`.
    fn subtree_has(&self, m: usize, keep: &dyn Fn(usize) -> bool) -> bool {
        self.modules[m].resources.iter().any(|&i| keep(i))
            || self.modules[m]
                .children
                .iter()
                .any(|&c| self.subtree_has(c, keep))
    }

    /// A module of `planned_values` or `prior_state`: its resources that pass `keep`, then its
    /// child modules.
    fn write_module_values(
        &self,
        w: &mut impl Write,
        m: usize,
        keep: &dyn Fn(usize) -> bool,
        prior: bool,
    ) -> io::Result<()> {
        let module = &self.modules[m];
        put(w, "{")?;
        let mut first = true;
        let resources: Vec<usize> = module
            .resources
            .iter()
            .copied()
            .filter(|&i| keep(i))
            .collect();
        if !resources.is_empty() {
            put_key(w, "resources")?;
            put(w, "[")?;
            for (n, &i) in resources.iter().enumerate() {
                if n > 0 {
                    put(w, ",")?;
                }
                self.write_resource_values(w, i, prior)?;
            }
            put(w, "]")?;
            first = false;
        }
        if m != 0 {
            if !first {
                put(w, ",")?;
            }
            put_key(w, "address")?;
            put_json!(w, &module.address)?;
            first = false;
        }
        let children: Vec<usize> = module
            .children
            .iter()
            .copied()
            .filter(|&c| self.subtree_has(c, keep))
            .collect();
        if !children.is_empty() {
            if !first {
                put(w, ",")?;
            }
            put_key(w, "child_modules")?;
            put(w, "[")?;
            for (n, &c) in children.iter().enumerate() {
                if n > 0 {
                    put(w, ",")?;
                }
                self.write_module_values(w, c, keep, prior)?;
            }
            put(w, "]")?;
        }
        put(w, "}")
    }

    fn write_resource_header(
        &self,
        w: &mut impl Write,
        i: usize,
        with_module: bool,
    ) -> io::Result<()> {
        let inst = &self.instances[i];
        let block = &self.blocks[inst.block];
        put_key(w, "address")?;
        put_json!(w, &inst.address)?;
        let module = &self.modules[inst.module].address;
        if with_module && !module.is_empty() {
            put(w, ",")?;
            put_key(w, "module_address")?;
            put_json!(w, module)?;
        }
        put(w, ",")?;
        put_key(w, "mode")?;
        put_json!(w, if block.data { "data" } else { "managed" })?;
        put(w, ",")?;
        put_key(w, "type")?;
        put_json!(w, block.resource_type())?;
        put(w, ",")?;
        put_key(w, "name")?;
        put_json!(w, &block.name)?;
        if let Some(key) = &inst.key {
            put(w, ",")?;
            put_key(w, "index")?;
            put_json!(w, &key.json())?;
        }
        put(w, ",")?;
        put_key(w, "provider_name")?;
        put_json!(w, self.provider_name)
    }

    fn write_resource_values(&self, w: &mut impl Write, i: usize, prior: bool) -> io::Result<()> {
        let change = self.change(i);
        let (values, sensitive) = if prior {
            (change.before, change.before_sensitive)
        } else {
            (change.after, change.after_sensitive)
        };
        put(w, "{")?;
        self.write_resource_header(w, i, false)?;
        put(w, ",")?;
        put_key(w, "schema_version")?;
        put_json!(w, &self.blocks[self.instances[i].block].schema_version())?;
        put(w, ",")?;
        put_key(w, "values")?;
        put_json!(w, &values.unwrap_or_else(|| json!({})))?;
        if self.has_sensitive() {
            put(w, ",")?;
            put_key(w, "sensitive_values")?;
            let sensitive = match sensitive {
                Value::Bool(_) => json!({}),
                other => other,
            };
            put_json!(w, &sensitive)?;
        }
        put(w, "}")
    }

    fn write_resource_change(&self, w: &mut impl Write, i: usize) -> io::Result<()> {
        let inst = &self.instances[i];
        let c = self.change(i);
        put(w, "{")?;
        self.write_resource_header(w, i, true)?;
        put(w, ",")?;
        put_key(w, "change")?;
        put(w, "{")?;
        put_key(w, "actions")?;
        put_json!(w, inst.action.words())?;
        put(w, ",")?;
        put_key(w, "before")?;
        put_json!(w, &c.before)?;
        put(w, ",")?;
        put_key(w, "after")?;
        put_json!(w, &c.after)?;
        put(w, ",")?;
        put_key(w, "after_unknown")?;
        put_json!(w, &c.after_unknown)?;
        if self.has_sensitive() {
            put(w, ",")?;
            put_key(w, "before_sensitive")?;
            put_json!(w, &c.before_sensitive)?;
            put(w, ",")?;
            put_key(w, "after_sensitive")?;
            put_json!(w, &c.after_sensitive)?;
        }
        let v1 = self.format_1x;
        if let (Some(paths), true) = (&c.replace_paths, v1) {
            put(w, ",")?;
            put_key(w, "replace_paths")?;
            put_json!(w, paths)?;
        }
        put(w, "}")?;
        if v1 {
            let reason = match inst.action {
                Action::DeleteCreate | Action::CreateDelete => {
                    Some("replace_because_cannot_update")
                }
                Action::Delete => Some("delete_because_no_resource_config"),
                _ => None,
            };
            if let Some(reason) = reason {
                put(w, ",")?;
                put_key(w, "action_reason")?;
                put_json!(w, reason)?;
            }
        }
        put(w, "}")
    }

    fn write_configuration(&self, w: &mut impl Write) -> io::Result<()> {
        put(w, "{")?;
        put_key(w, "provider_config")?;
        if self.opts.format_version == "0.1" {
            put(w, r#"{"aws":{"name":"aws","#)?;
        } else {
            put(
                w,
                r#"{"aws":{"name":"aws","full_name":"registry.terraform.io/hashicorp/aws","version_constraint":"~> 5.60","#,
            )?;
        }
        put(
            w,
            r#""expressions":{"region":{"references":["var.region"]}}}},"#,
        )?;
        put_key(w, "root_module")?;
        self.write_config_module(w, 0)?;
        put(w, "}")
    }

    fn write_config_module(&self, w: &mut impl Write, d: usize) -> io::Result<()> {
        let def = &self.defs[d];
        put(w, "{")?;
        put_key(w, "outputs")?;
        let outputs = if d == 0 {
            let mut m = Map::new();
            for o in self.outputs() {
                m.insert(
                    o.into(),
                    json!({"expression": {"references": [format!("module.{}", self.defs.get(1).map_or("app", |d| d.name.as_str()))]},
                        "description": format!("The {}", o.replace('_', " "))}),
                );
            }
            Value::Object(m)
        } else {
            json!({"id": {"expression": {"references": ["aws_security_group.this.id", "aws_security_group.this"]}}})
        };
        put_json!(w, &outputs)?;
        put(w, ",")?;
        put_key(w, "resources")?;
        put(w, "[")?;
        let mut blocks: Vec<&Block> = def
            .blocks
            .iter()
            .map(|&b| &self.blocks[b])
            .filter(|b| !b.deleted)
            .collect();
        blocks.sort_by_key(|b| b.local_address());
        for (n, block) in blocks.iter().enumerate() {
            if n > 0 {
                put(w, ",")?;
            }
            self.write_config_resource(w, block)?;
        }
        put(w, "]")?;
        if !def.children.is_empty() {
            put(w, ",")?;
            put_key(w, "module_calls")?;
            put(w, "{")?;
            let mut children = def.children.clone();
            children.sort_by_key(|&c| self.defs[c].name.clone());
            for (n, &c) in children.iter().enumerate() {
                let child = &self.defs[c];
                if n > 0 {
                    put(w, ",")?;
                }
                put_key(w, &child.name)?;
                put(w, "{")?;
                put_key(w, "source")?;
                put_json!(w, &child.source)?;
                put(w, ",")?;
                put_key(w, "expressions")?;
                put_json!(
                    w,
                    &json!({
                        "environment": {"references": ["var.environment"]},
                        "security_group_id": {"references": ["aws_security_group.shared.id", "aws_security_group.shared"]},
                        "tags": {"references": ["local.common_tags"]},
                        "vpc_id": {"references": ["var.vpc_id"]},
                    }),
                )?;
                match &child.expansion {
                    Expansion::Single => {}
                    Expansion::Count(n) => {
                        put(w, ",")?;
                        put_key(w, "count_expression")?;
                        put_json!(w, &json!({"constant_value": n}))?;
                    }
                    Expansion::ForEach(_) => {
                        put(w, ",")?;
                        put_key(w, "for_each_expression")?;
                        put_json!(w, &json!({"references": ["local.tenants"]}))?;
                    }
                }
                put(w, ",")?;
                put_key(w, "module")?;
                self.write_config_module(w, c)?;
                if let Some(version) = child.version {
                    put(w, ",")?;
                    put_key(w, "version_constraint")?;
                    put_json!(w, version)?;
                }
                put(w, "}")?;
            }
            put(w, "}")?;
        }
        put(w, ",")?;
        put_key(w, "variables")?;
        let variables = if d == 0 {
            json!({
                "environment": {"default": "dev", "description": "Deployment environment"},
                "office_cidrs": {"default": ["203.0.113.0/24"], "description": "Office egress ranges"},
                "region": {"default": "eu-west-1", "description": "AWS region"},
                "vpc_id": {"description": "The VPC everything lives in"},
            })
        } else {
            json!({
                "environment": {"description": "Deployment environment"},
                "security_group_id": {"default": null, "description": "Group the rules attach to"},
                "tags": {"default": {}, "description": "Tags for every resource"},
                "vpc_id": {"description": "VPC id"},
            })
        };
        put_json!(w, &variables)?;
        put(w, "}")
    }

    /// One block of the configuration summary, in Terraform's key order.
    fn write_config_resource(&self, w: &mut impl Write, block: &Block) -> io::Result<()> {
        let in_module = block.def != 0;
        let mut expressions = Map::new();
        for (k, e) in block.arguments(self.format_1x, in_module) {
            expressions.insert(k.to_string(), e.config());
        }
        let key = if in_module && self.opts.format_version == "0.1" {
            format!("{}:aws", self.module_path(block.def))
        } else {
            "aws".to_string()
        };
        put(w, "{")?;
        put_key(w, "address")?;
        put_json!(w, &block.local_address())?;
        put(w, ",")?;
        put_key(w, "mode")?;
        put_json!(w, if block.data { "data" } else { "managed" })?;
        put(w, ",")?;
        put_key(w, "type")?;
        put_json!(w, block.resource_type())?;
        put(w, ",")?;
        put_key(w, "name")?;
        put_json!(w, &block.name)?;
        put(w, ",")?;
        put_key(w, "provider_config_key")?;
        put_json!(w, &key)?;
        put(w, ",")?;
        put_key(w, "expressions")?;
        put_json!(w, &expressions)?;
        put(w, ",")?;
        put_key(w, "schema_version")?;
        put_json!(w, &block.schema_version())?;
        match &block.expansion {
            Expansion::Single => {}
            Expansion::Count(n) => {
                put(w, ",")?;
                put_key(w, "count_expression")?;
                put_json!(w, &json!({"constant_value": n}))?;
            }
            Expansion::ForEach(_) => {
                // `toset([...])` is a function call: Terraform summarizes it as `{}`.
                put(w, ",")?;
                put_key(w, "for_each_expression")?;
                put(w, "{}")?;
            }
        }
        put(w, "}")
    }

    fn module_path(&self, d: usize) -> String {
        let mut names = Vec::new();
        let mut at = Some(d);
        while let Some(i) = at {
            if i != 0 {
                names.push(self.defs[i].name.clone());
            }
            at = self.defs[i].parent;
        }
        names.reverse();
        names.join(".")
    }

    // ---- the Terraform sources ------------------------------------------------------------------

    fn write_sources(&self, dir: &Path) -> io::Result<SourceSummary> {
        std::fs::create_dir_all(dir)?;
        let mut summary = SourceSummary::default();
        let mut r = Rng::new(self.opts.seed ^ 0x7f_50_75_72);
        let root: Vec<usize> = self.defs[0]
            .blocks
            .iter()
            .copied()
            .filter(|&b| !self.blocks[b].deleted)
            .collect();
        let sg: Vec<usize> = root
            .iter()
            .copied()
            .filter(|&b| self.blocks[b].sg().is_some())
            .collect();
        let mut others = root
            .iter()
            .copied()
            .filter(|&b| self.blocks[b].sg().is_none())
            .peekable();

        let mut main = String::from(
            "terraform {\n  required_version = \">= 1.5.0\"\n\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \"~> 5.60\"\n    }\n  }\n}\n\nprovider \"aws\" {\n  region = var.region\n}\n\nlocals {\n  common_tags = {\n    Environment = var.environment\n    ManagedBy   = \"terraform\"\n  }\n\n  policy_documents        = {}\n  assume_role_policies    = {}\n  container_definitions   = \"[]\"\n  tenants                 = toset([\"blue\", \"green\"])\n}\n",
        );
        main.push_str("\n# Variables\n\n");
        for (name, default) in [
            ("environment", Some("\"dev\"")),
            ("region", Some("\"eu-west-1\"")),
            ("office_cidrs", Some("[\"203.0.113.0/24\"]")),
            ("vpc_id", None),
            ("subnet_id", None),
            ("zone_id", None),
            ("network_acl_id", None),
            ("route_table_id", None),
        ] {
            main.push_str(&format!("variable \"{name}\" {{\n"));
            if let Some(d) = default {
                main.push_str(&format!("  default = {d}\n"));
            }
            main.push_str("}\n\n");
        }
        std::fs::write(dir.join("main.tf"), main)?;
        summary.files += 1;

        let mut modules = String::new();
        for &c in &self.defs[0].children {
            let def = &self.defs[c];
            modules.push_str(&format!(
                "module \"{}\" {{\n  source = \"{}\"\n",
                def.name, def.source
            ));
            if let Some(v) = def.version {
                modules.push_str(&format!("  version = \"{v}\"\n"));
            }
            match &def.expansion {
                Expansion::Single => {}
                Expansion::Count(n) => modules.push_str(&format!("  count  = {n}\n")),
                Expansion::ForEach(keys) => {
                    let keys: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
                    modules.push_str(&format!("  for_each = toset([{}])\n", keys.join(", ")));
                }
            }
            modules.push_str("\n  environment = var.environment\n  vpc_id      = var.vpc_id\n  tags        = local.common_tags\n}\n\n");
        }
        if !modules.is_empty() {
            std::fs::write(dir.join("modules.tf"), modules)?;
            summary.files += 1;
        }

        const PREFIXES: [&str; 6] = [
            "network", "security", "firewall", "shares", "legacy", "services",
        ];
        for (f, chunk) in sg.chunks(3).enumerate() {
            let mut text = String::new();
            text.push_str(&format!(
                "# {} - generated by gen_plan (seed {}), part {}\n",
                PREFIXES[f % PREFIXES.len()],
                self.opts.seed,
                f + 1
            ));
            for &b in chunk {
                if r.chance(60)
                    && let Some(o) = others.next()
                {
                    text.push('\n');
                    text.push_str(&self.hcl_block(o, &mut r));
                    summary.blocks += 1;
                }
                text.push('\n');
                text.push_str(&self.hcl_block(b, &mut r));
                summary.blocks += 1;
            }
            let name = format!("{}_{:03}.tf", PREFIXES[f % PREFIXES.len()], f + 1);
            std::fs::write(dir.join(name), text)?;
            summary.files += 1;
        }
        // The rest of the root module, a few blocks per file.
        let rest: Vec<usize> = others.collect();
        for (f, chunk) in rest.chunks(4).enumerate() {
            let mut text = format!("# resources, part {}\n", f + 1);
            for &b in chunk {
                text.push('\n');
                text.push_str(&self.hcl_block(b, &mut r));
                summary.blocks += 1;
            }
            std::fs::write(dir.join(format!("resources_{:03}.tf", f + 1)), text)?;
            summary.files += 1;
        }
        Ok(summary)
    }

    /// One `resource` / `data` block, formatted one of a few ways.
    fn hcl_block(&self, b: usize, r: &mut Rng) -> String {
        let block = &self.blocks[b];
        let style = r.below(3);
        let align = style != 1;
        let mut out = String::new();
        if style == 1 || r.chance(30) {
            out.push_str(&format!(
                "{} {}\n",
                if r.chance(50) { "#" } else { "//" },
                [
                    "Owned by the platform team.",
                    "TODO: review before the audit",
                    "Imported from the old account.",
                    "See OPS-1234."
                ][r.below(4)]
            ));
        }
        if style == 2 && r.chance(40) {
            out.push_str("/* Do not edit by hand:\n   changes go through the change board. */\n");
        }
        out.push_str(&format!(
            "{} \"{}\" \"{}\" {{\n",
            if block.data { "data" } else { "resource" },
            block.resource_type(),
            block.name
        ));
        let mut meta: Vec<(String, String)> = Vec::new();
        match &block.expansion {
            Expansion::Single => {}
            Expansion::Count(n) => meta.push(("count".into(), n.to_string())),
            Expansion::ForEach(keys) => {
                let keys: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
                meta.push(("for_each".into(), format!("toset([{}])", keys.join(", "))));
            }
        }
        if !meta.is_empty() {
            push_attributes(&mut out, "  ", &meta, align);
            out.push('\n');
        }
        let args = block.arguments(true, false);
        let mut flat: Vec<(String, String)> = Vec::new();
        let mut nested: Vec<(&str, &Rule)> = Vec::new();
        let sg = block.sg();
        for (k, e) in &args {
            if matches!(*k, "ingress" | "egress") {
                continue;
            }
            let text = match e {
                Expr::Const(v) => hcl_value(v, 1),
                Expr::Ref(text, _) => text.clone(),
            };
            // A rule resource's CIDR list may be written one element per line.
            let text = match (sg, *k) {
                (Some(s), "cidr_blocks") if s.single().multiline => {
                    multiline_list(&s.single().v4, "  ", r)
                }
                _ => text,
            };
            flat.push((k.to_string(), text));
        }
        if let Some(s) = sg
            && matches!(s.kind, SgKind::Group | SgKind::DefaultGroup)
        {
            nested.extend(s.ingress.iter().map(|x| ("ingress", x)));
            nested.extend(s.egress.iter().map(|x| ("egress", x)));
        }
        let (tags, flat): (Vec<_>, Vec<_>) = flat.into_iter().partition(|(k, _)| k == "tags");
        push_attributes(&mut out, "  ", &flat, align);
        for (ident, rule) in nested {
            out.push('\n');
            if style == 1 && r.chance(50) {
                out.push_str(&format!("  # {}\n", rule.description));
            }
            out.push_str(&format!("  {ident} {{\n"));
            let mut attrs: Vec<(String, String)> = Vec::new();
            if !rule.description.is_empty() {
                attrs.push(("description".into(), hcl_string(&rule.description)));
            }
            attrs.push(("from_port".into(), rule.from.unwrap_or(0).to_string()));
            attrs.push(("to_port".into(), rule.to.unwrap_or(0).to_string()));
            attrs.push(("protocol".into(), hcl_string(rule.written_protocol)));
            if !rule.v4.is_empty() {
                let text = if rule.multiline {
                    multiline_list(&rule.v4, "    ", r)
                } else {
                    hcl_value(&list(&rule.v4), 2)
                };
                attrs.push(("cidr_blocks".into(), text));
            }
            if !rule.v6.is_empty() {
                attrs.push(("ipv6_cidr_blocks".into(), hcl_value(&list(&rule.v6), 2)));
            }
            if !rule.groups.is_empty() {
                attrs.push(("security_groups".into(), hcl_value(&list(&rule.groups), 2)));
            }
            if !rule.prefix_lists.is_empty() {
                attrs.push((
                    "prefix_list_ids".into(),
                    hcl_value(&list(&rule.prefix_lists), 2),
                ));
            }
            if rule.self_ {
                attrs.push(("self".into(), "true".into()));
            }
            push_attributes(&mut out, "    ", &attrs, align);
            out.push_str("  }\n");
        }
        if !tags.is_empty() {
            out.push('\n');
            push_attributes(&mut out, "  ", &tags, align);
        }
        if let Some(s) = sg
            && s.kind == SgKind::Group
            && r.chance(30)
        {
            out.push_str("\n  lifecycle {\n    create_before_destroy = true\n  }\n");
        }
        out.push_str("}\n");
        out
    }
}

/// The `after_unknown` / `*_sensitive` shape of a known object: collections mirrored, other
/// values left out (lists hold `false` for their known scalar elements).
fn shape_object(m: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in m {
        match v {
            Value::Array(items) => {
                out.insert(
                    k.clone(),
                    Value::Array(items.iter().map(shape_element).collect()),
                );
            }
            Value::Object(inner) => {
                out.insert(k.clone(), Value::Object(shape_object(inner)));
            }
            _ => {}
        }
    }
    out
}

fn shape_element(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(shape_element).collect()),
        Value::Object(inner) => Value::Object(shape_object(inner)),
        _ => Value::Bool(false),
    }
}

// ---- HCL -----------------------------------------------------------------------------------------

fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn hcl_value(v: &Value, depth: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => hcl_string(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|i| hcl_value(i, depth + 1)).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(m) => {
            if m.is_empty() {
                return "{}".into();
            }
            let indent = "  ".repeat(depth + 1);
            let mut out = String::from("{\n");
            for (k, v) in m {
                let key = if is_identifier(k) {
                    k.clone()
                } else {
                    hcl_string(k)
                };
                out.push_str(&format!("{indent}{key} = {}\n", hcl_value(v, depth + 1)));
            }
            out.push_str(&"  ".repeat(depth));
            out.push('}');
            out
        }
    }
}

/// A CIDR list one element per line, with a comment on the first.
fn multiline_list(items: &[String], indent: &str, r: &mut Rng) -> String {
    let mut out = String::from("[\n");
    for (i, item) in items.iter().enumerate() {
        out.push_str(&format!("{indent}  {},", hcl_string(item)));
        if i == 0 {
            out.push_str(["   # anyone!", " # TODO narrow", " // partners"][r.below(3)]);
        }
        out.push('\n');
    }
    out.push_str(indent);
    out.push(']');
    out
}

/// `key = value` lines, aligned on `=` like `terraform fmt` when `align`.
fn push_attributes(out: &mut String, indent: &str, attrs: &[(String, String)], align: bool) {
    let width = attrs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in attrs {
        let pad = if align { width - k.len() } else { 0 };
        out.push_str(&format!("{indent}{k}{} = {v}\n", " ".repeat(pad)));
    }
}

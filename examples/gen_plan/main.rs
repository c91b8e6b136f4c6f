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
//!
//! How it is built: each resource kind is one description ([`kinds::Kind`]: its type, its
//! arguments as written, its state after apply, what stays unknown until apply), the common
//! ones in [`resources`], the security-group ones and their rule templates in
//! [`security_groups`]. [`layout`] draws the modules, blocks and instances from the seed; two
//! renderers write them out, [`plan_json`] the plan and [`sources`] the `.tf` files. The words
//! real plans are written in are in [`words`], the random numbers and JSON writers in
//! [`tools`].

pub mod kinds;
mod layout;
mod plan_json;
pub mod resources;
pub mod security_groups;
mod sources;
mod tools;
mod words;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::Path;

use serde_json::{Value, json};

use layout::Layout;
use tools::{Counting, Indent};

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
    pub fn violation_percent(self) -> usize {
        match self {
            Shape::Sparse => 15,
            Shape::Dense => 5,
            Shape::Rules => 2,
        }
    }

    /// The violation templates (numbers of [`violation`]) this shape draws from.
    pub fn violations(self) -> &'static [usize] {
        match self {
            Shape::Sparse => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
            Shape::Dense => &[0, 1, 2, 3, 4, 5, 12, 13, 15],
            Shape::Rules => &[6, 7, 8, 9, 10, 11, 14],
        }
    }

    /// The near-miss templates (numbers of [`near_miss`]) this shape draws from.
    pub fn near_misses(self) -> &'static [usize] {
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

//! What `portgate check` and `portgate audit` both do: read each input (in parallel when
//! there are several), judge it, suggest fixes, render one report, write the patches; the
//! exit code says the verdict. It must not parse flags (`flags.rs`, `check.rs`, `audit.rs`
//! do) nor know how a format is written (`report`).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use super::flags::{CheckFormat, ColorChoice, Gate, RunArgs};
use super::{EXIT_ERROR, EXIT_FINDINGS, EXIT_PASS, Streams, Terminal, ignore_broken_pipe};
use crate::Error;
use crate::config::{ConfigError, TrustedCidr};
use crate::fix::{self, FixOptions, FixSet, SourceLocation};
use crate::gate::{CheckOptions, CheckReport};
use crate::plan::InputKind;
use crate::policy::PolicySet;
use crate::report::ReportContext;
use crate::report::many::Runs;
use crate::report::text::TextOptions;

/// How much newer than the plan a source file must be to count: a checkout writes files in no
/// particular order, a second or so apart at most.
const FRESHNESS_SLACK: std::time::Duration = std::time::Duration::from_secs(60);

/// Says so when a Terraform file the plan was made from (in the root module `source_dir`, or
/// a local module directory of a checked resource) was changed more than a minute after `plan`
/// was written: the plan may not show the current sources.
fn stale_plan(
    plan: &std::path::Path,
    source_dir: &std::path::Path,
    rules: &crate::rules::RuleSet,
) -> Option<String> {
    let plan_time = std::fs::metadata(plan).and_then(|m| m.modified()).ok()?;
    let tree = crate::sources::tree::SourceTree::new(source_dir);
    let mut dirs: Vec<PathBuf> = vec![source_dir.to_path_buf()];
    // Each module path once: a plan has many resources per module.
    let mut seen: std::collections::HashSet<&[crate::rules::ModuleCallSource]> =
        std::collections::HashSet::new();
    for resource in &rules.resources {
        if let Some(calls) = &resource.module_calls
            && seen.insert(calls.as_slice())
            && let Ok(dir) = tree.module_dir(calls)
            && !dirs.contains(&dir)
        {
            dirs.push(dir);
        }
    }
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let terraform = [".tf", ".tf.json", ".tofu", ".tfvars", ".tfvars.json"]
                .iter()
                .any(|ext| name.ends_with(ext));
            if !terraform || crate::sources::tree::is_ignored(&entry.path()) {
                continue;
            }
            if let Ok(modified) = entry.metadata().and_then(|m| m.modified())
                && newest.as_ref().is_none_or(|(t, _)| modified > *t)
            {
                newest = Some((modified, entry.path()));
            }
        }
    }
    let (time, file) = newest?;
    let ahead = time.duration_since(plan_time).ok()?;
    (ahead > FRESHNESS_SLACK).then(|| {
        format!(
            "the plan is older than {} (changed {} min after the plan was written): it may not show the current sources; run `terraform plan` again",
            file.display(),
            ahead.as_secs() / 60
        )
    })
}

/// The inputs of a `check` or an `audit`.
pub(super) struct Inputs<'a> {
    pub kind: InputKind,
    pub paths: &'a [PathBuf],
    /// The name reports give a single input (`--plan-name`, `--state-name`).
    pub name: Option<&'a str>,
    pub require_fresh_plan: bool,
}

/// What every input of a run is judged with.
struct Judge {
    policies: PolicySet,
    trusted: Vec<TrustedCidr>,
    trusted_vpc: bool,
    options: CheckOptions,
}

/// One input, judged: its report, its fixes and where its rules are declared.
struct Checked {
    report: CheckReport,
    fixes: Option<FixSet>,
    locations: BTreeMap<usize, SourceLocation>,
    /// The source directory as given (or the input's own directory, with several inputs).
    source: PathBuf,
}

pub(super) fn run(
    inputs: &Inputs<'_>,
    args: &RunArgs,
    streams: Streams<'_>,
    terminal: Terminal,
) -> Result<u8, Error> {
    let Streams {
        stdin,
        stdout,
        stderr,
    } = streams;
    let today = match &args.today {
        Some(text) => crate::waiver::parse_date(text).map_err(|message| {
            Error::Config(ConfigError::Flag {
                flag: "--today",
                value: text.clone(),
                message,
            })
        })?,
        None => time::OffsetDateTime::now_utc().date(),
    };
    let Gate {
        policies,
        trusted,
        trusted_vpc,
        mut options,
        ..
    } = args.gate.resolve(today)?;
    options.input = inputs.kind;
    if inputs.kind == InputKind::State && args.gate.only_changes {
        return Err(Error::Usage(
            "--only-changes keeps what a plan changes; a state has no changes (audit reports every object it holds)"
                .to_string(),
        ));
    }
    // JUnit has a test case per rule and conftest counts them: they need every rule.
    options.list_every_rule = matches!(args.format, CheckFormat::Junit | CheckFormat::Conftest);
    if trusted.is_empty() && !trusted_vpc && (args.format == CheckFormat::Diff || args.write) {
        return Err(Error::Usage(format!(
            "{} needs trusted CIDRs to put in place of the world: pass --trusted-cidr CIDR (or --trusted-cidr vpc for each group's own VPC CIDRs) or set trusted_cidrs in portgate.toml",
            if args.write {
                "--write"
            } else {
                "--format diff"
            }
        )));
    }
    if args.no_source && (args.format == CheckFormat::Diff || args.write) {
        return Err(Error::Usage(format!(
            "{} patches the Terraform sources, which --no-source says not to read",
            if args.write {
                "--write"
            } else {
                "--format diff"
            }
        )));
    }
    let several = inputs.paths.len() > 1;
    if several && inputs.name.is_some() {
        return Err(Error::Usage(format!(
            "--{}-name names a single input; with several, reports name each by its path",
            inputs.kind.noun()
        )));
    }
    if several && inputs.paths.iter().any(|p| p.as_os_str() == "-") {
        return Err(Error::Usage(
            "`-` (standard input) can only be the one input of a run".to_string(),
        ));
    }
    let sources = source_dirs(inputs.paths, &args.source, args.no_source)?;
    let judge = Judge {
        policies,
        trusted,
        trusted_vpc,
        options,
    };
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal.stdout_is_terminal && !terminal.no_color,
    };
    let progress = super::progress::Progress::start(inputs.paths, &terminal);
    if !several {
        // One input: exactly the report `check` has always printed.
        let checked = judge_one(
            inputs,
            &inputs.paths[0],
            sources[0].as_deref(),
            &judge,
            args,
            Some(stdin),
            &progress,
        );
        progress.finish();
        let checked = checked?;
        let context = checked.context(&judge.policies);
        write_report(args, color, stdout, stderr, |format, color, out, err| {
            render(format, &context, color, out, err, &terminal)
        })?;
        write_patches(args, inputs.kind, std::slice::from_ref(&checked), stderr)?;
        return Ok(verdict(args, std::slice::from_ref(&checked)));
    }
    // Several inputs: read in parallel, each in its streaming memory bound; an input that
    // cannot be read is an error of the run (exit 2), and the report covers the others.
    let results = super::parallel::map(inputs.paths.len(), |i| {
        judge_one(
            inputs,
            &inputs.paths[i],
            sources[i].as_deref(),
            &judge,
            args,
            None,
            &progress,
        )
    });
    progress.finish();
    let mut checked = Vec::new();
    let mut unreadable = Vec::new();
    for (path, result) in inputs.paths.iter().zip(results) {
        match result {
            Ok(one) => checked.push(one),
            Err(e) => unreadable.push((path.display().to_string(), e.to_string())),
        }
    }
    let contexts: Vec<ReportContext<'_>> =
        checked.iter().map(|c| c.context(&judge.policies)).collect();
    let runs = Runs {
        kind: inputs.kind,
        contexts: &contexts,
        unreadable: &unreadable,
    };
    // Two inputs that would patch one file differently: no combined patch is right for both
    // (`--write` refuses them too, after the report).
    let merged = if args.format == CheckFormat::Diff {
        merged_patches(&checked)?
    } else {
        Vec::new()
    };
    write_report(args, color, stdout, stderr, |format, color, out, err| {
        render_many(format, &runs, &merged, color, out, err, &terminal)
    })?;
    for (_, message) in &unreadable {
        let _ = writeln!(stderr, "portgate: error: {message}");
    }
    if !unreadable.is_empty() {
        return Ok(EXIT_ERROR);
    }
    write_patches(args, inputs.kind, &checked, stderr)?;
    Ok(verdict(args, &checked))
}

/// The exit code of judged inputs: 1 when any fails the gate (and `--soft-fail` is off).
fn verdict(args: &RunArgs, checked: &[Checked]) -> u8 {
    if checked.iter().any(|c| c.report.fails()) && !args.soft_fail {
        EXIT_FINDINGS
    } else {
        EXIT_PASS
    }
}

/// Writes the report in `--format` to stdout, or to `--output` (never colored) with the text
/// report on stdout. `render(format, color, out, err)` writes one format.
fn write_report(
    args: &RunArgs,
    color: bool,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    render: impl Fn(CheckFormat, bool, &mut dyn Write, &mut dyn Write) -> io::Result<()>,
) -> Result<(), Error> {
    let written = match &args.output {
        Some(path) => {
            let mut rendered = Vec::new();
            render(args.format, false, &mut rendered, stderr).map_err(|e| Error::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            std::fs::write(path, rendered).map_err(|e| Error::Io {
                path: path.display().to_string(),
                message: format!("cannot write: {e}"),
            })?;
            render(CheckFormat::Text, color, stdout, stderr)
        }
        None => render(args.format, color, stdout, stderr),
    };
    ignore_broken_pipe(written)
}

/// `--write`: every input's source patches, once each; two inputs that would edit one file
/// differently are refused before anything is written.
fn write_patches(
    args: &RunArgs,
    kind: InputKind,
    checked: &[Checked],
    stderr: &mut dyn Write,
) -> Result<(), Error> {
    if !args.write {
        return Ok(());
    }
    let files = merged_patches(checked)?;
    let written = fix::write::write_files(&files)?;
    for file in &written {
        let _ = writeln!(stderr, "portgate: wrote {file}");
    }
    if !written.is_empty() {
        let _ = writeln!(
            stderr,
            "{}",
            match kind {
                InputKind::Plan =>
                    "portgate: the findings above are from the plan made before these changes: run `terraform plan` again and check the new plan",
                InputKind::State =>
                    "portgate: the findings above are from the state before these changes: run `terraform plan`, check the plan, and apply it to close them",
            }
        );
    }
    Ok(())
}

/// The source patches of all inputs, one per file: two inputs made from one root module (two
/// workspaces, say) patch its files alike and are written once; two that would patch one
/// file differently cannot both be right, so nothing is written.
fn merged_patches(checked: &[Checked]) -> Result<Vec<fix::FilePatch>, Error> {
    // Each patch with the real path of its file (one file may be named two ways) and the
    // input it comes from.
    let mut files: Vec<(fix::FilePatch, PathBuf, &str)> = Vec::new();
    for one in checked {
        let Some(fixes) = &one.fixes else { continue };
        for patch in &fixes.files {
            let canonical = std::fs::canonicalize(&patch.path).unwrap_or(patch.path.clone());
            match files.iter().find(|(_, real, _)| *real == canonical) {
                Some((earlier, _, by)) if earlier.patched() != patch.patched() => {
                    return Err(Error::Usage(format!(
                        "{} and {} would patch {} differently; run them one at a time (with --write) and plan again in between",
                        by,
                        one.report.plan.file,
                        patch.path.display()
                    )));
                }
                Some(_) => {}
                None => files.push((patch.clone(), canonical, one.report.plan.file.as_str())),
            }
        }
    }
    Ok(files.into_iter().map(|(patch, _, _)| patch).collect())
}

/// Each input's source directory: `--source PLAN=DIR` for that input, `--source DIR` for
/// the others (with one input, `.` when not given); with several inputs and no `--source
/// DIR`, the input's own directory. `None` under `--no-source`.
fn source_dirs(
    paths: &[PathBuf],
    given: &[String],
    no_source: bool,
) -> Result<Vec<Option<PathBuf>>, Error> {
    if no_source {
        return Ok(vec![None; paths.len()]);
    }
    let mut shared: Option<PathBuf> = None;
    let mut paired: Vec<(PathBuf, PathBuf)> = Vec::new();
    for entry in given {
        let pair = entry.split_once('=').filter(|(input, _)| {
            paths
                .iter()
                .any(|p| p.as_os_str() == std::ffi::OsStr::new(input))
        });
        match pair {
            Some((input, dir)) => paired.push((PathBuf::from(input), PathBuf::from(dir))),
            None if shared.is_some() => {
                return Err(Error::Usage(format!(
                    "--source {entry}: one --source DIR for all inputs at most; pair the others with their input as --source INPUT=DIR"
                )));
            }
            None => shared = Some(PathBuf::from(entry)),
        }
    }
    let dirs: Vec<Option<PathBuf>> = paths
        .iter()
        .map(|path| {
            let own = paired
                .iter()
                .find(|(input, _)| input == path)
                .map(|(_, dir)| dir.clone());
            Some(own.or_else(|| shared.clone()).unwrap_or_else(|| {
                if paths.len() == 1 {
                    PathBuf::from(".")
                } else {
                    match path.parent() {
                        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                        _ => PathBuf::from("."),
                    }
                }
            }))
        })
        .collect();
    for dir in dirs.iter().flatten() {
        if !dir.is_dir() {
            return Err(Error::Io {
                path: dir.display().to_string(),
                message: "--source must be a directory (the Terraform root module)".to_string(),
            });
        }
    }
    Ok(dirs)
}

impl Checked {
    fn context<'a>(&'a self, policies: &'a PolicySet) -> ReportContext<'a> {
        ReportContext {
            report: &self.report,
            policies,
            fixes: self.fixes.as_ref(),
            locations: &self.locations,
            source_dir: &self.source,
        }
    }
}

/// Reads and judges one input (`stdin` for `-`): the report, the stale-plan check, the fixes
/// and, for formats that point into files, where each rule is declared.
fn judge_one(
    inputs: &Inputs<'_>,
    path: &std::path::Path,
    source_dir: Option<&std::path::Path>,
    judge: &Judge,
    args: &RunArgs,
    stdin: Option<&mut dyn io::Read>,
    progress: &super::progress::Progress,
) -> Result<Checked, Error> {
    let Judge {
        policies,
        trusted,
        trusted_vpc,
        options,
    } = judge;
    let mut options = options.clone();
    options.source_dir = source_dir.map(std::path::Path::to_path_buf);
    let noun = inputs.kind.noun();
    // The input is streamed, never read whole: its size does not decide portgate's memory.
    let report = match stdin {
        Some(stdin) if path.as_os_str() == "-" => {
            let name = inputs.name.unwrap_or("-");
            crate::check_reader(progress.reader(stdin), name, policies, &options)?
        }
        _ => {
            let shown = path.display().to_string();
            let name = inputs
                .name
                .map(str::to_string)
                .unwrap_or_else(|| shown.clone());
            let io_error = |e: io::Error| Error::Io {
                path: shown.clone(),
                message: match e.kind() {
                    io::ErrorKind::NotFound => "no such file".to_string(),
                    io::ErrorKind::IsADirectory => {
                        format!("is a directory; pass the {noun} JSON file")
                    }
                    _ => format!("cannot read: {e}"),
                },
            };
            if path.is_dir() {
                return Err(io_error(io::ErrorKind::IsADirectory.into()));
            }
            // The kernel's copy of the file happens on a second thread, beside the scanning.
            let open = || -> io::Result<Box<dyn io::Read>> {
                let file = std::fs::File::open(path)?;
                Ok(Box::new(crate::plan::ReadAhead::new(file)))
            };
            let file = progress.reader(open().map_err(io_error)?);
            let report = crate::check_input(file, Some(&open), &name, policies, &options);
            progress.input_done();
            report?
        }
    };
    // A state is not made from the sources as a plan is: nothing to be stale against.
    let stale = match source_dir {
        Some(dir) if path.as_os_str() != "-" && inputs.kind == InputKind::Plan => {
            stale_plan(path, dir, &report.rules)
        }
        _ => None,
    };
    if let Some(message) = &stale
        && inputs.require_fresh_plan
    {
        return Err(Error::Io {
            path: path.display().to_string(),
            message: format!("{message} (--require-fresh-plan)"),
        });
    }
    let mut report = report;
    report
        .warnings
        .extend(crate::config::check_trusted_set(trusted).unwrap_or_default());
    report.warnings.extend(stale);
    // Without a trusted CIDR, each group's own VPC CIDR is suggested (labelled, to confirm).
    let fixes = Some(fix::suggest(
        &report.rules,
        report.findings.iter().map(|g| &g.finding),
        policies,
        &FixOptions {
            trusted: trusted.clone(),
            source_dir: source_dir.map(std::path::Path::to_path_buf),
            use_vpc: *trusted_vpc || trusted.is_empty(),
            max_source_bytes: None,
        },
    ));
    let source = source_dir.map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
    let locations = match source_dir {
        Some(dir)
            if matches!(
                args.format,
                CheckFormat::Sarif | CheckFormat::Github | CheckFormat::Gitlab | CheckFormat::Junit
            ) =>
        {
            fix::locate(
                &report.rules,
                report.findings.iter().map(|g| &g.finding),
                dir,
            )
        }
        _ => Default::default(),
    };
    Ok(Checked {
        report,
        fixes,
        locations,
        source,
    })
}

/// Renders the report of several inputs in `format` (see `report::many`).
fn render_many(
    format: CheckFormat,
    runs: &Runs<'_, '_>,
    merged: &[fix::FilePatch],
    color: bool,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    terminal: &Terminal,
) -> io::Result<()> {
    use crate::report::{conftest, gitlab, json, junit, many, sarif};
    match format {
        CheckFormat::Text => many::text(runs, color, stdout),
        CheckFormat::Json => {
            let reports: Vec<_> = runs.contexts.iter().map(|c| (c.report, c.fixes)).collect();
            json::write_many(runs.kind, &reports, runs.unreadable, stdout)
        }
        CheckFormat::Diff => many::diff(runs, merged, stdout, stderr),
        CheckFormat::Sarif => sarif::write_many(runs.contexts, runs.unreadable, stdout),
        CheckFormat::Junit => junit::write_many(runs.contexts, runs.unreadable, stdout),
        CheckFormat::Gitlab => gitlab::write_many(runs.contexts, stdout),
        CheckFormat::Conftest => stdout.write_all(conftest::render_many(runs.contexts).as_bytes()),
        CheckFormat::Markdown => many::markdown(runs, stdout),
        CheckFormat::Github => {
            many::github(runs, stdout)?;
            if let Some(path) = &terminal.github_step_summary {
                let mut summary = Vec::new();
                many::markdown(runs, &mut summary)?;
                append(path, &summary)?;
            }
            Ok(())
        }
    }
}

/// Appends `bytes` to the file at `path` (GitHub's step summary).
fn append(path: &std::path::Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(bytes)
}

/// Renders the report in `format`.
fn render(
    format: CheckFormat,
    context: &ReportContext<'_>,
    color: bool,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    terminal: &Terminal,
) -> io::Result<()> {
    let ReportContext {
        report,
        policies,
        fixes,
        ..
    } = *context;
    match format {
        CheckFormat::Json => crate::report::json::write(report, fixes, stdout),
        CheckFormat::Diff => match fixes {
            Some(fixes) => crate::report::diff::write(report, fixes, stdout, stderr),
            None => Ok(()),
        },
        CheckFormat::Text => {
            crate::report::text::write(report, policies, fixes, TextOptions { color }, stdout)
        }
        CheckFormat::Sarif => crate::report::sarif::write(context, stdout),
        CheckFormat::Gitlab => crate::report::gitlab::write(context, stdout),
        CheckFormat::Junit => crate::report::junit::write(context, stdout),
        CheckFormat::Markdown => crate::report::markdown::write(context, stdout),
        CheckFormat::Conftest => crate::report::conftest::write(context, stdout),
        CheckFormat::Github => {
            crate::report::github::write(context, stdout)?;
            if let Some(path) = &terminal.github_step_summary {
                let mut summary = Vec::new();
                crate::report::markdown::write(context, &mut summary)?;
                append(path, &summary)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::FilePatch;
    use crate::fix::edit::Edit;

    /// A judged input whose fixes patch `path` by putting `to` in place of its first byte.
    fn patching(path: &std::path::Path, name: &str, to: &str) -> Checked {
        let plan = br#"{"format_version": "1.2", "planned_values": {}}"#;
        let policies = PolicySet::builtin().unwrap();
        let report = crate::check(plan, name, &policies, &CheckOptions::default()).unwrap();
        let original = std::fs::read_to_string(path).unwrap();
        let patch = FilePatch {
            path: path.to_path_buf(),
            rel: "main.tf".to_string(),
            original,
            edits: vec![Edit {
                range: 0..1,
                replacement: to.to_string(),
            }],
            patch: String::new(),
        };
        Checked {
            report,
            fixes: Some(FixSet {
                files: vec![patch],
                ..FixSet::default()
            }),
            locations: BTreeMap::new(),
            source: PathBuf::from("."),
        }
    }

    #[test]
    fn a_file_two_inputs_patch_alike_is_patched_once_and_differently_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let main_tf = dir.path().join("main.tf");
        std::fs::write(&main_tf, "x = 1\n").unwrap();
        let alike = [
            patching(&main_tf, "a.json", "y"),
            patching(&main_tf, "b.json", "y"),
        ];
        assert_eq!(merged_patches(&alike).unwrap().len(), 1);
        let differently = [
            patching(&main_tf, "a.json", "y"),
            patching(&main_tf, "b.json", "z"),
        ];
        let error = merged_patches(&differently).unwrap_err().to_string();
        assert!(
            error.contains("a.json and b.json would patch") && error.contains("main.tf"),
            "{error}"
        );
        // The same file by another path is the same file.
        let other = dir.path().join(".").join("main.tf");
        let by_two_paths = [
            patching(&main_tf, "a.json", "y"),
            patching(&other, "b.json", "z"),
        ];
        assert!(merged_patches(&by_two_paths).is_err());
    }
}

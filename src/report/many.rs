//! Reports of several inputs in one run (`portgate check plans/*.json`), in the formats whose
//! single-input writer cannot simply be called once per input: text and Markdown group the
//! inputs under one verdict, GitHub annotations add one error per unreadable input, and the
//! diff is the one patch of every input's files. (JSON, SARIF, JUnit, GitLab and conftest
//! have their own `write_many`.) With one input, the CLI calls the single-input writers, so
//! that output stays byte for byte what it has always been.

use std::io;

use super::ReportContext;
use super::text::TextOptions;
use crate::fix::FilePatch;
use crate::plan::InputKind;

/// The inputs of a run: those judged, in the order given, and those that could not be read
/// (file, reason).
pub struct Runs<'c, 'a> {
    pub kind: InputKind,
    pub contexts: &'c [ReportContext<'a>],
    pub unreadable: &'c [(String, String)],
}

impl Runs<'_, '_> {
    /// How many inputs fail the gate.
    fn failing(&self) -> usize {
        self.contexts.iter().filter(|c| c.report.fails()).count()
    }

    /// `3 plans` / `1 state`.
    fn inputs(&self) -> String {
        let n = self.contexts.len() + self.unreadable.len();
        let noun = self.kind.noun();
        if n == 1 {
            format!("1 {noun}")
        } else {
            format!("{n} {noun}s")
        }
    }

    /// `1 failing, 1 passed, 1 unreadable`, without the counts that are zero.
    fn tally(&self) -> String {
        let failing = self.failing();
        let passed = self.contexts.len() - failing;
        let mut parts = Vec::new();
        if failing > 0 {
            parts.push(format!("{failing} failing"));
        }
        if passed > 0 {
            parts.push(format!("{passed} passed"));
        }
        if !self.unreadable.is_empty() {
            parts.push(format!("{} unreadable", self.unreadable.len()));
        }
        parts.join(", ")
    }

    /// The verdict over every input: an unreadable input is an error, whatever the others.
    fn verdict(&self) -> &'static str {
        if !self.unreadable.is_empty() {
            "ERROR"
        } else if self.failing() > 0 {
            "FAILED"
        } else {
            "passed"
        }
    }
}

/// Text: each input's report under a line naming it, then one line over all of them.
pub fn text(runs: &Runs<'_, '_>, color: bool, out: &mut dyn io::Write) -> io::Result<()> {
    for context in runs.contexts {
        writeln!(out, "==> {} <==", context.report.plan.file)?;
        super::text::write(
            context.report,
            context.policies,
            context.fixes,
            TextOptions { color },
            out,
        )?;
        writeln!(out)?;
    }
    for (file, message) in runs.unreadable {
        writeln!(out, "==> {file} <==")?;
        writeln!(out, "portgate: error: {message}")?;
        writeln!(out)?;
    }
    let findings: usize = runs.contexts.iter().map(|c| c.report.findings.len()).sum();
    let blocking: usize = runs
        .contexts
        .iter()
        .map(|c| c.report.findings.iter().filter(|f| f.fails_gate).count())
        .sum();
    writeln!(
        out,
        "portgate: {}, {} ({}): {findings} finding{}, {blocking} blocking",
        runs.verdict(),
        runs.inputs(),
        runs.tally(),
        if findings == 1 { "" } else { "s" },
    )
}

/// Markdown (one pull request comment): a heading over all inputs, then each input's report
/// under its name, each within its share of the comment's size limit.
pub fn markdown(runs: &Runs<'_, '_>, out: &mut dyn io::Write) -> io::Result<()> {
    let mark = match runs.verdict() {
        "passed" => "✅",
        _ => "❌",
    };
    writeln!(
        out,
        "# portgate: {mark} {} · {} ({})\n",
        runs.verdict(),
        runs.inputs(),
        runs.tally()
    )?;
    for (file, message) in runs.unreadable {
        writeln!(
            out,
            "> ❌ **`{}`** could not be read: {}\n",
            file.replace('`', "'"),
            message.replace(['\r', '\n'], " ")
        )?;
    }
    let share = (super::markdown::MAX_CHARS - 2_000) / runs.contexts.len().max(1);
    for context in runs.contexts {
        writeln!(
            out,
            "### `{}`\n",
            context.report.plan.file.replace('`', "'")
        )?;
        out.write_all(super::markdown::render_within(context, share).as_bytes())?;
        writeln!(out)?;
    }
    Ok(())
}

/// GitHub workflow commands: each input's annotations and summary, and an error for each
/// input that could not be read.
pub fn github(runs: &Runs<'_, '_>, out: &mut dyn io::Write) -> io::Result<()> {
    for context in runs.contexts {
        super::github::write(context, out)?;
    }
    for (file, message) in runs.unreadable {
        writeln!(
            out,
            "{}",
            super::github::command(
                "error",
                &[
                    ("file", file.clone()),
                    ("title", "portgate: unreadable input".to_string()),
                ],
                message
            )
        )?;
    }
    Ok(())
}

/// The diff of several inputs: the patch of every file once (`files`, merged by the caller,
/// which refuses two inputs that patch one file differently), and each input's notes.
pub fn diff(
    runs: &Runs<'_, '_>,
    files: &[FilePatch],
    out: &mut dyn io::Write,
    notes: &mut dyn io::Write,
) -> io::Result<()> {
    for file in files {
        out.write_all(file.patch.as_bytes())?;
    }
    for context in runs.contexts {
        if let Some(fixes) = context.fixes {
            let mut written = Vec::new();
            super::diff::write_notes(context.report, fixes, &mut written)?;
            for line in String::from_utf8_lossy(&written).lines() {
                let line = line.strip_prefix("portgate: ").unwrap_or(line);
                writeln!(notes, "portgate: {}: {line}", context.report.plan.file)?;
            }
        }
    }
    Ok(())
}

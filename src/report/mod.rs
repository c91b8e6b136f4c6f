//! Stage 6: findings and fixes → what a person or a program reads.
//!
//! Renderers write to any `io::Write` and never decide the verdict: the exit code comes from
//! [`crate::gate::CheckReport::fails`]. Text is for terminals and CI logs (colored only when
//! asked); JSON is a stable, documented contract (see README.md, "JSON output").

pub mod conftest;
pub mod diff;
pub mod github;
pub mod gitlab;
pub mod json;
pub mod junit;
pub mod many;
pub mod markdown;
pub mod sarif;
pub mod text;

use std::collections::BTreeMap;
use std::path::Path;

use crate::fix::{FixSet, SourceLocation};
use crate::gate::CheckReport;
use crate::policy::{PolicySet, Severity};

/// Everything a report renders: the check's outcome, the policies that produced it, the fixes
/// (when trusted CIDRs were given) and, for formats that point into files, where each rule is
/// declared in the sources (by rule index; empty when not computed or not found).
#[derive(Clone, Copy)]
pub struct ReportContext<'a> {
    pub report: &'a CheckReport,
    pub policies: &'a PolicySet,
    pub fixes: Option<&'a FixSet>,
    pub locations: &'a BTreeMap<usize, SourceLocation>,
    /// The `--source` directory as given (relative to the working directory, usually the
    /// repository root). Source paths in fixes and locations are relative to it.
    pub source_dir: &'a Path,
}

impl ReportContext<'_> {
    /// A source path (relative to `--source`) as seen from the working directory, with `/`
    /// separators: what code scanning and annotations expect.
    pub fn source_path(&self, rel: &str) -> String {
        match crate::sources::tree::slash_path(self.source_dir) {
            dir if dir.is_empty() && !self.source_dir.has_root() => rel.to_string(),
            dir => format!("{dir}/{rel}"),
        }
    }
}

/// A JSON array whose items are made as it is written: a report of many findings does not
/// hold every rendered item at once (serializers that need the length up front, none of
/// those portgate uses, get the iterator's lower bound).
pub(crate) struct Streamed<F>(pub F);

impl<F, I> serde::Serialize for Streamed<F>
where
    F: Fn() -> I,
    I: IntoIterator,
    I::Item: serde::Serialize,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

/// Counts of findings by severity, highest first, for summaries.
/// What a suggestion's before and after show: the rule as the input has it.
pub fn rule_in_input(kind: crate::plan::InputKind) -> &'static str {
    match kind {
        crate::plan::InputKind::Plan => "planned rule",
        crate::plan::InputKind::State => "rule in the state",
    }
}

pub fn severity_counts(report: &crate::gate::CheckReport) -> Vec<(Severity, usize)> {
    let mut counts = Vec::new();
    for severity in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let n = report
            .findings
            .iter()
            .filter(|f| f.finding.severity == severity)
            .count();
        if n > 0 {
            counts.push((severity, n));
        }
    }
    counts
}

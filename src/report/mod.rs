//! Stage 4: findings → what a person or a program reads.
//!
//! Renderers write to any `io::Write` and never decide the verdict: the exit code comes from
//! [`crate::CheckReport::fails`]. Text is for terminals and CI logs (colored only when asked);
//! JSON is a stable, documented contract (see README.md, "JSON output").

pub mod diff;
pub mod json;
pub mod text;

use crate::policy::Severity;

/// Counts of findings by severity, highest first, for summaries.
pub fn severity_counts(report: &crate::CheckReport) -> Vec<(Severity, usize)> {
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

//! `--format diff`: only the combined source patch, so `portgate check … --format diff | git
//! apply` works. Findings whose fix cannot be a source patch are listed on stderr, never
//! silently dropped.

use std::io;

use super::json::fix_reason;
use crate::CheckReport;
use crate::fix::{FixKind, FixSet};

pub fn write(
    report: &CheckReport,
    fixes: &FixSet,
    out: &mut dyn io::Write,
    notes: &mut dyn io::Write,
) -> io::Result<()> {
    out.write_all(fixes.combined_patch().as_bytes())?;
    for gated in &report.findings {
        let finding = &gated.finding;
        let has_source_patch = fixes
            .for_finding(finding)
            .is_some_and(|fix| fix.kind == FixKind::Source);
        if !has_source_patch {
            let reason = fix_reason(gated, Some(fixes)).unwrap_or_default();
            let block = finding
                .block
                .as_deref()
                .map(|b| format!(" {b}"))
                .unwrap_or_default();
            writeln!(
                notes,
                "portgate: no source patch for {} {}{block}: {reason}",
                finding.rule_id, finding.address
            )?;
        }
    }
    Ok(())
}

//! `--format diff`: only the combined source patch, so `portgate check … --format diff | git
//! apply` works. Everything else goes to stderr, never silently dropped: the findings whose fix
//! cannot be a source patch, every note of the patches that are there (an entry removed without
//! a replacement, a whole resource removed), and the run's warnings.

use std::io;

use super::json::fix_reason;
use crate::fix::{FixKind, FixSet};
use crate::gate::CheckReport;

pub fn write(
    report: &CheckReport,
    fixes: &FixSet,
    out: &mut dyn io::Write,
    notes: &mut dyn io::Write,
) -> io::Result<()> {
    out.write_all(fixes.combined_patch().as_bytes())?;
    write_notes(report, fixes, notes)
}

/// What `--format diff` writes to stderr about one report: the findings without a source
/// patch, the notes of the patches, the warnings.
pub fn write_notes(
    report: &CheckReport,
    fixes: &FixSet,
    notes: &mut dyn io::Write,
) -> io::Result<()> {
    let mut noted = std::collections::BTreeSet::new();
    for gated in &report.findings {
        let finding = &gated.finding;
        let source_patch = fixes
            .for_finding(finding)
            .filter(|fix| fix.kind == FixKind::Source);
        if let Some(fix) = source_patch {
            // Several findings of one rule share its fix: its notes are said once.
            if noted.insert(finding.rule_index) {
                for note in &fix.notes {
                    writeln!(
                        notes,
                        "portgate: note on the patch of {}: {note}",
                        finding.address
                    )?;
                }
            }
        } else {
            let reason = fix_reason(gated, Some(fixes), report.plan.kind).unwrap_or_default();
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
    for warning in &report.warnings {
        writeln!(notes, "portgate: warning: {warning}")?;
    }
    Ok(())
}

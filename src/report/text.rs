//! The human report: one block per finding, then a one-line summary.
//!
//! The summary of a passing run never contains the word "fail": Atlantis' custom policy checks
//! decide pass/fail by searching the output for that substring.

use std::io;

use owo_colors::OwoColorize;

use crate::fix::{Fix, FixKind, FixSet};
use crate::gate::CheckReport;
use crate::policy::{FindingKind, PolicySet, Severity, invalid_cidr_meta, unknown_value_meta};

/// Rendering options for text output.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    pub color: bool,
}

struct Painter {
    color: bool,
}

impl Painter {
    fn severity(&self, severity: Severity) -> String {
        let label = severity.as_str();
        if !self.color {
            return label.to_string();
        }
        match severity {
            Severity::Critical => label.red().bold().to_string(),
            Severity::High => label.red().to_string(),
            Severity::Medium => label.yellow().to_string(),
            Severity::Low | Severity::Info => label.blue().to_string(),
        }
    }

    fn bold(&self, text: &str) -> String {
        if self.color {
            text.bold().to_string()
        } else {
            text.to_string()
        }
    }

    fn dim(&self, text: &str) -> String {
        if self.color {
            text.dimmed().to_string()
        } else {
            text.to_string()
        }
    }

    fn diff_line(&self, line: &str) -> String {
        if !self.color {
            return line.to_string();
        }
        if line.starts_with("+++") || line.starts_with("---") {
            line.bold().to_string()
        } else if line.starts_with('+') {
            line.green().to_string()
        } else if line.starts_with('-') {
            line.red().to_string()
        } else if line.starts_with("@@") {
            line.cyan().to_string()
        } else {
            line.to_string()
        }
    }

    fn warning(&self, text: &str) -> String {
        if self.color {
            text.yellow().bold().to_string()
        } else {
            text.to_string()
        }
    }

    fn status(&self, text: &str, ok: bool) -> String {
        match (self.color, ok) {
            (false, _) => text.to_string(),
            (true, true) => text.green().bold().to_string(),
            (true, false) => text.red().bold().to_string(),
        }
    }
}

pub fn write(
    report: &CheckReport,
    policies: &PolicySet,
    fixes: Option<&FixSet>,
    options: TextOptions,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let paint = Painter {
        color: options.color,
    };
    for warning in &report.warnings {
        writeln!(
            out,
            "{}: {}: {warning}",
            paint.warning("warning"),
            report.plan.file
        )?;
    }
    let unknown_meta = unknown_value_meta();
    let invalid_meta = invalid_cidr_meta();
    let mut fix_shown: std::collections::HashMap<usize, String> = Default::default();
    for gated in &report.findings {
        let f = &gated.finding;
        let meta = match f.kind {
            FindingKind::Unknown => &unknown_meta,
            FindingKind::InvalidCidr => &invalid_meta,
            FindingKind::Exposed => match policies.get(&f.rule_id) {
                Some(policy) => &policy.meta,
                None => &unknown_meta,
            },
        };
        let gate_note = match (&gated.waiver, gated.fails_gate) {
            (Some(w), _) if gated.waived => format!(
                " (waived until {} by {}: {})",
                crate::waiver::format_date(w.waiver.expires),
                w.waiver.origin,
                w.waiver.reason
            ),
            (Some(w), _) => format!(
                " (waiver expired on {}, {})",
                crate::waiver::format_date(w.waiver.expires),
                w.waiver.origin
            ),
            (None, true) => String::new(),
            (None, false) => " (warning, does not block)".to_string(),
        };
        writeln!(
            out,
            "{} {} [{}] {}{}",
            paint.bold(&f.rule_id),
            paint.bold(&f.title),
            paint.severity(f.severity),
            f.address,
            paint.dim(&gate_note),
        )?;
        let mut resource = format!("{} ({})", f.resource_type, f.action);
        if let Some(key) = &f.deposed {
            resource.push_str(&format!(", deposed object {key}"));
        }
        if let Some(block) = &f.block {
            resource.push_str(&format!(", {block}"));
        }
        writeln!(out, "  {} {resource}", paint.dim("resource:"))?;
        writeln!(out, "  {} {}", paint.dim("  detail:"), f.message)?;
        writeln!(out, "  {} {}", paint.dim("     why:"), meta.rationale)?;
        writeln!(out, "  {} {}", paint.dim("     fix:"), meta.remediation)?;
        writeln!(
            out,
            "  {} {}:{}",
            paint.dim("      at:"),
            report.plan.file,
            f.json_path
        )?;
        if let Some(fix) = fixes.and_then(|set| set.for_finding(f)) {
            // One patch per rule, even when the rule has several findings.
            match fix_shown.get(&f.rule_index) {
                Some(earlier) => writeln!(
                    out,
                    "  {} the same as for {earlier} above: one patch fixes every finding of this rule",
                    paint.dim("   patch:")
                )?,
                None => {
                    fix_shown.insert(f.rule_index, format!("{} {}", f.rule_id, f.address));
                    write_fix(fix, &paint, out)?;
                }
            }
        } else if let Some(reason) = fixes.and_then(|set| set.withdrawn_reason(f)) {
            writeln!(out, "  {} {reason}", paint.dim("   patch:"))?;
        }
        writeln!(out)?;
    }
    // An exposure left without any fix: nothing was trusted, and no VPC CIDR could be suggested.
    let unfixed = report.findings.iter().any(|g| {
        let f = &g.finding;
        f.kind == FindingKind::Exposed
            && !f.cidrs.is_empty()
            && fixes
                .is_none_or(|set| set.for_finding(f).is_none() && set.withdrawn_reason(f).is_none())
    });
    if unfixed {
        writeln!(
            out,
            "{} pass --trusted-cidr CIDR (or set trusted_cidrs in portgate.toml) to get a suggested patch for each finding",
            paint.dim("hint:")
        )?;
    }
    writeln!(out, "{}", summary_line(report, &paint))
}

fn write_fix(fix: &Fix, paint: &Painter, out: &mut dyn io::Write) -> io::Result<()> {
    match fix.kind {
        FixKind::Source => writeln!(
            out,
            "  {} {} (trusted: {})",
            paint.dim("   patch:"),
            fix.files.join(", "),
            if fix.trusted_cidrs.is_empty() {
                "none of this family".to_string()
            } else {
                fix.trusted_cidrs.join(", ")
            }
        )?,
        FixKind::Suggestion => writeln!(
            out,
            "  {} no source patch: {}",
            paint.dim("   patch:"),
            fix.reason.as_deref().unwrap_or("")
        )?,
    }
    for note in &fix.notes {
        writeln!(out, "  {} {note}", paint.dim("    note:"))?;
    }
    for line in fix.patch.lines() {
        writeln!(out, "      {}", paint.diff_line(line))?;
    }
    Ok(())
}

fn summary_line(report: &CheckReport, paint: &Painter) -> String {
    let total = report.findings.len();
    let blocking = report.findings.iter().filter(|f| f.fails_gate).count();
    let scanned = format!(
        "{} security group resource{} checked",
        report.resources_scanned,
        if report.resources_scanned == 1 {
            ""
        } else {
            "s"
        }
    );
    // `audit` names its input a state; `check` names only the plan's file, as it always has.
    let input = match report.plan.kind {
        crate::plan::InputKind::Plan => report.plan.file.clone(),
        crate::plan::InputKind::State => format!("state {}", report.plan.file),
    };
    if total == 0 {
        let status = if report.warnings.is_empty() {
            "portgate: passed,"
        } else {
            "portgate: passed with warnings (see above),"
        };
        return format!(
            "{} no NetBIOS/SMB exposure: {scanned} in {}",
            paint.status(status, true),
            input
        );
    }
    let counts: Vec<String> = super::severity_counts(report)
        .into_iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let noun = if total == 1 { "finding" } else { "findings" };
    let waived = report.findings.iter().filter(|f| f.waived).count();
    let mut counts = counts;
    if waived > 0 {
        counts.push(format!("{waived} waived"));
    }
    if blocking == 0 {
        format!(
            "{} {total} {noun} ({}), none blocking: {scanned} in {}",
            paint.status("portgate: passed with warnings,", true),
            counts.join(", "),
            input
        )
    } else {
        format!(
            "{} {total} {noun} ({}), {blocking} blocking: {scanned} in {}",
            paint.status("portgate: FAILED,", false),
            counts.join(", "),
            input
        )
    }
}

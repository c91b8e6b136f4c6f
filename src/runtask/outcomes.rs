//! The callback body: a check's result as a TFC task result with outcomes.
//!
//! TFC validates callbacks against a JSON schema and answers 422 to anything outside it, which
//! would leave a mandatory run without a verdict. Every string is therefore cut to its limit
//! (message 1,000, description 1,000, body 10,000 characters, outcome-id 64, tag labels 32,
//! URLs 500 and http(s) only), empty strings are left out, and at most 250 outcomes are sent:
//! the last one says how many more findings there are. A long body is cut, never refused.

use serde_json::{Value, json};

use crate::fix::{FixKind, FixSet};
use crate::gate::{GatedFinding, TopReport};
use crate::policy::{FindingKind, PolicySet, Severity};
use crate::report::markdown::meta;
use crate::report::sarif::fingerprint;

pub const MAX_MESSAGE: usize = 1_000;
pub const MAX_OUTCOMES: usize = 250;
pub const MAX_OUTCOME_ID: usize = 64;
pub const MAX_DESCRIPTION: usize = 1_000;
pub const MAX_BODY: usize = 10_000;
pub const MAX_LABEL: usize = 32;
pub const MAX_URL: usize = 500;

/// Cuts `text` to at most `max` characters, marking the cut with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// Cuts a Markdown body, closing a code fence left open by the cut.
fn truncate_markdown(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let note = "\n```\n\n_(cut to fit the run task's 10,000-character limit; run `portgate check` for the whole report)_";
    let mut kept: String = text.chars().take(max - note.chars().count()).collect();
    let fences = kept.matches("```").count();
    if fences.is_multiple_of(2) {
        kept.push_str(note.trim_start_matches("\n```"));
    } else {
        kept.push_str(note);
    }
    kept
}

/// An http(s) URL within the length limit, or nothing.
pub fn valid_url(url: Option<&str>) -> Option<String> {
    let url = url?.trim();
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().count() <= MAX_URL;
    ok.then(|| url.to_string())
}

/// `{"data": {"type": "task-results", "attributes": {"status": "running", ...}}}`.
pub fn running(message: &str) -> Value {
    json!({"data": {"type": "task-results", "attributes": {
        "status": "running",
        "message": truncate(message, MAX_MESSAGE),
    }}})
}

/// A `failed` result with only a message: the run is not passed when it could not be checked.
pub fn failed(message: &str) -> Value {
    json!({"data": {"type": "task-results", "attributes": {
        "status": "failed",
        "message": truncate(non_empty(message), MAX_MESSAGE),
    }}})
}

/// A `passed` result with only a message.
pub fn passed(message: &str) -> Value {
    json!({"data": {"type": "task-results", "attributes": {
        "status": "passed",
        "message": truncate(non_empty(message), MAX_MESSAGE),
    }}})
}

/// Adds `note` to the end of the body's `message`, cutting the message (not the note) so the
/// whole stays within [`MAX_MESSAGE`]. An empty note changes nothing.
pub fn append_message(body: &mut Value, note: &str) {
    let note = note.trim();
    if note.is_empty() {
        return;
    }
    let Some(message) = body
        .pointer_mut("/data/attributes/message")
        .and_then(|m| m.as_str().map(str::to_string))
    else {
        return;
    };
    let note = truncate(note, MAX_MESSAGE / 2);
    let room = MAX_MESSAGE - note.chars().count() - 1;
    let joined = format!("{} {note}", truncate(&message, room));
    body["data"]["attributes"]["message"] = Value::String(joined);
}

/// The body without its outcomes, for a TFC that refuses them (422); `None` when it has none.
pub fn without_outcomes(body: &Value) -> Option<Value> {
    let mut stripped = body.clone();
    let data = stripped.get_mut("data")?.as_object_mut()?;
    data.remove("relationships")?;
    Some(stripped)
}

fn non_empty(text: &str) -> &str {
    if text.trim().is_empty() {
        "portgate"
    } else {
        text
    }
}

/// The final result of a check: `failed` when a finding blocks, with one outcome per finding
/// when `with_outcomes` (at most [`MAX_OUTCOMES`]: a run task needs only the first
/// [`SHOWN`] findings of a check, see [`crate::check_top`]).
pub fn result(
    top: &TopReport,
    policies: &PolicySet,
    fixes: Option<&FixSet>,
    mandatory: bool,
    with_outcomes: bool,
    details_url: Option<&str>,
) -> Value {
    let status = if top.fails() { "failed" } else { "passed" };
    let message = summary(top);
    let mut attributes = json!({"status": status, "message": truncate(&message, MAX_MESSAGE)});
    if let Some(url) = valid_url(details_url) {
        attributes["url"] = Value::String(url);
    }
    let mut data = json!({"type": "task-results", "attributes": attributes});
    if with_outcomes && top.total > 0 {
        let shown = if top.total > MAX_OUTCOMES {
            SHOWN
        } else {
            top.total
        };
        let mut outcomes: Vec<Value> = top.report.findings[..shown.min(top.report.findings.len())]
            .iter()
            .map(|f| outcome(f, policies, fixes, mandatory))
            .collect();
        if shown < top.total {
            outcomes.push(more_outcome(top.total - shown));
        }
        data["relationships"] = json!({"outcomes": {"data": outcomes}});
    }
    json!({ "data": data })
}

/// How many findings a result lists at most: one outcome is left for "n more" when there are
/// more than [`MAX_OUTCOMES`].
pub const SHOWN: usize = MAX_OUTCOMES - 1;

fn summary(top: &TopReport) -> String {
    let total = top.total;
    let blocking = top.blocking;
    let scanned = top.report.resources_scanned;
    if total == 0 {
        return format!(
            "No NetBIOS/SMB exposure: {scanned} security group resource{} checked",
            if scanned == 1 { "" } else { "s" }
        );
    }
    let listed = &top.first_blocking;
    if blocking == 0 {
        format!(
            "{total} finding{} reported, none blocking ({scanned} security group resources checked)",
            if total == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{blocking} NetBIOS/SMB exposure{} block{} this run: {}{}",
            if blocking == 1 { "" } else { "s" },
            if blocking == 1 { "s" } else { "" },
            listed.join(", "),
            if blocking > listed.len() { ", …" } else { "" }
        )
    }
}

fn severity_tag(severity: Severity) -> Value {
    let (label, level) = match severity {
        Severity::Critical => ("Critical", "error"),
        Severity::High => ("High", "error"),
        Severity::Medium => ("Medium", "warning"),
        Severity::Low => ("Low", "info"),
        Severity::Info => ("Info", "info"),
    };
    json!([{ "label": label, "level": level }])
}

fn status_tag(gated: &GatedFinding, mandatory: bool) -> Value {
    let (label, level) = if gated.waived {
        ("Waived", "info")
    } else if !gated.fails_gate {
        ("Warning", "warning")
    } else if mandatory {
        ("Denied", "error")
    } else {
        ("Advisory", "warning")
    };
    json!([{ "label": truncate(label, MAX_LABEL), "level": level }])
}

fn outcome(
    gated: &GatedFinding,
    policies: &PolicySet,
    fixes: Option<&FixSet>,
    mandatory: bool,
) -> Value {
    let f = &gated.finding;
    let rule = meta(policies, gated);
    let id = truncate(&format!("{}-{}", f.rule_id, fingerprint(f)), MAX_OUTCOME_ID);
    let subject = match &f.block {
        Some(block) => format!("{} {block}", f.address),
        None => f.address.clone(),
    };
    let description = truncate(
        &format!("{}: {} ({})", f.rule_id, rule.title, subject),
        MAX_DESCRIPTION,
    );

    let mut body = format!("### {} {}\n\n", f.rule_id, rule.title);
    body.push_str(&format!("- **Resource:** `{subject}` ({})\n", f.action));
    if !f.ports.is_empty() {
        body.push_str(&format!("- **Ports:** {}\n", f.ports.join(", ")));
    }
    if let Some(cidr) = &f.cidr {
        body.push_str(&format!("- **From:** `{cidr}`\n"));
    }
    if let Some(w) = &gated.waiver {
        body.push_str(&format!(
            "- **Waiver:** {} ({}, until {}{})\n",
            w.waiver.reason,
            w.waiver.origin,
            crate::waiver::format_date(w.waiver.expires),
            if w.expired { ", expired" } else { "" }
        ));
    }
    body.push_str(&format!(
        "\n{}\n\n**Why it matters:** {}\n\n**How to fix:** {}\n",
        f.message, rule.rationale, rule.remediation
    ));
    match fixes.and_then(|set| set.for_finding(f)) {
        Some(fix) => {
            let heading = match fix.kind {
                FixKind::Source => format!("Suggested patch ({})", fix.files.join(", ")),
                FixKind::Suggestion => format!(
                    "Suggested change (no source patch: {})",
                    fix.reason.as_deref().unwrap_or("sources not available")
                ),
            };
            body.push_str(&format!("\n**{heading}**\n\n```diff\n{}```\n", fix.patch));
            for note in &fix.notes {
                body.push_str(&format!("\n_{note}_\n"));
            }
        }
        None if f.kind == FindingKind::Exposed && fixes.is_some() => {
            if let Some(reason) = crate::report::json::fix_reason(gated, fixes, crate::plan::InputKind::Plan) {
                body.push_str(&format!("\n_No patch: {reason}._\n"));
            }
        }
        None if f.kind == FindingKind::Exposed => body.push_str(
            "\n_Give portgate trusted CIDRs (`--trusted-cidr` or `trusted_cidrs` in portgate.toml) to get a suggested patch._\n",
        ),
        None => {}
    }
    let mut tags = json!({
        "Status": status_tag(gated, mandatory),
        "Severity": severity_tag(f.severity),
    });
    if let Some(port) = f.ports.first() {
        tags["Ports"] = json!([{ "label": truncate(port, MAX_LABEL) }]);
    }
    json!({
        "type": "task-result-outcomes",
        "attributes": {
            "outcome-id": id,
            "description": description,
            "body": truncate_markdown(&body, MAX_BODY),
            "tags": tags,
        }
    })
}

fn more_outcome(hidden: usize) -> Value {
    json!({
        "type": "task-result-outcomes",
        "attributes": {
            "outcome-id": "portgate-more",
            "description": format!("{hidden} more findings are not listed here (a run task shows at most {MAX_OUTCOMES} outcomes)"),
            "body": "Run `portgate check` on this plan for the full report.",
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_with_a_marker_and_fences_are_closed() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        let body = format!("intro\n```diff\n{}", "+x\n".repeat(6000));
        let cut = truncate_markdown(&body, MAX_BODY);
        assert!(cut.chars().count() <= MAX_BODY);
        assert_eq!(cut.matches("```").count() % 2, 0, "the fence is closed");
    }

    #[test]
    fn only_http_urls_within_the_limit_are_kept() {
        assert_eq!(
            valid_url(Some("https://x.example/a")),
            Some("https://x.example/a".into())
        );
        assert_eq!(valid_url(Some("javascript:alert(1)")), None);
        assert_eq!(
            valid_url(Some(&format!("https://x/{}", "a".repeat(600)))),
            None
        );
        assert_eq!(valid_url(None), None);
    }

    #[test]
    fn notes_fit_in_the_message_limit_and_outcomes_can_be_dropped() {
        let mut body = failed(&"x".repeat(2_000));
        append_message(&mut body, "(no source patches: the tarball is bad)");
        let message = body["data"]["attributes"]["message"].as_str().unwrap();
        assert!(message.chars().count() <= MAX_MESSAGE);
        assert!(message.ends_with("(no source patches: the tarball is bad)"));
        let mut short = passed("ok");
        append_message(&mut short, "  ");
        assert_eq!(short["data"]["attributes"]["message"], "ok");

        assert_eq!(without_outcomes(&short), None);
        let mut with = passed("ok");
        with["data"]["relationships"] = json!({"outcomes": {"data": []}});
        assert_eq!(without_outcomes(&with), Some(passed("ok")));
    }

    /// A plan with `n` world-open SMB groups with very long names.
    fn plan_with_findings(n: usize) -> String {
        let resources: Vec<String> = (0..n)
            .map(|i| {
                let name = format!("sg_{i}_{}", "x".repeat(300));
                format!(
                    r#"{{"address":"aws_security_group.{name}","mode":"managed","type":"aws_security_group",
                    "name":"{name}","change":{{"actions":["create"],"after_unknown":{{}},"after":{{"ingress":[
                    {{"protocol":"-1","from_port":0,"to_port":0,"cidr_blocks":["0.0.0.0/0"],"ipv6_cidr_blocks":["::/0"]}}]}}}}}}"#
                )
            })
            .collect();
        format!(
            r#"{{"format_version":"1.2","planned_values":{{"root_module":{{}}}},"resource_changes":[{}]}}"#,
            resources.join(",")
        )
    }

    /// Every string of a callback body within TFC's schema limits, and none empty.
    fn assert_within_limits(body: &Value) {
        let attributes = &body["data"]["attributes"];
        let message = attributes["message"].as_str().unwrap();
        assert!(!message.is_empty() && message.chars().count() <= MAX_MESSAGE);
        let Some(outcomes) = body["data"]["relationships"]["outcomes"]["data"].as_array() else {
            return;
        };
        assert!(
            (1..=MAX_OUTCOMES).contains(&outcomes.len()),
            "{}",
            outcomes.len()
        );
        for outcome in outcomes {
            let a = &outcome["attributes"];
            let id = a["outcome-id"].as_str().unwrap();
            assert!(
                !id.is_empty() && id.chars().count() <= MAX_OUTCOME_ID,
                "{id}"
            );
            let description = a["description"].as_str().unwrap();
            assert!(!description.is_empty() && description.chars().count() <= MAX_DESCRIPTION);
            if let Some(body) = a["body"].as_str() {
                assert!(!body.is_empty() && body.chars().count() <= MAX_BODY);
            }
            if let Some(tags) = a["tags"].as_object() {
                for labels in tags.values() {
                    for label in labels.as_array().unwrap() {
                        let text = label["label"].as_str().unwrap();
                        assert!(!text.is_empty() && text.chars().count() <= MAX_LABEL);
                    }
                }
            }
        }
    }

    #[test]
    fn many_findings_fold_into_250_outcomes_within_every_limit() {
        let plan = plan_with_findings(70); // 70 groups x 2 policies x 2 families = 280 findings
        let policies = PolicySet::builtin().unwrap();
        let report =
            crate::check(plan.as_bytes(), "p.json", &policies, &Default::default()).unwrap();
        assert_eq!(report.findings.len(), 280);
        let body = result(
            &TopReport::of(report, SHOWN),
            &policies,
            None,
            true,
            true,
            Some("https://portgate.example/r"),
        );
        assert_within_limits(&body);
        let outcomes = body["data"]["relationships"]["outcomes"]["data"]
            .as_array()
            .unwrap();
        assert_eq!(outcomes.len(), MAX_OUTCOMES);
        let last = &outcomes[MAX_OUTCOMES - 1]["attributes"];
        assert_eq!(last["outcome-id"], "portgate-more");
        assert!(
            last["description"]
                .as_str()
                .unwrap()
                .starts_with("31 more findings")
        );
        assert_eq!(body["data"]["attributes"]["status"], "failed");
        assert_eq!(
            body["data"]["attributes"]["url"],
            "https://portgate.example/r"
        );
        assert_eq!(
            outcomes[0]["attributes"]["tags"]["Status"][0]["label"], "Denied",
            "mandatory tasks deny"
        );
    }

    #[test]
    fn a_clean_report_passes_without_outcomes() {
        let policies = PolicySet::builtin().unwrap();
        let plan =
            r#"{"format_version":"1.2","planned_values":{"root_module":{}},"resource_changes":[]}"#;
        let report =
            crate::check(plan.as_bytes(), "p.json", &policies, &Default::default()).unwrap();
        let body = result(
            &TopReport::of(report, SHOWN),
            &policies,
            None,
            false,
            true,
            Some("ftp://nope"),
        );
        assert_within_limits(&body);
        assert_eq!(body["data"]["attributes"]["status"], "passed");
        assert!(
            body["data"].get("relationships").is_none(),
            "no empty outcomes array"
        );
        assert!(
            body["data"]["attributes"].get("url").is_none(),
            "non-http URLs are dropped"
        );
    }

    #[test]
    fn empty_messages_are_never_sent() {
        assert_eq!(failed("")["data"]["attributes"]["message"], "portgate");
    }
}

//! Waivers: accepted exceptions, each with a reason and an expiry date.
//!
//! A waiver names a rule id and a resource address (exact, or a glob where `*` matches any run
//! of characters and `?` one character, so `module.legacy.*` covers a whole module). It comes
//! from `[[waiver]]` in `portgate.toml` or from a `portgate:waive` tag on the resource
//! (`"PG002: reason, until 2027-01-31"`, several separated by `;`). A waived finding is shown
//! as waived and does not fail the gate; once the date has passed the waiver stops waiving and
//! the finding says so; a waiver that matches no finding is reported as stale, so exceptions
//! do not outlive the code they were written for.
//!
//! The date of "today" is an input, never read here, so expiry is testable.

use std::collections::HashMap;
use time::Date;
use time::macros::format_description;

/// One accepted exception.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Waiver {
    pub rule: String,
    /// Exact address or glob (`*`, `?`).
    pub address: String,
    pub reason: String,
    #[serde(serialize_with = "serialize_date")]
    pub expires: Date,
    /// Where it was declared: `portgate.toml:14` or `tag portgate:waive on ADDRESS`.
    pub origin: String,
}

fn serialize_date<S: serde::Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_date(*date))
}

/// `YYYY-MM-DD`.
pub fn format_date(date: Date) -> String {
    date.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_else(|_| date.to_string())
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text.trim(), format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("{text:?} is not a date; write it as YYYY-MM-DD"))
}

impl Waiver {
    pub fn matches(&self, rule_id: &str, address: &str) -> bool {
        self.rule == rule_id && glob_matches(&self.address, address)
    }

    /// True on and before the expiry date.
    pub fn is_active(&self, today: Date) -> bool {
        today <= self.expires
    }
}

/// Finds the first waiver that matches a finding without trying every waiver on every finding
/// (a plan may carry a waiver tag on each of many resources): waivers whose address has no
/// wildcard are looked up by rule and address, the others are tried in order.
pub struct Index<'w> {
    exact: HashMap<(&'w str, &'w str), usize>,
    globs: Vec<usize>,
}

impl<'w> Index<'w> {
    pub fn new(waivers: &'w [Waiver]) -> Index<'w> {
        let mut exact = HashMap::new();
        let mut globs = Vec::new();
        for (i, w) in waivers.iter().enumerate() {
            if w.address.contains(['*', '?']) {
                globs.push(i);
            } else {
                exact
                    .entry((w.rule.as_str(), w.address.as_str()))
                    .or_insert(i);
            }
        }
        Index { exact, globs }
    }

    /// The position in `waivers` (those the index was made of) of the first waiver that
    /// matches, as [`Waiver::matches`] decides.
    pub fn first_match(&self, waivers: &[Waiver], rule_id: &str, address: &str) -> Option<usize> {
        let exact = self.exact.get(&(rule_id, address)).copied();
        let glob = self
            .globs
            .iter()
            .copied()
            .take_while(|&i| exact.is_none_or(|e| i < e))
            .find(|&i| waivers[i].matches(rule_id, address));
        glob.or(exact)
    }
}

/// How a waiver applies to one finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedWaiver {
    #[serde(flatten)]
    pub waiver: Waiver,
    /// The waiver has expired: the finding is no longer waived.
    pub expired: bool,
}

/// Matches `text` against a glob of `*` (any run, including none) and `?` (one character).
/// Every other character, brackets and quotes included, matches itself.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Reads the `portgate:waive` tag of a resource: `RULE: reason, until YYYY-MM-DD`, several
/// separated by `;`.
pub fn from_tag(value: &str, address: &str) -> Result<Vec<Waiver>, String> {
    let mut waivers = Vec::new();
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let shape = || {
            format!(
                "tag portgate:waive on {address}: {part:?} is not `RULE: reason, until YYYY-MM-DD`"
            )
        };
        let (rule, rest) = part.split_once(':').ok_or_else(shape)?;
        let (reason, date) = rest.rsplit_once(", until ").ok_or_else(shape)?;
        let (rule, reason) = (rule.trim(), reason.trim());
        if rule.is_empty() || reason.is_empty() {
            return Err(shape());
        }
        let expires =
            parse_date(date).map_err(|e| format!("tag portgate:waive on {address}: {e}"))?;
        waivers.push(Waiver {
            rule: rule.to_string(),
            address: address.to_string(),
            reason: reason.to_string(),
            expires,
            origin: format!("tag portgate:waive on {address}"),
        });
    }
    Ok(waivers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_index_finds_the_first_waiver_a_linear_scan_finds() {
        let waiver = |rule: &str, address: &str| Waiver {
            rule: rule.to_string(),
            address: address.to_string(),
            reason: String::new(),
            expires: date!(2030 - 01 - 01),
            origin: String::new(),
        };
        let waivers = vec![
            waiver("PG002", "aws_security_group.b"),
            waiver("PG002", "aws_security_group.*"),
            waiver("PG001", "aws_security_group.a"),
            waiver("PG002", "aws_security_group.a"),
            waiver("PG001", "aws_security_group.?"),
            waiver("PG001", "aws_security_group.a"),
            waiver("PG003", "module.m[*].aws_security_group.x"),
        ];
        let index = Index::new(&waivers);
        for rule in ["PG001", "PG002", "PG003", "PG004"] {
            for address in [
                "aws_security_group.a",
                "aws_security_group.b",
                "aws_security_group.cc",
                "module.m[0].aws_security_group.x",
                "module.m[*].aws_security_group.x",
            ] {
                assert_eq!(
                    index.first_match(&waivers, rule, address),
                    waivers.iter().position(|w| w.matches(rule, address)),
                    "{rule} {address}"
                );
            }
        }
    }

    #[test]
    fn globs_match_whole_addresses_with_brackets_taken_literally() {
        assert!(glob_matches(
            "module.legacy.*",
            "module.legacy.aws_security_group.smb"
        ));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches(
            r#"module.sg["a"].aws_security_group.bad"#,
            r#"module.sg["a"].aws_security_group.bad"#
        ));
        assert!(glob_matches(
            "aws_security_group.smb[?]",
            "aws_security_group.smb[0]"
        ));
        assert!(!glob_matches(
            "module.legacy.*",
            "module.legacy2.aws_security_group.smb"
        ));
        assert!(!glob_matches(
            "aws_security_group.smb",
            "aws_security_group.smb[0]"
        ));
        assert!(glob_matches("*.smb*", "module.x.aws_security_group.smb[1]"));
        assert!(!glob_matches("a*b", "acbd"));
    }

    #[test]
    fn a_waiver_is_active_through_its_expiry_date() {
        let waiver = Waiver {
            rule: "PG002".into(),
            address: "*".into(),
            reason: "r".into(),
            expires: date!(2027 - 01 - 31),
            origin: "t".into(),
        };
        assert!(waiver.is_active(date!(2027 - 01 - 31)));
        assert!(!waiver.is_active(date!(2027 - 02 - 01)));
    }

    #[test]
    fn tags_hold_one_or_more_waivers() {
        let w = from_tag(
            "PG002: file server behind VPN, until 2027-01-31; PG001: same, until 2026-12-01",
            "aws_security_group.files",
        )
        .unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].rule, "PG002");
        assert_eq!(w[0].reason, "file server behind VPN");
        assert_eq!(w[1].expires, date!(2026 - 12 - 01));
        assert!(from_tag("PG002 until never", "x").is_err());
        assert!(from_tag("PG002: reason, until 2027-13-01", "x").is_err());
        assert!(from_tag("PG002: , until 2027-01-01", "x").is_err());
    }
}

//! The fallback: a rule rendered as HCL from its planned values, before and after the swap.
//!
//! Used when no source file can be patched (no `.tf` files, a remote module, a `dynamic`
//! block, a value computed by an expression). It is labelled a suggestion: it shows exactly
//! what to change, but not where in the user's files.

use crate::rules::{CheckedResource, IngressRule};

/// One CIDR argument of a rendered rule: name, values, and whether it is a list.
pub struct Argument {
    pub name: &'static str,
    pub values: Vec<String>,
    pub is_list: bool,
}

/// Renders the rule's resource with only the arguments that matter. `arguments` are the CIDR
/// arguments; `None` renders the rule as removed.
pub fn render(
    resource: &CheckedResource,
    rule: &IngressRule,
    arguments: Option<&[Argument]>,
) -> String {
    let mut lines: Vec<(String, String)> = Vec::new();
    let protocol_key = if resource.resource_type == "aws_vpc_security_group_ingress_rule" {
        "ip_protocol"
    } else {
        "protocol"
    };
    if resource.resource_type == "aws_security_group_rule" {
        lines.push(("type".into(), "\"ingress\"".into()));
    }
    let protocol = match rule.protocol.known() {
        Some(Some(p)) => format!("\"{p}\""),
        Some(None) => "null".to_string(),
        None => "(known after apply)".to_string(),
    };
    lines.push((protocol_key.into(), protocol));
    for (key, port) in [("from_port", &rule.from_port), ("to_port", &rule.to_port)] {
        let text = match port.known() {
            Some(Some(n)) => n.to_string(),
            Some(None) => "null".to_string(),
            None => "(known after apply)".to_string(),
        };
        lines.push((key.into(), text));
    }
    let removed = arguments.is_none();
    for argument in arguments.unwrap_or(&[]) {
        let quoted: Vec<String> = argument.values.iter().map(|v| format!("\"{v}\"")).collect();
        let value = if argument.is_list {
            format!("[{}]", quoted.join(", "))
        } else {
            quoted
                .first()
                .cloned()
                .unwrap_or_else(|| "null".to_string())
        };
        lines.push((argument.name.into(), value));
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let indent = if rule.block.is_some() { "    " } else { "  " };
    let body: String = lines
        .iter()
        .map(|(k, v)| format!("{indent}{k:<width$} = {v}\n"))
        .collect();
    let mut out = format!(
        "resource \"{}\" \"{}\" {{\n",
        resource.resource_type, resource.name
    );
    match (rule.block.is_some(), removed) {
        (true, false) => out.push_str(&format!("  ingress {{\n{body}  }}\n")),
        (true, true) => out.push_str("  # this ingress block is removed: no source is left\n"),
        (false, false) => out.push_str(&body),
        (false, true) => out.push_str("  # this rule is removed: no source is left\n"),
    }
    out.push_str("}\n");
    out
}

//! Terraform resource addresses: just enough parsing to walk from an instance address to the
//! configuration that declared it.
//!
//! Instance keys may be strings holding dots and brackets (`module.net["a.b[0]"]`), so the
//! address is split with a small scanner that respects quoted keys, never with `split('.')`.

/// The module call names of a module instance address: `module.net["prod"].module.sg[0]` gives
/// `["net", "sg"]`. Returns `None` for text that is not a module address.
pub fn module_call_names(module_address: &str) -> Option<Vec<String>> {
    let mut names = Vec::new();
    let mut rest = module_address;
    while !rest.is_empty() {
        rest = rest.strip_prefix("module.")?;
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let name = &rest[..end];
        if name.is_empty() {
            return None;
        }
        names.push(name.to_string());
        rest = &rest[end..];
        if rest.starts_with('[') {
            rest = &rest[instance_key_len(rest)?..];
        }
        if let Some(next) = rest.strip_prefix('.') {
            rest = next;
            if rest.is_empty() {
                return None;
            }
        } else if !rest.is_empty() {
            return None;
        }
    }
    Some(names)
}

/// Length in bytes of an instance key `[0]` / `["a]b"]` at the start of `text`.
pub fn instance_key_len(text: &str) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ']' {
            return Some(i + 1);
        }
    }
    None
}

/// A reference to a managed resource attribute, as found in an expression's `references`:
/// `aws_vpc.main.cidr_block` or `aws_vpc.main[0].cidr_block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeReference {
    /// `aws_vpc.main` or `aws_vpc.main[0]`: the instance address inside the referring module.
    pub resource: String,
    pub attribute: String,
}

/// Parses a reference to an attribute of a managed resource in the same module. Variables,
/// locals, module outputs, data sources and meta references (`count.index`) are not.
pub fn attribute_reference(reference: &str) -> Option<AttributeReference> {
    const NOT_RESOURCES: &[&str] = &[
        "var",
        "local",
        "module",
        "data",
        "count",
        "each",
        "path",
        "terraform",
        "self",
    ];
    let (resource_type, rest) = reference.split_once('.')?;
    if NOT_RESOURCES.contains(&resource_type) || !is_identifier(resource_type) {
        return None;
    }
    let name_end = rest.find(['.', '['])?;
    let name = &rest[..name_end];
    if !is_identifier(name) {
        return None;
    }
    let mut after_name = &rest[name_end..];
    let mut key = "";
    if after_name.starts_with('[') {
        let len = instance_key_len(after_name)?;
        key = &after_name[..len];
        after_name = &after_name[len..];
    }
    let attribute = after_name.strip_prefix('.')?;
    if !is_identifier(attribute) {
        return None;
    }
    Some(AttributeReference {
        resource: format!("{resource_type}.{name}{key}"),
        attribute: attribute.to_string(),
    })
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_skip_count_and_for_each_keys() {
        assert_eq!(
            module_call_names(r#"module.net["prod"].module.sg[0]"#),
            Some(vec!["net".to_string(), "sg".to_string()])
        );
        assert_eq!(
            module_call_names(r#"module.a["x.y[1]"]"#),
            Some(vec!["a".to_string()])
        );
        assert_eq!(
            module_call_names("module.a.module.b"),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(module_call_names("aws_vpc.main"), None);
        assert_eq!(module_call_names("module."), None);
    }

    #[test]
    fn attribute_references_name_resource_and_attribute() {
        assert_eq!(
            attribute_reference("aws_vpc.main.cidr_block"),
            Some(AttributeReference {
                resource: "aws_vpc.main".into(),
                attribute: "cidr_block".into()
            })
        );
        assert_eq!(
            attribute_reference("aws_vpc.main[0].cidr_block").map(|r| r.resource),
            Some("aws_vpc.main[0]".into())
        );
        assert_eq!(
            attribute_reference(r#"aws_vpc.main["a.b"].ipv6_cidr_block"#).map(|r| r.resource),
            Some(r#"aws_vpc.main["a.b"]"#.into())
        );
    }

    #[test]
    fn non_resource_references_are_not_attribute_references() {
        for reference in [
            "var.cidr",
            "local.cidrs",
            "module.vpc.cidr",
            "data.aws_vpc.main.cidr_block",
            "count.index",
            "aws_vpc.main",
        ] {
            assert_eq!(attribute_reference(reference), None, "{reference}");
        }
    }
}

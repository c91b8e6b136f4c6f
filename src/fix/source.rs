//! Finding the literal in the Terraform source that holds a planned value.
//!
//! A value that is not written literally where the rule is declared is followed through
//! `var.NAME` to where the variable is set (`*.auto.tfvars`, `terraform.tfvars`, a `module`
//! block argument, or the variable's `default`); anything else is reported with the expression
//! to change instead of a guessed patch.

use std::ops::Range;
use std::rc::Rc;

use hcl_edit::Span;
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::{Body, Structure};

use crate::rules::ModuleCallSource;
use crate::sources::tree::label;
pub use crate::sources::tree::{SourceFile, SourceTree, line_of};

/// A literal expression in a file that holds a value to patch.
#[derive(Debug, Clone)]
pub struct Site {
    pub file: Rc<SourceFile>,
    /// Byte span of the expression in `file.text`.
    pub span: Range<usize>,
    /// How the value got there, for messages: `main.tf:12 cidr_blocks`, `var.allowed (default)`.
    pub origin: String,
}

impl SourceTree {
    /// Where the value of attribute `key` of `body` (in `file`, module `calls`) is written as a
    /// literal. `Ok(None)` when the attribute is absent.
    pub fn value_site(
        &mut self,
        file: &Rc<SourceFile>,
        body: &Body,
        key: &str,
        calls: &[ModuleCallSource],
    ) -> Result<Option<Site>, String> {
        let Some(attribute) = body.get_attribute(key) else {
            return Ok(None);
        };
        let expr = &attribute.value;
        let span = expr.span().unwrap_or(0..0);
        let line = line_of(&file.text, span.start);
        match expr {
            Expression::Array(_) | Expression::String(_) => Ok(Some(Site {
                file: file.clone(),
                span,
                origin: format!("{}:{line}", file.rel),
            })),
            _ => match variable_name(expr) {
                Some(var) => self.variable_site(&var, calls).map(Some),
                None => Err(format!(
                    "`{key} = {}` at {}:{line} is not a literal; change that expression so it no longer yields the world",
                    file.text[span].trim(),
                    file.rel
                )),
            },
        }
    }

    /// Where `var.NAME` of the module reached through `calls` gets its value.
    fn variable_site(&mut self, name: &str, calls: &[ModuleCallSource]) -> Result<Site, String> {
        let dir = self.module_dir(calls)?;
        if let Some((parent, last)) = calls.split_last().map(|(l, p)| (p, l)) {
            // A child module: the value is the argument of its `module` block in the parent.
            let parent_dir = self.module_dir(parent)?;
            for path in self.files_in(&parent_dir, ".tf").iter() {
                let file = self.file(path)?;
                let call = file.body.iter().find_map(|s| match s {
                    Structure::Block(b)
                        if b.ident.as_str() == "module"
                            && b.labels.first().map(label) == Some(last.name.as_str()) =>
                    {
                        Some(b)
                    }
                    _ => None,
                });
                if let Some(call) = call {
                    if call.body.get_attribute(name).is_some() {
                        let body = call.body.clone();
                        return self
                            .value_site(&file, &body, name, parent)?
                            .ok_or_else(|| format!("var.{name} has no value"));
                    }
                    break;
                }
            }
        } else if self.from_state {
            return Err(crate::sources::tree::unrecorded_variable(name));
        } else {
            // The root module, in Terraform's precedence (the tfvars files the evaluator reads,
            // highest first), then the `TF_VAR_` environment, then the variable's default.
            for path in crate::sources::eval::tfvars_files(self, &dir) {
                if path.to_string_lossy().ends_with(".json") {
                    // JSON syntax stays JSON: the value's span is found by position, and the
                    // patched file is parsed again as JSON before it is offered.
                    let file = self.raw_file(&path)?;
                    let members = super::json::members(&file.text)
                        .map_err(|e| format!("cannot read {}: {e}", file.rel))?;
                    let found: Vec<&(String, Range<usize>)> =
                        members.iter().filter(|(k, _)| k == name).collect();
                    let span = match found.as_slice() {
                        [] => continue,
                        [(_, span)] => span.clone(),
                        _ => {
                            return Err(format!(
                                "var.{name} is set more than once in {}; change it there",
                                file.rel
                            ));
                        }
                    };
                    let line = line_of(&file.text, span.start);
                    let value: Option<serde_json::Value> =
                        serde_json::from_str(&file.text[span.clone()]).ok();
                    let site = Site {
                        file: file.clone(),
                        span,
                        origin: format!("var.{name} ({}:{line})", file.rel),
                    };
                    return self.planned_value_check(name, site, value);
                }
                let file = self.file(&path)?;
                if let Some(attribute) = file.body.get_attribute(name) {
                    let site = literal_site(&file, &attribute.value, &format!("var.{name}"))?;
                    let value = crate::sources::matches::literal(&attribute.value);
                    return self.planned_value_check(name, site, value);
                }
            }
            if std::env::var_os(format!("TF_VAR_{name}")).is_some() {
                return Err(format!(
                    "var.{name} is set by the TF_VAR_{name} environment variable; change it there"
                ));
            }
        }
        // Otherwise the variable's default.
        for path in self.files_in(&dir, ".tf").iter() {
            let file = self.file(path)?;
            let default = file.body.iter().find_map(|s| match s {
                Structure::Block(b)
                    if b.ident.as_str() == "variable"
                        && b.labels.first().map(label) == Some(name) =>
                {
                    Some(b.body.get_attribute("default"))
                }
                _ => None,
            });
            match default {
                Some(Some(attribute)) => {
                    let site =
                        literal_site(&file, &attribute.value, &format!("var.{name} default"))?;
                    return if calls.is_empty() {
                        let value = crate::sources::matches::literal(&attribute.value);
                        self.planned_value_check(name, site, value)
                    } else {
                        Ok(site)
                    };
                }
                Some(None) => break,
                None => {}
            }
        }
        Err(format!(
            "var.{name} is set outside the source files portgate can see (-var, a -var-file, \
             TF_VAR_{name}); change it there"
        ))
    }
}

impl SourceTree {
    /// `site` when the value written there is the root variable's value in the plan (or the
    /// plan does not say): otherwise the plan's value came from somewhere portgate cannot see
    /// (`-var`, a `-var-file`, `TF_VAR_`), and patching this file would change nothing.
    fn planned_value_check(
        &self,
        name: &str,
        site: Site,
        written: Option<serde_json::Value>,
    ) -> Result<Site, String> {
        let Some(planned) = self.variables.get(name) else {
            return Ok(site);
        };
        match written {
            Some(value) if !crate::sources::matches::loosely_equal(planned, &value) => {
                Err(format!(
                    "var.{name} is {} in the plan, but {} gives {}: the plan's value comes from -var, a -var-file or TF_VAR_{name}; change it where it is set and plan again",
                    planned, site.origin, value
                ))
            }
            _ => Ok(site),
        }
    }
}

fn literal_site(file: &Rc<SourceFile>, expr: &Expression, what: &str) -> Result<Site, String> {
    let span = expr.span().unwrap_or(0..0);
    let line = line_of(&file.text, span.start);
    match expr {
        Expression::Array(_) | Expression::String(_) => Ok(Site {
            file: file.clone(),
            span,
            origin: format!("{what} ({}:{line})", file.rel),
        }),
        _ => Err(format!(
            "{what} at {}:{line} is `{}`, not a literal; change that expression",
            file.rel,
            file.text[span].trim()
        )),
    }
}

/// `NAME` when `expr` is exactly `var.NAME`.
fn variable_name(expr: &Expression) -> Option<String> {
    let Expression::Traversal(traversal) = expr else {
        return None;
    };
    let Expression::Variable(root) = &traversal.expr else {
        return None;
    };
    match traversal.operators.as_slice() {
        [op] if root.as_str() == "var" => match op.value() {
            TraversalOperator::GetAttr(name) => Some(name.as_str().to_string()),
            _ => None,
        },
        _ => None,
    }
}

//! A raw Terraform state (`terraform.tfstate`, `terraform state pull`; format version 4): its
//! `resources[].instances[]` become resources as a plan's `planned_values` would list them,
//! with the address Terraform gives each instance, so that the rules, waivers and reports see
//! a state exactly as they see a plan.
//!
//! Instances are read one at a time as they stream by when the resource's `mode`, `type` and
//! `name` come before `instances` (Terraform's order); otherwise (a file rewritten with sorted
//! keys, say) the resource's instances are held until its head has been read.

use super::*;

impl<R: Read> Walker<'_, R> {
    /// `version`: a raw state's format version, kept as the number's text.
    pub(super) fn state_version(&mut self) -> Result<()> {
        if !matches!(self.sc.peek()?, Some(b'-' | b'0'..=b'9')) {
            return Err(self.sc.type_error("a number"));
        }
        let mark = self.sc.set_mark();
        self.sc.skip()?;
        let text = String::from_utf8_lossy(self.sc.captured(mark))
            .trim()
            .to_string();
        self.sc.clear_mark(mark);
        self.doc.state_version = Some(text);
        Ok(())
    }

    /// `resources`: every instance of every resource of a kept type.
    pub(super) fn state_resources(&mut self) -> Result<()> {
        self.list(|w, i| {
            w.state_resource(i)
                .map_err(|e| with_path(e, &format!("[{i}]")))
        })
    }

    fn state_resource(&mut self, index: usize) -> Result<()> {
        self.enter_object()?;
        let mut head = StateHead::default();
        // The instances, when they come before the head that names them: their bytes and
        // where they start.
        let mut held: Option<(Vec<u8>, (usize, usize))> = None;
        let mut streamed = false;
        let mut seen = 0u8;
        let mut first = true;
        while self.sc.next_key(&mut first)? {
            self.sc.key(&mut self.key)?;
            let bit = match self.key.as_slice() {
                b"module" => 1,
                b"mode" => 2,
                b"type" => 4,
                b"name" => 8,
                b"instances" => 16,
                _ => 0,
            };
            if bit != 0 {
                // These decide what the instances are: with two, one reader could see a
                // security group where another sees something else.
                if seen & bit != 0 {
                    let key = String::from_utf8_lossy(&self.key).into_owned();
                    return Err(self.sc.error_message(format!("duplicate field `{key}`")));
                }
                seen |= bit;
            }
            match self.key.as_slice() {
                b"module" => {
                    if streamed {
                        return Err(self.sc.error_message(
                            "`module` comes after `instances`, whose addresses it decides; write the state in Terraform's order (`terraform state pull`)"
                                .to_string(),
                        ));
                    }
                    head.module = self.opt_string().map_err(|e| with_path(e, "module"))?;
                }
                b"mode" => head.mode = self.opt_string().map_err(|e| with_path(e, "mode"))?,
                b"type" => {
                    head.resource_type = Some(self.string().map_err(|e| with_path(e, "type"))?);
                }
                b"name" => head.name = Some(self.string().map_err(|e| with_path(e, "name"))?),
                b"instances" => {
                    if head.is_complete() {
                        streamed = true;
                        self.stream_instances(&head, index)
                            .map_err(|e| with_path(e, "instances"))?;
                    } else {
                        match self.sc.peek()? {
                            Some(b'[' | b'n') => {}
                            _ => return Err(self.sc.type_error("a list")),
                        }
                        let mark = self.sc.set_mark();
                        self.sc.skip()?;
                        let base = self.sc.position_of(mark.offset);
                        held = Some((self.sc.captured(mark).to_vec(), base));
                        self.sc.clear_mark(mark);
                    }
                }
                _ => self.sc.skip()?,
            }
        }
        let missing = if head.resource_type.is_none() {
            Some("type")
        } else if head.name.is_none() {
            Some("name")
        } else if seen & 16 == 0 {
            Some("instances")
        } else {
            None
        };
        if let Some(field) = missing {
            return Err(self.sc.error_message(format!("missing field `{field}`")));
        }
        if let Some((bytes, base)) = held
            && self.keep_state_type(&head) != Keep::Skip
        {
            let instances = deserialize::<Option<Vec<RawInstance>>>(&bytes, base)
                .map_err(|e| with_path(e, "instances"))?
                .unwrap_or_default();
            for (j, instance) in instances.iter().enumerate() {
                let resource = instance_resource(&head, instance, &bytes, base, index, j)
                    .map_err(|e| with_path(e, &format!("instances[{j}]")))?;
                self.offer_planned(resource);
            }
        }
        Ok(())
    }

    fn keep_state_type(&self, head: &StateHead) -> Keep {
        head.resource_type
            .as_deref()
            .map_or(Keep::Skip, |t| (self.keep)(t))
    }

    /// The instances under the cursor, each read, offered and released before the next.
    fn stream_instances(&mut self, head: &StateHead, index: usize) -> Result<()> {
        if self.keep_state_type(head) == Keep::Skip {
            // Not a type portgate reads: checked for its grammar only.
            return self.list(|w, _| w.sc.skip());
        }
        self.list(|w, j| {
            if w.sc.peek()? != Some(b'{') {
                return Err(with_path(w.sc.type_error("a map"), &format!("[{j}]")));
            }
            let mark = w.sc.set_mark();
            w.sc.skip()?;
            let base = w.sc.position_of(mark.offset);
            let bytes = w.sc.captured(mark);
            let resource = deserialize::<RawInstance>(bytes, base)
                .and_then(|instance| instance_resource(head, &instance, bytes, base, index, j));
            w.sc.clear_mark(mark);
            w.offer_planned(resource.map_err(|e| with_path(e, &format!("[{j}]")))?);
            Ok(())
        })
    }
}

/// What a raw state's resource says of all its instances.
#[derive(Default)]
struct StateHead {
    /// `module.a["x"].module.b`; absent in the root module.
    module: Option<String>,
    mode: Option<String>,
    resource_type: Option<String>,
    name: Option<String>,
}

impl StateHead {
    /// Whether the instances' addresses are known: Terraform writes `module` (when not the
    /// root module), `mode`, `type` and `name` before `instances`.
    fn is_complete(&self) -> bool {
        self.mode.is_some() && self.resource_type.is_some() && self.name.is_some()
    }
}

/// One instance of a raw state's resource: the current object (no `deposed`) or a deposed one.
#[derive(Deserialize)]
struct RawInstance<'a> {
    #[serde(borrow)]
    index_key: Option<&'a RawValue>,
    /// `tainted`, or absent.
    status: Option<String>,
    deposed: Option<String>,
    #[serde(borrow)]
    attributes: Option<&'a RawValue>,
    /// Terraform 0.11's flat map of strings, left in states no later version has rewritten.
    #[serde(borrow)]
    attributes_flat: Option<&'a RawValue>,
}

/// The resource an instance is, as `planned_values` would list it.
fn instance_resource(
    head: &StateHead,
    instance: &RawInstance<'_>,
    bytes: &[u8],
    base: (usize, usize),
    index: usize,
    j: usize,
) -> Result<PlannedResource> {
    let error_at = |raw: Option<&RawValue>, path: &str, message: String| {
        let (line, column) = match raw {
            Some(raw) => {
                let located = locate(raw, bytes, base);
                (located.line, located.column)
            }
            None => base,
        };
        InputErrorKind::Json {
            line,
            column,
            path: path.to_string(),
            message,
        }
    };
    let resource_type = head.resource_type.clone().unwrap_or_default();
    let name = head.name.clone().unwrap_or_default();
    let managed = head.mode.as_deref().unwrap_or("managed") == "managed";
    let key = match instance.index_key.map(RawValue::get) {
        None | Some("null") => String::new(),
        Some(text) if text.starts_with('"') => {
            let key: String = serde_json::from_str(text).unwrap_or_default();
            format!("[{}]", hcl_quoted(&key))
        }
        Some(text) => match text.parse::<u64>() {
            Ok(n) => format!("[{n}]"),
            Err(_) => {
                return Err(error_at(
                    instance.index_key,
                    "index_key",
                    format!("expected an integer or a string, found {text}"),
                ));
            }
        },
    };
    let module_address = head.module.clone().filter(|m| !m.is_empty());
    let address = format!(
        "{}{}{resource_type}.{name}{key}",
        module_address
            .as_deref()
            .map(|m| format!("{m}."))
            .unwrap_or_default(),
        if managed { "" } else { "data." },
    );
    let attributes = instance.attributes.filter(|raw| raw.get() != "null");
    if attributes.is_none() {
        return Err(
            match instance.attributes_flat.filter(|raw| raw.get() != "null") {
                Some(flat) => error_at(
                    Some(flat),
                    "attributes_flat",
                    format!(
                        "{address} is stored in Terraform 0.11's flat format, which portgate does not read; let Terraform 0.12 or later rewrite it (`terraform apply -refresh-only`), then pull the state again"
                    ),
                ),
                None => error_at(None, "", "missing field `attributes`".to_string()),
            },
        );
    }
    Ok(PlannedResource {
        address,
        module_address,
        managed,
        resource_type,
        name,
        deposed: instance.deposed.clone().filter(|d| !d.is_empty()),
        action: match instance.status.as_deref() {
            Some("tainted") => Action::Tainted,
            _ => Action::Existing,
        },
        after: attributes.map(|raw| locate(raw, bytes, base)),
        after_unknown: None,
        from_planned_values: true,
        json_path: format!("resources[{index}].instances[{j}]"),
        after_key: "attributes",
    })
}

/// A string instance key as Terraform writes it in an address: HCL's quoting, where `${` and
/// `%{` are doubled and anything unprintable is a `\u` escape (Terraform's
/// `addrs.StringKey.String`), so that addresses read from a state equal those of a plan.
fn hcl_quoted(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 2);
    out.push('"');
    for (i, c) in key.char_indices() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' | '%' => {
                out.push(c);
                if key[i + 1..].starts_with('{') {
                    out.push(c);
                }
            }
            c if c.is_control() => {
                let n = u32::from(c);
                if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::hcl_quoted;

    #[test]
    fn string_keys_are_quoted_as_terraform_quotes_them() {
        assert_eq!(hcl_quoted("a"), r#""a""#);
        assert_eq!(hcl_quoted(""), r#""""#);
        assert_eq!(hcl_quoted("a b.c[0]"), r#""a b.c[0]""#);
        assert_eq!(hcl_quoted(r#"say "hi"\"#), r#""say \"hi\"\\""#);
        assert_eq!(hcl_quoted("${x} %{y} $z"), r#""$${x} %%{y} $z""#);
        assert_eq!(hcl_quoted("a\nb\t"), r#""a\nb\t""#);
        assert_eq!(hcl_quoted("\u{7}"), r#""\u0007""#);
        assert_eq!(hcl_quoted("é"), "\"é\"");
    }
}

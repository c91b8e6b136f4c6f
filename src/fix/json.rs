//! Where the members of a JSON document's top-level object are, byte for byte: what a patch of
//! a `terraform.tfvars.json` / `*.auto.tfvars.json` value needs (serde_json parses values but
//! keeps no positions). The value spans are then read and edited like HCL literals: a JSON array
//! of strings is also an HCL tuple literal, and every patched file is parsed again as JSON
//! before it is offered.

use std::ops::Range;

/// The members of the top-level object of `text`: key and the byte span of its value.
pub fn members(text: &str) -> Result<Vec<(String, Range<usize>)>, String> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return Err("the document is not a JSON object".to_string());
    }
    at += 1;
    let mut out = Vec::new();
    loop {
        at = skip_space(bytes, at);
        match bytes.get(at) {
            Some(b'}') => return Ok(out),
            Some(b'"') => {}
            _ => return Err(format!("expected a member name at byte {at}")),
        }
        let key_end = string_end(bytes, at)?;
        let key: String = serde_json::from_str(&text[at..key_end])
            .map_err(|e| format!("bad member name at byte {at}: {e}"))?;
        at = skip_space(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return Err(format!("expected `:` at byte {at}"));
        }
        at = skip_space(bytes, at + 1);
        let value_end = value_end(bytes, at)?;
        out.push((key, at..value_end));
        at = skip_space(bytes, value_end);
        match bytes.get(at) {
            Some(b',') => at += 1,
            Some(b'}') => return Ok(out),
            _ => return Err(format!("expected `,` or `}}` at byte {at}")),
        }
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
        at += 1;
    }
    at
}

/// The end of the string starting at `at` (just past its closing quote).
fn string_end(bytes: &[u8], at: usize) -> Result<usize, String> {
    let mut i = at + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(format!("unterminated string at byte {at}"))
}

/// The end of the value starting at `at`.
fn value_end(bytes: &[u8], at: usize) -> Result<usize, String> {
    match bytes.get(at) {
        Some(b'"') => string_end(bytes, at),
        Some(b'[' | b'{') => {
            let mut depth = 0usize;
            let mut i = at;
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'"' => {
                        i = string_end(bytes, i)?;
                        continue;
                    }
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            Err(format!("unterminated value at byte {at}"))
        }
        Some(_) => {
            let mut i = at;
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                i += 1;
            }
            Ok(i)
        }
        None => Err(format!("expected a value at byte {at}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_values_are_located_exactly() {
        let text =
            "{\n  \"a\": [\"0.0.0.0/0\", \"x]\\\"\"],\n  \"b\" : {\"c\": [1, 2]}, \"d\": true\n}\n";
        let found = members(text).unwrap();
        let spans: Vec<(&str, &str)> = found
            .iter()
            .map(|(k, r)| (k.as_str(), &text[r.clone()]))
            .collect();
        assert_eq!(
            spans,
            [
                ("a", "[\"0.0.0.0/0\", \"x]\\\"\"]"),
                ("b", "{\"c\": [1, 2]}"),
                ("d", "true")
            ]
        );
    }

    #[test]
    fn a_document_that_is_not_an_object_is_refused() {
        assert!(members("[1]").is_err());
        assert!(members("{\"a\": [1}").is_err());
    }
}

//! Turns the raw bytes of a plan file into text.
//!
//! Real plan files are not always UTF-8: PowerShell's `>` writes UTF-16LE with a byte order mark,
//! some editors add a UTF-8 BOM, and people regularly pass the *binary* plan file (a zip archive)
//! instead of its JSON rendering. This module recognises each of those up front so the JSON stage
//! only ever sees text, and every refusal names what the bytes actually were.

use std::borrow::Cow;

use super::InputErrorKind;

/// Decodes plan bytes to text, stripping any byte order mark. The same decoding the streaming
/// reader applies, for callers that want the whole text (tests, other policy engines).
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, InputErrorKind> {
    let text = super::scan::read_text(bytes)?;
    if text.trim().is_empty() {
        return Err(InputErrorKind::Empty);
    }
    Ok(Cow::Owned(text))
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str, bom: bool) -> Vec<u8> {
        let mut out = if bom { vec![0xFF, 0xFE] } else { vec![] };
        for unit in s.encode_utf16() {
            out.extend_from_slice(&unit.to_le_bytes());
        }
        out
    }

    #[test]
    fn utf8_with_and_without_bom_decode_to_the_same_text() {
        let plain = decode(b"{\"a\":1}").unwrap();
        let with_bom = decode(b"\xEF\xBB\xBF{\"a\":1}").unwrap();
        assert_eq!(plain, with_bom);
    }

    #[test]
    fn utf16le_with_bom_is_decoded() {
        let bytes = utf16le("{\"format_version\":\"1.2\"}\r\n", true);
        assert_eq!(decode(&bytes).unwrap(), "{\"format_version\":\"1.2\"}\r\n");
    }

    #[test]
    fn utf16le_without_bom_is_decoded() {
        let bytes = utf16le("{\"format_version\":\"1.2\"}", false);
        assert_eq!(decode(&bytes).unwrap(), "{\"format_version\":\"1.2\"}");
    }

    #[test]
    fn utf16be_with_bom_is_decoded() {
        let mut bytes = vec![0xFE, 0xFF];
        for unit in "{\"a\":1}".encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        assert_eq!(decode(&bytes).unwrap(), "{\"a\":1}");
    }

    #[test]
    fn zip_magic_is_reported_as_a_binary_plan() {
        assert!(matches!(
            decode(b"PK\x03\x04rest"),
            Err(InputErrorKind::BinaryPlan)
        ));
    }

    #[test]
    fn invalid_utf8_reports_line_and_column() {
        match decode(b"{\n  \"a\": \"\xFF\"}") {
            Err(InputErrorKind::InvalidUtf8 { line, column, .. }) => {
                assert_eq!((line, column), (2, 9));
            }
            other => panic!("expected invalid UTF-8, got {other:?}"),
        }
    }

    #[test]
    fn truncated_utf16_is_an_error() {
        let mut bytes = utf16le("{}", true);
        bytes.push(b'x');
        assert!(matches!(
            decode(&bytes),
            Err(InputErrorKind::InvalidUtf16 { .. })
        ));
    }

    #[test]
    fn whitespace_only_input_is_empty() {
        assert!(matches!(decode(b" \n\t"), Err(InputErrorKind::Empty)));
        assert!(matches!(decode(b""), Err(InputErrorKind::Empty)));
    }
}

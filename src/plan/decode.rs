//! Turns the raw bytes of a plan file into text.
//!
//! Real plan files are not always UTF-8: PowerShell's `>` writes UTF-16LE with a byte order mark,
//! some editors add a UTF-8 BOM, and people regularly pass the *binary* plan file (a zip archive)
//! instead of its JSON rendering. This module recognises each of those up front so the JSON stage
//! only ever sees text, and every refusal names what the bytes actually were.

use std::borrow::Cow;

use super::InputErrorKind;

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
const UTF16LE_BOM: &[u8] = &[0xFF, 0xFE];
const UTF16BE_BOM: &[u8] = &[0xFE, 0xFF];
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// Decodes plan bytes to text, stripping any byte order mark.
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, InputErrorKind> {
    if bytes.starts_with(ZIP_MAGIC) || bytes.starts_with(b"PK\x05\x06") {
        return Err(InputErrorKind::BinaryPlan);
    }
    let text = if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        Cow::Borrowed(utf8(rest)?)
    } else if let Some(rest) = bytes.strip_prefix(UTF16LE_BOM) {
        Cow::Owned(utf16(rest, u16::from_le_bytes)?)
    } else if let Some(rest) = bytes.strip_prefix(UTF16BE_BOM) {
        Cow::Owned(utf16(rest, u16::from_be_bytes)?)
    } else if looks_like_utf16(bytes, 1) {
        // UTF-16 without a BOM: ASCII text has a zero in every other byte.
        Cow::Owned(utf16(bytes, u16::from_le_bytes)?)
    } else if looks_like_utf16(bytes, 0) {
        Cow::Owned(utf16(bytes, u16::from_be_bytes)?)
    } else {
        Cow::Borrowed(utf8(bytes)?)
    };
    if text.trim().is_empty() {
        return Err(InputErrorKind::Empty);
    }
    Ok(text)
}

fn utf8(bytes: &[u8]) -> Result<&str, InputErrorKind> {
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        // The prefix is valid by construction, so this conversion cannot fail.
        let prefix = std::str::from_utf8(valid).unwrap_or_default();
        let (line, column) = line_column(prefix, prefix.len());
        InputErrorKind::InvalidUtf8 {
            line,
            column,
            offset: e.valid_up_to(),
        }
    })
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, InputErrorKind> {
    if !bytes.len().is_multiple_of(2) {
        return Err(InputErrorKind::InvalidUtf16 {
            offset: bytes.len() - 1,
            reason: "odd number of bytes (truncated file?)",
        });
    }
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    let mut text = String::with_capacity(bytes.len() / 2);
    for (index, decoded) in char::decode_utf16(units).enumerate() {
        match decoded {
            Ok(c) => text.push(c),
            Err(_) => {
                return Err(InputErrorKind::InvalidUtf16 {
                    offset: index * 2,
                    reason: "unpaired surrogate",
                });
            }
        }
    }
    Ok(text)
}

/// True when the first bytes look like ASCII JSON stored as UTF-16 with no BOM, with the zero
/// byte of each code unit at `zero_at` (1 for little endian, 0 for big endian).
fn looks_like_utf16(bytes: &[u8], zero_at: usize) -> bool {
    let sample: Vec<&[u8]> = bytes.chunks_exact(2).take(8).collect();
    sample.len() >= 2
        && sample
            .iter()
            .all(|pair| pair[zero_at] == 0 && pair[1 - zero_at] != 0)
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
        let mut out = if bom { UTF16LE_BOM.to_vec() } else { vec![] };
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
        let mut bytes = UTF16BE_BOM.to_vec();
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

//! Refuses JSON objects that repeat a key, at any depth.
//!
//! Terraform never writes a duplicate key, and parsers disagree on which copy wins (serde_json
//! and Go's encoding/json keep the last, others the first or refuse), so a resource with one
//! could look safe to portgate and open to another tool, or to AWS. Every resource portgate
//! keeps is checked before it is read: [`may_repeat_a_key`] on its bytes (no allocation per
//! object, the cost of a plain walk), and only when that finds a candidate, [`UniqueKeys`]
//! through `serde_path_to_error` for the message and path.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::scan::skip_space;

/// Any JSON value without a repeated key in any of its objects; deserializing fails with
/// "duplicate field `KEY`" (with its path, through `serde_path_to_error`) otherwise.
pub(super) struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_none<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<UniqueKeys, D::Error> {
        UniqueKeys::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut keys: HashSet<Key<'de>> = HashSet::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if keys.contains(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate field `{}`",
                    key.as_str()
                )));
            }
            keys.insert(key);
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

/// Whether some object in `bytes` (one JSON value, already validated) may repeat a key: false
/// proves every object's keys are distinct. Keys are compared as written; a key with an escape
/// (`"t\u0061gs"` is `"tags"`) makes the answer "may", so the exact check decides.
pub(super) fn may_repeat_a_key(bytes: &[u8]) -> bool {
    walk(bytes, &mut Vec::new(), &mut Vec::new(), None, usize::MAX)
        .is_none_or(|end| skip_space(bytes, end) != bytes.len())
}

/// A member of an object near the top of a checked value: its key (raw, unescaped: a key with
/// an escape ends the walk) and its value, as byte ranges of the value's text. `depth` 1 is a
/// member of the outermost object, 2 a member of an object that is a value of one of those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Member {
    pub depth: u8,
    pub key: (usize, usize),
    pub value: (usize, usize),
}

/// The members [`members_if_unique`] lists, and the walk's stacks: reused from resource to
/// resource, so a walk allocates nothing once they have grown.
#[derive(Default)]
pub(super) struct Members {
    list: Vec<Member>,
    keys: Vec<(u64, usize, usize)>,
    frames: Vec<Frame>,
}

impl std::ops::Deref for Members {
    type Target = [Member];

    fn deref(&self) -> &[Member] {
        &self.list
    }
}

/// [`may_repeat_a_key`], also listing the members of the objects at depth 1 and 2 (in the
/// order their values end) into `members`: a kept resource's fields and those of its `change`
/// are read from these spans, so the key check's pass is the only pass over its bytes.
/// True when no key repeats; `members` is only complete then.
pub(super) fn members_if_unique(bytes: &[u8], members: &mut Members) -> bool {
    let Members { list, keys, frames } = members;
    list.clear();
    walk(bytes, keys, frames, Some(list), usize::MAX)
        .is_some_and(|end| skip_space(bytes, end) == bytes.len())
}

/// [`members_if_unique`] for the object that starts `bytes` (what follows it is not read), and
/// a proof that it is valid JSON: every token is checked as the scanner checks it (bytes
/// already known to be UTF-8), with at most `max_depth` containers open. Returns the index
/// just past the object; `None` when it is not wholly in `bytes`, may repeat a key or has
/// anything the walk is not sure of (the scanner's careful path then reads it and gives the
/// error, if there is one). This is what lets a kept resource be read in one pass.
pub(super) fn members_of_object(
    bytes: &[u8],
    members: &mut Members,
    max_depth: usize,
) -> Option<usize> {
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let Members { list, keys, frames } = members;
    list.clear();
    walk(bytes, keys, frames, Some(list), max_depth)
}

/// An open container: for an object, where its keys start in the key stack and a one-word
/// filter of their prints (a key whose bit is clear repeats none of them); `None` for arrays.
type Frame = Option<(usize, u64)>;

/// The walk behind [`may_repeat_a_key`]: a token loop with the scanner's string search over
/// the first JSON value of `bytes`, checking each token's grammar as it goes. Returns the
/// index just past the value, or `None` ("may repeat") at the first candidate and on anything
/// it does not expect (invalid JSON, a value cut off by the end of `bytes`, more than
/// `max_depth` open containers): only a careful reader's verdict counts then.
fn walk(
    bytes: &[u8],
    keys: &mut Vec<(u64, usize, usize)>,
    frames: &mut Vec<Frame>,
    mut members: Option<&mut Vec<Member>>,
    max_depth: usize,
) -> Option<usize> {
    use super::scan::{literal_len, number_end, string_end_escaped};
    // Keys of the objects open at the cursor: a fingerprint (most comparisons are one integer
    // compare) and the span.
    keys.clear();
    frames.clear();
    // Per depth 1 and 2: the open member's key span and where its value starts.
    let mut open = [(0usize, 0usize, 0usize); 3];
    // Where the last complete value ended.
    let mut value_end;
    let mut pos = skip_space(bytes, 0);
    // Reads the key whose opening quote is at `at` into the innermost object, and its colon;
    // opens its member when the object is at depth 1 or 2, and returns where its value starts.
    let key = |at: usize,
               keys: &mut Vec<(u64, usize, usize)>,
               frames: &mut [Frame],
               open: &mut [(usize, usize, usize); 3]| {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let (end, escaped) = string_end_escaped(bytes, at + 1)?;
        let (start, stop) = (at + 1, end - 1);
        let (first, filter) = frames.last_mut()?.as_mut()?;
        let first = *first;
        let text = &bytes[start..stop];
        let print = fingerprint(bytes, start, stop);
        let bit = 1u64 << (print.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58);
        // A big object (a long `tags` map) is left to the exact check, which hashes: comparing
        // each key with all before it would be quadratic.
        if escaped
            || keys.len() - first >= 64
            || (*filter & bit != 0
                && keys[first..]
                    .iter()
                    .any(|&(p, s, e)| p == print && &bytes[s..e] == text))
        {
            return None;
        }
        *filter |= bit;
        keys.push((print, start, stop));
        let colon = skip_space(bytes, end);
        if bytes.get(colon) != Some(&b':') {
            return None;
        }
        let value = skip_space(bytes, colon + 1);
        if let Some(member) = open.get_mut(frames.len()) {
            *member = (start, stop, value);
        }
        Some(value)
    };
    loop {
        // A value starts at `pos`.
        match bytes.get(pos) {
            Some(b'"') => pos = string_end_escaped(bytes, pos + 1)?.0,
            // (An empty container is a level too: the scanner refuses `{}` one level too deep.)
            Some(b'{' | b'[') if frames.len() >= max_depth => return None,
            Some(b'{') => {
                let inner = skip_space(bytes, pos + 1);
                if bytes.get(inner) == Some(&b'}') {
                    pos = inner + 1;
                } else {
                    frames.push(Some((keys.len(), 0)));
                    pos = key(inner, keys, frames, &mut open)?;
                    continue;
                }
            }
            Some(b'[') => {
                let inner = skip_space(bytes, pos + 1);
                if bytes.get(inner) == Some(&b']') {
                    pos = inner + 1;
                } else {
                    frames.push(None);
                    pos = inner;
                    continue;
                }
            }
            Some(b't' | b'f' | b'n') => pos += literal_len(bytes, pos)?,
            Some(b'-' | b'0'..=b'9') => match number_end(bytes, pos) {
                Some(end) => pos = end,
                // A number alone (nothing follows it to end it): no object, no key.
                None if frames.is_empty() => return Some(bytes.len()),
                None => return None,
            },
            _ => return None,
        }
        // A value ended at `pos`: close containers and move to the next value.
        value_end = pos;
        loop {
            let Some(&frame) = frames.last() else {
                return Some(pos);
            };
            pos = skip_space(bytes, pos);
            let depth = frames.len();
            let close = match (bytes.get(pos), frame) {
                (Some(b','), _) | (Some(b'}'), Some(_)) if frame.is_some() && depth <= 2 => {
                    if let Some(members) = members.as_deref_mut() {
                        let (key_start, key_end, value_start) = open[depth];
                        members.push(Member {
                            depth: depth as u8,
                            key: (key_start, key_end),
                            value: (value_start, value_end),
                        });
                    }
                    bytes[pos] == b'}'
                }
                (Some(b','), _) => false,
                (Some(b'}'), Some(_)) | (Some(b']'), None) => true,
                _ => return None,
            };
            if close {
                let frame = frames.pop().flatten();
                if let Some((first, _)) = frame {
                    keys.truncate(first);
                }
                pos += 1;
                value_end = pos;
                continue;
            }
            // A comma: the next member's key, or the next element.
            let next = skip_space(bytes, pos + 1);
            if frame.is_some() {
                pos = key(next, keys, frames, &mut open)?;
            } else {
                pos = next;
            }
            break;
        }
    }
}

/// The key `bytes[start..stop]`'s length and its first and last eight bytes, folded: equal
/// keys have equal prints, and different keys of an object almost never do.
#[inline(always)]
fn fingerprint(bytes: &[u8], start: usize, stop: usize) -> u64 {
    let len = (stop - start) as u64;
    let word = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };
    if len >= 8 {
        let (head, tail) = (word(start), word(stop - 8));
        return head.unwrap_or(0) ^ tail.unwrap_or(0).rotate_left(29) ^ (len << 56);
    }
    // Shorter than a word: its bytes (the word that starts with them, the rest masked off; at
    // the end of the input, byte by byte), and the length.
    let own = match word(start) {
        Some(w) => w & ((1u64 << (8 * len)) - 1),
        None => bytes[start..stop]
            .iter()
            .rev()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)),
    };
    own ^ (len << 56)
}

/// An object key: borrowed from the input when it has no escapes (the usual case), so reading
/// one allocates only for escaped keys. (Also what `rules::unknown` reads its keys as.)
pub(crate) struct Key<'de>(pub Cow<'de, str>);

impl Key<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

// Keys compare and hash by their text, whichever way they were read: `"a"` and `"\u0061"`
// are the same key.
impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Key<'_> {}

impl std::hash::Hash for Key<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }

            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key's print is the same wherever it lies: mid-input (read as a word) or at its end
    /// (read byte by byte); keys that differ in a byte or in length differ.
    #[test]
    fn a_key_prints_alike_wherever_it_lies() {
        for key in [
            "",
            "a",
            "id",
            "tags",
            "to_port",
            "protocol",
            "cidr_blocks",
            r"x\u0041",
        ] {
            let middle = format!("\"{key}\": 1234567890");
            let end = format!("\"{key}");
            let at = |text: &str| fingerprint(text.as_bytes(), 1, 1 + key.len());
            assert_eq!(at(&middle), at(&end), "{key}");
        }
        let print = |key: &str| fingerprint(key.as_bytes(), 0, key.len());
        assert_ne!(print("ab"), print("ac"));
        assert_ne!(print("a"), print("a\0"));
        assert_ne!(print("abcdefghi"), print("abcdefghj"));
    }

    fn check(text: &str) -> Result<(), String> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize::<_, UniqueKeys>(&mut de)
            .map(drop)
            .map_err(|e| format!("{} at {}", e.inner(), e.path()))
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth_with_its_path() {
        assert!(check(r#"{"a": 1, "b": [{"c": null, "d": {"e": "x"}}], "f": true}"#).is_ok());
        assert!(check(r#"[1, "two", 3.5, null, {}]"#).is_ok());
        let error = check(r#"{"a": 1, "a": 2}"#).unwrap_err();
        assert!(error.starts_with("duplicate field `a`"), "{error}");
        let error = check(r#"{"b": [{"c": 1}, {"c": 1, "d": {"e": 1, "e": 2}}]}"#).unwrap_err();
        assert!(error.starts_with("duplicate field `e`"), "{error}");
        assert!(error.ends_with("at b[1].d"), "{error}");
    }

    /// The fast pre-check never clears what the exact check refuses.
    #[test]
    fn the_fast_check_flags_every_repeated_key() {
        for text in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"b": [{"c": 1}, {"c": 1, "d": {"e": 1, "e": 2}}]}"#,
            r#"{"cidr_blocks": [], "cidr\u005fblocks": ["0.0.0.0/0"]}"#,
            r#"{"x": {"y": [1, {"k": "}", "k": 2}]}}"#,
            r#"{"a":{"b":1},"c":{"b":2},"a":3}"#,
        ] {
            assert!(check(text).is_err(), "{text}");
            assert!(may_repeat_a_key(text.as_bytes()), "{text}");
        }
        for text in [
            r#"{"a": 1, "b": [{"c": null, "d": {"e": "x"}}], "f": true}"#,
            r#"[{"a": 1}, {"a": 2}]"#,
            r#"{"a": {"a": {"a": 1}}, "b": "a,\"a\":"}"#,
            r#"{"a": [{"b": 1}, {"b": 2}], "b": {"a": 1}}"#,
        ] {
            assert!(check(text).is_ok(), "{text}");
            assert!(!may_repeat_a_key(text.as_bytes()), "{text}");
        }
    }

    proptest::proptest! {
        /// On any JSON a generator writes (keys drawn from a tiny alphabet so repeats are
        /// common), "no repeat" from the fast check means the exact check passes.
        #[test]
        fn the_fast_check_agrees_with_the_exact_one(value in json_value()) {
            let text = value;
            if check(&text).is_err() {
                proptest::prop_assert!(may_repeat_a_key(text.as_bytes()), "{}", text);
            } else if !text.contains("c\\u0061") {
                proptest::prop_assert!(!may_repeat_a_key(text.as_bytes()), "{}", text);
            }
        }
    }

    /// JSON text with objects that may repeat keys (built as text: `serde_json::Value` cannot
    /// hold a repeated key).
    fn json_value() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("1".to_string()),
            Just(r#""s,{\"k\":[""#.to_string()),
            Just(r#""a""#.to_string()),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(", "))),
                proptest::collection::vec(
                    (prop_oneof![Just("a"), Just("b"), Just("c\\u0061")], inner),
                    0..4
                )
                .prop_map(|members| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(k, v)| format!(r#""{k}":{v}"#))
                        .collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    /// The members of the outer object and of the objects that are its values, with their
    /// spans, in the order their values end; deeper ones are not listed.
    #[test]
    fn members_are_listed_down_to_depth_two() {
        let text = r#"{"a": 1, "b" : {"c":[{"d":2}], "e": "x,}"} ,"f":{}, "g":[{"h":3}]}"#;
        let mut members = Members::default();
        assert!(members_if_unique(text.as_bytes(), &mut members));
        let listed: Vec<(u8, &str, &str)> = members
            .iter()
            .map(|m| {
                (
                    m.depth,
                    &text[m.key.0..m.key.1],
                    &text[m.value.0..m.value.1],
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                (1, "a", "1"),
                (2, "c", r#"[{"d":2}]"#),
                (2, "e", r#""x,}""#),
                (1, "b", r#"{"c":[{"d":2}], "e": "x,}"}"#),
                (1, "f", "{}"),
                (1, "g", r#"[{"h":3}]"#),
            ]
        );
        assert!(!members_if_unique(
            br#"{"a": {"b": 1, "b": 2}}"#,
            &mut members
        ));
        assert!(!may_repeat_a_key(b"1") && !may_repeat_a_key(b" -2.5e3 "));
    }

    /// The one-pass read of a kept resource trusts [`members_of_object`] for its grammar:
    /// whatever it clears, serde_json accepts (and only the first value of its input is read),
    /// and what it refuses still goes to the scanner's careful path, so it may only refuse
    /// too much, never too little.
    #[test]
    fn an_object_is_cleared_only_when_it_is_valid_json() {
        let mut members = Members::default();
        let mut cleared = |text: &[u8], depth| members_of_object(text, &mut members, depth);
        let valid = br#"{"a": [1, -2.5e3, true, null, "x\u00e9\n"], "b": {"c": {}}} , junk"#;
        assert_eq!(cleared(valid, usize::MAX), Some(valid.len() - 7));
        for invalid in [
            &br#"{"a": 1,}"#[..],
            br#"{"a": [1,]}"#,
            br#"{"a" 1}"#,
            br#"{a: 1}"#,
            br#"{"a": 1, x": 2}"#,
            br#"{x": 2}"#,
            br#"{"a": 01}"#,
            br#"{"a": 1.}"#,
            br#"{"a": -}"#,
            br#"{"a": tru}"#,
            br#"{"a": truex}"#,
            br#"{"a": "\x"}"#,
            br#"{"a": "\u12g4"}"#,
            b"{\"a\": \"\x01\"}",
            br#"{"a": [1}"#,
            br#"{"a": {"b": 1]}"#,
            br#"{"a": 1 "b": 2}"#,
            br#"{"a": 1"#,
            br#"{"a": "unterminated"#,
            br#"[1]"#,
        ] {
            let shown = String::from_utf8_lossy(invalid);
            assert_eq!(cleared(invalid, usize::MAX), None, "{shown}");
        }
        // At most `max_depth` containers open, the outer object counted.
        assert_eq!(cleared(br#"{"a":[[1]]}"#, 3), Some(11));
        assert_eq!(cleared(br#"{"a":[[1]]}"#, 2), None);
        assert_eq!(cleared(br#"{"a":[{}]}"#, 3), Some(10));
        assert_eq!(cleared(br#"{"a":[{}]}"#, 2), None);
        assert_eq!(cleared(br#"{"a":[[]]}"#, 2), None);
    }

    proptest::proptest! {
        /// Valid objects damaged at random: whatever the walk clears is one valid JSON value
        /// to serde_json, and an undamaged object (no repeated or escaped key) is cleared whole.
        #[test]
        fn the_walk_clears_no_invalid_json(
            value in json_value(),
            edits in proptest::collection::vec(
                (0usize..64, proptest::sample::select(&br#"{}[]:,"\ 0-.eE1tfnu"#[..])),
                0..3,
            ),
            cut in 0usize..4,
        ) {
            let whole = format!("{{\"v\": {value}}}");
            let mut members = Members::default();
            if check(&whole).is_ok() && !whole.contains("c\\u0061") {
                proptest::prop_assert_eq!(
                    members_of_object(whole.as_bytes(), &mut members, usize::MAX),
                    Some(whole.len())
                );
            }
            let mut bytes = whole.into_bytes();
            for (at, byte) in edits {
                let at = at % (bytes.len() + 1);
                if at % 2 == 0 {
                    bytes.insert(at, byte);
                } else if at < bytes.len() {
                    bytes[at] = byte;
                }
            }
            bytes.truncate(bytes.len() - cut.min(bytes.len()));
            if let Some(end) = members_of_object(&bytes, &mut members, usize::MAX) {
                let first = &bytes[..end];
                proptest::prop_assert!(
                    serde_json::from_slice::<serde::de::IgnoredAny>(first).is_ok(),
                    "{}",
                    String::from_utf8_lossy(first)
                );
            }
        }
    }

    #[test]
    fn escaped_and_plain_spellings_of_a_key_are_the_same_key() {
        let error = check(r#"{"cidr_blocks": [], "cidr\u005fblocks": ["0.0.0.0/0"]}"#).unwrap_err();
        assert!(
            error.starts_with("duplicate field `cidr_blocks`"),
            "{error}"
        );
        let error = check(r#"{"t\u0061gs": 1, "tags": 2}"#).unwrap_err();
        assert!(error.starts_with("duplicate field `tags`"), "{error}");
        // The same key in sibling objects is fine.
        assert!(check(r#"[{"a": 1}, {"a": 2}]"#).is_ok());
    }
}

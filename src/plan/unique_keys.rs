//! Refuses JSON objects that repeat a key, at any depth.
//!
//! Terraform never writes a duplicate key, and parsers disagree on which copy wins (serde_json
//! and Go's encoding/json keep the last, others the first or refuse), so a resource with one
//! could look safe to portgate and open to another tool, or to AWS. Every resource portgate
//! keeps is checked before it is read: [`may_repeat_a_key`] on its bytes (no allocation per
//! object, the cost of a plain walk), and only when that finds a candidate, [`UniqueKeys`]
//! through `serde_path_to_error` for the message and path.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

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
    // Key spans of the objects open at the cursor, and where each open container's keys
    // start (`usize::MAX` for an array).
    let mut keys: Vec<(usize, usize)> = Vec::new();
    let mut frames: Vec<usize> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                let mut end = start;
                let mut escaped = false;
                loop {
                    match memchr::memchr2(b'"', b'\\', &bytes[end..]) {
                        None => return true, // not validated JSON after all: let serde decide
                        Some(at) if bytes[end + at] == b'\\' => {
                            escaped = true;
                            end += at + 2;
                        }
                        Some(at) => {
                            end += at;
                            break;
                        }
                    }
                }
                if expect_key {
                    if escaped {
                        return true;
                    }
                    let key = &bytes[start..end];
                    let first = *frames.last().unwrap_or(&0);
                    // A big object (a long `tags` map) is left to the exact check, which
                    // hashes: comparing each key with all before it would be quadratic.
                    if keys.len() - first > 64
                        || keys[first..].iter().any(|&(s, e)| &bytes[s..e] == key)
                    {
                        return true;
                    }
                    keys.push((start, end));
                    expect_key = false;
                }
                i = end + 1;
                continue;
            }
            b'{' => {
                frames.push(keys.len());
                expect_key = true;
            }
            b'[' => frames.push(usize::MAX),
            b'}' => {
                if let Some(first) = frames.pop() {
                    keys.truncate(first);
                }
            }
            b']' => {
                frames.pop();
            }
            b',' => expect_key = frames.last().is_some_and(|&f| f != usize::MAX),
            _ => {}
        }
        i += 1;
    }
    false
}

/// An object key: borrowed from the input when it has no escapes (the usual case), so checking
/// a resource allocates only for escaped keys.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
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
                Ok(Key::Borrowed(v))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_string()))
            }

            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

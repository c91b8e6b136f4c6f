//! `after_unknown`, read as far as the rules read it.
//!
//! Terraform marks a value unknown until apply with `true` at its place in `after_unknown`
//! (an attribute, one element of a list, one attribute of one block). The rules only ask
//! "is the value at this key or index `true`?", so the marks are read into [`Unknown`]: keys
//! borrowed from the plan's text, every other value folded into [`Unknown::Known`]. A
//! `serde_json::Value` of the same text allocates a `String` per key and a tree node per map:
//! with security groups' marks (a map per inline rule) that was 7% of reading a plan where
//! groups are common.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::plan::JsonKey;

/// One value of `after_unknown`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unknown<'a> {
    /// `true`: unknown until apply.
    True,
    /// Anything else that is not a list or a map (`false`, `null`, a number, a string): known.
    Known,
    List(Vec<Unknown<'a>>),
    /// Members in the order written. Keys are unique (the plan reader refuses a repeated
    /// one), so the first match is the only one.
    Map(Vec<(Cow<'a, str>, Unknown<'a>)>),
}

/// What [`Unknown::get`] looks up: a key of a map or an index of a list (as with
/// `serde_json::Value::get`).
pub(crate) trait Place {
    fn find<'u, 'a>(&self, value: &'u Unknown<'a>) -> Option<&'u Unknown<'a>>;
}

impl Place for &str {
    fn find<'u, 'a>(&self, value: &'u Unknown<'a>) -> Option<&'u Unknown<'a>> {
        match value {
            Unknown::Map(members) => members.iter().find(|(k, _)| k == self).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl Place for usize {
    fn find<'u, 'a>(&self, value: &'u Unknown<'a>) -> Option<&'u Unknown<'a>> {
        match value {
            Unknown::List(items) => items.get(*self),
            _ => None,
        }
    }
}

impl<'a> Unknown<'a> {
    /// The value at `place` (a key of a map, an index of a list); `None` when there is none.
    pub(crate) fn get<P: Place>(&self, place: P) -> Option<&Unknown<'a>> {
        place.find(self)
    }
}

impl<'de> Deserialize<'de> for Unknown<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UnknownVisitor)
    }
}

struct UnknownVisitor;

impl<'de> Visitor<'de> for UnknownVisitor {
    type Value = Unknown<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Unknown<'de>, E> {
        Ok(if value { Unknown::True } else { Unknown::Known })
    }

    fn visit_i64<E>(self, _: i64) -> Result<Unknown<'de>, E> {
        Ok(Unknown::Known)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Unknown<'de>, E> {
        Ok(Unknown::Known)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Unknown<'de>, E> {
        Ok(Unknown::Known)
    }

    fn visit_str<E>(self, _: &str) -> Result<Unknown<'de>, E> {
        Ok(Unknown::Known)
    }

    fn visit_unit<E>(self) -> Result<Unknown<'de>, E> {
        Ok(Unknown::Known)
    }

    fn visit_none<E>(self) -> Result<Unknown<'de>, E> {
        Ok(Unknown::Known)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Unknown<'de>, D::Error> {
        Unknown::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unknown<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Unknown::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unknown<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(JsonKey(key)) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        Ok(Unknown::Map(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every lookup the rules make answers as it does on a `serde_json::Value` of the same
    /// text: `true` where the value is `true`, absent where it is absent.
    #[test]
    fn lookups_agree_with_serde_json_values() {
        let text = r#"{"cidr_blocks":[false,true],"id":true,"ingress":[{"cidr_blocks":[true],
            "self":false},null,true],"t\u0061gs":{"a":true},"n":1.5,"s":"true","z":null}"#;
        let unknown: Unknown = serde_json::from_str(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        let is_true = |u: Option<&Unknown>| u == Some(&Unknown::True);
        let value_true = |v: Option<&Value>| v == Some(&Value::Bool(true));
        for key in [
            "cidr_blocks",
            "id",
            "ingress",
            "tags",
            "n",
            "s",
            "z",
            "absent",
        ] {
            assert_eq!(
                is_true(unknown.get(key)),
                value_true(value.get(key)),
                "{key}"
            );
            assert_eq!(
                unknown.get(key).is_some(),
                value.get(key).is_some(),
                "{key}"
            );
            for i in 0..4 {
                let (u, v) = (unknown.get(key), value.get(key));
                assert_eq!(
                    is_true(u.and_then(|u| u.get(i))),
                    value_true(v.and_then(|v| v.get(i))),
                    "{key}[{i}]"
                );
                for inner in ["cidr_blocks", "self"] {
                    let u = u.and_then(|u| u.get(i)).and_then(|u| u.get(inner));
                    let v = v.and_then(|v| v.get(i)).and_then(|v| v.get(inner));
                    assert_eq!(u.is_some(), v.is_some(), "{key}[{i}].{inner}");
                    assert_eq!(
                        is_true(u.and_then(|u| u.get(0))),
                        value_true(v.and_then(|v| v.get(0))),
                        "{key}[{i}].{inner}[0]"
                    );
                }
            }
        }
        assert_eq!(
            serde_json::from_str::<Unknown>("true").unwrap(),
            Unknown::True
        );
        assert_eq!(
            serde_json::from_str::<Unknown>("null").unwrap(),
            Unknown::Known
        );
        assert!(serde_json::from_str::<Unknown>(r#"{"a":}"#).is_err());
    }
}

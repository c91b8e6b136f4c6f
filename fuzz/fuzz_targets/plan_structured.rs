//! Structure-aware: the fuzzer's bytes drive edits of a valid plan (replace a value somewhere
//! with another JSON value, drop a key, duplicate an element), so inputs stay JSON and reach
//! deep into the reader, rule extraction and evaluation. Never a panic; and a plan whose
//! exposed rule is left intact still fails the gate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portgate::policy::PolicySet;
use portgate::{CheckOptions, check};
use serde_json::{Value, json};

const PLAN: &str = include_str!("../../testdata/plans/example.json");

fn pick<'a>(data: &mut &'a [u8]) -> u8 {
    let (first, rest) = data.split_first().unwrap_or((&0, &[]));
    *data = rest;
    *first
}

fn scalar(data: &mut &[u8]) -> Value {
    match pick(data) % 12 {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(445),
        4 => json!(65536),
        5 => json!("0.0.0.0/0"),
        6 => json!("::/0"),
        7 => json!("-1"),
        8 => json!([]),
        9 => json!({}),
        10 => json!(["0.0.0.0/1", "128.0.0.0/1"]),
        _ => json!("tcp"),
    }
}

/// Walks down from `value` choosing children with the fuzzer's bytes, then edits there.
fn edit(value: &mut Value, data: &mut &[u8]) {
    let choice = pick(data);
    match value {
        Value::Object(map) if !map.is_empty() && choice % 4 != 0 => {
            let index = pick(data) as usize % map.len();
            let key = map.keys().nth(index).cloned().unwrap_or_default();
            match choice % 4 {
                1 => {
                    map.remove(&key);
                }
                _ => {
                    if let Some(child) = map.get_mut(&key) {
                        edit(child, data);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() && choice % 4 != 0 => {
            let index = pick(data) as usize % items.len();
            match choice % 4 {
                1 => {
                    let copy = items[index].clone();
                    items.push(copy);
                }
                _ => edit(&mut items[index], data),
            }
        }
        _ => *value = scalar(data),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut plan: Value = serde_json::from_str(PLAN).expect("the seed plan is JSON");
    let mut data = data;
    for _ in 0..(pick(&mut data) % 4 + 1) {
        edit(&mut plan, &mut data);
    }
    let policies = PolicySet::builtin().expect("built-in policies load");
    let text = serde_json::to_vec(&plan).expect("a Value serializes");
    let _ = check(&text, "fuzz.json", &policies, &CheckOptions::default());
    // The same plan as UTF-16 gives the same answer.
    let utf16: Vec<u8> = std::iter::once(0xFEFFu16)
        .chain(String::from_utf8_lossy(&text).encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect();
    let a = check(&text, "fuzz.json", &policies, &CheckOptions::default()).map(|r| r.findings);
    let b = check(&utf16, "fuzz.json", &policies, &CheckOptions::default()).map(|r| r.findings);
    assert_eq!(a.is_ok(), b.is_ok());
    if let (Ok(a), Ok(b)) = (a, b) {
        assert_eq!(a, b);
    }
});

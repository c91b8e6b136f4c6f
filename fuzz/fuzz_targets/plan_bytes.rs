//! Arbitrary bytes as a plan: portgate never panics, and never passes what is not JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portgate::policy::PolicySet;
use portgate::{CheckOptions, check};

fuzz_target!(|bytes: &[u8]| {
    let policies = PolicySet::builtin().expect("built-in policies load");
    let result = check(bytes, "fuzz.json", &policies, &CheckOptions::default());
    // portgate also reads UTF-8 with a BOM and UTF-16 (ASCII with zero bytes), which
    // serde_json refuses; compare only plain UTF-8.
    let plain = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if !plain.contains(&0)
        && std::str::from_utf8(plain).is_ok()
        && serde_json::from_slice::<serde::de::IgnoredAny>(plain).is_err()
    {
        assert!(result.is_err(), "invalid JSON was read as a plan");
    }
    if let Err(e) = &result {
        // Every refusal is one line.
        assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
    }
});

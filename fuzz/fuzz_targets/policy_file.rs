//! Policy files: any text is a policy or a one-line error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = portgate::policy::parse_policy(text, "fuzz.toml", "fuzz") {
        assert!(!e.to_string().is_empty());
    }
});

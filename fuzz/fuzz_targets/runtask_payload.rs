//! Run task request bodies: parsing and HMAC verification never panic, a body verifies only
//! under its own signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portgate::runtask::request::RunTaskRequest;
use portgate::runtask::signature;

fuzz_target!(|body: &[u8]| {
    let key = b"fuzzing-key";
    let _ = serde_json::from_slice::<RunTaskRequest>(body);
    let header = signature::sign(key, body);
    assert!(signature::verify(key, body, &header));
    assert!(!signature::verify(b"another-key", body, &header));
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = signature::verify(key, body, text);
    }
});

//! `X-TFC-Task-Signature`: HMAC-SHA512 of the raw request body, hex-encoded.
//!
//! The MAC is computed over exactly the bytes received (never a re-serialisation) and compared
//! in constant time by `hmac`'s `verify_slice`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha512;

type HmacSha512 = Hmac<Sha512>;

/// The run task's HMAC key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct HmacKey(Vec<u8>);

impl HmacKey {
    /// A key, or nothing when `bytes` is empty (an empty key would accept any signer's MAC).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<HmacKey> {
        let bytes = bytes.into();
        (!bytes.is_empty()).then_some(HmacKey(bytes))
    }

    /// A key read from a file or an environment variable: trailing line ends (`\n`, `\r\n`)
    /// are not part of the key, since `echo KEY > file` adds one. Nothing else is trimmed.
    pub fn from_text(text: &[u8]) -> Option<HmacKey> {
        let mut end = text.len();
        while end > 0 && matches!(text[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        HmacKey::new(&text[..end])
    }

    /// True when `header` is the signature of `body` under this key (see [`verify`]).
    pub fn verify(&self, body: &[u8], header: &str) -> bool {
        verify(&self.0, body, header)
    }

    /// A MAC to feed a body piece by piece as it arrives (the service computes it while the
    /// body streams in), then check against the header.
    pub fn verifier(&self) -> Verifier {
        Verifier(HmacSha512::new_from_slice(&self.0).expect("HMAC accepts keys of any length"))
    }

    /// The signature of `body` under this key.
    pub fn sign(&self, body: &[u8]) -> String {
        sign(&self.0, body)
    }
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(<redacted>)")
    }
}

/// The MAC of a body read in pieces: [`Verifier::update`] with each, then [`Verifier::verify`].
pub struct Verifier(HmacSha512);

impl Verifier {
    pub fn update(&mut self, piece: &[u8]) {
        self.0.update(piece);
    }

    /// True when `header` is the hex MAC of every piece given, in order (either case,
    /// surrounding whitespace ignored; compared in constant time).
    pub fn verify(self, header: &str) -> bool {
        let Ok(given) = hex::decode(header.trim()) else {
            return false;
        };
        self.0.verify_slice(&given).is_ok()
    }
}

/// The signature TFC would send for `body` with `key`, lowercase hex.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha512::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// True when `header` is the hex HMAC-SHA512 of `body` under `key` (either case, surrounding
/// whitespace ignored).
pub fn verify(key: &[u8], body: &[u8], header: &str) -> bool {
    let Ok(mac) = HmacSha512::new_from_slice(key) else {
        return false;
    };
    let mut verifier = Verifier(mac);
    verifier.update(body);
    verifier.verify(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf '%s' '{"a":1}' | openssl dgst -sha512 -hmac secret`
    const VECTOR: &str = "42f08c0da01c9a46d4e5663d5f2140526a016507c598182c6769cca2bcf7ba43c395b719b01d288f5ad322564dce1d40ca28ef50b876fc49a33d13d6783114dd";

    #[test]
    fn a_signature_made_with_the_key_verifies_and_others_do_not() {
        let body = br#"{"a":1}"#;
        let signature = sign(b"secret", body);
        assert_eq!(signature.len(), 128);
        assert!(verify(b"secret", body, &signature));
        assert!(verify(b"secret", body, &signature.to_uppercase()));
        assert!(verify(b"secret", body, &format!(" {signature}\n")));
        assert!(!verify(b"other", body, &signature));
        assert!(!verify(b"secret", br#"{"a":2}"#, &signature));
        assert!(!verify(b"secret", body, ""));
        assert!(!verify(b"secret", body, "not hex"));
        assert_eq!(
            sign(b"secret", body),
            VECTOR,
            "matches openssl dgst -sha512 -hmac"
        );
    }

    #[test]
    fn keys_lose_only_their_trailing_line_end_and_never_show() {
        let key = HmacKey::from_text(b" secret\r\n").unwrap();
        assert_eq!(key, HmacKey::new(" secret").unwrap());
        assert!(HmacKey::from_text(b"\n").is_none());
        assert!(HmacKey::new("").is_none());
        assert!(!format!("{key:?}").contains("secret"));
        assert!(key.verify(b"{}", &key.sign(b"{}")));
    }

    #[test]
    fn a_body_verified_in_pieces_is_verified_as_a_whole() {
        let key = HmacKey::new("secret").unwrap();
        let body = br#"{"a":1,"b":[true,null]}"#;
        for split in 0..=body.len() {
            let mut verifier = key.verifier();
            verifier.update(&body[..split]);
            verifier.update(&body[split..]);
            assert!(verifier.verify(&key.sign(body)), "split at {split}");
        }
        let mut verifier = key.verifier();
        verifier.update(&body[1..]);
        assert!(!verifier.verify(&key.sign(body)));
    }
}

//! Telnyx's request signatures: `telnyx-signature-ed25519` is the base64 Ed25519 signature,
//! by the account's key, of `<telnyx-timestamp>|<raw body>`; a timestamp more than 300 s from
//! now is refused, so a captured request cannot be replayed later.

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signature, VerifyingKey};

/// How far a request's timestamp may be from our clock, either way.
pub const WINDOW_SECS: i64 = 300;

/// The account's public key, from its base64 form in the Telnyx portal.
pub fn public_key(base64: &str) -> Option<VerifyingKey> {
    crate::config::ed25519_public_key(base64)
}

/// Checks a callback at `now` (Unix seconds) from its two headers' values and its raw body.
/// The timestamp is digits only and the signature padded base64 of exactly 64 bytes, as
/// Telnyx sends them: anything looser is refused.
pub fn validate(
    key: &VerifyingKey,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> bool {
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(at) = timestamp.parse::<i64>() else {
        return false;
    };
    if (now - at).abs() > WINDOW_SECS {
        return false;
    }
    let Some(signature) = STANDARD
        .decode(signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b))
    else {
        return false;
    };
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.push(b'|');
    signed.extend_from_slice(body);
    key.verify_strict(&signed, &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
        divergent: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        public_key: String,
        now: i64,
        headers: BTreeMap<String, String>,
        body: String,
        valid: bool,
    }

    /// Every case from the file as it is; header names are matched in any case, as HTTP does.
    #[test]
    fn every_vector_from_telnyxs_sdks_passes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/telnyx-signature.json"
        );
        let file: Vectors = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(file.vectors.len() >= 21 && !file.divergent.is_empty());
        for v in file.vectors.iter().chain(&file.divergent) {
            let header = |name: &str| {
                v.headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            };
            let key = public_key(&v.public_key).expect("the file's key is a key");
            let accepted = match (
                header("telnyx-timestamp"),
                header("telnyx-signature-ed25519"),
            ) {
                (Some(ts), Some(sig)) => validate(&key, ts, sig, v.body.as_bytes(), v.now),
                _ => false,
            };
            assert_eq!(accepted, v.valid, "vector {:?}", v.name);
        }
    }
}

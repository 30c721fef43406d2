//! Unguessable secrets for page links and device cookies: 256 bits from the OS RNG, sent to
//! their holder once and stored only as a SHA-256 hash.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// base64url of 32 bytes.
const ENCODED_LEN: usize = 43;

/// A new secret, ready to put in a URL or a cookie.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `s` has the shape of a secret from [`generate`]; anything else is refused unread.
pub fn well_formed(s: &str) -> bool {
    s.len() == ENCODED_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_distinct_well_formed_and_hashed() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(well_formed(&a) && well_formed(&b));
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), a);
        assert!(!well_formed(&format!("{a} ")));
        assert!(!well_formed(&a[1..]));
    }
}

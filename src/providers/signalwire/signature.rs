//! SignalWire's request signatures, keyed with the project's Signing Key and sent as
//! `X-SignalWire-Signature` (cXML callbacks carry the same value as `X-Twilio-Signature`):
//! form callbacks are signed exactly as Twilio signs them; JSON callbacks as the lower-case
//! hex HMAC-SHA1 of the URL followed by the raw body.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::providers::twilio::signature as twilio;

/// Checks a cXML (form) callback: Twilio's scheme, keyed with the signing key.
pub fn validate_form(
    signing_key: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    twilio::validate(signing_key, url, params, signature)
}

/// The signature of a JSON callback to `url` with this raw body.
pub fn sign_json(signing_key: &str, url: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(signing_key.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks a JSON callback. The URL is tried as given, with the default port added and with it
/// removed, as SignalWire's own validator does; the hex must be lower case, as it sends it.
pub fn validate_json(signing_key: &str, url: &str, body: &[u8], signature: &str) -> bool {
    twilio::url_variants(url).iter().any(|u| {
        let expected = sign_json(signing_key, u, body);
        bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
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
        scheme: String,
        signing_key: String,
        url: String,
        #[serde(default)]
        params: Vec<(String, String)>,
        body: Option<String>,
        signature: String,
        valid: bool,
    }

    /// Every case whose verdict SignalWire's own SDKs gave, read from the file as it is.
    #[test]
    fn every_vector_from_signalwires_sdks_passes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/signalwire-signature.json"
        );
        let file: Vectors = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(file.vectors.len() >= 19);
        for v in file.vectors.iter().chain(&file.divergent) {
            let accepted = match (v.scheme.as_str(), &v.body) {
                ("json", Some(body)) => {
                    validate_json(&v.signing_key, &v.url, body.as_bytes(), &v.signature)
                }
                ("compat", None) => validate_form(&v.signing_key, &v.url, &v.params, &v.signature),
                (scheme, _) => panic!("vector {:?}: unknown scheme {scheme}", v.name),
            };
            assert_eq!(accepted, v.valid, "vector {:?}", v.name);
        }
    }

    #[test]
    fn what_sign_json_produces_validates_and_a_changed_body_does_not() {
        let url = "https://ivr.example.com/signalwire/voice";
        let sig = sign_json("key", url, b"{\"a\":1}");
        assert!(validate_json("key", url, b"{\"a\":1}", &sig));
        assert!(!validate_json("key", url, b"{\"a\":2}", &sig));
        assert!(!validate_json("other", url, b"{\"a\":1}", &sig));
    }
}

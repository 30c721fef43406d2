//! Twilio's request signature (`X-Twilio-Signature`): HMAC-SHA1, keyed with the auth token,
//! over the full URL followed by each form parameter's name and value, sorted.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The signature Twilio sends for a request to `url` with these form parameters.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    // Sorted by name, then value: byte order, so "Reason" comes before "ReasonConferenceEnded".
    // A repeated name=value pair counts once, as in Twilio's libraries.
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a form webhook. The URL is tried as given, with the scheme's default port added and
/// with it removed, because Twilio's own libraries accept all three.
pub fn validate(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    url_variants(url)
        .iter()
        .any(|u| same(&sign(auth_token, u, params), signature))
}

/// Checks a JSON webhook: the body's SHA-256 travels as `bodySHA256` in the signed URL.
pub fn validate_json_body(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let Some((_, declared)) = parsed.query_pairs().find(|(k, _)| k == "bodySHA256") else {
        return false;
    };
    let actual: String = Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    same(&actual, &declared) && validate(auth_token, url, &[], signature)
}

fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// `url` as given, with the scheme's default port added, and with it removed.
pub(crate) fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    let Ok(parsed) = url::Url::parse(url) else {
        return out;
    };
    let Some(default) = parsed.port_or_known_default() else {
        return out;
    };
    // `url` already drops a default port, so both spellings are rebuilt from the parts.
    let host = parsed.host_str().unwrap_or_default();
    let rest = format!(
        "{}{}",
        parsed.path(),
        parsed.query().map(|q| format!("?{q}")).unwrap_or_default()
    );
    let explicit = parsed.port().unwrap_or(default);
    out.push(format!("{}://{host}:{explicit}{rest}", parsed.scheme()));
    if parsed.port().is_none() {
        out.push(format!("{}://{host}{rest}", parsed.scheme()));
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        auth_token: String,
        url: String,
        params: Vec<(String, String)>,
        signature: String,
        valid: bool,
        body: Option<String>,
    }

    #[test]
    fn every_vector_from_twilios_helper_libraries_passes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/twilio-signature.json"
        );
        let file: Vectors = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(file.vectors.len() >= 18);
        for v in &file.vectors {
            let accepted = match &v.body {
                Some(body) => {
                    validate_json_body(&v.auth_token, &v.url, body.as_bytes(), &v.signature)
                }
                None => validate(&v.auth_token, &v.url, &v.params, &v.signature),
            };
            assert_eq!(accepted, v.valid, "vector {:?}", v.name);
        }
    }

    #[test]
    fn what_sign_produces_validates_and_nothing_else_does() {
        let params = vec![
            ("Digits".to_owned(), "1".to_owned()),
            ("CallSid".to_owned(), "CA1".to_owned()),
        ];
        let sig = sign("token", "https://x.test/twilio/voice", &params);
        assert!(validate(
            "token",
            "https://x.test/twilio/voice",
            &params,
            &sig
        ));
        assert!(validate(
            "token",
            "https://x.test:443/twilio/voice",
            &params,
            &sig
        ));
        assert!(!validate(
            "token",
            "https://x.test/twilio/status",
            &params,
            &sig
        ));
        assert!(!validate(
            "other",
            "https://x.test/twilio/voice",
            &params,
            &sig
        ));
        assert!(!validate(
            "token",
            "https://x.test/twilio/voice",
            &params[..1],
            &sig
        ));
    }
}

//! Vonage's request signatures.
//!
//! Voice and Messages callbacks carry `Authorization: Bearer <JWT>`, HS256 with the account's
//! signature secret, whose `payload_hash` is the hex SHA-256 of the body. Vonage's SDKs check
//! only the token; the body is what tandem acts on, so both are checked here. Inbound SMS
//! (the SMS API) carries a `sig` parameter over the other parameters instead.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use serde::Deserialize;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    payload_hash: Option<String>,
    iat: Option<f64>,
    nbf: Option<f64>,
    exp: Option<f64>,
    jti: Option<String>,
}

/// What a checked token says of itself: its id, which a replay repeats, and when it was made.
#[derive(Debug, PartialEq)]
pub struct Token {
    pub jti: Option<String>,
    pub iat: Option<i64>,
}

/// The oldest a callback's token may be, in seconds. Vonage's SDKs check no age; a token
/// made for one request is good for that request only, and a replay within this window is
/// refused by its `jti`.
pub const MAX_AGE_SECS: i64 = 300;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn same(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

/// Checks a JWT-signed callback at `now` (Unix seconds): an HS256 token (no other algorithm)
/// signed with `secret`, not expired, not before its `nbf` or `iat`, whose `payload_hash` is
/// the body's. `authorization` is the header's value.
pub fn validate_jwt(secret: &str, authorization: &str, body: &[u8], now: i64) -> bool {
    verify_jwt(secret, authorization, body, now).is_some()
}

/// [`validate_jwt`], with what the token says of itself when it holds.
pub fn verify_jwt(secret: &str, authorization: &str, body: &[u8], now: i64) -> Option<Token> {
    let token = authorization.strip_prefix("Bearer ")?;
    let mut parts = token.split('.');
    let (Some(head), Some(claims), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let (head_json, claims_json, sig) = (decode(head)?, decode(claims)?, decode(sig)?);
    let header = serde_json::from_slice::<Header>(&head_json).ok()?;
    if header.alg != "HS256" {
        return None;
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(head.as_bytes());
    mac.update(b".");
    mac.update(claims.as_bytes());
    if !same(&mac.finalize().into_bytes(), &sig) {
        return None;
    }
    let claims = serde_json::from_slice::<Claims>(&claims_json).ok()?;
    let now = now as f64;
    // A token from the future is refused, as the strictest of Vonage's SDKs does.
    if claims.exp.is_some_and(|exp| exp <= now)
        || claims.nbf.is_some_and(|nbf| nbf > now)
        || claims.iat.is_some_and(|iat| iat > now)
    {
        return None;
    }
    let actual = hex(&Sha256::digest(body));
    let declared = claims.payload_hash?;
    same(declared.as_bytes(), actual.as_bytes()).then(|| Token {
        jti: claims.jti,
        iat: claims.iat.map(|iat| iat as i64),
    })
}

/// [`verify_jwt`] for a callback received at `now`: the token must also say when it was made,
/// at most [`MAX_AGE_SECS`] ago, so a captured request is good for minutes, not for ever.
pub fn verify_callback(secret: &str, authorization: &str, body: &[u8], now: i64) -> Option<Token> {
    verify_jwt(secret, authorization, body, now)
        .filter(|t| t.iat.is_some_and(|iat| now - iat <= MAX_AGE_SECS))
}

/// A callback token as Vonage makes one: HS256 over the claims Vonage sends, with the body's
/// `payload_hash`, made at `now`. The dev phone signs its webhooks with it.
pub fn sign_jwt(secret: &str, application_id: &str, body: &[u8], now: i64) -> String {
    let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iat": now,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iss": "Vonage",
        "payload_hash": hex(&Sha256::digest(body)),
        "application_id": application_id,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(head.as_bytes());
    mac.update(b".");
    mac.update(claims.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{head}.{claims}.{sig}")
}

/// How the dashboard says SMS callbacks are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigMethod {
    Md5Hmac,
    Sha1Hmac,
    Sha256Hmac,
    Sha512Hmac,
    /// The legacy scheme: MD5 of the string followed by the secret.
    Md5Hash,
}

impl SigMethod {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "md5" => Self::Md5Hmac,
            "sha1" => Self::Sha1Hmac,
            "sha256" => Self::Sha256Hmac,
            "sha512" => Self::Sha512Hmac,
            "md5hash" => Self::Md5Hash,
            _ => return None,
        })
    }
}

/// Checks an SMS API callback's `sig` parameter: over `&name=value` for every other parameter
/// sorted by name (`&` and `=` in values read as `_`), hex in either case.
pub fn validate_sig(secret: &str, method: SigMethod, params: &[(String, String)]) -> bool {
    let Some(given) = params.iter().find(|(k, _)| k == "sig").map(|(_, v)| v) else {
        return false;
    };
    let mut rest: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sig").collect();
    rest.sort();
    let signed: String = rest
        .iter()
        .map(|(k, v)| format!("&{k}={}", v.replace(['&', '='], "_")))
        .collect();
    fn mac<M: Mac + KeyInit>(secret: &str, signed: &str) -> Vec<u8> {
        let mut m =
            <M as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        m.update(signed.as_bytes());
        m.finalize().into_bytes().to_vec()
    }
    let expected = match method {
        SigMethod::Md5Hmac => mac::<Hmac<Md5>>(secret, &signed),
        SigMethod::Sha1Hmac => mac::<Hmac<Sha1>>(secret, &signed),
        SigMethod::Sha256Hmac => mac::<Hmac<Sha256>>(secret, &signed),
        SigMethod::Sha512Hmac => mac::<Hmac<Sha512>>(secret, &signed),
        SigMethod::Md5Hash => Md5::digest(format!("{signed}{secret}").as_bytes()).to_vec(),
    };
    same(hex(&expected).as_bytes(), given.to_lowercase().as_bytes())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
        signature_secret: String,
        now: Option<i64>,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        body: Option<String>,
        signature_method: Option<String>,
        #[serde(default)]
        params: Vec<(String, String)>,
        valid: bool,
    }

    /// Every case from the file as it is, held to `valid`: the token and its `payload_hash`
    /// (not only what the SDKs check), and the stricter verdict where they disagree.
    #[test]
    fn a_token_the_phone_signs_is_taken_and_any_change_refused() {
        let body = br#"{"uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","dtmf":{"digits":"1"}}"#;
        let token = format!("Bearer {}", sign_jwt("secret", "app", body, 1_700_000_000));
        let checked = verify_jwt("secret", &token, body, 1_700_000_010).unwrap();
        assert_eq!(checked.iat, Some(1_700_000_000));
        assert!(checked.jti.is_some_and(|j| j.len() == 36));
        assert!(!validate_jwt("other", &token, body, 1_700_000_010));
        assert!(!validate_jwt("secret", &token, b"{}", 1_700_000_010));
        // Made in the future: refused.
        assert!(!validate_jwt("secret", &token, body, 1_699_999_000));
        // Made more than five minutes ago: good as a token, too old for a callback.
        assert!(validate_jwt("secret", &token, body, 1_700_000_301));
        assert!(verify_callback("secret", &token, body, 1_700_000_300).is_some());
        assert!(verify_callback("secret", &token, body, 1_700_000_301).is_none());
    }

    #[test]
    fn every_vector_passes_with_the_body_checked_too() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/vonage-signature.json"
        );
        let file: Vectors = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(file.vectors.len() >= 28 && !file.divergent.is_empty());
        for v in file.vectors.iter().chain(&file.divergent) {
            let accepted = match v.scheme.as_str() {
                "jwt" => validate_jwt(
                    &v.signature_secret,
                    v.headers.get("authorization").map_or("", String::as_str),
                    v.body.as_deref().unwrap_or_default().as_bytes(),
                    v.now.unwrap(),
                ),
                "sig" => {
                    let method = SigMethod::parse(v.signature_method.as_deref().unwrap()).unwrap();
                    validate_sig(&v.signature_secret, method, &v.params)
                }
                scheme => panic!("vector {:?}: unknown scheme {scheme}", v.name),
            };
            assert_eq!(accepted, v.valid, "vector {:?}", v.name);
        }
    }
}

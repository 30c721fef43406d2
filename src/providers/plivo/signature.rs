//! Plivo's request signatures. V3 (`X-Plivo-Signature-V3`, with `X-Plivo-Signature-V3-Nonce`):
//! base64 HMAC-SHA256, keyed with the auth token, over the URL as written (no fragment) with
//! its query and form parameters sorted, then `.` and the nonce. V2, the older scheme some
//! messaging callbacks still carry, covers only the URL's path and the nonce.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What the V3 signature covers, before `.` and the nonce: the URL's base as written, then
///
/// * GET: `?` and the query and the form parameters together, sorted, as `k=v&k=v`;
/// * POST: `?`, the sorted query as `k=v&k=v` and `.` when there is one, then each sorted
///   form parameter as name and value run together;
///
/// each name's values sorted, `+` read as a space. `None` for any method but GET and POST,
/// spelt as Plivo's SDKs compare it.
pub fn v3_signed(method: &str, url: &str, params: &[(String, String)]) -> Option<String> {
    let url = url.split('#').next().unwrap_or_default();
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut form = params.to_vec();
    let joined = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    match method {
        "GET" => {
            query.append(&mut form);
            query.sort();
            Some(match query.is_empty() {
                true => base.to_owned(),
                false => format!("{base}?{}", joined(&query)),
            })
        }
        "POST" => {
            query.sort();
            form.sort();
            let mut out = base.to_owned();
            if !query.is_empty() || !form.is_empty() {
                out.push('?');
            }
            out.push_str(&joined(&query));
            if !query.is_empty() && !form.is_empty() {
                out.push('.');
            }
            for (name, value) in &form {
                out.push_str(name);
                out.push_str(value);
            }
            Some(out)
        }
        _ => None,
    }
}

fn hmac(auth_token: &str, message: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The V3 signature for a request, as Plivo sends it.
pub fn sign_v3(
    auth_token: &str,
    method: &str,
    url: &str,
    params: &[(String, String)],
    nonce: &str,
) -> Option<String> {
    Some(hmac(
        auth_token,
        &format!("{}.{nonce}", v3_signed(method, url, params)?),
    ))
}

/// Checks a V3 header, which may list several signatures separated by commas (one per key
/// Plivo holds): any one matching is enough.
pub fn validate_v3(
    auth_token: &str,
    method: &str,
    url: &str,
    params: &[(String, String)],
    nonce: &str,
    header: &str,
) -> bool {
    let Some(expected) = sign_v3(auth_token, method, url, params, nonce) else {
        return false;
    };
    header
        .split(',')
        .any(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())))
}

/// The V2 signature: over the URL without its query, then the nonce.
pub fn sign_v2(auth_token: &str, url: &str, nonce: &str) -> String {
    let url = url.split(['#', '?']).next().unwrap_or_default();
    hmac(auth_token, &format!("{url}{nonce}"))
}

/// Checks a V2 signature.
pub fn validate_v2(auth_token: &str, url: &str, nonce: &str, signature: &str) -> bool {
    let expected = sign_v2(auth_token, url, nonce);
    bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
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
        auth_token: String,
        method: String,
        url: String,
        #[serde(default)]
        params: Vec<(String, String)>,
        nonce: String,
        signature: String,
        valid: bool,
        signed_string: Option<String>,
    }

    /// Every case whose verdict Plivo's SDKs gave, read from the file as it is; where they
    /// disagree (`divergent`), the stricter verdict the file recommends.
    #[test]
    fn every_vector_from_plivos_sdks_passes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/plivo-signature.json"
        );
        let file: Vectors = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(file.vectors.len() >= 29 && !file.divergent.is_empty());
        for v in file.vectors.iter().chain(&file.divergent) {
            let accepted = match v.scheme.as_str() {
                "v3" => validate_v3(
                    &v.auth_token,
                    &v.method,
                    &v.url,
                    &v.params,
                    &v.nonce,
                    &v.signature,
                ),
                "v2" => validate_v2(&v.auth_token, &v.url, &v.nonce, &v.signature),
                scheme => panic!("vector {:?}: unknown scheme {scheme}", v.name),
            };
            assert_eq!(accepted, v.valid, "vector {:?}", v.name);
            // Where the file shows what was signed, we sign exactly that.
            if let (Some(signed), "v3") = (&v.signed_string, v.scheme.as_str()) {
                let ours = v3_signed(&v.method, &v.url, &v.params).unwrap();
                assert_eq!(
                    &format!("{ours}.{}", v.nonce),
                    signed,
                    "vector {:?}",
                    v.name
                );
            }
        }
    }
}

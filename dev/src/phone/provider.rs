//! Which provider the phone plays and the account it holds there: how its webhooks are signed,
//! what its call ids look like, and what a tandem node must be told to trust it.

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signer, SigningKey};

pub use tandem::providers::twilio::Dialect;

/// The phone's account at its provider.
#[derive(Clone, Debug)]
pub struct Account {
    pub dialect: Dialect,
    /// Twilio's `AccountSid`, SignalWire's project id, Telnyx's TeXML account id.
    pub account_sid: String,
    /// What the REST API is called with: Twilio's auth token, SignalWire's API token, Telnyx's
    /// API key.
    pub auth_token: String,
    /// What webhooks are signed with: Twilio's auth token, SignalWire's signing key, Telnyx's
    /// Ed25519 private key (the base64 of its 32-byte seed), Vonage's signature secret.
    pub signing_key: String,
    /// Vonage's answer URL secret (`/vonage/answer/{secret}`); none elsewhere.
    pub answer_secret: Option<String>,
}

/// Every provider the phone can play, by the name `--provider` takes.
pub const DIALECTS: [Dialect; 5] = [
    Dialect::Twilio,
    Dialect::SignalWire,
    Dialect::Telnyx,
    Dialect::Plivo,
    Dialect::Vonage,
];

pub fn dialect(name: &str) -> Option<Dialect> {
    DIALECTS.into_iter().find(|d| d.name() == name)
}

/// `--provider`'s value: one of [`DIALECTS`] by name.
pub fn parse_dialect(name: &str) -> Result<Dialect, String> {
    dialect(name).ok_or_else(|| {
        let names: Vec<&str> = DIALECTS.iter().map(|d| d.name()).collect();
        format!("one of {}", names.join(", "))
    })
}

impl Account {
    /// A Twilio account: its auth token both signs and authenticates.
    pub fn twilio(account_sid: &str, auth_token: &str) -> Self {
        Self {
            dialect: Dialect::Twilio,
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            signing_key: auth_token.to_owned(),
            answer_secret: None,
        }
    }

    /// A fresh account at `dialect` with credentials of the provider's own shapes.
    pub fn new(dialect: Dialect) -> Self {
        let secret = || uuid::Uuid::new_v4().simple().to_string();
        match dialect {
            Dialect::Twilio => Self::twilio(&format!("AC{}", secret()), &secret()),
            Dialect::SignalWire => Self {
                dialect,
                account_sid: uuid::Uuid::new_v4().to_string(),
                auth_token: format!("PT{}", secret()),
                signing_key: format!("PSK_{}", secret()),
                answer_secret: None,
            },
            Dialect::Vonage => Self {
                dialect,
                account_sid: uuid::Uuid::new_v4().to_string(),
                auth_token: vonage_private_key(),
                signing_key: secret(),
                answer_secret: Some(format!("{}{}", secret(), secret())),
            },
            Dialect::Plivo => {
                let token = format!("{}{}", secret(), secret());
                Self {
                    dialect,
                    account_sid: format!("MA{}", secret()[..18].to_uppercase()),
                    auth_token: token[..40].to_owned(),
                    signing_key: token[..40].to_owned(),
                    answer_secret: None,
                }
            }
            Dialect::Telnyx => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).expect("the OS has randomness");
                Self {
                    dialect,
                    account_sid: uuid::Uuid::new_v4().to_string(),
                    auth_token: format!("KEY{}", secret().to_uppercase()),
                    signing_key: STANDARD.encode(seed),
                    answer_secret: None,
                }
            }
        }
    }

    /// Where a call is first posted: Vonage's answer URL holds its secret.
    pub fn voice_path(&self) -> String {
        match &self.answer_secret {
            Some(secret) => format!("/vonage/answer/{secret}"),
            None => format!("/{}/voice", self.dialect.name()),
        }
    }

    /// Where status events go: Vonage's application event URL, the others' status callback.
    pub fn status_path(&self) -> String {
        match self.dialect {
            Dialect::Vonage => "/vonage/event".to_owned(),
            _ => format!("/{}/status", self.dialect.name()),
        }
    }

    /// What a tandem node is told to serve this provider, with its REST API at `api_base`.
    pub fn server_env(&self, api_base: &str) -> Vec<(&'static str, String)> {
        let mut env = match self.dialect {
            Dialect::Twilio => vec![
                ("TANDEM_TWILIO_ACCOUNT_SID", self.account_sid.clone()),
                ("TANDEM_TWILIO_AUTH_TOKEN", self.auth_token.clone()),
                ("TANDEM_TWILIO_API_BASE", api_base.to_owned()),
            ],
            Dialect::SignalWire => vec![
                ("TANDEM_SIGNALWIRE_PROJECT_ID", self.account_sid.clone()),
                ("TANDEM_SIGNALWIRE_API_TOKEN", self.auth_token.clone()),
                ("TANDEM_SIGNALWIRE_SIGNING_KEY", self.signing_key.clone()),
                ("TANDEM_SIGNALWIRE_SPACE_URL", api_base.to_owned()),
            ],
            Dialect::Plivo => vec![
                ("TANDEM_PLIVO_AUTH_ID", self.account_sid.clone()),
                ("TANDEM_PLIVO_AUTH_TOKEN", self.auth_token.clone()),
                ("TANDEM_PLIVO_API_BASE", api_base.to_owned()),
            ],
            Dialect::Telnyx => vec![
                ("TANDEM_TELNYX_ACCOUNT_SID", self.account_sid.clone()),
                ("TANDEM_TELNYX_API_KEY", self.auth_token.clone()),
                ("TANDEM_TELNYX_PUBLIC_KEY", self.telnyx_public_key()),
                ("TANDEM_TELNYX_API_BASE", api_base.to_owned()),
            ],
            Dialect::Vonage => vec![
                ("TANDEM_VONAGE_APPLICATION_ID", self.account_sid.clone()),
                ("TANDEM_VONAGE_PRIVATE_KEY", self.auth_token.clone()),
                ("TANDEM_VONAGE_SIGNATURE_SECRET", self.signing_key.clone()),
                (
                    "TANDEM_VONAGE_ANSWER_SECRET",
                    self.answer_secret.clone().unwrap_or_default(),
                ),
                ("TANDEM_VONAGE_API_BASE", api_base.to_owned()),
            ],
        };
        // A Twilio-only node is the default; any other is named.
        if self.dialect != Dialect::Twilio {
            env.push(("TANDEM_PROVIDERS", self.dialect.name().to_owned()));
        }
        env
    }

    fn telnyx_key(&self) -> SigningKey {
        let seed: [u8; 32] = STANDARD
            .decode(&self.signing_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .expect("a Telnyx account's signing key is the base64 of 32 bytes");
        SigningKey::from_bytes(&seed)
    }

    /// The public half of the Telnyx key, as the portal shows it.
    pub fn telnyx_public_key(&self) -> String {
        STANDARD.encode(self.telnyx_key().verifying_key().to_bytes())
    }

    /// The headers a webhook to `url` with this raw `body` (a form, or JSON) carries, signed
    /// as the provider signs it; `form` is the body's parameters when it is a form.
    pub fn sign(
        &self,
        url: &str,
        form: &[(String, String)],
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        self.sign_request("POST", url, form, body, chrono::Utc::now().timestamp())
    }

    /// [`Account::sign`] as of `at` (Unix seconds), which only Telnyx's signature covers.
    pub fn sign_at(
        &self,
        url: &str,
        form: &[(String, String)],
        body: &[u8],
        at: i64,
    ) -> Vec<(&'static str, String)> {
        self.sign_request("POST", url, form, body, at)
    }

    /// A request by `method` (which only Plivo's signature covers), as of `at`.
    pub fn sign_request(
        &self,
        method: &str,
        url: &str,
        form: &[(String, String)],
        body: &[u8],
        at: i64,
    ) -> Vec<(&'static str, String)> {
        match self.dialect {
            Dialect::Plivo => {
                let nonce = super::new_sid("");
                let signature = tandem::providers::plivo::signature::sign_v3(
                    &self.signing_key,
                    method,
                    url,
                    form,
                    &nonce,
                )
                .expect("the phone sends GET or POST");
                vec![
                    ("X-Plivo-Signature-V3", signature),
                    ("X-Plivo-Signature-V3-Nonce", nonce),
                ]
            }
            Dialect::Twilio => vec![(
                "X-Twilio-Signature",
                tandem::providers::twilio::signature::sign(&self.signing_key, url, form),
            )],
            Dialect::SignalWire => {
                let signature =
                    tandem::providers::twilio::signature::sign(&self.signing_key, url, form);
                vec![
                    ("X-SignalWire-Signature", signature.clone()),
                    ("X-Twilio-Signature", signature),
                ]
            }
            Dialect::Vonage => {
                let token = tandem::providers::vonage::signature::sign_jwt(
                    &self.signing_key,
                    &self.account_sid,
                    body,
                    at,
                );
                vec![("Authorization", format!("Bearer {token}"))]
            }
            Dialect::Telnyx => {
                let timestamp = at.to_string();
                let mut signed = format!("{timestamp}|").into_bytes();
                signed.extend_from_slice(body);
                let signature = STANDARD.encode(self.telnyx_key().sign(&signed).to_bytes());
                vec![
                    ("telnyx-signature-ed25519", signature),
                    ("telnyx-timestamp", timestamp),
                ]
            }
        }
    }

    /// Plivo's messaging signature (V2): the URL without its query and a nonce, nothing of
    /// the body.
    pub fn sign_v2(&self, url: &str) -> Vec<(&'static str, String)> {
        let nonce = super::new_sid("");
        let signature =
            tandem::providers::plivo::signature::sign_v2(&self.signing_key, url, &nonce);
        vec![
            ("X-Plivo-Signature-V2", signature),
            ("X-Plivo-Signature-V2-Nonce", nonce),
        ]
    }

    /// Whether `authorization` is a Vonage application's JWT: RS256, signed with the key
    /// whose private half the account holds, for this application, not expired.
    pub fn vonage_token_valid(&self, authorization: &str) -> bool {
        use jsonwebtoken::{Algorithm, DecodingKey, Validation};
        let Some(token) = authorization.strip_prefix("Bearer ") else {
            return false;
        };
        let Some(public) = vonage_public_key(&self.auth_token) else {
            return false;
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["exp"]);
        jsonwebtoken::decode::<serde_json::Value>(
            token,
            &DecodingKey::from_rsa_der(&public),
            &validation,
        )
        .is_ok_and(|data| data.claims["application_id"] == self.account_sid.as_str())
    }

    /// A new call id of the provider's shape.
    pub fn new_call_id(&self) -> String {
        match self.dialect {
            Dialect::Twilio => super::new_sid("CA"),
            Dialect::SignalWire | Dialect::Plivo | Dialect::Vonage => {
                uuid::Uuid::new_v4().to_string()
            }
            Dialect::Telnyx => {
                let mut bytes = [0u8; 30];
                getrandom::fill(&mut bytes).expect("the OS has randomness");
                format!(
                    "v3:{}",
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
                )
            }
        }
    }
}

/// A fresh RSA private key in PKCS#8 PEM, as the Vonage dashboard hands one out.
fn vonage_private_key() -> String {
    use aws_lc_rs::{
        encoding::AsDer,
        rsa::{KeyPair, KeySize},
    };
    let key = KeyPair::generate(KeySize::Rsa2048).expect("the OS has randomness");
    let der = key.as_der().expect("a fresh key encodes");
    let body = STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// The public half (PKCS#1 DER) of a PKCS#8 PEM private key.
fn vonage_public_key(private_pem: &str) -> Option<Vec<u8>> {
    use aws_lc_rs::{rsa::KeyPair, signature::KeyPair as _};
    let body: String = private_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(body.trim()).ok()?;
    let key = KeyPair::from_pkcs8(&der).ok()?;
    Some(key.public_key().as_ref().to_vec())
}

//! Vonage's REST API, called with the application's JWT: a live call is transferred to a new
//! NCCO written inline (no round trip back to us), texts go out by the Messages API, a quiet
//! call is looked up by its id.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use uuid::Uuid;

use super::{
    callback,
    ncco::{Ncco, vonage_number},
};
use crate::{
    config::{Config, PublicUrl, VonageConfig},
    providers::{
        Dialect, fetched_call_status,
        markup::{self, Links},
        send, twilio,
    },
    session::Reply,
    telephony::{CallStatus, OutboundSms, ProviderError, Telephony},
};

/// How long a token is good for, and how long one is reused: signing with RSA costs about a
/// millisecond, which a live update should not pay each time.
const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
const TOKEN_REUSE: Duration = Duration::from_secs(5 * 60);

pub struct Vonage {
    http: reqwest::Client,
    api_base: String,
    application_id: String,
    key: std::sync::Arc<EncodingKey>,
    token: Mutex<Option<(String, Instant)>>,
    sms_from: String,
    public: PublicUrl,
    agent: Option<String>,
}

impl Vonage {
    pub fn new(config: &Config, vonage: &VonageConfig) -> Self {
        Self {
            http: crate::providers::http_client(),
            api_base: vonage.api_base.clone(),
            application_id: vonage.application_id.clone(),
            key: vonage.private_key.0.clone(),
            token: Mutex::new(None),
            sms_from: config.sms_from.clone(),
            public: config.public_url.clone(),
            agent: config.agent_number.clone(),
        }
    }

    /// The application's JWT (RS256: `application_id`, `iat`, `exp`, `jti`), made anew every
    /// few minutes.
    fn token(&self) -> Result<String, ProviderError> {
        let mut cached = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((token, made)) = cached.as_ref()
            && made.elapsed() < TOKEN_REUSE
        {
            return Ok(token.clone());
        }
        let now = chrono::Utc::now().timestamp();
        let claims = json!({
            "application_id": self.application_id,
            "iat": now,
            "exp": now + TOKEN_LIFETIME.as_secs() as i64,
            "jti": Uuid::new_v4().to_string(),
        });
        let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| ProviderError::Transport(format!("could not sign a Vonage token: {e}")))?;
        *cached = Some((token.clone(), Instant::now()));
        Ok(token)
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        Ok(self
            .http
            .request(method, format!("{}{path}", self.api_base))
            .bearer_auth(self.token()?))
    }
}

#[async_trait]
impl Telephony for Vonage {
    async fn update_call(
        &self,
        call_id: &str,
        session: Uuid,
        turn: u32,
        reply: &Reply,
    ) -> Result<(), ProviderError> {
        let links = Links {
            dialect: Dialect::Vonage,
            public: &self.public,
            session,
            turn,
            agent: self.agent.as_deref(),
            call: Some(call_id),
        };
        let ncco: serde_json::Value =
            serde_json::from_str(&markup::render::<Ncco>(reply, &links, false))
                .expect("an NCCO is JSON by construction");
        // A transfer to an empty NCCO is refused; a reply with nothing to say ends the call.
        let body = match ncco.as_array().is_some_and(|a| a.is_empty()) {
            true => json!({ "action": "hangup" }),
            false => json!({
                "action": "transfer",
                "destination": { "type": "ncco", "ncco": ncco },
            }),
        };
        let path = format!("/v1/calls/{call_id}");
        send(self.request(reqwest::Method::PUT, &path)?.json(&body)).await?;
        Ok(())
    }

    async fn send_sms(&self, sms: OutboundSms<'_>) -> Result<(), ProviderError> {
        let body = json!({
            "message_type": "text",
            "channel": "sms",
            "to": vonage_number(sms.to),
            "from": vonage_number(&self.sms_from),
            "text": sms.body,
        });
        send(
            self.request(reqwest::Method::POST, "/v1/messages")?
                .json(&body),
        )
        .await?;
        Ok(())
    }

    async fn call_status(&self, call_id: &str) -> Result<Option<CallStatus>, ProviderError> {
        let request = self.request(reqwest::Method::GET, &format!("/v1/calls/{call_id}"))?;
        fetched_call_status(request, |s| {
            callback::status(s).and_then(twilio::webhook::call_status)
        })
        .await
    }
}

//! Plivo's REST API: a live call moves by `aleg_url` (Plivo fetches the new XML from it, so
//! tandem points it at `/plivo/resume`, where the turn's reply is served), texts go out by
//! the Message API, a quiet call is looked up among the live ones.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

use crate::{
    config::{Config, PlivoConfig, PublicUrl},
    providers::send,
    session::Reply,
    telephony::{CallStatus, OutboundSms, ProviderError, Telephony},
};

pub struct Plivo {
    http: reqwest::Client,
    /// `{api_base}/v1/Account/{auth_id}`.
    account_url: String,
    auth_id: String,
    auth_token: SecretString,
    sms_from: String,
    public: PublicUrl,
}

impl Plivo {
    pub fn new(config: &Config, plivo: &PlivoConfig) -> Self {
        Self {
            http: super::super::http_client(),
            account_url: format!("{}/v1/Account/{}", plivo.api_base, plivo.auth_id),
            auth_id: plivo.auth_id.clone(),
            auth_token: plivo.auth_token.clone(),
            sms_from: config.sms_from.clone(),
            public: config.public_url.clone(),
        }
    }

    fn request(&self, method: reqwest::Method, resource: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{resource}", self.account_url))
            .basic_auth(&self.auth_id, Some(self.auth_token.expose_secret()))
    }
}

#[async_trait]
impl Telephony for Plivo {
    async fn update_call(
        &self,
        call_id: &str,
        session: Uuid,
        turn: u32,
        _reply: &Reply,
    ) -> Result<(), ProviderError> {
        let url = self
            .public
            .join(&format!("/plivo/resume?session={session}&turn={turn}"));
        let body = json!({ "legs": "aleg", "aleg_url": url, "aleg_method": "POST" });
        send(
            self.request(reqwest::Method::POST, &format!("Call/{call_id}/"))
                .json(&body),
        )
        .await?;
        Ok(())
    }

    async fn send_sms(&self, sms: OutboundSms<'_>) -> Result<(), ProviderError> {
        let body = json!({ "src": self.sms_from, "dst": sms.to, "text": sms.body });
        send(self.request(reqwest::Method::POST, "Message/").json(&body)).await?;
        Ok(())
    }

    /// A live call is found among the live ones; one that is not there has ended.
    async fn call_status(&self, call_id: &str) -> Result<Option<CallStatus>, ProviderError> {
        let request = self.request(
            reqwest::Method::GET,
            &format!("Call/{call_id}/?status=live"),
        );
        match send(request).await {
            Ok(_) => Ok(Some(CallStatus::InProgress)),
            Err(ProviderError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

//! Telnyx's REST API: live updates replace the call's TeXML inline (TeXML Calls update),
//! texts go out by the Messaging API.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

use crate::{
    config::{Config, PublicUrl, TelnyxConfig},
    providers::{
        send,
        twilio::{Dialect, twiml},
        twiml_call_status,
    },
    session::Reply,
    telephony::{CallStatus, OutboundSms, ProviderError, Telephony},
};

pub struct Telnyx {
    http: reqwest::Client,
    api_base: String,
    account_sid: String,
    api_key: SecretString,
    messaging_profile_id: Option<String>,
    sms_from: String,
    public: PublicUrl,
    agent: Option<String>,
}

impl Telnyx {
    pub fn new(config: &Config, telnyx: &TelnyxConfig) -> Self {
        Self {
            http: super::super::http_client(),
            api_base: telnyx.api_base.clone(),
            account_sid: telnyx.account_sid.clone(),
            api_key: telnyx.api_key.clone(),
            messaging_profile_id: telnyx.messaging_profile_id.clone(),
            sms_from: config.sms_from.clone(),
            public: config.public_url.clone(),
            agent: config.agent_number.clone(),
        }
    }

    fn call_url(&self, call_id: &str) -> String {
        format!(
            "{}/v2/texml/Accounts/{}/Calls/{call_id}",
            self.api_base, self.account_sid
        )
    }
}

#[async_trait]
impl Telephony for Telnyx {
    async fn update_call(
        &self,
        call_id: &str,
        session: Uuid,
        turn: u32,
        reply: &Reply,
    ) -> Result<(), ProviderError> {
        let links = twiml::Links {
            dialect: Dialect::Telnyx,
            public: &self.public,
            session,
            turn,
            agent: self.agent.as_deref(),
            call: None,
        };
        let doc = twiml::render(reply, &links, false);
        let request = self
            .http
            .post(self.call_url(call_id))
            .bearer_auth(self.api_key.expose_secret())
            .form(&[("Texml", doc.as_str())]);
        send(request).await?;
        Ok(())
    }

    async fn send_sms(&self, sms: OutboundSms<'_>) -> Result<(), ProviderError> {
        let mut body = json!({ "from": self.sms_from, "to": sms.to, "text": sms.body });
        if let Some(profile) = &self.messaging_profile_id {
            body["messaging_profile_id"] = profile.as_str().into();
        }
        let request = self
            .http
            .post(format!("{}/v2/messages", self.api_base))
            .bearer_auth(self.api_key.expose_secret())
            .json(&body);
        send(request).await?;
        Ok(())
    }

    async fn call_status(&self, call_id: &str) -> Result<Option<CallStatus>, ProviderError> {
        twiml_call_status(
            self.http
                .get(self.call_url(call_id))
                .bearer_auth(self.api_key.expose_secret()),
        )
        .await
    }
}

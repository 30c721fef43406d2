//! Twilio's REST API: send a text (Messages) and replace a live call's TwiML (Calls update).

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{
    twiml::{self, Links},
    webhook,
};
use crate::{
    config::{Config, PublicUrl},
    session::Reply,
    telephony::{CallStatus, OutboundSms, ProviderError, Telephony},
};

pub struct Twilio {
    http: reqwest::Client,
    api_base: String,
    account_sid: String,
    auth_token: SecretString,
    sms_from: String,
    public: PublicUrl,
    agent: Option<String>,
}

impl Twilio {
    pub fn new(config: &Config) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .build()
            .expect("the HTTP client builds with static settings");
        Self {
            http,
            api_base: config.twilio.api_base.clone(),
            account_sid: config.twilio.account_sid.clone(),
            auth_token: config.twilio.auth_token.clone(),
            sms_from: config.sms_from.clone(),
            public: config.public_url.clone(),
            agent: config.agent_number.clone(),
        }
    }

    async fn post(&self, resource: &str, form: &[(&str, &str)]) -> Result<(), ProviderError> {
        if self.account_sid.is_empty() || self.auth_token.expose_secret().is_empty() {
            return Err(ProviderError::NotConfigured);
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{resource}",
            self.api_base, self.account_sid
        );
        let response = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(form)
            .send()
            .await
            .map_err(|e| ProviderError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let mut body = response.text().await.unwrap_or_default();
        body.truncate(300);
        Err(ProviderError::Refused {
            status: status.as_u16(),
            body,
        })
    }
}

#[async_trait]
impl Telephony for Twilio {
    async fn update_call(
        &self,
        call_id: &str,
        session: Uuid,
        turn: u32,
        reply: &Reply,
    ) -> Result<(), ProviderError> {
        let links = Links {
            dialect: super::Dialect::Twilio,
            public: &self.public,
            session,
            turn,
            agent: self.agent.as_deref(),
            call: None,
        };
        let doc = twiml::render(reply, &links, false);
        self.post(&format!("Calls/{call_id}.json"), &[("Twiml", &doc)])
            .await
    }

    async fn call_status(&self, call_id: &str) -> Result<Option<CallStatus>, ProviderError> {
        if self.account_sid.is_empty() || self.auth_token.expose_secret().is_empty() {
            return Err(ProviderError::NotConfigured);
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Calls/{call_id}.json",
            self.api_base, self.account_sid
        );
        let response = self
            .http
            .get(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .send()
            .await
            .map_err(|e| ProviderError::Transport(e.without_url().to_string()))?;
        match response.status().as_u16() {
            404 => Ok(None),
            200..=299 => {
                let call: serde_json::Value = response
                    .json()
                    .await
                    .map_err(|e| ProviderError::Transport(e.without_url().to_string()))?;
                Ok(call["status"].as_str().and_then(webhook::call_status))
            }
            status => Err(ProviderError::Refused {
                status,
                body: response.text().await.unwrap_or_default(),
            }),
        }
    }

    async fn send_sms(&self, sms: OutboundSms<'_>) -> Result<(), ProviderError> {
        self.post(
            "Messages.json",
            &[("To", sms.to), ("From", &self.sms_from), ("Body", sms.body)],
        )
        .await
    }
}

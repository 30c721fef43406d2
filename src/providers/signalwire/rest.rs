//! SignalWire's Compatibility REST API: texts by Messages, live updates by pointing the call
//! at a URL (the API takes no inline cXML), where the session's reply for that turn is served.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::{
    config::{Config, PublicUrl, SignalWireConfig},
    providers::{send, twiml_call_status},
    session::Reply,
    telephony::{CallStatus, OutboundSms, ProviderError, Telephony},
};

pub struct SignalWire {
    http: reqwest::Client,
    /// `{space}/api/laml/2010-04-01/Accounts/{project}`.
    account_url: String,
    project_id: String,
    api_token: SecretString,
    sms_from: String,
    public: PublicUrl,
}

impl SignalWire {
    pub fn new(config: &Config, signalwire: &SignalWireConfig) -> Self {
        Self {
            http: super::super::http_client(),
            account_url: format!(
                "{}/api/laml/2010-04-01/Accounts/{}",
                signalwire.space_url, signalwire.project_id
            ),
            project_id: signalwire.project_id.clone(),
            api_token: signalwire.api_token.clone(),
            sms_from: config.sms_from.clone(),
            public: config.public_url.clone(),
        }
    }

    fn post(&self, resource: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/{resource}", self.account_url))
            .basic_auth(&self.project_id, Some(self.api_token.expose_secret()))
    }
}

#[async_trait]
impl Telephony for SignalWire {
    async fn update_call(
        &self,
        call_id: &str,
        session: Uuid,
        turn: u32,
        _reply: &Reply,
    ) -> Result<(), ProviderError> {
        // The call fetches its reply from us: one more round trip than an inline document.
        let url = self
            .public
            .join(&format!("/signalwire/resume?session={session}&turn={turn}"));
        let form = [("Url", url.as_str()), ("Method", "POST")];
        send(self.post(&format!("Calls/{call_id}")).form(&form)).await?;
        Ok(())
    }

    async fn send_sms(&self, sms: OutboundSms<'_>) -> Result<(), ProviderError> {
        let form = [("To", sms.to), ("From", &self.sms_from), ("Body", sms.body)];
        send(self.post("Messages").form(&form)).await?;
        Ok(())
    }

    async fn call_status(&self, call_id: &str) -> Result<Option<CallStatus>, ProviderError> {
        twiml_call_status(
            self.http
                .get(format!("{}/Calls/{call_id}", self.account_url))
                .basic_auth(&self.project_id, Some(self.api_token.expose_secret())),
        )
        .await
    }
}

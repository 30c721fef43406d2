//! The provider's REST API as the dev phone serves it, in the dialect it plays: Twilio's
//! Messages and Calls (inline `Twiml`), SignalWire's Compatibility API (Calls move by `Url`
//! only), Telnyx's TeXML Calls and Messaging API, Plivo's Call transfer and Message API,
//! Vonage's Voice (`PUT /v1/calls/{uuid}`) and Messages APIs. Each with its own auth and
//! error shapes, delivering texts and live updates to the phone.

use std::time::Instant;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{post, put},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use super::{ApiKind, ApiRequest, Control, Dialect, Phone, Sms, new_sid, twiml};

impl Phone {
    /// The router to serve on a port of its own; point the node's API base setting
    /// (`TANDEM_TWILIO_API_BASE`, `TANDEM_SIGNALWIRE_SPACE_URL`, `TANDEM_TELNYX_API_BASE`) at it.
    pub fn fake_api(&self) -> Router {
        let router = match self.inner.config.account.dialect {
            Dialect::Twilio => Router::new()
                .route(
                    "/2010-04-01/Accounts/{account}/Messages.json",
                    post(create_message),
                )
                .route(
                    "/2010-04-01/Accounts/{account}/Calls/{call}",
                    post(update_call).get(fetch_call),
                ),
            Dialect::SignalWire => Router::new()
                .route(
                    "/api/laml/2010-04-01/Accounts/{account}/Messages",
                    post(create_message),
                )
                .route(
                    "/api/laml/2010-04-01/Accounts/{account}/Messages.json",
                    post(create_message),
                )
                .route(
                    "/api/laml/2010-04-01/Accounts/{account}/Calls/{call}",
                    post(update_call).get(fetch_call),
                ),
            Dialect::Plivo => Router::new()
                .route("/v1/Account/{account}/Message/", post(plivo_message))
                .route(
                    "/v1/Account/{account}/Call/{call}/",
                    post(plivo_transfer).get(fetch_call),
                ),
            Dialect::Telnyx => Router::new()
                .route("/v2/messages", post(telnyx_message))
                .route(
                    "/v2/texml/Accounts/{account}/Calls/{call}",
                    post(update_call).get(fetch_call),
                ),
            Dialect::Vonage => Router::new()
                .route("/v1/messages", post(vonage_message))
                .route("/v1/calls/{call}", put(vonage_update).get(vonage_call)),
        };
        router.with_state(self.clone())
    }

    fn dialect(&self) -> Dialect {
        self.inner.config.account.dialect
    }

    /// Basic `account:token` (Twilio, SignalWire), a Bearer API key (Telnyx) or the
    /// application's JWT (Vonage), and the account in the path being the phone's own.
    fn authorised(&self, account: Option<&str>, headers: &HeaderMap) -> bool {
        let config = &self.inner.config.account;
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if config.dialect == Dialect::Vonage {
            return config.vonage_token_valid(given);
        }
        let expected = match config.dialect {
            Dialect::Telnyx => format!("Bearer {}", config.auth_token),
            _ => format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", config.account_sid, config.auth_token))
            ),
        };
        account.is_none_or(|a| a == config.account_sid) && given == expected
    }

    /// The provider's error document.
    fn error(&self, status: StatusCode, code: u32, message: &str) -> Response {
        let body = match self.dialect() {
            Dialect::Plivo => json!({ "api_id": uuid::Uuid::new_v4(), "error": message }),
            Dialect::Telnyx => json!({
                "errors": [{ "code": code.to_string(), "title": message, "detail": message }]
            }),
            Dialect::Twilio => json!({
                "code": code,
                "message": message,
                "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
                "status": status.as_u16(),
            }),
            Dialect::SignalWire => json!({
                "code": code,
                "message": message,
                "more_info": "https://developer.signalwire.com/compatibility-api/rest/",
                "status": status.as_u16(),
            }),
            // RFC 7807 problem details.
            Dialect::Vonage => json!({
                "type": format!("https://developer.vonage.com/api-errors#{}", status.as_u16()),
                "title": status.canonical_reason().unwrap_or("Error"),
                "detail": message,
                "instance": uuid::Uuid::new_v4(),
            }),
        };
        (status, Json(body)).into_response()
    }

    fn unauthorised(&self) -> Response {
        match self.dialect() {
            Dialect::Telnyx => self.error(StatusCode::UNAUTHORIZED, 10009, "Authentication failed"),
            Dialect::Vonage => self.error(
                StatusCode::UNAUTHORIZED,
                401,
                "You did not provide correct credentials.",
            ),
            _ => self.error(StatusCode::UNAUTHORIZED, 20003, "Authenticate"),
        }
    }

    fn not_found(&self, what: &str) -> Response {
        match self.dialect() {
            Dialect::Telnyx => self.error(StatusCode::NOT_FOUND, 10005, "Resource not found"),
            Dialect::Plivo => self.error(StatusCode::NOT_FOUND, 404, "not found"),
            Dialect::Vonage => self.error(
                StatusCode::NOT_FOUND,
                404,
                &format!("Call {what} doesn't exist."),
            ),
            _ => self.error(
                StatusCode::NOT_FOUND,
                20404,
                &format!("The requested resource {what} was not found"),
            ),
        }
    }

    /// The call id in a Calls path: Twilio's ends in `.json`; SignalWire's may; Telnyx's not.
    fn call_in_path<'a>(&self, call: &'a str) -> Option<&'a str> {
        match self.dialect() {
            Dialect::Twilio => call.strip_suffix(".json"),
            Dialect::SignalWire => Some(call.strip_suffix(".json").unwrap_or(call)),
            Dialect::Telnyx | Dialect::Plivo | Dialect::Vonage => Some(call),
        }
    }
}

fn form(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

async fn create_message(
    State(phone): State<Phone>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !phone.authorised(Some(&account), &headers) {
        return phone.unauthorised();
    }
    let form = form(&body);
    phone.inner.record(ApiRequest {
        kind: ApiKind::Message,
        call: None,
        path: format!("/Accounts/{account}/Messages.json"),
        form: form.clone(),
        at: Instant::now(),
    });
    let Some(to) = field(&form, "To") else {
        return phone.error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        );
    };
    let Some(text) = field(&form, "Body") else {
        return phone.error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    };
    let from = field(&form, "From").unwrap_or_default();
    let sms = Sms {
        to: to.to_owned(),
        from: from.to_owned(),
        body: text.to_owned(),
    };
    let sid = new_sid("SM");
    let resource = json!({
        "sid": sid, "account_sid": account, "to": sms.to, "from": sms.from, "body": sms.body,
        "status": "queued", "direction": "outbound-api", "num_segments": "1", "api_version": "2010-04-01",
        "date_created": chrono::Utc::now().to_rfc2822(),
        "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json"),
    });
    phone.inner.deliver(sms);
    (StatusCode::CREATED, Json(resource)).into_response()
}

/// A JSON message request (Telnyx's, Plivo's), read under the provider's names for the
/// recipient, the sender and the text, and recorded under Twilio's; `None` when it is not
/// JSON. A missing field reads as empty, for the provider's own refusal.
fn json_message(phone: &Phone, path: String, body: &[u8], to: &str, from: &str) -> Option<Sms> {
    let message = serde_json::from_slice::<Value>(body).ok()?;
    let text = |k: &str| message[k].as_str().unwrap_or_default().to_owned();
    let sms = Sms {
        to: text(to),
        from: text(from),
        body: text("text"),
    };
    phone.inner.record(ApiRequest {
        kind: ApiKind::Message,
        call: None,
        path,
        form: vec![
            ("To".into(), sms.to.clone()),
            ("From".into(), sms.from.clone()),
            ("Body".into(), sms.body.clone()),
        ],
        at: Instant::now(),
    });
    Some(sms)
}

/// Telnyx's Messaging API: `POST /v2/messages` with JSON `from`, `to`, `text`.
async fn telnyx_message(State(phone): State<Phone>, headers: HeaderMap, body: Bytes) -> Response {
    if !phone.authorised(None, &headers) {
        return phone.unauthorised();
    }
    let Some(sms) = json_message(&phone, "/v2/messages".into(), &body, "to", "from") else {
        return phone.error(StatusCode::BAD_REQUEST, 10015, "Bad Request");
    };
    if sms.to.is_empty() || sms.body.is_empty() {
        return phone.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            10005,
            "The 'to' and 'text' fields are required",
        );
    }
    let resource = json!({ "data": {
        "id": uuid::Uuid::new_v4(), "record_type": "message", "direction": "outbound", "type": "SMS",
        "from": { "phone_number": sms.from }, "to": [{ "phone_number": sms.to, "status": "queued" }],
        "text": sms.body, "parts": 1,
    }});
    phone.inner.deliver(sms);
    (StatusCode::OK, Json(resource)).into_response()
}

/// Plivo's Message API: `POST Message/` with JSON `src`, `dst`, `text`.
async fn plivo_message(
    State(phone): State<Phone>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !phone.authorised(Some(&account), &headers) {
        return phone.unauthorised();
    }
    let path = format!("/v1/Account/{account}/Message/");
    let Some(sms) = json_message(&phone, path, &body, "dst", "src") else {
        return phone.error(StatusCode::BAD_REQUEST, 400, "invalid JSON");
    };
    if sms.to.is_empty() || sms.from.is_empty() || sms.body.is_empty() {
        return phone.error(
            StatusCode::BAD_REQUEST,
            400,
            "src, dst and text are required",
        );
    }
    phone.inner.deliver(sms);
    let resource = json!({
        "api_id": uuid::Uuid::new_v4(),
        "message": "message(s) queued",
        "message_uuid": [uuid::Uuid::new_v4()],
    });
    (StatusCode::ACCEPTED, Json(resource)).into_response()
}

/// Plivo's Transfer: `POST Call/{uuid}/` with JSON `legs`, `aleg_url`, `aleg_method`; the
/// call fetches its next XML from `aleg_url` (Plivo takes no inline document).
async fn plivo_transfer(
    State(phone): State<Phone>,
    Path((account, call)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    if !phone.authorised(Some(&account), &headers) {
        return phone.unauthorised();
    }
    let Ok(transfer) = serde_json::from_slice::<Value>(&body) else {
        return phone.error(StatusCode::BAD_REQUEST, 400, "invalid JSON");
    };
    let text = |k: &str| transfer[k].as_str().unwrap_or_default().to_owned();
    let (legs, url, method) = (text("legs"), text("aleg_url"), text("aleg_method"));
    phone.inner.record(ApiRequest {
        kind: ApiKind::CallUpdate,
        call: Some(call.clone()),
        path: format!("/v1/Account/{account}/Call/{call}/"),
        form: vec![
            ("Url".into(), url.clone()),
            ("Method".into(), method.clone()),
        ],
        at: received,
    });
    let method = match method.as_str() {
        "" => "POST".to_owned(),
        m @ ("GET" | "POST") => m.to_owned(),
        _ => {
            return phone.error(
                StatusCode::BAD_REQUEST,
                400,
                "aleg_method must be GET or POST",
            );
        }
    };
    if legs != "aleg" || url.is_empty() {
        return phone.error(StatusCode::BAD_REQUEST, 400, "legs=aleg needs an aleg_url");
    }
    let Some(control) = phone.inner.control(&call) else {
        return phone.not_found(&call);
    };
    if control
        .send(Control::Redirect {
            url,
            method,
            received,
        })
        .is_err()
    {
        return phone.not_found(&call);
    }
    let resource = json!({ "api_id": uuid::Uuid::new_v4(), "message": "call transferred", "call_uuids": [call] });
    (StatusCode::ACCEPTED, Json(resource)).into_response()
}

/// Calls fetch: the call's `status`, `in-progress` while it lasts and `completed` after
/// (providers keep ended calls; this phone forgets them, so any other id reads as ended).
async fn fetch_call(
    State(phone): State<Phone>,
    Path((account, call)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !phone.authorised(Some(&account), &headers) {
        return phone.unauthorised();
    }
    let Some(sid) = phone.call_in_path(&call) else {
        return phone.not_found(&call);
    };
    let status = match phone.inner.control(sid) {
        Some(_) => "in-progress",
        // Plivo is asked among its live calls: an ended one is not there.
        None if phone.dialect() == Dialect::Plivo => return phone.not_found(sid),
        None => "completed",
    };
    Json(json!({ "sid": sid, "account_sid": account, "status": status, "call_status": status }))
        .into_response()
}

async fn update_call(
    State(phone): State<Phone>,
    Path((account, call)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    if !phone.authorised(Some(&account), &headers) {
        return phone.unauthorised();
    }
    let Some(sid) = phone.call_in_path(&call) else {
        return phone.not_found(&call);
    };
    let form = form(&body);
    phone.inner.record(ApiRequest {
        kind: ApiKind::CallUpdate,
        call: Some(sid.to_owned()),
        path: format!("/Accounts/{account}/Calls/{call}"),
        form: form.clone(),
        at: received,
    });
    let Some(control) = phone.inner.control(sid) else {
        return phone.not_found(&format!("/Accounts/{account}/Calls/{sid}"));
    };
    // SignalWire's Compatibility API has no inline document: only a URL moves the call.
    let inline = match phone.dialect() {
        Dialect::SignalWire => None,
        _ => field(&form, "Twiml").or_else(|| field(&form, "Texml")),
    };
    let command = match (inline, field(&form, "Url"), field(&form, "Status")) {
        (Some(doc), _, _) => {
            if let Err(e) = twiml::parse(doc) {
                return phone.error(
                    StatusCode::BAD_REQUEST,
                    21220,
                    &format!("Invalid TwiML: {e}"),
                );
            }
            Control::LiveUpdate {
                twiml: doc.to_owned(),
                received,
            }
        }
        (None, Some(url), _) => {
            let method = field(&form, "Method")
                .unwrap_or("POST")
                .to_ascii_uppercase();
            if !matches!(method.as_str(), "GET" | "POST") {
                return phone.error(StatusCode::BAD_REQUEST, 21205, "Method must be GET or POST");
            }
            Control::Redirect {
                url: url.to_owned(),
                method,
                received,
            }
        }
        (None, None, Some("completed" | "canceled")) => Control::Complete,
        _ => {
            let expected = match phone.dialect() {
                Dialect::SignalWire => "Url or Status is required",
                _ => "Twiml, Url or Status is required",
            };
            return phone.error(StatusCode::BAD_REQUEST, 21218, expected);
        }
    };
    if control.send(command).is_err() {
        return phone.not_found(&format!("/Accounts/{account}/Calls/{sid}"));
    }
    let resource = json!({
        "sid": sid, "account_sid": account, "status": "in-progress", "api_version": "2010-04-01",
        "uri": format!("/Accounts/{account}/Calls/{sid}.json"),
    });
    (StatusCode::OK, Json(resource)).into_response()
}

/// Vonage's Messages API: `POST /v1/messages` with JSON `message_type`, `channel`, `to`,
/// `from` (numbers without `+`), `text`.
async fn vonage_message(State(phone): State<Phone>, headers: HeaderMap, body: Bytes) -> Response {
    if !phone.authorised(None, &headers) {
        return phone.unauthorised();
    }
    let Some(mut sms) = json_message(&phone, "/v1/messages".into(), &body, "to", "from") else {
        return phone.error(
            StatusCode::BAD_REQUEST,
            400,
            "The request body is not JSON.",
        );
    };
    let message: Value = serde_json::from_slice(&body).unwrap_or_default();
    if message["channel"] != "sms" || message["message_type"] != "text" {
        return phone.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            "channel must be sms and message_type text",
        );
    }
    let digits = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    if !digits(&sms.to) || !digits(&sms.from) || sms.body.is_empty() {
        return phone.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            "to and from are E.164 numbers without a leading +, and text is required",
        );
    }
    sms.to = format!("+{}", sms.to);
    sms.from = format!("+{}", sms.from);
    phone.inner.deliver(sms);
    (
        StatusCode::ACCEPTED,
        Json(json!({ "message_uuid": uuid::Uuid::new_v4() })),
    )
        .into_response()
}

/// Vonage's call modify: `PUT /v1/calls/{uuid}` with `transfer` to an inline NCCO (the call
/// runs it at once), or `hangup`. 204, no body.
async fn vonage_update(
    State(phone): State<Phone>,
    Path(call): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    if !phone.authorised(None, &headers) {
        return phone.unauthorised();
    }
    let Ok(update) = serde_json::from_slice::<Value>(&body) else {
        return phone.error(
            StatusCode::BAD_REQUEST,
            400,
            "The request body is not JSON.",
        );
    };
    let ncco = &update["destination"]["ncco"];
    phone.inner.record(ApiRequest {
        kind: ApiKind::CallUpdate,
        call: Some(call.clone()),
        path: format!("/v1/calls/{call}"),
        form: vec![
            (
                "Action".into(),
                update["action"].as_str().unwrap_or_default().into(),
            ),
            ("Ncco".into(), ncco.to_string()),
        ],
        at: received,
    });
    let command = match update["action"].as_str() {
        Some("transfer") if update["destination"]["type"] == "ncco" => {
            let doc = ncco.to_string();
            if let Err(e) = super::ncco::parse(&doc) {
                return phone.error(StatusCode::BAD_REQUEST, 400, &e.to_string());
            }
            Control::LiveUpdate {
                twiml: doc,
                received,
            }
        }
        Some("hangup") => Control::Complete,
        _ => {
            return phone.error(
                StatusCode::BAD_REQUEST,
                400,
                "action must be transfer (to an ncco destination) or hangup",
            );
        }
    };
    match phone.inner.control(&call).map(|c| c.send(command)) {
        Some(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        _ => phone.not_found(&call),
    }
}

/// Vonage's call resource: `answered` while the call lasts; an id it does not hold, 404.
async fn vonage_call(
    State(phone): State<Phone>,
    Path(call): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !phone.authorised(None, &headers) {
        return phone.unauthorised();
    }
    match phone.inner.control(&call) {
        Some(_) => Json(json!({ "uuid": call, "status": "answered", "direction": "inbound" }))
            .into_response(),
        None => phone.not_found(&call),
    }
}

//! Twilio's REST API as the dev phone serves it: Messages create and Calls update, with
//! Twilio's basic auth and error shapes, delivering texts and live updates to the phone.

use std::time::Instant;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::json;

use super::{ApiRequest, Control, Phone, Sms, new_sid, twiml};

impl Phone {
    /// The router to serve on a port of its own; point `TANDEM_TWILIO_API_BASE` at it.
    pub fn fake_api(&self) -> Router {
        Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/Messages.json",
                post(create_message),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{call}",
                post(update_call).get(fetch_call),
            )
            .with_state(self.clone())
    }

    fn authorised(&self, account: &str, headers: &HeaderMap) -> bool {
        let config = &self.inner.config;
        let expected = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", config.account_sid, config.auth_token))
        );
        account == config.account_sid
            && headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                == Some(expected.as_str())
    }
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

/// Twilio's answer to a resource it does not have.
fn not_found() -> Response {
    twilio_error(
        StatusCode::NOT_FOUND,
        20404,
        "The requested resource was not found",
    )
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
    if !phone.authorised(&account, &headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let form = form(&body);
    phone.inner.record(ApiRequest {
        path: format!("/2010-04-01/Accounts/{account}/Messages.json"),
        form: form.clone(),
        at: Instant::now(),
    });
    let Some(to) = field(&form, "To") else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        );
    };
    let Some(text) = field(&form, "Body") else {
        return twilio_error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
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

/// Calls fetch: the call's `status`, `in-progress` while it lasts and `completed` after
/// (Twilio keeps ended calls; this phone forgets them, so any other sid reads as ended).
async fn fetch_call(
    State(phone): State<Phone>,
    Path((account, call)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !phone.authorised(&account, &headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let Some(sid) = call.strip_suffix(".json") else {
        return not_found();
    };
    let status = match phone.inner.control(sid) {
        Some(_) => "in-progress",
        None => "completed",
    };
    Json(json!({ "sid": sid, "account_sid": account, "status": status })).into_response()
}

async fn update_call(
    State(phone): State<Phone>,
    Path((account, call)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    if !phone.authorised(&account, &headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let Some(sid) = call.strip_suffix(".json") else {
        return not_found();
    };
    let form = form(&body);
    phone.inner.record(ApiRequest {
        path: format!("/2010-04-01/Accounts/{account}/Calls/{call}"),
        form: form.clone(),
        at: received,
    });
    let Some(control) = phone.inner.control(sid) else {
        return twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            &format!(
                "The requested resource /2010-04-01/Accounts/{account}/Calls/{sid}.json was not found"
            ),
        );
    };
    let command = match (field(&form, "Twiml"), field(&form, "Status")) {
        (Some(doc), _) => {
            if let Err(e) = twiml::parse(doc) {
                return twilio_error(
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
        (None, Some("completed" | "canceled")) => Control::Complete,
        _ => {
            return twilio_error(
                StatusCode::BAD_REQUEST,
                21218,
                "Twiml, Url or Status is required",
            );
        }
    };
    if control.send(command).is_err() {
        return twilio_error(StatusCode::NOT_FOUND, 20404, "The call has ended");
    }
    let resource = json!({
        "sid": sid, "account_sid": account, "status": "in-progress", "api_version": "2010-04-01",
        "uri": format!("/2010-04-01/Accounts/{account}/Calls/{sid}.json"),
    });
    (StatusCode::OK, Json(resource)).into_response()
}

//! Who is at the desk: a signed-in account by its cookie (or the bank's single sign-on proxy,
//! by a header it sets), and the same-origin check every change at the desk passes, so a page
//! on another site cannot act with an agent's cookie.

use std::time::Duration;

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{agents::Agent, state::AppState};

pub const COOKIE: &str = "tandem_desk";

/// Why a desk request was not let in.
#[derive(Debug)]
pub enum Denied {
    /// Not signed in, or the sign-in ended: sign in again.
    SignedOut,
    /// Signed in, but this is not theirs to see or do.
    Forbidden,
    /// A change that did not come from the desk's own pages.
    OtherOrigin,
    Unavailable,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Denied::SignedOut => (
                StatusCode::UNAUTHORIZED,
                "signed_out",
                "sign in to the desk",
            ),
            Denied::Forbidden => (StatusCode::NOT_FOUND, "not_found", "not found"),
            Denied::OtherOrigin => (
                StatusCode::FORBIDDEN,
                "other_origin",
                "changes are taken only from the desk's own pages",
            ),
            Denied::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service is unavailable; try again",
            ),
        };
        (
            status,
            axum::Json(json!({ "error": { "code": code, "message": message } })),
        )
            .into_response()
    }
}

/// The desk cookie's secret, when the request carries one.
pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The signed-in account making a request.
pub struct AtDesk(pub Agent);

impl FromRequestParts<AppState> for AtDesk {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Denied> {
        // Behind the bank's sign-on proxy, the proxy says who it is (and strips the header
        // from what clients send): the account must exist, the password is not asked.
        if let Some(name) = &app.config.desk_auth_header
            && let Some(login) = parts.headers.get(name).and_then(|v| v.to_str().ok())
        {
            return match app.broker.agent(login.trim()).await {
                Ok(Some(agent)) => Ok(AtDesk(agent)),
                Ok(None) => Err(Denied::SignedOut),
                Err(_) => Err(Denied::Unavailable),
            };
        }
        let token = cookie_token(&parts.headers).ok_or(Denied::SignedOut)?;
        match app.broker.signed_in(token).await {
            Ok(Some(agent)) => Ok(AtDesk(agent)),
            Ok(None) => Err(Denied::SignedOut),
            Err(_) => Err(Denied::Unavailable),
        }
    }
}

/// A request that comes from the desk's own pages: its `Origin` is this deployment's, and a
/// browser that says where the request was made says "same-origin". Every change and the
/// socket require it; a cookie sent along by another site's form or script gets nowhere.
pub struct SameOrigin;

impl FromRequestParts<AppState> for SameOrigin {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Denied> {
        let origin = parts
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        let site = parts
            .headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok());
        let same = origin == Some(app.config.public_url.origin())
            && site.is_none_or(|s| s == "same-origin");
        match same {
            true => Ok(SameOrigin),
            false => Err(Denied::OtherOrigin),
        }
    }
}

/// The cookie that signs a browser in for `lasting`: never readable by scripts, sent only to
/// this origin's desk, and only from its own pages.
pub fn sign_in_cookie(token: &str, lasting: Duration) -> String {
    format!(
        "{COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/desk; Max-Age={}",
        lasting.as_secs()
    )
}

pub fn sign_out_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/desk; Max-Age=0")
}

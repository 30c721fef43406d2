//! The web channel: the texted link, the page it opens and the page's live websocket.
//!
//! `/s/{token}` claims the link for the device (a cookie) and redirects to `/p/{session}`, so
//! the token leaves the address bar at once; the page and its socket then need that cookie.

mod socket;

use std::net::IpAddr;

use axum::{
    Router,
    extract::{ConnectInfo, Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use uuid::Uuid;

use crate::{
    broker::{BrokerError, Command, Outcome},
    state::AppState,
    store::Versioned,
    token,
};

const DEVICE_COOKIE: &str = "tandem_device";
const PAGE: &str = include_str!("../../../web/index.html");
const SCRIPT: &str = include_str!("../../../web/app.js");
const STYLE: &str = include_str!("../../../web/app.css");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// Links or pages a client may fail to open in a window before it is refused outright: a
/// customer mistypes a few times, a guesser needs billions.
const MAX_FAILURES: u64 = 10;
const FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/s/{token}", get(open_link))
        .route("/p/{id}", get(page))
        .route("/p/{id}/ws", get(socket::socket))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/assets/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SCRIPT,
                )
            }),
        )
        .route(
            "/assets/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
        .layer(middleware::from_fn(security_headers))
}

async fn security_headers(req: axum::extract::Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The page's edge: each way a link or page does not open is one notice page.
#[derive(Debug)]
pub(super) enum PageError {
    /// Unknown, malformed, expired, closed, or claimed by another device: one answer for all,
    /// so a guesser learns nothing from it.
    InvalidLink,
    TooManyFailures,
    Unavailable,
}

impl From<BrokerError> for PageError {
    fn from(e: BrokerError) -> Self {
        match e {
            BrokerError::NotFound => PageError::InvalidLink,
            e => {
                tracing::error!(error = %e, "could not open the page");
                PageError::Unavailable
            }
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            PageError::InvalidLink => (
                StatusCode::NOT_FOUND,
                "This link can't be opened here",
                "It may have expired or its call may have ended. For your security a link works \
                 only on the device that opened it first.",
            ),
            PageError::TooManyFailures => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                "Please wait a few minutes before opening a link again.",
            ),
            PageError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again",
                "We can't open this page right now. Try again in a moment.",
            ),
        };
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title><link rel=\"stylesheet\" href=\"/assets/app.css\"></head>\
             <body><main class=\"notice\"><h1>{title}</h1><p>{text}</p></main></body></html>"
        );
        let mut res = (status, Html(body)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(FAILURE_WINDOW.as_secs()),
            );
        }
        res
    }
}

/// Who is asking, for counting failures: the connection's address, or the address the load
/// balancer reports in the configured header (its last entry, the one the balancer added).
/// Extracting it refuses a client that has failed too often to be let in at all.
struct Client(String);

impl axum::extract::FromRequestParts<AppState> for Client {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &AppState,
    ) -> Result<Self, Response> {
        let forwarded = app.config.client_ip_header.as_deref().and_then(|name| {
            let value = parts.headers.get(name)?.to_str().ok()?;
            value.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
        });
        let peer = parts
            .extensions
            .get::<ConnectInfo<crate::state::Peer>>()
            .map(|c| c.0.0.ip());
        let client = forwarded
            .or(peer)
            .map_or_else(|| "unknown".into(), |ip| ip.to_string());
        match app.broker.failures(&client).await {
            Ok(n) if n >= MAX_FAILURES => Err(PageError::TooManyFailures.into_response()),
            // Without the store nothing opens anyway; the request fails on its own.
            _ => Ok(Client(client)),
        }
    }
}

/// Counts a refusal against the client and answers with the refusal.
async fn failed(app: &AppState, client: &Client, refusal: PageError) -> PageError {
    if let Err(e) = app.broker.count_failure(&client.0, FAILURE_WINDOW).await {
        tracing::warn!(error = %e, "could not count a failed link");
    }
    refusal
}

fn device_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == DEVICE_COOKIE && token::well_formed(value))
        .map(|(_, value)| value.to_owned())
}

async fn open_link(
    State(app): State<AppState>,
    Path(secret): Path<String>,
    client: Client,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if !token::well_formed(&secret) {
        return Err(failed(&app, &client, PageError::InvalidLink).await);
    }
    let device = device_cookie(&headers).unwrap_or_else(token::generate);
    let command = Command::ClaimLink {
        token_hash: token::hash(&secret),
        device_hash: token::hash(&device),
    };
    match app.broker.apply(command).await {
        Ok(Outcome::LinkClaimed { session: id }) => {
            // Browsers keep Secure cookies only over https, or on localhost for local trials.
            let cookie = format!(
                "{DEVICE_COOKIE}={device}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=86400"
            );
            let location = app.config.public_url.join(&format!("/p/{id}"));
            Ok((
                StatusCode::SEE_OTHER,
                [(header::LOCATION, location), (header::SET_COOKIE, cookie)],
            )
                .into_response())
        }
        Ok(_) | Err(BrokerError::NotFound) => {
            Err(failed(&app, &client, PageError::InvalidLink).await)
        }
        Err(e) => Err(e.into()),
    }
}

/// The session, if the request comes from the device its link is bound to.
pub(super) async fn bound(
    app: &AppState,
    id: Uuid,
    headers: &HeaderMap,
) -> Result<Versioned, PageError> {
    let device = device_cookie(headers).ok_or(PageError::InvalidLink)?;
    app.broker
        .session_for_device(id, &token::hash(&device))
        .await?
        .ok_or(PageError::InvalidLink)
}

async fn page(
    State(app): State<AppState>,
    Path(id): Path<Uuid>,
    client: Client,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    match bound(&app, id, &headers).await {
        Ok(_) => Ok(Html(PAGE).into_response()),
        Err(PageError::InvalidLink) => Err(failed(&app, &client, PageError::InvalidLink).await),
        Err(e) => Err(e),
    }
}

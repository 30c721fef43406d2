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
    response::{Html, IntoResponse, Response},
    routing::get,
};
use uuid::Uuid;

use crate::{
    broker::{BrokerError, Command, LinkFor, Outcome},
    state::AppState,
    store::Versioned,
    token,
};

const DEVICE_COOKIE: &str = "tandem_device";
/// What a valid link shows before it is claimed; the form posts back to the link itself.
const OPEN_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"referrer\" content=\"no-referrer\">\
<title>Your secure page</title><link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body><main class=\"notice\">\
<h1>Your secure page</h1><p>It opens on this device only, for as long as your session lasts.</p>\
<form method=\"post\"><button type=\"submit\" id=\"open\" class=\"open\">Open</button></form>\
</main></body></html>";
const PAGE: &str = include_str!("../../../web/index.html");
const SCRIPT: &str = include_str!("../../../web/app.js");
const STYLE: &str = include_str!("../../../web/app.css");
/// Links or pages a client may fail to open in a window before it is refused outright: a
/// customer mistypes a few times, a guesser needs billions.
const MAX_FAILURES: u64 = 10;
const FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/s/{token}", get(preview_link).post(open_link))
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

/// Who is asking, for counting failures: the connection's address, or, behind the
/// deployment's proxies, the address the outermost of them reported in the configured header.
/// Only failures are ever limited: a valid link or a bound device is let in whatever its
/// address has done, since many customers share one (a carrier's NAT, the balancer).
struct Client(String);

impl axum::extract::FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let forwarded = app.config.client_ip_header.as_deref().and_then(|name| {
            let value = parts.headers.get(name)?.to_str().ok()?;
            forwarded_client(value, app.config.trusted_proxies)
        });
        let peer = parts
            .extensions
            .get::<ConnectInfo<crate::state::Peer>>()
            .map(|c| c.0.0.ip());
        let client = forwarded
            .or(peer)
            .map_or_else(|| "unknown".into(), |ip| ip.to_string());
        Ok(Client(client))
    }
}

/// The client in a forwarded-for list when `trusted` proxies each appended one hop: the
/// `trusted`-th entry from the right. A shorter list did not come through them all.
fn forwarded_client(value: &str, trusted: usize) -> Option<IpAddr> {
    let hops: Vec<&str> = value.split(',').map(str::trim).collect();
    let at = hops.len().checked_sub(trusted)?;
    hops[at].parse().ok()
}

/// Counts a failure against the client; past the limit its failures are answered with 429
/// (its successes never are).
async fn failed(app: &AppState, client: &Client) -> PageError {
    match app.broker.count_failure(&client.0, FAILURE_WINDOW).await {
        Ok(n) if n > MAX_FAILURES => PageError::TooManyFailures,
        Ok(_) => PageError::InvalidLink,
        Err(e) => {
            tracing::warn!(error = %e, "could not count a failed link");
            PageError::InvalidLink
        }
    }
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

/// A link fetched (GET or HEAD): by the customer's browser, or by a messaging app's previewer
/// or a security scanner before them. Nothing is claimed: a valid link shows one Open button,
/// whose post claims it for the device that taps it.
async fn preview_link(
    State(app): State<AppState>,
    Path(secret): Path<String>,
    client: Client,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if !token::well_formed(&secret) {
        return Err(failed(&app, &client).await);
    }
    let device = device_cookie(&headers).map(|d| token::hash(&d));
    match app
        .broker
        .link_for(&token::hash(&secret), device.as_deref())
        .await?
    {
        LinkFor::Unclaimed => Ok(Html(OPEN_PAGE).into_response()),
        LinkFor::Yours { session } => Ok(to_page(&app, session)),
        LinkFor::Nothing => Err(failed(&app, &client).await),
    }
}

/// The Open button's post: claims the link for this device and goes to the page.
async fn open_link(
    State(app): State<AppState>,
    Path(secret): Path<String>,
    client: Client,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if !token::well_formed(&secret) {
        return Err(failed(&app, &client).await);
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
            Ok(([(header::SET_COOKIE, cookie)], to_page(&app, id)).into_response())
        }
        Ok(_) | Err(BrokerError::NotFound) => Err(failed(&app, &client).await),
        Err(e) => Err(e.into()),
    }
}

/// Sends the browser on to the session's page, so the token leaves the address bar.
fn to_page(app: &AppState, session: Uuid) -> Response {
    let location = app.config.public_url.join(&format!("/p/{session}"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
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

/// The page, with the screen the session shows now inside it: the customer sees it at once,
/// and the socket's snapshot need not carry it (every socket keeps a send buffer as large as
/// the largest message it sent, for as long as it lives).
async fn page(
    State(app): State<AppState>,
    Path(id): Path<Uuid>,
    client: Client,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    match bound(&app, id, &headers).await {
        Ok(loaded) => {
            let screen = app.broker.screen(&loaded.session);
            let mut res = Html(with_screen(screen.as_ref())).into_response();
            // It shows one customer's data: no shared cache keeps it.
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(res)
        }
        Err(PageError::InvalidLink) => Err(failed(&app, &client).await),
        Err(e) => Err(e),
    }
}

/// The page with `screen` as a JSON data block, which scripts may read and never run. `<`,
/// `>` and `&` are escaped inside it, so no value can end the block or start markup.
fn with_screen(screen: Option<&serde_json::Value>) -> String {
    let json = screen.map_or_else(|| "null".to_owned(), serde_json::Value::to_string);
    let json = json
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    PAGE.replacen(
        SCREEN_SLOT,
        &format!(r#"<script type="application/json" id="first-screen">{json}</script>"#),
        1,
    )
}

/// Where the page's first screen goes in `web/index.html`.
const SCREEN_SLOT: &str = "<!-- first screen -->";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_hop_the_outermost_trusted_proxy_added_never_what_it_wrote() {
        let real: IpAddr = "203.0.113.7".parse().unwrap();
        // One proxy: it appended the client's address after whatever the client wrote.
        assert_eq!(forwarded_client("10.9.9.9, 203.0.113.7", 1), Some(real));
        assert_eq!(
            forwarded_client("1.2.3.4, 5.6.7.8, 203.0.113.7", 1),
            Some(real)
        );
        // Two: the balancer's own address is last, the client's just before it.
        assert_eq!(
            forwarded_client("6.6.6.6, 203.0.113.7, 10.0.0.2", 2),
            Some(real)
        );
        // A list shorter than the proxies did not come through them: the connection decides.
        assert_eq!(forwarded_client("203.0.113.7", 2), None);
        assert_eq!(forwarded_client("not-an-address", 1), None);
    }

    #[test]
    fn the_first_screen_goes_in_the_page_as_data_that_can_never_end_its_block() {
        let screen = serde_json::json!({"title": "</script><script>alert(1)</script> & more"});
        let page = with_screen(Some(&screen));
        assert!(!page.contains(SCREEN_SLOT));
        let block = page
            .split(r#"<script type="application/json" id="first-screen">"#)
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .unwrap();
        assert!(!block.contains('<') && !block.contains('&'), "{block}");
        let back: serde_json::Value = serde_json::from_str(block).unwrap();
        assert_eq!(back, screen);
        assert!(with_screen(None).contains(r#"id="first-screen">null</script>"#));
    }

    /// The whole page a phone downloads, uncompressed: it must stay small on a slow network.
    #[test]
    fn the_page_stays_within_its_40_kb_budget() {
        let bytes = PAGE.len() + SCRIPT.len() + STYLE.len();
        assert!(bytes <= 40 * 1024, "the page is {bytes} bytes");
    }
}

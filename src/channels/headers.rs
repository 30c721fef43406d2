//! Security headers on every response the node gives — pages, notices, the API, webhooks,
//! `/healthz` and the 404 fallback alike — so no path is left without them.

use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};

use crate::state::AppState;

/// The page loads only its own script and style, talks only to its own origin, and may not be
/// framed; every other response has nothing to load at all.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' https:; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// A year, for a deployment served over https: browsers then never try plain http first.
const HSTS: &str = "max-age=31536000; includeSubDomains";

pub async fn security_headers(State(app): State<AppState>, req: Request, next: Next) -> Response {
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
    if app.config.public_url.is_https() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    res
}

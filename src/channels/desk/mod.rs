//! The agent desk: the web app a representative signs in to, the queue of callers waiting for
//! a person, a session's whole context, and what the representative does in it. Every view of
//! a customer's data and every refusal is written to the audit trail.

mod auth;
mod socket;

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Path, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::{ApiError, ApiJson, ApiKey, MAX_BODY, text_field};
use crate::{
    agents::{Agent, AuditEntry, Role},
    broker::{BrokerError, Command, DeskAction, Outcome},
    session::{Decision, Session},
    state::AppState,
};
pub use auth::{AtDesk, COOKIE, Denied, SameOrigin};

const PAGE: &str = include_str!("../../../web/desk/index.html");
const SCRIPT: &str = include_str!("../../../web/desk/desk.js");
const STYLE: &str = include_str!("../../../web/desk/desk.css");

/// Sign-ins that may fail for one account in a window before it is locked for the rest of it.
/// A valid desk cookie or the sign-on proxy's word is never refused by it.
const MAX_FAILURES: u64 = 5;
const FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Events a desk session view starts with.
const HISTORY: usize = 500;

/// Password hashes computed at once. Each Argon2id run takes about 19 MiB and tens of
/// milliseconds of a core: a burst of sign-ins waits its turn, off the request threads,
/// rather than exhaust the node's memory.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Runs `work` (hashing or checking a password) on a blocking thread, two at a time.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let _turn = HASHING
        .acquire()
        .await
        .map_err(|_| ApiError::Unexpected("the hashing gate closed".into()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Unexpected(format!("password hashing failed: {e}")))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/desk", get(|| async { Html(PAGE) }))
        .route(
            "/desk/desk.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SCRIPT,
                )
            }),
        )
        .route(
            "/desk/desk.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
        .route("/desk/api/sign-in", post(sign_in))
        .route("/desk/api/sign-out", post(sign_out))
        .route("/desk/api/me", get(me))
        .route("/desk/api/queue", get(queue))
        .route("/desk/api/live", get(live))
        .route("/desk/api/audit", get(audit))
        .route("/desk/api/sessions/{id}", get(session))
        .route("/desk/api/sessions/{id}/take", post(take))
        .route("/desk/api/sessions/{id}/decision", post(decide))
        .route("/desk/api/sessions/{id}/cases", post(open_case))
        .route("/desk/api/sessions/{id}/screen", post(show_screen))
        .route("/desk/api/sessions/{id}/end", post(end))
        .route("/desk/api/sessions/{id}/text", post(text_link))
        .route("/desk/api/sessions/{id}/ws", get(socket::timeline))
        .route("/api/v1/agents", post(provision))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// Writes an audit line; a trail that cannot be written is logged, never silently skipped.
async fn audit_line(app: &AppState, agent: &str, action: &str, session: Option<Uuid>) {
    if let Err(e) = app
        .broker
        .audit(&AuditEntry::now(agent, action, session))
        .await
    {
        tracing::error!(error = %e, agent, action, "could not write the audit trail");
    }
}

fn account(agent: &Agent) -> Value {
    json!({ "login": agent.login, "name": agent.name, "team": agent.team, "role": agent.role })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    login: String,
    password: String,
}

/// Signs an account in with its password; a cookie carries the sign-in from then on. The
/// password is checked against its hash and never logged.
async fn sign_in(
    State(app): State<AppState>,
    _: SameOrigin,
    ApiJson(form): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    let login = form.login.trim().to_ascii_lowercase();
    if !crate::agents::is_login(&login) || form.password.len() > 200 {
        return Err(ApiError::Unauthorized);
    }
    if app.broker.sign_in_failures(&login).await? >= MAX_FAILURES {
        audit_line(&app, &login, "locked_out", None).await;
        return Ok(locked());
    }
    // An unknown login is checked against a hash too, so the time of the answer does not
    // tell which logins exist.
    let known = app.broker.agent(&login).await?;
    let password = form.password;
    let agent = hashing(move || match known {
        Some(agent) => agent.password_is(&password).then_some(agent),
        None => {
            let _ = decoy().password_is(&password);
            None
        }
    })
    .await?;
    let Some(agent) = agent else {
        let failures = app
            .broker
            .add_sign_in_failure(&login, FAILURE_WINDOW)
            .await?;
        audit_line(&app, &login, "sign_in_failed", None).await;
        return match failures >= MAX_FAILURES {
            true => Ok(locked()),
            false => Err(ApiError::Unauthorized),
        };
    };
    let lasting = app.config.desk_sign_in;
    let token = app.broker.sign_in(&agent.login, lasting).await?;
    audit_line(&app, &agent.login, "sign_in", None).await;
    Ok((
        [(header::SET_COOKIE, auth::sign_in_cookie(&token, lasting))],
        Json(account(&agent)),
    )
        .into_response())
}

/// An account no one can sign in to, whose hash an unknown login's password is checked
/// against.
fn decoy() -> &'static Agent {
    static DECOY: std::sync::OnceLock<Agent> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut secret = [0u8; 24];
        getrandom::fill(&mut secret).expect("the OS has randomness");
        let password: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        Agent::new("decoy", "Decoy", "none", Role::Agent, Some(&password))
            .expect("the decoy account is well formed")
    })
}

fn locked() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, FAILURE_WINDOW.as_secs().to_string())],
        Json(json!({ "error": { "code": "locked",
            "message": "too many wrong passwords: this account is locked for 15 minutes" } })),
    )
        .into_response()
}

async fn sign_out(
    State(app): State<AppState>,
    _: SameOrigin,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = auth::cookie_token(&headers) {
        if let Ok(Some(agent)) = app.broker.signed_in(token).await {
            audit_line(&app, &agent.login, "sign_out", None).await;
        }
        app.broker.sign_out(token).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, auth::sign_out_cookie())],
    )
        .into_response())
}

async fn me(AtDesk(agent): AtDesk) -> Json<Value> {
    Json(account(&agent))
}

/// A waiting caller as the queue lists them.
fn waiting(s: &Session, since: i64, team: &str, now: i64) -> Value {
    let reason = match s.waiting.as_ref().map(|w| w.asked_by.as_str()) {
        Some("key") => "asked for a person on the keypad",
        Some("voice") => "asked for a person by voice",
        Some("page") => "asked for a person on the page",
        _ => "sent to a person by the script",
    };
    json!({
        "id": s.id,
        "customer": s.case.customer.name,
        "team": team,
        "reason": reason,
        "waiting_secs": ((now - since).max(0) / 1000),
        "since": since,
        "call": s.voice.as_ref().map(|v| v.status),
    })
}

/// Callers waiting for the agent's team, oldest first; a supervisor sees every team's.
async fn queue(State(app): State<AppState>, AtDesk(agent): AtDesk) -> Result<Response, Denied> {
    let teams = match agent.role {
        Role::Agent => vec![agent.team.clone()],
        Role::Supervisor => app.broker.teams(),
    };
    let now = chrono::Utc::now().timestamp_millis();
    let mut list = Vec::new();
    for team in teams {
        let waiting_here = app.broker.queue(&team).await.map_err(unavailable)?;
        list.extend(
            waiting_here
                .iter()
                .map(|(s, since)| waiting(s, *since, &team, now)),
        );
    }
    list.sort_by_key(|w| w["since"].as_i64());
    Ok(Json(json!({ "queue": list })).into_response())
}

fn unavailable(e: BrokerError) -> Denied {
    tracing::error!(error = %e, "desk request failed");
    Denied::Unavailable
}

/// Every live session with its state and legs, and counts per state: supervisors only.
async fn live(State(app): State<AppState>, AtDesk(agent): AtDesk) -> Result<Response, Denied> {
    if agent.role != Role::Supervisor {
        return Err(Denied::Forbidden);
    }
    let sessions = app.broker.live_sessions().await.map_err(unavailable)?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let rows: Vec<Value> = sessions
        .iter()
        .map(|s| {
            let state = s
                .voice
                .as_ref()
                .map_or("text", |v| v.position.state.as_str())
                .to_owned();
            *counts.entry(state.clone()).or_default() += 1;
            json!({
                "id": s.id,
                "customer": s.case.customer.name,
                "team": app.broker.team_of(s),
                "script": s.script,
                "state": state,
                "call": s.voice.as_ref().map(|v| v.status),
                "page": { "opened": s.page_opened, "screen": s.screen.as_ref().map(|at| &at.name) },
                "decision": s.decision.map(|d| d.decision),
                "agent_requested": s.agent_requested,
                "taken_by": s.taken_by,
            })
        })
        .collect();
    audit_line(&app, &agent.login, "view_live", None).await;
    Ok(Json(json!({ "sessions": rows, "counts": counts })).into_response())
}

/// The audit trail, newest first: supervisors only.
async fn audit(State(app): State<AppState>, AtDesk(agent): AtDesk) -> Result<Response, Denied> {
    if agent.role != Role::Supervisor {
        return Err(Denied::Forbidden);
    }
    let trail = app.broker.audit_trail(500).await.map_err(unavailable)?;
    Ok(Json(json!({ "audit": trail })).into_response())
}

/// The session, when this person may see it; a refusal is audited and reads as "not found",
/// so an id from elsewhere tells nothing about whether the session exists.
async fn visible(app: &AppState, agent: &Agent, id: Uuid) -> Result<Session, Denied> {
    let session = match app.broker.session(id).await {
        Ok(s) => Some(s),
        Err(BrokerError::NotFound) => None,
        Err(e) => return Err(unavailable(e)),
    };
    match session {
        Some(s) if agent.may_see(&app.broker.team_of(&s), s.taken_by.as_deref()) => Ok(s),
        _ => {
            tracing::warn!(agent = %agent.login, session_id = %id, "refused a desk view of another team's session");
            audit_line(app, &agent.login, "refused", Some(id)).await;
            Err(Denied::Forbidden)
        }
    }
}

/// A session's whole context: the customer, how they were verified, the timeline, what the
/// page shows, their history and open cases.
async fn session(
    State(app): State<AppState>,
    AtDesk(agent): AtDesk,
    Path(id): Path<Uuid>,
) -> Result<Response, Denied> {
    let s = visible(&app, &agent, id).await?;
    let events = app
        .broker
        .events_after(id, 0, HISTORY)
        .await
        .map_err(unavailable)?;
    let screen = app.broker.screen(&s);
    let history = app
        .broker
        .history(&s.case.customer.id, 20)
        .await
        .map_err(unavailable)?;
    let screens: Vec<String> = app.broker.screens_of(&s);
    audit_line(&app, &agent.login, "view", Some(id)).await;
    let mut view = super::agent::view(&s, screen, json!(events));
    view["team"] = json!(app.broker.team_of(&s));
    view["taken_by"] = json!(s.taken_by);
    view["history"] = json!(history);
    view["screens"] = json!(screens);
    Ok(Json(view).into_response())
}

/// Applies a desk action for a person who may see the session.
async fn act(
    app: &AppState,
    agent: &Agent,
    id: Uuid,
    action: DeskAction,
) -> Result<Response, Response> {
    if agent.role != Role::Agent {
        return Err(Denied::Forbidden.into_response());
    }
    visible(app, agent, id)
        .await
        .map_err(IntoResponse::into_response)?;
    let name = action.name();
    let command = Command::Desk {
        session: id,
        agent: agent.clone(),
        action,
    };
    match app.broker.apply(command).await {
        Ok(Outcome::Applied) => {
            audit_line(app, &agent.login, name, Some(id)).await;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Ok(Outcome::Refused { message, .. }) => Err(conflict(&message)),
        Ok(other) => Err(ApiError::unexpected(other).into_response()),
        Err(BrokerError::NotAllowed(message)) => Err(conflict(&message)),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

fn conflict(message: &str) -> Response {
    (
        StatusCode::CONFLICT,
        Json(json!({ "error": { "code": "refused", "message": message } })),
    )
        .into_response()
}

fn done(result: Result<Response, Response>) -> Response {
    result.unwrap_or_else(|refused| refused)
}

async fn take(
    State(app): State<AppState>,
    _: SameOrigin,
    AtDesk(agent): AtDesk,
    Path(id): Path<Uuid>,
) -> Response {
    done(act(&app, &agent, id, DeskAction::Take).await)
}

async fn text_link(
    State(app): State<AppState>,
    _: SameOrigin,
    AtDesk(agent): AtDesk,
    Path(id): Path<Uuid>,
) -> Response {
    done(act(&app, &agent, id, DeskAction::TextLink).await)
}

async fn end(
    State(app): State<AppState>,
    _: SameOrigin,
    AtDesk(agent): AtDesk,
    Path(id): Path<Uuid>,
) -> Response {
    done(act(&app, &agent, id, DeskAction::End).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ByDesk {
    decision: Decision,
    reason: String,
}

async fn decide(
    State(app): State<AppState>,
    _: SameOrigin,
    AtDesk(agent): AtDesk,
    Path(id): Path<Uuid>,
    ApiJson(form): ApiJson<ByDesk>,
) -> Response {
    let reason = match text_field("reason", &form.reason, 300) {
        Ok(r) => r.to_owned(),
        Err(e) => return e.into_response(),
    };
    let action = DeskAction::Decide {
        decision: form.decision,
        reason,
    };
    done(act(&app, &agent, id, action).await)
}

async fn open_case(
    State(app): State<AppState>,
    _: SameOrigin,
    AtDesk(agent): AtDesk,
    Path(id): Path<Uuid>,
    ApiJson(case): ApiJson<super::agent::NewCase>,
) -> Response {
    match case.checked() {
        Ok((note, expectation)) => {
            done(act(&app, &agent, id, DeskAction::OpenCase { note, expectation }).await)
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShowScreen {
    screen: String,
}

async fn show_screen(
    State(app): State<AppState>,
    _: SameOrigin,
    AtDesk(agent): AtDesk,
    Path(id): Path<Uuid>,
    ApiJson(form): ApiJson<ShowScreen>,
) -> Response {
    if form.screen.len() > 64 {
        return ApiError::BadRequest("screen: no such screen".into()).into_response();
    }
    done(
        act(
            &app,
            &agent,
            id,
            DeskAction::ShowScreen {
                screen: form.screen,
            },
        )
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAgent {
    login: String,
    name: String,
    team: String,
    role: Role,
    /// Omitted for an account that signs in only through the bank's sign-on proxy.
    password: Option<String>,
}

/// The bank's provisioning: creates or replaces an account (`tandem agent add` calls it).
async fn provision(
    State(app): State<AppState>,
    _: ApiKey,
    ApiJson(new): ApiJson<NewAgent>,
) -> Result<Response, ApiError> {
    let agent = hashing(move || {
        Agent::new(
            &new.login,
            &new.name,
            &new.team,
            new.role,
            new.password.as_deref(),
        )
    })
    .await?
    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    app.broker.put_agent(&agent).await?;
    tracing::info!(login = %agent.login, team = %agent.team, "desk account saved");
    Ok((StatusCode::CREATED, Json(account(&agent))).into_response())
}

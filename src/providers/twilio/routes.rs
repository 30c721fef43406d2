//! The call routes of every provider, under its own prefix. Whatever happens inside, a signed
//! webhook gets a valid document of the provider's own format (TwiML, Plivo XML, NCCO).

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};

use uuid::Uuid;

use super::{
    Dialect,
    twiml::{Links, Markup, Twiml},
    webhook::{MAX_BODY, SignedForm},
};
use crate::{
    broker::Command,
    channels::{sms, voice},
    providers::{
        markup,
        plivo::xml::{self as plivo_xml, PlivoXml},
        replay,
        vonage::ncco::Ncco,
    },
    session::{Reply, Then},
    state::AppState,
    telephony::{Answer, CallInfo},
};

/// The webhook routes of one dialect of the XML family, under its own prefix
/// (`/twilio/voice`, `/plivo/voice`, …).
/// Telnyx's texts come as JSON events, so its module serves its own `/telnyx/sms`.
pub fn router(dialect: Dialect) -> Router<AppState> {
    let path = |route: &str| format!("/{}/{route}", dialect.name());
    macro_rules! signed {
        ($handler:ident) => {
            post(
                move |State(app): State<AppState>, req: Request| async move {
                    match SignedForm::read(dialect, &app, req).await {
                        Ok(form) => {
                            let replay_key = form.replay_key.clone();
                            let answer = $handler(app.clone(), form).await;
                            if let Some(key) = replay_key {
                                replay::remember(&app, key).await;
                            }
                            answer
                        }
                        Err(refused) => refused,
                    }
                },
            )
        };
    }
    let router = Router::new()
        .route(&path("gather"), signed!(gather))
        .route(&path("hold"), signed!(hold))
        .route(&path("resume"), signed!(resume));
    // Vonage's answer URL carries a secret and its texts come as JSON: its module serves
    // those; its status events come to the application's event URL.
    let router = match dialect {
        Dialect::Vonage => router.route(&path("event"), signed!(status)),
        _ => router
            .route(&path("voice"), signed!(incoming))
            .route(&path("status"), signed!(status)),
    };
    let router = match dialect {
        Dialect::Telnyx | Dialect::Vonage => router,
        _ => router.route(&path("sms"), signed!(sms)),
    };
    router.layer(DefaultBodyLimit::max(MAX_BODY))
}

fn xml(doc: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], doc).into_response()
}

/// The answer to `form`'s webhook, in its dialect's format.
fn render(app: &AppState, form: &SignedForm, answer: Answer) -> Response {
    let dialect = form.dialect;
    let call = form.get(dialect.call_id_param());
    let doc = document(
        dialect,
        &app.config.public_url,
        app.config.agent_number.as_deref(),
        answer,
        call,
    );
    match dialect {
        Dialect::Vonage => ([(header::CONTENT_TYPE, "application/json")], doc).into_response(),
        _ => xml(doc),
    }
}

/// The document an answer is in `dialect`; `call` is named in its follow-up URLs where the
/// provider's own requests would not name it (Vonage).
pub fn document(
    dialect: Dialect,
    public: &crate::config::PublicUrl,
    agent: Option<&str>,
    answer: Answer,
    call: Option<&str>,
) -> String {
    let call = call.filter(|_| dialect == Dialect::Vonage);
    let links = |session, turn| Links {
        dialect,
        public,
        session,
        turn,
        agent,
        call,
    };
    match dialect {
        Dialect::Plivo => written_as::<PlivoXml>(links, agent, answer),
        Dialect::Vonage => written_as::<Ncco>(links, agent, answer),
        _ => written_as::<Twiml>(links, agent, answer),
    }
}

fn written_as<'a, M: Markup>(
    links: impl Fn(Uuid, u32) -> Links<'a>,
    agent: Option<&str>,
    answer: Answer,
) -> String {
    match answer {
        Answer::Reply {
            session,
            turn,
            reply,
        } => markup::render::<M>(&reply, &links(session, turn), false),
        Answer::Holding {
            session,
            turn,
            hold_prompt,
            language,
        } => {
            let reply = Reply {
                speech: vec![],
                then: Then::Hold { hold_prompt },
                language,
            };
            markup::render::<M>(&reply, &links(session, turn), true)
        }
        Answer::StoreWait {
            session,
            turn,
            since,
        } => markup::store_wait::<M>(&links(session, turn), since),
        Answer::UnknownCaller => markup::unknown_caller::<M>(agent),
        Answer::Apology => markup::apology::<M>(agent),
    }
}

#[tracing::instrument(name = "call_started", skip_all, fields(provider = form.dialect.name(), call_sid, session_id))]
pub(crate) async fn incoming(app: AppState, form: SignedForm) -> Response {
    let Some(call) = form.call() else {
        return render(&app, &form, Answer::Apology);
    };
    tracing::Span::current().record("call_sid", call.call_id.as_str());
    let answer = voice::answer(&app, Command::StartCall(call)).await;
    render(&app, &form, answer)
}

#[tracing::instrument(name = "call_gathered", skip_all, fields(provider = form.dialect.name(), call_sid, session_id))]
async fn gather(app: AppState, form: SignedForm) -> Response {
    let (Some((call, session, turn)), Some(heard)) = (follow_up(&form), form.heard()) else {
        return render(&app, &form, Answer::Apology);
    };
    let command = Command::Heard {
        session,
        turn,
        call_id: call.call_id,
        heard,
    };
    render(&app, &form, voice::answer(&app, command).await)
}

/// The call and the session turn one of our follow-up URLs names, recorded on the span.
fn follow_up(form: &SignedForm) -> Option<(CallInfo, Uuid, u32)> {
    let (call, (session, turn)) = (form.call()?, form.turn()?);
    let span = tracing::Span::current();
    span.record("call_sid", call.call_id.as_str());
    span.record("session_id", tracing::field::display(session));
    Some((call, session, turn))
}

#[tracing::instrument(name = "call_holding", skip_all, fields(provider = form.dialect.name(), call_sid, session_id))]
async fn hold(app: AppState, form: SignedForm) -> Response {
    let Some((call, session, turn)) = follow_up(&form) else {
        return render(&app, &form, Answer::Apology);
    };
    // Vonage wants a notify's NCCO within 5 s, and tries twice more before giving up on it.
    let longest = (form.dialect == Dialect::Vonage).then_some(VONAGE_HOLD_POLL);
    let command = Command::Hold {
        session,
        turn,
        call_id: call.call_id,
        outage_since: form.outage_since(),
        longest,
    };
    render(&app, &form, voice::answer(&app, command).await)
}

/// How long a Vonage hold-loop `notify` is held: well inside the 5 s Vonage waits.
const VONAGE_HOLD_POLL: std::time::Duration = std::time::Duration::from_millis(3500);

/// Where a live update by URL sends the call (SignalWire's takes no inline document): the
/// reply the session handed the call at `turn`, read, never changed.
#[tracing::instrument(name = "call_resumed", skip_all, fields(provider = form.dialect.name(), call_sid, session_id))]
async fn resume(app: AppState, form: SignedForm) -> Response {
    let Some((call, session, turn)) = follow_up(&form) else {
        return render(&app, &form, Answer::Apology);
    };
    let answer = voice::resume(&app, session, &call.call_id, turn).await;
    render(&app, &form, answer)
}

/// Status callbacks expect no instructions; an empty document is valid TwiML.
#[tracing::instrument(name = "call_status", skip_all, fields(provider = form.dialect.name(), call_sid, session_id))]
async fn status(app: AppState, form: SignedForm) -> Response {
    if let Some(call) = form.call() {
        tracing::Span::current().record("call_sid", call.call_id.as_str());
        // A status we do not know changes nothing; the call's next known one will.
        if let Some(status) = call.status {
            let command = Command::CallStatus {
                call_id: call.call_id,
                status,
            };
            voice::status(&app, command).await;
        }
    }
    match form.dialect {
        // Vonage reads nothing from an event's answer.
        Dialect::Vonage => StatusCode::OK.into_response(),
        _ => xml(Twiml::default().finish()),
    }
}

/// An inbound text. The answer, if any, goes back in the TwiML as a `<Message>`.
#[tracing::instrument(name = "text_received", skip_all, fields(provider = form.dialect.name()))]
async fn sms(app: AppState, form: SignedForm) -> Response {
    let dialect = form.dialect;
    let Some(text) = form.sms() else {
        return xml(Twiml::default().finish());
    };
    let from = text.from.clone();
    let answer = sms::answer(&app, text).await;
    if dialect == Dialect::Plivo {
        return xml(plivo_xml::message(
            answer.as_deref(),
            &app.config.sms_from,
            &from,
        ));
    }
    let doc = match answer {
        Some(answer) => Twiml::default().message(&answer),
        None => Twiml::default(),
    };
    xml(doc.finish())
}

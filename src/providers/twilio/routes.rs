//! Twilio's webhook routes. Whatever happens inside, a signed webhook gets valid TwiML.

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    http::header,
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
                            let nonce = form.nonce.clone();
                            let answer = $handler(app.clone(), form).await;
                            if let Some(nonce) = nonce {
                                replay::remember(&app, format!("plivo:{nonce}")).await;
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
        .route(&path("voice"), signed!(incoming))
        .route(&path("gather"), signed!(gather))
        .route(&path("hold"), signed!(hold))
        .route(&path("resume"), signed!(resume))
        .route(&path("status"), signed!(status));
    let router = match dialect {
        Dialect::Telnyx => router,
        _ => router.route(&path("sms"), signed!(sms)),
    };
    router.layer(DefaultBodyLimit::max(MAX_BODY))
}

fn xml(doc: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], doc).into_response()
}

fn render(app: &AppState, dialect: Dialect, answer: Answer) -> Response {
    xml(document(
        dialect,
        &app.config.public_url,
        app.config.agent_number.as_deref(),
        answer,
    ))
}

/// The document an answer is in `dialect`.
pub fn document(
    dialect: Dialect,
    public: &crate::config::PublicUrl,
    agent: Option<&str>,
    answer: Answer,
) -> String {
    let links = |session, turn| Links {
        dialect,
        public,
        session,
        turn,
        agent,
    };
    // Plivo XML has its own verbs; every other dialect is written as TwiML.
    match dialect {
        Dialect::Plivo => written_as::<PlivoXml>(links, agent, answer),
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
async fn incoming(app: AppState, form: SignedForm) -> Response {
    let dialect = form.dialect;
    let Some(call) = form.call() else {
        return render(&app, dialect, Answer::Apology);
    };
    tracing::Span::current().record("call_sid", call.call_id.as_str());
    let answer = voice::answer(&app, Command::StartCall(call)).await;
    render(&app, dialect, answer)
}

#[tracing::instrument(name = "call_gathered", skip_all, fields(provider = form.dialect.name(), call_sid, session_id))]
async fn gather(app: AppState, form: SignedForm) -> Response {
    let dialect = form.dialect;
    let (Some((call, session, turn)), Some(heard)) = (follow_up(&form), form.heard()) else {
        return render(&app, dialect, Answer::Apology);
    };
    let command = Command::Heard {
        session,
        turn,
        call_id: call.call_id,
        heard,
    };
    render(&app, dialect, voice::answer(&app, command).await)
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
    let dialect = form.dialect;
    let Some((call, session, turn)) = follow_up(&form) else {
        return render(&app, dialect, Answer::Apology);
    };
    let command = Command::Hold {
        session,
        turn,
        call_id: call.call_id,
        outage_since: form.outage_since(),
    };
    render(&app, dialect, voice::answer(&app, command).await)
}

/// Where a live update by URL sends the call (SignalWire's takes no inline document): the
/// reply the session handed the call at `turn`, read, never changed.
#[tracing::instrument(name = "call_resumed", skip_all, fields(provider = form.dialect.name(), call_sid, session_id))]
async fn resume(app: AppState, form: SignedForm) -> Response {
    let dialect = form.dialect;
    let Some((call, session, turn)) = follow_up(&form) else {
        return render(&app, dialect, Answer::Apology);
    };
    render(
        &app,
        dialect,
        voice::resume(&app, session, &call.call_id, turn).await,
    )
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
    xml(Twiml::default().finish())
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

//! Twilio's webhook routes. Whatever happens inside, a signed webhook gets valid TwiML.

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::header,
    response::{IntoResponse, Response},
    routing::post,
};

use super::{
    twiml::{self, Links, Twiml},
    webhook::{MAX_BODY, SignedForm},
};
use crate::{
    broker::Command,
    channels::{sms, voice},
    session::{Reply, Then},
    state::AppState,
    telephony::Answer,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/twilio/voice", post(incoming))
        .route("/twilio/gather", post(gather))
        .route("/twilio/hold", post(hold))
        .route("/twilio/status", post(status))
        .route("/twilio/sms", post(sms))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

fn xml(doc: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], doc).into_response()
}

fn render(app: &AppState, answer: Answer) -> Response {
    let agent = app.config.agent_number.as_deref();
    let public = &app.config.public_url;
    xml(match answer {
        Answer::Reply {
            session,
            turn,
            reply,
        } => twiml::render(
            &reply,
            &Links {
                public,
                session,
                turn,
                agent,
            },
            false,
        ),
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
            twiml::render(
                &reply,
                &Links {
                    public,
                    session,
                    turn,
                    agent,
                },
                true,
            )
        }
        Answer::StoreWait {
            session,
            turn,
            since,
        } => twiml::store_wait(
            &Links {
                public,
                session,
                turn,
                agent,
            },
            since,
        ),
        Answer::UnknownCaller => twiml::unknown_caller(agent),
        Answer::Apology => twiml::apology(agent),
    })
}

#[tracing::instrument(name = "twilio_voice", skip_all, fields(call_sid, session_id))]
async fn incoming(State(app): State<AppState>, form: SignedForm) -> Response {
    let Some(call) = form.call() else {
        return render(&app, Answer::Apology);
    };
    tracing::Span::current().record("call_sid", call.call_id.as_str());
    let answer = voice::answer(&app, Command::StartCall(call)).await;
    render(&app, answer)
}

#[tracing::instrument(name = "twilio_gather", skip_all, fields(call_sid, session_id))]
async fn gather(State(app): State<AppState>, form: SignedForm) -> Response {
    let (Some(call), Some((session, turn)), Some(heard)) = (form.call(), form.turn(), form.heard())
    else {
        return render(&app, Answer::Apology);
    };
    let span = tracing::Span::current();
    span.record("call_sid", call.call_id.as_str());
    span.record("session_id", tracing::field::display(session));
    let command = Command::Heard {
        session,
        turn,
        call_id: call.call_id,
        heard,
    };
    render(&app, voice::answer(&app, command).await)
}

#[tracing::instrument(name = "twilio_hold", skip_all, fields(call_sid, session_id))]
async fn hold(State(app): State<AppState>, form: SignedForm) -> Response {
    let (Some(call), Some((session, turn))) = (form.call(), form.turn()) else {
        return render(&app, Answer::Apology);
    };
    let span = tracing::Span::current();
    span.record("call_sid", call.call_id.as_str());
    span.record("session_id", tracing::field::display(session));
    let command = Command::Hold {
        session,
        turn,
        call_id: call.call_id,
        outage_since: form.outage_since(),
    };
    render(&app, voice::answer(&app, command).await)
}

/// Status callbacks expect no instructions; an empty document is valid TwiML.
#[tracing::instrument(name = "twilio_status", skip_all, fields(call_sid, session_id))]
async fn status(State(app): State<AppState>, form: SignedForm) -> Response {
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
#[tracing::instrument(name = "twilio_sms", skip_all)]
async fn sms(State(app): State<AppState>, form: SignedForm) -> Response {
    let Some(text) = form.sms() else {
        return xml(Twiml::default().finish());
    };
    let doc = match sms::text(&app, text).await {
        Ok(Some(answer)) => Twiml::default().message(&answer),
        Ok(None) => Twiml::default(),
        Err(e @ crate::broker::BrokerError::Unknown) => {
            tracing::error!(error = %e, "a text's outcome is not known");
            Twiml::default().message(
                "Sorry, we couldn't confirm your reply just now. Please reply again in a few minutes; if the first one went through, we'll say so.",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "could not handle a text");
            Twiml::default().message(
                "Sorry, we couldn't read your reply just now. Please try again in a few minutes.",
            )
        }
    };
    xml(doc.finish())
}

//! Vonage's JSON callbacks read as the parameters the XML family's webhooks carry, so one set
//! of call routes serves every provider: the call (`uuid`, or the `call` our own notify URL
//! names: a `notify` callback carries only the conversation), numbers in E.164, the status in
//! Twilio's words, the keys and words an `input` heard.

use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Callback {
    uuid: Option<String>,
    from: Option<String>,
    to: Option<String>,
    status: Option<String>,
    dtmf: Option<Dtmf>,
    speech: Option<Speech>,
}

/// `input`'s keys: `{digits, timed_out}`, or a plain string in the older form.
#[derive(Deserialize)]
#[serde(untagged)]
enum Dtmf {
    Keys {
        #[serde(default)]
        digits: Option<String>,
    },
    Plain(String),
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Speech {
    results: Vec<Recognised>,
}

#[derive(Deserialize)]
struct Recognised {
    text: String,
}

/// The callback's parameters under the XML family's names; `None` when the body is not a
/// JSON object. `query` is our own URL's (`session`, `turn`, `call`).
pub fn params(body: &[u8], query: &[(String, String)]) -> Option<Vec<(String, String)>> {
    let callback: Callback = serde_json::from_slice(body).ok()?;
    let from_query = || {
        query
            .iter()
            .find(|(k, _)| k == "call")
            .map(|(_, v)| v.clone())
    };
    let mut params = Vec::new();
    if let Some(call) = callback.uuid.or_else(from_query) {
        params.push(("CallSid".to_owned(), call));
    }
    for (name, number) in [("From", callback.from), ("To", callback.to)] {
        if let Some(number) = number {
            params.push((name.to_owned(), e164(&number)));
        }
    }
    if let Some(status) = callback.status.as_deref().and_then(status) {
        params.push(("CallStatus".to_owned(), status.to_owned()));
    }
    if let Some(dtmf) = callback.dtmf {
        let digits = match dtmf {
            Dtmf::Keys { digits } => digits.unwrap_or_default(),
            Dtmf::Plain(digits) => digits,
        };
        params.push(("Digits".to_owned(), digits));
    }
    if let Some(words) = callback.speech.and_then(|s| s.results.into_iter().next()) {
        params.push(("SpeechResult".to_owned(), words.text));
        // A gather that heard words heard no keys; the keys field may be absent.
        if !params.iter().any(|(k, _)| k == "Digits") {
            params.push(("Digits".to_owned(), String::new()));
        }
    }
    Some(params)
}

/// The answer webhook's parameters (`GET` query or `POST` JSON) under the same names.
pub fn answer_params(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let mut params = Vec::new();
    if let Some(call) = get("uuid") {
        params.push(("CallSid".to_owned(), call.to_owned()));
    }
    for (name, key) in [("From", "from"), ("To", "to")] {
        if let Some(number) = get(key) {
            params.push((name.to_owned(), e164(number)));
        }
    }
    params
}

/// Vonage writes numbers as E.164 digits without the `+`; a caller id that is not a number
/// (withheld, a SIP user) stays as it is and matches no alert.
pub fn e164(number: &str) -> String {
    match !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
        true => format!("+{number}"),
        false => number.to_owned(),
    }
}

/// A Vonage call status in the words the XML family uses; events that are not a status of
/// the call (`transfer`, `human`, …) are none.
pub fn status(vonage: &str) -> Option<&'static str> {
    Some(match vonage {
        "started" => "queued",
        "ringing" => "ringing",
        "answered" => "in-progress",
        "completed" => "completed",
        "busy" => "busy",
        "failed" | "rejected" => "failed",
        "unanswered" | "timeout" => "no-answer",
        "cancelled" => "canceled",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn an_input_gives_its_keys_or_words_and_a_notify_its_call_from_our_url() {
        let input = br#"{"uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","conversation_uuid":"CON-1",
            "from":"447700900001","to":"447700900000","dtmf":{"digits":"12","timed_out":false},
            "speech":{"results":[]},"timestamp":"2020-01-01T12:00:00.000Z"}"#;
        let p = params(input, &[]).unwrap();
        assert_eq!(
            get(&p, "CallSid"),
            Some("aaaaaaaa-bbbb-cccc-dddd-0123456789ab")
        );
        assert_eq!(get(&p, "From"), Some("+447700900001"));
        assert_eq!(get(&p, "Digits"), Some("12"));
        assert_eq!(get(&p, "SpeechResult"), None);
        let spoken =
            br#"{"uuid":"u","speech":{"results":[{"text":"approve","confidence":"0.9"}]}}"#;
        let p = params(spoken, &[]).unwrap();
        assert_eq!(get(&p, "SpeechResult"), Some("approve"));
        assert_eq!(get(&p, "Digits"), Some(""));
        let silent = br#"{"uuid":"u","dtmf":{"digits":"","timed_out":true}}"#;
        assert_eq!(get(&params(silent, &[]).unwrap(), "Digits"), Some(""));
        let older = br#"{"uuid":"u","dtmf":"42","timed_out":false}"#;
        assert_eq!(get(&params(older, &[]).unwrap(), "Digits"), Some("42"));
        let notify = br#"{"payload":{"from":"tandem"},"conversation_uuid":"CON-1"}"#;
        let query = [("call".to_owned(), "c-1".to_owned())];
        assert_eq!(
            get(&params(notify, &query).unwrap(), "CallSid"),
            Some("c-1")
        );
        assert!(params(b"[1,2]", &[]).is_none());
    }

    #[test]
    fn statuses_read_in_the_families_words_and_other_events_are_none() {
        let completed = br#"{"uuid":"u","status":"completed","duration":"2"}"#;
        assert_eq!(
            get(&params(completed, &[]).unwrap(), "CallStatus"),
            Some("completed")
        );
        assert_eq!(status("answered"), Some("in-progress"));
        assert_eq!(status("human"), None);
        assert_eq!(e164("Unknown"), "Unknown");
    }
}

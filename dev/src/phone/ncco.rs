//! Vonage as the phone plays it: NCCO read into the phone's verbs with Vonage's documented
//! rules, and the phone's webhook parameters (named as Twilio names them) written as the JSON
//! Vonage posts.

use serde_json::{Value, json};

use super::twiml::{Gather, TwimlError, Verb};

fn bad(message: impl Into<String>) -> TwimlError {
    TwimlError::Ncco(message.into())
}

/// An NCCO: a JSON array of actions. A `talk` with `bargeIn` must lead (through other talks)
/// to an `input`, which a key then interrupts it for; it is read as that input's prompt.
pub fn parse(doc: &str) -> Result<Vec<Verb>, TwimlError> {
    let actions: Vec<Value> =
        serde_json::from_str(doc).map_err(|e| bad(format!("not a JSON array of actions: {e}")))?;
    let mut verbs = Vec::new();
    // Talks that a key may cut short, waiting for the input they lead to.
    let mut prompts: Vec<Verb> = Vec::new();
    for action in &actions {
        let kind = action["action"]
            .as_str()
            .ok_or_else(|| bad("an action without \"action\""))?;
        let verb = match kind {
            "talk" => {
                let text = string(action, "text")?;
                let loops = action["loop"].as_u64().unwrap_or(1) as u32;
                let say = Verb::Say { text, loops };
                if action["bargeIn"].as_bool() == Some(true) {
                    prompts.push(say);
                    continue;
                }
                say
            }
            "input" => Verb::Gather(input(action, std::mem::take(&mut prompts))?),
            _ if !prompts.is_empty() => {
                return Err(bad(
                    "a talk with bargeIn must be followed by an input action",
                ));
            }
            "stream" => Verb::Play {
                url: first_url(action, "streamUrl")?,
                loops: action["loop"].as_u64().unwrap_or(1) as u32,
            },
            "wait" => {
                let secs = action["timeout"].as_f64().unwrap_or(10.0);
                if !(0.1..=7200.0).contains(&secs) {
                    return Err(bad("wait timeout must be between 0.1 and 7200"));
                }
                Verb::Pause {
                    length: secs.ceil() as u32,
                }
            }
            "notify" => {
                if !action["payload"].is_object() {
                    return Err(bad("notify needs a payload object"));
                }
                Verb::Notify {
                    url: first_url(action, "eventUrl")?,
                    method: method(action)?,
                    payload: action["payload"].to_string(),
                }
            }
            "connect" => {
                let endpoint = &action["endpoint"][0];
                if endpoint["type"] != "phone" {
                    return Err(bad("connect supports a phone endpoint here"));
                }
                // Vonage writes numbers without the `+`; the phone reports them in E.164.
                Verb::Dial {
                    number: format!("+{}", string(endpoint, "number")?.trim_start_matches('+')),
                }
            }
            "conversation" => Verb::Enqueue {
                name: string(action, "name")?,
            },
            other => return Err(bad(format!("unknown action {other:?}"))),
        };
        verbs.push(verb);
    }
    if !prompts.is_empty() {
        return Err(bad(
            "a talk with bargeIn must be followed by an input action",
        ));
    }
    Ok(verbs)
}

fn string(object: &Value, key: &str) -> Result<String, TwimlError> {
    object[key]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| bad(format!("{key} must be a non-empty string")))
}

fn first_url(action: &Value, key: &str) -> Result<String, TwimlError> {
    action[key][0]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| bad(format!("{key} must be an array of one URL")))
}

fn method(action: &Value) -> Result<String, TwimlError> {
    match action["eventMethod"].as_str().unwrap_or("POST") {
        m @ ("GET" | "POST") => Ok(m.to_owned()),
        other => Err(bad(format!("eventMethod {other:?} must be GET or POST"))),
    }
}

/// `input`: DTMF (1–20 digits, `timeOut` 0–10 s after the last key, `#` submits only with
/// `submitOnHash`) and speech when `type` lists it. Its result is always posted, a silent one
/// too, with `timed_out`.
fn input(action: &Value, prompts: Vec<Verb>) -> Result<Gather, TwimlError> {
    let types: Vec<&str> = action["type"]
        .as_array()
        .ok_or_else(|| bad("input needs a type array"))?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if types.is_empty() || types.iter().any(|t| !matches!(*t, "dtmf" | "speech")) {
        return Err(bad("input type must list dtmf and/or speech"));
    }
    let dtmf = &action["dtmf"];
    let max_digits = dtmf["maxDigits"].as_u64().unwrap_or(4);
    let timeout = dtmf["timeOut"].as_u64().unwrap_or(3);
    if !(1..=20).contains(&max_digits) || timeout > 10 {
        return Err(bad("dtmf maxDigits must be 1-20 and timeOut 0-10"));
    }
    let finish_on_key = match dtmf["submitOnHash"].as_bool() == Some(true) {
        true => "#",
        false => "",
    };
    Ok(Gather {
        num_digits: Some(max_digits as u32),
        timeout: timeout as u32,
        finish_on_key: finish_on_key.to_owned(),
        action: action["eventUrl"][0].as_str().map(str::to_owned),
        method: method(action)?,
        action_on_empty_result: true,
        input: types.join(" "),
        children: prompts,
    })
}

/// A Vonage status for the phone's Twilio-named one.
fn status(twilio: &str) -> &str {
    match twilio {
        "in-progress" => "answered",
        "no-answer" => "unanswered",
        "canceled" => "cancelled",
        other => other,
    }
}

/// The JSON Vonage posts for the phone's parameters (named as Twilio names them): the call's
/// `uuid`, its conversation, numbers without `+`, a `status` on status events only (`event`),
/// an input's `dtmf` and `speech`. A `payload` parameter makes it a `notify` callback, which
/// names the conversation and not the call.
pub fn callback(params: &[(String, String)], event: bool) -> Value {
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let call = get("CallSid").unwrap_or_default();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let conversation = format!("CON-{call}");
    if let Some(payload) = get("payload") {
        let payload: Value = serde_json::from_str(payload).unwrap_or(json!({}));
        return json!({ "payload": payload, "conversation_uuid": conversation, "timestamp": now });
    }
    let number = |key: &str| {
        get(key)
            .unwrap_or_default()
            .trim_start_matches('+')
            .to_owned()
    };
    let mut body = json!({
        "uuid": call,
        "conversation_uuid": conversation,
        "from": number("From"),
        "to": number("To"),
        "timestamp": now,
    });
    if event && let Some(s) = get("CallStatus") {
        body["status"] = json!(status(s));
        body["direction"] = json!("inbound");
        if let Some(duration) = get("CallDuration") {
            body["duration"] = json!(duration);
        }
    }
    if let Some(digits) = get("Digits") {
        body["dtmf"] = json!({ "digits": digits, "timed_out": digits.is_empty() });
    }
    if let Some(words) = get("SpeechResult") {
        body["speech"] = json!({
            "results": [{ "text": words, "confidence": get("Confidence").unwrap_or("0.9") }],
        });
        body["dtmf"] = json!({ "digits": "", "timed_out": false });
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_barge_in_talk_becomes_the_prompt_of_the_input_it_leads_to() {
        let doc = r#"[{"action":"talk","text":"Hello."},
            {"action":"talk","text":"Press 1.","bargeIn":true},
            {"action":"input","type":["dtmf"],"dtmf":{"maxDigits":1,"timeOut":5},
             "eventUrl":["https://x/vonage/gather?session=s&turn=1"]}]"#;
        let verbs = parse(doc).unwrap();
        assert_eq!(verbs.len(), 2);
        let Verb::Gather(g) = &verbs[1] else {
            panic!("{verbs:?}")
        };
        assert_eq!(g.children.len(), 1);
        assert_eq!(
            (g.num_digits, g.timeout, g.finish_on_key.as_str()),
            (Some(1), 5, "")
        );
        assert!(g.action_on_empty_result);
    }

    #[test]
    fn ncco_vonage_refuses_is_an_error() {
        for doc in [
            r#"{"action":"talk"}"#,
            r#"[{"action":"talk","text":"x","bargeIn":true},{"action":"wait","timeout":1}]"#,
            r#"[{"action":"input","type":["dtmf"],"dtmf":{"maxDigits":21}}]"#,
            r#"[{"action":"record"}]"#,
            r#"[{"action":"notify","eventUrl":["https://x"]}]"#,
        ] {
            assert!(matches!(parse(doc), Err(TwimlError::Ncco(_))), "{doc}");
        }
    }

    #[test]
    fn parameters_become_vonage_json() {
        let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let input = callback(
            &p(&[
                ("CallSid", "c"),
                ("From", "+14155550123"),
                ("CallStatus", "in-progress"),
                ("Digits", "1"),
            ]),
            false,
        );
        assert_eq!(input["from"], "14155550123");
        assert_eq!(input["dtmf"]["digits"], "1");
        assert_eq!(input.get("status"), None);
        let done = callback(&p(&[("CallSid", "c"), ("CallStatus", "completed")]), true);
        assert_eq!(done["status"], "completed");
        let notify = callback(&p(&[("CallSid", "c"), ("payload", r#"{"a":"b"}"#)]), false);
        assert_eq!(notify.get("uuid"), None);
        assert_eq!(notify["payload"]["a"], "b");
    }
}

//! `ivr-scripts/schema.json` and the loader agree: every shipped script passes both, and
//! broken scripts fail both.

use serde_json::{Value, json};

fn schema() -> jsonschema::Validator {
    let text = include_str!("../../ivr-scripts/schema.json");
    jsonschema::validator_for(&serde_json::from_str(text).unwrap())
        .expect("the schema itself is valid")
}

#[test]
fn every_shipped_script_satisfies_the_schema_and_the_loader() {
    let schema = schema();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/..", "/ivr-scripts");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") || path.ends_with("schema.json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let errors: Vec<String> = schema
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        tandem::script::Script::parse(&path.display().to_string(), &text).unwrap();
        checked += 1;
    }
    assert!(checked >= 1);
}

#[test]
fn broken_scripts_fail_the_schema_as_they_fail_the_loader() {
    let schema = schema();
    let cases = [
        json!({"name": "x", "start": "a", "states": {"a": {"say": "hi", "next": "b", "hangup": true}}}),
        json!({"name": "x", "start": "a", "states": {"a": {"wait": {"hold_prompt": "…", "on_timeout": "a"}}}}),
        json!({"name": "x", "start": "a", "states": {"a": {"gather": {"prompt": "p", "digits": 1, "timeout": 5, "on_fail": "a"}}}}),
        json!({"name": "x", "start": "a", "states": {"a": {"hangup": true, "colour": "red"}}}),
        json!({"name": "x", "start": "a", "states": {"a": {"wait": {"timeout": 5, "hold_prompt": "…", "on_timeout": "a"}, "on": {"page_closed": "a"}}}}),
        json!({"name": "x", "serves": ["card_hold"], "messages": {"refused": "No."}, "start": "a", "states": {"a": {"hangup": true}}}),
        json!({"name": "x", "serves": ["gift_card"], "start": "a", "states": {"a": {"hangup": true}}}),
    ];
    for case in cases {
        assert!(!schema.is_valid(&case), "schema accepted {case}");
        assert!(
            tandem::script::Script::parse("case.json", &case.to_string()).is_err(),
            "loader accepted {case}"
        );
    }
}

#[test]
fn every_language_feature_passes_the_schema_and_the_loader() {
    let full = json!({
        "$schema": "./schema.json",
        "name": "everything",
        "serves": ["card_hold", "confirm_purchase"],
        "messages": {"already_decided": "Already {decision}.", "ended": "All done, {customer.first_name}."},
        "start": "route",
        "anywhere": {"keys": {"0": "person"}, "words": {"agent": "person"}, "on": {"agent_requested": "person"}},
        "states": {
            "route": {"branch": [{"if": {"history": "note", "within_days": 3}, "then": "ask"},
                                 {"if": {"page_opened": false}, "then": "send"},
                                 {"if": {"decided": true}, "then": "bye"},
                                 {"if": {"alert_kind": "card_hold"}, "then": "ask"}],
                      "else": "ask"},
            "send": {"action": "send_link", "on_ok": "wait", "on_error": "ask"},
            "wait": {"say": "Waiting.", "play": "https://cdn.example/hold.mp3", "pause": 2, "wait": {"timeout": 30, "hold_prompt": "Still here.", "on_timeout": "ask"},
                     "on": {"page_opened": "ask"}},
            "ask": {"gather": {"prompt": "Press 1.", "digits": 1, "timeout": 5, "retries": 2, "reprompt": "Again.",
                               "no_input": "Nothing heard.", "on_no_input": "note", "decide": {"1": "approve"},
                               "on_fail": "bye"},
                    "on": {"decided.approve": "bye", "decided.decline": "bye"}},
            "note": {"open_case": {"note": "{customer.name} was silent", "expectation": "Call back"}, "next": "bye"},
            "person": {"say": "Hold on.", "transfer": {"queue": "fraud"}},
            "bye": {"say": "Bye.", "hangup": true}
        }
    });
    let errors: Vec<String> = schema()
        .iter_errors(&full)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    tandem::script::Script::parse("everything.json", &full.to_string()).unwrap();
}

/// Every `pattern` keeps to the regular expressions every JSON Schema validator reads (the
/// specification's interoperable subset): no Unicode property classes, shorthand classes
/// other than `\s`, look-arounds or flags. Python's `jsonschema` refused `\p{L}`.
#[test]
fn every_pattern_in_the_schema_is_portable() {
    fn patterns(value: &Value, into: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("pattern", Value::String(p)) => into.push(p.clone()),
                        _ => patterns(v, into),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| patterns(v, into)),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ivr-scripts/schema.json"
    ))
    .unwrap();
    let mut found = Vec::new();
    patterns(&serde_json::from_str(&text).unwrap(), &mut found);
    assert!(found.len() >= 4, "{found:?}");
    for pattern in found {
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                let escaped = chars.next().unwrap_or(' ');
                assert!(
                    r"\[](){}.*+?^$|-/s".contains(escaped),
                    "`\\{escaped}` in {pattern:?} is not portable"
                );
            }
        }
        assert!(
            !pattern.contains("(?"),
            "a look-around or flag in {pattern:?}"
        );
    }
}

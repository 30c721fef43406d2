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
        json!({"name": "x", "serves": ["Gift Card"], "start": "a", "states": {"a": {"hangup": true}}}),
        json!({"name": "x", "screens": {"s": {"title": "t", "components": [{"type": "carousel"}]}}, "start": "a", "states": {"a": {"hangup": true}}}),
        json!({"name": "x", "screens": {"s": {"title": "t", "components": [{"type": "form", "id": "f", "submit": "Go", "fields": [{"name": "a", "type": "text"}]}]}}, "start": "a", "states": {"a": {"hangup": true}}}),
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
        "messages": {"already_decided": {"en": "Already {decision}.", "es": "Ya {decision}."}, "ended": {"en": "All done, {customer.first_name}.", "es": "Listo, {customer.first_name}."},
                     "texted_after_end": {"en": "Answered.", "es": "Respondido."}, "history": {"en": "Called", "es": "Llamó"}},
        "start": "route",
        "anywhere": {"keys": {"0": "person"}, "words": {"agent": "person"}, "on": {"agent_requested": "person"}},
        "locales": ["en", "es"],
        "data": {"type": "object", "properties": {
            "balance": {"type": "string"},
            "plans": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "monthly": {"type": "string"}}}}}},
        "screen": "main",
        "screens": {"main": {"title": {"en": "Hello {customer.first_name}", "es": "Hola {customer.first_name}"}, "components": [
            {"type": "heading", "id": "top", "text": {"en": "Your plan", "es": "Su plan"}},
            {"type": "text", "text": {"en": "Balance {balance|money}", "es": "Saldo {balance|money}"}},
            {"type": "details", "items": [{"label": {"en": "Name", "es": "Nombre"}, "value": {"en": "{customer.name}", "es": "{customer.name}"}}]},
            {"type": "list", "id": "plans", "items": "plans", "title": {"en": "{item.name}", "es": "{item.name}"}, "value": {"en": "{item.monthly|money}", "es": "{item.monthly|money}"},
             "fields": [{"label": {"en": "Id", "es": "Id"}, "value": {"en": "{item.id}", "es": "{item.id}"}}], "empty": {"en": "None", "es": "Ninguno"}},
            {"type": "notice", "tone": "success", "title": {"en": "Done", "es": "Listo"}, "text": {"en": "Saved.", "es": "Guardado."}},
            {"type": "image", "src": "https://cdn.example/logo.png", "alt": {"en": "Logo", "es": "Logotipo"}},
            {"type": "button", "id": "more", "label": {"en": "More", "es": "Más"}, "action": "more"},
            {"type": "button", "id": "talk", "label": {"en": "Talk", "es": "Hablar"}, "request": "agent"},
            {"type": "decision", "approve": {"en": "Yes", "es": "Sí"}, "decline": {"en": "No", "es": "No"}, "approved": {"en": "Approved", "es": "Aprobado"}, "declined": {"en": "Declined", "es": "Rechazado"}},
            {"type": "form", "id": "pick", "submit": {"en": "Send", "es": "Enviar"}, "fields": [
                {"name": "plan", "type": "choice", "label": {"en": "Plan", "es": "Plan"}, "options_from": {"items": "plans", "value": "{item.id}", "label": {"en": "{item.name}", "es": "{item.name}"}}},
                {"name": "amount", "type": "amount", "label": {"en": "Amount", "es": "Monto"}, "required": false, "min": "25.00", "max": "{balance}", "currency": "USD"},
                {"name": "start", "type": "date", "label": {"en": "Start", "es": "Inicio"}, "required": false, "min": "today", "max": "today+30"},
                {"name": "note", "type": "text", "label": {"en": "Note", "es": "Nota"}, "required": false, "multiline": true, "max_length": 500, "pattern": "[^<>]*",
                 "errors": {"missing": {"en": "Enter a note", "es": "Ingrese una nota"}, "invalid": {"en": "Note must not hold < or >", "es": "La nota no debe tener < ni >"}}},
                {"name": "ssn", "type": "digits", "label": {"en": "Last 4 of SSN", "es": "Últimos 4 del SSN"}, "required": false, "length": 4, "secret": true, "expect": "customer.verify.ssn_last4"},
                {"name": "choice", "type": "choice", "label": {"en": "Contact", "es": "Contacto"}, "required": false, "options": [{"value": "call", "label": {"en": "Call", "es": "Llamada"}}]}]},
            {"type": "form", "id": "agree", "submit": {"en": "Agree", "es": "Aceptar"}, "fields": [
                {"name": "ok", "type": "consent", "label": {"en": "I agree", "es": "Acepto"}, "hint": {"en": "Required", "es": "Obligatorio"}}]}]}},
        "states": {
            "route": {"branch": [{"if": {"history": "note", "within_days": 3}, "then": "ask"},
                                 {"if": {"page_opened": false}, "then": "send"},
                                 {"if": {"decided": true}, "then": "bye"},
                                 {"if": {"alert_kind": "card_hold"}, "then": "ask"}],
                      "else": "ask"},
            "send": {"action": "send_link", "sms": {"en": "See {link}", "es": "Vea {link}"}, "on_ok": "wait", "on_error": "ask"},
            "wait": {"screen": "main", "say": {"en": "Waiting.", "es": "Esperando."}, "play": "https://cdn.example/hold.mp3", "pause": 2,
                     "wait": {"timeout": 30, "hold_prompt": {"en": "Still here.", "es": "Sigo aquí."}, "on_timeout": "ask"},
                     "on": {"page_opened": "choose", "page.action.more": "ask", "page.submit.agree": "bye"}},
            "choose": {"gather": {"prompt": {"en": "Press 1 for the first plan.", "es": "Marque 1 para el primer plan."}, "digits": 1, "timeout": 5,
                                  "fills": "pick.plan", "options": {"1": "p1"}, "on_fail": "ask"},
                       "on": {"page.submit.pick": "said"}},
            "said": {"say": {"en": "You chose {answers.pick.plan}.", "es": "Eligió {answers.pick.plan}."}, "next": "ask"},
            "ask": {"gather": {"prompt": {"en": "Press 1.", "es": "Marque 1."}, "digits": 1, "timeout": 5, "retries": 2, "reprompt": {"en": "Again.", "es": "Otra vez."},
                               "no_input": {"en": "Nothing heard.", "es": "No se oyó nada."}, "on_no_input": "note", "decide": {"1": "approve"},
                               "on_fail": "bye"},
                    "on": {"decided.approve": "bye", "decided.decline": "bye"}},
            "note": {"open_case": {"note": "{customer.name} was silent", "expectation": "Call back"}, "next": "bye"},
            "person": {"say": {"en": "Hold on.", "es": "Un momento."}, "transfer": {"queue": "fraud"}},
            "bye": {"say": {"en": "Bye.", "es": "Adiós."}, "hangup": true}
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

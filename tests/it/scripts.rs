//! Scripts change under a running node: new calls get the new flow, calls in progress finish
//! on the version they started with, and a broken edit changes nothing.

use std::{path::PathBuf, time::Duration};

use serde_json::Value;

use crate::helpers::*;

const FLOW: &str = include_str!("../../ivr-scripts/fraud-alert.json");

fn scripts_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-scripts-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("fraud-alert.json"), FLOW).unwrap();
    dir
}

async fn versions(app: &TestApp) -> Value {
    let health: Value = app.health().await.json().await.unwrap();
    health["scripts"].clone()
}

/// Waits until the node reports other script versions than `before` (the watcher is async).
async fn reloaded(app: &TestApp, before: &Value) -> Value {
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let now = versions(app).await;
        if now != *before {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node never reloaded its scripts"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_edited_script_serves_new_calls_while_calls_in_progress_keep_their_version() {
    let dir = scripts_dir();
    let app = spawn_app_with(Options {
        scripts_dir: Some(dir.clone()),
        ..redis_options()
    })
    .await;
    let before = versions(&app).await;
    assert!(
        before[0].as_str().unwrap().starts_with("fraud-alert@"),
        "{before}"
    );
    let (first, second) = (caller(), caller());
    app.raise_alert(&first).await;
    app.raise_alert(&second).await;

    let mut old = app.place_call(&first).await;
    old.expect_said("last four digits", SOON).await.unwrap();
    let edited = FLOW
        .replace("This is the fraud team", "This is the card security team")
        .replace(
            "say text to get a text message",
            "say text for a text message",
        );
    std::fs::write(dir.join("fraud-alert.json"), edited).unwrap();
    let after = reloaded(&app, &before).await;
    assert_ne!(after, before);

    old.press("4242");
    old.expect_said("say text to get a text message", SOON)
        .await
        .unwrap();
    let mut new = app.place_call(&second).await;
    new.expect_said("card security team", SOON).await.unwrap();
    new.press("4242");
    new.expect_said("say text for a text message", SOON)
        .await
        .unwrap();
}

#[test]
fn check_reports_every_problem_with_its_file_and_state_and_fails() {
    let dir = scripts_dir();
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"name": "bad", "start": "a",
 "states": {
   "a": {"say": "Hi {customer.ssn}", "next": "b"},
   "b": {"wait": {"timeout": 0, "hold_prompt": "x", "on_timeout": "a"}},
   "c": {"say": "orphan", "next": "nowhere"}
 }}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("check")
        .arg(&bad)
        .arg(dir.join("fraud-alert.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "state `a`: unknown placeholder {customer.ssn}",
        "state `b`: a wait needs a timeout above 0 seconds",
        "state `c`: goes to `nowhere`, which does not exist",
        "state `c`: can never be reached",
        "ok    ",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in {stdout}");
    }
    let syntax = dir.join("syntax.json");
    std::fs::write(
        &syntax,
        "{\n  \"name\": \"x\",\n  \"start\": \"a\"\n  \"states\": {}\n}",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("check")
        .arg(&syntax)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("line 4, column 3"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn check(files: &[std::path::PathBuf]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("check")
        .args(files)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn check_of_the_whole_folder_skips_the_schema_and_says_so() {
    // What `tandem check ivr-scripts/*.json` hands it: the shipped folder, schema and all.
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../ivr-scripts"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("schema.json")));
    let (ok, out) = check(&files);
    assert!(ok, "{out}");
    assert!(
        out.contains("skip  ") && out.contains("schema.json (a JSON Schema, not a script)"),
        "{out}"
    );
    assert_eq!(out.matches("ok    ").count(), files.len() - 1, "{out}");
}

#[test]
fn check_reports_a_misspelt_state_or_placeholder_once_with_the_name_meant() {
    let dir = scripts_dir();
    let shipped = std::fs::read_to_string(dir.join("fraud-alert.json")).unwrap();
    for (typo, expected) in [
        (
            shipped.replacen(r#""next": "verify""#, r#""next": "verfy""#, 1),
            "goes to `verfy`, which does not exist; did you mean `verify`?",
        ),
        (
            shipped.replacen("{customer.first_name}", "{customer.frist_name}", 1),
            "unknown placeholder {customer.frist_name}; did you mean {customer.first_name}?",
        ),
    ] {
        assert_ne!(typo, shipped, "the typo was made");
        let file = dir.join("typo.json");
        std::fs::write(&file, typo).unwrap();
        let (ok, out) = check(&[file]);
        assert!(!ok);
        let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("error ")).collect();
        assert_eq!(
            errors.len(),
            1,
            "the cause only, not what follows from it: {out}"
        );
        assert!(errors[0].contains(expected), "{out}");
    }
}

#[test]
fn a_syntax_error_gives_its_position_once() {
    let file = scripts_dir().join("syntax.json");
    std::fs::write(
        &file,
        "{\n  \"name\": \"x\",\n  \"start\": \"a\"\n  \"states\": {}\n}",
    )
    .unwrap();
    let (ok, out) = check(&[file]);
    assert!(!ok);
    assert_eq!(out.matches("line 4").count(), 1, "{out}");
}

#[tokio::test]
async fn the_bank_is_told_plainly_when_no_flow_serves_its_alert_and_nothing_is_stored() {
    let dir = scripts_dir();
    let card_holds_only = FLOW.replace(
        r#""serves": ["card_hold", "confirm_purchase"]"#,
        r#""serves": ["card_hold"]"#,
    );
    std::fs::write(dir.join("fraud-alert.json"), card_holds_only).unwrap();
    let app = spawn_app_with(Options {
        scripts_dir: Some(dir),
        ..redis_options()
    })
    .await;
    let from = caller();
    let mut alert = alert_json(&from);
    alert["kind"] = "confirm_purchase".into();
    let res = app.post_alert(&alert, Some(API_KEY)).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "no script serves confirm_purchase alerts"
    );
    let mut call = app.place_call(&from).await;
    call.expect_said("couldn't find an open alert", SOON)
        .await
        .unwrap();
}

#[test]
fn check_reports_screen_problems_with_their_line_in_plain_words() {
    let dir = scripts_dir();
    let bad = dir.join("screens.json");
    let text = r#"{
  "name": "screens",
  "locales": ["en", "es"],
  "data": {"type": "object", "properties": {"plans": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}},
  "screen": "main",
  "screens": {
    "main": {
      "title": {"en": "Plans", "es": "Planes"},
      "components": [
        {"type": "list", "items": "plans", "title": {"en": "{item.nme}", "es": "{item.name}"}, "empty": {"en": "None", "es": "Ninguno"}},
        {"type": "text", "text": {"en": "Owed {balance|money}", "es": "Debe {balance|money}"}},
        {"type": "button", "label": {"en": "More"}, "action": "more"},
        {"type": "form", "id": "pick", "submit": {"en": "Go", "es": "Ir"}, "fields": [
          {"name": "zip", "type": "digits", "label": {"en": "ZIP", "es": "Código"}}]}
      ]
    }
  },
  "start": "a",
  "states": {
    "a": {"screen": "mian", "say": {"en": "Hi", "es": "Hola"}, "wait": {"timeout": 5, "hold_prompt": {"en": "Wait", "es": "Espere"}, "on_timeout": "b"},
          "on": {"page.action.help": "b", "page.submit.pick": "b"}},
    "b": {"say": "Bye", "hangup": true}
  }
}"#;
    std::fs::write(&bad, text).unwrap();
    let unknown = dir.join("unknown.json");
    std::fs::write(
        &unknown,
        "{\"name\": \"u\", \"screens\": {\"s\": {\"title\": \"t\",\n \"components\": [{\"type\": \"carousel\"}]}},\n \"start\": \"a\", \"states\": {\"a\": {\"hangup\": true}}}",
    )
    .unwrap();
    let unlabelled = dir.join("unlabelled.json");
    std::fs::write(
        &unlabelled,
        "{\"name\": \"l\", \"screens\": {\"s\": {\"title\": \"t\", \"components\": [\n{\"type\": \"form\", \"id\": \"f\", \"submit\": \"Go\",\n \"fields\": [{\"name\": \"a\", \"type\": \"text\"}]}]}},\n \"start\": \"a\", \"states\": {\"a\": {\"hangup\": true}}}",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("check")
        .args([&bad, &unknown, &unlabelled])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let file = bad.display().to_string();
    for expected in [
        // The state names a screen that is not there.
        format!(
            "{file}:20: state `a`: shows screen `mian`, which does not exist; did you mean `main`?"
        ),
        // A list item's field the data schema does not declare.
        format!(
            "{file}:7: screen `main`: list (component 1): unknown placeholder {{item.nme}}; did you mean {{item.name}}?"
        ),
        // A placeholder with no data behind it.
        format!(
            "{file}:7: screen `main`: text (component 2): unknown placeholder {{balance|money}}: not a built-in word and not in the script's data schema"
        ),
        // A button whose action no state waits on, and a state waiting on one no button raises.
        format!(
            "{file}:7: screen `main`: the button for `more` raises an action no state waits on (`page.action.more`)"
        ),
        format!(
            "{file}:20: state `a`: waits on `page.action.help`, which no screen's button raises"
        ),
        // Locale gaps, wherever they are.
        format!("{file}:7: screen `main`: no words for es"),
        format!("{file}:22: state `b`: no words for en, es"),
        // A digits field without its length.
        format!(
            "{file}:7: screen `main`: form `pick`, field `zip`: a digits field needs `length` (or `max_length`)"
        ),
    ] {
        assert!(stdout.contains(&expected), "{expected:?} in\n{stdout}");
    }
    // Shapes the language does not have are refused where they are written.
    let unknown = unknown.display().to_string();
    let unlabelled = unlabelled.display().to_string();
    assert!(
        stdout.contains(&format!("{unknown}: line 2, column"))
            && stdout.contains("unknown variant `carousel`"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{unlabelled}: line 3, column"))
            && stdout.contains("missing field `label`"),
        "{stdout}"
    );
}

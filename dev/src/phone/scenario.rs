//! Scripted calls: a small JSON list of steps (expect a phrase, press keys, open the texted
//! link, tap on the page, hang up) run by the dev phone without anyone at the keyboard.

use std::time::Duration;

use serde::Deserialize;

use super::{
    Call, Phone,
    page::{Device, PageSocket},
};

/// ```json
/// {"from": "+14155550100", "steps": [
///   {"expect": "last four digits"}, {"press": "4242"}, {"expect": "Press 1"}, {"press": "1"},
///   "open_link", {"expect": "in front of you"}, {"tap": "approve"}, {"expect": "approved"}, "expect_end"]}
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default = "default_from")]
    pub from: String,
    #[serde(default = "default_to")]
    pub to: String,
    /// Longest wait for any one step.
    #[serde(default = "default_step_secs")]
    pub step_secs: u64,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Wait until the call says something containing this (any case).
    Expect(String),
    Press(String),
    /// Wait for the text with the page link and open it on a fresh device.
    OpenLink,
    /// Tap `approve` or `decline` on the opened page.
    Tap(String),
    /// Tap the button that raises this action on the page's screen (e.g. `confirm`).
    Act(String),
    /// Send a form on the page's screen: `{"form": "address", "values": {"zip": "94014"}}`.
    Submit {
        form: String,
        values: serde_json::Value,
    },
    /// Wait until the page shows a screen of this name.
    PageShows(String),
    /// Wait until the page shows an event of this kind (e.g. `decided`).
    PageSees(String),
    Hangup,
    ExpectEnd,
}

fn default_from() -> String {
    "+14155550100".into()
}
fn default_to() -> String {
    "+18005550100".into()
}
fn default_step_secs() -> u64 {
    20
}

/// The customer journey the demo runs on its own: verify, get the link, approve on the page.
pub fn approve_journey(from: &str) -> Scenario {
    let expect = |s: &str| Step::Expect(s.into());
    Scenario {
        from: from.into(),
        to: default_to(),
        step_secs: default_step_secs(),
        steps: vec![
            expect("last four digits"),
            Step::Press("4242".into()),
            expect("to get a text message with a link"),
            Step::Press("1".into()),
            Step::OpenLink,
            expect("in front of you"),
            Step::Tap("approve".into()),
            Step::PageSees("decided".into()),
            expect("approved"),
            Step::ExpectEnd,
        ],
    }
}

#[derive(Debug, thiserror::Error)]
#[error("step {step} ({what:?}) failed: {reason}")]
pub struct ScenarioError {
    pub step: usize,
    pub what: Step,
    pub reason: String,
}

/// Where the page link is opened: links carry the public URL, requests go to `server`.
pub struct Target {
    pub server: String,
    pub public_url: String,
}

/// Runs the scenario; `progress` sees the call after every step (to print its transcript).
pub async fn run(
    phone: &Phone,
    scenario: &Scenario,
    target: &Target,
    mut progress: impl FnMut(&Call, &Step),
) -> Result<(), ScenarioError> {
    let within = Duration::from_secs(scenario.step_secs);
    let mut call = phone.place_call(&scenario.from, &scenario.to).await;
    let mut page: Option<PageSocket> = None;
    for (i, step) in scenario.steps.iter().enumerate() {
        let fail = |reason: String| ScenarioError {
            step: i + 1,
            what: step.clone(),
            reason,
        };
        match step {
            Step::Expect(phrase) => {
                call.expect_said(phrase, within)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            }
            Step::Press(keys) => call.press(keys),
            Step::OpenLink => {
                let sms = phone
                    .next_sms(&scenario.from, within)
                    .await
                    .ok_or_else(|| fail("no text arrived".into()))?;
                let link = sms
                    .body
                    .split_whitespace()
                    .find(|w| w.starts_with("http"))
                    .ok_or_else(|| fail("the text has no link".into()))?;
                let via = link.replacen(
                    target.public_url.trim_end_matches('/'),
                    target.server.trim_end_matches('/'),
                    1,
                );
                let origin = url::Url::parse(&target.public_url)
                    .map(|u| u.origin().ascii_serialization())
                    .unwrap_or_default();
                let opened = Device::new()
                    .open_page(&via, &target.server, &origin)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                page = Some(opened);
            }
            Step::Tap(decision) => {
                let page = page
                    .as_mut()
                    .ok_or_else(|| fail("no page is open".into()))?;
                page.tap(decision).await.map_err(|e| fail(e.to_string()))?;
            }
            Step::Act(action) => {
                let page = page
                    .as_mut()
                    .ok_or_else(|| fail("no page is open".into()))?;
                page.act(action).await.map_err(|e| fail(e.to_string()))?;
            }
            Step::Submit { form, values } => {
                let page = page
                    .as_mut()
                    .ok_or_else(|| fail("no page is open".into()))?;
                page.submit(form, values)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            }
            Step::PageShows(name) => {
                let page = page
                    .as_mut()
                    .ok_or_else(|| fail("no page is open".into()))?;
                let deadline = tokio::time::Instant::now() + within;
                while page.screen["name"] != name.as_str() {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    page.next(left).await.map_err(|e| {
                        fail(format!("{e}; the page shows {}", page.screen["name"]))
                    })?;
                }
            }
            Step::PageSees(kind) => {
                let page = page
                    .as_mut()
                    .ok_or_else(|| fail("no page is open".into()))?;
                page.expect(kind, within)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            }
            Step::Hangup => {
                call.hang_up().await;
                call.expect_ended(within)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            }
            Step::ExpectEnd => {
                call.expect_ended(within)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            }
        }
        progress(&call, step);
    }
    call.finish().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_read_from_json_with_defaults() {
        let s: Scenario = serde_json::from_str(r#"{"steps": [{"expect": "hello"}, {"press": "42"}, "open_link", {"tap": "approve"}, "hangup"]}"#).unwrap();
        assert_eq!(s.from, "+14155550100");
        assert_eq!(s.steps[2], Step::OpenLink);
        assert_eq!(s.steps[3], Step::Tap("approve".into()));
        assert!(serde_json::from_str::<Scenario>(r#"{"steps": [{"shout": "x"}]}"#).is_err());
    }
}

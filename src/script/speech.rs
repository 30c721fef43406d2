//! Filling `{placeholders}` in prompts with session data, worded for the ear.

use crate::session::{Session, alert::Charge, history::RecordKind};

use super::model::{ActionKind, Choice, State, StateKind};

const PLACEHOLDERS: &[&str] = &[
    "customer.first_name",
    "customer.name",
    "card.brand",
    "card.last4",
    "charges.count",
    "charges.spoken",
    "decision",
    "charge.amount",
    "charge.merchant",
    "charge.location",
    "history.stolen_report_date",
];
const EXPECT_PATHS: &[&str] = &["customer.verify.card_last4", "card.last4"];

/// Replaces every `{name}` with its spoken value; unknown names were refused at load.
pub fn render(template: &str, session: &Session) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push_str(&value(&after[..close], session));
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn value(name: &str, s: &Session) -> String {
    let case = &s.case;
    match name {
        "customer.first_name" => case.first_name().to_owned(),
        "customer.name" => case.customer.name.clone(),
        "card.brand" => case.card.brand.clone(),
        "card.last4" => one_by_one(&case.card.last4),
        "charges.count" => match case.charges.len() {
            1 => "one charge".into(),
            n => format!("{n} charges"),
        },
        "charges.spoken" => case
            .charges
            .iter()
            .map(spoken_charge)
            .collect::<Vec<_>>()
            .join(" "),
        "charge.amount" => case
            .charges
            .first()
            .map(|c| money(&c.amount, &c.currency))
            .unwrap_or_default(),
        "charge.merchant" => case
            .charges
            .first()
            .map(|c| c.merchant.clone())
            .unwrap_or_default(),
        "charge.location" => case
            .charges
            .first()
            .map(|c| c.location.clone())
            .unwrap_or_default(),
        "history.stolen_report_date" => s
            .history
            .iter()
            .find(|r| r.kind == RecordKind::CardReportedStolen)
            .map(|r| r.at.format("%A, %B %-d").to_string())
            .unwrap_or_else(|| "an earlier day".into()),
        // Filled with the page address when the text is sent.
        "link" => "{link}".into(),
        "decision" => s
            .decision
            .map(|d| d.decision.past_tense())
            .unwrap_or("not decided")
            .into(),
        _ => String::new(),
    }
}

/// Data a gather may compare keys against.
pub fn lookup<'a>(path: &str, s: &'a Session) -> Option<&'a str> {
    match path {
        "customer.verify.card_last4" => Some(&s.case.customer.verify.card_last4),
        "card.last4" => Some(&s.case.card.last4),
        _ => None,
    }
}

/// Digits read one at a time ("4 2 4 2"), not as a number.
fn one_by_one(digits: &str) -> String {
    digits
        .chars()
        .map(String::from)
        .collect::<Vec<_>>()
        .join(" ")
}

/// "$1,299.00" for dollars, "1,299.00 EUR" otherwise; amounts arrive as validated decimals.
pub fn money(amount: &str, currency: &str) -> String {
    let (whole, cents) = amount.split_once('.').unwrap_or((amount, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match currency {
        "USD" => format!("${grouped}.{cents}"),
        other => format!("{grouped}.{cents} {other}"),
    }
}

fn spoken_charge(c: &Charge) -> String {
    let amount = money(&c.amount, &c.currency);
    let place = if c.card_present {
        "in person"
    } else {
        "online"
    };
    format!(
        "{amount} at {}, {}, on {}, {place}.",
        c.merchant,
        c.location,
        c.at.format("%A, %B %-d")
    )
}

/// Reports the first placeholder or data path that names nothing known.
pub fn check_placeholders(state: &State) -> Result<(), String> {
    let mut texts: Vec<&str> = state.say.iter().map(String::as_str).collect();
    match &state.kind {
        StateKind::Gather(g) => {
            texts.push(&g.prompt);
            texts.extend(g.reprompt.as_deref());
            if let Choice::Expect { path, .. } = &g.choice
                && !EXPECT_PATHS.contains(&path.as_str())
            {
                return Err(format!(
                    "expect names unknown data `{path}` (known: {})",
                    EXPECT_PATHS.join(", ")
                ));
            }
        }
        StateKind::Wait(w) => texts.push(&w.hold_prompt),
        _ => {}
    }
    let link_text = match &state.kind {
        StateKind::Action {
            action: ActionKind::SendLink,
            sms: Some(text),
            ..
        } => Some(text.as_str()),
        _ => None,
    };
    if let StateKind::Action {
        action: ActionKind::SendSms,
        sms: Some(text),
        ..
    } = &state.kind
    {
        texts.push(text);
    }
    for text in texts {
        check_template(text, false)?;
    }
    match link_text {
        Some(text) => check_template(text, true),
        None => Ok(()),
    }
}

/// Reports the first unknown placeholder in one text; `{link}` only where a link goes.
pub fn check_template(text: &str, link: bool) -> Result<(), String> {
    let allowed = |name: &str| PLACEHOLDERS.contains(&name) || (link && name == "link");
    if text.chars().count() > 600 {
        return Err("a prompt is over 600 characters; callers lose the thread".into());
    }
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or("a `{` is never closed")?;
        let name = &after[..close];
        if !allowed(name) {
            let known = PLACEHOLDERS.iter().copied().chain(link.then_some("link"));
            return Err(match super::names::nearest(name, known) {
                Some(near) => format!("unknown placeholder {{{name}}}; did you mean {{{near}}}?"),
                None => format!(
                    "unknown placeholder {{{name}}} (known: {})",
                    PLACEHOLDERS.join(", ")
                ),
            });
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

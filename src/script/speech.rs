//! Filling `{placeholders}` in prompts with session data, worded for the ear.

use serde_json::Value;

use crate::session::{Session, alert::Charge, history::RecordKind};

use super::{
    data::{self, FORMATS, Labels, NoLabels, Placeholder},
    model::{ActionKind, Choice, Script, State, StateKind},
    text::Text,
};

impl Script {
    /// A text in the session's language with its placeholders filled for the ear.
    pub fn words(&self, text: &Text, s: &Session) -> String {
        render_with(text.pick(self.locale_for(s)), s, self)
    }
}

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
/// Replaces every `{name}` with its spoken value; unknown names were refused at load.
pub fn render(template: &str, session: &Session) -> String {
    render_with(template, session, &NoLabels)
}

/// [`render`], reading a choice the customer made on the page as its label.
pub fn render_with(template: &str, session: &Session, labels: &dyn Labels) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push_str(&value(&after[..close], session, labels));
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

fn value(name: &str, s: &Session, labels: &dyn Labels) -> String {
    let case = &s.case;
    match name {
        "customer.first_name" => case.first_name().to_owned(),
        "customer.name" => case.customer.name.clone(),
        "card.brand" => case.card().map(|c| c.brand).unwrap_or_default(),
        "card.last4" => case
            .card()
            .map(|c| one_by_one(&c.last4))
            .unwrap_or_default(),
        "charges.count" => match case.charges().len() {
            1 => "one charge".into(),
            n => format!("{n} charges"),
        },
        "charges.spoken" => case
            .charges()
            .iter()
            .map(spoken_charge)
            .collect::<Vec<_>>()
            .join(" "),
        "charge.amount" => case
            .charges()
            .first()
            .map(|c| money(&c.amount, &c.currency))
            .unwrap_or_default(),
        "charge.merchant" => case
            .charges()
            .first()
            .map(|c| c.merchant.clone())
            .unwrap_or_default(),
        "charge.location" => case
            .charges()
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
            .map(|d| d.decision.past_tense_in(&labels.locale(s)))
            .unwrap_or(match labels.locale(s).starts_with("es") {
                true => "sin decidir",
                false => "not decided",
            })
            .into(),
        _ => spoken_data(&Placeholder::parse(name), s, labels),
    }
}

/// A data path's value worded for the ear.
fn spoken_data(p: &Placeholder, s: &Session, labels: &dyn Labels) -> String {
    let Some(value) = data::resolve(p.path, s, None, labels) else {
        return String::new();
    };
    let text = data::plain(&value);
    match p.format {
        Some("money") => money(&text, &data::currency(p, s, None)),
        Some("date" | "day") => spoken_date(&text),
        Some("digits") => one_by_one(&text),
        Some("if") => {
            let pick = if data::truthy(&value) { 0 } else { 1 };
            p.args.get(pick).copied().unwrap_or_default().to_owned()
        }
        _ => text,
    }
}

/// "Saturday, November 21" from a timestamp or a date.
fn spoken_date(text: &str) -> String {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return at.format("%A, %B %-d").to_string();
    }
    match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) => day.format("%A, %B %-d").to_string(),
        Err(_) => text.to_owned(),
    }
}

/// Data a gather or a form field may compare an answer against: a credential the bank sent
/// (`customer.verify.<name>`) or a string in the data.
pub fn lookup(path: &str, s: &Session) -> Option<String> {
    if let Some(name) = path.strip_prefix("customer.verify.") {
        return s.case.customer.verify.get(name).cloned();
    }
    match data::resolve(path, s, None, &NoLabels)?.as_ref() {
        Value::String(v) => Some(v.clone()),
        Value::Number(n) => Some(n.to_string()),
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

/// What a script's placeholders may name besides the built-in words: the data its schema
/// declares, the answers its forms collect, and inside a list the item being drawn.
#[derive(Clone, Copy, Default)]
pub struct Known<'a> {
    pub script: Option<&'a Script>,
    /// The schema of one element of the list being drawn.
    pub item: Option<&'a Value>,
}

impl Known<'_> {
    fn path_known(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('.').collect();
        match parts[..] {
            ["item", ref rest @ ..] => self
                .item
                .is_some_and(|schema| rest.is_empty() || data::in_schema(schema, rest).is_some()),
            ["answers", form, field] => self
                .script
                .and_then(|s| s.form(form))
                .is_some_and(|f| f.field(field).is_some_and(|f| !f.secret)),
            ["customer", "first_name" | "name"] => true,
            _ => self
                .script
                .and_then(|s| s.data.as_ref())
                .is_some_and(|schema| data::in_schema(schema, &parts).is_some()),
        }
    }

    fn suggestions(&self) -> Vec<String> {
        let mut out: Vec<String> = PLACEHOLDERS.iter().map(|p| (*p).to_owned()).collect();
        if let Some(schema) = self.script.and_then(|s| s.data.as_ref()) {
            data::schema_paths(schema, "", &mut out);
        }
        if let Some(item) = self.item {
            let mut inner = Vec::new();
            data::schema_paths(item, "item", &mut inner);
            out.extend(inner);
        }
        out
    }
}

/// Reports the first placeholder or data path that names nothing known.
pub fn check_placeholders(state: &State, known: Known) -> Result<(), String> {
    let mut texts: Vec<&Text> = state.say.iter().collect();
    match &state.kind {
        StateKind::Gather(g) => {
            texts.push(&g.prompt);
            texts.extend(g.reprompt.as_ref());
            texts.extend(g.no_input.as_ref());
            if let Choice::Expect { path, .. } = &g.choice
                && !expect_known(path, known)
            {
                return Err(format!(
                    "expect names unknown data `{path}` (a credential such as customer.verify.card_last4, or a path the data schema declares)"
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
        } => Some(text),
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
        for words in text.all() {
            check_template(words, false, known)?;
        }
    }
    match link_text {
        Some(text) => text
            .all()
            .into_iter()
            .try_for_each(|words| check_template(words, true, known)),
        None => Ok(()),
    }
}

/// Whether a gather may compare keys with `path`.
pub fn expect_known(path: &str, known: Known) -> bool {
    path.strip_prefix("customer.verify.")
        .is_some_and(|name| !name.is_empty() && !name.contains('.'))
        || path == "card.last4"
        || known.path_known(path)
}

/// Reports the first unknown placeholder in one text; `{link}` only where a link goes.
pub fn check_template(text: &str, link: bool, known: Known) -> Result<(), String> {
    if text.chars().count() > 600 {
        return Err("a prompt is over 600 characters; callers lose the thread".into());
    }
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or("a `{` is never closed")?;
        let name = &after[..close];
        rest = &after[close + 1..];
        if PLACEHOLDERS.contains(&name) || (link && name == "link") {
            continue;
        }
        let p = Placeholder::parse(name);
        if let Some(format) = p.format
            && !FORMATS.contains(&format)
        {
            return Err(format!(
                "unknown format `{format}` in {{{name}}} (known: {})",
                FORMATS.join(", ")
            ));
        }
        if p.path.starts_with("customer.verify") {
            return Err(format!(
                "{{{name}}} would say or show a credential; credentials are only compared"
            ));
        }
        if known.path_known(p.path) {
            continue;
        }
        let suggestions = known.suggestions();
        let near = super::names::nearest(p.path, suggestions.iter().map(String::as_str));
        return Err(match near {
            Some(near) => format!("unknown placeholder {{{name}}}; did you mean {{{near}}}?"),
            None if p.path.starts_with("item.") => format!(
                "unknown placeholder {{{name}}}: `item` is only known inside a list, for fields its data schema declares"
            ),
            None => format!(
                "unknown placeholder {{{name}}}: not a built-in word and not in the script's data schema"
            ),
        });
    }
    Ok(())
}

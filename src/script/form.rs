//! A form's answer checked against the form the session's screen shows: every rule the page
//! checked is checked again here, since a page can be bypassed. Nothing is recorded unless
//! the whole answer passes.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::session::Session;

use super::{
    fields::{Rule, amount_bound, cents, cents_of, date_bound, message, options},
    model::Script,
    screen::{DEFAULT_MAX_LENGTH, Field, FieldKind, Form, MAX_VALUE},
};

/// What an answer that passed leaves in the session.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// Clean values (trimmed, amounts as `1234.50`, dates as `YYYY-MM-DD`), secrets masked.
    pub values: BTreeMap<String, String>,
    /// For a field compared with session data: whether it matched.
    pub verified: Option<bool>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// A field the form does not have; the answer was not made on this form.
    UnknownField(String),
    /// A value longer than any field takes.
    TooLong(String),
    /// Field → what is wrong with it, in the customer's words.
    Fields(BTreeMap<String, String>),
}

pub fn check(
    script: &Script,
    form: &Form,
    given: &BTreeMap<String, String>,
    s: &Session,
    today: NaiveDate,
) -> Result<Answer, Refused> {
    if let Some(name) = given.keys().find(|k| form.field(k).is_none()) {
        return Err(Refused::UnknownField(name.chars().take(40).collect()));
    }
    if let Some((name, _)) = given.iter().find(|(_, v)| v.chars().count() > MAX_VALUE) {
        return Err(Refused::TooLong(name.clone()));
    }
    let locale = script.locale_for(s);
    let mut values = BTreeMap::new();
    let mut errors = BTreeMap::new();
    let mut verified = None;
    for f in &form.fields {
        let raw = given.get(&f.name).map(|v| v.trim()).unwrap_or_default();
        let message = |rule: Rule| message(script, f, rule, s, locale);
        if raw.is_empty() || (f.kind == FieldKind::Consent && !is_yes(raw)) {
            if f.required {
                errors.insert(f.name.clone(), message(Rule::Missing));
            }
            continue;
        }
        match clean(script, f, raw, s, today) {
            Ok(value) => {
                if let Some(path) = &f.expect {
                    let matched = super::speech::lookup(path, s).as_deref() == Some(value.as_str());
                    verified = Some(matched);
                    if !matched {
                        errors.insert(f.name.clone(), message(Rule::Broken));
                        continue;
                    }
                }
                let kept = match f.secret {
                    true => "•".repeat(value.chars().count()),
                    false => value,
                };
                values.insert(f.name.clone(), kept);
            }
            Err(rule) => {
                errors.insert(f.name.clone(), message(rule));
            }
        }
    }
    match errors.is_empty() {
        true => Ok(Answer { values, verified }),
        // A mismatched credential still counts as a try, reported with the refusal.
        false => Err(Refused::Fields(errors)),
    }
}

fn is_yes(v: &str) -> bool {
    matches!(v, "yes" | "true" | "on")
}

/// The value as kept, or the rule it breaks.
fn clean(
    script: &Script,
    f: &Field,
    raw: &str,
    s: &Session,
    today: NaiveDate,
) -> Result<String, Rule> {
    match f.kind {
        FieldKind::Text => {
            let n = raw.chars().count() as u32;
            let max = f.max_length.unwrap_or(DEFAULT_MAX_LENGTH);
            let controls = raw
                .chars()
                .any(|c| c.is_control() && !(f.multiline && (c == '\n' || c == '\r')));
            let pattern_ok = f.pattern.as_ref().is_none_or(|p| {
                regex::Regex::new(&format!("^(?:{p})$")).is_ok_and(|r| r.is_match(raw))
            });
            match n >= f.min_length.unwrap_or(0) && n <= max && !controls && pattern_ok {
                true => Ok(raw.to_owned()),
                false => Err(Rule::Broken),
            }
        }
        FieldKind::Digits => {
            let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
            let n = digits.chars().count() as u32;
            let ok = !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && f.length.is_none_or(|l| n == l)
                && f.max_length.is_none_or(|m| n <= m)
                && f.min_length.is_none_or(|m| n >= m);
            ok.then_some(digits).ok_or(Rule::Broken)
        }
        FieldKind::Date => {
            let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| Rule::Broken)?;
            let min = f.min.as_deref().and_then(|b| date_bound(b, today));
            let max = f.max.as_deref().and_then(|b| date_bound(b, today));
            match min.is_none_or(|m| day >= m) && max.is_none_or(|m| day <= m) {
                true => Ok(day.format("%Y-%m-%d").to_string()),
                false => Err(Rule::Broken),
            }
        }
        FieldKind::Choice => {
            let options = options(script, f, s, script.locale_for(s));
            match options.iter().any(|(value, _)| value == raw) {
                true => Ok(raw.to_owned()),
                false => Err(Rule::Broken),
            }
        }
        FieldKind::Amount => {
            let cents = cents(raw).ok_or(Rule::Broken)?;
            let bound = |b: &Option<String>| {
                b.as_deref()
                    .and_then(|b| amount_bound(b, s))
                    .and_then(|b| cents_of(&b))
            };
            let (min, max) = (bound(&f.min), bound(&f.max));
            match min.is_none_or(|m| cents >= m) && max.is_none_or(|m| cents <= m) {
                true => Ok(format!("{}.{:02}", cents / 100, cents % 100)),
                false => Err(Rule::Broken),
            }
        }
        FieldKind::Consent => Ok("yes".into()),
    }
}

//! A form's answer checked against the form the session's screen shows: every rule the page
//! checked is checked again here, since a page can be bypassed. Nothing is recorded unless
//! the whole answer passes.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::session::Session;

use super::{
    model::Script,
    screen::{DEFAULT_MAX_LENGTH, Field, FieldKind, Form, MAX_VALUE},
    text::Text,
    view,
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

/// Which rule a value broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    Missing,
    Broken,
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
            let options = view::options(script, f, s, script.locale_for(s));
            match options.iter().any(|(value, _)| value == raw) {
                true => Ok(raw.to_owned()),
                false => Err(Rule::Broken),
            }
        }
        FieldKind::Amount => {
            let cents = cents(raw).ok_or(Rule::Broken)?;
            let bound = |b: &Option<String>| {
                b.as_deref()
                    .and_then(|b| view::amount_bound(b, s))
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

/// Cents from what a person types: `1,234.5`, `$1234.50`, `1234`.
pub fn cents(raw: &str) -> Option<i64> {
    let kept: String = raw
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '$' | '€' | '£' | '\u{a0}'))
        .collect();
    cents_of(&kept)
}

fn cents_of(s: &str) -> Option<i64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || whole.len() > 12 || frac.len() > 2 {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = format!("{frac:0<2}");
    Some(whole.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?)
}

pub fn is_decimal(s: &str) -> bool {
    cents_of(s).is_some()
}

/// `today`, `today+30`, `today-1` or `2026-12-31`.
pub fn date_bound(b: &str, today: NaiveDate) -> Option<NaiveDate> {
    if b == "today" {
        return Some(today);
    }
    if let Some(days) = b.strip_prefix("today+") {
        return today.checked_add_days(chrono::Days::new(days.parse().ok()?));
    }
    if let Some(days) = b.strip_prefix("today-") {
        return today.checked_sub_days(chrono::Days::new(days.parse().ok()?));
    }
    NaiveDate::parse_from_str(b, "%Y-%m-%d").ok()
}

/// The words for a broken rule: the script's own, else plain defaults in the customer's language.
pub fn message(script: &Script, f: &Field, rule: Rule, s: &Session, locale: &str) -> String {
    let own: Option<&Text> = f.errors.as_ref().and_then(|e| match rule {
        Rule::Missing => e.missing.as_ref(),
        Rule::Broken => e.invalid.as_ref(),
    });
    if let Some(text) = own {
        return view::plain_text(text.pick(locale), s, None, Some(script));
    }
    let label = view::plain_text(f.label.pick(locale), s, None, Some(script));
    let lower = lower_first(&label);
    let es = locale.starts_with("es");
    match (rule, f.kind, es) {
        (Rule::Missing, FieldKind::Choice, false) => format!("Select {lower}"),
        (Rule::Missing, FieldKind::Choice, true) => format!("Seleccione {lower}"),
        (Rule::Missing, FieldKind::Consent, false) => format!("Tick the box to confirm: {lower}"),
        (Rule::Missing, FieldKind::Consent, true) => {
            format!("Marque la casilla para confirmar: {lower}")
        }
        (Rule::Missing, _, false) => format!("Enter {lower}"),
        (Rule::Missing, _, true) => format!("Ingrese {lower}"),
        (Rule::Broken, FieldKind::Digits, false) => match f.length {
            Some(n) => format!("{label} must be {n} digits"),
            None => format!("{label} must be digits only"),
        },
        (Rule::Broken, FieldKind::Digits, true) => match f.length {
            Some(n) => format!("{label} debe tener {n} dígitos"),
            None => format!("{label} debe tener solo dígitos"),
        },
        (Rule::Broken, FieldKind::Date, false) => {
            format!("{label} must be a real date in the allowed range")
        }
        (Rule::Broken, FieldKind::Date, true) => {
            format!("{label} debe ser una fecha real dentro del plazo permitido")
        }
        (Rule::Broken, FieldKind::Amount, false) => {
            format!("{label} must be an amount in the allowed range")
        }
        (Rule::Broken, FieldKind::Amount, true) => {
            format!("{label} debe ser un monto dentro del rango permitido")
        }
        (Rule::Broken, FieldKind::Choice, false) => {
            format!("Select one of the options for {lower}")
        }
        (Rule::Broken, FieldKind::Choice, true) => {
            format!("Seleccione una de las opciones de {lower}")
        }
        (Rule::Broken, FieldKind::Text, es) if f.pattern.is_none() => {
            let max = f.max_length.unwrap_or(DEFAULT_MAX_LENGTH);
            match (f.min_length.filter(|m| *m > 0), es) {
                (Some(min), false) => format!("{label} must be {min} to {max} characters"),
                (Some(min), true) => format!("{label} debe tener de {min} a {max} caracteres"),
                (None, false) => format!("{label} must be {max} characters or fewer"),
                (None, true) => format!("{label} debe tener {max} caracteres o menos"),
            }
        }
        (Rule::Broken, _, false) => format!("{label} must be written as asked"),
        (Rule::Broken, _, true) => format!("{label} debe escribirse como se indica"),
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_as_people_type_them() {
        assert_eq!(cents("1,234.5"), Some(123_450));
        assert_eq!(cents("$25"), Some(2500));
        assert_eq!(cents("12.345"), None);
        assert_eq!(cents("-5"), None);
        assert_eq!(cents("abc"), None);
    }

    #[test]
    fn date_bounds_count_from_today() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert_eq!(
            date_bound("today+30", today),
            NaiveDate::from_ymd_opt(2027, 1, 1)
        );
        assert_eq!(
            date_bound("2026-01-31", today),
            NaiveDate::from_ymd_opt(2026, 1, 31)
        );
        assert_eq!(date_bound("tomorrow", today), None);
    }
}

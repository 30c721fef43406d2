//! What a form field offers and says: its choices (fixed or drawn from the data), its bounds
//! (amounts, dates), and its error words in the customer's language. The page is drawn with
//! them and answers are checked against them, so both say the same.

use chrono::NaiveDate;

use crate::session::Session;

use super::{
    data::{self, Labels, NoLabels},
    model::Script,
    reading::plain_text,
    screen::{DEFAULT_MAX_LENGTH, Field, FieldKind},
    text::Text,
};

impl Labels for Script {
    /// The label of a choice the customer made, in their language.
    fn label(&self, form: &str, field: &str, value: &str, s: &Session) -> Option<String> {
        let field = self.form(form)?.field(field)?;
        options(self, field, s, self.locale_for(s))
            .into_iter()
            .find(|(v, _)| v == value)
            .map(|(_, label)| label)
    }

    fn locale(&self, s: &Session) -> String {
        self.locale_for(s).to_owned()
    }
}

/// Which rule a value broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    Missing,
    Broken,
}

/// A choice's options as (value, label), fixed or drawn from the data.
pub fn options(script: &Script, f: &Field, s: &Session, locale: &str) -> Vec<(String, String)> {
    if let Some(options) = &f.options {
        return options
            .iter()
            .map(|o| {
                (
                    o.value.clone(),
                    plain_text(o.label.pick(locale), s, None, script),
                )
            })
            .collect();
    }
    let Some(from) = &f.options_from else {
        return Vec::new();
    };
    let items = data::resolve(&from.items, s, None, script)
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    items
        .iter()
        .map(|item| {
            (
                plain_text(&from.value, s, Some(item), script),
                plain_text(from.label.pick(locale), s, Some(item), script),
            )
        })
        .collect()
}

/// An amount bound: a decimal as written, or the amount at a `{path}` in the data.
pub fn amount_bound(b: &str, s: &Session) -> Option<String> {
    match b.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        Some(path) => data::resolve(path, s, None, &NoLabels).map(|v| data::plain(&v)),
        None => Some(b.to_owned()),
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

pub fn cents_of(s: &str) -> Option<i64> {
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
        return plain_text(text.pick(locale), s, None, script);
    }
    let label = plain_text(f.label.pick(locale), s, None, script);
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

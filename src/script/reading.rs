//! Placeholders filled for reading on the page rather than for the ear: digits as written,
//! money and dates formatted here where the page shows a text as it is (titles, labels,
//! option values).

use serde_json::Value;

use crate::session::Session;

use super::data::{self, Labels, Placeholder};

/// A text with placeholders filled for reading, money and dates formatted here (in English
/// conventions): for titles, labels and option values, which the page shows as they are.
pub fn plain_text(
    template: &str,
    s: &Session,
    item: Option<&Value>,
    labels: &dyn Labels,
) -> String {
    let mut out = String::new();
    each_piece(template, |piece| match piece {
        Piece::Text(t) => out.push_str(t),
        Piece::Name(name) => {
            let p = Placeholder::parse(name);
            let value = data::resolve(p.path, s, item, labels);
            match (p.format, value) {
                (Some("money"), Some(v)) => out.push_str(&super::speech::money(
                    &data::plain(&v),
                    &data::currency(&p, s, item),
                )),
                (Some("date" | "day"), Some(v)) => out.push_str(&read_date(&data::plain(&v))),
                _ => out.push_str(&read(name, s, item, labels)),
            }
        }
    });
    out
}

/// "Nov 21, 2026" from a timestamp or a date, for text the page shows as it is.
fn read_date(text: &str) -> String {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return at.format("%b %-d, %Y").to_string();
    }
    match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) => day.format("%b %-d, %Y").to_string(),
        Err(_) => text.to_owned(),
    }
}

pub enum Piece<'a> {
    Text(&'a str),
    Name(&'a str),
}

pub fn each_piece<'a>(template: &'a str, mut f: impl FnMut(Piece<'a>)) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        f(Piece::Text(&rest[..open]));
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                f(Piece::Name(&after[..close]));
                rest = &after[close + 1..];
            }
            None => {
                f(Piece::Text(&rest[open..]));
                rest = "";
            }
        }
    }
    f(Piece::Text(rest));
}

/// A placeholder worded for reading: the built-in words read as on the call except digits,
/// which the page shows as written.
pub fn read(name: &str, s: &Session, item: Option<&Value>, labels: &dyn Labels) -> String {
    let p = Placeholder::parse(name);
    match (p.path, p.format) {
        ("card.last4", None) => s.case.card().map(|c| c.last4).unwrap_or_default(),
        (path, format) => match data::resolve(path, s, item, labels) {
            Some(v) => match format {
                Some("if") => {
                    let pick = if data::truthy(&v) { 0 } else { 1 };
                    p.args.get(pick).copied().unwrap_or_default().to_owned()
                }
                _ => data::plain(&v),
            },
            // Not data: a built-in word (`charges.count`, `decision`).
            None => super::speech::render_with(&format!("{{{name}}}"), s, labels),
        },
    }
}

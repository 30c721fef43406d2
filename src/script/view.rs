//! A screen drawn for one session: every text in the customer's language with its
//! placeholders filled, as JSON the page renders with no wording of its own. Money and dates
//! go to the page as typed pieces (`{"money": …}`) so it formats them for the customer's
//! locale; everything else is plain text, which the page only ever sets as text.

use serde_json::{Map, Value, json};

use crate::session::Session;

use super::{
    data::{self, Placeholder},
    model::Script,
    screen::{Component, Field, FieldKind, Screen},
    text::Text,
};

/// The session's current screen as the page draws it, or `None` when the script has none.
pub fn current(script: &Script, s: &Session) -> Option<Value> {
    let (name, screen, seq) = script.current_screen(s)?;
    Some(draw(script, name, screen, seq, s))
}

fn draw(script: &Script, name: &str, screen: &Screen, seq: u64, s: &Session) -> Value {
    let locale = script.locale_for(s);
    let t = |text: &Text| segments(text.pick(locale), s, None, Some(script));
    let components: Vec<Value> = screen
        .components
        .iter()
        .map(|c| {
            let mut out = match c {
                Component::Heading { text, .. } => json!({ "text": t(text) }),
                Component::Text { text, .. } => json!({ "text": t(text) }),
                Component::Details { items, .. } => json!({
                    "items": items.iter().map(|d| json!({ "label": t(&d.label), "value": t(&d.value) })).collect::<Vec<_>>(),
                }),
                Component::List {
                    items,
                    title,
                    value,
                    fields,
                    empty,
                    ..
                } => {
                    let rows = data::resolve(items, s, None, Some(script))
                        .and_then(|v| v.as_array().cloned())
                        .unwrap_or_default();
                    let item_text = |text: &Text, item: &Value| {
                        segments(text.pick(locale), s, Some(item), Some(script))
                    };
                    let drawn: Vec<Value> = rows
                        .iter()
                        .map(|item| {
                            json!({
                                "title": item_text(title, item),
                                "value": value.as_ref().map(|v| item_text(v, item)),
                                "fields": fields.iter().map(|d| json!({
                                    "label": t(&d.label), "value": item_text(&d.value, item),
                                })).collect::<Vec<_>>(),
                            })
                        })
                        .collect();
                    json!({ "items": drawn, "empty": t(empty) })
                }
                Component::Notice { tone, title, text, .. } => json!({
                    "tone": tone, "title": title.as_ref().map(t), "text": t(text),
                }),
                Component::Image { src, alt, .. } => json!({
                    "src": src, "alt": alt.as_ref().map_or(json!(""), t),
                }),
                Component::Button {
                    label,
                    action,
                    request,
                    style,
                    ..
                } => json!({
                    "label": t(label), "action": action, "request": request.map(|_| "agent"),
                    "style": style,
                }),
                Component::Decision {
                    approve,
                    decline,
                    approved,
                    declined,
                    ..
                } => json!({
                    "approve": t(approve), "decline": t(decline),
                    "approved": t(approved), "declined": t(declined),
                }),
                Component::Form(form) => json!({
                    "submit": t(&form.submit),
                    "answered": s.answers.contains_key(&form.id),
                    "fields": form.fields.iter().map(|f| field(script, f, s, locale)).collect::<Vec<_>>(),
                }),
            };
            out["type"] = json!(c.kind());
            if let Some(id) = c.id() {
                out["id"] = json!(id);
            }
            strip_nulls(&mut out);
            out
        })
        .collect();
    json!({
        "name": name,
        "seq": seq,
        "lang": locale,
        "title": plain_text(screen.title.pick(locale), s, None, Some(script)),
        "components": components,
    })
}

fn field(script: &Script, f: &Field, s: &Session, locale: &str) -> Value {
    use super::form::{Rule, message};
    let t = |text: &Text| segments(text.pick(locale), s, None, Some(script));
    let (min, max) = match f.kind {
        FieldKind::Amount => (
            f.min.as_deref().and_then(|b| amount_bound(b, s)),
            f.max.as_deref().and_then(|b| amount_bound(b, s)),
        ),
        FieldKind::Date => {
            let today = chrono::Utc::now().date_naive();
            let day = |b: &Option<String>| {
                b.as_deref()
                    .and_then(|b| super::form::date_bound(b, today))
                    .map(|d| d.format("%Y-%m-%d").to_string())
            };
            (day(&f.min), day(&f.max))
        }
        _ => (None, None),
    };
    let options: Option<Vec<Value>> = (f.kind == FieldKind::Choice).then(|| {
        options(script, f, s, locale)
            .into_iter()
            .map(|(value, label)| json!({ "value": value, "label": label }))
            .collect()
    });
    let mut out = json!({
        "name": f.name,
        "type": f.kind,
        "label": t(&f.label),
        "hint": f.hint.as_ref().map(t),
        "required": f.required,
        "secret": f.secret,
        "min_length": f.min_length,
        "max_length": match f.kind {
            FieldKind::Text => Some(f.max_length.unwrap_or(super::screen::DEFAULT_MAX_LENGTH)),
            _ => f.max_length,
        },
        "pattern": f.pattern,
        "length": f.length,
        "min": min,
        "max": max,
        "currency": (f.kind == FieldKind::Amount).then(|| f.currency.clone().unwrap_or_else(|| "USD".into())),
        "options": options,
        "multiline": f.multiline,
        "autocomplete": f.autocomplete,
        "missing": message(script, f, Rule::Missing, s, locale),
        "invalid": message(script, f, Rule::Broken, s, locale),
    });
    strip_nulls(&mut out);
    out
}

/// A choice's options as (value, label), fixed or drawn from the data.
pub fn options(script: &Script, f: &Field, s: &Session, locale: &str) -> Vec<(String, String)> {
    if let Some(options) = &f.options {
        return options
            .iter()
            .map(|o| {
                (
                    o.value.clone(),
                    plain_text(o.label.pick(locale), s, None, Some(script)),
                )
            })
            .collect();
    }
    let Some(from) = &f.options_from else {
        return Vec::new();
    };
    let items = data::resolve(&from.items, s, None, Some(script))
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    items
        .iter()
        .map(|item| {
            (
                plain_text(&from.value, s, Some(item), Some(script)),
                plain_text(from.label.pick(locale), s, Some(item), Some(script)),
            )
        })
        .collect()
}

/// An amount bound: a decimal as written, or the amount at a `{path}` in the data.
pub fn amount_bound(b: &str, s: &Session) -> Option<String> {
    match b.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        Some(path) => data::resolve(path, s, None, None).map(|v| data::plain(&v)),
        None => Some(b.to_owned()),
    }
}

/// A text for the page: a string, or pieces where money and dates are left for the page to
/// format in the customer's locale.
pub fn segments(
    template: &str,
    s: &Session,
    item: Option<&Value>,
    script: Option<&Script>,
) -> Value {
    let mut pieces: Vec<Value> = Vec::new();
    let mut literal = String::new();
    let mut typed = false;
    each_piece(template, |piece| match piece {
        Piece::Text(t) => literal.push_str(t),
        Piece::Name(name) => match typed_value(name, s, item, script) {
            Some(v) => {
                typed = true;
                if !literal.is_empty() {
                    pieces.push(json!(std::mem::take(&mut literal)));
                }
                pieces.push(v);
            }
            None => literal.push_str(&read(name, s, item, script)),
        },
    });
    if !typed {
        return json!(literal);
    }
    if !literal.is_empty() {
        pieces.push(json!(literal));
    }
    Value::Array(pieces)
}

/// A text with placeholders filled for reading, money and dates formatted here (in English
/// conventions): for titles, labels and option values, which the page shows as they are.
pub fn plain_text(
    template: &str,
    s: &Session,
    item: Option<&Value>,
    script: Option<&Script>,
) -> String {
    let mut out = String::new();
    each_piece(template, |piece| match piece {
        Piece::Text(t) => out.push_str(t),
        Piece::Name(name) => {
            let p = Placeholder::parse(name);
            let value = data::resolve(p.path, s, item, script);
            match (p.format, value) {
                (Some("money"), Some(v)) => out.push_str(&super::speech::money(
                    &data::plain(&v),
                    &data::currency(&p, s, item),
                )),
                (Some("date" | "day"), Some(v)) => out.push_str(&read_date(&data::plain(&v))),
                _ => out.push_str(&read(name, s, item, script)),
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

enum Piece<'a> {
    Text(&'a str),
    Name(&'a str),
}

fn each_piece<'a>(template: &'a str, mut f: impl FnMut(Piece<'a>)) {
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

/// Money and dates as typed pieces.
fn typed_value(
    name: &str,
    s: &Session,
    item: Option<&Value>,
    script: Option<&Script>,
) -> Option<Value> {
    let p = Placeholder::parse(name);
    let format = p.format?;
    if !matches!(format, "money" | "date" | "day") {
        return None;
    }
    let v = data::plain(data::resolve(p.path, s, item, script)?.as_ref());
    Some(match format {
        "money" => json!({ "money": { "amount": v, "currency": data::currency(&p, s, item) } }),
        other => json!({ other: v }),
    })
}

/// A placeholder worded for reading: the built-in words read as on the call except digits,
/// which the page shows as written.
fn read(name: &str, s: &Session, item: Option<&Value>, script: Option<&Script>) -> String {
    let p = Placeholder::parse(name);
    match (p.path, p.format) {
        ("card.last4", None) => s.case.card().map(|c| c.last4).unwrap_or_default(),
        (path, format) => match data::resolve(path, s, item, script) {
            Some(v) => match format {
                Some("if") => {
                    let pick = if data::truthy(&v) { 0 } else { 1 };
                    p.args.get(pick).copied().unwrap_or_default().to_owned()
                }
                _ => data::plain(&v),
            },
            // Not data: a built-in word (`charges.count`, `decision`).
            None => super::speech::render_with(&format!("{{{name}}}"), s, script),
        },
    }
}

fn strip_nulls(v: &mut Value) {
    if let Value::Object(map) = v {
        let keep: Map<String, Value> = std::mem::take(map)
            .into_iter()
            .filter(|(_, v)| !v.is_null() && *v != Value::Bool(false))
            .collect();
        *map = keep;
    }
}

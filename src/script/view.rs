//! A screen drawn for one session: every text in the customer's language with its
//! placeholders filled, as JSON the page renders with no wording of its own. Money and dates
//! go to the page as typed pieces (`{"money": …}`) so it formats them for the customer's
//! locale; everything else is plain text, which the page only ever sets as text.

use serde_json::{Map, Value, json};

use crate::session::Session;

use super::{
    data::{self, Labels, Placeholder},
    fields::{Rule, amount_bound, date_bound, message, options},
    model::Script,
    reading::{Piece, each_piece, plain_text, read},
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
    let t = |text: &Text| segments(text.pick(locale), s, None, script);
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
                    let rows = data::resolve(items, s, None, script)
                        .and_then(|v| v.as_array().cloned())
                        .unwrap_or_default();
                    let item_text = |text: &Text, item: &Value| {
                        segments(text.pick(locale), s, Some(item), script)
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
        "title": plain_text(screen.title.pick(locale), s, None, script),
        "components": components,
    })
}

fn field(script: &Script, f: &Field, s: &Session, locale: &str) -> Value {
    let t = |text: &Text| segments(text.pick(locale), s, None, script);
    let (min, max) = match f.kind {
        FieldKind::Amount => (
            f.min.as_deref().and_then(|b| amount_bound(b, s)),
            f.max.as_deref().and_then(|b| amount_bound(b, s)),
        ),
        FieldKind::Date => {
            let today = chrono::Utc::now().date_naive();
            let day = |b: &Option<String>| {
                b.as_deref()
                    .and_then(|b| date_bound(b, today))
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

/// A text for the page: a string, or pieces where money and dates are left for the page to
/// format in the customer's locale.
pub fn segments(template: &str, s: &Session, item: Option<&Value>, labels: &dyn Labels) -> Value {
    let mut pieces: Vec<Value> = Vec::new();
    let mut literal = String::new();
    let mut typed = false;
    each_piece(template, |piece| match piece {
        Piece::Text(t) => literal.push_str(t),
        Piece::Name(name) => match typed_value(name, s, item, labels) {
            Some(v) => {
                typed = true;
                if !literal.is_empty() {
                    pieces.push(json!(std::mem::take(&mut literal)));
                }
                pieces.push(v);
            }
            None => literal.push_str(&read(name, s, item, labels)),
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

/// Money and dates as typed pieces.
fn typed_value(
    name: &str,
    s: &Session,
    item: Option<&Value>,
    labels: &dyn Labels,
) -> Option<Value> {
    let p = Placeholder::parse(name);
    let format = p.format?;
    if !matches!(format, "money" | "date" | "day") {
        return None;
    }
    let v = data::plain(data::resolve(p.path, s, item, labels)?.as_ref());
    Some(match format {
        "money" => json!({ "money": { "amount": v, "currency": data::currency(&p, s, item) } }),
        other => json!({ other: v }),
    })
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

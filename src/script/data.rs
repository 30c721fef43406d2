//! `{placeholders}` that name the journey's data by path (`{plan.monthly|money}`, `{item.merchant}`,
//! `{answers.address.zip}`): found in the session, formatted for the ear or for the page, and
//! checked against the data's JSON Schema when a script loads.

use std::borrow::Cow;

use serde_json::{Value, json};

use crate::session::Session;

/// How an answer to a choice reads (its option's label), for whoever can tell.
pub trait Labels {
    fn label(&self, form: &str, field: &str, value: &str, s: &Session) -> Option<String>;

    /// The session's language, for words such as `{decision}`.
    fn locale(&self, _s: &Session) -> String {
        "en".into()
    }
}

/// For words that name no answer, or where values are wanted as sent.
pub struct NoLabels;

impl Labels for NoLabels {
    fn label(&self, _: &str, _: &str, _: &str, _: &Session) -> Option<String> {
        None
    }
}

/// One `{path|format:arg:arg}`.
#[derive(Debug, PartialEq, Eq)]
pub struct Placeholder<'a> {
    pub path: &'a str,
    pub format: Option<&'a str>,
    pub args: Vec<&'a str>,
}

pub const FORMATS: &[&str] = &["money", "date", "day", "digits", "if"];

impl<'a> Placeholder<'a> {
    pub fn parse(name: &'a str) -> Self {
        let mut parts = name.split('|');
        let path = parts.next().unwrap_or_default().trim();
        let (format, args) = match parts.next() {
            Some(f) => {
                let mut pieces = f.split(':');
                let format = pieces.next().map(str::trim);
                (format, pieces.collect())
            }
            None => (None, Vec::new()),
        };
        Self { path, format, args }
    }
}

/// The value at `path`: the list item being drawn (`item.…`), a form the customer answered
/// (`answers.<form>.<field>`, a choice read as its label), the customer's name, or the data.
pub fn resolve<'a>(
    path: &str,
    s: &'a Session,
    item: Option<&'a Value>,
    labels: &dyn Labels,
) -> Option<Cow<'a, Value>> {
    let mut parts = path.split('.');
    let head = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    match head {
        "item" => walk(item?, &rest).map(Cow::Borrowed),
        "answers" => {
            let [form, field] = rest[..] else { return None };
            let value = s.answers.get(form)?.get(field)?;
            let label = labels.label(form, field, value, s);
            Some(Cow::Owned(Value::String(
                label.unwrap_or_else(|| value.clone()),
            )))
        }
        "customer" => match rest[..] {
            ["first_name"] => Some(Cow::Owned(json!(s.case.first_name()))),
            ["name"] => Some(Cow::Owned(json!(s.case.customer.name))),
            _ => None,
        },
        _ => walk(s.case.data.get(head)?, &rest).map(Cow::Borrowed),
    }
}

/// The currency of an amount at `path`: the format's own (`money:EUR`), else the `currency`
/// beside the amount in its object, else US dollars.
pub fn currency<'a>(p: &Placeholder<'_>, s: &'a Session, item: Option<&'a Value>) -> String {
    if let Some(code) = p.args.first() {
        return (*code).to_owned();
    }
    let parent = p.path.rsplit_once('.').map(|(parent, _)| parent);
    let beside = parent.and_then(|parent| {
        let at = format!("{parent}.currency");
        resolve(&at, s, item, &NoLabels)?
            .as_str()
            .map(str::to_owned)
    });
    beside.unwrap_or_else(|| "USD".into())
}

fn walk<'a>(mut value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    for part in path {
        value = match value {
            Value::Object(map) => map.get(*part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// A value as words: strings as they are, numbers as written, true/false by the `if` format.
pub fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Array(items) => items.len().to_string(),
        Value::Null | Value::Object(_) => String::new(),
    }
}

pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// The sub-schema `path` names in a data schema (through `properties` and array `items`).
pub fn in_schema<'a>(schema: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut at = schema;
    for part in path {
        at = match at.get("properties").and_then(|p| p.get(*part)) {
            Some(next) => next,
            None if part.parse::<usize>().is_ok() => at.get("items")?,
            None => return None,
        };
    }
    Some(at)
}

/// Every property path a data schema declares, for suggestions.
pub fn schema_paths(schema: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            let path = match prefix {
                "" => name.clone(),
                p => format!("{p}.{name}"),
            };
            out.push(path.clone());
            schema_paths(sub, &path, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_splits_into_path_format_and_arguments() {
        assert_eq!(
            Placeholder::parse("item.card_present|if:In person:Online"),
            Placeholder {
                path: "item.card_present",
                format: Some("if"),
                args: vec!["In person", "Online"]
            }
        );
        assert_eq!(Placeholder::parse("plan.name").format, None);
    }

    #[test]
    fn paths_are_found_through_properties_and_array_items() {
        let schema = json!({"type": "object", "properties": {"plans": {"type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}});
        assert!(in_schema(&schema, &["plans"]).is_some());
        assert!(in_schema(&schema, &["plans", "0", "name"]).is_some());
        assert!(in_schema(&schema, &["plan"]).is_none());
    }
}

//! The checks that join a script's two views: every screen a state names exists, every
//! placeholder on a screen has data, every button's action is waited on and every awaited
//! action or form is offered, fields are well formed, and every text has every language.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{
    data,
    lines::Lines,
    model::{ActionKind, Choice, Script, ScriptChannel, StateKind, Trigger},
    screen::{Component, Field, FieldKind, Form, MAX_VALUE, Screen},
    speech::{Known, check_template},
    text::Text,
};

/// Every problem, each with the line of the screen, state or section it is in.
pub(super) fn problems(script: &Script, file: &str, lines: &Lines) -> Vec<super::ScriptError> {
    let mut out = Vec::new();
    let at_script = |section: &str, name: &str, message: String| super::ScriptError::Script {
        file: lines.at(file, section, name),
        message,
    };
    for locale in &script.locales {
        if !crate::session::alert::is_language_tag(locale) {
            out.push(at_script(
                "",
                "locales",
                format!("`{locale}` is not a language tag such as en or es-US"),
            ));
        }
    }
    if script.channel == ScriptChannel::Sms && !script.screens.is_empty() && script.screen.is_none()
    {
        out.push(at_script(
            "",
            "screens",
            "a texted journey with screens needs `screen`, the one its link opens on".into(),
        ));
    }
    let sends_link = script.states.values().any(|s| {
        matches!(
            s.kind,
            StateKind::Action {
                action: ActionKind::SendLink,
                ..
            }
        )
    });
    match &script.screen {
        Some(name) if !script.screens.contains_key(name) => out.push(at_script(
            "",
            "screen",
            missing_screen("`screen` names", name, script),
        )),
        None if sends_link => out.push(at_script(
            "",
            "states",
            "the script sends a page link but has no `screen` for the page to open on".into(),
        )),
        _ => {}
    }
    for (what, text) in [
        ("already_decided", &script.messages.already_decided),
        ("ended", &script.messages.ended),
        ("texted_after_end", &script.messages.texted_after_end),
        ("history", &script.messages.history),
    ] {
        // Only a language with no words counts here: the defaults come in more than a script needs.
        let missing: Vec<String> = text
            .gaps(&script.locales)
            .into_iter()
            .filter(|g| !g.contains(' '))
            .collect();
        if !missing.is_empty() {
            out.push(super::ScriptError::Script {
                file: lines.at(file, "messages", what),
                message: format!("`messages.{what}`: no words for {}", missing.join(", ")),
            });
        }
    }
    // Every text in every language.
    let mut gaps = |section: &str, name: &str, what: &str, text: &Text| {
        let missing = text.gaps(&script.locales);
        if !missing.is_empty() {
            out.push(super::ScriptError::Script {
                file: lines.at(file, section, name),
                message: format!("{what}: no words for {}", missing.join(", ")),
            });
        }
    };
    let mut names: Vec<&String> = script.states.keys().collect();
    names.sort();
    for name in &names {
        let state = &script.states[*name];
        let what = format!("state `{name}`");
        for text in state_texts(state) {
            gaps("states", name, &what, text);
        }
    }
    for (name, screen) in &script.screens {
        let what = format!("screen `{name}`");
        for text in screen_texts(screen) {
            gaps("screens", name, &what, text);
        }
    }
    // States and the screens they name.
    for name in &names {
        let state = &script.states[*name];
        if let Some(screen) = &state.screen
            && !script.screens.contains_key(screen)
        {
            out.push(super::ScriptError::State {
                file: lines.at(file, "states", name),
                state: (*name).clone(),
                message: missing_screen("shows", screen, script),
            });
        }
    }
    // Each screen on its own.
    let mut forms = BTreeSet::new();
    for (name, screen) in &script.screens {
        let mut problem = |message: String| {
            out.push(super::ScriptError::Script {
                file: lines.at(file, "screens", name),
                message: format!("screen `{name}`: {message}"),
            });
        };
        for message in screen_problems(script, screen) {
            problem(message);
        }
        for form in screen.forms() {
            if !forms.insert(form.id.clone()) {
                problem(format!(
                    "form `{}` is on two screens; form ids are unique in a script",
                    form.id
                ));
            }
        }
    }
    // Actions offered and awaited, forms sent and awaited.
    let offered: BTreeSet<&str> = script.screens.values().flat_map(Screen::actions).collect();
    let mut awaited = BTreeSet::new();
    let mut awaited_forms = BTreeSet::new();
    let triggers = script
        .states
        .iter()
        .flat_map(|(n, s)| s.on.keys().map(move |t| (Some(n), t)))
        .chain(script.anywhere.on.keys().map(|t| (None, t)));
    for (state, trigger) in triggers {
        let (place, problem) = match trigger {
            Trigger::PageAction(action) => {
                awaited.insert(action.as_str());
                (
                    state,
                    (!offered.contains(action.as_str())).then(|| {
                        format!("waits on `page.action.{action}`, which no screen's button raises")
                    }),
                )
            }
            Trigger::PageSubmit(form) => {
                awaited_forms.insert(form.as_str());
                (
                    state,
                    (!forms.contains(form)).then(|| {
                        format!("waits on `page.submit.{form}`, but no screen has that form")
                    }),
                )
            }
            _ => continue,
        };
        if let Some(message) = problem {
            out.push(match place {
                Some(state) => super::ScriptError::State {
                    file: lines.at(file, "states", state),
                    state: state.clone(),
                    message,
                },
                None => at_script("anywhere", "on", format!("`anywhere.on` {message}")),
            });
        }
    }
    for (name, screen) in &script.screens {
        for action in screen.actions().filter(|a| !awaited.contains(a)) {
            out.push(at_script("screens", name, format!("screen `{name}`: the button for `{action}` raises an action no state waits on (`page.action.{action}`)")));
        }
        for form in screen
            .forms()
            .filter(|f| !awaited_forms.contains(f.id.as_str()))
        {
            out.push(at_script("screens", name, format!("screen `{name}`: form `{}` is sent to no state (none waits on `page.submit.{}`)", form.id, form.id)));
        }
    }
    // Gathers that answer a form by voice.
    for name in &names {
        let state = &script.states[*name];
        let StateKind::Gather(g) = &state.kind else {
            continue;
        };
        let Choice::Fill {
            form,
            field,
            values,
        } = &g.choice
        else {
            continue;
        };
        let message = match fill_problem(script, form, field, values) {
            Some(m) => Some(m),
            None if !state.on.contains_key(&Trigger::PageSubmit(form.clone())) => Some(format!(
                "fills `{form}.{field}` but has no `on` for `page.submit.{form}`: the answer would lead nowhere"
            )),
            None => None,
        };
        if let Some(message) = message {
            out.push(super::ScriptError::State {
                file: lines.at(file, "states", name),
                state: (*name).clone(),
                message,
            });
        }
    }
    out
}

fn missing_screen(what: &str, name: &str, script: &Script) -> String {
    match super::names::nearest(name, script.screens.keys().map(String::as_str)) {
        Some(near) => {
            format!("{what} screen `{name}`, which does not exist; did you mean `{near}`?")
        }
        None => format!("{what} screen `{name}`, which does not exist"),
    }
}

fn fill_problem(
    script: &Script,
    form: &str,
    field: &str,
    values: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let Some(f) = script.form(form) else {
        return Some(format!(
            "fills a field of form `{form}`, which no screen has"
        ));
    };
    let Some(target) = f.field(field) else {
        return Some(format!(
            "fills `{form}.{field}`, but form `{form}` has no field `{field}`"
        ));
    };
    if target.kind != FieldKind::Choice {
        return Some(format!("fills `{form}.{field}`, which is not a choice"));
    }
    if let Some(options) = &target.options
        && let Some(bad) = values
            .values()
            .find(|v| !options.iter().any(|o| &o.value == *v))
    {
        return Some(format!(
            "fills `{form}.{field}` with `{bad}`, which is not one of its options"
        ));
    }
    if let Some(other) = f.fields.iter().find(|o| o.name != field && o.required) {
        return Some(format!(
            "fills `{form}.{field}` by voice, but the form also requires `{}`, which a voice answer cannot give",
            other.name
        ));
    }
    None
}

fn is_name(id: &str) -> bool {
    (1..=40).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn state_texts(state: &super::model::State) -> Vec<&Text> {
    let mut out: Vec<&Text> = state.say.iter().collect();
    match &state.kind {
        StateKind::Gather(g) => {
            out.push(&g.prompt);
            out.extend(g.reprompt.as_ref());
            out.extend(g.no_input.as_ref());
        }
        StateKind::Wait(w) => out.push(&w.hold_prompt),
        StateKind::Action { sms: Some(t), .. } => out.push(t),
        _ => {}
    }
    out
}

fn screen_texts(screen: &Screen) -> Vec<&Text> {
    let mut out = vec![&screen.title];
    for c in &screen.components {
        match c {
            Component::Heading { text, .. } | Component::Text { text, .. } => out.push(text),
            Component::Details { items, .. } => {
                out.extend(items.iter().flat_map(|d| [&d.label, &d.value]))
            }
            Component::List {
                title,
                value,
                fields,
                empty,
                ..
            } => {
                out.extend([title, empty]);
                out.extend(value.as_ref());
                out.extend(fields.iter().flat_map(|d| [&d.label, &d.value]));
            }
            Component::Notice { title, text, .. } => {
                out.extend(title.as_ref());
                out.push(text);
            }
            Component::Image { alt, .. } => out.extend(alt.as_ref()),
            Component::Button { label, .. } => out.push(label),
            Component::Decision {
                approve,
                decline,
                approved,
                declined,
                ..
            } => out.extend([approve, decline, approved, declined]),
            Component::Form(form) => {
                out.push(&form.submit);
                for f in &form.fields {
                    out.push(&f.label);
                    out.extend(f.hint.as_ref());
                    out.extend(f.options.iter().flatten().map(|o| &o.label));
                    out.extend(f.options_from.as_ref().map(|o| &o.label));
                    if let Some(e) = &f.errors {
                        out.extend(e.missing.as_ref());
                        out.extend(e.invalid.as_ref());
                    }
                }
            }
        }
    }
    out
}

/// The problems of one screen, in plain words.
fn screen_problems(script: &Script, screen: &Screen) -> Vec<String> {
    let mut out = Vec::new();
    let known = Known {
        script: Some(script),
        item: None,
    };
    let words = |text: &Text, known: Known, out: &mut Vec<String>, what: &str| {
        for t in text.all() {
            if let Err(m) = check_template(t, false, known) {
                out.push(format!("{what}: {m}"));
            }
        }
    };
    words(&screen.title, known, &mut out, "title");
    let mut ids = BTreeSet::new();
    let (mut decisions, mut agents) = (0, 0);
    for (i, c) in screen.components.iter().enumerate() {
        let what = match c.id() {
            Some(id) => format!("{} `{id}`", c.kind()),
            None => format!("{} (component {})", c.kind(), i + 1),
        };
        if let Some(id) = c.id() {
            if !is_name(id) {
                out.push(format!("{what}: an id is 1 to 40 lower-case letters, digits, - and _, starting with a letter"));
            }
            if !ids.insert(id) {
                out.push(format!("{what}: two components share the id `{id}`"));
            }
        }
        match c {
            Component::Heading { text, .. } | Component::Text { text, .. } => {
                words(text, known, &mut out, &what)
            }
            Component::Details { items, .. } => {
                for d in items {
                    words(&d.label, known, &mut out, &what);
                    words(&d.value, known, &mut out, &what);
                }
            }
            Component::List {
                items,
                title,
                value,
                fields,
                empty,
                ..
            } => {
                let item = list_item(script, items);
                if let Err(m) = &item {
                    out.push(format!("{what}: {m}"));
                }
                let inner = Known {
                    script: Some(script),
                    item: item.ok(),
                };
                words(title, inner, &mut out, &what);
                words(empty, known, &mut out, &what);
                if let Some(v) = value {
                    words(v, inner, &mut out, &what);
                }
                for d in fields {
                    words(&d.label, known, &mut out, &what);
                    words(&d.value, inner, &mut out, &what);
                }
            }
            Component::Notice { title, text, .. } => {
                if let Some(t) = title {
                    words(t, known, &mut out, &what);
                }
                words(text, known, &mut out, &what);
            }
            Component::Image {
                src,
                alt,
                decorative,
                ..
            } => {
                let bad = !src.starts_with("https://")
                    || src.len() > 500
                    || src.chars().any(|c| c.is_whitespace() || c.is_control());
                if bad {
                    out.push(format!(
                        "{what}: src needs an https URL of at most 500 characters"
                    ));
                }
                match (alt, decorative) {
                    (None, false) => out.push(format!(
                        "{what}: needs `alt` words (or `\"decorative\": true`)"
                    )),
                    (Some(_), true) => {
                        out.push(format!("{what}: a decorative image takes no `alt`"))
                    }
                    (Some(alt), false) => words(alt, known, &mut out, &what),
                    (None, true) => {}
                }
            }
            Component::Button {
                label,
                action,
                request,
                ..
            } => {
                words(label, known, &mut out, &what);
                match (action, request) {
                    (Some(a), None) if !is_action(a) => out.push(format!(
                        "{what}: action `{a}` must be 1 to 40 lower-case letters, digits and _"
                    )),
                    (Some(_), None) => {}
                    (None, Some(_)) => agents += 1,
                    _ => out.push(format!(
                        "{what}: needs exactly one of `action` or `request`"
                    )),
                }
            }
            Component::Decision {
                approve,
                decline,
                approved,
                declined,
                ..
            } => {
                decisions += 1;
                for t in [approve, decline, approved, declined] {
                    words(t, known, &mut out, &what);
                }
            }
            Component::Form(form) => out.extend(form_problems(script, form, known)),
        }
    }
    if decisions > 1 {
        out.push("has two decisions; a screen asks for one".into());
    }
    if agents > 1 {
        out.push("has two buttons asking for a person".into());
    }
    out
}

fn is_action(a: &str) -> bool {
    (1..=40).contains(&a.len())
        && a.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The schema of one element of the array at `path` in the script's data.
fn list_item<'a>(script: &'a Script, path: &str) -> Result<&'a Value, String> {
    let Some(schema) = &script.data else {
        return Err(format!(
            "lists `{path}`, but the script declares no `data` schema to find it in"
        ));
    };
    let parts: Vec<&str> = path.split('.').collect();
    let Some(at) = data::in_schema(schema, &parts) else {
        return Err(format!(
            "lists `{path}`, which the data schema does not declare"
        ));
    };
    if at.get("type").and_then(Value::as_str) != Some("array") {
        return Err(format!(
            "lists `{path}`, which the data schema does not declare as an array"
        ));
    }
    at.get("items")
        .ok_or_else(|| format!("lists `{path}`, whose schema says nothing of its items"))
}

fn form_problems(script: &Script, form: &Form, known: Known) -> Vec<String> {
    let mut out = Vec::new();
    let what = format!("form `{}`", form.id);
    if !is_action(&form.id) {
        out.push(format!(
            "{what}: an id is 1 to 40 lower-case letters, digits and _"
        ));
    }
    if form.fields.is_empty() {
        out.push(format!("{what}: has no fields"));
    }
    let mut names = BTreeSet::new();
    for f in &form.fields {
        let what = format!("{what}, field `{}`", f.name);
        if !is_action(&f.name) {
            out.push(format!(
                "{what}: a field name is 1 to 40 lower-case letters, digits and _"
            ));
        }
        if !names.insert(f.name.as_str()) {
            out.push(format!("{what}: two fields share the name"));
        }
        for t in [Some(&f.label), f.hint.as_ref()].into_iter().flatten() {
            for words in t.all() {
                if let Err(m) = check_template(words, false, known) {
                    out.push(format!("{what}: {m}"));
                }
                if words.trim().is_empty() {
                    out.push(format!("{what}: has an empty label"));
                }
            }
        }
        if let Some(m) = field_problem(script, f) {
            out.push(format!("{what}: {m}"));
        }
    }
    out
}

fn field_problem(script: &Script, f: &Field) -> Option<String> {
    let only = |allowed: &[FieldKind], set: bool, name: &str| -> Option<String> {
        (set && !allowed.contains(&f.kind))
            .then(|| format!("`{name}` does not apply to a {:?} field", f.kind).to_lowercase())
    };
    use FieldKind::*;
    only(&[Text], f.pattern.is_some(), "pattern")
        .or_else(|| only(&[Text], f.multiline, "multiline"))
        .or_else(|| {
            only(
                &[Text, Digits],
                f.min_length.is_some() || f.max_length.is_some(),
                "min_length/max_length",
            )
        })
        .or_else(|| only(&[Digits], f.length.is_some(), "length"))
        .or_else(|| {
            only(
                &[Amount, Date],
                f.min.is_some() || f.max.is_some(),
                "min/max",
            )
        })
        .or_else(|| only(&[Amount], f.currency.is_some(), "currency"))
        .or_else(|| {
            only(
                &[Choice],
                f.options.is_some() || f.options_from.is_some(),
                "options",
            )
        })
        .or_else(|| only(&[Text, Digits], f.expect.is_some(), "expect"))
        .or_else(|| {
            if let Some(p) = &f.pattern
                && let Err(e) = regex::Regex::new(&format!("^(?:{p})$"))
            {
                return Some(format!("pattern does not compile: {e}"));
            }
            let max = f.max_length.unwrap_or(0) as usize;
            if max > MAX_VALUE {
                return Some(format!("max_length is over {MAX_VALUE}"));
            }
            if let (Some(min), Some(max)) = (f.min_length, f.max_length)
                && min > max
            {
                return Some("min_length is over max_length".into());
            }
            match f.kind {
                Digits if f.length.is_none() && f.max_length.is_none() => {
                    Some("a digits field needs `length` (or `max_length`)".into())
                }
                Choice => match (&f.options, &f.options_from) {
                    (Some(o), None) if o.is_empty() => Some("has no options".into()),
                    (Some(_), None) => None,
                    (None, Some(from)) => list_item(script, &from.items).err(),
                    _ => Some("a choice needs exactly one of `options` or `options_from`".into()),
                },
                Amount => [&f.min, &f.max]
                    .into_iter()
                    .flatten()
                    .find(|v| !(super::fields::is_decimal(v) || is_path(v)))
                    .map(|v| {
                        format!(
                            "min/max `{v}` must be a decimal such as 25.00 or a data path in braces"
                        )
                    }),
                Date => [&f.min, &f.max]
                    .into_iter()
                    .flatten()
                    .find(|v| {
                        super::fields::date_bound(v, chrono::Utc::now().date_naive()).is_none()
                    })
                    .map(|v| {
                        format!("min/max `{v}` must be today, today+N, today-N or YYYY-MM-DD")
                    }),
                _ => None,
            }
        })
        .or_else(|| {
            let path = f.expect.as_deref()?;
            if !f.secret {
                return Some("a field compared with `expect` must be `secret`".into());
            }
            (!super::speech::expect_known(
                path,
                Known {
                    script: Some(script),
                    item: None,
                },
            ))
            .then(|| format!("expect names unknown data `{path}`"))
        })
        .or_else(|| {
            (f.secret && !matches!(f.kind, Text | Digits))
                .then(|| "only text and digits fields can be secret".into())
        })
        .or_else(|| {
            (f.kind == Consent && !f.required).then(|| {
                "a consent box that need not be ticked asks nothing; make it required".into()
            })
        })
}

fn is_path(v: &str) -> bool {
    v.starts_with('{') && v.ends_with('}') && v.len() > 2
}

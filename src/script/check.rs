//! Loading and checking a flow: the file parsed, each state converted and its placeholders
//! checked, then the whole-flow rules (every target exists, every state can be reached).
//! Every problem is reported, not only the first: that is what `tandem check` prints.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::Digest;

use super::{
    file::{ScriptFile, convert},
    lines::Lines,
    model::*,
    names::nearest,
};

impl Script {
    /// Parses and checks one flow file; `file` names it in errors. The first problem found.
    pub fn parse(file: &str, text: &str) -> Result<Self, ScriptError> {
        Self::parse_all(file, text).map_err(|mut problems| problems.remove(0))
    }

    /// Parses and checks one flow file, reporting every problem rather than the first.
    pub fn parse_all(file: &str, text: &str) -> Result<Self, Vec<ScriptError>> {
        let raw: ScriptFile = serde_json::from_str(text).map_err(|e| {
            // The position is reported once, in front; serde's own copy of it goes.
            let message = e.to_string();
            let message = match message.rsplit_once(" at line ") {
                Some((head, _)) => head.to_owned(),
                None => message,
            };
            vec![ScriptError::Syntax {
                file: file.into(),
                line: e.line(),
                column: e.column(),
                message,
            }]
        })?;
        let mut problems = Vec::new();
        let lines = Lines(text);
        let state_problem = |state: &str, message: String| ScriptError::State {
            file: lines.at(file, "states", state),
            state: state.into(),
            message,
        };
        let mut states = HashMap::new();
        // States whose shape could not be read: where they lead is unknown.
        let mut unreadable = BTreeSet::new();
        for (name, state) in raw.states {
            match convert(state, raw.channel) {
                Ok(converted) => {
                    states.insert(name, converted);
                }
                Err(message) => {
                    problems.push(state_problem(&name, message));
                    unreadable.insert(name);
                }
            }
        }
        let mut on = BTreeMap::new();
        for (key, target) in raw.anywhere.on {
            match Trigger::parse(&key) {
                Some(trigger) => {
                    on.insert(trigger, target);
                }
                None => problems.push(ScriptError::Script {
                    file: file.into(),
                    message: format!(
                        "`anywhere.on` has unknown event `{key}` (known: {})",
                        Trigger::KNOWN
                    ),
                }),
            }
        }
        let words = raw
            .anywhere
            .words
            .into_iter()
            .map(|(w, t)| (w.to_lowercase(), t))
            .collect();
        let defaults = Messages::default();
        let messages = Messages {
            already_decided: raw
                .messages
                .already_decided
                .unwrap_or(defaults.already_decided),
            ended: raw.messages.ended.unwrap_or(defaults.ended),
            texted_after_end: raw
                .messages
                .texted_after_end
                .unwrap_or(defaults.texted_after_end),
            history: raw.messages.history.unwrap_or(defaults.history),
        };
        let locales = match raw.locales.is_empty() {
            true => vec!["en".to_owned()],
            false => raw.locales,
        };
        let data_check = match &raw.data {
            None => None,
            Some(schema) => match jsonschema::validator_for(schema) {
                Ok(v) => Some(v),
                Err(e) => {
                    problems.push(ScriptError::Script {
                        file: lines.at(file, "", "data"),
                        message: format!("`data` is not a JSON Schema this server can use: {e}"),
                    });
                    None
                }
            },
        };
        let team = raw
            .team
            .unwrap_or_else(|| super::model::DEFAULT_TEAM.to_owned());
        if !crate::agents::is_team(&team) {
            problems.push(ScriptError::Script {
                file: lines.at(file, "", "team"),
                message: format!(
                    "`team` {team:?} must be 1 to 40 lowercase letters, digits, '-' or '_'"
                ),
            });
        }
        let digest = sha2::Sha256::digest(text.as_bytes());
        let script = Script {
            name: raw.name,
            channel: raw.channel,
            serves: raw.serves,
            when: raw.when,
            messages,
            version: digest.iter().take(6).map(|b| format!("{b:02x}")).collect(),
            start: raw.start,
            anywhere: Anywhere {
                keys: raw.anywhere.keys,
                words,
                on,
            },
            states,
            locales,
            data: raw.data,
            data_check,
            screens: raw.screens,
            screen: raw.screen,
            team,
        };
        // Words are checked once the whole script is known: placeholders may name its data
        // and the answers its forms collect.
        let known = super::speech::Known {
            script: Some(&script),
            item: None,
        };
        let mut names: Vec<&String> = script.states.keys().collect();
        names.sort();
        for name in names {
            let state = &script.states[name];
            // A bad placeholder is reported, but the state still leads where it says.
            if let Err(message) = super::speech::check_placeholders(state, known) {
                problems.push(state_problem(name, message));
            }
        }
        for (what, text) in [
            ("already_decided", &script.messages.already_decided),
            ("ended", &script.messages.ended),
            ("texted_after_end", &script.messages.texted_after_end),
            ("history", &script.messages.history),
        ] {
            for words in text.all() {
                if let Err(message) = super::speech::check_template(words, false, known) {
                    problems.push(ScriptError::Script {
                        file: lines.at(file, "messages", what),
                        message: format!("`messages.{what}`: {message}"),
                    });
                }
            }
        }
        problems.extend(super::check_screens::problems(&script, file, &lines));
        // Where an unreadable state leads is guessed from the names it mentions, so that what
        // it leads to is not called unreachable.
        let mut guessed: HashMap<String, Vec<String>> = HashMap::new();
        if !unreadable.is_empty()
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(text)
        {
            for name in &unreadable {
                let mut names = Vec::new();
                mentioned(&value["states"][name], &mut names);
                guessed.insert(name.clone(), names);
            }
        }
        problems.extend(script.link_problems(file, &lines, &unreadable, &guessed));
        // A text wrong in each of its languages is one problem.
        let mut seen = BTreeSet::new();
        problems.retain(|p| seen.insert(p.to_string()));
        match problems.is_empty() {
            true => Ok(script),
            false => Err(problems),
        }
    }

    /// Dangling targets, a missing start and states nothing leads to. The causes only: a
    /// misspelt target counts as the state it nearly names when deciding what can be reached,
    /// and a state that could not be read (`unreadable`) leads to every state it mentions
    /// (`guessed`).
    pub(super) fn link_problems(
        &self,
        file: &str,
        lines: &Lines,
        unreadable: &BTreeSet<String>,
        guessed: &HashMap<String, Vec<String>>,
    ) -> Vec<ScriptError> {
        let mut problems = Vec::new();
        let missing = |t: &str| !self.states.contains_key(t) && !unreadable.contains(t);
        let nearest = |t: &str| nearest(t, self.states.keys().map(String::as_str));
        let not_found = |what: String, target: &str| match nearest(target) {
            Some(near) => {
                format!("{what} `{target}`, which does not exist; did you mean `{near}`?")
            }
            None => format!("{what} `{target}`, which does not exist"),
        };
        if missing(&self.start) {
            problems.push(ScriptError::Script {
                file: file.into(),
                message: not_found("the start state is".into(), &self.start),
            });
        }
        for target in self.anywhere.targets().into_iter().filter(|t| missing(t)) {
            problems.push(ScriptError::Script {
                file: file.into(),
                message: not_found("`anywhere` goes to".into(), target),
            });
        }
        let mut names: Vec<&String> = self.states.keys().collect();
        names.sort();
        for name in &names {
            for target in self.states[*name]
                .targets()
                .into_iter()
                .filter(|t| missing(t))
            {
                problems.push(ScriptError::State {
                    file: lines.at(file, "states", name),
                    state: (*name).clone(),
                    message: not_found("goes to".into(), target),
                });
            }
        }
        let meant = |t: &str| -> String {
            match self.states.contains_key(t) {
                true => t.to_owned(),
                false => nearest(t).unwrap_or(t).to_owned(),
            }
        };
        let mut roots: Vec<String> = self.anywhere.targets().into_iter().map(meant).collect();
        roots.push(meant(&self.start));
        let mut seen: BTreeSet<String> = roots.iter().cloned().collect();
        let mut todo = roots;
        while let Some(name) = todo.pop() {
            let targets: Vec<String> = match (self.states.get(&name), guessed.get(&name)) {
                (Some(state), _) => state.targets().into_iter().map(meant).collect(),
                (None, Some(names)) => names.clone(),
                (None, None) => continue,
            };
            for target in targets {
                if seen.insert(target.clone()) {
                    todo.push(target);
                }
            }
        }
        for name in names.into_iter().filter(|n| !seen.contains(*n)) {
            problems.push(ScriptError::State {
                file: lines.at(file, "states", name),
                state: name.clone(),
                message: "can never be reached".into(),
            });
        }
        problems
    }
}

/// Every string in a JSON value: the names a state that could not be read mentions.
fn mentioned(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => into.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| mentioned(v, into)),
        serde_json::Value::Object(map) => map.values().for_each(|v| mentioned(v, into)),
        _ => {}
    }
}

//! Loading and checking a flow: the file parsed, each state converted and its placeholders
//! checked, then the whole-flow rules (every target exists, every state can be reached).
//! Every problem is reported, not only the first: that is what `tandem check` prints.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::Digest;

use super::{
    file::{ScriptFile, convert},
    model::*,
};

impl Script {
    /// Parses and checks one flow file; `file` names it in errors. The first problem found.
    pub fn parse(file: &str, text: &str) -> Result<Self, ScriptError> {
        Self::parse_all(file, text).map_err(|mut problems| problems.remove(0))
    }

    /// Parses and checks one flow file, reporting every problem rather than the first.
    pub fn parse_all(file: &str, text: &str) -> Result<Self, Vec<ScriptError>> {
        let raw: ScriptFile = serde_json::from_str(text).map_err(|e| {
            vec![ScriptError::Syntax {
                file: file.into(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            }]
        })?;
        let mut problems = Vec::new();
        let state_problem = |state: &str, message: String| ScriptError::State {
            file: file.into(),
            state: state.into(),
            message,
        };
        let mut states = HashMap::new();
        for (name, state) in raw.states {
            match convert(state, raw.channel)
                .and_then(|c| super::speech::check_placeholders(&c).map(|()| c))
            {
                Ok(converted) => {
                    states.insert(name, converted);
                }
                Err(message) => problems.push(state_problem(&name, message)),
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
        for text in [
            &messages.already_decided,
            &messages.ended,
            &messages.texted_after_end,
            &messages.history,
        ] {
            if let Err(message) = super::speech::check_template(text, false) {
                problems.push(ScriptError::Script {
                    file: file.into(),
                    message: format!("`messages`: {message}"),
                });
            }
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
        };
        // A state that failed to load would show up again as a dangling target; skip those.
        let broken: BTreeSet<String> = problems.iter().filter_map(ScriptError::state).collect();
        problems.extend(script.link_problems(file, &broken));
        match problems.is_empty() {
            true => Ok(script),
            false => Err(problems),
        }
    }

    /// Dangling targets, a missing start and states nothing leads to.
    pub(super) fn link_problems(&self, file: &str, broken: &BTreeSet<String>) -> Vec<ScriptError> {
        let mut problems = Vec::new();
        let missing = |t: &str| !self.states.contains_key(t) && !broken.contains(t);
        if missing(&self.start) {
            problems.push(ScriptError::Script {
                file: file.into(),
                message: format!("start state `{}` does not exist", self.start),
            });
        }
        for target in self.anywhere.targets().into_iter().filter(|t| missing(t)) {
            problems.push(ScriptError::Script {
                file: file.into(),
                message: format!("`anywhere` goes to `{target}`, which does not exist"),
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
                    file: file.into(),
                    state: (*name).clone(),
                    message: format!("goes to `{target}`, which does not exist"),
                });
            }
        }
        let mut roots = self.anywhere.targets();
        roots.push(&self.start);
        let mut seen: BTreeSet<&str> = roots.iter().copied().collect();
        let mut todo = roots;
        while let Some(name) = todo.pop() {
            let Some(state) = self.states.get(name) else {
                continue;
            };
            for target in state.targets() {
                if seen.insert(target) {
                    todo.push(target);
                }
            }
        }
        for name in names.into_iter().filter(|n| !seen.contains(n.as_str())) {
            problems.push(ScriptError::State {
                file: file.into(),
                state: name.clone(),
                message: "can never be reached".into(),
            });
        }
        problems
    }
}

//! IVR flows: declarative JSON scripts (`ivr-scripts/`), loaded and checked at start, and the
//! pure engine that steps a call through them.

pub mod check;
mod check_screens;
pub mod data;
pub mod drive;
pub mod engine;
pub mod fields;
pub mod file;
pub mod form;
mod gather;
mod lines;
pub mod model;
mod names;
mod reading;
pub mod reload;
pub mod screen;
pub mod speech;
pub mod text;
pub mod view;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

pub use drive::{Call, Leg, Texts, drive};
pub use engine::{Effect, Input, Next, Outcome, Step, effect_at, step};
pub use model::{DEFAULT_TEAM, Script, ScriptChannel, ScriptError, Trigger};

use chrono::{DateTime, Utc};

use crate::session::{Case, alert::AlertKind, history::Record};

/// Every loaded script: the current version of each by name, and every version ever loaded
/// by `name@version`, so calls in progress keep theirs when a file changes.
#[derive(Debug, Default)]
pub struct Scripts {
    dir: Option<PathBuf>,
    book: RwLock<Book>,
}

#[derive(Debug, Default)]
struct Book {
    current: HashMap<String, Arc<Script>>,
    versions: HashMap<String, Arc<Script>>,
}

impl Scripts {
    /// Loads every `*.json` in `dir` except the schema; any error stops the load.
    pub fn load_dir(dir: &Path) -> Result<Self, ScriptError> {
        let scripts = Self {
            dir: Some(dir.to_owned()),
            book: RwLock::default(),
        };
        scripts.reload()?;
        Ok(scripts)
    }

    /// Re-reads the folder. All or nothing: a broken file leaves every script as it was.
    /// Returns the keys (`name@version`) now current.
    pub fn reload(&self) -> Result<Vec<String>, ScriptError> {
        let Some(dir) = &self.dir else {
            return Ok(Vec::new());
        };
        let loaded = read_dir(dir)?;
        check_serving(dir, &loaded)?;
        let mut book = self.book.write().unwrap_or_else(|p| p.into_inner());
        book.current.clear();
        for script in loaded {
            let script = Arc::new(script);
            book.versions
                .entry(script.key())
                .or_insert_with(|| script.clone());
            book.current.insert(script.name.clone(), script);
        }
        let mut keys: Vec<String> = book.current.values().map(|s| s.key()).collect();
        keys.sort();
        Ok(keys)
    }

    pub fn insert(&mut self, script: Script) {
        let book = self.book.get_mut().unwrap_or_else(|p| p.into_inner());
        let script = Arc::new(script);
        book.versions.insert(script.key(), script.clone());
        book.current.insert(script.name.clone(), script);
    }

    /// The desk teams the current scripts queue callers for, each once, sorted.
    pub fn teams(&self) -> Vec<String> {
        let book = self.book.read().unwrap_or_else(|p| p.into_inner());
        let mut teams: Vec<String> = book.current.values().map(|s| s.team.clone()).collect();
        teams.sort();
        teams.dedup();
        teams
    }

    /// A script by `name@version` (that exact version when this node has it, else the current
    /// version of that name) or by bare name (the current version).
    pub fn get(&self, key: &str) -> Option<Arc<Script>> {
        let book = self.book.read().unwrap_or_else(|p| p.into_inner());
        if let Some(exact) = book.versions.get(key) {
            return Some(exact.clone());
        }
        let name = key.split('@').next().unwrap_or(key);
        book.current.get(name).cloned()
    }

    /// The flow for a new call about an alert of `kind`: the first voice script serving that
    /// kind whose `when` matches the customer's history (by name, so the choice is stable),
    /// else the one serving it with no `when`.
    pub fn for_call(
        &self,
        case: &Case,
        history: &[Record],
        now: DateTime<Utc>,
    ) -> Option<Arc<Script>> {
        let book = self.book.read().unwrap_or_else(|p| p.into_inner());
        if let Some(name) = &case.script {
            return book
                .current
                .get(name)
                .filter(|s| s.channel == ScriptChannel::Voice)
                .cloned();
        }
        let kind = &case.kind;
        let mut candidates: Vec<&Arc<Script>> = book
            .current
            .values()
            .filter(|s| s.channel == ScriptChannel::Voice && s.serves.contains(kind))
            .filter(|s| s.when.is_none_or(|w| w.holds(history, now)))
            .collect();
        // A flow chosen by history wins over the usual one; among equals, by name.
        candidates.sort_by_key(|s| (s.when.is_none(), s.name.clone()));
        candidates.first().map(|s| Arc::clone(s))
    }

    /// The text conversation an alert of `kind` starts as soon as it is raised, if any.
    pub fn for_text(&self, case: &Case) -> Option<Arc<Script>> {
        let book = self.book.read().unwrap_or_else(|p| p.into_inner());
        if let Some(name) = &case.script {
            return book
                .current
                .get(name)
                .filter(|s| s.channel == ScriptChannel::Sms)
                .cloned();
        }
        book.current
            .values()
            .find(|s| s.channel == ScriptChannel::Sms && s.serves.contains(&case.kind))
            .cloned()
    }

    /// `name@version` of every current script.
    pub fn current_keys(&self) -> Vec<String> {
        let book = self.book.read().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<String> = book.current.values().map(|s| s.key()).collect();
        keys.sort();
        keys
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }
}

/// Which flow an alert runs is data: two flows claiming the same kind on the same channel
/// with no `when` to tell them apart would make the choice arbitrary, so the folder is refused.
fn check_serving(dir: &Path, scripts: &[Script]) -> Result<(), ScriptError> {
    if !scripts.iter().any(|s| !s.serves.is_empty()) {
        return Err(ScriptError::Script {
            file: dir.display().to_string(),
            message: "no script serves any alert kind (add `serves`)".into(),
        });
    }
    let mut usual: HashMap<(ScriptChannel, AlertKind), &str> = HashMap::new();
    for s in scripts.iter().filter(|s| s.when.is_none()) {
        for kind in &s.serves {
            if let Some(other) = usual.insert((s.channel, kind.clone()), &s.name) {
                return Err(ScriptError::Script {
                    file: dir.display().to_string(),
                    message: format!(
                        "`{other}` and `{}` both serve {} alerts with no `when`",
                        s.name,
                        kind.as_str()
                    ),
                });
            }
        }
    }
    Ok(())
}

fn read_dir(dir: &Path) -> Result<Vec<Script>, ScriptError> {
    let unreadable = |message: String| ScriptError::Script {
        file: dir.display().to_string(),
        message,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| unreadable(e.to_string()))?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("schema.json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ScriptError::Script {
                file: file.clone(),
                message: e.to_string(),
            })?;
            Script::parse(&file, &text)
        })
        .collect()
}

#[cfg(test)]
mod tests;

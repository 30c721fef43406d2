//! IVR flows: declarative JSON scripts (`ivr-scripts/`), loaded and checked at start, and the
//! pure engine that steps a call through them.

pub mod call;
pub mod engine;
pub mod model;
pub mod reload;
pub mod speech;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

pub use call::follow;
pub use engine::{Effect, Input, Next, Outcome, Step, effect_at, step};
pub use model::{Script, ScriptError, Trigger};

use chrono::{DateTime, Utc};

use crate::session::history::Record;

/// The flow alerts run unless told otherwise.
pub const FRAUD_ALERT: &str = "fraud-alert";

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
        if !loaded.iter().any(|s| s.name == FRAUD_ALERT) {
            return Err(ScriptError::Script {
                file: dir.display().to_string(),
                message: format!("no script named `{FRAUD_ALERT}`"),
            });
        }
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

    /// The flow for a new call: the first voice script whose `when` matches the customer's
    /// history (by name, so the choice is stable), else the fraud-alert flow.
    pub fn for_call(&self, history: &[Record], now: DateTime<Utc>) -> Option<Arc<Script>> {
        let book = self.book.read().unwrap_or_else(|p| p.into_inner());
        let mut candidates: Vec<&Arc<Script>> = book
            .current
            .values()
            .filter(|s| {
                s.channel == model::ScriptChannel::Voice
                    && s.when.is_some_and(|w| w.holds(history, now))
            })
            .collect();
        candidates.sort_by(|a, b| a.name.cmp(&b.name));
        candidates
            .first()
            .map(|s| Arc::clone(s))
            .or_else(|| book.current.get(FRAUD_ALERT).cloned())
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

//! IVR flows: declarative JSON scripts (`ivr-scripts/`), loaded and checked at start, and the
//! pure engine that steps a call through them.

pub mod engine;
pub mod model;
pub mod speech;

use std::{collections::HashMap, path::Path, sync::Arc};

pub use engine::{Effect, Input, Next, Outcome, Step, step};
pub use model::{Script, ScriptError, Trigger};

/// The flow alerts run unless told otherwise.
pub const FRAUD_ALERT: &str = "fraud-alert";

/// Every loaded script, by name.
#[derive(Clone, Debug, Default)]
pub struct Scripts {
    by_name: HashMap<String, Arc<Script>>,
}

impl Scripts {
    /// Loads every `*.json` in `dir` except the schema; any error stops the load.
    pub fn load_dir(dir: &Path) -> Result<Self, ScriptError> {
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
        let mut scripts = Self::default();
        for path in paths {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| ScriptError::Script {
                file: file.clone(),
                message: e.to_string(),
            })?;
            scripts.insert(Script::parse(&file, &text)?);
        }
        if scripts.get(FRAUD_ALERT).is_none() {
            return Err(unreadable(format!("no script named `{FRAUD_ALERT}`")));
        }
        Ok(scripts)
    }

    pub fn insert(&mut self, script: Script) {
        self.by_name.insert(script.name.clone(), Arc::new(script));
    }

    pub fn get(&self, name: &str) -> Option<Arc<Script>> {
        self.by_name.get(name).cloned()
    }
}

#[cfg(test)]
mod tests;

//! Calls this node has heard from, and when last. A call that hangs up while its status
//! callback is lost (Redis away when it came) sends nothing more: once it has been quiet here
//! for longer than any live call can be, the provider is asked whether it is over.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

#[derive(Default)]
pub(super) struct QuietCalls {
    last_heard: Mutex<HashMap<String, Instant>>,
}

impl QuietCalls {
    pub(super) fn heard(&self, call_id: &str) {
        let mut calls = self.last_heard.lock().unwrap_or_else(|p| p.into_inner());
        match calls.get_mut(call_id) {
            Some(at) => *at = Instant::now(),
            None => {
                calls.insert(call_id.to_owned(), Instant::now());
            }
        }
    }

    pub(super) fn forget(&self, call_id: &str) {
        self.last_heard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(call_id);
    }

    /// Takes out the calls quiet for longer than `quiet`: each is asked about once, and heard
    /// again (watched anew) only if it turns out live.
    pub(super) fn take_quiet(&self, quiet: Duration) -> Vec<String> {
        let now = Instant::now();
        let mut calls = self.last_heard.lock().unwrap_or_else(|p| p.into_inner());
        let due: Vec<String> = calls
            .iter()
            .filter(|(_, at)| now.duration_since(**at) >= quiet)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &due {
            calls.remove(id);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_heard_again_is_not_quiet_and_a_quiet_one_is_taken_once() {
        let calls = QuietCalls::default();
        calls.heard("CA1");
        calls.heard("CA2");
        assert!(calls.take_quiet(Duration::from_secs(60)).is_empty());
        let mut due = calls.take_quiet(Duration::ZERO);
        due.sort();
        assert_eq!(due, ["CA1", "CA2"]);
        assert!(calls.take_quiet(Duration::ZERO).is_empty());
        calls.heard("CA3");
        calls.forget("CA3");
        assert!(calls.take_quiet(Duration::ZERO).is_empty());
    }
}

//! The session's own log on the demo's screen. Its events are numbered by the session and
//! printed in that order; whatever the phone shows of its own (the keypad, the text with the
//! link, the end of the call) first lets the log catch up, so every line stands after what
//! caused it, the same way in every run.

use tandem::{broker::Broker, session::EventKind};
use uuid::Uuid;

use crate::phone::terminal::Screen;

pub struct Timeline {
    broker: Broker,
    call_sid: String,
    session: Option<Uuid>,
    cursor: u64,
    /// The session has said it is closed: nothing more will come.
    pub closed: bool,
    /// New events were printed by the last catch-up.
    pub moved: bool,
    /// The session has recorded texting the page's link.
    pub link_texted: bool,
    /// The phone has shown the call ending.
    pub phone_ended: bool,
}

impl Timeline {
    pub fn new(broker: Broker, call_sid: String) -> Self {
        Self {
            broker,
            call_sid,
            session: None,
            cursor: 0,
            closed: false,
            moved: false,
            link_texted: false,
            phone_ended: false,
        }
    }

    pub fn session(&self) -> Option<Uuid> {
        self.session
    }

    /// Prints every event the session has that is not on the screen yet, but none from the
    /// end of the call on until the phone has shown the call ending: the phone hangs up first,
    /// and only then does the session hear of it.
    pub async fn catch_up(&mut self, screen: &Screen) {
        self.moved = false;
        if self.session.is_none() {
            self.session = self
                .broker
                .session_for_call(&self.call_sid)
                .await
                .ok()
                .flatten();
        }
        let Some(id) = self.session else {
            return;
        };
        loop {
            let events = self
                .broker
                .events_after(id, self.cursor, 100)
                .await
                .unwrap_or_default();
            if events.is_empty() {
                return;
            }
            for event in events {
                if !self.phone_ended && matches!(event.event, EventKind::CallEnded { .. }) {
                    return;
                }
                self.cursor = event.seq;
                self.link_texted |= matches!(event.event, EventKind::LinkSent);
                self.closed |= matches!(event.event, EventKind::SessionClosed { .. });
                self.moved = true;
                screen.session(event.seq, &event.event);
            }
        }
    }

    /// Catches up as the session changes until `done` holds or `within` has passed: for what
    /// the session records just after the phone sees it.
    pub async fn catch_up_until(
        &mut self,
        screen: &Screen,
        wakes: &mut tokio::sync::broadcast::Receiver<tandem::store::Wake>,
        within: std::time::Duration,
        done: impl Fn(&Self) -> bool,
    ) {
        let until = tokio::time::Instant::now() + within;
        self.catch_up(screen).await;
        while !done(self) && tokio::time::Instant::now() < until {
            tokio::select! {
                _ = wakes.recv() => {}
                () = tokio::time::sleep_until(until) => {}
            }
            self.catch_up(screen).await;
        }
    }
}

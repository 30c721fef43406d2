//! The terminal as a phone: one timestamped, coloured line per thing that happens (what the IVR
//! says, keys pressed, texts received, the session's events), keys typed at the prompt.
//!
//! Plain lines rather than a full-screen UI: they scroll back, copy into bug reports, work in
//! CI logs and over SSH, and screen readers read them.

use std::{
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    sync::mpsc,
};

use super::{Call, CallEvent, EndReason, Phone, Sms};

pub struct Screen {
    started: Instant,
    color: bool,
    /// Columns to wrap at, on a terminal; output to a file or a pipe is never wrapped.
    width: Option<usize>,
}

#[derive(Clone, Copy)]
enum Tone {
    Ivr,
    You,
    Sms,
    Event,
    Info,
    Error,
}

impl Default for Screen {
    fn default() -> Self {
        Self::new()
    }
}

/// `text` after `head`, wrapped to `width` under itself. A link is never cut, neither when it
/// is longer than the line nor at a hyphen in its token: it must still open when copied from
/// the screen.
fn wrap(head: &str, text: &str, width: usize) -> String {
    let indent = " ".repeat(head.chars().count());
    let options = textwrap::Options::new(width.max(head.len() + 20))
        .initial_indent(head)
        .subsequent_indent(&indent)
        .break_words(false)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    textwrap::fill(text, options)
}

impl Screen {
    pub fn new() -> Self {
        let stdout = std::io::stdout();
        Self {
            started: Instant::now(),
            color: tandem::cli::colour_for(&stdout),
            width: stdout.is_terminal().then(textwrap::termwidth),
        }
    }

    /// One line: time, the session's event number when it is one of the session's events, who
    /// or what, and the text, wrapped under itself so the columns stay readable.
    fn line(&self, tone: Tone, seq: Option<u64>, label: &str, text: &str) {
        let secs = self.started.elapsed().as_secs();
        let (start, end) = match (self.color, tone) {
            (false, _) => ("", ""),
            (true, Tone::Ivr) => ("\x1b[36m", "\x1b[0m"),
            (true, Tone::You) => ("\x1b[32m", "\x1b[0m"),
            (true, Tone::Sms) => ("\x1b[33m", "\x1b[0m"),
            (true, Tone::Event) => ("\x1b[2m", "\x1b[0m"),
            (true, Tone::Info) => ("\x1b[1m", "\x1b[0m"),
            (true, Tone::Error) => ("\x1b[31m", "\x1b[0m"),
        };
        let number = seq.map(|n| format!("#{n}")).unwrap_or_default();
        let head = format!(
            "[{:02}:{:02}] {number:>4} {label:<6} ",
            secs / 60,
            secs % 60
        );
        let body = match self.width {
            Some(width) => wrap(&head, text, width),
            None => format!("{head}{text}"),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{start}{body}{end}");
        let _ = out.flush();
    }

    /// One of the session's events, numbered as the session numbered it.
    pub fn session(&self, seq: u64, kind: &tandem::session::EventKind) {
        use tandem::session::EventKind as E;
        let (tone, label, text) = match kind {
            E::Said { text } => (Tone::Ivr, "IVR", text.clone()),
            E::Digits { digits } => (Tone::You, "YOU", format!("pressed {digits}")),
            E::SpeechHeard { text } => (Tone::You, "YOU", format!("said \"{text}\"")),
            E::SmsReceived { text } => (Tone::You, "YOU", format!("texted \"{text}\"")),
            other => (Tone::Event, "EVENT", describe_event(other)),
        };
        self.line(tone, Some(seq), label, &text);
    }

    pub fn ivr(&self, text: &str) {
        self.line(Tone::Ivr, None, "IVR", text);
    }

    pub fn you(&self, text: &str) {
        self.line(Tone::You, None, "YOU", text);
    }

    pub fn sms(&self, sms: &Sms) {
        self.line(
            Tone::Sms,
            None,
            "SMS",
            &format!("from {}: {}", sms.from, sms.body),
        );
    }

    pub fn event(&self, text: &str) {
        self.line(Tone::Event, None, "EVENT", text);
    }

    pub fn info(&self, text: &str) {
        self.line(Tone::Info, None, "PHONE", text);
    }

    pub fn error(&self, text: &str) {
        self.line(Tone::Error, None, "ERROR", text);
    }

    /// Shows one call event; `true` once the call has ended.
    pub fn call_event(&self, event: &CallEvent) -> bool {
        match event {
            CallEvent::Said(text) => self.ivr(text),
            CallEvent::Played(url) => self.event(&format!("playing {url}")),
            CallEvent::Paused(secs) => self.event(&format!("pause {secs} s")),
            CallEvent::Gathering {
                num_digits,
                timeout,
            } => {
                let keys = match num_digits {
                    Some(1) => "1 key".to_owned(),
                    Some(n) => format!("{n} keys"),
                    None => "keys".to_owned(),
                };
                self.info(&format!(
                    "keypad open: {keys}, {timeout} s — type and press Enter"
                ));
            }
            CallEvent::DigitsSent(d) if d.is_empty() => self.event("no keys pressed"),
            CallEvent::DigitsSent(d) => self.you(&format!("pressed {d}")),
            CallEvent::Spoke(words) => self.you(&format!("said \"{words}\"")),
            CallEvent::LiveUpdate { .. } => self.event("the IVR moves on at once"),
            CallEvent::Transferred(to) => self.info(&format!("transferred to {to}")),
            CallEvent::Enqueued(queue) => self.info(&format!("placed in queue {queue}")),
            CallEvent::Error(message) => self.error(message),
            CallEvent::Webhook { .. } => {}
            CallEvent::Ended(reason) => {
                self.info(&format!("call ended ({})", describe(reason)));
                return true;
            }
        }
        false
    }
}

fn describe(reason: &EndReason) -> String {
    match reason {
        EndReason::ServerHangup => "the IVR hung up".into(),
        EndReason::CallerHangup => "you hung up".into(),
        EndReason::Rejected => "rejected".into(),
        EndReason::Transferred => "transferred".into(),
        EndReason::LiveUpdateCompleted => "ended by the server".into(),
        EndReason::Error(e) => format!("application error: {e}"),
    }
}

/// Runs a call from the keyboard until it ends. `timeline` carries the session's events when
/// the phone can see them (the demo); Ctrl-C hangs up cleanly.
pub async fn interactive(
    phone: &Phone,
    mut call: Call,
    from: &str,
    screen: &Screen,
    mut timeline: Option<mpsc::Receiver<String>>,
) -> anyhow::Result<()> {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut hanging_up = false;
    loop {
        tokio::select! {
            event = call.next_event(Duration::from_secs(3600)) => match event {
                Some(event) => if screen.call_event(&event) { return Ok(()) },
                None => return Ok(()),
            },
            sms = phone.next_sms(from, Duration::from_secs(3600)) => {
                if let Some(sms) = sms { screen.sms(&sms) }
            }
            line = stdin.next_line(), if stdin_open => match line {
                Ok(Some(line)) => hanging_up |= keys(&call, screen, line.trim()).await,
                _ => stdin_open = false,
            },
            Some(event) = async { match timeline.as_mut() { Some(rx) => rx.recv().await, None => None } } => screen.event(&event),
            _ = tokio::signal::ctrl_c(), if !hanging_up => {
                hanging_up = true;
                screen.info("hanging up");
                call.hang_up().await;
            }
        }
    }
}

/// Handles one typed line; `true` when it hung up.
async fn keys(call: &Call, screen: &Screen, line: &str) -> bool {
    match line {
        "" => false,
        "h" | "hangup" | "q" => {
            screen.info("hanging up");
            call.hang_up().await;
            true
        }
        keys if keys
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#') =>
        {
            call.press(keys);
            false
        }
        _ => {
            screen.error("type keypad keys (0-9 * #) and Enter, or h to hang up");
            false
        }
    }
}

/// What the session saw, in a few words.
pub fn describe_event(event: &tandem::session::EventKind) -> String {
    use tandem::session::EventKind as E;
    match event {
        E::Said { text } => format!("said \"{text}\""),
        E::Digits { digits } => format!("pressed {digits}"),
        E::SpeechHeard { text } => format!("heard \"{text}\""),
        E::SessionOpened => "session opened".into(),
        E::CallStarted => "call joined the session".into(),
        E::Verified => "caller verified".into(),
        E::VerifyFailed { tries } => format!("verification failed (try {tries})"),
        E::LinkSent => "page link texted".into(),
        E::PageOpened => "page opened in a browser".into(),
        E::Decided { decision, by } => {
            format!("{} on {}", decision.past_tense(), channel_name(*by))
        }
        E::AgentRequested { by } => format!("a person was asked for, on {}", channel_name(*by)),
        E::CaseOpened { note, .. } => format!("case opened: {note}"),
        E::AgentJoined { name } => format!("{name} joined"),
        E::SmsSent { text } => format!("text sent: {text}"),
        E::SmsReceived { text } => format!("text received: {text}"),
        E::Transferred => "transferred to a representative".into(),
        E::CallEnded { status } => format!(
            "call ended ({})",
            serde_json::json!(status).as_str().unwrap_or("?")
        ),
        E::SessionClosed { reason } => format!("session closed ({reason})"),
        E::ScreenShown { screen } => format!("page shows {screen}"),
        E::DeskAction { agent, action, .. } => format!("{agent} at the desk: {action}"),
        E::PageAction { name, .. } => format!("tapped {name} on the page"),
        E::PageSubmit {
            form, values, by, ..
        } => {
            let values: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "{form} answered on {}: {}",
                channel_name(*by),
                values.join(", ")
            )
        }
    }
}

fn channel_name(channel: tandem::session::Channel) -> &'static str {
    use tandem::session::Channel as C;
    match channel {
        C::Web => "the page",
        C::Voice => "the call",
        C::Sms => "a text",
        C::Api => "the bank's API",
        C::Desk => "the desk",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the demo test: the default splitter broke a link at a hyphen in its token.
    #[test]
    fn a_link_is_never_cut_even_at_a_hyphen_in_its_token() {
        let link = "http://127.0.0.1:40123/s/Qm9-vZk2_xN-8pLr-aT0eW4-hYc1";
        let text = format!(
            "from +18005550100: Your card: review the held charges at {link} (this phone only)"
        );
        for width in 40..=140 {
            let wrapped = wrap("[00:01]      SMS    ", &text, width);
            assert!(
                wrapped.split_whitespace().any(|w| w == link),
                "width {width}: {wrapped}"
            );
        }
    }
}

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
    /// Lines for `espeak-ng` to read aloud, one after another, when it is installed and wanted.
    voice: Option<std::sync::mpsc::Sender<String>>,
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

impl Screen {
    pub fn new(speak: bool) -> Self {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let voice = (speak && which("espeak-ng")).then(speaker);
        Self {
            started: Instant::now(),
            color,
            voice,
        }
    }

    fn line(&self, tone: Tone, label: &str, text: &str) {
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
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{start}[{:02}:{:02}] {label:<6} {text}{end}",
            secs / 60,
            secs % 60
        );
        let _ = out.flush();
    }

    pub fn ivr(&self, text: &str) {
        self.line(Tone::Ivr, "IVR", text);
        if let Some(voice) = &self.voice {
            let _ = voice.send(text.to_owned());
        }
    }

    pub fn you(&self, text: &str) {
        self.line(Tone::You, "YOU", text);
    }

    pub fn sms(&self, sms: &Sms) {
        self.line(
            Tone::Sms,
            "SMS",
            &format!("from {}: {}", sms.from, sms.body),
        );
    }

    pub fn event(&self, text: &str) {
        self.line(Tone::Event, "EVENT", text);
    }

    pub fn info(&self, text: &str) {
        self.line(Tone::Info, "PHONE", text);
    }

    pub fn error(&self, text: &str) {
        self.line(Tone::Error, "ERROR", text);
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
            CallEvent::LiveUpdate { .. } => {
                self.event("live update from the server interrupts the call")
            }
            CallEvent::Transferred(to) => self.info(&format!("transferred to {to}")),
            CallEvent::Enqueued(queue) => self.info(&format!("placed in queue {queue}")),
            CallEvent::Error(message) => self.error(message),
            CallEvent::Webhook { .. } => {}
            CallEvent::Ended(reason) => {
                let secs = self.started.elapsed().as_secs();
                self.info(&format!(
                    "call ended after {}:{:02} ({})",
                    secs / 60,
                    secs % 60,
                    describe(reason)
                ));
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

/// A thread that speaks lines in order, so prompts never talk over each other.
fn speaker() -> std::sync::mpsc::Sender<String> {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in rx {
            let _ = std::process::Command::new("espeak-ng")
                .arg(line)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    });
    tx
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
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

//! How long the phone takes to say what the IVR says. On a real call speech takes time, and a
//! `<Gather>`'s timeout starts only when its nested speech has ended; tests want none of it.

use std::time::Duration;

/// Words a minute of a typical text-to-speech voice (espeak-ng's default is 175).
const WORDS_PER_MINUTE: f64 = 160.0;
/// The breath between sentences.
const SENTENCE_PAUSE: Duration = Duration::from_millis(300);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Voice {
    /// Speech takes no time: tests and the benchmark.
    #[default]
    Instant,
    /// Speech takes about as long as a voice would take to say it, silently.
    Paced,
    /// Spoken aloud by `espeak-ng`, and the call waits for it to finish.
    Espeak,
}

impl Voice {
    /// `Espeak` when it is wanted and installed, else `Paced`.
    pub fn aloud_if_possible(wanted: bool) -> Self {
        match wanted && installed("espeak-ng") {
            true => Voice::Espeak,
            false => Voice::Paced,
        }
    }

    /// Says `text`; returns when it has been said. Dropping the future stops the speech, as a
    /// key pressed during a `<Gather>`'s prompt does. Silent speech keeps the phone's clock
    /// (`scale`, as its timeouts do); spoken speech takes what it takes.
    pub async fn say(self, text: &str, scale: f64) {
        match self {
            Voice::Instant => {}
            Voice::Paced => tokio::time::sleep(estimate(text).mul_f64(scale)).await,
            Voice::Espeak => {
                let spoken = tokio::process::Command::new("espeak-ng")
                    .arg(text)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .status()
                    .await;
                // Could not play it after all: take the time it would have taken.
                if !spoken.is_ok_and(|s| s.success()) {
                    tokio::time::sleep(estimate(text)).await;
                }
            }
        }
    }
}

/// About how long a voice takes to say `text`.
pub fn estimate(text: &str) -> Duration {
    let words = text.split_whitespace().count() as f64;
    let sentences = text
        .split_terminator(['.', '?', '!'])
        .filter(|s| !s.trim().is_empty())
        .count() as u32;
    Duration::from_secs_f64(words * 60.0 / WORDS_PER_MINUTE) + SENTENCE_PAUSE * sentences
}

fn installed(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_takes_the_time_a_voice_would_need() {
        let prompt = "Tap approve or decline on the page, or press 1 or say approve to approve \
                      the charges, or press 2 or say decline to decline them.";
        // 26 words at 160 a minute (9.75 s), and one sentence's pause.
        assert_eq!(estimate(prompt), Duration::from_millis(10_050));
        assert_eq!(estimate(""), Duration::ZERO);
    }
}

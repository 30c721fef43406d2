//! A gather's answer: keys, spoken words or silence, matched against what the state expects,
//! with retries; and the call's gather built from a state.

use crate::session::{Channel, EventKind, Position, Session};

use super::{
    engine::{Builder, Effect, Next, Step, gather, is_word},
    model::{Choice, Gather, Script, Trigger},
    speech,
};

impl Builder {
    pub(super) fn keys(
        mut self,
        script: &Script,
        s: &Session,
        at: &Position,
        g: &Gather,
        keys: &str,
    ) -> Step {
        if keys.is_empty() {
            return self.silence(script, s, at, g);
        }
        let shown = if g.secret {
            "•".repeat(keys.chars().count())
        } else {
            keys.to_owned()
        };
        self.log.push(EventKind::Digits { digits: shown });
        if let Some(target) = script
            .anywhere
            .keys
            .get(keys)
            .filter(|_| !g.choice.uses(keys))
        {
            return self.enter(script, s, target);
        }
        match &g.choice {
            Choice::Expect { path, on_match } => {
                if speech::lookup(path, s).as_deref() == Some(keys) {
                    self.log.push(EventKind::Verified);
                    self.enter(script, s, on_match)
                } else {
                    self.log.push(EventKind::VerifyFailed {
                        tries: at.tries + 1,
                    });
                    self.retry(script, s, at, g)
                }
            }
            Choice::Options(_) | Choice::Decide(_) | Choice::Fill { .. } => {
                match self.choose(script, s, at, g, keys) {
                    Ok(step) => step,
                    Err(me) => me.retry(script, s, at, g),
                }
            }
        }
    }

    /// The gather's own answer for `answer` (keys or a word), if it has one.
    fn choose(
        mut self,
        script: &Script,
        s: &Session,
        at: &Position,
        g: &Gather,
        answer: &str,
    ) -> Result<Step, Self> {
        match &g.choice {
            Choice::Options(map) => match map.get(answer) {
                Some(target) => Ok(self.enter(script, s, target)),
                None => Err(self),
            },
            Choice::Decide(map) => match map.get(answer) {
                Some(d) => Ok(self.finish(&at.state, at.tries, Next::Effect(Effect::Decide(*d)))),
                None => Err(self),
            },
            Choice::Fill {
                form,
                field,
                values,
            } => {
                let Some(value) = values.get(answer) else {
                    return Err(self);
                };
                // A key for an option this customer's data does not offer is no answer.
                let offered = script
                    .form(form)
                    .and_then(|f| f.field(field))
                    .map(|f| super::fields::options(script, f, s, script.locale_for(s)))
                    .is_some_and(|options| options.iter().any(|(v, _)| v == value));
                if !offered {
                    return Err(self);
                }
                let trigger = Trigger::PageSubmit(form.clone());
                let state = script.states.get(&at.state);
                let Some(target) = state
                    .and_then(|st| st.on.get(&trigger))
                    .or_else(|| script.anywhere.on.get(&trigger))
                else {
                    return Err(self);
                };
                // First answer wins: a form the page already sent is not answered again.
                if s.answers.contains_key(form) {
                    return Ok(self.enter(script, s, target));
                }
                let values: std::collections::BTreeMap<String, String> =
                    [(field.clone(), value.clone())].into();
                self.log.push(EventKind::PageSubmit {
                    screen: s.screen.as_ref().map(|at| at.seq).unwrap_or(0),
                    form: form.clone(),
                    values: values.clone(),
                    by: Channel::Voice,
                });
                // What follows speaks of the answer, so it reads a session that has it.
                let mut answered = s.clone();
                answered.answers.insert(form.clone(), values);
                Ok(self.enter(script, &answered, target))
            }
            Choice::Expect { .. } => Err(self),
        }
    }

    /// Spoken input: spoken digits count as keys, then the gather's own words, then an
    /// `anywhere` word; anything else counts as a try.
    pub(super) fn words(
        mut self,
        script: &Script,
        s: &Session,
        at: &Position,
        g: &Gather,
        words: &str,
    ) -> Step {
        let heard = words.to_lowercase();
        let spoken: Vec<&str> = heard
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        // "4 2 4 2" or "4242": recognisers return numbers as digits.
        let digits: String = spoken.concat();
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            return self.keys(script, s, at, g, &digits);
        }
        if !g.secret {
            self.log.push(EventKind::SpeechHeard {
                text: words.chars().take(200).collect(),
            });
        }
        // A gather's word may be a phrase ("hear them"): look for it word by word.
        let says = |phrase: &str| {
            let phrase: Vec<&str> = phrase.split(' ').filter(|w| !w.is_empty()).collect();
            !phrase.is_empty() && spoken.windows(phrase.len()).any(|w| w == phrase.as_slice())
        };
        let own = match &g.choice {
            Choice::Options(map) => map.keys().find(|k| is_word(k) && says(k)),
            Choice::Decide(map) => map.keys().find(|k| is_word(k) && says(k)),
            Choice::Fill { values, .. } => values.keys().find(|k| is_word(k) && says(k)),
            Choice::Expect { .. } => None,
        };
        let me = match own {
            Some(word) => match self.choose(script, s, at, g, &word.clone()) {
                Ok(step) => return step,
                Err(me) => me,
            },
            None => self,
        };
        let target = script.anywhere.words.iter().find(|(word, _)| says(word));
        match target {
            Some((_, target)) => me.enter(script, s, target),
            None => me.retry(script, s, at, g),
        }
    }

    /// Nothing pressed: the no-input words, or the no-input path after the last try.
    fn silence(self, script: &Script, s: &Session, at: &Position, g: &Gather) -> Step {
        if at.tries + 1 >= g.retries {
            return self.enter(script, s, g.on_no_input.as_deref().unwrap_or(&g.on_fail));
        }
        match &g.no_input {
            Some(words) => {
                let then = gather(script, g, script.words(words, s));
                self.finish(
                    &at.state,
                    at.tries + 1,
                    Next::Reply {
                        then,
                        wait_secs: None,
                    },
                )
            }
            None => self.retry(script, s, at, g),
        }
    }

    /// Asks again, or gives up after the gather's last try.
    fn retry(self, script: &Script, s: &Session, at: &Position, g: &Gather) -> Step {
        let tries = at.tries + 1;
        if tries >= g.retries {
            return self.enter(script, s, &g.on_fail);
        }
        let then = gather(
            script,
            g,
            script.words(g.reprompt.as_ref().unwrap_or(&g.prompt), s),
        );
        self.finish(
            &at.state,
            tries,
            Next::Reply {
                then,
                wait_secs: None,
            },
        )
    }
}

//! Reading TwiML the way Twilio does: a `<Response>` of verbs, or an error in Twilio's words.

use quick_xml::{
    XmlVersion,
    events::{BytesStart, Event},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verb {
    Say {
        text: String,
        loops: u32,
    },
    Play {
        url: String,
        loops: u32,
    },
    Pause {
        length: u32,
    },
    Gather(Gather),
    Redirect {
        url: String,
        method: String,
    },
    Hangup,
    Reject {
        reason: String,
    },
    Dial {
        number: String,
    },
    Enqueue {
        name: String,
    },
    /// Vonage's `notify`: posts `payload` to `url`; an NCCO in the answer replaces the
    /// current one, an empty answer lets it go on.
    Notify {
        url: String,
        method: String,
        payload: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gather {
    pub num_digits: Option<u32>,
    pub timeout: u32,
    pub finish_on_key: String,
    pub action: Option<String>,
    pub method: String,
    pub action_on_empty_result: bool,
    pub input: String,
    /// Say, Play and Pause only.
    pub children: Vec<Verb>,
}

/// Twilio reports these in its debugger; the call then ends with "an application error".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TwimlError {
    #[error("Error 12100: Document parse failure ({0})")]
    Parse(String),
    #[error("Error 12200: Schema validation warning ({0})")]
    Schema(String),
    /// Vonage's words, which it sends to the event URL before ending the call.
    #[error("Syntax error in NCCO ({0})")]
    Ncco(String),
}

/// An element with its attributes and children, before it becomes a verb.
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

enum Node {
    Element(Element),
    Text(String),
}

/// The document's `<Response>`, or Twilio's complaint about its root.
fn response(doc: &str) -> Result<Element, TwimlError> {
    let root = tree(doc)?;
    if root.name != "Response" {
        return Err(TwimlError::Schema(format!(
            "root element must be <Response>, not <{}>",
            root.name
        )));
    }
    Ok(root)
}

pub fn parse(doc: &str) -> Result<Vec<Verb>, TwimlError> {
    response(doc)?
        .children
        .iter()
        .filter_map(element)
        .map(|e| verb(e, false))
        .collect()
}

/// Plivo XML, read into the same verbs: `Speak`, `Play`, `Wait`, `GetInput` (which has no
/// `actionOnEmptyResult`: no input runs on to the next element), `Redirect`, `Dial`,
/// `Conference` (a queue) and `Hangup`.
pub fn parse_plivo(doc: &str) -> Result<Vec<Verb>, TwimlError> {
    response(doc)?
        .children
        .iter()
        .filter_map(element)
        .map(|e| plivo_verb(e, false))
        .collect()
}

fn plivo_verb(e: &Element, nested: bool) -> Result<Verb, TwimlError> {
    if nested {
        e.nestable_in("GetInput", ["Speak", "Play", "Wait"])?;
    }
    Ok(match e.name.as_str() {
        "Speak" => e.speech()?,
        "Play" => e.play()?,
        "Wait" => e.pause()?,
        "GetInput" => {
            let children = e
                .children
                .iter()
                .filter_map(element)
                .map(|c| plivo_verb(c, true))
                .collect::<Result<_, _>>()?;
            let input = e
                .attr("inputType")
                .ok_or_else(|| TwimlError::Schema("<GetInput> needs an inputType".into()))?;
            // "auto" waits as long as a caller usually pauses between keys.
            let timeout = match e.attr("digitEndTimeout") {
                None | Some("auto") => 5,
                Some(_) => e.number("digitEndTimeout", 5)?,
            };
            Verb::Gather(Gather {
                num_digits: Some(e.number("numDigits", 99)?).filter(|n| *n > 0),
                timeout,
                finish_on_key: e.attr("finishOnKey").unwrap_or("#").to_owned(),
                action: e.attr("action").map(str::to_owned),
                method: e.method()?,
                action_on_empty_result: false,
                input: input.to_owned(),
                children,
            })
        }
        "Redirect" => e.redirect()?,
        "Dial" => {
            let number = e
                .children
                .iter()
                .filter_map(element)
                .find(|c| c.name == "Number")
                .map(Element::text)
                .unwrap_or_default();
            if number.is_empty() {
                return Err(TwimlError::Schema("<Dial> needs a <Number>".into()));
            }
            Verb::Dial { number }
        }
        "Conference" => Verb::Enqueue { name: e.text() },
        "Hangup" => Verb::Hangup,
        other => return Err(TwimlError::Schema(format!("unknown element <{other}>"))),
    })
}

/// The texts of a messaging response: `<Response>` holding `<Message>`s, or nothing.
pub fn parse_messages(doc: &str) -> Result<Vec<String>, TwimlError> {
    response(doc)?
        .children
        .iter()
        .filter_map(element)
        .map(|e| match e.name.as_str() {
            "Message" => {
                e.no_children()?;
                Ok(e.text())
            }
            other => Err(TwimlError::Schema(format!(
                "<{other}> is not a messaging verb"
            ))),
        })
        .collect()
}

fn element(node: &Node) -> Option<&Element> {
    match node {
        Node::Element(e) => Some(e),
        Node::Text(_) => None,
    }
}

fn tree(doc: &str) -> Result<Element, TwimlError> {
    let mut reader = quick_xml::Reader::from_str(doc);
    reader.config_mut().expand_empty_elements = true;
    let bad = |e: &dyn std::fmt::Display| TwimlError::Parse(e.to_string());
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event().map_err(|e| bad(&e))? {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(TwimlError::Parse("content after the root element".into()));
                }
                stack.push(open(&start)?);
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| TwimlError::Parse("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(done)),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => push_text(&mut stack, &t.xml_content(XmlVersion::Implicit1_0))?,
            Event::CData(t) => push_text(&mut stack, &t.into_inner())?,
            Event::GeneralRef(r) => {
                let name = r.xml_content(XmlVersion::Implicit1_0);
                let text = match r.resolve_char_ref().map_err(|e| bad(&e))? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| TwimlError::Parse(format!("unknown entity &{name};")))?
                        .to_owned(),
                };
                push_text(&mut stack, &text)?;
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Empty(_) => unreachable!("empty elements are expanded"),
        }
    }
    if !stack.is_empty() {
        return Err(TwimlError::Parse("unclosed element".into()));
    }
    root.ok_or_else(|| TwimlError::Parse("empty document".into()))
}

fn open(start: &BytesStart) -> Result<Element, TwimlError> {
    let name = String::from(start.name().as_ref());
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| TwimlError::Parse(e.to_string()))?;
        let key = String::from(attr.key.as_ref());
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| TwimlError::Parse(e.to_string()))?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
    })
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), TwimlError> {
    match stack.last_mut() {
        Some(parent) => {
            match parent.children.last_mut() {
                Some(Node::Text(existing)) => existing.push_str(text),
                _ => parent.children.push(Node::Text(text.to_owned())),
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(TwimlError::Parse("text outside the root element".into())),
    }
}

impl Element {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for child in &self.children {
            if let Node::Text(t) = child {
                out.push_str(t);
            }
        }
        out.trim().to_owned()
    }

    fn number(&self, key: &str, default: u32) -> Result<u32, TwimlError> {
        match self.attr(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                TwimlError::Schema(format!("<{}> {key}=\"{v}\" is not a number", self.name))
            }),
        }
    }

    fn method(&self) -> Result<String, TwimlError> {
        match self
            .attr("method")
            .unwrap_or("POST")
            .to_ascii_uppercase()
            .as_str()
        {
            m @ ("GET" | "POST") => Ok(m.to_owned()),
            other => Err(TwimlError::Schema(format!(
                "<{}> method=\"{other}\" must be GET or POST",
                self.name
            ))),
        }
    }

    /// Speech, TwiML's `<Say>` or Plivo's `<Speak>`.
    fn speech(&self) -> Result<Verb, TwimlError> {
        self.no_children()?;
        Ok(Verb::Say {
            text: self.text(),
            loops: self.number("loop", 1)?,
        })
    }

    fn play(&self) -> Result<Verb, TwimlError> {
        Ok(Verb::Play {
            url: self.text(),
            loops: self.number("loop", 1)?,
        })
    }

    /// Silence, TwiML's `<Pause>` or Plivo's `<Wait>`.
    fn pause(&self) -> Result<Verb, TwimlError> {
        Ok(Verb::Pause {
            length: self.number("length", 1)?,
        })
    }

    fn redirect(&self) -> Result<Verb, TwimlError> {
        let url = self.text();
        if url.is_empty() {
            return Err(TwimlError::Schema("<Redirect> needs a URL".into()));
        }
        Ok(Verb::Redirect {
            url,
            method: self.method()?,
        })
    }

    /// Only these elements may sit inside the input element `parent`.
    fn nestable_in(&self, parent: &str, allowed: [&str; 3]) -> Result<(), TwimlError> {
        match allowed.contains(&self.name.as_str()) {
            true => Ok(()),
            false => Err(TwimlError::Schema(format!(
                "<{}> is not allowed inside <{parent}>",
                self.name
            ))),
        }
    }

    fn no_children(&self) -> Result<(), TwimlError> {
        match self.children.iter().any(|c| matches!(c, Node::Element(_))) {
            true => Err(TwimlError::Schema(format!(
                "<{}> cannot contain elements",
                self.name
            ))),
            false => Ok(()),
        }
    }
}

fn verb(e: &Element, nested: bool) -> Result<Verb, TwimlError> {
    if nested {
        e.nestable_in("Gather", ["Say", "Play", "Pause"])?;
    }
    Ok(match e.name.as_str() {
        "Say" => e.speech()?,
        "Play" => e.play()?,
        "Pause" => e.pause()?,
        "Gather" => gather(e)?,
        "Redirect" => e.redirect()?,
        "Hangup" => Verb::Hangup,
        "Reject" => Verb::Reject {
            reason: e.attr("reason").unwrap_or("rejected").to_owned(),
        },
        "Dial" => {
            let nested_number = e
                .children
                .iter()
                .filter_map(element)
                .find(|c| c.name == "Number")
                .map(Element::text);
            let number = nested_number.unwrap_or_else(|| e.text());
            if number.is_empty() {
                return Err(TwimlError::Schema("<Dial> needs a number".into()));
            }
            Verb::Dial { number }
        }
        "Enqueue" => Verb::Enqueue { name: e.text() },
        other => return Err(TwimlError::Schema(format!("unknown verb <{other}>"))),
    })
}

fn gather(e: &Element) -> Result<Verb, TwimlError> {
    let children = e
        .children
        .iter()
        .filter_map(element)
        .map(|c| verb(c, true))
        .collect::<Result<_, _>>()?;
    let num_digits = match e.attr("numDigits") {
        None => None,
        Some(_) => Some(e.number("numDigits", 1)?).filter(|n| *n > 0),
    };
    let action_on_empty_result = match e.attr("actionOnEmptyResult") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(TwimlError::Schema(format!(
                "actionOnEmptyResult=\"{other}\" must be true or false"
            )));
        }
    };
    Ok(Verb::Gather(Gather {
        num_digits,
        timeout: e.number("timeout", 5)?,
        finish_on_key: e.attr("finishOnKey").unwrap_or("#").to_owned(),
        action: e.attr("action").map(str::to_owned),
        method: e.method()?,
        action_on_empty_result,
        input: e.attr("input").unwrap_or("dtmf").to_owned(),
        children,
    }))
}

#[cfg(test)]
mod tests;

//! The providers' dialects. The XML family: Twilio's TwiML, SignalWire's cXML and Telnyx's
//! TeXML share the verbs, the form parameters and the document; Plivo XML has its own verbs
//! and parameter names for the same things (`Speak`, `GetInput`, `CallUUID`). Vonage answers
//! in NCCO, a JSON array of actions, to JSON webhooks, and has routes of its own. They differ
//! in how a webhook is signed, what a call id looks like, what parameters are called and a
//! few verbs' edges, named here.

/// One provider's dialect, by the name it has in paths and configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Twilio,
    SignalWire,
    Telnyx,
    Plivo,
    Vonage,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Twilio => "twilio",
            Dialect::SignalWire => "signalwire",
            Dialect::Telnyx => "telnyx",
            Dialect::Plivo => "plivo",
            Dialect::Vonage => "vonage",
        }
    }

    /// The form parameter that names the call.
    pub fn call_id_param(self) -> &'static str {
        match self {
            Dialect::Plivo => "CallUUID",
            _ => "CallSid",
        }
    }

    /// The form parameters of an inbound text's body and of recognised speech.
    pub fn text_param(self) -> &'static str {
        match self {
            Dialect::Plivo => "Text",
            _ => "Body",
        }
    }

    pub fn speech_param(self) -> &'static str {
        match self {
            Dialect::Plivo => "Speech",
            _ => "SpeechResult",
        }
    }

    /// Whether a silent gather is posted back: `<Gather actionOnEmptyResult="true">`, or
    /// Vonage's `input`, which always posts. TeXML has no such attribute, nor Plivo: silence
    /// runs on to the next verb, so the document says what comes next.
    pub fn posts_empty_gathers(self) -> bool {
        !matches!(self, Dialect::Telnyx | Dialect::Plivo)
    }

    /// Whether `s` has the shape of this provider's call ids: Twilio's `CA` and 32 hex digits,
    /// SignalWire's, Plivo's and Vonage's UUIDs, Telnyx's `v3:` ids (URL-safe base64 after the prefix).
    pub fn is_call_id(self, s: &str) -> bool {
        match self {
            Dialect::Twilio => {
                s.len() == 34
                    && s.starts_with("CA")
                    && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
            }
            Dialect::SignalWire | Dialect::Plivo | Dialect::Vonage => {
                uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
            }
            Dialect::Telnyx => {
                (4..=128).contains(&s.len())
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'))
            }
        }
    }
}

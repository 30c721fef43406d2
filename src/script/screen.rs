//! Screens: what the customer's page shows while the call stands in a state, and what it can
//! send back (named actions, forms, a decision). Written in the script beside the words the
//! call says; drawn by [`super::view`], answers checked by [`super::form`].

use serde::Deserialize;

use super::text::Text;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Screen {
    /// The page's heading and the browser's title.
    pub title: Text,
    pub components: Vec<Component>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Component {
    Heading {
        id: Option<String>,
        text: Text,
    },
    Text {
        id: Option<String>,
        text: Text,
    },
    /// Label–value pairs.
    Details {
        id: Option<String>,
        items: Vec<Detail>,
    },
    /// One card per element of the array at `items`; `{item.…}` is the element.
    List {
        id: Option<String>,
        items: String,
        title: Text,
        value: Option<Text>,
        #[serde(default)]
        fields: Vec<Detail>,
        empty: Text,
    },
    Notice {
        id: Option<String>,
        tone: Tone,
        title: Option<Text>,
        text: Text,
    },
    Image {
        id: Option<String>,
        src: String,
        alt: Option<Text>,
        #[serde(default)]
        decorative: bool,
    },
    /// Raises `page.action.<action>`, or asks for a person (`"request": "agent"`).
    Button {
        id: Option<String>,
        label: Text,
        action: Option<String>,
        request: Option<Request>,
        /// `primary` for the one thing the screen is for; `secondary` (the default) otherwise.
        #[serde(default)]
        style: ButtonStyle,
    },
    /// Approve and decline, first writer wins with the call and texts; once decided (from
    /// any channel) the buttons give way to `approved` or `declined`.
    Decision {
        id: Option<String>,
        approve: Text,
        decline: Text,
        approved: Text,
        declined: Text,
    },
    Form(Form),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detail {
    pub label: Text,
    pub value: Text,
}

#[derive(Clone, Copy, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Info,
    Warning,
    Success,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ButtonStyle {
    Primary,
    #[default]
    Secondary,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    Agent,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    /// Unique in the script: `page.submit.<id>` is what a state waits on.
    pub id: String,
    pub fields: Vec<Field>,
    pub submit: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    pub label: Text,
    pub hint: Option<Text>,
    #[serde(default = "yes")]
    pub required: bool,
    /// Masked in the log, history and the agent's view (last digits of an SSN).
    #[serde(default)]
    pub secret: bool,
    /// text: lengths in characters and a regular expression the whole value must match.
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    pub pattern: Option<String>,
    /// digits: exactly this many.
    pub length: Option<u32>,
    /// amount: decimals or `{paths}`; date: `today`, `today+N` (days) or `YYYY-MM-DD`.
    pub min: Option<String>,
    pub max: Option<String>,
    /// amount: ISO 4217 code (default USD).
    pub currency: Option<String>,
    /// choice: fixed options, or one per element of an array in the data.
    pub options: Option<Vec<Choice>>,
    pub options_from: Option<OptionsFrom>,
    /// text: a multi-line box.
    #[serde(default)]
    pub multiline: bool,
    /// The browser's autofill hint (`postal-code`, `street-address`, …).
    pub autocomplete: Option<String>,
    /// digits or text compared with session data (`customer.verify.ssn_last4`): the answer is
    /// recorded as verified or not, never kept.
    pub expect: Option<String>,
    /// Plain words for an empty field and for a broken rule.
    pub errors: Option<Errors>,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Digits,
    Date,
    Choice,
    Amount,
    Consent,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub value: String,
    pub label: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsFrom {
    /// A data path to an array.
    pub items: String,
    /// `{item.id}`
    pub value: String,
    /// `{item.name} — {item.monthly|money}`
    pub label: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Errors {
    pub missing: Option<Text>,
    pub invalid: Option<Text>,
}

/// Longest value any field takes, whatever its own limit: beyond it, a submission is refused whole.
pub const MAX_VALUE: usize = 1000;
/// A text field's limit when it sets none.
pub const DEFAULT_MAX_LENGTH: u32 = 200;

impl Screen {
    pub fn forms(&self) -> impl Iterator<Item = &Form> {
        self.components.iter().filter_map(|c| match c {
            Component::Form(f) => Some(f),
            _ => None,
        })
    }

    pub fn form(&self, id: &str) -> Option<&Form> {
        self.forms().find(|f| f.id == id)
    }

    /// The named actions its buttons raise.
    pub fn actions(&self) -> impl Iterator<Item = &str> {
        self.components.iter().filter_map(|c| match c {
            Component::Button {
                action: Some(a), ..
            } => Some(a.as_str()),
            _ => None,
        })
    }

    pub fn offers_decision(&self) -> bool {
        self.components
            .iter()
            .any(|c| matches!(c, Component::Decision { .. }))
    }

    pub fn offers_agent(&self) -> bool {
        self.components.iter().any(|c| {
            matches!(
                c,
                Component::Button {
                    request: Some(Request::Agent),
                    ..
                }
            )
        })
    }
}

impl Form {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

impl Component {
    pub fn id(&self) -> Option<&str> {
        match self {
            Component::Heading { id, .. }
            | Component::Text { id, .. }
            | Component::Details { id, .. }
            | Component::List { id, .. }
            | Component::Notice { id, .. }
            | Component::Image { id, .. }
            | Component::Button { id, .. }
            | Component::Decision { id, .. } => id.as_deref(),
            Component::Form(f) => Some(&f.id),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Component::Heading { .. } => "heading",
            Component::Text { .. } => "text",
            Component::Details { .. } => "details",
            Component::List { .. } => "list",
            Component::Notice { .. } => "notice",
            Component::Image { .. } => "image",
            Component::Button { .. } => "button",
            Component::Decision { .. } => "decision",
            Component::Form(_) => "form",
        }
    }
}

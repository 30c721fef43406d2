//! Words a script says or shows, in each of its languages: a plain string in a one-language
//! script, `{"en": …, "es": …}` where it speaks several.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Text {
    One(String),
    Each(BTreeMap<String, String>),
}

impl Text {
    /// The words for `locale`; a text the checker let through has them all.
    pub fn pick(&self, locale: &str) -> &str {
        match self {
            Text::One(s) => s,
            Text::Each(m) => m
                .get(locale)
                .or_else(|| m.values().next())
                .map_or("", String::as_str),
        }
    }

    /// Every wording, for checks that hold in every language.
    pub fn all(&self) -> Vec<&str> {
        match self {
            Text::One(s) => vec![s],
            Text::Each(m) => m.values().map(String::as_str).collect(),
        }
    }

    /// The script's languages this text has no words for, and languages it has that the
    /// script does not declare. A plain string serves a one-language script only.
    pub fn gaps(&self, locales: &[String]) -> Vec<String> {
        match self {
            Text::One(_) if locales.len() > 1 => locales.to_vec(),
            Text::One(_) => Vec::new(),
            Text::Each(m) => {
                let mut out: Vec<String> = locales
                    .iter()
                    .filter(|l| !m.contains_key(*l))
                    .cloned()
                    .collect();
                out.extend(
                    m.keys()
                        .filter(|k| !locales.contains(k))
                        .map(|k| format!("{k} (not among the script's locales)")),
                );
                out
            }
        }
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::One(s.to_owned())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::One(s)
    }
}

/// The script language closest to `wanted` (`es-US` finds `es`), else the script's first.
pub fn choose<'a>(locales: &'a [String], wanted: Option<&str>) -> &'a str {
    let first = locales.first().map_or("en", String::as_str);
    let Some(wanted) = wanted else { return first };
    let primary = wanted.split('-').next().unwrap_or(wanted);
    locales
        .iter()
        .find(|l| l.as_str() == wanted)
        .or_else(|| locales.iter().find(|l| l.as_str() == primary))
        .map_or(first, String::as_str)
}

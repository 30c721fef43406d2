//! What the bank asks tandem to take up with a customer: who they are and the journey's data,
//! validated where it enters. A held card with its suspected charges is one journey's data.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A journey as stored: the customer tandem must recognise and verify, and the data the
/// journey's script declared (its words, screens and checks read it by path).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(from = "StoredCase")]
pub struct Case {
    #[serde(default)]
    pub kind: AlertKind,
    /// The script the bank named; else the one serving `kind` is chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    pub customer: Customer,
    #[serde(default)]
    pub data: Map<String, Value>,
}

/// A case as any node may have stored it: alerts and sessions written before journeys had
/// `data` hold the card and charges beside the customer. Read either way, so a rolling
/// upgrade loses no session in flight.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredCase {
    #[serde(default)]
    kind: AlertKind,
    #[serde(default)]
    script: Option<String>,
    customer: Customer,
    #[serde(default)]
    data: Map<String, Value>,
    card: Option<Value>,
    charges: Option<Value>,
}

impl From<StoredCase> for Case {
    fn from(c: StoredCase) -> Self {
        let mut data = c.data;
        for (name, value) in [("card", c.card), ("charges", c.charges)] {
            if let Some(value) = value {
                data.entry(name).or_insert(value);
            }
        }
        Case {
            kind: c.kind,
            script: c.script,
            customer: c.customer,
            data,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub phone: String,
    /// Credentials the caller must repeat (`card_last4`, `ssn_last4`, …); never shown on the
    /// page, to an agent or in the log.
    #[serde(default)]
    pub verify: BTreeMap<String, String>,
    /// The customer's language (`en`, `es`, `es-US`); the script's first when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// The held-card alert as the bank posts it to `/api/v1/alerts`. Unknown fields are refused so
/// a typo never passes silently. Becomes a [`Case`] whose data is `{card, charges}`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CardAlert {
    /// A held card reviewed on a call (default) or one purchase confirmed by text.
    #[serde(default)]
    pub kind: AlertKind,
    pub customer: Customer,
    pub card: Card,
    pub charges: Vec<Charge>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Card {
    pub brand: String,
    pub last4: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Charge {
    pub id: String,
    pub merchant: String,
    /// A decimal string ("212.40") so no float ever rounds money.
    pub amount: String,
    pub currency: String,
    pub at: DateTime<Utc>,
    pub location: String,
    pub card_present: bool,
}

/// What kind of journey an alert starts (`card_hold`, `confirm_purchase`, `address_change`):
/// any name a script declares in `serves`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(try_from = "String", into = "String")]
pub struct AlertKind(String);

impl Default for AlertKind {
    fn default() -> Self {
        Self::CARD_HOLD.into()
    }
}

impl AlertKind {
    pub const CARD_HOLD: &str = "card_hold";
    pub const CONFIRM_PURCHASE: &str = "confirm_purchase";

    /// The kind as the API and script files spell it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for AlertKind {
    /// For names known to be well formed (constants, tests); input goes through `try_from`.
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl TryFrom<String> for AlertKind {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let ok = (1..=40).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        match ok {
            true => Ok(Self(s)),
            false => Err(format!(
                "`{s}` is not a kind: use 1 to 40 lower-case letters, digits and _"
            )),
        }
    }
}

impl From<AlertKind> for String {
    fn from(k: AlertKind) -> Self {
        k.0
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<super::Decision> for AlertStatus {
    /// The alert's outcome for a decision on it.
    fn from(decision: super::Decision) -> Self {
        match decision {
            super::Decision::Approve => AlertStatus::Approved,
            super::Decision::Decline => AlertStatus::Declined,
        }
    }
}

/// A stored alert: the case plus its lifecycle.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Alert {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub status: AlertStatus,
    pub case: Case,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Approved,
    Declined,
    /// A newer alert for the same phone replaced it before the customer answered.
    Superseded,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{field}: {problem}")]
pub struct InvalidCase {
    pub field: String,
    pub problem: String,
}

const MAX_CHARGES: usize = 20;
const MAX_VERIFY: usize = 8;

impl Customer {
    /// Checks every field's shape and size; the first problem is reported by its JSON path.
    pub fn validate(&self) -> Result<(), InvalidCase> {
        text("customer.id", &self.id, 64)?;
        if !self
            .id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.:".contains(ch))
        {
            return invalid("customer.id", "may hold only letters, digits and - _ . :");
        }
        text("customer.name", &self.name, 100)?;
        if !is_e164(&self.phone) {
            return invalid(
                "customer.phone",
                "must be an E.164 number such as +14155550100",
            );
        }
        if self.verify.len() > MAX_VERIFY {
            return invalid("customer.verify", "may hold at most 8 credentials");
        }
        for (key, value) in &self.verify {
            let field = format!("customer.verify.{key}");
            let named = (1..=32).contains(&key.len())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !named {
                return invalid(
                    &field,
                    "names a credential with lower-case letters, digits and _",
                );
            }
            text(&field, value, 64)?;
        }
        if let Some(locale) = &self.locale {
            let ok = is_language_tag(locale);
            if !ok {
                return invalid(
                    "customer.locale",
                    "must be a language tag such as en or es-US",
                );
            }
        }
        Ok(())
    }
}

impl CardAlert {
    /// Checks every field's shape and size; the first problem is reported by its JSON path.
    pub fn validate(&self) -> Result<(), InvalidCase> {
        self.customer.validate()?;
        match self.customer.verify.get("card_last4") {
            Some(last4) => digits("customer.verify.card_last4", last4, 4)?,
            None => return invalid("customer.verify.card_last4", "is missing"),
        }
        text("card.brand", &self.card.brand, 32)?;
        digits("card.last4", &self.card.last4, 4)?;
        if self.charges.is_empty() || self.charges.len() > MAX_CHARGES {
            return invalid("charges", "must hold between 1 and 20 charges");
        }
        for (i, charge) in self.charges.iter().enumerate() {
            charge.validate(i)?;
        }
        Ok(())
    }

    /// The journey this alert starts: its card and charges are the data.
    pub fn into_case(self) -> Case {
        let mut data = Map::new();
        data.insert(
            "card".into(),
            serde_json::to_value(self.card).unwrap_or_default(),
        );
        data.insert(
            "charges".into(),
            serde_json::to_value(self.charges).unwrap_or_default(),
        );
        Case {
            kind: self.kind,
            script: None,
            customer: self.customer,
            data,
        }
    }
}

impl Case {
    pub fn first_name(&self) -> &str {
        self.customer
            .name
            .split_whitespace()
            .next()
            .unwrap_or(&self.customer.name)
    }

    /// The held card, when the journey's data has one.
    pub fn card(&self) -> Option<Card> {
        serde_json::from_value(self.data.get("card")?.clone()).ok()
    }

    /// The suspected charges, when the journey's data has them.
    pub fn charges(&self) -> Vec<Charge> {
        self.data
            .get("charges")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }
}

impl Charge {
    fn validate(&self, i: usize) -> Result<(), InvalidCase> {
        let at = |f: &str| format!("charges[{i}].{f}");
        text(&at("id"), &self.id, 64)?;
        text(&at("merchant"), &self.merchant, 100)?;
        text(&at("location"), &self.location, 100)?;
        if !is_amount(&self.amount) {
            return invalid(&at("amount"), "must be a decimal amount such as 212.40");
        }
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return invalid(
                &at("currency"),
                "must be a three-letter ISO 4217 code such as USD",
            );
        }
        Ok(())
    }
}

fn invalid(field: &str, problem: &str) -> Result<(), InvalidCase> {
    Err(InvalidCase {
        field: field.to_owned(),
        problem: problem.to_owned(),
    })
}

fn text(field: &str, value: &str, max: usize) -> Result<(), InvalidCase> {
    if value.trim().is_empty() {
        return invalid(field, "must not be empty");
    }
    if value.chars().count() > max {
        return invalid(field, "is too long");
    }
    if value.chars().any(char::is_control) {
        return invalid(field, "must not contain control characters");
    }
    Ok(())
}

fn digits(field: &str, value: &str, len: usize) -> Result<(), InvalidCase> {
    if value.len() != len || !value.bytes().all(|b| b.is_ascii_digit()) {
        return invalid(field, "must be exactly 4 digits");
    }
    Ok(())
}

fn is_amount(s: &str) -> bool {
    let (whole, frac) = s.split_once('.').unwrap_or((s, "00"));
    (1..=9).contains(&whole.len())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 2
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// A customer with two suspected charges, for the demo, the benchmark and tests.
pub fn sample(phone: &str) -> CardAlert {
    let charge =
        |id: &str, merchant: &str, amount: &str, at: &str, location: &str, card_present| Charge {
            id: id.into(),
            merchant: merchant.into(),
            amount: amount.into(),
            currency: "USD".into(),
            at: at.parse().expect("a valid sample timestamp"),
            location: location.into(),
            card_present,
        };
    CardAlert {
        kind: AlertKind::default(),
        customer: Customer {
            id: "c-1001".into(),
            name: "Dana Reyes".into(),
            phone: phone.into(),
            verify: [("card_last4".to_owned(), "4242".to_owned())].into(),
            locale: None,
        },
        card: Card {
            brand: "Amex".into(),
            last4: "4242".into(),
        },
        charges: vec![
            charge(
                "ch_1",
                "Bistro Lumiere",
                "212.40",
                "2026-11-21T19:02:00Z",
                "San Francisco, CA",
                false,
            ),
            charge(
                "ch_2",
                "Skyline Electronics",
                "1299.00",
                "2026-11-21T19:40:00Z",
                "Portland, OR",
                true,
            ),
        ],
    }
}

/// `en` or `es-US`: a language, and a region where one is given.
pub fn is_language_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    match b.len() {
        2 => b.iter().all(u8::is_ascii_lowercase),
        5 => {
            b[..2].iter().all(u8::is_ascii_lowercase)
                && b[2] == b'-'
                && b[3..].iter().all(u8::is_ascii_uppercase)
        }
        _ => false,
    }
}

/// `+` then 7 to 15 digits, not starting with 0.
pub fn is_e164(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_digit())
        && !rest.starts_with('0')
}

#[cfg(test)]
mod tests {

    /// The README's `curl` posts this file: it must stay the alert the demo raises.
    #[test]
    fn the_documented_sample_alert_is_the_demos() {
        let file: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/sample-alert.json")).unwrap();
        assert_eq!(
            file,
            serde_json::to_value(super::sample("+14155550100")).unwrap()
        );
    }
    use super::*;

    fn sample() -> CardAlert {
        serde_json::from_str(
            r#"{"customer":{"id":"c-1001","name":"Dana Reyes","phone":"+14155550100","verify":{"card_last4":"4242"}},"card":{"brand":"Amex","last4":"4242"},"charges":[{"id":"ch_1","merchant":"Bistro Lumiere","amount":"212.40","currency":"USD","at":"2026-11-21T19:02:00Z","location":"San Francisco, CA","card_present":false}]}"#,
        )
        .unwrap()
    }

    /// A session an older node stored (card and charges beside the customer) still reads.
    #[test]
    fn a_case_stored_before_journeys_had_data_reads_as_the_same_journey() {
        let old = r#"{"kind":"card_hold","customer":{"id":"c-1001","name":"Dana Reyes","phone":"+14155550100","verify":{"card_last4":"4242"}},"card":{"brand":"Amex","last4":"4242"},"charges":[{"id":"ch_1","merchant":"Bistro Lumiere","amount":"212.40","currency":"USD","at":"2026-11-21T19:02:00Z","location":"San Francisco, CA","card_present":false}]}"#;
        let read: Case = serde_json::from_str(old).unwrap();
        assert_eq!(read, sample().into_case());
        let again: Case = serde_json::from_str(&serde_json::to_string(&read).unwrap()).unwrap();
        assert_eq!(again, read);
        assert!(serde_json::from_str::<Case>(&old.replace("\"kind\"", "\"kin\"")).is_err());
    }

    #[test]
    fn the_sample_alert_is_valid() {
        assert_eq!(sample().validate(), Ok(()));
        assert_eq!(sample().into_case().first_name(), "Dana");
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut c = sample();
        c.customer.phone = "4155550100".into();
        assert_eq!(c.validate().unwrap_err().field, "customer.phone");
        let mut c = sample();
        c.charges[0].amount = "12.5".into();
        assert_eq!(c.validate().unwrap_err().field, "charges[0].amount");
        let mut c = sample();
        c.customer.name = "x".repeat(101);
        assert_eq!(c.validate().unwrap_err().field, "customer.name");
        let mut c = sample();
        c.card.last4 = "42a2".into();
        assert_eq!(c.validate().unwrap_err().field, "card.last4");
        let mut c = sample();
        c.charges.clear();
        assert_eq!(c.validate().unwrap_err().field, "charges");
    }
}

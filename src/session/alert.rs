//! The bank's alert: a held card with its suspected charges, validated where it enters.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An alert as the bank posts it. Unknown fields are refused so a typo never passes silently.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the bank wants: a held card reviewed on a call (default) or one purchase
    /// confirmed by text.
    #[serde(default)]
    pub kind: AlertKind,
    pub customer: Customer,
    pub card: Card,
    pub charges: Vec<Charge>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub verify: Verify,
}

/// Credentials the caller must repeat; never shown on the page or written to the log.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    pub card_last4: String,
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

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    #[default]
    CardHold,
    /// Ask about the first charge by text: YES approves, NO declines.
    ConfirmPurchase,
}

impl AlertKind {
    /// The kind as the API and script files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::CardHold => "card_hold",
            AlertKind::ConfirmPurchase => "confirm_purchase",
        }
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
    pub problem: &'static str,
}

const MAX_CHARGES: usize = 20;

impl Case {
    /// Checks every field's shape and size; the first problem is reported by its JSON path.
    pub fn validate(&self) -> Result<(), InvalidCase> {
        let c = &self.customer;
        text("customer.id", &c.id, 64)?;
        if !c
            .id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.:".contains(ch))
        {
            return invalid("customer.id", "may hold only letters, digits and - _ . :");
        }
        text("customer.name", &c.name, 100)?;
        if !is_e164(&c.phone) {
            return invalid(
                "customer.phone",
                "must be an E.164 number such as +14155550100",
            );
        }
        digits("customer.verify.card_last4", &c.verify.card_last4, 4)?;
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

    pub fn first_name(&self) -> &str {
        self.customer
            .name
            .split_whitespace()
            .next()
            .unwrap_or(&self.customer.name)
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

fn invalid(field: &str, problem: &'static str) -> Result<(), InvalidCase> {
    Err(InvalidCase {
        field: field.to_owned(),
        problem,
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
pub fn sample(phone: &str) -> Case {
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
    Case {
        kind: AlertKind::CardHold,
        customer: Customer {
            id: "c-1001".into(),
            name: "Dana Reyes".into(),
            phone: phone.into(),
            verify: Verify {
                card_last4: "4242".into(),
            },
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

    fn sample() -> Case {
        serde_json::from_str(
            r#"{"customer":{"id":"c-1001","name":"Dana Reyes","phone":"+14155550100","verify":{"card_last4":"4242"}},"card":{"brand":"Amex","last4":"4242"},"charges":[{"id":"ch_1","merchant":"Bistro Lumiere","amount":"212.40","currency":"USD","at":"2026-11-21T19:02:00Z","location":"San Francisco, CA","card_present":false}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_sample_alert_is_valid() {
        assert_eq!(sample().validate(), Ok(()));
        assert_eq!(sample().first_name(), "Dana");
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

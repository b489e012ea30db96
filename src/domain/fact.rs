//! Facts (what the utility's systems say) and claims (what a draft asserts). The fact-checker
//! matches every claim against a fact or the allowlist.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Money;

/// A typed value from a system of record, with where and when it was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// Dotted key, e.g. `invoice.amount`, `payment.1.date`, `outage.estimated_restoration`.
    pub key: String,
    pub value: FactValue,
    /// The system that said so: `cis.demo`, `oms.demo`, `message` (the customer's own text).
    pub source: String,
    pub fetched_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum FactValue {
    Money(Money),
    Date(NaiveDate),
    /// Local wall-clock time of the utility's area.
    DateTime(NaiveDateTime),
    Count(i64),
    /// A length of time in minutes (an outage's expected duration, a callback window). Only
    /// duration claims ("3 ore", "90 minutes") are checked against it, never plain numbers.
    Minutes(i64),
    /// A measured quantity in thousandths of `unit` (meter readings: kWh, m3, Smc).
    Quantity { milli: i64, unit: String },
    Identifier(String),
    Text(String),
}

/// What kind of checkable statement a draft makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    Money,
    Date,
    Time,
    Quantity,
    Number,
    Percentage,
    Identifier,
    Phone,
    Url,
    Email,
    /// A length of time: `3 ore`, `45 minutes`, `1 h 30`.
    Duration,
    /// A number of instalments: `3 rate`, `12 cuotas`, `6 monthly payments`.
    Count,
    /// A promise no system of record can confirm: waiving a bill, a refund, a discount, "you
    /// will not be disconnected". Only an allowlist entry can allow one.
    Commitment,
}

impl ClaimKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimKind::Money => "money",
            ClaimKind::Date => "date",
            ClaimKind::Time => "time",
            ClaimKind::Quantity => "quantity",
            ClaimKind::Number => "number",
            ClaimKind::Percentage => "percentage",
            ClaimKind::Identifier => "identifier",
            ClaimKind::Phone => "phone",
            ClaimKind::Url => "url",
            ClaimKind::Email => "email",
            ClaimKind::Duration => "duration",
            ClaimKind::Count => "count",
            ClaimKind::Commitment => "commitment",
        }
    }
}

/// One checkable statement found in a draft, normalised so it can be compared with facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub kind: ClaimKind,
    /// The text as it appears in the draft.
    pub text: String,
    /// Byte offset in the draft.
    pub at: usize,
    pub value: ClaimValue,
    /// The fact key or allowlist entry it matched; `None` means unverified.
    pub matched: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum ClaimValue {
    Money(Money),
    Date(NaiveDate),
    /// Minutes after midnight.
    Time(u32),
    Quantity { milli: i64, unit: String },
    Number(i64),
    /// Hundredths of a percent.
    Percentage(i64),
    /// Minutes.
    Duration(i64),
    /// A whole count (of instalments), matched only by count facts.
    Count(i64),
    /// Upper-cased, spaces removed: identifiers, digits-only phone numbers, lower-cased URLs
    /// and e-mail addresses; a commitment's concept (`refund`, `waive`…); and, for a figure
    /// that cannot be read (`31/02/2026`), its text, which no fact matches.
    Token(String),
}

impl Claim {
    pub fn is_verified(&self) -> bool {
        self.matched.is_some()
    }
}

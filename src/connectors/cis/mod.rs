//! The customer information system: who a sender is, their supply points, bills (with line
//! items and a PDF copy), payments, balance, instalment eligibility, care flags and consents.

pub mod demo;
pub mod http;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::ConnectorError;
use crate::domain::{
    AccountId, Commodity, EmailAddress, Language, Money, PhoneNumber, SupplyKind, SupplyPointId,
};

#[async_trait]
pub trait Cis: Send + Sync {
    /// Recorded as the source of every fact this connector provides (`cis.demo`, `cis.http`).
    fn source(&self) -> &'static str;
    /// The customer a registered e-mail, phone, account or supply point belongs to.
    async fn find_customer(&self, key: &CustomerKey) -> Result<Option<Customer>, ConnectorError>;
    /// Bills (newest first), payments (newest first) and balance of an account.
    async fn statement(&self, account: &AccountId) -> Result<Statement, ConnectorError>;
    /// The PDF copy of one of the account's bills; `None` when the CIS has no such bill.
    async fn invoice_pdf(&self, account: &AccountId, invoice: &str) -> Result<Option<Vec<u8>>, ConnectorError>;
    /// Whether the CIS allows a payment plan on the account, and up to how many instalments.
    async fn installment_eligibility(&self, account: &AccountId) -> Result<InstallmentEligibility, ConnectorError>;
}

/// How a customer is looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CustomerKey {
    Email(EmailAddress),
    Phone(PhoneNumber),
    Account(AccountId),
    SupplyPoint(SupplyPointId),
}

impl CustomerKey {
    /// The query parameter of the HTTP contract (`GET /cis/v1/customers?<name>=<value>`).
    pub fn param(&self) -> (&'static str, &str) {
        match self {
            CustomerKey::Email(e) => ("email", e.as_str()),
            CustomerKey::Phone(p) => ("phone", p.as_str()),
            CustomerKey::Account(a) => ("account", a.as_str()),
            CustomerKey::SupplyPoint(s) => ("supply_point", s.as_str()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub account: AccountId,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<EmailAddress>,
    pub phone: Option<PhoneNumber>,
    pub language: Language,
    pub address: PostalAddress,
    pub supply_points: Vec<SupplyPoint>,
    /// Flagged as needing special care (medical equipment, hardship): a person handles money.
    pub vulnerable: bool,
    pub consents: Consents,
}

impl Customer {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostalAddress {
    pub street: String,
    pub postcode: String,
    pub city: String,
    /// ISO 3166 alpha-2.
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupplyPoint {
    pub id: SupplyPointId,
    pub kind: SupplyKind,
    pub commodity: Commodity,
    pub tariff: String,
    pub last_reading: Option<MeterReading>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterReading {
    pub date: NaiveDate,
    /// Thousandths of `unit`.
    pub milli: i64,
    pub unit: String,
}

/// What the customer agreed to be contacted about, per channel and purpose, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Consents {
    pub marketing_email: bool,
    /// May be told about assistance programmes (social tariffs, hardship funds). Without it a
    /// reply only says that help exists and how to ask for it.
    pub assistance_contact: bool,
    pub whatsapp: bool,
    /// When the consents were last changed in the CIS.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub invoices: Vec<Invoice>,
    pub payments: Vec<Payment>,
    /// What the customer owes now (0 when nothing is due).
    pub balance: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Paid,
    Unpaid,
    Overdue,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Unpaid => "unpaid",
            InvoiceStatus::Overdue => "overdue",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub number: String,
    pub supply_point: SupplyPointId,
    pub commodity: Commodity,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub issued: NaiveDate,
    pub due: NaiveDate,
    pub amount: Money,
    pub fixed: Money,
    pub variable: Money,
    pub taxes: Money,
    pub adjustments: Money,
    /// Consumption billed, in thousandths of `consumption_unit`.
    pub consumption_milli: i64,
    pub consumption_unit: String,
    pub status: InvoiceStatus,
    /// The bill's lines; they add up to `amount`.
    #[serde(default)]
    pub lines: Vec<InvoiceLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Fixed,
    Variable,
    Tax,
    Adjustment,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Fixed => "fixed",
            LineKind::Variable => "variable",
            LineKind::Tax => "tax",
            LineKind::Adjustment => "adjustment",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub kind: LineKind,
    /// A code for the line (`standing_charge`, `energy`, `vat`, `previous_period`…), so replies
    /// can name it in the customer's language.
    pub code: String,
    pub amount: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    DirectDebit,
    Card,
    BankTransfer,
    PostalSlip,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::DirectDebit => "direct_debit",
            PaymentMethod::Card => "card",
            PaymentMethod::BankTransfer => "bank_transfer",
            PaymentMethod::PostalSlip => "postal_slip",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub date: NaiveDate,
    pub amount: Money,
    pub method: PaymentMethod,
    pub invoice: String,
}

/// The CIS's view on a payment plan. Our own rules (`[installments]`) apply on top.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallmentEligibility {
    pub eligible: bool,
    /// Why not, when not: `active_plan`, `in_collections`, `nothing_due`, `plan_defaulted`.
    pub reason: Option<String>,
    /// The most instalments the CIS allows on this account.
    pub max_instalments: u32,
}

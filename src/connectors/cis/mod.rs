//! The customer information system: who a sender is, their supply points, bills and payments.

pub mod demo;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::Serialize;

use super::ConnectorError;
use crate::domain::{AccountId, Commodity, EmailAddress, Language, Money, SupplyKind, SupplyPointId};

#[async_trait]
pub trait Cis: Send + Sync {
    /// Recorded as the source of every fact this connector provides (`cis.demo`, `cis.http`).
    fn source(&self) -> &'static str;
    async fn customer_by_email(&self, email: &EmailAddress) -> Result<Option<Customer>, ConnectorError>;
    async fn customer_by_account(&self, account: &AccountId) -> Result<Option<Customer>, ConnectorError>;
    async fn customer_by_supply_point(
        &self,
        id: &SupplyPointId,
    ) -> Result<Option<Customer>, ConnectorError>;
    /// Bills (newest first), payments (newest first) and balance of an account.
    async fn statement(&self, account: &AccountId) -> Result<Statement, ConnectorError>;
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Customer {
    pub account: AccountId,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<EmailAddress>,
    pub phone: Option<String>,
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostalAddress {
    pub street: String,
    pub postcode: String,
    pub city: String,
    /// ISO 3166 alpha-2.
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SupplyPoint {
    pub id: SupplyPointId,
    pub kind: SupplyKind,
    pub commodity: Commodity,
    pub tariff: String,
    pub last_reading: Option<MeterReading>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeterReading {
    pub date: NaiveDate,
    /// Thousandths of `unit`.
    pub milli: i64,
    pub unit: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Consents {
    pub marketing_email: bool,
    pub assistance_contact: bool,
    pub whatsapp: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    pub invoices: Vec<Invoice>,
    pub payments: Vec<Payment>,
    /// What the customer owes now (0 when nothing is due).
    pub balance: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payment {
    pub date: NaiveDate,
    pub amount: Money,
    pub method: PaymentMethod,
    pub invoice: String,
}

//! The outage management system: current and planned outages by postcode, area or supply
//! point, and fault reports opened when a customer reports a loss of supply nobody knows of.

pub mod demo;
pub mod http;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ConnectorError;
use crate::domain::{Commodity, SupplyPointId};

#[async_trait]
pub trait Oms: Send + Sync {
    fn source(&self) -> &'static str;
    /// Current and planned outages affecting the place asked about.
    async fn outages(&self, place: &Place) -> Result<Vec<Outage>, ConnectorError>;
    /// Opens a fault report, or returns the one already opened with the same idempotency key
    /// (a retried message never opens a second report).
    async fn open_fault_report(&self, request: &FaultReportRequest) -> Result<FaultReport, ConnectorError>;
}

/// Where an outage is looked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Place {
    /// A full postcode or Eircode.
    Postcode(String),
    /// An area code as the OMS names it (a postcode, or an Eircode routing key such as `V94`).
    Area(String),
    SupplyPoint(SupplyPointId),
}

impl Place {
    /// The query parameter of the HTTP contract (`GET /oms/v1/outages?<name>=<value>`).
    pub fn param(&self) -> (&'static str, &str) {
        match self {
            Place::Postcode(p) => ("postcode", p.as_str()),
            Place::Area(a) => ("area", a.as_str()),
            Place::SupplyPoint(s) => ("supply_point", s.as_str()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutageCause {
    EquipmentFailure,
    StormDamage,
    ThirdPartyDamage,
    NetworkOverload,
    PlannedMaintenance,
}

impl OutageCause {
    pub fn as_str(self) -> &'static str {
        match self {
            OutageCause::EquipmentFailure => "equipment_failure",
            OutageCause::StormDamage => "storm_damage",
            OutageCause::ThirdPartyDamage => "third_party_damage",
            OutageCause::NetworkOverload => "network_overload",
            OutageCause::PlannedMaintenance => "planned_maintenance",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outage {
    pub id: String,
    /// A postcode, or an Eircode routing key (`V94`) covering every Eircode that starts with it.
    pub area: String,
    pub commodity: Commodity,
    pub cause: OutageCause,
    /// Local time. For planned works, when they start.
    pub starts_at: NaiveDateTime,
    /// Local time; for planned works, when they end.
    pub estimated_restoration: Option<NaiveDateTime>,
    pub customers_affected: u32,
    pub planned: bool,
}

impl Outage {
    /// Whether this outage covers `postcode` (compared without spaces, case-insensitively).
    pub fn covers(&self, postcode: &str) -> bool {
        let wanted = normalise_postcode(postcode);
        let area = normalise_postcode(&self.area);
        !area.is_empty() && (wanted == area || (area.len() == 3 && wanted.starts_with(&area)))
    }
}

pub fn normalise_postcode(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_uppercase).collect()
}

/// A loss of supply reported by a customer. Carries no message text: the OMS needs where and
/// what, not what the customer wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultReportRequest {
    /// Derived from the inbound message, so a retry returns the same report.
    pub idempotency_key: String,
    pub postcode: Option<String>,
    pub supply_point: Option<SupplyPointId>,
    pub commodity: Option<Commodity>,
    /// The customer's account, when the sender is verified.
    pub account: Option<String>,
    /// Where the report comes from (`email`, `whatsapp`).
    pub channel: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultReport {
    /// The reference the customer can quote.
    pub id: String,
    pub opened_at: DateTime<Utc>,
}

//! The outage management system: current and planned outages by area.

pub mod demo;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use serde::Serialize;

use super::ConnectorError;
use crate::domain::Commodity;

#[async_trait]
pub trait Oms: Send + Sync {
    fn source(&self) -> &'static str;
    /// Current and planned outages affecting `postcode` (a full postcode or Eircode).
    async fn outages_for_postcode(&self, postcode: &str) -> Result<Vec<Outage>, ConnectorError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
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

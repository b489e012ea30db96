//! Grounding data from the utility's systems: the CIS (customers, bills, payments) and the
//! OMS (outages). Each is a trait with a built-in demo implementation and an HTTP client for
//! the contract in `openapi/utility-systems.json`.

pub mod cis;
pub mod demo_data;
pub mod outage;
mod pdf;

use std::sync::Arc;

pub use cis::Cis;
pub use outage::Oms;

/// A system of record did not answer usefully. Nothing is guessed: the message goes to a person.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ConnectorError {
    #[error("{system} is unavailable: {detail}")]
    Unavailable { system: &'static str, detail: String },
    #[error("{system} did not answer within {millis} ms")]
    Timeout { system: &'static str, millis: u64 },
}

/// The systems the ground stage reads, shared by every worker task.
#[derive(Clone)]
pub struct Connectors {
    pub cis: Arc<dyn Cis>,
    pub oms: Arc<dyn Oms>,
    /// The same systems without any cache: what is read immediately before a reply is sent.
    pub cis_live: Arc<dyn Cis>,
    pub oms_live: Arc<dyn Oms>,
}

impl Connectors {
    /// The built-in demo CIS and OMS over one generated data set.
    pub fn demo(data: demo_data::SharedDemo) -> Self {
        let cis: Arc<dyn Cis> = Arc::new(cis::demo::DemoCis::new(data.clone()));
        let oms: Arc<dyn Oms> = Arc::new(outage::demo::DemoOms::new(data));
        Self { cis_live: cis.clone(), oms_live: oms.clone(), cis, oms }
    }

    /// Systems with no cache in front of them (the demo never caches).
    pub fn uncached(cis: Arc<dyn Cis>, oms: Arc<dyn Oms>) -> Self {
        Self { cis_live: cis.clone(), oms_live: oms.clone(), cis, oms }
    }

    /// These systems read live, bypassing every cache: for the check before a send.
    pub fn live(&self) -> Self {
        Self::uncached(self.cis_live.clone(), self.oms_live.clone())
    }
}

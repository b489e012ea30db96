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
}

impl Connectors {
    /// The built-in demo CIS and OMS over one generated data set.
    pub fn demo(data: demo_data::SharedDemo) -> Self {
        Self {
            cis: Arc::new(cis::demo::DemoCis::new(data.clone())),
            oms: Arc::new(outage::demo::DemoOms::new(data)),
        }
    }
}

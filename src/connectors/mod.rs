//! Grounding data from the utility's systems: the CIS (customers, bills, payments) and the
//! OMS (outages). Each is a trait with a built-in demo implementation and an HTTP client for
//! the contract in `openapi/utility-systems.json`.

pub mod cis;
pub mod demo_data;
pub mod http;
pub mod outage;
mod pdf;
pub mod serve;

use std::sync::Arc;

pub use cis::Cis;
pub use http::HttpSetupError;
pub use outage::Oms;

use crate::config::{ConnectorKind, ConnectorSettings};

/// A system of record did not answer usefully. Nothing is guessed: the message goes to a person.
/// The texts say what failed and what to check; they never carry a URL or a token.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ConnectorError {
    /// Down, unreachable, or failing (5xx, 429) on every attempt.
    #[error("{system} is unavailable: {detail}")]
    Unavailable { system: &'static str, detail: String },
    /// No answer in time: `millis` is how long we waited in all, over `attempts` attempts.
    #[error("{system} did not answer within {millis} ms ({}); check that it is up and reachable, or raise [connectors.{}] total_timeout_ms", attempts_text(*attempts), settings_section(system))]
    Timeout { system: &'static str, millis: u64, attempts: u32 },
    /// The system refused the request (401, 403, other 4xx, a redirect): retrying cannot help.
    #[error("{system} refused the request with HTTP {status}: {detail}")]
    Rejected { system: &'static str, status: u16, detail: String },
    /// The answer is not what the contract describes.
    #[error("{system} answered with something the contract does not describe: {detail}; check it against openapi/utility-systems.json")]
    Invalid { system: &'static str, detail: String },
}

fn attempts_text(n: u32) -> String {
    match n {
        // The deadline ran out while an identical request was in flight (the cache's single
        // flight): that request's failure is the real one, this call only waited for it.
        0 => "waiting for the same request in flight".into(),
        1 => "1 attempt".into(),
        n => format!("{n} attempts"),
    }
}

/// The settings section of a system named in errors: `cis.http` → `cis_http`.
fn settings_section(system: &str) -> String {
    system.replace('.', "_")
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

    /// The systems the settings choose, each the demo or HTTP. `demo` builds the demo data,
    /// asked at most once and only when a system is the demo, so CIS and OMS share one set.
    pub fn configured(settings: &ConnectorSettings, demo: impl Fn() -> demo_data::SharedDemo) -> Result<Self, HttpSetupError> {
        let shared = std::cell::OnceCell::new();
        let data = || shared.get_or_init(&demo).clone();
        let (cis, cis_live): (Arc<dyn Cis>, Arc<dyn Cis>) = match settings.cis {
            ConnectorKind::Demo => {
                let demo = Arc::new(cis::demo::DemoCis::new(data()));
                (demo.clone(), demo)
            }
            ConnectorKind::Http => {
                let twins = cis::http::HttpCis::twins(&settings.cis_http)?;
                (Arc::new(twins.cached), Arc::new(twins.live))
            }
        };
        let (oms, oms_live): (Arc<dyn Oms>, Arc<dyn Oms>) = match settings.oms {
            ConnectorKind::Demo => {
                let demo = Arc::new(outage::demo::DemoOms::new(data()));
                (demo.clone(), demo)
            }
            ConnectorKind::Http => {
                let twins = outage::http::HttpOms::twins(&settings.oms_http)?;
                (Arc::new(twins.cached), Arc::new(twins.live))
            }
        };
        Ok(Self { cis, oms, cis_live, oms_live })
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

//! The utility's OMS over HTTP (`oms.http`): the `/oms/v1` part of
//! `openapi/utility-systems.json`, through the shared plumbing in `connectors::http`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{FaultReport, FaultReportRequest, Oms, Outage, Place};
use crate::config::HttpConnectorSettings;
use crate::connectors::ConnectorError;
use crate::connectors::http::{Call, HttpSetupError, HttpSystem, Twins};

const SOURCE: &str = "oms.http";

/// The body of `GET /oms/v1/outages`: an object, so the contract can grow without breaking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutageList {
    pub outages: Vec<Outage>,
}

pub struct HttpOms {
    http: HttpSystem,
}

impl HttpOms {
    /// The OMS with a short cache, and its live twin for the check before a send.
    pub fn twins(settings: &HttpConnectorSettings) -> Result<Twins<HttpOms>, HttpSetupError> {
        let t = HttpSystem::twins(SOURCE, "connectors.oms_http", settings)?;
        Ok(Twins { cached: HttpOms { http: t.cached }, live: HttpOms { http: t.live } })
    }
}

#[async_trait]
impl Oms for HttpOms {
    fn source(&self) -> &'static str {
        SOURCE
    }

    async fn outages(&self, place: &Place) -> Result<Vec<Outage>, ConnectorError> {
        let (name, value) = place.param();
        let call = Call::get("outages", &["oms", "v1", "outages"]).query(name, value);
        let reply = self.http.send(&call).await?;
        if reply.not_found() {
            return Err(self.http.not_found(&call, &reply));
        }
        self.http.json::<OutageList>(&call, &reply).map(|list| list.outages)
    }

    async fn open_fault_report(&self, request: &FaultReportRequest) -> Result<FaultReport, ConnectorError> {
        let path = ["oms", "v1", "fault-reports"];
        let body = serde_json::to_vec(request).map_err(|e| ConnectorError::Unavailable { system: SOURCE, detail: format!("fault report: cannot encode the request: {e}") })?;
        // The OMS deduplicates by the key, so the plumbing may retry this POST like a GET.
        let call = Call::idempotent_post("fault report", &path, body, &request.idempotency_key);
        let reply = self.http.send(&call).await?;
        if reply.not_found() {
            return Err(self.http.not_found(&call, &reply));
        }
        self.http.json(&call, &reply)
    }
}

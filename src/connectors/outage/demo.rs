//! The built-in demo OMS over the shared demo data set.

use async_trait::async_trait;
use chrono::Utc;

use super::{FaultReport, FaultReportRequest, Oms, Outage, Place};
use crate::connectors::ConnectorError;
use crate::connectors::demo_data::SharedDemo;

pub struct DemoOms {
    data: SharedDemo,
}

impl DemoOms {
    pub fn new(data: SharedDemo) -> Self {
        Self { data }
    }
}

#[async_trait]
impl Oms for DemoOms {
    fn source(&self) -> &'static str {
        "oms.demo"
    }

    async fn outages(&self, place: &Place) -> Result<Vec<Outage>, ConnectorError> {
        Ok(self.data.read().expect("demo data lock").outages_at(place))
    }

    async fn open_fault_report(&self, request: &FaultReportRequest) -> Result<FaultReport, ConnectorError> {
        Ok(self.data.write().expect("demo data lock").open_fault_report(request, Utc::now()))
    }
}

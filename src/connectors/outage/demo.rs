//! The built-in demo OMS over the generated data set.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Oms, Outage};
use crate::connectors::ConnectorError;
use crate::connectors::demo_data::DemoData;

pub struct DemoOms {
    data: Arc<DemoData>,
}

impl DemoOms {
    pub fn new(data: Arc<DemoData>) -> Self {
        Self { data }
    }
}

#[async_trait]
impl Oms for DemoOms {
    fn source(&self) -> &'static str {
        "oms.demo"
    }

    async fn outages_for_postcode(&self, postcode: &str) -> Result<Vec<Outage>, ConnectorError> {
        Ok(self.data.outages.iter().filter(|o| o.covers(postcode)).cloned().collect())
    }
}

//! The built-in demo CIS: lookups over the generated data set.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Cis, Customer, Statement};
use crate::connectors::ConnectorError;
use crate::connectors::demo_data::DemoData;
use crate::domain::{AccountId, EmailAddress, SupplyPointId};

pub struct DemoCis {
    data: Arc<DemoData>,
}

impl DemoCis {
    pub fn new(data: Arc<DemoData>) -> Self {
        Self { data }
    }
}

#[async_trait]
impl Cis for DemoCis {
    fn source(&self) -> &'static str {
        "cis.demo"
    }

    async fn customer_by_email(&self, email: &EmailAddress) -> Result<Option<Customer>, ConnectorError> {
        Ok(self.data.by_email(email).cloned())
    }

    async fn customer_by_account(&self, account: &AccountId) -> Result<Option<Customer>, ConnectorError> {
        Ok(self.data.by_account(account).cloned())
    }

    async fn customer_by_supply_point(
        &self,
        id: &SupplyPointId,
    ) -> Result<Option<Customer>, ConnectorError> {
        Ok(self.data.by_supply_point(id).cloned())
    }

    async fn statement(&self, account: &AccountId) -> Result<Statement, ConnectorError> {
        self.data.statement(account).cloned().ok_or_else(|| ConnectorError::Unavailable {
            system: "cis.demo",
            detail: format!("no statement for account {account}"),
        })
    }
}

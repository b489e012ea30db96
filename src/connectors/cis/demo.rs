//! The built-in demo CIS: lookups over the shared demo data set.

use async_trait::async_trait;

use super::{Cis, Customer, CustomerKey, InstallmentEligibility, Statement};
use crate::connectors::ConnectorError;
use crate::connectors::demo_data::SharedDemo;
use crate::domain::AccountId;

pub struct DemoCis {
    data: SharedDemo,
}

impl DemoCis {
    pub fn new(data: SharedDemo) -> Self {
        Self { data }
    }
}

const SOURCE: &str = "cis.demo";

fn no_account(account: &AccountId) -> ConnectorError {
    ConnectorError::Unavailable { system: SOURCE, detail: format!("no account {account}") }
}

#[async_trait]
impl Cis for DemoCis {
    fn source(&self) -> &'static str {
        SOURCE
    }

    async fn find_customer(&self, key: &CustomerKey) -> Result<Option<Customer>, ConnectorError> {
        Ok(self.data.read().expect("demo data lock").find(key).cloned())
    }

    async fn statement(&self, account: &AccountId) -> Result<Statement, ConnectorError> {
        self.data.read().expect("demo data lock").statement(account).cloned().ok_or_else(|| no_account(account))
    }

    async fn invoice_pdf(&self, account: &AccountId, invoice: &str) -> Result<Option<Vec<u8>>, ConnectorError> {
        Ok(self.data.read().expect("demo data lock").invoice_pdf(account, invoice))
    }

    async fn installment_eligibility(&self, account: &AccountId) -> Result<InstallmentEligibility, ConnectorError> {
        self.data.read().expect("demo data lock").installment_eligibility(account).ok_or_else(|| no_account(account))
    }
}

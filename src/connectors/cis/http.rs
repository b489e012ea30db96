//! The utility's CIS over HTTP (`cis.http`): the `/cis/v1` part of
//! `openapi/utility-systems.json`, through the shared plumbing in `connectors::http`.

use async_trait::async_trait;

use super::{Cis, Customer, CustomerKey, InstallmentEligibility, Statement};
use crate::config::HttpConnectorSettings;
use crate::connectors::ConnectorError;
use crate::connectors::http::{Call, HttpSetupError, HttpSystem, Twins};
use crate::domain::AccountId;

const SOURCE: &str = "cis.http";

pub struct HttpCis {
    http: HttpSystem,
}

impl HttpCis {
    /// The CIS with a short cache, and its live twin for the check before a send.
    pub fn twins(settings: &HttpConnectorSettings) -> Result<Twins<HttpCis>, HttpSetupError> {
        let t = HttpSystem::twins(SOURCE, "connectors.cis_http", settings)?;
        Ok(Twins { cached: HttpCis { http: t.cached }, live: HttpCis { http: t.live } })
    }

    /// A GET of one of the account's JSON resources; a 404 means the CIS has no such account.
    async fn account_json<T: serde::de::DeserializeOwned>(&self, endpoint: &'static str, account: &AccountId, resource: &str) -> Result<T, ConnectorError> {
        let path = ["cis", "v1", "accounts", account.as_str(), resource];
        let call = Call::get(endpoint, &path);
        let reply = self.http.send(&call).await?;
        if reply.not_found() {
            return Err(self.http.not_found(&call, &reply));
        }
        self.http.json(&call, &reply)
    }
}

#[async_trait]
impl Cis for HttpCis {
    fn source(&self) -> &'static str {
        SOURCE
    }

    async fn find_customer(&self, key: &CustomerKey) -> Result<Option<Customer>, ConnectorError> {
        let (name, value) = key.param();
        let call = Call::get("customer lookup", &["cis", "v1", "customers"]).query(name, value);
        let reply = self.http.send(&call).await?;
        if reply.not_found() {
            return Ok(None);
        }
        self.http.json(&call, &reply).map(Some)
    }

    async fn statement(&self, account: &AccountId) -> Result<Statement, ConnectorError> {
        self.account_json("statement", account, "statement").await
    }

    async fn invoice_pdf(&self, account: &AccountId, invoice: &str) -> Result<Option<Vec<u8>>, ConnectorError> {
        let path = ["cis", "v1", "accounts", account.as_str(), "invoices", invoice, "pdf"];
        let call = Call::document("invoice PDF", &path, "application/pdf");
        let reply = self.http.send(&call).await?;
        if reply.not_found() {
            return Ok(None);
        }
        // Attached to a reply as is: it must at least be a PDF.
        if !reply.body.starts_with(b"%PDF-") {
            let what = reply.content_type.as_deref().unwrap_or("no content-type");
            return Err(self.http.invalid(&call, format!("expected a PDF document, got {} bytes of {what}", reply.body.len())));
        }
        Ok(Some(reply.body))
    }

    async fn installment_eligibility(&self, account: &AccountId) -> Result<InstallmentEligibility, ConnectorError> {
        self.account_json("installment eligibility", account, "installment-eligibility").await
    }
}

//! Stage 4, identify: who is writing. A sender is verified when the From address is the
//! e-mail registered on a CIS account. Numbers quoted in the text never verify anyone: an
//! account number that belongs to someone else is recorded as a mismatch and no data is given.

use serde::Serialize;

use super::classify::Classification;
use super::guard::Admitted;
use crate::connectors::ConnectorError;
use crate::connectors::cis::{Cis, Customer};
use crate::domain::{Reason, ReasonCode};

#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    /// The customer, only when the sender is verified.
    pub customer: Option<Customer>,
    pub reasons: Vec<Reason>,
}

impl Identity {
    pub fn verified(&self) -> bool {
        self.customer.is_some()
    }
}

pub async fn run(
    admitted: &Admitted,
    classification: &Classification,
    cis: &dyn Cis,
) -> Result<Identity, ConnectorError> {
    let sender = &admitted.message.from;
    if let Some(customer) = cis.customer_by_email(sender).await? {
        let reasons = vec![Reason::new(
            ReasonCode::CustomerVerified,
            format!("sender is the registered address of account {}", customer.account),
        )];
        return Ok(Identity { customer: Some(customer), reasons });
    }
    let mut reasons = vec![Reason::new(
        ReasonCode::SenderUnverified,
        "sender address is not registered on any account: no account data will be shared",
    )];
    if let Some(claimed) = claimed_customer(classification, cis).await? {
        reasons.push(Reason::new(
            ReasonCode::SenderMismatch,
            format!(
                "message quotes account {} whose registered address is different",
                claimed.account
            ),
        ));
    }
    Ok(Identity { customer: None, reasons })
}

/// The first existing customer that an account or supply number in the message points to.
async fn claimed_customer(
    classification: &Classification,
    cis: &dyn Cis,
) -> Result<Option<Customer>, ConnectorError> {
    let entities = &classification.entities;
    for account in &entities.accounts {
        if let Some(c) = cis.customer_by_account(account).await? {
            return Ok(Some(c));
        }
    }
    for (_, id) in &entities.supply_points {
        if let Some(c) = cis.customer_by_supply_point(id).await? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

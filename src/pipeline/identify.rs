//! Stage 4, identify: who is writing. A sender is verified when the From address is the
//! e-mail registered on a CIS account. Numbers quoted in the text never verify anyone: an
//! account number that belongs to someone else is recorded as a mismatch and no data is given.

use serde::Serialize;

use super::classify::Classification;
use super::guard::Admitted;
use crate::connectors::ConnectorError;
use crate::connectors::cis::{Cis, Customer, CustomerKey};
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
    if let Some(customer) = cis.find_customer(&CustomerKey::Email(sender.clone())).await? {
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
        if let Some(c) = cis.find_customer(&CustomerKey::Account(account.clone())).await? {
            return Ok(Some(c));
        }
    }
    for (_, id) in &entities.supply_points {
        if let Some(c) = cis.find_customer(&CustomerKey::SupplyPoint(id.clone())).await? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Down, admitted, classify, demo};

    async fn identify(raw: &str) -> Identity {
        let a = admitted(raw);
        run(&a, &classify(&a), demo().cis.as_ref()).await.unwrap()
    }

    fn codes(i: &Identity) -> Vec<&'static str> {
        i.reasons.iter().map(|r| r.code.as_str()).collect()
    }

    #[tokio::test]
    async fn registered_address_is_verified_whatever_its_case() {
        let i = identify("From: Giulia.Rossi@POSTA.example\nSubject: bolletta\n\nla bolletta").await;
        assert_eq!(i.customer.as_ref().unwrap().account.as_str(), "40000001");
        assert_eq!(codes(&i), ["customer_verified"]);
    }

    #[tokio::test]
    async fn a_quoted_account_number_does_not_verify_a_stranger() {
        let i = identify("From: someone@else.example\nSubject: bill\n\nmy account is 40000031, what is my balance?").await;
        assert!(i.customer.is_none());
        assert_eq!(codes(&i), ["sender_unverified", "sender_mismatch"]);
        let i = identify("From: someone@else.example\nSubject: luz\n\nmi CUPS es ES0021000012345678LB").await;
        assert_eq!(codes(&i), ["sender_unverified", "sender_mismatch"]);
    }

    #[tokio::test]
    async fn unknown_sender_without_numbers_is_just_unverified() {
        let i = identify("From: nobody@else.example\nSubject: hi\n\nno power").await;
        assert_eq!(codes(&i), ["sender_unverified"]);
    }

    #[tokio::test]
    async fn a_cis_outage_is_an_error_not_a_guess() {
        let a = admitted("From: giulia.rossi@posta.example\nSubject: x\n\nbolletta");
        assert!(run(&a, &classify(&a), &Down).await.is_err());
    }
}

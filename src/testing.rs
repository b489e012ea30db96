//! Test support shared by the unit tests: the demo systems on a fixed date, messages run
//! through the first stages, and throwaway directories.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{NaiveDate, Utc};

use crate::connectors::cis::{Cis, Customer, CustomerKey, InstallmentEligibility, Statement};
use crate::connectors::demo_data::{DemoData, SharedDemo};
use crate::connectors::outage::{FaultReport, FaultReportRequest, Oms, Outage, Place};
use crate::connectors::{ConnectorError, Connectors};
use crate::domain::{AccountId, EmailAddress};
use crate::pipeline::classify::{self, Classification, rules::RulesModel};
use crate::pipeline::ground::Clock;
use crate::pipeline::guard::{self, Admitted, GuardRules, SenderHistory, Verdict};
use crate::pipeline::parse;

pub fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).expect("valid date")
}

pub fn clock() -> Clock {
    Clock { now: Utc::now(), local_now: as_of().and_hms_opt(10, 0, 0).expect("valid time") }
}

pub fn demo_data() -> SharedDemo {
    Arc::new(std::sync::RwLock::new(DemoData::generate(as_of(), clock().local_now, 520)))
}

pub fn demo() -> Connectors {
    Connectors::demo(demo_data())
}

/// A message (headers and body, `\n` line ends) parsed and admitted by the guard.
pub fn admitted(raw: &str) -> Admitted {
    let raw = raw.replace('\n', "\r\n");
    let parsed = parse::run(raw.as_bytes(), 0, parse::Limits { max_bytes: 1 << 20 }).expect("parses");
    let rules = GuardRules { own_addresses: &[], own_message_id_domain: "switchyard.aurora.example", max_auto_replies: 3 };
    match guard::run(parsed, SenderHistory::default(), &rules) {
        Verdict::Admit(a) => a,
        Verdict::Stop(r) => panic!("guard stopped the test message: {r:?}"),
    }
}

pub fn classify(a: &Admitted) -> Classification {
    classify::run(&a.message, &RulesModel, &classify::Settings::default())
}

pub fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).expect("valid address")
}

/// A fresh directory under the system temp dir, unique per call.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("switchyard-unit-{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A CIS and OMS that are down.
pub struct Down;

fn down() -> ConnectorError {
    ConnectorError::Unavailable { system: "test", detail: "down for the test".into() }
}

#[async_trait]
impl Cis for Down {
    fn source(&self) -> &'static str {
        "cis.down"
    }
    async fn find_customer(&self, _: &CustomerKey) -> Result<Option<Customer>, ConnectorError> {
        Err(down())
    }
    async fn statement(&self, _: &AccountId) -> Result<Statement, ConnectorError> {
        Err(down())
    }
    async fn invoice_pdf(&self, _: &AccountId, _: &str) -> Result<Option<Vec<u8>>, ConnectorError> {
        Err(down())
    }
    async fn installment_eligibility(&self, _: &AccountId) -> Result<InstallmentEligibility, ConnectorError> {
        Err(down())
    }
}

#[async_trait]
impl Oms for Down {
    fn source(&self) -> &'static str {
        "oms.down"
    }
    async fn outages(&self, _: &Place) -> Result<Vec<Outage>, ConnectorError> {
        Err(down())
    }
    async fn open_fault_report(&self, _: &FaultReportRequest) -> Result<FaultReport, ConnectorError> {
        Err(down())
    }
}

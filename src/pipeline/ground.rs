//! Stage 5, ground: the facts a reply may use, read from the CIS and OMS (and the customer's
//! own message), each a typed [`Fact`] with its source and time. The same call formats the
//! values for the draft, so every value a template can print is a recorded fact.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::classify::Classification;
use super::identify::Identity;
use crate::connectors::cis::{Customer, Statement, SupplyPoint};
use crate::connectors::outage::{Outage, Place};
use crate::connectors::{ConnectorError, Connectors};
use crate::domain::{Commodity, Fact, FactValue, Intent, Language, Money, Reason, ReasonCode, Urgency};
use crate::locale;

#[derive(Debug, Clone, Serialize)]
pub struct Grounding {
    pub facts: Vec<Fact>,
    /// The facts formatted for templates (`facts.invoice.amount` and so on).
    pub view: Value,
    pub reasons: Vec<Reason>,
}

pub struct Clock {
    pub now: DateTime<Utc>,
    /// The utility's local date and time (outage and bill dates are local).
    pub local_now: NaiveDateTime,
}

/// Instalment plans offered in simulations.
const INSTALLMENT_COUNTS: [i64; 3] = [3, 6, 12];

pub async fn run(
    classification: &Classification,
    identity: &Identity,
    connectors: &Connectors,
    clock: &Clock,
    lang: Language,
) -> Grounding {
    let mut g = Builder { facts: Vec::new(), view: Map::new(), lang, at: clock.now, reasons: Vec::new() };
    let intent = classification.intent;
    if let Some(customer) = &identity.customer {
        g.customer(customer, connectors.cis.source());
        if needs_statement(intent) {
            match connectors.cis.statement(&customer.account).await {
                Ok(st) => g.statement(&st, intent, clock, connectors.cis.source()),
                Err(e) => g.unavailable(&e),
            }
        }
        if intent == Intent::MeterReading {
            g.reading(classification, customer, clock);
        }
    }
    if intent == Intent::MeterReading {
        g.reading_window(clock.local_now.date());
    }
    if intent == Intent::Outage || classification.urgency == Urgency::Emergency {
        let postcodes = postcodes(classification, identity);
        // Planned works answer a question about works; they do not explain a supply lost now.
        let lost_now = classification.urgency <= Urgency::High;
        g.outages(&postcodes, connectors, intent == Intent::Outage, lost_now).await;
    }
    Grounding { facts: g.facts, view: Value::Object(g.view), reasons: g.reasons }
}

fn needs_statement(intent: Intent) -> bool {
    matches!(intent, Intent::Billing | Intent::Payment | Intent::InstallmentPlan | Intent::Complaint)
}

/// The customer's own postcode first, then any the message names.
fn postcodes(classification: &Classification, identity: &Identity) -> Vec<String> {
    let mut out: Vec<String> = identity.customer.iter().map(|c| c.address.postcode.clone()).collect();
    for p in &classification.entities.postcodes {
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

struct Builder {
    facts: Vec<Fact>,
    view: Map<String, Value>,
    lang: Language,
    at: DateTime<Utc>,
    reasons: Vec<Reason>,
}

impl Builder {
    fn fact(&mut self, key: &str, value: FactValue, source: &str) {
        self.facts.push(Fact { key: key.into(), value, source: source.into(), fetched_at: self.at });
    }

    fn money(&mut self, key: &str, m: Money, source: &str) -> Value {
        self.fact(key, FactValue::Money(m), source);
        Value::String(locale::format_money(m, self.lang))
    }

    fn date(&mut self, key: &str, d: NaiveDate, source: &str) -> Value {
        self.fact(key, FactValue::Date(d), source);
        Value::String(locale::format_date(d, self.lang))
    }

    fn datetime(&mut self, key: &str, t: NaiveDateTime, source: &str) -> Value {
        self.fact(key, FactValue::DateTime(t), source);
        Value::String(locale::format_datetime(t, self.lang))
    }

    fn count(&mut self, key: &str, n: i64, source: &str) -> Value {
        self.fact(key, FactValue::Count(n), source);
        Value::String(locale::format_count(n, self.lang))
    }

    fn quantity(&mut self, key: &str, milli: i64, unit: &str, source: &str) -> Value {
        self.fact(key, FactValue::Quantity { milli, unit: unit.into() }, source);
        Value::String(locale::format_quantity(milli, unit, self.lang))
    }

    fn identifier(&mut self, key: &str, id: &str, source: &str) -> Value {
        self.fact(key, FactValue::Identifier(id.into()), source);
        Value::String(id.into())
    }

    fn unavailable(&mut self, e: &ConnectorError) {
        self.reasons.push(Reason::new(ReasonCode::ConnectorUnavailable, e.to_string()));
    }

    fn customer(&mut self, c: &Customer, source: &str) {
        let account = self.identifier("customer.account", c.account.as_str(), source);
        self.view.insert("account".into(), account);
        let supplies: Vec<Value> = c
            .supply_points
            .iter()
            .enumerate()
            .map(|(i, sp)| {
                json!({
                    "id": self.identifier(&format!("supply.{i}.id"), sp.id.as_str(), source),
                    "kind": sp.kind.as_str(),
                    "commodity": sp.commodity.as_str(),
                    "tariff": sp.tariff,
                })
            })
            .collect();
        self.view.insert("supplies".into(), Value::Array(supplies));
    }

    fn statement(&mut self, st: &Statement, intent: Intent, clock: &Clock, source: &str) {
        let balance = self.money("balance", st.balance, source);
        self.view.insert("balance".into(), balance);
        self.view.insert("balance_zero".into(), Value::Bool(st.balance.is_zero()));
        if let Some(inv) = st.invoices.first() {
            let invoice = json!({
                "number": self.identifier("invoice.number", &inv.number, source),
                "commodity": inv.commodity.as_str(),
                "supply_id": self.identifier("invoice.supply_id", inv.supply_point.as_str(), source),
                "period_start": self.date("invoice.period_start", inv.period_start, source),
                "period_end": self.date("invoice.period_end", inv.period_end, source),
                "issue_date": self.date("invoice.issue_date", inv.issued, source),
                "due_date": self.date("invoice.due_date", inv.due, source),
                "amount": self.money("invoice.amount", inv.amount, source),
                "fixed_part": self.money("invoice.fixed", inv.fixed, source),
                "variable_part": self.money("invoice.variable", inv.variable, source),
                "taxes": self.money("invoice.taxes", inv.taxes, source),
                "adjustments": self.money("invoice.adjustments", inv.adjustments, source),
                "has_adjustments": !inv.adjustments.is_zero(),
                "status": inv.status.as_str(),
                "consumption": self.quantity("invoice.consumption", inv.consumption_milli, &inv.consumption_unit, source),
            });
            self.view.insert("invoice".into(), invoice);
        }
        let payments: Vec<Value> = st
            .payments
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "date": self.date(&format!("payment.{i}.date"), p.date, source),
                    "amount": self.money(&format!("payment.{i}.amount"), p.amount, source),
                    "method": p.method.as_str(),
                    "invoice": self.identifier(&format!("payment.{i}.invoice"), &p.invoice, source),
                })
            })
            .collect();
        self.view.insert("payments".into(), Value::Array(payments));
        if intent == Intent::InstallmentPlan && st.balance.cents() > 0 {
            self.installments(st.balance, clock.local_now.date());
        }
    }

    /// Equal instalments rounded down to the cent; the last one carries the remainder.
    fn installments(&mut self, balance: Money, today: NaiveDate) {
        const SOURCE: &str = "switchyard.installments";
        let first_due = today + Duration::days(30);
        let plans: Vec<Value> = INSTALLMENT_COUNTS
            .iter()
            .map(|&n| {
                let regular = Money(balance.cents() / n);
                let last = balance - Money(regular.cents() * (n - 1));
                json!({
                    "count": self.count(&format!("installments.{n}.count"), n, SOURCE),
                    "amount": self.money(&format!("installments.{n}.amount"), regular, SOURCE),
                    "last_amount": self.money(&format!("installments.{n}.last_amount"), last, SOURCE),
                    "first_due": self.date(&format!("installments.{n}.first_due"), first_due, SOURCE),
                })
            })
            .collect();
        self.view.insert("installments".into(), Value::Array(plans));
    }

    fn reading(&mut self, classification: &Classification, customer: &Customer, clock: &Clock) {
        let Some(mention) = classification.entities.readings.first() else { return };
        let Some(supply) = supply_for_reading(customer, mention.unit) else { return };
        let unit = mention
            .unit
            .or_else(|| supply.last_reading.as_ref().and_then(|r| locale::normalise_unit(&r.unit)))
            .unwrap_or("kWh");
        let mut reading = Map::new();
        reading.insert("value".into(), self.quantity("reading.value", mention.milli, unit, "message"));
        reading.insert("supply_id".into(), self.identifier("reading.supply_id", supply.id.as_str(), "cis"));
        let mut plausible = true;
        if let Some(prev) = &supply.last_reading {
            reading.insert("previous".into(), self.quantity("reading.previous", prev.milli, unit, "cis"));
            reading.insert("previous_date".into(), self.date("reading.previous_date", prev.date, "cis"));
            let used = mention.milli - prev.milli;
            let days = (clock.local_now.date() - prev.date).num_days().max(1);
            plausible = used >= 0 && used / days <= max_daily_milli(supply.commodity);
            if used >= 0 {
                reading.insert("consumption".into(), self.quantity("reading.consumption", used, unit, "switchyard"));
            }
            if !plausible {
                self.reasons.push(Reason::new(
                    ReasonCode::ReadingImplausible,
                    format!(
                        "reading {} against previous {} of {} ({} days)",
                        locale::format_quantity(mention.milli, unit, Language::En),
                        locale::format_quantity(prev.milli, unit, Language::En),
                        prev.date,
                        days
                    ),
                ));
            }
        }
        reading.insert("plausible".into(), Value::Bool(plausible));
        self.view.insert("reading".into(), Value::Object(reading));
    }

    /// Self-readings are accepted in the last days of each month.
    fn reading_window(&mut self, today: NaiveDate) {
        let last_day = last_day_of_month(today);
        let start = today.with_day(25).unwrap_or(today).max(today);
        let (start, end) = if today > last_day - Duration::days(1) {
            let next_last = last_day_of_month(last_day + Duration::days(1));
            (next_last.with_day(25).unwrap_or(next_last), next_last)
        } else {
            (start, last_day)
        };
        let window = json!({
            "start": self.date("reading_window.start", start, "calendar"),
            "end": self.date("reading_window.end", end, "calendar"),
        });
        self.view.insert("reading_window".into(), window);
    }

    async fn outages(&mut self, postcodes: &[String], connectors: &Connectors, report_missing: bool, lost_now: bool) {
        let source = connectors.oms.source();
        let mut current: Option<(String, Outage)> = None;
        let mut planned = Vec::new();
        for pc in postcodes {
            match connectors.oms.outages(&Place::Postcode(pc.clone())).await {
                Ok(list) => {
                    for o in list {
                        if o.planned {
                            planned.push(o);
                        } else if current.is_none() {
                            current = Some((pc.clone(), o));
                        }
                    }
                }
                Err(e) => {
                    self.unavailable(&e);
                    return;
                }
            }
        }
        if let Some(pc) = current.as_ref().map(|(pc, _)| pc.clone()).or_else(|| postcodes.first().cloned()) {
            let postcode = self.identifier("outage.postcode", &pc, source);
            self.view.insert("postcode".into(), postcode);
        }
        match current {
            Some((_, o)) => {
                let mut v = Map::new();
                v.insert("area".into(), self.identifier("outage.area", &o.area, source));
                v.insert("commodity".into(), Value::String(o.commodity.as_str().into()));
                v.insert("cause".into(), Value::String(o.cause.as_str().into()));
                v.insert("started_at".into(), self.datetime("outage.started_at", o.starts_at, source));
                if let Some(eta) = o.estimated_restoration {
                    v.insert("estimated_restoration".into(), self.datetime("outage.estimated_restoration", eta, source));
                }
                v.insert("customers_affected".into(), self.count("outage.customers_affected", o.customers_affected.into(), source));
                self.view.insert("outage".into(), Value::Object(v));
            }
            None if report_missing && (planned.is_empty() || lost_now) => {
                let detail = if postcodes.is_empty() {
                    "no postcode known for the sender: a person must open a fault report".to_string()
                } else {
                    format!("no outage recorded for {}: a person must open a fault report", postcodes.join(", "))
                };
                self.reasons.push(Reason::new(ReasonCode::NoKnownOutage, detail));
            }
            None => {}
        }
        let works: Vec<Value> = planned
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let mut w = json!({
                    "area": self.identifier(&format!("planned.{i}.area"), &o.area, source),
                    "commodity": o.commodity.as_str(),
                    "starts_at": self.datetime(&format!("planned.{i}.starts_at"), o.starts_at, source),
                });
                if let Some(end) = o.estimated_restoration {
                    w["ends_at"] = self.datetime(&format!("planned.{i}.ends_at"), end, source);
                }
                w
            })
            .collect();
        if !works.is_empty() {
            self.view.insert("planned_works".into(), Value::Array(works));
        }
    }
}

fn supply_for_reading<'a>(customer: &'a Customer, unit: Option<&str>) -> Option<&'a SupplyPoint> {
    let wanted = match unit {
        Some("kWh") => Some(Commodity::Electricity),
        Some("Smc") => Some(Commodity::Gas),
        _ => None,
    };
    customer
        .supply_points
        .iter()
        .find(|sp| Some(sp.commodity) == wanted)
        .or_else(|| {
            // m3 is gas or water; a bare number is whatever the customer's meter measures.
            customer.supply_points.iter().find(|sp| match unit {
                Some("m3") => matches!(sp.commodity, Commodity::Gas | Commodity::Water),
                _ => true,
            })
        })
}

/// Beyond this daily use a reading is more likely a typo than real consumption.
fn max_daily_milli(c: Commodity) -> i64 {
    match c {
        Commodity::Electricity => 150_000,
        Commodity::Gas => 40_000,
        Commodity::Water => 5_000,
    }
}

fn last_day_of_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 { (d.year() + 1, 1) } else { (d.year(), d.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).expect("valid date") - Duration::days(1)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::pipeline::identify;
    use crate::testing::{Down, admitted, classify, clock, demo};

    async fn ground_with(raw: &str, connectors: &Connectors) -> (Classification, Grounding) {
        let a = admitted(raw);
        let c = classify(&a);
        let i = identify::run(&a, &c, demo().cis.as_ref()).await.unwrap();
        let g = run(&c, &i, connectors, &clock(), Language::It).await;
        (c, g)
    }

    async fn ground(raw: &str) -> Grounding {
        ground_with(raw, &demo()).await.1
    }

    fn fact<'a>(g: &'a Grounding, key: &str) -> Option<&'a FactValue> {
        g.facts.iter().find(|f| f.key == key).map(|f| &f.value)
    }

    fn codes(g: &Grounding) -> Vec<&'static str> {
        g.reasons.iter().map(|r| r.code.as_str()).collect()
    }

    #[tokio::test]
    async fn a_verified_billing_question_gets_the_latest_bill() {
        let g = ground("From: giulia.rossi@posta.example\nSubject: Bolletta\n\nla bolletta è troppo alta").await;
        assert_eq!(fact(&g, "invoice.amount"), Some(&FactValue::Money(Money(12_840))));
        assert_eq!(fact(&g, "balance"), Some(&FactValue::Money(Money(12_840))));
        assert_eq!(g.view["invoice"]["amount"], "128,40 €");
        assert_eq!(g.view["invoice"]["number"], "F2026-0011452");
        assert!(g.facts.iter().all(|f| f.source == "cis.demo"));
    }

    #[tokio::test]
    async fn an_unverified_sender_gets_no_account_facts() {
        let g = ground("From: mario.verdi@posta.example\nSubject: Bolletta\n\nla bolletta è troppo alta, conto 40000001").await;
        assert!(g.facts.is_empty(), "{:?}", g.facts);
        assert!(g.view.get("invoice").is_none());
    }

    #[tokio::test]
    async fn outage_status_for_the_customers_area_or_a_named_postcode() {
        let g = ground("From: luca.ferrari@posta.example\nSubject: luce\n\nsiamo senza luce").await;
        assert_eq!(g.view["outage"]["area"], "10123");
        assert!(matches!(fact(&g, "outage.estimated_restoration"), Some(FactValue::DateTime(_))));
        let g = ground("From: x@y.example\nSubject: luce\n\nsenza luce in via Roma, CAP 10123").await;
        assert_eq!(g.view["outage"]["area"], "10123");
        let g = ground("From: x@y.example\nSubject: luce\n\nsenza luce, CAP 20121").await;
        assert_eq!(codes(&g), ["no_known_outage"]);
    }

    #[tokio::test]
    async fn planned_works_answer_questions_but_not_a_supply_lost_now() {
        let g = ground("From: paolo.colombo@posta.example\nSubject: lavori\n\nquando ci saranno i lavori alla rete idrica?").await;
        assert!(g.view["planned_works"].is_array());
        assert!(codes(&g).is_empty(), "{:?}", codes(&g));
        let g = ground("From: paolo.colombo@posta.example\nSubject: acqua\n\nsiamo senza acqua da stamattina, urgente").await;
        assert_eq!(codes(&g), ["no_known_outage"]);
    }

    #[tokio::test]
    async fn readings_are_checked_against_the_last_one() {
        let g = ground("From: giulia.rossi@posta.example\nSubject: Autolettura\n\nlettura 3.300 kWh").await;
        assert_eq!(g.view["reading"]["plausible"], true);
        assert_eq!(fact(&g, "reading.consumption"), Some(&FactValue::Quantity { milli: 180_000, unit: "kWh".into() }));
        let g = ground("From: giulia.rossi@posta.example\nSubject: Autolettura\n\nlettura 3.000 kWh").await;
        assert_eq!(codes(&g), ["reading_implausible"]);
        assert!(g.view["reading_window"]["start"].is_string());
    }

    #[tokio::test]
    async fn instalments_add_up_to_the_balance() {
        let g = ground("From: marco.bianchi@posta.example\nSubject: rateizzazione\n\nposso rateizzare?").await;
        for n in INSTALLMENT_COUNTS {
            let money = |k: &str| match fact(&g, &format!("installments.{n}.{k}")) {
                Some(FactValue::Money(m)) => m.cents(),
                other => panic!("{other:?}"),
            };
            assert_eq!(money("amount") * (n - 1) + money("last_amount"), 21_275);
        }
    }

    #[tokio::test]
    async fn a_system_that_is_down_is_a_reason_not_a_guess() {
        let down = Connectors::uncached(Arc::new(Down), Arc::new(Down));
        let (_, g) = ground_with("From: giulia.rossi@posta.example\nSubject: Bolletta\n\nla bolletta", &down).await;
        assert_eq!(codes(&g), ["connector_unavailable"]);
        assert!(fact(&g, "invoice.amount").is_none());
    }
}

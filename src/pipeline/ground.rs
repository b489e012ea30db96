//! Stage 5, ground: the facts a reply may use, read from the CIS and OMS (and the customer's
//! own message), each a typed [`Fact`] with its source and time. The same call formats the
//! values for the draft, so every value a template can print is a recorded fact.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::classify::Classification;
use super::identify::Identity;
use crate::connectors::cis::{Customer, InstallmentEligibility, Statement, SupplyPoint};
use crate::connectors::outage::{FaultReportRequest, Outage, Place};
use crate::connectors::{ConnectorError, Connectors};
use crate::config::InstallmentSettings;
use crate::domain::{Commodity, Fact, FactValue, Intent, Language, Money, Reason, ReasonCode, Urgency};
use crate::locale;

#[derive(Debug, Clone, Serialize)]
pub struct Grounding {
    pub facts: Vec<Fact>,
    /// The facts formatted for templates (`facts.invoice.amount` and so on).
    pub view: Value,
    pub reasons: Vec<Reason>,
    /// Files the reply carries (the bill's PDF copy).
    pub attachments: Vec<Attachment>,
}

/// A file attached to the reply, fetched from a system of record.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// The fact it stands for (`invoice.number`), so the approver sees where it came from.
    pub fact: String,
}

pub struct Clock {
    pub now: DateTime<Utc>,
    /// The utility's local date and time (outage and bill dates are local).
    pub local_now: NaiveDateTime,
}

/// What the ground stage needs to know about the message besides its classification.
pub struct GroundInput<'a> {
    pub classification: &'a Classification,
    pub identity: &'a Identity,
    pub lang: Language,
    /// Identifies the inbound message to the OMS, so a retried message opens no second
    /// fault report (derived from its Message-ID or content hash).
    pub reference: &'a str,
    /// `email` or `whatsapp`: told to the OMS with a fault report.
    pub channel: &'a str,
    pub installments: &'a InstallmentSettings,
}

pub async fn run(input: &GroundInput<'_>, connectors: &Connectors, clock: &Clock) -> Grounding {
    let mut g = Builder {
        facts: Vec::new(),
        view: Map::new(),
        lang: input.lang,
        at: clock.now,
        reasons: Vec::new(),
        attachments: Vec::new(),
    };
    let classification = input.classification;
    let intent = classification.intent;
    if let Some(customer) = &input.identity.customer {
        g.customer(customer, connectors.cis.source());
        if needs_statement(intent) {
            match connectors.cis.statement(&customer.account).await {
                Ok(st) => {
                    g.statement(&st, connectors.cis.source());
                    if intent == Intent::Billing {
                        g.bill_copy(customer, &st, connectors).await;
                    }
                    if intent == Intent::InstallmentPlan {
                        g.plan(input, customer, st.balance, connectors, clock).await;
                    }
                }
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
        g.outages(input, connectors).await;
    }
    Grounding { facts: g.facts, view: Value::Object(g.view), reasons: g.reasons, attachments: g.attachments }
}

/// Everything the systems say about one customer that a reply could state: the account and
/// supply points, the statement with the latest bill's lines, the plans our rules and the CIS
/// allow, the reading window, and outages and planned works at their address. No side
/// effects (no fault report is opened): for `switchyard factcheck` and tools like it.
pub async fn all_facts(
    customer: &Customer,
    connectors: &Connectors,
    clock: &Clock,
    lang: Language,
    installments: &InstallmentSettings,
) -> Result<Grounding, ConnectorError> {
    let mut g = Builder {
        facts: Vec::new(),
        view: Map::new(),
        lang,
        at: clock.now,
        reasons: Vec::new(),
        attachments: Vec::new(),
    };
    let cis = connectors.cis.source();
    g.customer(customer, cis);
    let statement = connectors.cis.statement(&customer.account).await?;
    g.statement(&statement, cis);
    let eligibility = connectors.cis.installment_eligibility(&customer.account).await?;
    g.plans(statement.balance, &eligibility, installments, clock.local_now.date(), None);
    for (i, sp) in customer.supply_points.iter().enumerate() {
        if let Some(r) = &sp.last_reading {
            g.quantity(&format!("supply.{i}.last_reading"), r.milli, &r.unit, cis);
            g.date(&format!("supply.{i}.last_reading_date"), r.date, cis);
        }
    }
    g.reading_window(clock.local_now.date());
    let oms = connectors.oms.source();
    for o in connectors.oms.outages(&Place::Postcode(customer.address.postcode.clone())).await? {
        if o.planned {
            g.datetime(&format!("planned.{}.starts_at", o.id), o.starts_at, oms);
            if let Some(end) = o.estimated_restoration {
                g.datetime(&format!("planned.{}.ends_at", o.id), end, oms);
            }
        } else {
            g.current_outage(&o, oms);
        }
    }
    Ok(Grounding { facts: g.facts, view: Value::Object(g.view), reasons: g.reasons, attachments: Vec::new() })
}

fn needs_statement(intent: Intent) -> bool {
    matches!(intent, Intent::Billing | Intent::Payment | Intent::InstallmentPlan | Intent::Complaint)
}

/// Where to look for outages: the customer's own postcode, then postcodes and supply points
/// the message names.
fn places(classification: &Classification, identity: &Identity) -> Vec<Place> {
    let mut out: Vec<Place> = identity.customer.iter().map(|c| Place::Postcode(c.address.postcode.clone())).collect();
    let entities = &classification.entities;
    let named = entities
        .postcodes
        .iter()
        .map(|p| Place::Postcode(p.clone()))
        .chain(entities.supply_points.iter().map(|(_, id)| Place::SupplyPoint(id.clone())));
    for place in named {
        if !out.contains(&place) {
            out.push(place);
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
    attachments: Vec<Attachment>,
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
        self.view.insert("vulnerable".into(), Value::Bool(c.vulnerable));
        self.view.insert("country".into(), Value::String(c.address.country.clone()));
        self.view.insert("assistance_consent".into(), Value::Bool(c.consents.assistance_contact));
    }

    fn statement(&mut self, st: &Statement, source: &str) {
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
                "lines": self.lines(inv, source),
                "pdf_attached": false,
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
        if let Some(p) = st.payments.first() {
            self.view.insert("payment_method".into(), Value::String(p.method.as_str().into()));
        }
    }

    /// The bill's lines, each amount a fact (`invoice.line.<i>.amount`).
    fn lines(&mut self, inv: &crate::connectors::cis::Invoice, source: &str) -> Value {
        let lines: Vec<Value> = inv
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                json!({
                    "code": l.code,
                    "kind": l.kind.as_str(),
                    "amount": self.money(&format!("invoice.line.{i}.amount"), l.amount, source),
                })
            })
            .collect();
        Value::Array(lines)
    }

    /// Attaches the latest bill's PDF. Without it the reply points to the customer area
    /// instead; a missing copy does not hold the reply.
    async fn bill_copy(&mut self, customer: &Customer, st: &Statement, connectors: &Connectors) {
        let Some(number) = st.invoices.first().map(|i| i.number.as_str()) else { return };
        match connectors.cis.invoice_pdf(&customer.account, number).await {
            Ok(Some(bytes)) => {
                let filename = format!("{number}.pdf");
                if let Some(Value::Object(inv)) = self.view.get_mut("invoice") {
                    inv.insert("pdf_attached".into(), Value::Bool(true));
                    inv.insert("pdf_filename".into(), Value::String(filename.clone()));
                }
                self.attachments.push(Attachment { filename, content_type: "application/pdf".into(), bytes, fact: "invoice.number".into() });
            }
            Ok(None) => tracing::debug!(invoice = %number, "the CIS has no PDF copy of the bill"),
            Err(e) => tracing::debug!(error = %e, "cannot fetch the bill's PDF copy"),
        }
    }

    /// Simulates the plans our rules and the CIS allow; when the customer accepted one, the
    /// plan is handed to a person to open (a plan is a contract: never opened automatically).
    async fn plan(&mut self, input: &GroundInput<'_>, customer: &Customer, balance: Money, connectors: &Connectors, clock: &Clock) {
        let eligibility = match connectors.cis.installment_eligibility(&customer.account).await {
            Ok(e) => e,
            Err(e) => return self.unavailable(&e),
        };
        let accepted = input.classification.entities.plan_acceptance;
        self.plans(balance, &eligibility, input.installments, clock.local_now.date(), accepted);
    }

    /// The plans our rules and the CIS allow, or why none is offered; with `accepted`, the
    /// one the customer chose, handed to a person.
    fn plans(&mut self, balance: Money, eligibility: &InstallmentEligibility, rules: &InstallmentSettings, today: NaiveDate, accepted: Option<u32>) {
        let refusal = if balance.cents() <= 0 {
            Some("nothing_due".to_string())
        } else if !eligibility.eligible {
            Some(eligibility.reason.clone().unwrap_or_else(|| "not_eligible".into()))
        } else if balance.cents() < rules.min_balance_cents {
            Some("below_minimum".to_string())
        } else {
            None
        };
        if let Some(code) = refusal {
            // A customer who cannot have a plan and asked for one needs a person, not a form.
            if matches!(code.as_str(), "active_plan" | "in_collections" | "not_eligible" | "plan_defaulted") {
                self.reasons.push(Reason::new(
                    ReasonCode::PlanHandover,
                    format!("the CIS refuses a new plan ({code}): a person looks at what can be offered"),
                ));
            }
            self.view.insert("installment_refusal".into(), Value::String(code));
            return;
        }
        let counts: Vec<i64> = rules
            .counts
            .iter()
            .filter(|&&n| n <= eligibility.max_instalments && balance.cents() / i64::from(n) >= rules.min_instalment_cents)
            .map(|&n| i64::from(n))
            .collect();
        if counts.is_empty() {
            self.view.insert("installment_refusal".into(), Value::String("below_minimum".into()));
            return;
        }
        let first_due = today + Duration::days(rules.first_due_days.into());
        let plans: Vec<Value> = counts.iter().map(|&n| self.simulate("installments", n, balance, first_due)).collect();
        self.view.insert("installments".into(), Value::Array(plans));
        if let Some(n) = accepted.map(i64::from).filter(|n| counts.contains(n)) {
            let chosen = self.simulate("plan_request", n, balance, first_due);
            self.view.insert("plan_request".into(), chosen);
            self.reasons.push(Reason::new(
                ReasonCode::PlanHandover,
                format!("the customer accepted the plan in {n} instalments: a person opens it in the CIS and confirms"),
            ));
        }
    }

    /// Equal instalments rounded down to the cent; the last one carries the remainder.
    fn simulate(&mut self, prefix: &str, n: i64, balance: Money, first_due: NaiveDate) -> Value {
        const SOURCE: &str = "switchyard.installments";
        let regular = Money(balance.cents() / n);
        let last = balance - Money(regular.cents() * (n - 1));
        let key = |k: &str| if prefix == "installments" { format!("installments.{n}.{k}") } else { format!("{prefix}.{k}") };
        json!({
            "count": self.count(&key("count"), n, SOURCE),
            "amount": self.money(&key("amount"), regular, SOURCE),
            "last_amount": self.money(&key("last_amount"), last, SOURCE),
            "first_due": self.date(&key("first_due"), first_due, SOURCE),
        })
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

    async fn outages(&mut self, input: &GroundInput<'_>, connectors: &Connectors) {
        let c = input.classification;
        let source = connectors.oms.source();
        let places = places(c, input.identity);
        let mut current: Option<(Place, Outage)> = None;
        let mut planned: Vec<Outage> = Vec::new();
        for place in &places {
            match connectors.oms.outages(place).await {
                Ok(list) => {
                    for o in list {
                        if o.planned {
                            if !planned.iter().any(|p| p.id == o.id) {
                                planned.push(o);
                            }
                        } else if current.is_none() {
                            current = Some((place.clone(), o));
                        }
                    }
                }
                Err(e) => return self.unavailable(&e),
            }
        }
        let first_postcode = places.iter().find_map(|p| match p {
            Place::Postcode(pc) => Some(pc.clone()),
            _ => None,
        });
        let asked = match &current {
            Some((Place::Postcode(pc), _)) => Some(pc.clone()),
            _ => first_postcode.clone(),
        };
        if let Some(pc) = asked {
            let postcode = self.identifier("outage.postcode", &pc, source);
            self.view.insert("postcode".into(), postcode);
        }
        // Planned works answer a question about works; they do not explain a supply lost now.
        let lost_now = c.urgency <= Urgency::High;
        let report_missing = c.intent == Intent::Outage && c.urgency != Urgency::Emergency;
        match current {
            Some((_, o)) => self.current_outage(&o, source),
            None if report_missing && (planned.is_empty() || lost_now) => {
                self.fault_report(input, &places, first_postcode, connectors).await;
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

    fn current_outage(&mut self, o: &Outage, source: &str) {
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

    /// No outage is known where the customer has lost supply: the OMS gets a fault report
    /// (idempotent per message) and the reply gives its reference. Without a place to report,
    /// or when the OMS refuses, a person takes over.
    async fn fault_report(&mut self, input: &GroundInput<'_>, places: &[Place], postcode: Option<String>, connectors: &Connectors) {
        let supply_point = places.iter().find_map(|p| match p {
            Place::SupplyPoint(id) => Some(id.clone()),
            _ => None,
        });
        let supply_point = supply_point.or_else(|| {
            input.identity.customer.as_ref().and_then(|c| c.supply_points.first()).map(|sp| sp.id.clone())
        });
        if postcode.is_none() && supply_point.is_none() {
            self.reasons.push(Reason::new(
                ReasonCode::NoKnownOutage,
                "no outage known and no postcode or supply point to report a fault for: a person asks where the supply is",
            ));
            return;
        }
        let request = FaultReportRequest {
            idempotency_key: input.reference.to_string(),
            commodity: supply_point.as_ref().and_then(|id| commodity_of(input.identity, id)),
            postcode,
            supply_point,
            account: input.identity.customer.as_ref().map(|c| c.account.to_string()),
            channel: input.channel.to_string(),
        };
        match connectors.oms.open_fault_report(&request).await {
            Ok(report) => {
                let source = connectors.oms.source();
                let id = self.identifier("fault_report.id", &report.id, source);
                self.view.insert("fault_report".into(), json!({ "id": id }));
            }
            Err(e) => {
                self.unavailable(&e);
                self.reasons.push(Reason::new(ReasonCode::NoKnownOutage, "no outage known and the fault report could not be opened: a person opens it"));
            }
        }
    }
}

fn commodity_of(identity: &Identity, id: &crate::domain::SupplyPointId) -> Option<Commodity> {
    identity.customer.as_ref()?.supply_points.iter().find(|sp| &sp.id == id).map(|sp| sp.commodity)
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
        let rules = InstallmentSettings::default();
        let input = GroundInput { classification: &c, identity: &i, lang: Language::It, reference: "test-message", channel: "email", installments: &rules };
        let g = run(&input, connectors, &clock()).await;
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
    }

    #[tokio::test]
    async fn a_loss_nobody_knows_of_opens_one_fault_report_per_message() {
        let connectors = demo();
        let raw = "From: x@y.example\nSubject: luce\n\nsenza luce, CAP 20121";
        let (_, first) = ground_with(raw, &connectors).await;
        assert!(codes(&first).is_empty(), "{:?}", codes(&first));
        let id = first.view["fault_report"]["id"].as_str().unwrap().to_string();
        assert!(matches!(fact(&first, "fault_report.id"), Some(FactValue::Identifier(x)) if *x == id));
        let (_, again) = ground_with(raw, &connectors).await;
        assert_eq!(again.view["fault_report"]["id"], id.as_str(), "a retried message reuses its report");
        // Nowhere to report: a person asks where the supply is.
        let g = ground("From: x@y.example\nSubject: luce\n\nsiamo senza luce da ore").await;
        assert_eq!(codes(&g), ["no_known_outage"]);
        assert!(g.view.get("fault_report").is_none());
    }

    #[tokio::test]
    async fn a_supply_point_in_the_message_finds_its_areas_outage() {
        // IT001E00333222 is Luca Ferrari's POD, in 10123 where the demo has an outage.
        let g = ground("From: x@y.example\nSubject: luce\n\nsenza corrente al POD IT001E00333222").await;
        assert_eq!(g.view["outage"]["area"], "10123");
    }

    #[tokio::test]
    async fn planned_works_answer_questions_but_not_a_supply_lost_now() {
        let g = ground("From: paolo.colombo@posta.example\nSubject: lavori\n\nquando ci saranno i lavori alla rete idrica?").await;
        assert!(g.view["planned_works"].is_array());
        assert!(codes(&g).is_empty(), "{:?}", codes(&g));
        let g = ground("From: paolo.colombo@posta.example\nSubject: acqua\n\nsiamo senza acqua da stamattina, urgente").await;
        assert!(g.view["fault_report"]["id"].is_string(), "{:?}", g.view);
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
        for n in [3, 6, 12] {
            let money = |k: &str| match fact(&g, &format!("installments.{n}.{k}")) {
                Some(FactValue::Money(m)) => m.cents(),
                other => panic!("{other:?}"),
            };
            assert_eq!(money("amount") * (n - 1) + money("last_amount"), 21_275);
        }
    }

    #[tokio::test]
    async fn a_bill_question_gets_the_lines_and_the_pdf_copy() {
        let g = ground("From: giulia.rossi@posta.example\nSubject: Bolletta\n\nmi spiegate la bolletta?").await;
        let lines = g.view["invoice"]["lines"].as_array().unwrap();
        assert_eq!(lines[0]["code"], "standing_charge");
        assert_eq!(g.view["invoice"]["pdf_attached"], true);
        assert_eq!(g.attachments.len(), 1);
        assert!(g.attachments[0].bytes.starts_with(b"%PDF-1.4"));
        assert_eq!(g.attachments[0].filename, "F2026-0011452.pdf");
        let total: i64 = (0..lines.len())
            .map(|i| match fact(&g, &format!("invoice.line.{i}.amount")) {
                Some(FactValue::Money(m)) => m.cents(),
                other => panic!("{other:?}"),
            })
            .sum();
        assert_eq!(total, 12_840, "the lines add up to the bill");
    }

    #[tokio::test]
    async fn an_accepted_plan_goes_to_a_person_and_a_refused_one_says_why() {
        let g = ground("From: marco.bianchi@posta.example\nSubject: rateizzazione\n\nAccetto il piano in 6 rate, grazie.").await;
        assert_eq!(codes(&g), ["plan_handover"]);
        assert_eq!(fact(&g, "plan_request.count"), Some(&FactValue::Count(6)));
        // 40000022 already has a plan running in the demo CIS.
        let g = ground("From: julien.bernard@courriel.example\nSubject: échéancier\n\npuis-je payer en plusieurs fois ?").await;
        assert_eq!(g.view["installment_refusal"], "active_plan");
        assert_eq!(codes(&g), ["plan_handover"]);
        assert!(g.view.get("installments").is_none());
    }

    #[tokio::test]
    async fn our_rules_limit_the_plans_the_cis_allows() {
        let a = admitted("From: marco.bianchi@posta.example\nSubject: rate\n\nposso rateizzare?");
        let c = classify(&a);
        let i = identify::run(&a, &c, demo().cis.as_ref()).await.unwrap();
        // 212,75 € in 12 would be 17,72 € a month: below a 20 € minimum instalment.
        let rules = InstallmentSettings { min_instalment_cents: 2_000, ..InstallmentSettings::default() };
        let input = GroundInput { classification: &c, identity: &i, lang: Language::It, reference: "r", channel: "email", installments: &rules };
        let g = run(&input, &demo(), &clock()).await;
        let counts: Vec<&Value> = g.view["installments"].as_array().unwrap().iter().map(|p| &p["count"]).collect();
        assert_eq!(counts, ["3", "6"]);
    }

    #[tokio::test]
    async fn a_system_that_is_down_is_a_reason_not_a_guess() {
        let down = Connectors::uncached(Arc::new(Down), Arc::new(Down));
        let (_, g) = ground_with("From: giulia.rossi@posta.example\nSubject: Bolletta\n\nla bolletta", &down).await;
        assert_eq!(codes(&g), ["connector_unavailable"]);
        assert!(fact(&g, "invoice.amount").is_none());
    }
}

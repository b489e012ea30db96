//! Every reply flow rendered for the demo customers in the four languages and checked the way
//! the pipeline checks it: parse, guard, classify (with the intent forced, so a classifier
//! mistake cannot hide a template's), identify, ground, draft, fact-check. A failing case
//! prints the whole draft and what it lacked.

use serde_json::{Value, json};

use super::{Draft, DraftInput, Templates};
use crate::config::{BrandSettings, InstallmentSettings, Tone};
use crate::connectors::Connectors;
use crate::domain::{Fact, FactValue, Intent, Language, Money, Urgency};
use crate::pipeline::factcheck::{self, Allowlist, FactCheck};
use crate::pipeline::ground::{self, GroundInput, Grounding};
use crate::pipeline::identify::{self, Identity};
use crate::testing::{admitted, classify, clock, demo, demo_data, email};

/// The demo customers and messages of one language.
struct Lang {
    lang: Language,
    /// The named customer of the country (verified: writes from the registered address).
    customer: &'static str,
    /// A customer whose balance allows the widest choice of plans.
    planner: &'static str,
    /// Accepting one of `planner`'s plans, in the customer's words.
    accept: &'static str,
    /// A customer in an area with a current outage.
    in_outage: &'static str,
    /// The vulnerable named customer (consented to be told about assistance).
    vulnerable: &'static str,
    /// `{reading}` is replaced by a reading in the language's own number format.
    reading_message: &'static str,
    /// Quoting `customer`'s account and supply point, from an address that is not theirs.
    /// Plain ASCII with long runs before each number: `classify::entities` slices the 40
    /// bytes before a digit run and panics when that cuts an accented letter.
    stranger_quote: &'static str,
    /// The heading of the support paragraph vulnerable customers get.
    support_heading: &'static str,
    /// Each language's default sign-off line.
    default_sign_off: &'static str,
    /// A word only the scheme list of the country has.
    scheme: &'static str,
}

const STRANGER: &str = "nessuno.sconosciuto@altrove.example";

static LANGS: [Lang; 4] = [
    Lang {
        lang: Language::It,
        customer: "giulia.rossi@posta.example",
        planner: "marco.bianchi@posta.example",
        accept: "Buongiorno, accetto il piano in 6 rate, grazie.",
        in_outage: "luca.ferrari@posta.example",
        vulnerable: "anna.esposito@posta.example",
        reading_message: "Buongiorno, vi comunico l'autolettura: {reading}.",
        stranger_quote: "Per informazione, il mio codice cliente e 40000001. Il codice del mio punto di prelievo e il POD IT001E00012345.",
        support_heading: "Sostegno per il pagamento delle bollette",
        default_sign_off: "Servizio Clienti",
        scheme: "ISEE",
    },
    Lang {
        lang: Language::Es,
        customer: "lucia.garcia@correo.example",
        planner: "javier.martinez@correo.example",
        accept: "Buenos días, acepto el plan de 3 plazos, gracias.",
        in_outage: "alejandro.fernandez@correo.example",
        vulnerable: "carmen.sanchez@correo.example",
        reading_message: "Buenos días, les envío la lectura del contador: {reading}.",
        stranger_quote: "Para su informacion, mi numero de cliente es 40000011. El codigo de mi punto de suministro es el CUPS ES0021000012345678LB.",
        support_heading: "Ayudas para el pago de las facturas",
        default_sign_off: "Equipo de Atención al Cliente",
        scheme: "Bono social",
    },
    Lang {
        lang: Language::Fr,
        customer: "camille.martin@courriel.example",
        planner: "claire.robert@courriel.example",
        accept: "Bonjour, j'accepte l'échéancier en 3 échéances, merci.",
        in_outage: "nicolas.thomas@courriel.example",
        vulnerable: "sophie.dubois@courriel.example",
        reading_message: "Bonjour, voici mon relevé : index {reading}.",
        stranger_quote: "Pour information, mon numero client est 40000021. Le numero de mon point de livraison est le PDL 09115762391045.",
        support_heading: "Aides pour régler vos factures",
        default_sign_off: "Le Service Clients",
        scheme: "chèque énergie",
    },
    Lang {
        lang: Language::En,
        customer: "emma.murphy@mail.example",
        planner: "sarah.walsh@mail.example",
        accept: "Hello, I accept the plan in 6 instalments, thank you.",
        in_outage: "liam.obrien@mail.example",
        vulnerable: "aoife.byrne@mail.example",
        reading_message: "Hello, here is my meter reading: {reading}.",
        stranger_quote: "For your information, my account number is 40000031. The number of my supply point is MPRN 10012345678.",
        support_heading: "Support with your bills",
        default_sign_off: "Customer Care Team",
        scheme: "Household Benefits Package",
    },
];

/// What a customer writes for each intent (the entities matter, not the wording).
fn message(l: &Lang, intent: Intent) -> (&'static str, String) {
    use Intent::*;
    let (subject, body) = match (l.lang, intent) {
        (Language::It, Billing) => ("Bolletta", "Mi spiegate l'ultima bolletta?"),
        (Language::It, Payment) => ("Pagamento", "Vorrei sapere se il mio pagamento è arrivato."),
        (Language::It, InstallmentPlan) => ("Rateizzazione", "Posso pagare a rate?"),
        (Language::It, Outage) => ("Guasto", "Siamo senza corrente da stamattina."),
        (Language::It, Assistance) => ("Aiuto", "Ho difficoltà a pagare le bollette, esistono aiuti?"),
        (Language::It, Contract) => ("Contratto", "Vorrei cambiare offerta."),
        (Language::It, AccountUpdate) => ("Dati", "Vorrei cambiare il mio indirizzo postale."),
        (Language::It, Complaint) => ("Reclamo", "Voglio presentare un reclamo per il servizio."),
        (Language::It, _) => ("Domanda", "Avete uno sportello in città?"),
        (Language::Es, Billing) => ("Factura", "¿Me pueden explicar la última factura?"),
        (Language::Es, Payment) => ("Pago", "Quisiera saber si ha llegado mi pago."),
        (Language::Es, InstallmentPlan) => ("Fraccionamiento", "¿Puedo pagar a plazos?"),
        (Language::Es, Outage) => ("Avería", "Estamos sin luz desde esta mañana."),
        (Language::Es, Assistance) => ("Ayuda", "Me cuesta pagar las facturas, ¿hay ayudas?"),
        (Language::Es, Contract) => ("Contrato", "Quiero cambiar de tarifa."),
        (Language::Es, AccountUpdate) => ("Datos", "Quiero cambiar mi dirección postal."),
        (Language::Es, Complaint) => ("Reclamación", "Quiero presentar una reclamación por el servicio."),
        (Language::Es, _) => ("Consulta", "¿Tienen una oficina en la ciudad?"),
        (Language::Fr, Billing) => ("Facture", "Pouvez-vous m'expliquer ma dernière facture ?"),
        (Language::Fr, Payment) => ("Paiement", "Je voudrais savoir si mon paiement est arrivé."),
        (Language::Fr, InstallmentPlan) => ("Échéancier", "Puis-je payer en plusieurs fois ?"),
        (Language::Fr, Outage) => ("Panne", "Nous sommes sans électricité depuis ce matin."),
        (Language::Fr, Assistance) => ("Aide", "J'ai du mal à payer mes factures, existe-t-il des aides ?"),
        (Language::Fr, Contract) => ("Contrat", "Je voudrais changer d'offre."),
        (Language::Fr, AccountUpdate) => ("Coordonnées", "Je voudrais changer mon adresse postale."),
        (Language::Fr, Complaint) => ("Réclamation", "Je souhaite déposer une réclamation sur le service."),
        (Language::Fr, _) => ("Question", "Avez-vous une agence en ville ?"),
        (_, Billing) => ("Bill", "Could you explain my latest bill?"),
        (_, Payment) => ("Payment", "I would like to know whether my payment has arrived."),
        (_, InstallmentPlan) => ("Payment plan", "Can I pay in instalments?"),
        (_, Outage) => ("Power cut", "We have had no power since this morning."),
        (_, Assistance) => ("Help", "I am struggling to pay my bills, is there any help?"),
        (_, Contract) => ("Contract", "I would like to change my tariff."),
        (_, AccountUpdate) => ("My details", "I would like to change my postal address."),
        (_, Complaint) => ("Complaint", "I want to make a complaint about the service."),
        (_, _) => ("Question", "Do you have an office in town?"),
    };
    let body = if intent == MeterReading { l.reading_message.replace("{reading}", &reading_for(l, l.customer, 150_000)) } else { body.to_string() };
    (if intent == MeterReading { reading_subject(l.lang) } else { subject }, body)
}

fn reading_subject(lang: Language) -> &'static str {
    match lang {
        Language::It => "Autolettura",
        Language::Es => "Lectura",
        Language::Fr => "Relevé",
        _ => "Meter reading",
    }
}

/// The customer's last electricity reading plus `more` thousandths of a kWh, written as they
/// would write it.
fn reading_for(l: &Lang, from: &str, more: i64) -> String {
    let data = demo_data();
    let data = data.read().unwrap();
    let customer = data.by_email(&email(from)).expect("a demo customer");
    let last = customer.supply_points[0].last_reading.as_ref().expect("a last reading");
    crate::locale::format_quantity(last.milli + more, "kWh", l.lang)
}

fn templates() -> &'static Templates {
    static T: std::sync::LazyLock<Templates> = std::sync::LazyLock::new(|| Templates::embedded().expect("templates load"));
    &T
}

/// The brand's phones, website and address, as `Pipeline::new` allows them, and the IBAN,
/// which config.rs documents as "always allowed by the fact-checker" (`Pipeline::new` does not
/// add it yet: until it does, payment replies that print it are held for approval).
fn allowlist(b: &BrandSettings) -> Allowlist {
    let fixed = [b.phone.as_str(), b.emergency_phone.as_str(), b.public_emergency.as_str(), b.website.as_str(), b.from_address.as_str(), b.iban.as_str()];
    Allowlist::new(fixed.into_iter().filter(|s| !s.is_empty()))
}

struct Rendered {
    label: String,
    draft: Draft,
    grounding: Grounding,
    identity: Identity,
    check: FactCheck,
}

impl Rendered {
    fn body(&self) -> &str {
        &self.draft.body
    }

    /// Fails showing the whole draft.
    fn fail(&self, why: &str) -> ! {
        panic!(
            "{}: {why}\n----- draft ({}) -----\n{}\n----- facts -----\n{}\n",
            self.label,
            self.draft.template,
            self.draft.body,
            serde_json::to_string_pretty(&self.grounding.view).unwrap_or_default()
        )
    }

    fn assert_contains(&self, what: &str, needle: &str) {
        assert!(!needle.is_empty(), "{}: empty value for {what}", self.label);
        if !self.body().contains(needle) {
            self.fail(&format!("the draft lacks {what} `{needle}`"));
        }
    }

    fn assert_lacks(&self, what: &str, needle: &str) {
        if !needle.is_empty() && self.body().contains(needle) {
            self.fail(&format!("the draft must not contain {what} `{needle}`"));
        }
    }

    fn assert_verified(&self) {
        let unverified: Vec<String> = self.check.unverified().map(|c| format!("{:?} `{}`", c.kind, c.text)).collect();
        if !unverified.is_empty() {
            self.fail(&format!("unverified claims: {}", unverified.join(", ")));
        }
    }

    /// A string in the grounding view, by path (`invoice.amount`, `payments.0.amount`).
    fn view(&self, path: &str) -> String {
        let mut v = &self.grounding.view;
        for part in path.split('.') {
            v = match part.parse::<usize>() {
                Ok(i) => &v[i],
                Err(_) => &v[part],
            };
        }
        match v {
            Value::String(s) => s.clone(),
            other => self.fail(&format!("no string at facts.{path}: {other}")),
        }
    }
}

struct Run<'a> {
    from: &'a str,
    intent: Intent,
    lang: Language,
    subject: &'a str,
    body: String,
    brand: BrandSettings,
    rules: InstallmentSettings,
}

impl<'a> Run<'a> {
    fn new(l: &Lang, from: &'a str, intent: Intent) -> Self {
        let (subject, body) = message(l, intent);
        Self { from, intent, lang: l.lang, subject, body, brand: BrandSettings::default(), rules: InstallmentSettings::default() }
    }

    fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    async fn render(self) -> Rendered {
        self.render_with(&demo(), |_| {}).await
    }

    /// Renders after `edit` has changed the grounding (for cases the demo data lacks).
    async fn render_with(self, connectors: &Connectors, edit: impl FnOnce(&mut Grounding)) -> Rendered {
        let label = format!("{} {} from {}", self.lang.as_str(), self.intent.as_str(), self.from);
        let a = admitted(&format!("From: {}\nSubject: {}\n\n{}", self.from, self.subject, self.body));
        let mut c = classify(&a);
        c.intent = self.intent;
        c.urgency = Urgency::Normal;
        c.language = self.lang;
        c.safety = None;
        let identity = identify::run(&a, &c, connectors.cis.as_ref()).await.expect("the demo CIS answers");
        let reference = format!("replies-test-{label}");
        let input = GroundInput {
            classification: &c,
            identity: &identity,
            lang: self.lang,
            reference: &reference,
            channel: "email",
            installments: &self.rules,
        };
        let mut grounding = ground::run(&input, connectors, &clock()).await;
        edit(&mut grounding);
        let draft_input = DraftInput {
            message: &a.message,
            classification: &c,
            identity: &identity,
            grounding: &grounding,
            brand: &self.brand,
            language: self.lang,
        };
        let draft = super::run(&draft_input, templates()).unwrap_or_else(|e| panic!("{label}: {e}"));
        let check = factcheck::run(&draft.body, &grounding.facts, &allowlist(&self.brand), self.lang);
        let r = Rendered { label, draft, grounding, identity, check };
        r.assert_verified();
        r
    }
}

#[tokio::test]
async fn every_flow_renders_and_verifies_for_every_sender() {
    for l in &LANGS {
        for &intent in Intent::ALL {
            for from in [l.customer, l.vulnerable, STRANGER] {
                let r = Run::new(l, from, intent).render().await;
                assert_eq!(r.identity.verified(), from != STRANGER, "{}", r.label);
                if r.body().contains("{{") || r.body().contains("{%") {
                    r.fail("template syntax leaked into the draft");
                }
            }
        }
    }
}

#[tokio::test]
async fn billing_explains_the_bill_and_sends_its_copy() {
    for l in &LANGS {
        let r = Run::new(l, l.customer, Intent::Billing).render().await;
        for key in ["invoice.amount", "invoice.due_date", "invoice.period_start", "invoice.period_end", "invoice.number"] {
            r.assert_contains(key, &r.view(key));
        }
        let lines = r.grounding.view["invoice"]["lines"].as_array().map_or(0, Vec::len);
        if lines < 3 {
            r.fail("the demo bill has fewer than three lines");
        }
        for i in 0..lines {
            r.assert_contains("a bill line", &r.view(&format!("invoice.lines.{i}.amount")));
        }
        assert_eq!(r.draft.attachments.len(), 1, "{}", r.label);
        r.assert_contains("the PDF copy", &r.view("invoice.pdf_filename"));
    }
}

/// The demo's latest bills have no adjustment: one is added the way the ground stage records it.
#[tokio::test]
async fn billing_explains_an_adjustment() {
    for l in &LANGS {
        let plain = Run::new(l, l.customer, Intent::Billing).render().await;
        let adjustment = Money(-642);
        let r = Run::new(l, l.customer, Intent::Billing)
            .render_with(&demo(), |g| {
                let lines = g.view["invoice"]["lines"].as_array().map_or(0, Vec::len);
                let key = format!("invoice.line.{lines}.amount");
                g.facts.push(Fact { key, value: FactValue::Money(adjustment), source: "test".into(), fetched_at: chrono::Utc::now() });
                let line = json!({"code": "previous_period", "kind": "adjustment", "amount": adjustment.format(l.lang)});
                g.view["invoice"]["lines"].as_array_mut().unwrap().push(line);
                g.view["invoice"]["has_adjustments"] = json!(true);
            })
            .await;
        r.assert_contains("the adjustment", &adjustment.format(l.lang));
        if r.body().len() <= plain.body().len() + adjustment.format(l.lang).len() {
            r.fail("the adjustment is listed but not explained");
        }
    }
}

#[tokio::test]
async fn billing_without_a_pdf_points_to_the_customer_area() {
    for l in &LANGS {
        let r = Run::new(l, l.customer, Intent::Billing)
            .render_with(&demo(), |g| {
                g.view["invoice"]["pdf_attached"] = json!(false);
                g.attachments.clear();
            })
            .await;
        r.assert_contains("the customer area", &BrandSettings::default().website);
        r.assert_lacks("the PDF file name", ".pdf");
    }
}

#[tokio::test]
async fn payment_gives_the_status_recent_payments_and_how_to_pay() {
    for l in &LANGS {
        for from in [l.customer, l.planner] {
            let r = Run::new(l, from, Intent::Payment).render().await;
            if r.grounding.view["balance_zero"] != json!(true) {
                r.assert_contains("the balance", &r.view("balance"));
            }
            r.assert_contains("the last payment", &r.view("payments.0.amount"));
            r.assert_contains("the last payment's date", &r.view("payments.0.date"));
            r.assert_contains("the IBAN", &BrandSettings::default().iban);
        }
        let mut run = Run::new(l, l.customer, Intent::Payment);
        run.brand.iban = String::new();
        let r = run.render().await;
        r.assert_lacks("the IBAN", &BrandSettings::default().iban);
        r.assert_lacks("a bank account", "IBAN ");
    }
}

#[tokio::test]
async fn instalments_simulate_the_plans_our_rules_allow() {
    for l in &LANGS {
        for from in [l.customer, l.planner] {
            let r = Run::new(l, from, Intent::InstallmentPlan).render().await;
            let Some(plans) = r.grounding.view["installments"].as_array().cloned() else {
                if r.grounding.view.get("installment_refusal").is_none() {
                    r.fail("neither plans nor a refusal");
                }
                continue;
            };
            for (i, _) in plans.iter().enumerate() {
                r.assert_contains("a plan's instalment", &r.view(&format!("installments.{i}.amount")));
                r.assert_contains("a plan's first due date", &r.view(&format!("installments.{i}.first_due")));
                r.assert_contains("a plan's count", &format!("{} ", r.view(&format!("installments.{i}.count"))));
            }
        }
    }
    // Marco Bianchi's balance allows all three.
    let r = Run::new(&LANGS[0], LANGS[0].planner, Intent::InstallmentPlan).render().await;
    let counts: Vec<String> = (0..3).map(|i| r.view(&format!("installments.{i}.count"))).collect();
    assert_eq!(counts, ["3", "6", "12"], "{}", r.body());
}

#[tokio::test]
async fn an_accepted_plan_is_acknowledged_not_opened() {
    for l in &LANGS {
        let r = Run::new(l, l.planner, Intent::InstallmentPlan).body(l.accept).render().await;
        if r.grounding.view.get("plan_request").is_none() {
            r.fail("the acceptance was not read as a plan request");
        }
        r.assert_contains("the accepted instalment", &r.view("plan_request.amount"));
        r.assert_contains("the accepted first due date", &r.view("plan_request.first_due"));
        // The simulation is not offered again.
        let other = r.grounding.view["installments"].as_array().cloned().unwrap_or_default();
        for (i, p) in other.iter().enumerate() {
            if p["count"] != r.grounding.view["plan_request"]["count"] {
                r.assert_lacks("another plan", &r.view(&format!("installments.{i}.amount")));
            }
        }
    }
}

#[tokio::test]
async fn every_refusal_is_explained_in_every_language() {
    let codes = ["nothing_due", "active_plan", "in_collections", "below_minimum", "not_eligible"];
    for l in &LANGS {
        let mut bodies = Vec::new();
        for code in codes {
            let r = Run::new(l, l.planner, Intent::InstallmentPlan)
                .render_with(&demo(), |g| {
                    let view = g.view.as_object_mut().unwrap();
                    view.remove("installments");
                    view.insert("installment_refusal".into(), json!(code));
                })
                .await;
            bodies.push(r.draft.body.clone());
        }
        for (i, a) in bodies.iter().enumerate() {
            for (j, b) in bodies.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "{}: refusals {} and {} read the same:\n{a}", l.lang.as_str(), codes[i], codes[j]);
            }
        }
    }
    // The demo CIS's own refusals, and our minimum balance.
    let fr = &LANGS[2];
    let r = Run::new(fr, "julien.bernard@courriel.example", Intent::InstallmentPlan).render().await;
    assert_eq!(r.grounding.view["installment_refusal"], "active_plan", "{}", r.body());
    let en = &LANGS[3];
    let r = Run::new(en, "sean.kelly@mail.example", Intent::InstallmentPlan).render().await;
    assert_eq!(r.grounding.view["installment_refusal"], "in_collections", "{}", r.body());
    let mut run = Run::new(en, en.customer, Intent::InstallmentPlan);
    run.rules.min_balance_cents = 1_000_000;
    let r = run.render().await;
    assert_eq!(r.grounding.view["installment_refusal"], "below_minimum", "{}", r.body());
    r.assert_contains("the balance", &r.view("balance"));
}

#[tokio::test]
async fn meter_readings_are_acknowledged_or_questioned_with_the_next_window() {
    for l in &LANGS {
        let r = Run::new(l, l.customer, Intent::MeterReading).render().await;
        if r.grounding.view["reading"]["plausible"] != json!(true) {
            r.fail("the test reading should be plausible");
        }
        r.assert_contains("the consumption", &r.view("reading.consumption"));
        r.assert_contains("the reading", &r.view("reading.value"));
        r.assert_contains("the window's start", &r.view("reading_window.start"));
        r.assert_contains("the window's end", &r.view("reading_window.end"));
        let plausible = r.draft.body.clone();

        // Lower than the last one, and far too high: both asked again.
        for more in [-10_000, 90_000_000] {
            let body = l.reading_message.replace("{reading}", &reading_for(l, l.customer, more));
            let r = Run::new(l, l.customer, Intent::MeterReading).body(body).render().await;
            if r.grounding.view["reading"]["plausible"] != json!(false) {
                r.fail("the test reading should be implausible");
            }
            r.assert_contains("the previous reading", &r.view("reading.previous"));
            r.assert_contains("the window's end", &r.view("reading_window.end"));
            assert_ne!(first_paragraphs(&plausible), first_paragraphs(r.body()), "{}", r.label);
        }

        // No reading in the message: asked for one.
        let r = Run::new(l, l.customer, Intent::MeterReading).body(message(l, Intent::Other).1).render().await;
        if r.grounding.view.get("reading").is_some() {
            r.fail("no reading was given");
        }
        r.assert_contains("the supply point", &r.view("supplies.0.id"));
        r.assert_contains("the window's start", &r.view("reading_window.start"));
    }
}

fn first_paragraphs(body: &str) -> String {
    body.split("\n\n").take(3).collect::<Vec<_>>().join("\n\n")
}

#[tokio::test]
async fn outages_give_the_status_or_a_fault_report_or_ask_where() {
    for l in &LANGS {
        let r = Run::new(l, l.in_outage, Intent::Outage).render().await;
        r.assert_contains("the estimated restoration", &r.view("outage.estimated_restoration"));
        r.assert_contains("the area", &r.view("outage.area"));

        let r = Run::new(l, l.customer, Intent::Outage).render().await;
        r.assert_contains("the fault report", &r.view("fault_report.id"));
        r.assert_contains("the emergency line", &BrandSettings::default().emergency_phone);

        // A stranger who says nothing of where: asked for the address, with safety advice.
        let r = Run::new(l, STRANGER, Intent::Outage).render().await;
        if r.grounding.view.get("fault_report").is_some() || r.grounding.view.get("outage").is_some() {
            r.fail("nothing should be known");
        }
        r.assert_contains("the emergency line", &BrandSettings::default().emergency_phone);
        r.assert_contains("the public emergency number", &BrandSettings::default().public_emergency);
    }
}

#[tokio::test]
async fn assistance_names_the_countrys_schemes_and_asks_consent_before_detail() {
    for l in &LANGS {
        // Not consented: the schemes and how to apply, and a request for consent.
        let without = Run::new(l, l.customer, Intent::Assistance).render().await;
        assert_eq!(without.grounding.view["assistance_consent"], json!(false), "{}", without.label);
        without.assert_contains("the country's scheme", l.scheme);
        // Consented (the vulnerable demo customers): who qualifies, too.
        let with = Run::new(l, l.vulnerable, Intent::Assistance).render().await;
        assert_eq!(with.grounding.view["assistance_consent"], json!(true), "{}", with.label);
        with.assert_contains("the country's scheme", l.scheme);
        if with.body().len() <= without.body().len() {
            with.fail("consent should add the eligibility detail");
        }
        let stranger = Run::new(l, STRANGER, Intent::Assistance).render().await;
        stranger.assert_contains("the language's country scheme", l.scheme);
    }
    // The customer's country, not the reply's language, picks the schemes.
    let r = Run::new(&LANGS[3], LANGS[0].customer, Intent::Assistance).render().await;
    r.assert_contains("Italy's scheme", "ISEE");
    r.assert_lacks("Ireland's scheme", "Household Benefits Package");
}

#[tokio::test]
async fn contract_and_account_changes_need_a_verified_sender() {
    for l in &LANGS {
        let r = Run::new(l, l.customer, Intent::Contract).render().await;
        r.assert_contains("the supply point", &r.view("supplies.0.id"));
        let r = Run::new(l, l.customer, Intent::AccountUpdate).render().await;
        r.assert_contains("the account", &r.view("account"));
        let verified = r.draft.body.clone();
        let r = Run::new(l, STRANGER, Intent::AccountUpdate).render().await;
        assert_ne!(verified, r.draft.body);
    }
}

#[tokio::test]
async fn complaints_go_to_a_person_without_a_deadline() {
    for l in &LANGS {
        let r = Run::new(l, l.customer, Intent::Complaint).render().await;
        r.assert_contains("the account", &r.view("account"));
        // No deadline or other figure: the only claim that is not the brand's is the account.
        for claim in &r.check.claims {
            let matched = claim.matched.as_deref().unwrap_or_default();
            if !(matched.starts_with("allowlist:") || matched == "customer.account") {
                r.fail(&format!("a figure in a complaint acknowledgement: `{}` ({matched})", claim.text));
            }
        }
    }
}

/// An unverified sender quoting a customer's account gets nothing of that account: no
/// number, supply point, amount or date from it.
#[tokio::test]
async fn a_stranger_learns_nothing_about_the_account_they_quote() {
    for l in &LANGS {
        for &intent in Intent::ALL {
            let owner = Run::new(l, l.customer, intent).render().await;
            let secrets: Vec<(String, String)> = owner
                .grounding
                .facts
                .iter()
                .filter(|f| !["outage.", "planned.", "fault_report.", "reading_window.", "installments.", "plan_request."].iter().any(|p| f.key.starts_with(p)))
                .map(|f| (f.key.clone(), crate::locale::format_fact(&f.value, l.lang)))
                .collect();
            let (_, body) = message(l, intent);
            let r = Run::new(l, STRANGER, intent).body(format!("{body}\n{}", l.stranger_quote)).render().await;
            for (key, value) in &secrets {
                r.assert_lacks(key, value);
            }
            if let Some(account_fact) = r.grounding.facts.iter().find(|f| f.key.starts_with("customer.") || f.key.starts_with("invoice.")) {
                r.fail(&format!("account fact grounded for a stranger: {}", account_fact.key));
            }
            if !r.draft.attachments.is_empty() {
                r.fail("a stranger got an attachment");
            }
        }
    }
    // A supply point in a stranger's message finds its area's outage, but the reply does not
    // say which area the supply point is in.
    let it = &LANGS[0];
    let r = Run::new(it, STRANGER, Intent::Outage).body("Siamo senza luce, POD IT001E00333222").render().await;
    r.assert_contains("the estimated restoration", &r.view("outage.estimated_restoration"));
    r.assert_lacks("the supply point's postcode", "10123");
}

#[tokio::test]
async fn vulnerable_customers_are_told_about_support() {
    for l in &LANGS {
        for intent in [Intent::Billing, Intent::Payment, Intent::InstallmentPlan] {
            let r = Run::new(l, l.vulnerable, intent).render().await;
            r.assert_contains("the support paragraph", l.support_heading);
            r.assert_contains("the country's scheme", l.scheme);
            let r = Run::new(l, l.customer, intent).render().await;
            r.assert_lacks("the support paragraph", l.support_heading);
        }
        // Without consent, help is offered but no scheme is described.
        let r = Run::new(l, l.vulnerable, Intent::Payment)
            .render_with(&demo(), |g| g.view["assistance_consent"] = json!(false))
            .await;
        r.assert_contains("the support paragraph", l.support_heading);
        r.assert_lacks("a scheme", l.scheme);
    }
}

#[tokio::test]
async fn tone_sets_the_greeting_and_sign_off_replaces_the_team_line() {
    for l in &LANGS {
        let formal = Run::new(l, l.customer, Intent::Billing).render().await;
        let mut run = Run::new(l, l.customer, Intent::Billing);
        run.brand.tone = Tone::Friendly;
        run.brand.sign_off = "Giorgia, Lucía, Chloé e Niamh".into();
        let friendly = run.render().await;
        let (first, last) = {
            let data = demo_data();
            let data = data.read().unwrap();
            let c = data.by_email(&email(l.customer)).unwrap();
            (c.first_name.clone(), c.last_name.clone())
        };
        let greeting = |r: &Rendered| r.body().lines().next().unwrap_or_default().to_string();
        if greeting(&formal) == greeting(&friendly) {
            friendly.fail("formal and friendly greet alike");
        }
        if !greeting(&formal).contains(&format!("{first} {last}")) {
            formal.fail("the formal greeting uses the full name");
        }
        if !greeting(&friendly).contains(&first) || greeting(&friendly).contains(&last) {
            friendly.fail("the friendly greeting uses the first name only");
        }
        formal.assert_contains("the default sign-off", l.default_sign_off);
        friendly.assert_contains("the configured sign-off", "Giorgia, Lucía, Chloé e Niamh");
        friendly.assert_lacks("the default sign-off", &format!("\n{}\n", l.default_sign_off));
        // A stranger is never greeted by name.
        let mut run = Run::new(l, STRANGER, Intent::Billing);
        run.brand.tone = Tone::Friendly;
        let r = run.render().await;
        r.assert_lacks("the customer's name", &first);
    }
}

#[tokio::test]
async fn safety_replies_keep_the_greeting_and_numbers() {
    for l in &LANGS {
        let (subject, _) = message(l, Intent::Outage);
        let a = admitted(&format!("From: {}\nSubject: {subject}\n\nC'è puzza di gas / huele a gas / ça sent le gaz / I smell gas", l.customer));
        let mut c = classify(&a);
        c.language = l.lang;
        c.urgency = Urgency::Emergency;
        let connectors = demo();
        let identity = identify::run(&a, &c, connectors.cis.as_ref()).await.unwrap();
        let rules = InstallmentSettings::default();
        let input = GroundInput { classification: &c, identity: &identity, lang: l.lang, reference: "safety", channel: "email", installments: &rules };
        let grounding = ground::run(&input, &connectors, &clock()).await;
        let brand = BrandSettings::default();
        let d = super::run(
            &DraftInput { message: &a.message, classification: &c, identity: &identity, grounding: &grounding, brand: &brand, language: l.lang },
            templates(),
        )
        .unwrap();
        let check = factcheck::run(&d.body, &grounding.facts, &allowlist(&brand), l.lang);
        assert!(check.all_verified(), "{:?}\n{}", check.unverified().collect::<Vec<_>>(), d.body);
        assert!(d.body.contains(&brand.public_emergency) && d.body.contains(&brand.emergency_phone), "{}", d.body);
    }
}

/// Reply templates print figures only from facts and brand settings: their own text has no
/// digit (a "within 30 days" would be a promise no system of record confirms).
#[test]
fn templates_contain_no_literal_digits() {
    let mut found = Vec::new();
    for (name, bytes) in crate::embedded::TEMPLATES.iter().filter(|(n, _)| n.starts_with("replies/")) {
        let text = String::from_utf8_lossy(bytes);
        for (n, line) in literal_text(&text).lines().enumerate() {
            if line.chars().any(|c| c.is_ascii_digit()) {
                found.push(format!("{name}:{}: {line}", n + 1));
            }
        }
    }
    assert!(found.is_empty(), "digits in template text:\n{}", found.join("\n"));
}

/// No template promises what only a person may grant. The fact-checker reads promises in
/// every draft; this reads every template's own text, including branches no test renders.
#[test]
fn templates_make_no_promises() {
    const PROMISES: &[&str] = &[
        // it
        "rimbors", "restituiremo", "riaccredit", "accrediteremo", "nota di credito", "storn", "condon", "abbuon", "sconto del",
        "sconto di ", "sconto sul", "gratuit", "gratis", "senza costi", "senza spese", "garantiamo", "garantiremo", "promettiamo",
        "indennizz", "risarc", "indennita", "non verra sospes", "non sospenderemo", "nessun distacco", "non dovra pagare",
        "nessuna mora", "nessun addebito",
        // es
        "reembols", "devolveremos", "reintegr", "abonaremos", "nota de abono", "descontaremos", "un descuento de", "descuento sobre",
        "rebaja", "sin recargo", "sin coste", "sin costo", "sin cargo", "garantizamos", "prometemos", "compensacion", "indemniz",
        "no le cortaremos", "no se cortara", "no suspenderemos", "no tendra que pagar", "anularemos",
        // fr
        "rembours", "un avoir", "crediterons", "une remise de", "une remise sur", "une reduction de", "une reduction sur", "rabais",
        "sans frais", "pas de frais", "sans penalite", "nous garantissons", "nous vous promettons", "dedommag", "indemnis",
        "geste commercial", "ne sera pas coupe", "pas de coupure", "nous ne couperons pas", "vous n'aurez rien a payer", "annulerons",
        // en
        "refund", "reimburs", "waiv", "write off", "credit your account", "a credit of", "credit note", "be credited", "a discount",
        "discounted", "free of charge", "for free", "at no cost", "no charge", "complimentary", "guarantee", "we promise",
        "compensat", "goodwill", "will not be disconnected", "won't be disconnected", "no disconnection", "cut off",
        "you will not have to pay", "you do not need to pay", "cancel the bill", "cancel your bill",
    ];
    let mut found = Vec::new();
    for (name, bytes) in crate::embedded::TEMPLATES.iter().filter(|(n, _)| n.starts_with("replies/")) {
        let text = crate::text::fold(&literal_text(&String::from_utf8_lossy(bytes))).replace('\n', " ");
        for p in PROMISES {
            if text.contains(p) {
                found.push(format!("{name}: {p}"));
            }
        }
    }
    assert!(found.is_empty(), "promises in template text:\n{}", found.join("\n"));
}

/// A template's own text: everything outside `{{ }}`, `{% %}` and `{# #}`.
fn literal_text(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find(['{']) {
        let (before, tail) = rest.split_at(start);
        out.push_str(before);
        let close = match tail.get(..2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            Some("{#") => "#}",
            _ => {
                out.push('{');
                rest = &tail[1..];
                continue;
            }
        };
        match tail.find(close) {
            Some(end) => {
                // Keep line structure so reported line numbers stay close.
                out.extend(tail[..end].chars().filter(|&c| c == '\n'));
                rest = &tail[end + close.len()..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn literal_text_skips_tags_comments_and_expressions() {
    assert_eq!(literal_text("a {{ x.0 }} b {% if n == 3 %}c{% endif %} {# 12 #}d"), "a  b c d");
}


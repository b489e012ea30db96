//! The demo data set behind the built-in CIS and OMS: 24 named customers that the sample
//! mailbox writes from, plus generated ones, with bills, payments and outages. Deterministic:
//! the same `as_of` date gives the same data, and every date is relative to it so the demo
//! never looks stale.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::cis::{
    Consents, Customer, CustomerKey, InstallmentEligibility, Invoice, InvoiceLine, InvoiceStatus,
    LineKind, MeterReading, Payment, PaymentMethod, PostalAddress, Statement, SupplyPoint,
};
use super::outage::{FaultReport, FaultReportRequest, Outage, OutageCause, Place};
use crate::domain::{
    AccountId, Commodity, EmailAddress, Language, Money, PhoneNumber, SupplyKind, SupplyPointId,
    cups_check_letters,
};

/// A change asked of the demo systems that they cannot make.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemoError {
    #[error("no account {0} in the demo CIS")]
    NoAccount(String),
    #[error("no outage {0} in the demo OMS")]
    NoOutage(String),
    #[error("a payment must be a positive amount")]
    NotPositive,
}

/// The demo data shared by the demo CIS, the demo OMS and the demo server, which can change it
/// (a payment arrives, a restoration time moves) the way live systems change under a reply.
pub type SharedDemo = std::sync::Arc<std::sync::RwLock<DemoData>>;

pub struct DemoData {
    pub as_of: NaiveDate,
    /// The demo's "now": `as_of` at the current time of day, or 10:00 when `as_of` is fixed.
    pub now: NaiveDateTime,
    customers: Vec<Customer>,
    statements: HashMap<AccountId, Statement>,
    by_email: HashMap<EmailAddress, usize>,
    by_account: HashMap<AccountId, usize>,
    by_supply: HashMap<SupplyPointId, usize>,
    by_phone: HashMap<PhoneNumber, usize>,
    pub outages: Vec<Outage>,
    /// Fault reports opened through the demo OMS, by idempotency key.
    fault_reports: HashMap<String, FaultReport>,
}

/// What the latest bill of a named customer looks like.
struct Latest {
    cents: i64,
    /// Days from `as_of` to the due date (negative: already due).
    due_in_days: i64,
    paid: bool,
}

struct Named {
    account: &'static str,
    first: &'static str,
    last: &'static str,
    email: &'static str,
    phone: &'static str,
    lang: Language,
    street: &'static str,
    postcode: &'static str,
    city: &'static str,
    supplies: &'static [(SupplyKind, &'static str, Commodity, &'static str, i64)],
    vulnerable: bool,
    latest: Latest,
}

use Commodity::{Electricity as E, Gas as G, Water as W};
use SupplyKind::*;

const fn due(cents: i64, due_in_days: i64) -> Latest {
    Latest { cents, due_in_days, paid: false }
}
const fn paid(cents: i64) -> Latest {
    Latest { cents, due_in_days: 10, paid: true }
}

#[rustfmt::skip]
static NAMED: &[Named] = &[
    Named { account: "40000001", first: "Giulia", last: "Rossi", email: "giulia.rossi@posta.example", phone: "+39 333 123 4567", lang: Language::It, street: "Via Torino 12", postcode: "20123", city: "Milano", supplies: &[(Pod, "IT001E00012345", E, "Luce Casa Fissa", 3_120_000), (Pdr, "00881234567890", G, "Gas Casa Variabile", 820_000)], vulnerable: false, latest: due(12_840, 15) },
    Named { account: "40000002", first: "Marco", last: "Bianchi", email: "marco.bianchi@posta.example", phone: "+39 347 555 0102", lang: Language::It, street: "Via Appia Nuova 210", postcode: "00183", city: "Roma", supplies: &[(Pod, "IT001E00098765", E, "Luce Casa Variabile", 5_410_000)], vulnerable: false, latest: due(21_275, -31) },
    Named { account: "40000003", first: "Anna", last: "Esposito", email: "anna.esposito@posta.example", phone: "+39 320 555 0103", lang: Language::It, street: "Via Toledo 85", postcode: "80134", city: "Napoli", supplies: &[(Pod, "IT002E00456789", E, "Luce Casa Fissa", 2_870_000)], vulnerable: true, latest: due(8_610, 10) },
    Named { account: "40000004", first: "Luca", last: "Ferrari", email: "luca.ferrari@posta.example", phone: "+39 339 555 0104", lang: Language::It, street: "Corso Vittorio Emanuele II 44", postcode: "10123", city: "Torino", supplies: &[(Pod, "IT001E00333222", E, "Luce Casa Fissa", 4_050_000)], vulnerable: false, latest: paid(9_480) },
    Named { account: "40000005", first: "Francesca", last: "Romano", email: "francesca.romano@posta.example", phone: "+39 348 555 0105", lang: Language::It, street: "Via dell'Indipendenza 8", postcode: "40121", city: "Bologna", supplies: &[(Pdr, "00885550001112", G, "Gas Casa Fissa", 2_410_000)], vulnerable: false, latest: paid(6_490) },
    Named { account: "40000006", first: "Paolo", last: "Colombo", email: "paolo.colombo@posta.example", phone: "+39 331 555 0106", lang: Language::It, street: "Via dei Calzaiuoli 5", postcode: "50122", city: "Firenze", supplies: &[(Pod, "IT001E00777111", E, "Luce Casa Variabile", 3_980_000), (Water, "WIT50122006", W, "Acqua Domestica", 212_000)], vulnerable: false, latest: paid(11_730) },
    Named { account: "40000011", first: "Lucía", last: "García López", email: "lucia.garcia@correo.example", phone: "+34 612 555 011", lang: Language::Es, street: "Calle de Alcalá 45", postcode: "28014", city: "Madrid", supplies: &[(Cups, "ES0021000012345678LB", E, "Tarifa Luz Estable", 3_340_000)], vulnerable: false, latest: due(7_430, 12) },
    Named { account: "40000012", first: "Javier", last: "Martínez Ruiz", email: "javier.martinez@correo.example", phone: "+34 622 555 012", lang: Language::Es, street: "Calle de Colón 20", postcode: "46004", city: "Valencia", supplies: &[(Cups, "ES0031405522670012SL", E, "Tarifa Luz Indexada", 6_120_000)], vulnerable: false, latest: due(15_620, -20) },
    Named { account: "40000013", first: "Carmen", last: "Sánchez Pérez", email: "carmen.sanchez@correo.example", phone: "+34 633 555 013", lang: Language::Es, street: "Avenida de la Constitución 10", postcode: "41004", city: "Sevilla", supplies: &[(Cups, "ES0022000098765432XS", E, "Tarifa Luz Estable", 2_560_000)], vulnerable: true, latest: due(5_875, 8) },
    Named { account: "40000014", first: "Alejandro", last: "Fernández Gil", email: "alejandro.fernandez@correo.example", phone: "+34 644 555 014", lang: Language::Es, street: "Carrer de Pelai 12", postcode: "08001", city: "Barcelona", supplies: &[(Cups, "ES0031000055512340VN", E, "Tarifa Luz Estable", 4_480_000)], vulnerable: false, latest: paid(8_215) },
    Named { account: "40000015", first: "María", last: "González Díaz", email: "maria.gonzalez@correo.example", phone: "+34 655 555 015", lang: Language::Es, street: "Gran Vía 30", postcode: "48011", city: "Bilbao", supplies: &[(Cups, "ES0027000123987654QL", G, "Gas Hogar", 4_390_000)], vulnerable: false, latest: due(9_140, 18) },
    Named { account: "40000016", first: "Pablo", last: "Rodríguez Moreno", email: "pablo.rodriguez@correo.example", phone: "+34 666 555 016", lang: Language::Es, street: "Paseo de la Independencia 8", postcode: "50004", city: "Zaragoza", supplies: &[(Cups, "ES0021000777123456NM", E, "Tarifa Luz Indexada", 3_760_000)], vulnerable: false, latest: paid(6_905) },
    Named { account: "40000021", first: "Camille", last: "Martin", email: "camille.martin@courriel.example", phone: "+33 6 55 50 21 21", lang: Language::Fr, street: "12 rue de la Paix", postcode: "75002", city: "Paris", supplies: &[(Pdl, "09115762391045", E, "Offre Électricité Fixe", 3_050_000)], vulnerable: false, latest: paid(9_735) },
    Named { account: "40000022", first: "Julien", last: "Bernard", email: "julien.bernard@courriel.example", phone: "+33 6 55 50 22 22", lang: Language::Fr, street: "8 rue de la République", postcode: "69001", city: "Lyon", supplies: &[(Pdl, "21437810996527", E, "Offre Heures Creuses", 5_230_000)], vulnerable: false, latest: due(18_460, -25) },
    Named { account: "40000023", first: "Sophie", last: "Dubois", email: "sophie.dubois@courriel.example", phone: "+33 6 55 50 23 23", lang: Language::Fr, street: "25 La Canebière", postcode: "13001", city: "Marseille", supplies: &[(Pdl, "30001234567890", E, "Offre Électricité Fixe", 2_740_000)], vulnerable: true, latest: due(7_220, 9) },
    Named { account: "40000024", first: "Nicolas", last: "Thomas", email: "nicolas.thomas@courriel.example", phone: "+33 6 55 50 24 24", lang: Language::Fr, street: "3 rue Nationale", postcode: "59000", city: "Lille", supplies: &[(Pdl, "19512345678901", E, "Offre Heures Creuses", 4_610_000)], vulnerable: false, latest: paid(10_320) },
    Named { account: "40000025", first: "Claire", last: "Robert", email: "claire.robert@courriel.example", phone: "+33 6 55 50 25 25", lang: Language::Fr, street: "17 rue d'Alsace-Lorraine", postcode: "31000", city: "Toulouse", supplies: &[(Pce, "GI071234", G, "Gaz Confort", 11_450_000)], vulnerable: false, latest: due(11_005, 14) },
    Named { account: "40000026", first: "Antoine", last: "Petit", email: "antoine.petit@courriel.example", phone: "+33 6 55 50 26 26", lang: Language::Fr, street: "5 quai de la Fosse", postcode: "44000", city: "Nantes", supplies: &[(Pdl, "25874123690147", E, "Offre Électricité Fixe", 44_880_000)], vulnerable: false, latest: paid(8_860) },
    Named { account: "40000031", first: "Emma", last: "Murphy", email: "emma.murphy@mail.example", phone: "+353 85 555 0131", lang: Language::En, street: "14 Baggot Street Lower", postcode: "D02 X285", city: "Dublin", supplies: &[(Mprn, "10012345678", E, "Home Electricity Standard", 3_610_000)], vulnerable: false, latest: due(9_560, 15) },
    Named { account: "40000032", first: "Sean", last: "Kelly", email: "sean.kelly@mail.example", phone: "+353 86 555 0132", lang: Language::En, street: "22 Oliver Plunkett Street", postcode: "T12 AB34", city: "Cork", supplies: &[(Mprn, "10098765432", E, "Home Electricity Night Saver", 6_880_000)], vulnerable: false, latest: due(24_315, -35) },
    Named { account: "40000033", first: "Aoife", last: "Byrne", email: "aoife.byrne@mail.example", phone: "+353 87 555 0133", lang: Language::En, street: "5 Eyre Square", postcode: "H91 CD56", city: "Galway", supplies: &[(Mprn, "10055566677", E, "Home Electricity Standard", 2_930_000)], vulnerable: true, latest: due(6_780, 11) },
    Named { account: "40000034", first: "Liam", last: "O'Brien", email: "liam.obrien@mail.example", phone: "+353 83 555 0134", lang: Language::En, street: "9 O'Connell Street", postcode: "V94 EF78", city: "Limerick", supplies: &[(Mprn, "10022233344", E, "Home Electricity Standard", 4_720_000)], vulnerable: false, latest: paid(11_210) },
    Named { account: "40000035", first: "Sarah", last: "Walsh", email: "sarah.walsh@mail.example", phone: "+353 89 555 0135", lang: Language::En, street: "31 Pembroke Road", postcode: "D04 GH90", city: "Dublin", supplies: &[(Gprn, "1234567", G, "Home Gas Standard", 7_650_000), (Mprn, "10077788899", E, "Home Electricity Standard", 23_120_000)], vulnerable: false, latest: due(13_290, 16) },
    Named { account: "40000036", first: "James", last: "Ryan", email: "james.ryan@mail.example", phone: "+353 85 555 0136", lang: Language::En, street: "2 The Quay", postcode: "X91 JK12", city: "Waterford", supplies: &[(Mprn, "10044455566", E, "Home Electricity Standard", 3_870_000)], vulnerable: false, latest: paid(7_945) },
];

struct Country {
    lang: Language,
    code: &'static str,
    domain: &'static str,
    first: &'static [&'static str],
    last: &'static [&'static str],
    /// (street, postcode, city)
    places: &'static [(&'static str, &'static str, &'static str)],
    electricity_tariffs: &'static [&'static str],
    gas_tariff: &'static str,
}

#[rustfmt::skip]
static COUNTRIES: [Country; 4] = [
    Country { lang: Language::It, code: "IT", domain: "posta.example",
        first: &["Alessandro", "Chiara", "Matteo", "Sara", "Lorenzo", "Martina", "Davide", "Elena", "Simone", "Valentina", "Federico", "Alessia", "Stefano", "Laura", "Andrea", "Silvia", "Roberto", "Paola", "Giorgio", "Marta"],
        last: &["Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso", "Ferrara"],
        places: &[("Via Garibaldi", "20121", "Milano"), ("Via Nazionale", "00184", "Roma"), ("Via Roma", "10121", "Torino"), ("Corso Umberto I", "80138", "Napoli"), ("Via Ugo Bassi", "40121", "Bologna"), ("Via Maqueda", "90133", "Palermo"), ("Via XX Settembre", "16121", "Genova"), ("Corso Italia", "50123", "Firenze"), ("Via Sparano", "70121", "Bari"), ("Riva degli Schiavoni", "30122", "Venezia")],
        electricity_tariffs: &["Luce Casa Fissa", "Luce Casa Variabile"], gas_tariff: "Gas Casa Variabile" },
    Country { lang: Language::Es, code: "ES", domain: "correo.example",
        first: &["Sergio", "Laura", "David", "Marta", "Daniel", "Elena", "Carlos", "Paula", "Jorge", "Sara", "Raúl", "Cristina", "Adrián", "Irene", "Rubén", "Nuria", "Iván", "Beatriz", "Diego", "Alba"],
        last: &["López", "Hernández", "Jiménez", "Ruiz", "Moreno", "Muñoz", "Álvarez", "Romero", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos", "Gil", "Serrano", "Blanco", "Molina", "Ortega", "Delgado", "Castro"],
        places: &[("Calle Mayor", "28013", "Madrid"), ("Calle de Xàtiva", "46002", "Valencia"), ("Calle Sierpes", "41004", "Sevilla"), ("Carrer de Balmes", "08007", "Barcelona"), ("Calle Larios", "29005", "Málaga"), ("Calle Ercilla", "48009", "Bilbao"), ("Calle Alfonso I", "50003", "Zaragoza"), ("Calle Uría", "33003", "Oviedo"), ("Calle Real", "15003", "A Coruña"), ("Calle Triana", "35002", "Las Palmas")],
        electricity_tariffs: &["Tarifa Luz Estable", "Tarifa Luz Indexada"], gas_tariff: "Gas Hogar" },
    Country { lang: Language::Fr, code: "FR", domain: "courriel.example",
        first: &["Lucas", "Léa", "Hugo", "Manon", "Louis", "Chloé", "Théo", "Emma", "Arthur", "Inès", "Raphaël", "Sarah", "Mathis", "Jade", "Nathan", "Louise", "Paul", "Alice", "Gabriel", "Zoé"],
        last: &["Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet"],
        places: &[("rue de Rivoli", "75004", "Paris"), ("rue Victor Hugo", "69002", "Lyon"), ("rue Paradis", "13006", "Marseille"), ("rue de Béthune", "59800", "Lille"), ("rue de Metz", "31000", "Toulouse"), ("cours de l'Intendance", "33000", "Bordeaux"), ("rue Crébillon", "44000", "Nantes"), ("avenue Jean Médecin", "06000", "Nice"), ("rue des Grandes Arcades", "67000", "Strasbourg"), ("rue de la Loge", "34000", "Montpellier")],
        electricity_tariffs: &["Offre Électricité Fixe", "Offre Heures Creuses"], gas_tariff: "Gaz Confort" },
    Country { lang: Language::En, code: "IE", domain: "mail.example",
        first: &["Conor", "Niamh", "Ciarán", "Siobhán", "Patrick", "Orla", "Darragh", "Ciara", "Eoin", "Sinéad", "Cian", "Grace", "Oisín", "Róisín", "Declan", "Laura", "Fionn", "Aisling", "Kevin", "Clodagh"],
        last: &["Doyle", "McCarthy", "Gallagher", "Doherty", "Kennedy", "Lynch", "Murray", "Quinn", "Moore", "McLoughlin", "Carroll", "Connolly", "Daly", "Connell", "Wilson", "Dunne", "Brennan", "Burke", "Collins", "Campbell"],
        places: &[("Dame Street", "D02 P656", "Dublin"), ("Patrick Street", "T12 W2KD", "Cork"), ("Shop Street", "H91 E2K3", "Galway"), ("Henry Street", "V94 T9PX", "Limerick"), ("The Mall", "X91 K3F2", "Waterford"), ("Main Street", "A91 X2E4", "Dundalk"), ("Castle Street", "F91 NX72", "Sligo"), ("High Street", "R95 D9Y0", "Kilkenny"), ("Rathmines Road", "D06 F6K2", "Dublin"), ("Quay Street", "H91 R2CW", "Galway")],
        electricity_tariffs: &["Home Electricity Standard", "Home Electricity Night Saver"], gas_tariff: "Home Gas Standard" },
];

/// SplitMix64: small, fast and stable across platforms and releases, which is all a demo
/// data set needs (the `rand` crates change their streams between versions).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }
}

impl DemoData {
    /// `total` customers (at least the named ones), with `as_of` as the demo's today and
    /// `now` as its current time.
    pub fn generate(as_of: NaiveDate, now: NaiveDateTime, total: u32) -> Self {
        let mut data = DemoData {
            as_of,
            now,
            customers: Vec::with_capacity(total as usize),
            statements: HashMap::new(),
            by_email: HashMap::new(),
            by_account: HashMap::new(),
            by_supply: HashMap::new(),
            by_phone: HashMap::new(),
            outages: Vec::new(),
            fault_reports: HashMap::new(),
        };
        for (index, named) in NAMED.iter().enumerate() {
            let customer = named_customer(named, as_of);
            let mut rng = Rng::new(index as u64);
            let method = if named.latest.due_in_days < 0 { PaymentMethod::PostalSlip } else { PaymentMethod::DirectDebit };
            let statement = statement_for(&customer, index, &named.latest, method, as_of, &mut rng);
            data.insert(customer, statement);
        }
        let generated = total.saturating_sub(NAMED.len() as u32);
        for n in 0..generated {
            let index = NAMED.len() + n as usize;
            let mut rng = Rng::new(index as u64);
            let country = &COUNTRIES[n as usize % COUNTRIES.len()];
            let customer = generated_customer(country, 40_000_100 + n, as_of, &mut rng);
            let latest = if rng.chance(55) {
                paid(rng.range(4_000, 26_000))
            } else {
                due(rng.range(4_000, 26_000), rng.range(-40, 20))
            };
            let method = *rng.pick(&[
                PaymentMethod::DirectDebit,
                PaymentMethod::DirectDebit,
                PaymentMethod::Card,
                PaymentMethod::BankTransfer,
                PaymentMethod::PostalSlip,
            ]);
            let statement = statement_for(&customer, index, &latest, method, as_of, &mut rng);
            data.insert(customer, statement);
        }
        data.outages = outages(as_of, now);
        data
    }

    fn insert(&mut self, customer: Customer, statement: Statement) {
        let i = self.customers.len();
        if let Some(email) = &customer.email {
            self.by_email.insert(email.clone(), i);
        }
        self.by_account.insert(customer.account.clone(), i);
        for sp in &customer.supply_points {
            self.by_supply.insert(sp.id.clone(), i);
        }
        if let Some(phone) = &customer.phone {
            self.by_phone.insert(phone.clone(), i);
        }
        self.statements.insert(customer.account.clone(), statement);
        self.customers.push(customer);
    }

    pub fn customers(&self) -> &[Customer] {
        &self.customers
    }

    pub fn find(&self, key: &CustomerKey) -> Option<&Customer> {
        let index = match key {
            CustomerKey::Email(e) => self.by_email.get(e),
            CustomerKey::Phone(p) => self.by_phone.get(p),
            CustomerKey::Account(a) => self.by_account.get(a),
            CustomerKey::SupplyPoint(s) => self.by_supply.get(s),
        };
        index.map(|&i| &self.customers[i])
    }

    pub fn by_email(&self, email: &EmailAddress) -> Option<&Customer> {
        self.find(&CustomerKey::Email(email.clone()))
    }

    pub fn by_account(&self, account: &AccountId) -> Option<&Customer> {
        self.find(&CustomerKey::Account(account.clone()))
    }

    pub fn statement(&self, account: &AccountId) -> Option<&Statement> {
        self.statements.get(account)
    }

    /// The demo CIS's rule: a plan needs something due, no plan already running and no debt
    /// passed to collections; up to 12 instalments, 6 for balances under 100 €.
    pub fn installment_eligibility(&self, account: &AccountId) -> Option<InstallmentEligibility> {
        let st = self.statements.get(account)?;
        let refusal = if st.balance.cents() <= 0 {
            Some("nothing_due")
        } else if ACTIVE_PLAN.contains(&account.as_str()) {
            Some("active_plan")
        } else if IN_COLLECTIONS.contains(&account.as_str()) {
            Some("in_collections")
        } else {
            None
        };
        Some(InstallmentEligibility {
            eligible: refusal.is_none(),
            reason: refusal.map(String::from),
            max_instalments: if st.balance.cents() < 10_000 { 6 } else { 12 },
        })
    }

    /// A one-page PDF copy of a bill, generated from its data.
    pub fn invoice_pdf(&self, account: &AccountId, number: &str) -> Option<Vec<u8>> {
        let customer = self.by_account(account)?;
        let invoice = self.statements.get(account)?.invoices.iter().find(|i| i.number == number)?;
        Some(super::pdf::invoice(customer, invoice))
    }

    /// Current and planned outages for a place; a supply point is looked up by its address.
    pub fn outages_at(&self, place: &Place) -> Vec<Outage> {
        let postcode = match place {
            Place::Postcode(p) => Some(p.clone()),
            Place::Area(area) => {
                let area = super::outage::normalise_postcode(area);
                return self.outages.iter().filter(|o| super::outage::normalise_postcode(&o.area) == area).cloned().collect();
            }
            Place::SupplyPoint(id) => self.by_supply.get(id).map(|&i| self.customers[i].address.postcode.clone()),
        };
        match postcode {
            Some(pc) => self.outages.iter().filter(|o| o.covers(&pc)).cloned().collect(),
            None => Vec::new(),
        }
    }

    /// The fault report opened with this idempotency key, if any.
    pub fn fault_report(&self, idempotency_key: &str) -> Option<&FaultReport> {
        self.fault_reports.get(idempotency_key)
    }

    /// Opens a fault report, or returns the one opened before with the same key.
    pub fn open_fault_report(&mut self, request: &FaultReportRequest, at: chrono::DateTime<chrono::Utc>) -> FaultReport {
        let next = self.fault_reports.len() + 1;
        let prefix = self.as_of.format("%Y%m%d");
        self.fault_reports
            .entry(request.idempotency_key.clone())
            .or_insert_with(|| FaultReport { id: format!("FR-{prefix}-{next:05}"), opened_at: at })
            .clone()
    }

    /// A payment arrives: it settles the oldest unpaid bills it covers and lowers the balance.
    pub fn record_payment(&mut self, account: &AccountId, amount: Money, date: NaiveDate) -> Result<(), DemoError> {
        if amount.cents() <= 0 {
            return Err(DemoError::NotPositive);
        }
        let st = self.statements.get_mut(account).ok_or_else(|| DemoError::NoAccount(account.to_string()))?;
        let mut left = amount.cents();
        let mut settled = None;
        for inv in st.invoices.iter_mut().rev().filter(|i| i.status != InvoiceStatus::Paid) {
            if left < inv.amount.cents() {
                break;
            }
            left -= inv.amount.cents();
            inv.status = InvoiceStatus::Paid;
            settled = Some(inv.number.clone());
        }
        let method = st.payments.first().map_or(PaymentMethod::BankTransfer, |p| p.method);
        let invoice = settled.or_else(|| st.invoices.first().map(|i| i.number.clone())).unwrap_or_default();
        st.payments.insert(0, Payment { date, amount, method, invoice });
        st.balance = Money((st.balance.cents() - amount.cents()).max(0));
        Ok(())
    }

    /// The OMS revises an outage's estimated restoration.
    pub fn set_restoration(&mut self, outage: &str, at: Option<NaiveDateTime>) -> Result<(), DemoError> {
        let o = self.outages.iter_mut().find(|o| o.id == outage).ok_or_else(|| DemoError::NoOutage(outage.into()))?;
        o.estimated_restoration = at;
        Ok(())
    }
}

/// Demo accounts the CIS refuses a new plan for (to show the refusal replies).
const ACTIVE_PLAN: &[&str] = &["40000022"];
const IN_COLLECTIONS: &[&str] = &["40000032"];

fn named_customer(n: &Named, as_of: NaiveDate) -> Customer {
    let country = match n.lang {
        Language::It => "IT",
        Language::Es => "ES",
        Language::Fr => "FR",
        _ => "IE",
    };
    Customer {
        account: AccountId::parse(n.account).expect("named accounts are valid"),
        first_name: n.first.into(),
        last_name: n.last.into(),
        email: Some(EmailAddress::parse(n.email).expect("named e-mails are valid")),
        phone: PhoneNumber::parse(n.phone).ok(),
        language: n.lang,
        address: PostalAddress {
            street: n.street.into(),
            postcode: n.postcode.into(),
            city: n.city.into(),
            country: country.into(),
        },
        supply_points: n
            .supplies
            .iter()
            .map(|&(kind, id, commodity, tariff, reading)| SupplyPoint {
                id: SupplyPointId::normalise(id),
                kind,
                commodity,
                tariff: tariff.into(),
                last_reading: Some(MeterReading {
                    date: as_of - Duration::days(35),
                    milli: reading,
                    unit: unit_for(commodity, n.lang).into(),
                }),
            })
            .collect(),
        vulnerable: n.vulnerable,
        consents: Consents { marketing_email: false, assistance_contact: n.vulnerable, whatsapp: true, updated_at: None },
    }
}

fn generated_customer(c: &Country, number: u32, as_of: NaiveDate, rng: &mut Rng) -> Customer {
    let first = *rng.pick(c.first);
    let last = *rng.pick(c.last);
    let (street, postcode, city) = *rng.pick(c.places);
    let serial = number - 40_000_000;
    let email = format!(
        "{}.{}.{}@{}",
        ascii_slug(first),
        ascii_slug(last),
        serial,
        c.domain
    );
    let has_gas = rng.chance(35);
    let mut supplies = vec![electricity_point(c, serial, rng)];
    if has_gas {
        supplies.push(gas_point(c, serial, rng));
    }
    if c.lang == Language::It && rng.chance(15) {
        supplies.push(SupplyPoint {
            id: SupplyPointId::normalise(&format!("W{}{:08}", c.code, serial)),
            kind: SupplyKind::Water,
            commodity: Commodity::Water,
            tariff: "Acqua Domestica".into(),
            last_reading: None,
        });
    }
    for sp in &mut supplies {
        let milli = match sp.commodity {
            Commodity::Electricity => rng.range(2_000, 40_000) * 1000,
            Commodity::Gas => rng.range(500, 12_000) * 1000,
            Commodity::Water => rng.range(100, 900) * 1000,
        };
        sp.last_reading = Some(MeterReading {
            date: as_of - Duration::days(rng.range(20, 70)),
            milli,
            unit: unit_for(sp.commodity, c.lang).into(),
        });
    }
    Customer {
        account: AccountId::parse(&number.to_string()).expect("generated accounts are valid"),
        first_name: first.into(),
        last_name: last.into(),
        email: EmailAddress::parse(&email).ok(),
        phone: PhoneNumber::parse(&phone_for(c.lang, rng)).ok(),
        language: c.lang,
        address: PostalAddress {
            street: format!("{} {}", street, rng.range(1, 180)),
            postcode: postcode.into(),
            city: city.into(),
            country: c.code.into(),
        },
        supply_points: supplies,
        vulnerable: rng.chance(6),
        consents: Consents {
            marketing_email: rng.chance(30),
            assistance_contact: rng.chance(20),
            whatsapp: rng.chance(60),
            updated_at: None,
        },
    }
}

fn electricity_point(c: &Country, serial: u32, rng: &mut Rng) -> SupplyPoint {
    let (kind, id) = match c.lang {
        Language::It => (SupplyKind::Pod, format!("IT00{}E{:04}{}", rng.range(1, 3), serial, rng.digits(4))),
        Language::Es => (SupplyKind::Cups, cups(&format!("0021{:06}{}", serial, rng.digits(6)))),
        Language::Fr => (SupplyKind::Pdl, format!("{:06}{}", serial, rng.digits(8))),
        _ => (SupplyKind::Mprn, format!("100{:04}{}", serial, rng.digits(4))),
    };
    SupplyPoint {
        id: SupplyPointId::normalise(&id),
        kind,
        commodity: Commodity::Electricity,
        tariff: (*rng.pick(c.electricity_tariffs)).into(),
        last_reading: None,
    }
}

fn gas_point(c: &Country, serial: u32, rng: &mut Rng) -> SupplyPoint {
    let (kind, id) = match c.lang {
        Language::It => (SupplyKind::Pdr, format!("0088{:04}{}", serial, rng.digits(6))),
        Language::Es => (SupplyKind::Cups, cups(&format!("0027{:06}{}", serial, rng.digits(6)))),
        Language::Fr => (SupplyKind::Pce, format!("GI{:04}{}", serial, rng.digits(2))),
        _ => (SupplyKind::Gprn, format!("{:04}{}", serial, rng.digits(3))),
    };
    SupplyPoint {
        id: SupplyPointId::normalise(&id),
        kind,
        commodity: Commodity::Gas,
        tariff: c.gas_tariff.into(),
        last_reading: None,
    }
}

fn cups(digits16: &str) -> String {
    let [a, b] = cups_check_letters(digits16).expect("16 digits");
    format!("ES{digits16}{a}{b}")
}

fn phone_for(lang: Language, rng: &mut Rng) -> String {
    match lang {
        Language::It => format!("+39 3{} {} {}", rng.digits(2), rng.digits(3), rng.digits(4)),
        Language::Es => format!("+34 6{} {} {}", rng.digits(2), rng.digits(3), rng.digits(3)),
        Language::Fr => format!("+33 6 {} {} {} {}", rng.digits(2), rng.digits(2), rng.digits(2), rng.digits(2)),
        _ => format!("+353 8{} {} {}", rng.range(3, 9), rng.digits(3), rng.digits(4)),
    }
}

fn unit_for(commodity: Commodity, lang: Language) -> &'static str {
    match (commodity, lang) {
        (Commodity::Electricity, _) => "kWh",
        (Commodity::Gas, Language::It) => "Smc",
        (Commodity::Gas, _) => "m3",
        (Commodity::Water, _) => "m3",
    }
}

/// `"García López"` → `"garcialopez"`: e-mail local parts of generated customers.
fn ascii_slug(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            let folded = crate::text::fold_char(c);
            folded.is_ascii_alphanumeric().then(|| folded.to_ascii_lowercase())
        })
        .collect()
}

/// Six bi-monthly bills, the latest shaped by `latest`, older ones paid.
fn statement_for(
    customer: &Customer,
    index: usize,
    latest: &Latest,
    method: PaymentMethod,
    as_of: NaiveDate,
    rng: &mut Rng,
) -> Statement {
    let supply = &customer.supply_points[0];
    let mut invoices = Vec::new();
    let mut payments = Vec::new();
    let latest_due = as_of + Duration::days(latest.due_in_days);
    for seq in 0..6i64 {
        let due = shift_months(latest_due, -2 * seq as i32);
        let issued = due - Duration::days(20);
        let period_end = first_of_month(issued) - Duration::days(1);
        let period_start = shift_months(first_of_month(period_end), -1);
        let cents = if seq == 0 {
            latest.cents
        } else {
            latest.cents * rng.range(75, 125) / 100
        };
        let paid = seq > 0 || latest.paid;
        let status = match (paid, due < as_of) {
            (true, _) => InvoiceStatus::Paid,
            (false, true) => InvoiceStatus::Overdue,
            (false, false) => InvoiceStatus::Unpaid,
        };
        let number = format!("F{}-{:07}", issued.year(), 11_452 + index * 97 + seq as usize * 13);
        let (fixed, variable, taxes, adjustments) = split_amount(cents, seq == 2 && rng.chance(40));
        let per_day = match supply.commodity {
            Commodity::Electricity => rng.range(5_000, 11_000),
            Commodity::Gas => rng.range(1_000, 4_000),
            Commodity::Water => rng.range(200, 600),
        };
        let days = (period_end - period_start).num_days() + 1;
        invoices.push(Invoice {
            number: number.clone(),
            supply_point: supply.id.clone(),
            commodity: supply.commodity,
            period_start,
            period_end,
            issued,
            due,
            amount: Money(cents),
            fixed,
            variable,
            taxes,
            adjustments,
            consumption_milli: (per_day * days / 1000) * 1000,
            consumption_unit: supply
                .last_reading
                .as_ref()
                .map(|r| r.unit.clone())
                .unwrap_or_else(|| "kWh".into()),
            status,
            lines: lines(supply.commodity, fixed, variable, taxes, adjustments),
        });
        if paid {
            let date = if seq == 0 { as_of - Duration::days(4) } else { due - Duration::days(rng.range(0, 4)) };
            payments.push(Payment { date, amount: Money(cents), method, invoice: number });
        }
    }
    let balance = invoices
        .iter()
        .filter(|i| i.status != InvoiceStatus::Paid)
        .map(|i| i.amount)
        .sum();
    Statement { invoices, payments, balance }
}

/// The lines of a bill, named by code; zero adjustments are left out.
fn lines(commodity: Commodity, fixed: Money, variable: Money, taxes: Money, adjustments: Money) -> Vec<InvoiceLine> {
    let usage = match commodity {
        Commodity::Electricity => "energy",
        Commodity::Gas => "gas",
        Commodity::Water => "water",
    };
    let mut out = vec![
        InvoiceLine { kind: LineKind::Fixed, code: "standing_charge".into(), amount: fixed },
        InvoiceLine { kind: LineKind::Variable, code: usage.into(), amount: variable },
        InvoiceLine { kind: LineKind::Tax, code: "taxes".into(), amount: taxes },
    ];
    if !adjustments.is_zero() {
        out.push(InvoiceLine { kind: LineKind::Adjustment, code: "previous_period".into(), amount: adjustments });
    }
    out
}

/// Splits a bill into fixed, variable, taxes and adjustments that add up exactly.
fn split_amount(cents: i64, with_adjustment: bool) -> (Money, Money, Money, Money) {
    let adjustments = if with_adjustment { -(cents / 20) } else { 0 };
    let base = cents - adjustments;
    let taxes = base * 18 / 100;
    let fixed = (base - taxes) * 30 / 100;
    let variable = base - taxes - fixed;
    (Money(fixed), Money(variable), Money(taxes), Money(adjustments))
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists")
}

fn shift_months(d: NaiveDate, months: i32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + months;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12) as u32);
    let mut day = d.day();
    loop {
        if let Some(shifted) = NaiveDate::from_ymd_opt(year, month0 + 1, day) {
            return shifted;
        }
        day -= 1;
    }
}

fn at(date: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
    date.and_time(NaiveTime::from_hms_opt(h, m, 0).expect("valid time"))
}

/// Current outages start a few hours before `now` and end a few hours after it; planned works
/// are in the coming days.
fn outages(as_of: NaiveDate, now: NaiveDateTime) -> Vec<Outage> {
    let round = |t: NaiveDateTime| at(t.date(), t.time().format("%H").to_string().parse().unwrap_or(0), 0);
    let current = |id: &str, area: &str, cause, back_h: i64, ahead_h: i64, affected| Outage {
        id: id.into(),
        area: area.into(),
        commodity: Commodity::Electricity,
        cause,
        starts_at: round(now - Duration::hours(back_h)) + Duration::minutes(20),
        estimated_restoration: Some(round(now + Duration::hours(ahead_h)) + Duration::minutes(30)),
        customers_affected: affected,
        planned: false,
    };
    let planned = |id: &str, area: &str, commodity, in_days: i64, from: u32, to: u32, affected| Outage {
        id: id.into(),
        area: area.into(),
        commodity,
        cause: OutageCause::PlannedMaintenance,
        starts_at: at(as_of + Duration::days(in_days), from, 0),
        estimated_restoration: Some(at(as_of + Duration::days(in_days), to, 0)),
        customers_affected: affected,
        planned: true,
    };
    vec![
        current("OUT-IT-0001", "10123", OutageCause::EquipmentFailure, 2, 3, 1_240),
        current("OUT-ES-0001", "08001", OutageCause::StormDamage, 1, 4, 860),
        current("OUT-FR-0001", "59000", OutageCause::ThirdPartyDamage, 3, 2, 2_105),
        current("OUT-IE-0001", "V94", OutageCause::StormDamage, 4, 6, 3_410),
        current("OUT-IT-0002", "90133", OutageCause::NetworkOverload, 1, 2, 530),
        current("OUT-ES-0002", "29005", OutageCause::EquipmentFailure, 2, 2, 410),
        planned("PLN-IT-0001", "50122", Commodity::Water, 3, 8, 14, 620),
        planned("PLN-ES-0001", "46004", Commodity::Electricity, 5, 9, 13, 340),
        planned("PLN-FR-0001", "33000", Commodity::Electricity, 4, 8, 12, 780),
        planned("PLN-IE-0001", "D06", Commodity::Electricity, 6, 10, 15, 950),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> DemoData {
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        DemoData::generate(as_of, at(as_of, 10, 0), 520)
    }

    #[test]
    fn same_date_same_data() {
        let (a, b) = (data(), data());
        assert_eq!(a.customers(), b.customers());
        assert_eq!(a.customers().len(), 520);
    }

    #[test]
    fn every_lookup_key_is_unique() {
        let d = data();
        assert_eq!(d.by_account.len(), 520);
        assert_eq!(d.by_email.len(), 520);
        let supplies: usize = d.customers().iter().map(|c| c.supply_points.len()).sum();
        assert_eq!(d.by_supply.len(), supplies);
        assert_eq!(d.by_phone.len(), 520);
    }

    #[test]
    fn named_customer_bill_matches_spec() {
        let d = data();
        let giulia = d.by_email(&EmailAddress::parse("giulia.rossi@posta.example").unwrap()).unwrap();
        let st = d.statement(&giulia.account).unwrap();
        assert_eq!(st.invoices[0].number, "F2026-0011452");
        assert_eq!(st.invoices[0].amount, Money(12_840));
        assert_eq!(st.invoices[0].status, InvoiceStatus::Unpaid);
        assert_eq!(st.balance, Money(12_840));
        let marco = d.by_account(&AccountId::parse("40000002").unwrap()).unwrap();
        assert_eq!(d.statement(&marco.account).unwrap().invoices[0].status, InvoiceStatus::Overdue);
    }

    #[test]
    fn bill_parts_add_up() {
        let d = data();
        for c in d.customers() {
            for inv in &d.statement(&c.account).unwrap().invoices {
                assert_eq!(inv.fixed + inv.variable + inv.taxes + inv.adjustments, inv.amount, "{}", inv.number);
                assert!(inv.period_start < inv.period_end && inv.period_end < inv.issued && inv.issued < inv.due);
            }
        }
    }

    #[test]
    fn generated_cups_carry_valid_check_letters() {
        let d = data();
        for sp in d.customers().iter().flat_map(|c| &c.supply_points).filter(|s| s.kind == SupplyKind::Cups) {
            let id = sp.id.as_str();
            let letters = cups_check_letters(&id[2..18]).unwrap();
            assert_eq!(&id[18..20], letters.iter().collect::<String>(), "{id}");
        }
    }

    #[test]
    fn eircode_routing_key_outage_covers_full_eircode() {
        let d = data();
        let o = d.outages.iter().find(|o| o.area == "V94").unwrap();
        assert!(o.covers("V94 EF78"));
        assert!(!o.covers("D02 X285"));
    }
}

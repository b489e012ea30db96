//! Stage 7, factcheck: every checkable claim in a draft — money, dates, times, durations,
//! quantities, instalment counts, percentages, identifiers, phone numbers, URLs, e-mail
//! addresses, any other number, and promises such as a refund or a waived bill — must match a
//! fact or the allowlist. An unmatched claim blocks automatic sending and is listed for the
//! approver.
//!
//! It runs on every draft and again before every send, so a draft is read in few passes: one
//! fold (see [`fold`]), one walk that tries each kind of figure only where one can start
//! ([`patterns`]), a look-up of promise phrases at the words that can open one
//! ([`commitments`]), and the URL and e-mail patterns only when the draft has a `www`, `http`
//! or `@` for them to find.

mod commitments;
mod fold;
mod patterns;

use std::ops::Range;
use std::sync::LazyLock;

use chrono::{Datelike, Timelike};
use regex::Regex;
use serde::Serialize;

use crate::config::Settings;
use crate::domain::{Claim, ClaimKind, ClaimValue, Fact, FactValue, Language};
use crate::locale;
use fold::Folded;

/// Claims that are always true: the brand's phones, website and address, and configured extras.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    entries: Vec<Allowed>,
}

#[derive(Debug, Clone)]
struct Allowed {
    /// `allowlist:<entry>`, what a claim it allows is marked as matching.
    label: String,
    kind: ClaimKind,
    value: ClaimValue,
    /// For a commitment: the whole entry, folded, and where the promise starts in it. The
    /// draft must contain that wording around its promise; allowing one refund sentence must
    /// not allow every refund.
    wording: Option<(String, usize)>,
}

impl Allowlist {
    /// Each entry is read with the same extractor as drafts, so `800 123 456`,
    /// `https://www.aurora.example` and `112` become the claims they would be in a reply, and
    /// a sentence with a promise allows that sentence.
    pub fn new<'a>(entries: impl IntoIterator<Item = &'a str>) -> Self {
        let mut out = Vec::new();
        for entry in entries {
            let read = Read::new(entry, Language::En);
            // A promise's wording: the entry without the spaces and the full stop around it.
            let text = &read.folded.text;
            let lead = text.len() - text.trim_start().len();
            let wording = text.trim().trim_end_matches(['.', '!', ';', ',']);
            for found in read.found {
                let wording = (found.claim.kind == ClaimKind::Commitment)
                    .then(|| (wording.to_string(), found.folded.start.saturating_sub(lead)));
                out.push(Allowed {
                    label: format!("allowlist:{entry}"),
                    kind: found.claim.kind,
                    value: found.claim.value,
                    wording,
                });
            }
        }
        Self { entries: out }
    }

    /// The brand's phone numbers, website and address, and `factcheck.allowlist`.
    pub fn from_settings(settings: &Settings) -> Self {
        let b = &settings.brand;
        let fixed = [
            b.phone.as_str(),
            b.emergency_phone.as_str(),
            b.public_emergency.as_str(),
            b.website.as_str(),
            b.from_address.as_str(),
            b.iban.as_str(),
        ];
        Self::new(
            fixed
                .into_iter()
                .filter(|e| !e.is_empty())
                .chain(settings.factcheck.allowlist.iter().map(String::as_str)),
        )
    }

    fn find(&self, claim: &Claim, folded: &str, span: &Range<usize>) -> Option<&str> {
        self.entries
            .iter()
            .find(|a| a.allows(claim, folded, span))
            .map(|a| a.label.as_str())
    }
}

impl Allowed {
    fn allows(&self, claim: &Claim, folded: &str, span: &Range<usize>) -> bool {
        match (claim.kind, &claim.value, &self.value) {
            (ClaimKind::Commitment, _, _) => {
                self.wording.as_ref().is_some_and(|(wording, offset)| {
                    span.start
                        .checked_sub(*offset)
                        .and_then(|start| folded.get(start..))
                        .is_some_and(|rest| rest.starts_with(wording.as_str()))
                })
            }
            _ if self.kind == ClaimKind::Commitment => false,
            // A page under an allowed site is allowed.
            (ClaimKind::Url, ClaimValue::Token(v), ClaimValue::Token(a))
                if self.kind == ClaimKind::Url =>
            {
                v.strip_prefix(a.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            }
            _ => claim.value == self.value,
        }
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct FactCheck {
    pub claims: Vec<Claim>,
}

impl FactCheck {
    pub fn unverified(&self) -> impl Iterator<Item = &Claim> {
        self.claims.iter().filter(|c| !c.is_verified())
    }

    pub fn all_verified(&self) -> bool {
        self.claims.iter().all(Claim::is_verified)
    }
}

pub fn run(text: &str, facts: &[Fact], allowlist: &Allowlist, lang: Language) -> FactCheck {
    let read = Read::new(text, lang);
    let claims = read
        .found
        .into_iter()
        .map(|Found { mut claim, folded }| {
            let matched = match_fact(&claim, facts)
                .or_else(|| allowlist.find(&claim, &read.folded.text, &folded));
            claim.matched = matched.map(str::to_string);
            claim
        })
        .collect();
    FactCheck { claims }
}

/// Every checkable claim in `text`, in order.
pub fn extract(text: &str, lang: Language) -> Vec<Claim> {
    Read::new(text, lang)
        .found
        .into_iter()
        .map(|f| f.claim)
        .collect()
}

/// A claim and where it is in the folded text (where an allowed promise's wording is checked).
struct Found {
    claim: Claim,
    folded: Range<usize>,
}

/// A draft read once: its folded text and its claims in order.
struct Read {
    folded: Folded,
    found: Vec<Found>,
}

static URL: LazyLock<Regex> = LazyLock::new(|| {
    crate::text::regex(
        r#"\bhttps?://[^ \t\n\x{a0}\x{202f}<>()\[\]"']+|\bwww\.[a-z0-9.-]+\.[a-z]{2,}[^ \t\n\x{a0}\x{202f}<>()\[\]"']*"#,
    )
});
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| crate::text::regex(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}"));

impl Read {
    fn new(text: &str, lang: Language) -> Self {
        let folded = Folded::new(text);
        let f = folded.text.as_str();
        let mut hits: Vec<patterns::Hit> = Vec::with_capacity(32);
        // URLs and addresses first: the digits in them are part of them. Their patterns run
        // only when there is something for them to find.
        if f.contains("http") || f.contains("www.") {
            for m in URL.find_iter(f) {
                let trimmed = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?']);
                hits.push((
                    m.start()..m.start() + trimmed.len(),
                    ClaimKind::Url,
                    ClaimValue::Token(normalise_url(trimmed)),
                ));
            }
        }
        if f.contains('@') {
            for m in EMAIL.find_iter(f) {
                if !hits.iter().any(|(t, _, _)| overlaps(t, &m.range())) {
                    hits.push((
                        m.range(),
                        ClaimKind::Email,
                        ClaimValue::Token(m.as_str().to_string()),
                    ));
                }
            }
        }
        let mut taken: Vec<Range<usize>> = hits.iter().map(|(span, _, _)| span.clone()).collect();
        taken.sort_by_key(|t| t.start);
        patterns::find(f, lang, &taken, &mut hits);
        for (span, concept) in commitments::find(f) {
            hits.push((
                span,
                ClaimKind::Commitment,
                ClaimValue::Token(concept.to_string()),
            ));
        }
        hits.sort_by_key(|(span, _, _)| span.start);
        let found = hits
            .into_iter()
            .map(|(span, kind, value)| {
                let original = folded.original_span(text, &span);
                let claim = Claim {
                    kind,
                    text: text[original.clone()].to_string(),
                    at: original.start,
                    value,
                    matched: None,
                };
                Found {
                    claim,
                    folded: span,
                }
            })
            .collect();
        Self { folded, found }
    }
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

fn normalise_url(s: &str) -> String {
    let no_scheme = s
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    no_scheme
        .trim_start_matches("www.")
        .trim_end_matches('/')
        .to_string()
}

fn match_fact<'a>(claim: &Claim, facts: &'a [Fact]) -> Option<&'a str> {
    facts
        .iter()
        .find(|f| fact_supports(claim.kind, &claim.value, &f.value))
        .map(|f| f.key.as_str())
}

/// Whether `fact` says what the claim says. Kinds are strict: "3 rate" is checked against
/// counts and "3 ore" against durations, never against any fact that happens to be 3.
fn fact_supports(kind: ClaimKind, claim: &ClaimValue, fact: &FactValue) -> bool {
    match (claim, fact) {
        (ClaimValue::Money(c), FactValue::Money(f)) => f.cents().checked_abs() == Some(c.cents()),
        (ClaimValue::Date(c), FactValue::Date(f)) => same_day(*c, *f),
        (ClaimValue::Date(c), FactValue::DateTime(f)) => same_day(*c, f.date()),
        (ClaimValue::Time(c), FactValue::DateTime(f)) => *c == f.hour() * 60 + f.minute(),
        (
            ClaimValue::Quantity { milli, unit },
            FactValue::Quantity {
                milli: fm,
                unit: fu,
            },
        ) => milli == fm && locale::normalise_unit(unit) == locale::normalise_unit(fu),
        (ClaimValue::Duration(c), FactValue::Minutes(f)) => c == f,
        (ClaimValue::Count(c), FactValue::Count(f)) => c == f,
        (ClaimValue::Number(n), FactValue::Count(c)) => c.checked_mul(1000) == Some(*n),
        (ClaimValue::Number(n), FactValue::Identifier(id)) => {
            n % 1000 == 0
                && id.bytes().all(|b| b.is_ascii_digit())
                && id.parse::<i64>().ok() == Some(n / 1000)
        }
        (ClaimValue::Token(t), FactValue::Identifier(id) | FactValue::Text(id))
            if matches!(
                kind,
                ClaimKind::Identifier | ClaimKind::Phone | ClaimKind::Url | ClaimKind::Email
            ) =>
        {
            same_token(t, id)
        }
        _ => false,
    }
}

/// `t` (already normalised) equals `id` normalised, without building the latter.
fn same_token(t: &str, id: &str) -> bool {
    id.bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_uppercase())
        .eq(t.bytes())
}

/// A claimed date without a year (year 0) matches any year.
fn same_day(claim: chrono::NaiveDate, fact: chrono::NaiveDate) -> bool {
    if claim.year() == 0 {
        claim.month() == fact.month() && claim.day() == fact.day()
    } else {
        claim == fact
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;
    use chrono::{NaiveDate, NaiveDateTime, Utc};

    fn fact(key: &str, value: FactValue) -> Fact {
        Fact {
            key: key.into(),
            value,
            source: "test".into(),
            fetched_at: Utc::now(),
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn dt(y: i32, m: u32, day: u32, h: u32, min: u32) -> NaiveDateTime {
        d(y, m, day).and_hms_opt(h, min, 0).unwrap()
    }

    fn allow() -> Allowlist {
        Allowlist::new([
            "800 123 456",
            "https://www.aurora.example",
            "assistenza@aurora.example",
            "112",
        ])
    }

    fn kinds(text: &str, lang: Language) -> Vec<ClaimKind> {
        extract(text, lang).iter().map(|c| c.kind).collect()
    }

    /// The one claim `text` makes, checked against `facts`.
    fn only_claim(text: &str, facts: &[Fact], lang: Language) -> Claim {
        let check = run(text, facts, &Allowlist::default(), lang);
        assert_eq!(check.claims.len(), 1, "{text}: {:#?}", check.claims);
        check.claims.into_iter().next().unwrap()
    }

    fn unverified_texts(check: &FactCheck) -> Vec<&str> {
        check.unverified().map(|c| c.text.as_str()).collect()
    }

    #[test]
    fn extracts_every_kind() {
        let text = "Bolletta F2026-0011452 di 128,40 € con scadenza 5 dicembre 2026, ore 13:30. POD IT001E00012345, \
                    consumo 412 kWh, IVA 10%, chiami 800 123 456 o 112, https://www.aurora.example/area, info@aurora.example, \
                    3 rate, ripristino entro 2 ore, 1.240 clienti. Le rimborseremo la differenza.";
        use ClaimKind::*;
        assert_eq!(
            kinds(text, Language::It),
            [
                Identifier, Money, Date, Time, Identifier, Quantity, Percentage, Phone, Number,
                Url, Email, Count, Duration, Number, Commitment
            ]
        );
        let claims = extract(text, Language::It);
        let texts: Vec<&str> = claims.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts[2], "5 dicembre 2026");
        assert_eq!(texts[14], "rimborseremo");
        assert!(claims.iter().all(|c| text[c.at..].starts_with(&c.text)));
    }

    #[test]
    fn claims_match_facts_and_allowlist() {
        let facts = vec![
            fact("invoice.amount", FactValue::Money(Money(12_840))),
            fact("invoice.due_date", FactValue::Date(d(2026, 12, 5))),
            fact(
                "invoice.number",
                FactValue::Identifier("F2026-0011452".into()),
            ),
            fact("outage.customers_affected", FactValue::Count(1_240)),
            fact("outage.postcode", FactValue::Identifier("10123".into())),
        ];
        let text = "La bolletta F2026-0011452 di 128,40 € scade il 5 dicembre 2026. Clienti coinvolti: 1.240 (CAP 10123). \
                    Numero verde 800 123 456, sito https://www.aurora.example/bollette, emergenze 112.";
        let check = run(text, &facts, &allow(), Language::It);
        assert!(
            check.all_verified(),
            "{:#?}",
            check.unverified().collect::<Vec<_>>()
        );
        assert_eq!(check.claims.len(), 8, "{:#?}", check.claims);
        assert_eq!(check.claims[1].matched.as_deref(), Some("invoice.amount"));
        assert_eq!(
            check.claims[5].matched.as_deref(),
            Some("allowlist:800 123 456")
        );
    }

    #[test]
    fn a_wrong_figure_is_caught() {
        let facts = vec![fact("invoice.amount", FactValue::Money(Money(12_840)))];
        for text in [
            "L'importo è 128,41 €.",
            "The amount is €182.40.",
            "Scade il 6 dicembre 2026.",
            "Chiami il 800 123 457.",
            "Visit https://evil.example/pay",
            "Visit https://www.aurora.example.evil.example/pay",
            "Paghi in 4 rate",
        ] {
            let check = run(text, &facts, &allow(), Language::It);
            assert!(!check.all_verified(), "accepted: {text}");
        }
    }

    #[test]
    fn money_in_every_format_matches() {
        let facts = vec![fact("balance", FactValue::Money(Money(123_456)))];
        for (text, lang) in [
            ("1.234,56 €", Language::It),
            ("1.234,56 €", Language::Es),
            ("€1,234.56", Language::En),
            ("€ 1,234.56", Language::En),
            ("1\u{202f}234,56 €", Language::Fr),
            ("1\u{a0}234,56 €", Language::Fr),
            ("1 234,56 €", Language::Fr),
            ("EUR 1.234,56", Language::It),
            ("1.234,56 euro", Language::It),
        ] {
            let claim = only_claim(text, &facts, lang);
            assert_eq!(
                (claim.kind, claim.matched.as_deref()),
                (ClaimKind::Money, Some("balance")),
                "{text}"
            );
        }
        // What the drafts write is what the checker reads, in every language.
        for lang in Language::SUPPORTED {
            for cents in [5, 12_840, 123_456, 100_000_000] {
                let facts = [fact("m", FactValue::Money(Money(cents)))];
                let text = locale::format_money(Money(cents), lang);
                assert!(only_claim(&text, &facts, lang).is_verified(), "{text}");
            }
        }
    }

    #[test]
    fn dates_in_every_format_match() {
        let facts = vec![fact("due", FactValue::Date(d(2026, 3, 15)))];
        for (text, lang) in [
            ("15/03/2026", Language::It),
            ("15.03.2026", Language::Fr),
            ("15-03-2026", Language::Es),
            ("2026-03-15", Language::En),
            ("15 marzo 2026", Language::It),
            ("15 marzo del 2026", Language::It),
            ("15 de marzo de 2026", Language::Es),
            ("15 mars 2026", Language::Fr),
            ("15\u{a0}mars 2026", Language::Fr),
            ("March 15, 2026", Language::En),
            ("15th March 2026", Language::En),
            ("15 March", Language::En),
        ] {
            let claim = only_claim(text, &facts, lang);
            assert_eq!(
                (claim.kind, claim.matched.as_deref()),
                (ClaimKind::Date, Some("due")),
                "{text}"
            );
        }
        for lang in Language::SUPPORTED {
            for date in [d(2026, 3, 15), d(2026, 8, 1), d(2027, 2, 28)] {
                let facts = [fact("due", FactValue::Date(date))];
                let text = locale::format_date(date, lang);
                assert!(only_claim(&text, &facts, lang).is_verified(), "{text}");
            }
        }
    }

    #[test]
    fn an_impossible_date_is_a_claim_nothing_matches() {
        let facts = vec![
            fact("due", FactValue::Date(d(2026, 2, 28))),
            fact("n", FactValue::Count(31)),
        ];
        let claim = only_claim("31/02/2026", &facts, Language::It);
        assert_eq!(claim.kind, ClaimKind::Date);
        assert!(!claim.is_verified());
        // Four groups of digits are a phone number, not a date followed by digits.
        let claim = only_claim("06.55.50.21.21", &facts, Language::Fr);
        assert_eq!(
            (claim.kind, claim.value),
            (ClaimKind::Phone, ClaimValue::Token("0655502121".into()))
        );
    }

    #[test]
    fn times_in_every_language() {
        let facts = vec![fact(
            "outage.estimated_restoration",
            FactValue::DateTime(dt(2026, 11, 20, 14, 30)),
        )];
        for (text, lang) in [
            ("alle 14:30", Language::It),
            ("ore 14.30", Language::It),
            ("a las 14:30", Language::Es),
            ("à 14h30", Language::Fr),
            ("vers 14 h 30", Language::Fr),
            ("at 2:30 pm", Language::En),
            ("at 2.30 p.m.", Language::En),
            ("14:30", Language::En),
        ] {
            let claim = only_claim(text, &facts, lang);
            assert_eq!(
                (claim.kind, claim.matched.as_deref()),
                (ClaimKind::Time, Some("outage.estimated_restoration")),
                "{text}"
            );
            assert!(
                claim.text.starts_with(|c: char| c.is_ascii_digit()),
                "the time alone is quoted: {}",
                claim.text
            );
        }
        let two_pm = vec![fact("t", FactValue::DateTime(dt(2026, 11, 20, 14, 0)))];
        for (text, lang) in [
            ("à 14h", Language::Fr),
            ("at 2 pm", Language::En),
            ("at 2pm", Language::En),
        ] {
            assert!(only_claim(text, &two_pm, lang).is_verified(), "{text}");
        }
        let midnight = vec![fact("t", FactValue::DateTime(dt(2026, 11, 20, 0, 15)))];
        assert!(only_claim("12:15 am", &midnight, Language::En).is_verified());
        for (text, lang) in [
            ("at 3:30 pm", Language::En),
            ("alle 15:30", Language::It),
            ("at 2:30 am", Language::En),
        ] {
            assert!(!only_claim(text, &facts, lang).is_verified(), "{text}");
        }
        // "pari a 12.50 €" is money, not half past twelve.
        assert_eq!(kinds("pari a 12.50 €", Language::It), [ClaimKind::Money]);
        for lang in Language::SUPPORTED {
            let text = locale::format_datetime(dt(2026, 11, 20, 14, 30), lang);
            let check = run(&text, &facts, &Allowlist::default(), lang);
            assert_eq!(
                kinds(&text, lang),
                [ClaimKind::Date, ClaimKind::Time],
                "{text}"
            );
            assert!(check.all_verified(), "{text}");
        }
    }

    #[test]
    fn durations_in_every_language() {
        for (text, lang, minutes) in [
            ("3 ore", Language::It, 180),
            ("90 minuti", Language::It, 90),
            ("2 ore e 30 minuti", Language::It, 150),
            ("1,5 ore", Language::It, 90),
            ("3 horas", Language::Es, 180),
            ("45 minutos", Language::Es, 45),
            ("1 hora y 30 minutos", Language::Es, 90),
            ("2 heures", Language::Fr, 120),
            ("1 h 30", Language::Fr, 90),
            ("2 hours", Language::En, 120),
            ("45 minutes", Language::En, 45),
            ("30 min", Language::En, 30),
            ("1 hour 30 minutes", Language::En, 90),
            ("2h", Language::En, 120),
            ("2 giorni", Language::It, 2880),
        ] {
            let facts = [fact("outage.expected_minutes", FactValue::Minutes(minutes))];
            let claim = only_claim(text, &facts, lang);
            assert_eq!(
                (claim.kind, &claim.value),
                (ClaimKind::Duration, &ClaimValue::Duration(minutes)),
                "{text}"
            );
            assert!(claim.is_verified(), "{text}");
            // A count that happens to be the same number says nothing about time.
            let count = [
                fact("installments.3.count", FactValue::Count(minutes / 60)),
                fact("n", FactValue::Count(minutes)),
            ];
            assert!(!only_claim(text, &count, lang).is_verified(), "{text}");
        }
        for lang in Language::SUPPORTED {
            for minutes in [30, 60, 90, 180, 135] {
                let facts = [fact("m", FactValue::Minutes(minutes))];
                let text = locale::format_duration(minutes, lang);
                let claim = only_claim(&text, &facts, lang);
                assert_eq!(claim.value, ClaimValue::Duration(minutes), "{text}");
            }
        }
    }

    #[test]
    fn instalment_counts_match_only_counts() {
        for (text, lang, n) in [
            ("3 rate", Language::It, 3),
            ("in 3 rate mensili", Language::It, 3),
            ("12 cuotas", Language::Es, 12),
            ("6 plazos", Language::Es, 6),
            ("12 mensualités", Language::Fr, 12),
            ("4 échéances", Language::Fr, 4),
            ("6 instalments", Language::En, 6),
            ("6 installments", Language::En, 6),
            ("in 6 monthly payments", Language::En, 6),
            ("3 equal monthly instalments", Language::En, 3),
        ] {
            let counts = [fact("installments.count", FactValue::Count(n))];
            let claim = only_claim(text, &counts, lang);
            assert_eq!(
                (claim.kind, &claim.value),
                (ClaimKind::Count, &ClaimValue::Count(n)),
                "{text}"
            );
            assert!(claim.is_verified(), "{text}");
            let others = [
                fact("id", FactValue::Identifier(n.to_string())),
                fact("m", FactValue::Minutes(n)),
                fact("b", FactValue::Money(Money(n * 100))),
            ];
            assert!(!only_claim(text, &others, lang).is_verified(), "{text}");
        }
        // A bare number still matches a count, as before.
        assert!(
            only_claim("1.240", &[fact("c", FactValue::Count(1240))], Language::It).is_verified()
        );
    }

    #[test]
    fn commitments_in_every_language() {
        let cases: &[(&str, Language, &str)] = &[
            (
                "Annulleremo la bolletta di novembre.",
                Language::It,
                "cancel_bill",
            ),
            (
                "Abbiamo disposto lo storno della fattura.",
                Language::It,
                "cancel_bill",
            ),
            (
                "Riceverà un rimborso entro fine mese.",
                Language::It,
                "refund",
            ),
            ("Non dovrà pagare nulla.", Language::It, "no_payment"),
            ("Condoniamo il debito residuo.", Language::It, "waive"),
            ("Nessuna mora sarà applicata.", Language::It, "no_late_fee"),
            (
                "Le applicheremo uno sconto del venti per cento.",
                Language::It,
                "discount",
            ),
            (
                "Le spetta un indennizzo automatico.",
                Language::It,
                "compensation",
            ),
            (
                "Il tecnico interverrà gratuitamente.",
                Language::It,
                "free_of_charge",
            ),
            (
                "La fornitura non verrà sospesa.",
                Language::It,
                "no_disconnection",
            ),
            ("Le garantiamo il ripristino.", Language::It, "guarantee"),
            ("Anularemos la factura.", Language::Es, "cancel_bill"),
            (
                "Recibirá el reembolso en su cuenta.",
                Language::Es,
                "refund",
            ),
            (
                "No tendrá que pagar esta factura.",
                Language::Es,
                "no_payment",
            ),
            ("Le descontaremos el importe.", Language::Es, "discount"),
            ("Puede pagar sin recargo.", Language::Es, "no_late_fee"),
            (
                "Le ofrecemos una compensación.",
                Language::Es,
                "compensation",
            ),
            ("La visita es gratis.", Language::Es, "free_of_charge"),
            (
                "Nous annulerons cette facture.",
                Language::Fr,
                "cancel_bill",
            ),
            (
                "Un remboursement vous sera adressé.",
                Language::Fr,
                "refund",
            ),
            ("Vous n'aurez rien à payer.", Language::Fr, "no_payment"),
            (
                "Le report est accordé sans frais.",
                Language::Fr,
                "no_late_fee",
            ),
            (
                "Nous vous proposons un geste commercial.",
                Language::Fr,
                "compensation",
            ),
            ("Un dédommagement est prévu.", Language::Fr, "compensation"),
            (
                "L'intervention est gratuite.",
                Language::Fr,
                "free_of_charge",
            ),
            ("We will waive the late fee.", Language::En, "waive"),
            ("We will cancel your bill.", Language::En, "cancel_bill"),
            ("You will receive a refund.", Language::En, "refund"),
            ("We will credit your account.", Language::En, "credit"),
            ("There is no late fee.", Language::En, "no_late_fee"),
            (
                "The repair is free of charge.",
                Language::En,
                "free_of_charge",
            ),
            ("We will pay compensation.", Language::En, "compensation"),
            (
                "We guarantee the supply tomorrow.",
                Language::En,
                "guarantee",
            ),
            (
                "You will not be disconnected.",
                Language::En,
                "no_disconnection",
            ),
            (
                "YOU WON’T BE DISCONNECTED.",
                Language::En,
                "no_disconnection",
            ),
        ];
        let facts = [
            fact("anything", FactValue::Text("refund".into())),
            fact("n", FactValue::Count(20)),
        ];
        for &(text, lang, concept) in cases {
            let check = run(text, &facts, &allow(), lang);
            let promises: Vec<&Claim> = check
                .claims
                .iter()
                .filter(|c| c.kind == ClaimKind::Commitment)
                .collect();
            assert_eq!(promises.len(), 1, "{text}: {:#?}", check.claims);
            assert_eq!(
                promises[0].value,
                ClaimValue::Token(concept.into()),
                "{text}"
            );
            assert!(
                !promises[0].is_verified(),
                "a fact verified a promise: {text}"
            );
        }
        // Standing policy is not a promise, but it hides no promise after it either.
        let policy = "We will check and, once confirmed, refund the amount paid\ntwice. We will also waive the fee.";
        let promises: Vec<ClaimValue> = extract(policy, Language::En)
            .into_iter()
            .filter(|c| c.kind == ClaimKind::Commitment)
            .map(|c| c.value)
            .collect();
        assert_eq!(promises, [ClaimValue::Token("waive".into())]);
        // Word boundaries: "condominio" is not "condono", "free" alone is not a promise.
        for text in [
            "Il contatore condominiale è in cantina.",
            "MABS offers free, confidential advice.",
            "numero verde gratuito 800 123 456",
        ] {
            assert!(
                !kinds(text, Language::It).contains(&ClaimKind::Commitment),
                "{text}"
            );
        }
    }

    #[test]
    fn an_allowlisted_sentence_allows_that_promise_only() {
        let allow = Allowlist::new([
            "Le rimborseremo la differenza sulla prossima bolletta.",
            "free of charge",
        ]);
        let ok = run(
            "Gentile cliente, le rimborseremo la  differenza sulla prossima bolletta, come concordato.",
            &[],
            &allow,
            Language::It,
        );
        assert!(ok.all_verified(), "{:#?}", ok.claims);
        let other = run(
            "Le rimborseremo l'intero importo.",
            &[],
            &allow,
            Language::It,
        );
        assert_eq!(unverified_texts(&other), ["rimborseremo"]);
        assert!(run("The visit is FREE OF CHARGE.", &[], &allow, Language::En).all_verified());
    }

    /// Literal text of a template: tags, expressions and comments removed.
    fn literal_text(template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let close = match &rest[open + 1..] {
                r if r.starts_with('{') => "}}",
                r if r.starts_with('%') => "%}",
                r if r.starts_with('#') => "#}",
                _ => {
                    out.push_str(&rest[..=open]);
                    rest = &rest[open + 1..];
                    continue;
                }
            };
            out.push_str(&rest[..open]);
            out.push(' ');
            rest = rest[open..]
                .find(close)
                .map_or("", |end| &rest[open + end + 2..]);
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn reply_templates_promise_nothing() {
        let mut scanned = 0;
        for (name, bytes) in crate::embedded::TEMPLATES
            .iter()
            .filter(|(n, _)| n.starts_with("replies/"))
        {
            let text = literal_text(&String::from_utf8_lossy(bytes));
            let lang = name
                .rsplit('.')
                .nth(1)
                .and_then(|l| l.parse().ok())
                .unwrap_or(Language::En);
            let promises: Vec<String> = extract(&text, lang)
                .into_iter()
                .filter(|c| c.kind == ClaimKind::Commitment)
                .map(|c| c.text)
                .collect();
            assert!(promises.is_empty(), "{name} promises {promises:?}");
            scanned += 1;
        }
        assert!(scanned >= 40, "only {scanned} reply templates");
        assert_eq!(literal_text("a {{ x }}b{% if y %}c{# d #}"), "a  b c ");
    }

    #[test]
    fn swapped_digits_in_an_identifier_are_caught() {
        let ids = [
            ("pod", "IT001E00012345", "IT001E00012354"),
            ("cups", "ES0021000012345678LB", "ES0021000012345687LB"),
            ("pdr", "00881234567890", "00881234567809"),
            ("pdl", "09115762391045", "09115762391054"),
            ("account", "40000001", "40000010"),
            ("eircode", "T12 AB34", "T12 AB43"),
            ("invoice", "F2026-0011452", "F2026-0011425"),
        ];
        let facts: Vec<Fact> = ids
            .iter()
            .map(|(k, id, _)| fact(k, FactValue::Identifier((*id).into())))
            .collect();
        for (key, right, swapped) in ids {
            let claim = only_claim(&format!("Codice {right}."), &facts, Language::It);
            assert_eq!(claim.matched.as_deref(), Some(key), "{right}");
            let claim = only_claim(&format!("Codice {swapped}."), &facts, Language::It);
            assert!(
                !claim.is_verified(),
                "{swapped} accepted as {:?}",
                claim.matched
            );
        }
    }

    /// A reply the ground and draft stages write for `raw` from the embedded templates, the
    /// facts it was written from and the brand's allowlist.
    async fn real_draft(raw: &str, lang: Language) -> (String, Vec<Fact>, Allowlist) {
        use crate::pipeline::{draft, ground, identify};
        use crate::testing::{admitted, classify, clock, demo};
        let settings = Settings::from_toml("test", "", Vec::new()).unwrap();
        let a = admitted(raw);
        let c = classify(&a);
        let i = identify::run(&a, &c, demo().cis.as_ref()).await.unwrap();
        let input = ground::GroundInput {
            classification: &c,
            identity: &i,
            lang,
            reference: "test",
            channel: "email",
            installments: &settings.installments,
        };
        let g = ground::run(&input, &demo(), &clock()).await;
        let input = draft::DraftInput {
            message: &a.message,
            classification: &c,
            identity: &i,
            grounding: &g,
            brand: &settings.brand,
            language: lang,
        };
        let d = draft::run(&input, &draft::Templates::embedded().unwrap()).unwrap();
        (d.body, g.facts, Allowlist::from_settings(&settings))
    }

    fn value<'a>(facts: &'a [Fact], key: &str) -> &'a FactValue {
        &facts
            .iter()
            .find(|f| f.key == key)
            .unwrap_or_else(|| panic!("no fact {key}"))
            .value
    }

    /// `draft` with `from` replaced by `to` (which must be there) is held, and `to` is listed.
    fn caught(
        draft: &str,
        from: &str,
        to: &str,
        facts: &[Fact],
        allow: &Allowlist,
        lang: Language,
    ) {
        assert!(
            draft.contains(from),
            "{from:?} is not in the draft:\n{draft}"
        );
        let changed = draft.replacen(from, to, 1);
        let check = run(&changed, facts, allow, lang);
        let listed = unverified_texts(&check);
        assert!(
            !listed.is_empty() && listed.iter().all(|t| to.contains(t)),
            "{to:?}: unverified {listed:?}"
        );
    }

    #[tokio::test]
    async fn the_adversarial_drafts_are_all_caught() {
        let lang = Language::It;
        let (bill, facts, allow) =
            real_draft("From: giulia.rossi@posta.example\nSubject: Bolletta\n\nperché la bolletta è così alta?", lang).await;
        let check = run(&bill, &facts, &allow, lang);
        assert!(
            check.all_verified(),
            "the correct draft is held: {:#?}\n{bill}",
            check.unverified().collect::<Vec<_>>()
        );
        assert!(check.claims.len() >= 15, "{:#?}", check.claims);

        // An invented amount.
        caught(&bill, "128,40 €", "182,40 €", &facts, &allow, lang);
        // A wrong due date.
        let FactValue::Date(due) = value(&facts, "invoice.due_date") else {
            panic!("due date")
        };
        let wrong = locale::format_date(*due + chrono::Duration::days(1), lang);
        caught(
            &bill,
            &format!("Scadenza: {}", locale::format_date(*due, lang)),
            &format!("Scadenza: {wrong}"),
            &facts,
            &allow,
            lang,
        );
        // Swapped digits in the POD.
        caught(
            &bill,
            "IT001E00012345",
            "IT001E00012354",
            &facts,
            &allow,
            lang,
        );
        // A made-up URL.
        caught(
            &bill,
            "https://www.aurora.example",
            "https://www.aurora-pagamenti.example/paga",
            &facts,
            &allow,
            lang,
        );
        // A promise to waive the bill.
        caught(
            &bill,
            "Cordiali saluti,",
            "Annulleremo la bolletta. Cordiali saluti,",
            &facts,
            &allow,
            lang,
        );

        let (outage, facts, allow) = real_draft(
            "From: luca.ferrari@posta.example\nSubject: luce\n\nsiamo senza luce",
            lang,
        )
        .await;
        let check = run(&outage, &facts, &allow, lang);
        assert!(
            check.all_verified(),
            "the correct draft is held: {:#?}\n{outage}",
            check.unverified().collect::<Vec<_>>()
        );
        // A restoration time that is not the OMS's, and a duration the OMS never gave.
        let FactValue::DateTime(eta) = value(&facts, "outage.estimated_restoration") else {
            panic!("restoration")
        };
        let shown = format!("ore {}", eta.format("%H:%M"));
        let other = format!(
            "ore {}",
            (*eta + chrono::Duration::minutes(90)).format("%H:%M")
        );
        caught(&outage, &shown, &other, &facts, &allow, lang);
        caught(
            &outage,
            "Cordiali saluti,",
            "Il servizio tornerà entro 3 ore. Cordiali saluti,",
            &facts,
            &allow,
            lang,
        );
    }

    #[tokio::test]
    async fn correct_drafts_pass_in_every_language() {
        for (raw, lang) in [
            (
                "From: lucia.garcia@correo.example\nSubject: Factura\n\n¿por qué la factura es tan alta?",
                Language::Es,
            ),
            (
                "From: sophie.dubois@courriel.example\nSubject: Facture\n\npourquoi ma facture est-elle si élevée ?",
                Language::Fr,
            ),
            (
                "From: emma.murphy@mail.example\nSubject: Bill\n\nwhy is my bill so high?",
                Language::En,
            ),
            (
                "From: marco.bianchi@posta.example\nSubject: rateizzazione\n\nposso rateizzare?",
                Language::It,
            ),
        ] {
            let (draft, facts, allow) = real_draft(raw, lang).await;
            let check = run(&draft, &facts, &allow, lang);
            assert!(
                check.all_verified(),
                "{:#?}\n{draft}",
                check.unverified().collect::<Vec<_>>()
            );
            assert!(check.claims.len() >= 8, "{:#?}\n{draft}", check.claims);
        }
    }
}

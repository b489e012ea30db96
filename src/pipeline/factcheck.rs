//! Stage 7, factcheck: every checkable claim in a draft — money, dates, times, quantities,
//! counts, percentages, identifiers, phone numbers, URLs, e-mail addresses, and any other
//! number — must match a fact or the allowlist. An unmatched claim blocks automatic sending.

use std::ops::Range;
use std::sync::LazyLock;

use chrono::{Datelike, Timelike};
use regex::Regex;
use serde::Serialize;

use crate::domain::{Claim, ClaimKind, ClaimValue, Fact, FactValue, Language};
use crate::locale::{self, DateMention};

/// Claims that are always true: the brand's phones, website and address, and configured extras.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    entries: Vec<(String, ClaimValue)>,
}

impl Allowlist {
    /// Each entry is read with the same extractor as drafts, so `800 123 456`,
    /// `https://www.aurora.example` and `112` become the claims they would be in a reply.
    pub fn new<'a>(entries: impl IntoIterator<Item = &'a str>) -> Self {
        let mut out = Vec::new();
        for entry in entries {
            for claim in extract(entry, Language::En) {
                out.push((entry.to_string(), claim.value));
            }
        }
        Self { entries: out }
    }

    fn find(&self, kind: ClaimKind, value: &ClaimValue) -> Option<String> {
        self.entries
            .iter()
            .find(|(_, allowed)| match (value, allowed) {
                (ClaimValue::Token(v), ClaimValue::Token(a)) if kind == ClaimKind::Url => {
                    v == a || v.starts_with(&format!("{a}/"))
                }
                _ => value == allowed,
            })
            .map(|(entry, _)| format!("allowlist:{entry}"))
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
    let mut claims = extract(text, lang);
    for claim in &mut claims {
        claim.matched = match_fact(claim, facts).or_else(|| allowlist.find(claim.kind, &claim.value));
    }
    FactCheck { claims }
}

static URL: LazyLock<Regex> =
    LazyLock::new(|| crate::text::regex(r#"(?i)\bhttps?://[^\s<>()\[\]"']+|\bwww\.[a-z0-9.-]+\.[a-z]{2,}[^\s<>()\[\]"']*"#));
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| crate::text::regex(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"));
static TIME: LazyLock<Regex> = LazyLock::new(|| crate::text::regex(r"\b([01]?\d|2[0-3])[:h]([0-5]\d)\b"));
static PERCENT: LazyLock<Regex> = LazyLock::new(|| crate::text::regex(r"\d+(?:[.,]\d+)?\s?%"));
static EIRCODE: LazyLock<Regex> =
    LazyLock::new(|| crate::text::regex(r"\b[AC-FHKNPRTV-Y]\d{2}\s[AC-FHKNPRTV-Y0-9]{4}\b"));
/// Tokens mixing letters and digits: POD, CUPS, PCE, invoice numbers, routing keys.
static MIXED: LazyLock<Regex> = LazyLock::new(|| crate::text::regex(r"\b[A-Za-z0-9][A-Za-z0-9-]*\d[A-Za-z0-9-]*\b"));
/// Digit sequences of six or more digits, with or without separators: ids and phone numbers.
static DIGIT_RUN: LazyLock<Regex> =
    LazyLock::new(|| crate::text::regex(r"(?:\+\d{1,3}[ .-]?)?\d(?:[ .-]?\d){5,}"));
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| crate::text::regex(r"\d{1,3}(?:[.,\x{202f}\x{a0}]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"));

/// Every checkable claim in `text`, in order. Extractors run from the most specific to the
/// most general and a span taken by one is not read again.
pub fn extract(text: &str, lang: Language) -> Vec<Claim> {
    let mut taken: Vec<Range<usize>> = Vec::new();
    let mut claims = Vec::new();
    let add = |claims: &mut Vec<Claim>, taken: &mut Vec<Range<usize>>, span: Range<usize>, kind, value| {
        if taken.iter().any(|t| t.start < span.end && span.start < t.end) {
            return;
        }
        claims.push(Claim { kind, text: text[span.clone()].to_string(), at: span.start, value, matched: None });
        taken.push(span);
    };
    for m in URL.find_iter(text) {
        let trimmed = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?']);
        add(&mut claims, &mut taken, m.start()..m.start() + trimmed.len(), ClaimKind::Url, ClaimValue::Token(normalise_url(trimmed)));
    }
    for m in EMAIL.find_iter(text) {
        add(&mut claims, &mut taken, m.range(), ClaimKind::Email, ClaimValue::Token(m.as_str().to_lowercase()));
    }
    let (folded, offsets) = crate::text::fold_with_offsets(text);
    for d in locale::find_dates(&folded) {
        let span = offsets[d.span.start]..offsets[d.span.end];
        let value = match d.value {
            DateMention::Full(date) => ClaimValue::Date(date),
            // Without a year only day and month can be compared: the year is set to 0.
            DateMention::DayMonth { day, month } => match chrono::NaiveDate::from_ymd_opt(0, month, day) {
                Some(date) => ClaimValue::Date(date),
                None => continue,
            },
        };
        add(&mut claims, &mut taken, span, ClaimKind::Date, value);
    }
    for c in TIME.captures_iter(text) {
        let minutes = c[1].parse::<u32>().unwrap_or(0) * 60 + c[2].parse::<u32>().unwrap_or(0);
        add(&mut claims, &mut taken, c.get(0).expect("match").range(), ClaimKind::Time, ClaimValue::Time(minutes));
    }
    for m in locale::find_money(text) {
        add(&mut claims, &mut taken, m.span, ClaimKind::Money, ClaimValue::Money(m.value));
    }
    for q in locale::find_quantities(text) {
        let (milli, unit) = q.value;
        add(&mut claims, &mut taken, q.span, ClaimKind::Quantity, ClaimValue::Quantity { milli, unit: unit.into() });
    }
    for m in PERCENT.find_iter(text) {
        let num = m.as_str().trim_end_matches(['%', ' ']);
        if let Some(milli) = locale::parse_number_milli(num, Some(decimal_mark(lang))) {
            add(&mut claims, &mut taken, m.range(), ClaimKind::Percentage, ClaimValue::Percentage(milli / 10));
        }
    }
    for m in EIRCODE.find_iter(text).chain(MIXED.find_iter(text)) {
        if m.as_str().chars().any(|c| c.is_ascii_alphabetic()) {
            add(&mut claims, &mut taken, m.range(), ClaimKind::Identifier, ClaimValue::Token(normalise_token(m.as_str())));
        }
    }
    for m in DIGIT_RUN.find_iter(text) {
        let s = m.as_str();
        let kind = if s.starts_with('+') || s.contains([' ', '.', '-']) { ClaimKind::Phone } else { ClaimKind::Identifier };
        add(&mut claims, &mut taken, m.range(), kind, ClaimValue::Token(normalise_token(s)));
    }
    for m in NUMBER.find_iter(text) {
        if let Some(milli) = locale::parse_number_milli(m.as_str(), Some(decimal_mark(lang))) {
            add(&mut claims, &mut taken, m.range(), ClaimKind::Number, ClaimValue::Number(milli));
        }
    }
    claims.sort_by_key(|c| c.at);
    claims
}

fn decimal_mark(lang: Language) -> char {
    match lang {
        Language::En | Language::Other => '.',
        _ => ',',
    }
}

fn normalise_token(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).flat_map(|c| c.to_uppercase()).collect()
}

fn normalise_url(s: &str) -> String {
    let lower = s.to_lowercase();
    let no_scheme = lower.trim_start_matches("https://").trim_start_matches("http://");
    no_scheme.trim_start_matches("www.").trim_end_matches('/').to_string()
}

fn match_fact(claim: &Claim, facts: &[Fact]) -> Option<String> {
    facts.iter().find(|f| fact_supports(&claim.value, &f.value)).map(|f| f.key.clone())
}

fn fact_supports(claim: &ClaimValue, fact: &FactValue) -> bool {
    match (claim, fact) {
        (ClaimValue::Money(c), FactValue::Money(f)) => c.cents() == f.cents().abs(),
        (ClaimValue::Date(c), FactValue::Date(f)) => same_day(*c, *f),
        (ClaimValue::Date(c), FactValue::DateTime(f)) => same_day(*c, f.date()),
        (ClaimValue::Time(c), FactValue::DateTime(f)) => *c == f.hour() * 60 + f.minute(),
        (ClaimValue::Quantity { milli, unit }, FactValue::Quantity { milli: fm, unit: fu }) => {
            milli == fm && locale::normalise_unit(unit) == locale::normalise_unit(fu)
        }
        (ClaimValue::Number(n), FactValue::Count(c)) => *n == c * 1000,
        (ClaimValue::Number(n), FactValue::Identifier(id)) => {
            n % 1000 == 0 && id.chars().all(|c| c.is_ascii_digit()) && id.parse::<i64>().ok() == Some(n / 1000)
        }
        (ClaimValue::Token(t), FactValue::Identifier(id) | FactValue::Text(id)) => *t == normalise_token(id),
        _ => false,
    }
}

/// A claimed date without a year (year 0) matches any year.
fn same_day(claim: chrono::NaiveDate, fact: chrono::NaiveDate) -> bool {
    if claim.year() == 0 { claim.month() == fact.month() && claim.day() == fact.day() } else { claim == fact }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;
    use chrono::{NaiveDate, Utc};

    fn fact(key: &str, value: FactValue) -> Fact {
        Fact { key: key.into(), value, source: "test".into(), fetched_at: Utc::now() }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn allow() -> Allowlist {
        Allowlist::new(["800 123 456", "https://www.aurora.example", "assistenza@aurora.example", "112"])
    }

    #[test]
    fn extracts_every_kind() {
        let text = "Bolletta F2026-0011452 di 128,40 € con scadenza 5 dicembre 2026, ore 13:30. POD IT001E00012345, \
                    consumo 412 kWh, IVA 10%, chiami 800 123 456 o 112, https://www.aurora.example/area, info@aurora.example, 3 rate, 1.240 clienti";
        let kinds: Vec<ClaimKind> = extract(text, Language::It).iter().map(|c| c.kind).collect();
        use ClaimKind::*;
        assert_eq!(
            kinds,
            [Identifier, Money, Date, Time, Identifier, Quantity, Percentage, Phone, Number, Url, Email, Number, Number]
        );
    }

    #[test]
    fn claims_match_facts_and_allowlist() {
        let facts = vec![
            fact("invoice.amount", FactValue::Money(Money(12_840))),
            fact("invoice.due_date", FactValue::Date(d(2026, 12, 5))),
            fact("invoice.number", FactValue::Identifier("F2026-0011452".into())),
            fact("outage.customers_affected", FactValue::Count(1_240)),
            fact("outage.postcode", FactValue::Identifier("10123".into())),
        ];
        let text = "La bolletta F2026-0011452 di 128,40 € scade il 5 dicembre 2026. Clienti coinvolti: 1.240 (CAP 10123). \
                    Numero verde 800 123 456, sito https://www.aurora.example/bollette, emergenze 112.";
        let check = run(text, &facts, &allow(), Language::It);
        assert!(check.all_verified(), "{:#?}", check.unverified().collect::<Vec<_>>());
        assert_eq!(check.claims.len(), 8, "{:#?}", check.claims);
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
            ("€1,234.56", Language::En),
            ("1\u{202f}234,56 €", Language::Fr),
            ("1 234,56 €", Language::Fr),
        ] {
            assert!(run(text, &facts, &Allowlist::default(), lang).all_verified(), "{text}");
        }
    }

    #[test]
    fn dates_in_every_format_match() {
        let facts = vec![fact("due", FactValue::Date(d(2026, 3, 15)))];
        for text in ["15/03/2026", "2026-03-15", "15 marzo 2026", "15 de marzo de 2026", "15 mars 2026", "March 15, 2026", "15 March"] {
            let check = run(text, &facts, &Allowlist::default(), Language::En);
            assert!(check.all_verified() && check.claims.len() == 1, "{text}: {:?}", check.claims);
        }
    }
}

//! Entity extraction: account numbers, supply point ids (POD, PDR, CUPS, PDL, PCE, MPRN, GPRN),
//! meter readings with units, amounts, dates and postcodes. Entities feed identify and ground.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;
use serde::Serialize;

use crate::domain::{AccountId, Money, SupplyKind, SupplyPointId, cups_check_letters};
use crate::locale::{self, DateMention};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Entities {
    pub accounts: Vec<AccountId>,
    pub supply_points: Vec<(SupplyKind, SupplyPointId)>,
    pub readings: Vec<ReadingMention>,
    pub amounts: Vec<Money>,
    pub dates: Vec<NaiveDate>,
    pub postcodes: Vec<String>,
    /// The payment plan (in instalments) the customer accepted, if they accepted one.
    pub plan_acceptance: Option<u32>,
    /// The message is about a disconnection (a cut-off notice, a suspension).
    pub disconnection: bool,
}

/// A meter reading the customer wrote; `unit` is `None` when they gave only the number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadingMention {
    pub milli: i64,
    pub unit: Option<&'static str>,
}

static POD: LazyLock<Regex> = LazyLock::new(|| crate::text::regex(r"(?i)\bIT\s?\d{3}\s?E\s?\d{8,9}\b"));
static CUPS: LazyLock<Regex> = LazyLock::new(|| {
    crate::text::regex(r"(?i)\bES\s?(\d{4}\s?\d{4}\s?\d{4}\s?\d{4})\s?([A-Z]{2})(?:\s?\d[FPCRXYZ])?\b")
});
static PCE: LazyLock<Regex> = LazyLock::new(|| crate::text::regex(r"(?i)\bGI\s?\d{6}\b"));
static DIGITS: LazyLock<Regex> = LazyLock::new(|| crate::text::regex(r"\b\d(?:[ ]?\d){6,13}\b"));
static READING_CUE: LazyLock<Regex> = LazyLock::new(|| {
    crate::text::regex(r"(?i)\b(?:lettura|autolettura|lectura|autolectura|index|relev[ée]|reading|read|lecture|contatore segna|compteur affiche)\b[^0-9\n]{0,25}(\d{1,3}(?:[.\s]\d{3})+(?:,\d{1,3})?|\d+(?:[.,]\d{1,3})?)")
});
static POSTCODE: LazyLock<Regex> = LazyLock::new(|| {
    crate::text::regex(r"(?i)\b(?:cap|c\.a\.p\.|c\.p\.|cp|codigo postal|código postal|code postal|postcode|post code|eircode|zona|zone|area|quartiere|barrio|quartier)\s*:?\s*([0-9]{5}|[AC-FHKNPRTV-Y][0-9]{2}(?:\s?[AC-FHKNPRTV-Y0-9]{4})?)\b|\b([0-9]{5})\s+[A-Z][a-zà-ü]+|\b([AC-FHKNPRTV-Y][0-9]{2}\s?[AC-FHKNPRTV-Y0-9]{4})\b")
});

pub fn extract(subject: &str, text: &str) -> Entities {
    let all = format!("{subject}\n{text}");
    let mut e = Entities::default();
    for m in POD.find_iter(&all) {
        push_unique(&mut e.supply_points, (SupplyKind::Pod, SupplyPointId::normalise(m.as_str())));
    }
    for c in CUPS.captures_iter(&all) {
        let digits: String = c[1].chars().filter(|c| c.is_ascii_digit()).collect();
        let letters: Vec<char> = c[2].to_uppercase().chars().collect();
        if cups_check_letters(&digits).is_some_and(|l| l[..] == letters[..]) {
            let id = SupplyPointId::normalise(&format!("ES{digits}{}", c[2].to_uppercase()));
            push_unique(&mut e.supply_points, (SupplyKind::Cups, id));
        }
    }
    for m in PCE.find_iter(&all) {
        push_unique(&mut e.supply_points, (SupplyKind::Pce, SupplyPointId::normalise(m.as_str())));
    }
    for m in DIGITS.find_iter(&all) {
        classify_digits(&all, m.start(), m.as_str(), &mut e);
    }
    let quantities = locale::find_quantities(&all);
    for q in &quantities {
        let (milli, unit) = q.value;
        push_unique(&mut e.readings, ReadingMention { milli, unit: Some(unit) });
    }
    if e.readings.is_empty() {
        for c in READING_CUE.captures_iter(&all) {
            if let Some(milli) = locale::parse_number_milli(&c[1], None) {
                push_unique(&mut e.readings, ReadingMention { milli, unit: None });
            }
        }
    }
    for m in locale::find_money(&all) {
        push_unique(&mut e.amounts, m.value);
    }
    let folded = crate::text::fold(&all);
    for d in locale::find_dates(&folded) {
        if let DateMention::Full(date) = d.value {
            push_unique(&mut e.dates, date);
        }
    }
    for c in POSTCODE.captures_iter(&all) {
        if let Some(code) = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3)) {
            push_unique(&mut e.postcodes, code.as_str().to_uppercase());
        }
        if e.postcodes.len() >= 3 {
            break;
        }
    }
    e.plan_acceptance = super::requests::plan_acceptance(&folded);
    e.disconnection = super::requests::mentions_disconnection(&folded);
    e
}

/// Bare digit runs: 8 digits starting with 4 are account numbers, 11 starting with 10 are
/// MPRNs, 14 are PDR (Italy) or PDL (France), 7 after "GPRN" are GPRNs.
fn classify_digits(all: &str, start: usize, run: &str, e: &mut Entities) {
    let digits: String = run.chars().filter(|c| c.is_ascii_digit()).collect();
    let spaced = digits.len() != run.len();
    // Up to 40 bytes before the digits, cut on a character boundary (accented letters).
    let mut from = start.saturating_sub(40);
    while !all.is_char_boundary(from) {
        from += 1;
    }
    let cue = crate::text::fold(&all[from..start]);
    match digits.len() {
        8 if digits.starts_with('4') && (!spaced || has_account_cue(&cue)) => {
            if let Some(acc) = AccountId::parse(&digits) {
                push_unique(&mut e.accounts, acc);
            }
        }
        11 if digits.starts_with("10") => {
            push_unique(&mut e.supply_points, (SupplyKind::Mprn, SupplyPointId::normalise(&digits)));
        }
        14 if !spaced => {
            let kind = if cue.contains("pdl") || cue.contains("prm") { SupplyKind::Pdl } else { SupplyKind::Pdr };
            push_unique(&mut e.supply_points, (kind, SupplyPointId::normalise(&digits)));
        }
        7 if cue.contains("gprn") => {
            push_unique(&mut e.supply_points, (SupplyKind::Gprn, SupplyPointId::normalise(&digits)));
        }
        _ => {}
    }
}

fn has_account_cue(folded_before: &str) -> bool {
    ["account", "conto", "cliente", "codice", "cuenta", "contrato", "client", "compte", "numero", "number", "n.", "nº", "no."]
        .iter()
        .any(|c| folded_before.contains(c))
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if !v.contains(&item) {
        v.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_after_accented_letters_do_not_panic() {
        let e = extract("compte", "Mon compteur est arrivé.\nMon numéro client est 40000021, PDL 09115762391045");
        assert_eq!(e.accounts.len(), 1);
        for prefix in ["é", "éé", "ééé", "àèìòù"] {
            let text = format!("{}{prefix} 40000021", "x".repeat(35));
            extract("", &text);
        }
    }

    #[test]
    fn finds_identifiers_of_every_scheme() {
        let e = extract(
            "Cliente 40000001",
            "POD IT001E00012345, PDR 00881234567890, CUPS ES0021000012345678LB, PCE GI071234, MPRN 10012345678, GPRN 1234567, PDL 09115762391045",
        );
        assert_eq!(e.accounts, [AccountId::parse("40000001").unwrap()]);
        let kinds: Vec<(SupplyKind, &str)> = e.supply_points.iter().map(|(k, id)| (*k, id.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (SupplyKind::Pod, "IT001E00012345"),
                (SupplyKind::Cups, "ES0021000012345678LB"),
                (SupplyKind::Pce, "GI071234"),
                (SupplyKind::Pdr, "00881234567890"),
                (SupplyKind::Mprn, "10012345678"),
                (SupplyKind::Gprn, "1234567"),
                (SupplyKind::Pdl, "09115762391045"),
            ]
        );
    }

    #[test]
    fn cups_with_wrong_check_letters_is_ignored() {
        assert!(extract("", "CUPS ES0021000012345678ZZ").supply_points.is_empty());
    }

    #[test]
    fn readings_amounts_dates_postcodes() {
        let e = extract("Autolettura", "La lettura è 12.345 kWh del 15/11/2026, pagato 128,40 €. CAP 10123");
        assert_eq!(e.readings, [ReadingMention { milli: 12_345_000, unit: Some("kWh") }]);
        assert_eq!(e.amounts, [Money(12_840)]);
        assert_eq!(e.dates, [NaiveDate::from_ymd_opt(2026, 11, 15).unwrap()]);
        assert_eq!(e.postcodes, ["10123"]);
    }

    #[test]
    fn reading_without_unit_needs_a_cue() {
        let e = extract("", "my meter reading today: 23456");
        assert_eq!(e.readings, [ReadingMention { milli: 23_456_000, unit: None }]);
        assert!(extract("", "I called 3 times").readings.is_empty());
    }

    #[test]
    fn postcodes_with_city_and_eircodes() {
        assert_eq!(extract("", "abito in Via Roma 3, 10123 Torino").postcodes, ["10123"]);
        assert_eq!(extract("", "no power at V94 EF78 since 7am").postcodes, ["V94 EF78"]);
    }
}

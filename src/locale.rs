//! Numbers, money, dates and quantities as customers of each language write them: formatting
//! for drafts, and recognising them in text for entities and the fact-checker. One place, so
//! what the drafts write is exactly what the checker reads.

use std::ops::Range;
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use regex::Regex;

use crate::domain::{Language, Money};
use crate::domain::money::group_thousands;

const MONTHS_IT: [&str; 12] = ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"];
const MONTHS_ES: [&str; 12] = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"];
const MONTHS_FR: [&str; 12] = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"];
const MONTHS_EN: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

fn month_name(lang: Language, month0: usize) -> &'static str {
    match lang {
        Language::It => MONTHS_IT[month0],
        Language::Es => MONTHS_ES[month0],
        Language::Fr => MONTHS_FR[month0],
        Language::En | Language::Other => MONTHS_EN[month0],
    }
}

/// `5 dicembre 2026`, `5 de diciembre de 2026`, `5 décembre 2026`, `5 December 2026`.
pub fn format_date(d: NaiveDate, lang: Language) -> String {
    let m = month_name(lang, d.month0() as usize);
    match lang {
        Language::Es => format!("{} de {} de {}", d.day(), m, d.year()),
        _ => format!("{} {} {}", d.day(), m, d.year()),
    }
}

/// A date with its time: `20 novembre 2026, ore 13:30`, `20 de noviembre de 2026, a las 13:30`,
/// `20 novembre 2026 à 13:30`, `20 November 2026 at 13:30`.
pub fn format_datetime(t: NaiveDateTime, lang: Language) -> String {
    let date = format_date(t.date(), lang);
    let time = format!("{:02}:{:02}", t.hour(), t.minute());
    match lang {
        Language::It => format!("{date}, ore {time}"),
        Language::Es => format!("{date}, a las {time}"),
        Language::Fr => format!("{date} à {time}"),
        Language::En | Language::Other => format!("{date} at {time}"),
    }
}

/// A whole number with the language's thousands separator: `1.240`, `1 240`, `1,240`.
pub fn format_count(n: i64, lang: Language) -> String {
    let sep = match lang {
        Language::It | Language::Es => '.',
        Language::Fr => '\u{202f}',
        Language::En | Language::Other => ',',
    };
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group_thousands(n.unsigned_abs(), sep))
}

/// A quantity in thousandths: `12.345 kWh`, `4.521,3 m3` (decimals only when present).
pub fn format_quantity(milli: i64, unit: &str, lang: Language) -> String {
    let whole = format_count(milli / 1000, lang);
    let frac = (milli % 1000).abs();
    let decimal = if matches!(lang, Language::En | Language::Other) { '.' } else { ',' };
    if frac == 0 {
        format!("{whole} {unit}")
    } else {
        let digits = format!("{frac:03}");
        format!("{whole}{decimal}{} {unit}", digits.trim_end_matches('0'))
    }
}

/// A length of time: `45 minuti`, `2 ore`, `1 ora e 30 minuti`, `2 h 15` (fr), `1 hour 30 minutes`.
pub fn format_duration(minutes: i64, lang: Language) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    let plural = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let (hours, mins) = match lang {
        Language::It => (plural(h, "ora", "ore"), plural(m, "minuto", "minuti")),
        Language::Es => (plural(h, "hora", "horas"), plural(m, "minuto", "minutos")),
        Language::Fr => (plural(h, "heure", "heures"), plural(m, "minute", "minutes")),
        Language::En | Language::Other => (plural(h, "hour", "hours"), plural(m, "minute", "minutes")),
    };
    match (h, m, lang) {
        (0, _, _) => mins,
        (_, 0, _) => hours,
        (_, _, Language::Fr) => format!("{h} h {m:02}"),
        (_, _, Language::It) => format!("{hours} e {mins}"),
        (_, _, Language::Es) => format!("{hours} y {mins}"),
        _ => format!("{hours} {mins}"),
    }
}

pub fn format_money(m: Money, lang: Language) -> String {
    m.format(lang)
}

/// A fact's value as people read it, in `lang`.
pub fn format_fact(value: &crate::domain::FactValue, lang: Language) -> String {
    use crate::domain::FactValue as V;
    match value {
        V::Money(m) => format_money(*m, lang),
        V::Date(d) => format_date(*d, lang),
        V::DateTime(t) => format_datetime(*t, lang),
        V::Count(n) => format_count(*n, lang),
        V::Quantity { milli, unit } => format_quantity(*milli, unit, lang),
        V::Minutes(m) => format_duration(*m, lang),
        V::Identifier(s) | V::Text(s) => s.clone(),
    }
}

/// Reads a number written with grouping and an optional decimal part, in any of the four
/// conventions. Returns thousandths. A separator followed by exactly three digits is grouping
/// unless `decimal_hint` says that separator is the decimal mark.
pub fn parse_number_milli(text: &str, decimal_hint: Option<char>) -> Option<i64> {
    // Called for every figure of every draft the fact-checker reads: two passes over the
    // characters, no allocation.
    let kept = || text.chars().filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\''));
    if !kept().next()?.is_ascii_digit() {
        return None;
    }
    // The last separator, how many of it there are and the bytes after it.
    let (mut last_sep, mut tail_bytes, mut dots, mut commas) = (None, 0usize, 0usize, 0usize);
    for c in kept() {
        match c {
            '.' | ',' => {
                (last_sep, tail_bytes) = (Some(c), 0);
                if c == '.' { dots += 1 } else { commas += 1 }
            }
            _ => tail_bytes += c.len_utf8(),
        }
    }
    let is_decimal = last_sep.is_some_and(|sep| {
        let same = if sep == '.' { dots } else { commas };
        (dots > 0 && commas > 0)
            || decimal_hint == Some(sep)
            || (tail_bytes != 3 && tail_bytes != 0)
            || (same == 1 && decimal_hint.is_none() && tail_bytes != 3)
    });
    let seps = dots + commas;
    let (mut whole, mut int_digits, mut frac, mut frac_len, mut seen) = (0i64, 0usize, 0i64, 0usize, 0usize);
    for c in kept() {
        if matches!(c, '.' | ',') {
            seen += 1;
            continue;
        }
        if is_decimal && seen == seps {
            let d = c.to_digit(10)?;
            frac_len += 1;
            if frac_len > 3 {
                return None;
            }
            frac = frac * 10 + i64::from(d);
        } else if let Some(d) = c.to_digit(10) {
            whole = whole.checked_mul(10)?.checked_add(i64::from(d))?;
            int_digits += 1;
        }
    }
    if int_digits == 0 {
        return None;
    }
    for _ in frac_len..3 {
        frac *= 10;
    }
    whole.checked_mul(1000)?.checked_add(frac)
}

/// An amount of money found in text.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<T> {
    pub span: Range<usize>,
    pub value: T,
}

/// An amount as written: grouped thousands in any convention, at most two decimals. Shared
/// with the fact-checker's combined pattern.
pub(crate) const MONEY_NUMBER: &str = r"[0-9]{1,3}(?:[.,\x{202f}\x{a0} ][0-9]{3})*(?:[.,][0-9]{1,2})?|[0-9]+(?:[.,][0-9]{1,2})?";

static MONEY: LazyLock<Regex> = LazyLock::new(|| {
    let num = MONEY_NUMBER;
    crate::text::regex(&format!(
        r"(?i)(?:€|\beur\b)\s?(?P<a>{num})|(?P<b>{num})\s?(?:€|\beur\b|\beuros?\b)"
    ))
});

pub fn find_money(text: &str) -> Vec<Found<Money>> {
    MONEY
        .captures_iter(text)
        .filter_map(|c| {
            let span = c.get(0)?.range();
            let num = c.name("a").or_else(|| c.name("b"))?.as_str();
            let milli = parse_number_milli(num, money_decimal_hint(num))?;
            Some(Found { span, value: Money(milli / 10) })
        })
        .collect()
}

/// Money has at most two decimals: `1,234` is one thousand two hundred thirty-four, but
/// `12,50` and `1.234,5` carry decimals.
pub(crate) fn money_decimal_hint(num: &str) -> Option<char> {
    let i = num.rfind(['.', ','])?;
    let tail = &num[i + 1..];
    (tail.len() <= 2).then(|| num.as_bytes()[i] as char)
}

/// Every month name and abbreviation of the four languages, accent-folded and lower-case,
/// longest first, as a regex alternation.
pub(crate) fn month_alternation() -> String {
    let mut names: Vec<String> = [MONTHS_IT, MONTHS_ES, MONTHS_FR, MONTHS_EN]
        .iter()
        .flatten()
        .map(|m| crate::text::fold(m))
        .collect();
    for short in ["jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "gen", "giu", "lug", "ago", "set", "ott", "dic", "ene", "abr", "dic", "janv", "fevr", "avr", "juil", "sept", "oct", "nov", "dec"] {
        names.push(short.into());
    }
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names.dedup();
    names.join("|")
}

/// The month (1–12) a folded, lower-case name or abbreviation from [`month_alternation`] means.
pub(crate) fn month_number(folded: &str) -> Option<u32> {
    static FOLDED: LazyLock<Vec<(String, u32)>> = LazyLock::new(|| {
        [MONTHS_IT, MONTHS_ES, MONTHS_FR, MONTHS_EN]
            .iter()
            .flat_map(|months| months.iter().zip(1..).map(|(m, n)| (crate::text::fold(m), n)))
            .collect()
    });
    let by_name = FOLDED.iter().find(|(f, _)| f == folded || (folded.len() >= 3 && f.starts_with(folded)));
    if let Some((_, n)) = by_name {
        return Some(*n);
    }
    match folded {
        "gen" => Some(1),
        "giu" => Some(6),
        "lug" => Some(7),
        "ago" => Some(8),
        "set" => Some(9),
        "ott" => Some(10),
        "dic" => Some(12),
        "ene" => Some(1),
        "abr" => Some(4),
        _ => None,
    }
}

/// A date as written: with a year, or only day and month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateMention {
    Full(NaiveDate),
    DayMonth { day: u32, month: u32 },
}

static DATE_NUMERIC: LazyLock<Regex> = LazyLock::new(|| {
    crate::text::regex(r"\b(?:(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})|(?P<d2>\d{1,2})[/.-](?P<m2>\d{1,2})[/.-](?P<y2>\d{4}|\d{2}))\b")
});

static DATE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    let months = month_alternation();
    crate::text::regex(&format!(
        r"(?i)\b(?:(?P<d>\d{{1,2}})(?:st|nd|rd|th|er|º|°)?\s+(?:de\s+|of\s+)?(?P<m>{months})\.?(?:\s+(?:de\s+|del\s+)?(?P<y>\d{{4}}))?|(?P<m2>{months})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y2>\d{{4}}))?)\b"
    ))
});

/// Every date in `text` (which should be accent-folded for month names to match).
pub fn find_dates(folded: &str) -> Vec<Found<DateMention>> {
    let mut out = Vec::new();
    for c in DATE_NUMERIC.captures_iter(folded) {
        let span = c.get(0).expect("match").range();
        let (d, m, y) = match (c.name("y"), c.name("y2")) {
            (Some(y), _) => (c.name("d"), c.name("m"), y.as_str()),
            (None, Some(y)) => (c.name("d2"), c.name("m2"), y.as_str()),
            _ => continue,
        };
        let (Some(d), Some(m)) = (d, m) else { continue };
        let mut year: i32 = y.parse().unwrap_or(0);
        if y.len() == 2 {
            year += 2000;
        }
        if let Some(date) = NaiveDate::from_ymd_opt(year, m.as_str().parse().unwrap_or(0), d.as_str().parse().unwrap_or(0)) {
            out.push(Found { span, value: DateMention::Full(date) });
        }
    }
    for c in DATE_WORDS.captures_iter(folded) {
        let span = c.get(0).expect("match").range();
        if out.iter().any(|f: &Found<DateMention>| f.span.start < span.end && span.start < f.span.end) {
            continue;
        }
        let (d, m, y) = match c.name("m") {
            Some(m) => (c.name("d"), m, c.name("y")),
            None => match c.name("m2") {
                Some(m) => (c.name("d2"), m, c.name("y2")),
                None => continue,
            },
        };
        let Some(day) = d.and_then(|d| d.as_str().parse::<u32>().ok()) else { continue };
        let Some(month) = month_number(&m.as_str().to_lowercase()) else { continue };
        let value = match y.and_then(|y| y.as_str().parse::<i32>().ok()) {
            Some(year) => match NaiveDate::from_ymd_opt(year, month, day) {
                Some(date) => DateMention::Full(date),
                None => continue,
            },
            None if (1..=31).contains(&day) => DateMention::DayMonth { day, month },
            None => continue,
        };
        out.push(Found { span, value });
    }
    out.sort_by_key(|f| f.span.start);
    out
}

/// A measured number (grouped, up to three decimals) and a unit of energy or volume. Shared
/// with the fact-checker's combined pattern.
pub(crate) const QUANTITY_NUMBER: &str = r"[0-9]{1,3}(?:[.,\x{202f}\x{a0} ][0-9]{3})+(?:[.,][0-9]{1,3})?|[0-9]+(?:[.,][0-9]{1,3})?";
pub(crate) const QUANTITY_UNIT: &str = r"m³|(?:kwh|smc|m3|mc|metri cubi|metros c[uú]bicos|m\^3)\b";

static QUANTITY: LazyLock<Regex> = LazyLock::new(|| {
    crate::text::regex(&format!(r"(?i)(?P<n>{QUANTITY_NUMBER})\s?(?P<u>{QUANTITY_UNIT})"))
});

/// A measured quantity with its unit normalised to `kWh`, `Smc` or `m3`.
pub fn find_quantities(text: &str) -> Vec<Found<(i64, &'static str)>> {
    QUANTITY
        .captures_iter(text)
        .filter_map(|c| {
            let unit = normalise_unit(c.name("u")?.as_str())?;
            let milli = parse_number_milli(c.name("n")?.as_str(), None)?;
            Some(Found { span: c.get(0)?.range(), value: (milli, unit) })
        })
        .collect()
}

pub fn normalise_unit(raw: &str) -> Option<&'static str> {
    let u = raw.to_lowercase();
    Some(match u.as_str() {
        "kwh" => "kWh",
        "smc" => "Smc",
        "m3" | "m³" | "mc" | "metri cubi" | "m^3" => "m3",
        _ if u.starts_with("metros c") => "m3",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn formats_dates_per_language() {
        assert_eq!(format_date(d(2026, 12, 5), Language::It), "5 dicembre 2026");
        assert_eq!(format_date(d(2026, 12, 5), Language::Es), "5 de diciembre de 2026");
        assert_eq!(format_date(d(2026, 8, 5), Language::Fr), "5 août 2026");
        assert_eq!(format_date(d(2026, 12, 5), Language::En), "5 December 2026");
    }

    #[test]
    fn formats_quantities() {
        assert_eq!(format_quantity(12_345_000, "kWh", Language::It), "12.345 kWh");
        assert_eq!(format_quantity(4_521_300, "m3", Language::Es), "4.521,3 m3");
        assert_eq!(format_quantity(45_210_000, "kWh", Language::En), "45,210 kWh");
    }

    #[test]
    fn reads_numbers_in_every_convention() {
        assert_eq!(parse_number_milli("1.234,56", None), Some(1_234_560));
        assert_eq!(parse_number_milli("1,234.56", None), Some(1_234_560));
        assert_eq!(parse_number_milli("1 234,56", None), Some(1_234_560));
        assert_eq!(parse_number_milli("12.345", None), Some(12_345_000));
        assert_eq!(parse_number_milli("12,5", None), Some(12_500));
        assert_eq!(parse_number_milli("4521", None), Some(4_521_000));
    }

    #[test]
    fn finds_money_in_every_format() {
        let text = "Importo 1.234,56 € oppure €1,234.56 o 1\u{202f}234,56 € e 128,40 euro, EUR 12,50, €95.60";
        let got: Vec<i64> = find_money(text).iter().map(|f| f.value.0).collect();
        assert_eq!(got, [123_456, 123_456, 123_456, 12_840, 1_250, 9_560]);
    }

    #[test]
    fn finds_dates_in_every_format() {
        let text = crate::text::fold(
            "15/03/2026, 2026-03-15, 15 marzo 2026, 15 de marzo de 2026, 15 mars 2026, March 15, 2026, 15th March 2026, 3 de mayo",
        );
        let got: Vec<DateMention> = find_dates(&text).into_iter().map(|f| f.value).collect();
        let full = DateMention::Full(d(2026, 3, 15));
        assert_eq!(got, [full, full, full, full, full, full, full, DateMention::DayMonth { day: 3, month: 5 }]);
    }

    #[test]
    fn finds_quantities() {
        let got: Vec<(i64, &str)> = find_quantities("lettura 12.345 kWh, gas 4521,3 m³ e 880 Smc")
            .into_iter()
            .map(|f| f.value)
            .collect();
        assert_eq!(got, [(12_345_000, "kWh"), (4_521_300, "m3"), (880_000, "Smc")]);
    }
}

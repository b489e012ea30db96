//! Every figure a draft can state, read in one pass: one regex whose branches are the claim
//! kinds, most specific first. At each position the first branch that matches wins (a date
//! before the number inside it, a POD before its digits), so the text is scanned once instead
//! of once per kind, and the capture groups say which kind matched and hold its parts.
//!
//! The regex runs on the folded draft (see [`super::fold`]): lower-case, no accents, one space
//! between words, no-break spaces kept because they group digits. Spaces are written `SP`
//! below: a space or a no-break space.

use std::ops::Range;
use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::{CaptureLocations, Regex};

use crate::domain::{ClaimKind, ClaimValue, Language, Money};
use crate::locale;

/// A claim found in the folded text: its folded span, kind and value.
pub(super) type Hit = (Range<usize>, ClaimKind, ClaimValue);

const SP: &str = r"[ \x{a0}\x{202f}]";
const DAY: &str = r"(?:0?[1-9]|[12][0-9]|3[01])";
const MONTH: &str = r"(?:0?[1-9]|1[0-2])";
const HOURS: &str = r"heures|heure|hours|hour|horas|hora|hrs|hr|ore|ora|h";
const MINUTES: &str = r"minutes|minute|minutos|minuto|minuti|mins|min|mn";
const DAYS: &str = r"giorni|giorno|jours|jour|days|day|dias|dia";
/// Words that say a number counts instalments.
const INSTALMENTS: &str = r"(?:equalSP)?(?:monthlySP)?(?:instalments?|installments?)|(?:equalSP)?monthlySPpayments|rate|rata|mensilita|pagamentiSPmensili|cuotas?|plazos?|mensualidad(?:es)?|pagosSPmensuales|mensualites?|echeances?|versements?|paiementsSPmensuels";
/// Words just before a time of day, which make `14 h` a time rather than a duration.
const TIME_CUES: &str =
    r"a|vers|des|avant|apres|jusqu'a|alle|ore|dalle|finoSPalle|entroSPle|las|at|by|until|from";
/// Italian and Spanish cues before a time written with a dot (`alle 14.30`); only these,
/// because after "a" or "at" the same shape is money ("pari a 12.50 €").
const DOT_TIME_CUES: &str = r"alle|ore|dalle|finoSPalle|entroSPle|las";
/// A plain number, grouped or not, with decimals: the last resort, and what a figure that
/// does not read as its kind is read as instead.
const DIGIT_RUN: &str = r"(?:\+[0-9]{1,3}[ .-]?)?[0-9](?:[ .-]?[0-9]){5,}";
const NUMBER: &str =
    r"[0-9]{1,3}(?:[.,\x{202f}\x{a0}][0-9]{3})+(?:[.,][0-9]+)?|[0-9]+(?:[.,][0-9]+)?";

/// The branches, in the order they are tried at one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Branch {
    DateIso,
    DateNumeric,
    DateDayMonth,
    DateMonthDay,
    TimeCue,
    Time12,
    Time24,
    Money,
    Quantity,
    Percent,
    DurationHourMinute,
    Duration,
    Count,
    Eircode,
    Mixed,
    Digits,
    Number,
}

fn branches() -> Vec<(Branch, &'static str, String)> {
    let months = locale::month_alternation();
    let money = locale::MONEY_NUMBER;
    let (qty, unit) = (locale::QUANTITY_NUMBER, locale::QUANTITY_UNIT);
    vec![
        (Branch::DateIso, "date_iso", format!(r"\b(?P<iso_y>[0-9]{{4}})-(?P<iso_m>{MONTH})-(?P<iso_d>{DAY})\b")),
        // A fourth group (`01.02.03.04.05`) is a phone number, not a date: it is captured so
        // the match can be read again as digits.
        (
            Branch::DateNumeric,
            "date_num",
            format!(r"\b(?P<num_d>{DAY})[/.-](?P<num_m>{MONTH})[/.-](?P<num_y>[0-9]{{4}}|[0-9]{{2}})\b(?P<num_more>[/.-][0-9])?"),
        ),
        (
            Branch::DateDayMonth,
            "date_dm",
            format!(r"\b(?P<dm_d>{DAY})(?:st|nd|rd|th|er|º|°)?SP+(?:(?:de|of)SP+)?(?P<dm_m>{months})\.?(?:SP+(?:(?:de|del)SP+)?(?P<dm_y>[0-9]{{4}}))?\b"),
        ),
        (
            Branch::DateMonthDay,
            "date_md",
            format!(r"\b(?P<md_m>{months})\.?SP+(?P<md_d>{DAY})(?:st|nd|rd|th)?(?:,?SP+(?P<md_y>[0-9]{{4}}))?\b"),
        ),
        (
            Branch::TimeCue,
            "time_cue",
            format!(
                r"\b(?:(?:{TIME_CUES})SP(?P<cue_h>[01]?[0-9]|2[0-3])SP?hSP?(?P<cue_m>[0-5][0-9])?|(?:{DOT_TIME_CUES})SP(?P<dot_h>[01]?[0-9]|2[0-3])\.(?P<dot_m>[0-5][0-9]))\b"
            ),
        ),
        (Branch::Time12, "time_12", r"\b(?P<t12_h>1[0-2]|0?[1-9])(?:[:.](?P<t12_m>[0-5][0-9]))?SP?(?P<t12_p>[ap])\.?m\b\.?".to_string()),
        (Branch::Time24, "time_24", r"\b(?P<t24_h>[01]?[0-9]|2[0-3])[:h](?P<t24_m>[0-5][0-9])\b".to_string()),
        (
            Branch::Money,
            "money",
            format!(r"(?:€|\beur\b)SP?(?P<money_a>{money})|(?P<money_b>{money})SP?(?:€|\beur\b|\beuros?\b)"),
        ),
        (Branch::Quantity, "quantity", format!(r"(?P<q_n>{qty})SP?(?P<q_u>{unit})")),
        (Branch::Percent, "percent", r"(?P<pct>[0-9]+(?:[.,][0-9]+)?)SP?%".to_string()),
        // `1 h 30`: with spaces a duration; `1h30` is a time (Time24).
        (Branch::DurationHourMinute, "dur_hm", r"\b(?P<hm_h>[0-9]{1,2})SP?hSP(?P<hm_m>[0-5][0-9])\b(?:SP?(?:min|mn)\b)?".to_string()),
        (
            Branch::Duration,
            "duration",
            format!(
                r"\b(?P<dur_n>[0-9]+(?:[.,][0-9]+)?)SP?(?P<dur_u>{HOURS}|{MINUTES}|{DAYS})\b(?:SP(?:(?:e|y|et|and)SP)?(?P<dur_n2>[0-9]{{1,2}})SP?(?P<dur_u2>{MINUTES})\b)?"
            ),
        ),
        (Branch::Count, "count", format!(r"\b(?P<cnt>[0-9]{{1,3}})SP(?:{INSTALMENTS})\b")),
        // An Irish postcode, `D02 X285`: a routing key and four characters. Any letters are
        // accepted (not only the official set: the demo's `T12 AB34` must read as one), but the
        // second part then needs a digit, so an id and the next word are not read as one.
        (
            Branch::Eircode,
            "eircode",
            r"\b(?:[a-z][0-9]{2}|d6w)SP(?:[0-9][a-z0-9]{3}|[a-z][0-9][a-z0-9]{2}|[a-z]{2}[0-9][a-z0-9]|[a-z]{3}[0-9]|[ac-fhknprtv-y]{4})\b".to_string(),
        ),
        // Tokens mixing letters and digits: POD, CUPS, PCE, invoice numbers, routing keys.
        (Branch::Mixed, "mixed", r"\b(?:[a-z][a-z0-9-]*[0-9]|[0-9][a-z0-9-]*[a-z])[a-z0-9-]*\b".to_string()),
        // Six digits or more, with or without separators: ids and phone numbers.
        (Branch::Digits, "digits", DIGIT_RUN.to_string()),
        (Branch::Number, "number", NUMBER.to_string()),
    ]
}

/// Capture group indices, looked up once by name.
struct Groups {
    branch: Vec<(usize, Branch)>,
    iso: [usize; 3],
    num: [usize; 4],
    dm: [usize; 3],
    md: [usize; 3],
    cue: [usize; 4],
    t12: [usize; 3],
    t24: [usize; 2],
    money: [usize; 2],
    quantity: [usize; 2],
    percent: usize,
    hm: [usize; 2],
    duration: [usize; 4],
    count: usize,
}

struct Pattern {
    all: Regex,
    /// Digit runs and plain numbers alone, for a match that does not read as its kind.
    generic: Regex,
    groups: Groups,
}

static PATTERN: LazyLock<Pattern> = LazyLock::new(|| {
    let branches = branches();
    let source: Vec<String> = branches
        .iter()
        .map(|(_, name, p)| format!("(?P<{name}>{})", p.replace("SP", SP)))
        .collect();
    let all = crate::text::regex(&source.join("|"));
    let generic = crate::text::regex(&format!("(?P<digits>{DIGIT_RUN})|(?P<number>{NUMBER})"));
    let index = |name: &str| {
        all.capture_names()
            .position(|n| n == Some(name))
            .unwrap_or_else(|| panic!("group {name} in the claim pattern"))
    };
    let groups = Groups {
        branch: branches
            .iter()
            .map(|(b, name, _)| (index(name), *b))
            .collect(),
        iso: ["iso_y", "iso_m", "iso_d"].map(index),
        num: ["num_y", "num_m", "num_d", "num_more"].map(index),
        dm: ["dm_y", "dm_m", "dm_d"].map(index),
        md: ["md_y", "md_m", "md_d"].map(index),
        cue: ["cue_h", "cue_m", "dot_h", "dot_m"].map(index),
        t12: ["t12_h", "t12_m", "t12_p"].map(index),
        t24: ["t24_h", "t24_m"].map(index),
        money: ["money_a", "money_b"].map(index),
        quantity: ["q_n", "q_u"].map(index),
        percent: index("pct"),
        hm: ["hm_h", "hm_m"].map(index),
        duration: ["dur_n", "dur_u", "dur_n2", "dur_u2"].map(index),
        count: index("cnt"),
    };
    Pattern {
        all,
        generic,
        groups,
    }
});

/// What one match reads as.
enum Reading {
    Claim(Range<usize>, ClaimKind, ClaimValue),
    /// Not what its shape suggested (`01.02.03.04.05`, an amount that does not parse): read the
    /// same place again as digits or a number.
    Again,
}

/// Every figure in `folded` outside the `taken` spans (URLs and e-mail addresses), in order.
pub(super) fn find(folded: &str, lang: Language, taken: &[Range<usize>], out: &mut Vec<Hit>) {
    let p = &*PATTERN;
    let mut locs = p.all.capture_locations();
    let mut at = 0;
    while let Some(m) = p.all.captures_read_at(&mut locs, folded, at) {
        let span = m.range();
        if let Some(t) = taken
            .iter()
            .find(|t| t.start < span.end && span.start < t.end)
        {
            at = t.end;
            continue;
        }
        let branch = p
            .groups
            .branch
            .iter()
            .find(|(i, _)| locs.get(*i).is_some())
            .map(|(_, b)| *b);
        let reading = match branch {
            Some(b) => read(
                b,
                &Parts {
                    folded,
                    locs: &locs,
                    groups: &p.groups,
                },
                span.clone(),
                lang,
            ),
            None => Reading::Again,
        };
        at = match reading {
            Reading::Claim(span, kind, value) => {
                out.push((span.clone(), kind, value));
                span.end.max(m.end())
            }
            Reading::Again => read_again(folded, span.start, lang, out).unwrap_or_else(|| {
                // Nothing else reads there either: keep the text as a claim no fact matches.
                out.push((
                    span.clone(),
                    ClaimKind::Number,
                    ClaimValue::Token(folded[span.clone()].to_string()),
                ));
                span.end
            }),
        };
    }
}

/// Reads the digits or number at `start`; the end of what it read.
fn read_again(folded: &str, start: usize, lang: Language, out: &mut Vec<Hit>) -> Option<usize> {
    let p = &*PATTERN;
    let m = p.generic.captures(&folded[start..])?;
    let whole = m.get(0).filter(|w| w.start() == 0)?;
    let span = start..start + whole.end();
    let text = whole.as_str();
    let (kind, value) = if m.name("digits").is_some() {
        digits(text)
    } else {
        number(text, lang)
    };
    out.push((span.clone(), kind, value));
    Some(span.end)
}

struct Parts<'a> {
    folded: &'a str,
    locs: &'a CaptureLocations,
    groups: &'a Groups,
}

impl Parts<'_> {
    fn text(&self, group: usize) -> Option<&str> {
        self.locs.get(group).map(|(s, e)| &self.folded[s..e])
    }
    fn span(&self, group: usize) -> Option<Range<usize>> {
        self.locs.get(group).map(|(s, e)| s..e)
    }
    fn number<T: std::str::FromStr>(&self, group: usize) -> Option<T> {
        self.text(group)?.parse().ok()
    }
}

fn read(branch: Branch, p: &Parts<'_>, span: Range<usize>, lang: Language) -> Reading {
    let g = p.groups;
    let claim = |kind, value| Reading::Claim(span.clone(), kind, value);
    // A date-shaped figure that is no date (31/02/2026) is still a date claim, one that no
    // fact can match.
    let date = |d: Option<NaiveDate>| match d {
        Some(d) => claim(ClaimKind::Date, ClaimValue::Date(d)),
        None => claim(
            ClaimKind::Date,
            ClaimValue::Token(p.folded[span.clone()].to_string()),
        ),
    };
    match branch {
        Branch::DateIso => {
            let [y, m, d] = g.iso;
            date(ymd(p.number(y), p.number(m), p.number(d)))
        }
        Branch::DateNumeric => {
            let [y, m, d, more] = g.num;
            if p.span(more).is_some() {
                return Reading::Again;
            }
            let year = p
                .number::<i32>(y)
                .map(|y| if y < 100 { y + 2000 } else { y });
            date(ymd(year, p.number(m), p.number(d)))
        }
        Branch::DateDayMonth | Branch::DateMonthDay => {
            let [y, m, d] = if branch == Branch::DateDayMonth {
                g.dm
            } else {
                g.md
            };
            let month = p.text(m).and_then(locale::month_number);
            // Without a year only day and month can be compared: the year is set to 0.
            let year = if p.span(y).is_some() {
                p.number(y)
            } else {
                Some(0)
            };
            date(ymd(year, month, p.number(d)))
        }
        Branch::TimeCue => {
            let [h, m, dot_h, dot_m] = g.cue;
            let (h, m) = if p.span(h).is_some() {
                (h, m)
            } else {
                (dot_h, dot_m)
            };
            let Some(start) = p.span(h).map(|s| s.start) else {
                return Reading::Again;
            };
            let minutes = p.number::<u32>(h).unwrap_or(0) * 60 + p.number::<u32>(m).unwrap_or(0);
            Reading::Claim(start..span.end, ClaimKind::Time, ClaimValue::Time(minutes))
        }
        Branch::Time12 => {
            let [h, m, half] = g.t12;
            let pm = p.text(half) == Some("p");
            let hour = p.number::<u32>(h).unwrap_or(0) % 12 + if pm { 12 } else { 0 };
            claim(
                ClaimKind::Time,
                ClaimValue::Time(hour * 60 + p.number::<u32>(m).unwrap_or(0)),
            )
        }
        Branch::Time24 => {
            let [h, m] = g.t24;
            claim(
                ClaimKind::Time,
                ClaimValue::Time(
                    p.number::<u32>(h).unwrap_or(0) * 60 + p.number::<u32>(m).unwrap_or(0),
                ),
            )
        }
        Branch::Money => {
            let [a, b] = g.money;
            let Some(num) = p.text(a).or_else(|| p.text(b)) else {
                return Reading::Again;
            };
            match locale::parse_number_milli(num, locale::money_decimal_hint(num)) {
                Some(milli) => claim(ClaimKind::Money, ClaimValue::Money(Money(milli / 10))),
                None => Reading::Again,
            }
        }
        Branch::Quantity => {
            let [n, u] = g.quantity;
            let unit = p.text(u).and_then(locale::normalise_unit);
            match (
                p.text(n).and_then(|n| locale::parse_number_milli(n, None)),
                unit,
            ) {
                (Some(milli), Some(unit)) => claim(
                    ClaimKind::Quantity,
                    ClaimValue::Quantity {
                        milli,
                        unit: unit.into(),
                    },
                ),
                _ => Reading::Again,
            }
        }
        Branch::Percent => match p
            .text(g.percent)
            .and_then(|n| locale::parse_number_milli(n, Some(decimal_mark(lang))))
        {
            Some(milli) => claim(ClaimKind::Percentage, ClaimValue::Percentage(milli / 10)),
            None => Reading::Again,
        },
        Branch::DurationHourMinute => {
            let [h, m] = g.hm;
            claim(
                ClaimKind::Duration,
                ClaimValue::Duration(
                    p.number::<i64>(h).unwrap_or(0) * 60 + p.number::<i64>(m).unwrap_or(0),
                ),
            )
        }
        Branch::Duration => {
            let [n, u, n2, u2] = g.duration;
            let first = p
                .text(n)
                .and_then(|n| locale::parse_number_milli(n, Some(decimal_mark(lang))));
            let (Some(milli), Some(unit)) = (first, p.text(u).map(unit_minutes)) else {
                return Reading::Again;
            };
            let more = p.number::<i64>(n2).unwrap_or(0) * p.text(u2).map_or(0, unit_minutes);
            claim(
                ClaimKind::Duration,
                ClaimValue::Duration(milli * unit / 1000 + more),
            )
        }
        Branch::Count => match p.number::<i64>(g.count) {
            Some(n) => claim(ClaimKind::Count, ClaimValue::Count(n)),
            None => Reading::Again,
        },
        Branch::Eircode | Branch::Mixed => claim(
            ClaimKind::Identifier,
            ClaimValue::Token(normalise_token(&p.folded[span.clone()])),
        ),
        Branch::Digits => {
            let (kind, value) = digits(&p.folded[span.clone()]);
            claim(kind, value)
        }
        Branch::Number => {
            let (kind, value) = number(&p.folded[span.clone()], lang);
            claim(kind, value)
        }
    }
}

fn ymd(year: Option<i32>, month: Option<u32>, day: Option<u32>) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year?, month?, day?)
}

/// Minutes in one of a duration's unit words.
fn unit_minutes(unit: &str) -> i64 {
    match unit.as_bytes().first() {
        Some(b'h' | b'o') => 60,
        Some(b'm') => 1,
        _ => 1440,
    }
}

/// A phone number when written with a `+` or separators, else an identifier.
fn digits(text: &str) -> (ClaimKind, ClaimValue) {
    let kind = if text.starts_with('+') || text.contains([' ', '.', '-']) {
        ClaimKind::Phone
    } else {
        ClaimKind::Identifier
    };
    (kind, ClaimValue::Token(normalise_token(text)))
}

/// A number that does not parse (`1,2345`) is kept as text: a claim no fact matches.
fn number(text: &str, lang: Language) -> (ClaimKind, ClaimValue) {
    match locale::parse_number_milli(text, Some(decimal_mark(lang))) {
        Some(milli) => (ClaimKind::Number, ClaimValue::Number(milli)),
        None => (ClaimKind::Number, ClaimValue::Token(text.to_string())),
    }
}

pub(super) fn decimal_mark(lang: Language) -> char {
    match lang {
        Language::En | Language::Other => '.',
        _ => ',',
    }
}

/// Upper-case letters and digits only: `it001e 000-12345` → `IT001E00012345`.
pub(super) fn normalise_token(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

//! Every figure a draft can state, read in one pass over the folded draft (see
//! [`super::fold`]): lower-case, no accents, one space between words, no-break spaces kept
//! because they group digits. Spaces are written `SP` in the patterns below: a space or a
//! no-break space.
//!
//! Each claim kind is a pattern (a branch), and the branches are tried in order, most specific
//! first, at every place a figure can start: a digit, `€`, `+`, or a word followed by a digit
//! (a month, "alle", a POD). The first branch that matches there wins — a date before the
//! number inside it, a POD before its digits — and reading goes on after it. Prose between
//! figures is stepped over a word at a time, and a branch is only tried where the characters
//! around the start allow it (a percentage needs a `%` after the number), so a draft costs a
//! few anchored matches per figure rather than one scan per kind. This is what makes checking
//! cheap enough to run on every draft and again before every send.

use std::cell::RefCell;
use std::collections::HashSet;
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
/// Words just before a time of day, which make `14 h` a time rather than a duration
/// ("à 14h", "vers 14 h 30", "alle 14.30"; "jusqu'à" ends in "a").
const TIME_CUES: &[&str] = &[
    "a", "vers", "des", "avant", "apres", "alle", "ore", "dalle", "le", "las", "at", "by", "until",
    "from",
];
/// Only these cues make a dotted figure a time (`alle 14.30`): after "a" or "at" the same
/// shape is money ("pari a 12.50 €").
const DOT_TIME_CUES: &[&str] = &["alle", "ore", "dalle", "las"];
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

/// Each branch's pattern and its capture groups, in the order [`read`] takes them.
fn patterns() -> Vec<(Branch, String, &'static [&'static str])> {
    let months = locale::month_alternation();
    let money = locale::MONEY_NUMBER;
    let (qty, unit) = (locale::QUANTITY_NUMBER, locale::QUANTITY_UNIT);
    let cues = TIME_CUES.join("|");
    let dot_cues = DOT_TIME_CUES.join("|");
    vec![
        (Branch::DateIso, format!(r"\b(?P<y>[0-9]{{4}})-(?P<m>{MONTH})-(?P<d>{DAY})\b"), &["y", "m", "d"]),
        // A fourth group (`01.02.03.04.05`) is a phone number, not a date: it is captured so
        // the place can be read again as digits.
        (
            Branch::DateNumeric,
            format!(r"\b(?P<d>{DAY})[/.-](?P<m>{MONTH})[/.-](?P<y>[0-9]{{4}}|[0-9]{{2}})\b(?P<more>[/.-][0-9])?"),
            &["y", "m", "d", "more"],
        ),
        (
            Branch::DateDayMonth,
            format!(r"\b(?P<d>{DAY})(?:st|nd|rd|th|er|º|°)?SP+(?:(?:de|of)SP+)?(?P<m>{months})\.?(?:SP+(?:(?:de|del)SP+)?(?P<y>[0-9]{{4}}))?\b"),
            &["y", "m", "d"],
        ),
        (
            Branch::DateMonthDay,
            format!(r"\b(?P<m>{months})\.?SP+(?P<d>{DAY})(?:st|nd|rd|th)?(?:,?SP+(?P<y>[0-9]{{4}}))?\b"),
            &["y", "m", "d"],
        ),
        (
            Branch::TimeCue,
            format!(
                r"\b(?:(?:{cues})SP(?P<h>[01]?[0-9]|2[0-3])SP?hSP?(?P<m>[0-5][0-9])?|(?:{dot_cues})SP(?P<dh>[01]?[0-9]|2[0-3])\.(?P<dm>[0-5][0-9]))\b"
            ),
            &["h", "m", "dh", "dm"],
        ),
        (
            Branch::Time12,
            r"\b(?P<h>1[0-2]|0?[1-9])(?:[:.](?P<m>[0-5][0-9]))?SP?(?P<half>[ap])\.?m\b\.?".to_string(),
            &["h", "m", "half"],
        ),
        (Branch::Time24, r"\b(?P<h>[01]?[0-9]|2[0-3])[:h](?P<m>[0-5][0-9])\b".to_string(), &["h", "m"]),
        (
            Branch::Money,
            format!(r"(?:€|\beur\b)SP?(?P<a>{money})|(?P<b>{money})SP?(?:€|\beur\b|\beuros?\b)"),
            &["a", "b"],
        ),
        (Branch::Quantity, format!(r"(?P<n>{qty})SP?(?P<u>{unit})"), &["n", "u"]),
        (Branch::Percent, r"(?P<n>[0-9]+(?:[.,][0-9]+)?)SP?%".to_string(), &["n"]),
        // `1 h 30`: with spaces a duration; `1h30` is a time (Time24).
        (
            Branch::DurationHourMinute,
            r"\b(?P<h>[0-9]{1,2})SP?hSP(?P<m>[0-5][0-9])\b(?:SP?(?:min|mn)\b)?".to_string(),
            &["h", "m"],
        ),
        (
            Branch::Duration,
            format!(
                r"\b(?P<n>[0-9]+(?:[.,][0-9]+)?)SP?(?P<u>{HOURS}|{MINUTES}|{DAYS})\b(?:SP(?:(?:e|y|et|and)SP)?(?P<n2>[0-9]{{1,2}})SP?(?P<u2>{MINUTES})\b)?"
            ),
            &["n", "u", "n2", "u2"],
        ),
        (Branch::Count, format!(r"\b(?P<n>[0-9]{{1,3}})SP(?:{INSTALMENTS})\b"), &["n"]),
        // An Irish postcode, `D02 X285`: a routing key and four characters. Any letters are
        // accepted (not only the official set: the demo's `T12 AB34` must read as one), but the
        // second part then needs a digit, so an id and the next word are not read as one.
        (
            Branch::Eircode,
            r"\b(?:[a-z][0-9]{2}|d6w)SP(?:[0-9][a-z0-9]{3}|[a-z][0-9][a-z0-9]{2}|[a-z]{2}[0-9][a-z0-9]|[a-z]{3}[0-9]|[ac-fhknprtv-y]{4})\b".to_string(),
            &[],
        ),
        // Tokens mixing letters and digits: POD, CUPS, PCE, invoice numbers, routing keys.
        (Branch::Mixed, r"\b(?:[a-z][a-z0-9-]*[0-9]|[0-9][a-z0-9-]*[a-z])[a-z0-9-]*\b".to_string(), &[]),
        // Six digits or more, with or without separators: ids and phone numbers.
        (Branch::Digits, DIGIT_RUN.to_string(), &[]),
        // Any other number, grouped or not: the last resort.
        (Branch::Number, NUMBER.to_string(), &[]),
    ]
}

struct Compiled {
    branch: Branch,
    /// The pattern anchored at the start of the text it is given.
    regex: Regex,
    /// Starts with a word boundary: never tried inside a word.
    word_start: bool,
    groups: Vec<usize>,
}

struct Patterns {
    branches: Vec<Compiled>,
    months: HashSet<String>,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let branches = patterns()
        .into_iter()
        .map(|(branch, pattern, names)| {
            let regex = crate::text::regex(&format!("^(?:{})", pattern.replace("SP", SP)));
            let groups = names
                .iter()
                .map(|name| {
                    regex
                        .capture_names()
                        .position(|n| n == Some(name))
                        .unwrap_or_else(|| panic!("group {name} in the {branch:?} pattern"))
                })
                .collect();
            Compiled {
                branch,
                regex,
                word_start: pattern.starts_with(r"\b"),
                groups,
            }
        })
        .collect();
    let months = locale::month_alternation()
        .split('|')
        .map(str::to_string)
        .collect();
    Patterns { branches, months }
});

thread_local! {
    /// Capture slots for each branch, kept from one draft to the next: allocating them for
    /// every draft cost more than reading a short one.
    static SLOTS: RefCell<Vec<CaptureLocations>> = const { RefCell::new(Vec::new()) };
}

/// Every figure in `folded` outside the `taken` spans (URLs and e-mail addresses, sorted), in
/// order.
pub(super) fn find(folded: &str, lang: Language, taken: &[Range<usize>], out: &mut Vec<Hit>) {
    let p = &*PATTERNS;
    let b = folded.as_bytes();
    SLOTS.with_borrow_mut(|slots| {
        if slots.len() != p.branches.len() {
            *slots = p
                .branches
                .iter()
                .map(|c| c.regex.capture_locations())
                .collect();
        }
        let mut taken = taken.iter().peekable();
        let mut at = 0;
        while at < b.len() {
            if let Some(t) = taken.next_if(|t| at >= t.start) {
                at = at.max(t.end);
                continue;
            }
            let c = b[at];
            if c.is_ascii_lowercase() {
                // Prose, word by word: a word starts a figure only when it has a digit in it
                // or before the next word ("it001e…", "marzo 15", "alle 14.30").
                let end = at
                    + b[at..]
                        .iter()
                        .take_while(|c| c.is_ascii_lowercase())
                        .count();
                if (at > 0 && is_word(b[at - 1])) || !digit_in_or_after(b, end) {
                    at = end;
                    continue;
                }
            } else if !(c.is_ascii_digit() || c == b'+' || c == 0xE2) {
                // 0xE2 starts `€` (and other characters, which `Start::at` turns down).
                at += 1;
                continue;
            }
            let read = Start::at(folded, at).and_then(|start| read_at(p, slots, &start, lang, out));
            at = read.unwrap_or_else(|| skip(b, at));
        }
    });
}

/// Whether the word whose letters end at `end` goes on with a digit (`it001e`, `abc-12`) or is
/// followed by one after an optional dot and spaces (`mar. 15`).
fn digit_in_or_after(b: &[u8], end: usize) -> bool {
    match b.get(end) {
        Some(c) if c.is_ascii_digit() => true,
        Some(b'-') => b[end..]
            .iter()
            .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'-')
            .any(u8::is_ascii_digit),
        // A space, a no-break space (0xC2, 0xE2 …) or an abbreviation's dot.
        Some(b' ' | b'.' | 0xC2 | 0xE2) => {
            let mut after = end + usize::from(b[end] == b'.');
            let spaced = space_width(b, after).is_some();
            while let Some(n) = space_width(b, after) {
                after += n;
            }
            spaced && b.get(after).is_some_and(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// Past the character at `at`, or past the letters of the word it starts: a figure starts at
/// a digit, `€`, `+` or the start of a word.
fn skip(b: &[u8], at: usize) -> usize {
    let mut next = at + 1;
    if b[at].is_ascii_lowercase() {
        while next < b.len() && b[next].is_ascii_lowercase() {
            next += 1;
        }
    }
    while next < b.len() && (b[next] & 0xC0) == 0x80 {
        next += 1;
    }
    next
}

/// Tries the branches at the start in order; the end of what the first that matches read.
fn read_at(
    p: &Patterns,
    locs: &mut [CaptureLocations],
    start: &Start<'_>,
    lang: Language,
    out: &mut Vec<Hit>,
) -> Option<usize> {
    let (rest, at) = (start.rest, start.at);
    for (c, locs) in p.branches.iter().zip(locs.iter_mut()) {
        if (c.word_start && start.inside_word) || !start.allows(c.branch, &p.months) {
            continue;
        }
        let Some(m) = c.regex.captures_read(locs, rest) else {
            continue;
        };
        let span = at..at + m.end();
        let parts = Parts {
            rest,
            at,
            locs,
            groups: &c.groups,
        };
        let reading = read(c.branch, &parts, span.clone(), lang);
        return Some(match reading {
            Reading::Claim(claim_span, kind, value) => {
                out.push((claim_span, kind, value));
                span.end
            }
            Reading::Again => read_again(p, start, lang, out).unwrap_or_else(|| {
                // Nothing else reads there either: keep the text as a claim no fact matches.
                out.push((
                    span.clone(),
                    ClaimKind::Number,
                    ClaimValue::Token(rest[..m.end()].to_string()),
                ));
                span.end
            }),
        });
    }
    None
}

/// Reads the digits or the number at the start, for a match that is not what its shape
/// suggested; the end of what it read.
fn read_again(
    p: &Patterns,
    start: &Start<'_>,
    lang: Language,
    out: &mut Vec<Hit>,
) -> Option<usize> {
    p.branches
        .iter()
        .filter(|c| matches!(c.branch, Branch::Digits | Branch::Number))
        .find_map(|c| {
            let m = c.regex.find(start.rest)?;
            let text = m.as_str();
            let (kind, value) = if c.branch == Branch::Digits {
                digits(text)
            } else {
                number(text, lang)
            };
            out.push((start.at..start.at + m.end(), kind, value));
            Some(start.at + m.end())
        })
}

/// What the text around a possible start looks like: enough to pass over the branches that
/// cannot match there without running them.
struct Start<'a> {
    at: usize,
    /// The folded text from `at`.
    rest: &'a str,
    first: u8,
    /// The byte before is part of a word: branches that start with `\b` cannot match.
    inside_word: bool,
    /// How many digits start the text, and the byte after them.
    digits: usize,
    after_digits: u8,
    /// The first byte after the number (digits, `.,:`, spaces between digit groups) and one
    /// space: what the number is of (`€`, `%`, `k` of kWh, `m` of marzo, `r` of rate).
    unit: u8,
    /// The run of letters, digits and hyphens from the start has a letter, a digit.
    run_letter: bool,
    run_digit: bool,
    /// Digits in the run of digits, spaces, dots and hyphens from the start (phone numbers).
    run_digits: usize,
    /// The letters the text starts with, and whether a digit follows them (after an
    /// optional dot and spaces): "marzo 15", "alle 14:30".
    word: &'a str,
    digit_after_word: bool,
}

impl<'a> Start<'a> {
    /// `None` where no figure can start: not a digit, `€`, `+` or a word near a digit.
    fn at(folded: &'a str, at: usize) -> Option<Self> {
        let (b, rest) = (folded.as_bytes(), &folded[at..]);
        let r = rest.as_bytes();
        let first = r[0];
        let inside_word = at > 0 && is_word(b[at - 1]);
        let word_start = first.is_ascii_lowercase() && !inside_word;
        if !(first.is_ascii_digit() || first == b'+' || rest.starts_with('€') || word_start) {
            return None;
        }
        let digits = r.iter().take_while(|c| c.is_ascii_digit()).count();
        let (mut run_letter, mut run_digit) = (false, false);
        for &c in r
            .iter()
            .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'-')
        {
            run_letter |= c.is_ascii_alphabetic();
            run_digit |= c.is_ascii_digit();
        }
        let letters = r.iter().take_while(|c| c.is_ascii_lowercase()).count();
        let mut after = letters + usize::from(r.get(letters) == Some(&b'.'));
        let spaced = space_width(r, after).is_some();
        while let Some(n) = space_width(r, after) {
            after += n;
        }
        let digit_after_word =
            letters > 0 && spaced && r.get(after).is_some_and(u8::is_ascii_digit);
        if word_start && !(run_digit || digit_after_word) {
            return None;
        }
        Some(Start {
            at,
            rest,
            first,
            inside_word,
            digits,
            after_digits: r.get(digits).copied().unwrap_or(0),
            unit: unit_after_number(r, digits),
            run_letter,
            run_digit,
            run_digits: r
                .iter()
                .take_while(|&&c| c.is_ascii_digit() || matches!(c, b' ' | b'.' | b'-' | b'+'))
                .filter(|c| c.is_ascii_digit())
                .count(),
            word: &rest[..letters],
            digit_after_word,
        })
    }

    /// Whether `branch` can match here at all. Each test follows from the branch's pattern,
    /// so passing over a branch never changes what is read, only how fast.
    fn allows(&self, branch: Branch, months: &HashSet<String>) -> bool {
        let (d, sep, unit) = (self.digits, self.after_digits, self.unit);
        let day_or_hour = (1..=2).contains(&d);
        match branch {
            Branch::DateIso => d == 4 && sep == b'-',
            Branch::DateNumeric => day_or_hour && matches!(sep, b'/' | b'.' | b'-'),
            // The month, an ordinal (`1st`, `1er`) or `º`/`°` (0xC2 ...) after the day.
            Branch::DateDayMonth => day_or_hour && (unit.is_ascii_lowercase() || unit == 0xC2),
            Branch::DateMonthDay => self.digit_after_word && months.contains(self.word),
            Branch::TimeCue => self.digit_after_word && TIME_CUES.contains(&self.word),
            Branch::Time12 => day_or_hour && matches!(unit, b'a' | b'p'),
            Branch::Time24 => day_or_hour && matches!(sep, b':' | b'h'),
            // `€ 12`, `eur 12`, `12 €` (0xE2 starts `€`), `12 eur`, `12 euro`.
            Branch::Money => {
                self.first == 0xE2 || self.word == "eur" || (d > 0 && matches!(unit, b'e' | 0xE2))
            }
            Branch::Quantity => d > 0 && matches!(unit, b'k' | b's' | b'm'),
            Branch::Percent => d > 0 && unit == b'%',
            Branch::DurationHourMinute => day_or_hour && unit == b'h',
            // Hours, ore, minutes, giorni, jours, days/dias.
            Branch::Duration => d > 0 && matches!(unit, b'h' | b'o' | b'm' | b'g' | b'j' | b'd'),
            Branch::Count => (1..=3).contains(&d) && unit.is_ascii_lowercase(),
            Branch::Eircode => self.run_digit && (1..=3).contains(&self.word.len()),
            Branch::Mixed => self.run_letter && self.run_digit,
            Branch::Digits => self.run_digits >= 6,
            Branch::Number => d > 0,
        }
    }
}

/// The byte after a number that ends its leading digits at `i` (more digits, `.`, `,`, `:`,
/// and spaces between groups of digits), after one space.
fn unit_after_number(b: &[u8], mut i: usize) -> u8 {
    loop {
        if i < b.len() && matches!(b[i], b'0'..=b'9' | b'.' | b',' | b':') {
            i += 1;
            continue;
        }
        match space_width(b, i) {
            Some(n) if b.get(i + n).is_some_and(u8::is_ascii_digit) => i += n,
            _ => break,
        }
    }
    if let Some(n) = space_width(b, i) {
        i += n;
    }
    b.get(i).copied().unwrap_or(0)
}

/// The length of the space or no-break space at `i`.
fn space_width(b: &[u8], i: usize) -> Option<usize> {
    let rest = b.get(i..)?;
    if rest.first() == Some(&b' ') {
        Some(1)
    } else if rest.starts_with("\u{a0}".as_bytes()) {
        Some(2)
    } else if rest.starts_with("\u{202f}".as_bytes()) {
        Some(3)
    } else {
        None
    }
}

/// A byte that `\b` counts as part of a word (the patterns' boundaries are ASCII).
fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// What one match reads as.
enum Reading {
    Claim(Range<usize>, ClaimKind, ClaimValue),
    /// Not what its shape suggested (`01.02.03.04.05`, an amount that does not parse): read the
    /// same place again as digits or a number.
    Again,
}

/// A branch's match: its groups, by their position in the branch's group list.
struct Parts<'a> {
    rest: &'a str,
    at: usize,
    locs: &'a CaptureLocations,
    groups: &'a [usize],
}

impl Parts<'_> {
    fn text(&self, i: usize) -> Option<&str> {
        self.locs
            .get(*self.groups.get(i)?)
            .map(|(s, e)| &self.rest[s..e])
    }
    fn start(&self, i: usize) -> Option<usize> {
        self.locs
            .get(*self.groups.get(i)?)
            .map(|(s, _)| self.at + s)
    }
    fn number<T: std::str::FromStr>(&self, i: usize) -> Option<T> {
        self.text(i)?.parse().ok()
    }
}

fn read(branch: Branch, p: &Parts<'_>, span: Range<usize>, lang: Language) -> Reading {
    let text = &p.rest[..span.len()];
    let claim = |kind, value| Reading::Claim(span.clone(), kind, value);
    // A date-shaped figure that is no date (31/02/2026) is still a date claim, one that no
    // fact can match.
    let date = |d: Option<NaiveDate>| match d {
        Some(d) => claim(ClaimKind::Date, ClaimValue::Date(d)),
        None => claim(ClaimKind::Date, ClaimValue::Token(text.to_string())),
    };
    match branch {
        Branch::DateIso => date(ymd(p.number(0), p.number(1), p.number(2))),
        Branch::DateNumeric => {
            if p.text(3).is_some() {
                return Reading::Again;
            }
            let year = p
                .number::<i32>(0)
                .map(|y| if y < 100 { y + 2000 } else { y });
            date(ymd(year, p.number(1), p.number(2)))
        }
        Branch::DateDayMonth | Branch::DateMonthDay => {
            let month = p.text(1).and_then(locale::month_number);
            // Without a year only day and month can be compared: the year is set to 0.
            let year = if p.text(0).is_some() {
                p.number(0)
            } else {
                Some(0)
            };
            date(ymd(year, month, p.number(2)))
        }
        Branch::TimeCue => {
            // The span is the time alone, without its cue word.
            let (h, m) = if p.text(0).is_some() { (0, 1) } else { (2, 3) };
            let Some(start) = p.start(h) else {
                return Reading::Again;
            };
            let minutes = p.number::<u32>(h).unwrap_or(0) * 60 + p.number::<u32>(m).unwrap_or(0);
            Reading::Claim(start..span.end, ClaimKind::Time, ClaimValue::Time(minutes))
        }
        Branch::Time12 => {
            let pm = p.text(2) == Some("p");
            let hour = p.number::<u32>(0).unwrap_or(0) % 12 + if pm { 12 } else { 0 };
            claim(
                ClaimKind::Time,
                ClaimValue::Time(hour * 60 + p.number::<u32>(1).unwrap_or(0)),
            )
        }
        Branch::Time24 => claim(
            ClaimKind::Time,
            ClaimValue::Time(
                p.number::<u32>(0).unwrap_or(0) * 60 + p.number::<u32>(1).unwrap_or(0),
            ),
        ),
        Branch::Money => {
            let Some(num) = p.text(0).or_else(|| p.text(1)) else {
                return Reading::Again;
            };
            match locale::parse_number_milli(num, locale::money_decimal_hint(num)) {
                Some(milli) => claim(ClaimKind::Money, ClaimValue::Money(Money(milli / 10))),
                None => Reading::Again,
            }
        }
        Branch::Quantity => {
            let unit = p.text(1).and_then(locale::normalise_unit);
            match (
                p.text(0).and_then(|n| locale::parse_number_milli(n, None)),
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
            .text(0)
            .and_then(|n| locale::parse_number_milli(n, Some(decimal_mark(lang))))
        {
            Some(milli) => claim(ClaimKind::Percentage, ClaimValue::Percentage(milli / 10)),
            None => Reading::Again,
        },
        Branch::DurationHourMinute => claim(
            ClaimKind::Duration,
            ClaimValue::Duration(
                p.number::<i64>(0).unwrap_or(0) * 60 + p.number::<i64>(1).unwrap_or(0),
            ),
        ),
        Branch::Duration => {
            let first = p
                .text(0)
                .and_then(|n| locale::parse_number_milli(n, Some(decimal_mark(lang))));
            let (Some(milli), Some(unit)) = (first, p.text(1).map(unit_minutes)) else {
                return Reading::Again;
            };
            let more = p.number::<i64>(2).unwrap_or(0) * p.text(3).map_or(0, unit_minutes);
            claim(
                ClaimKind::Duration,
                ClaimValue::Duration(milli * unit / 1000 + more),
            )
        }
        Branch::Count => match p.number::<i64>(0) {
            Some(n) => claim(ClaimKind::Count, ClaimValue::Count(n)),
            None => Reading::Again,
        },
        Branch::Eircode | Branch::Mixed => claim(
            ClaimKind::Identifier,
            ClaimValue::Token(normalise_token(text)),
        ),
        Branch::Digits => {
            let (kind, value) = digits(text);
            claim(kind, value)
        }
        Branch::Number => {
            let (kind, value) = number(text, lang);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The reading the scanner must reproduce, done the slow way: one regex of every branch,
    /// leftmost-first, searched from the end of each match to the next; the branch that
    /// matched then reads its match.
    fn reference(folded: &str, lang: Language) -> Vec<Hit> {
        let p = &*PATTERNS;
        let group = Regex::new(r"\(\?P<[a-z0-9]+>").unwrap();
        let source: Vec<String> = patterns()
            .iter()
            .enumerate()
            .map(|(i, (_, pattern, _))| {
                format!(
                    "(?P<b{i}>{})",
                    group.replace_all(pattern, "(?:").replace("SP", SP)
                )
            })
            .collect();
        let all = crate::text::regex(&source.join("|"));
        let mut locs = all.capture_locations();
        let (mut out, mut at) = (Vec::new(), 0);
        while let Some(m) = all.captures_read_at(&mut locs, folded, at) {
            let i = (0..p.branches.len())
                .find(|i| locs.get(i + 1).is_some())
                .unwrap();
            let c = &p.branches[i];
            let start = Start::at(folded, m.start())
                .unwrap_or_else(|| panic!("{:?} starts nowhere in {folded}", m.as_str()));
            let mut branch_locs = c.regex.capture_locations();
            let own = c.regex.captures_read(&mut branch_locs, start.rest).unwrap();
            assert_eq!(own.end(), m.len(), "{:?} in {folded}", m.as_str());
            let parts = Parts {
                rest: start.rest,
                at: m.start(),
                locs: &branch_locs,
                groups: &c.groups,
            };
            at = match read(c.branch, &parts, m.range(), lang) {
                Reading::Claim(claim_span, kind, value) => {
                    out.push((claim_span, kind, value));
                    m.end()
                }
                Reading::Again => read_again(p, &start, lang, &mut out).unwrap(),
            };
        }
        out
    }

    #[test]
    fn passing_over_branches_never_changes_what_is_read() {
        let mut texts: Vec<String> = [
            "Bolletta F2026-0011452 di 1.234,56 € (€1,234.56; 1\u{202f}234,56 €; EUR 12,50; 12 euros) scade il 5 dicembre 2026, \
             il 15/03/2026, il 2026-03-15, 15 de marzo de 2026, 15 mars 2026, March 15, 2026, 1er mars, 1º de mayo, mar. 3",
            "alle 14:30, ore 14.30, a las 14:30, à 14h30, à 14h, vers 14 h 30, at 2:30 pm, 2 pm, 12:15 a.m., pari a 12.50 €",
            "3 ore, 90 minuti, 2 ore e 30 minuti, 1,5 ore, 1 h 30, 1h30, 2h, 45 min, 2 giorni, 3 jours, 24h/24",
            "3 rate, 12 cuotas, 12 mensualités, in 6 monthly payments, 3 equal monthly instalments, 6 plazos",
            "POD IT001E00012345, CUPS ES0021000012345678LB, PDR 00881234567890, T12 AB34, D02 X285, d6w 1234, x12_3, abc1_ 12",
            "+39 333 123 4567, 800 123 456, 06.55.50.21.21, 01.02.03.04.05, 31/02/2026, 1,2345, 412 kWh, 4521,3 m³, 880 smc, 10%, 10 %",
            "12345 678 €, 1.240 clienti, 112, co2, 3rd, covid-19, 14.30 €, ore 25.30, eur12, 2026, 0, 99999999999999999999999",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        for (name, bytes) in crate::embedded::TEMPLATES
            .iter()
            .filter(|(n, _)| n.starts_with("replies/"))
        {
            texts.push(format!("{name} {}", String::from_utf8_lossy(bytes)));
        }
        for text in &texts {
            let folded = super::super::fold::Folded::new(text).text;
            for lang in Language::SUPPORTED {
                let mut fast = Vec::new();
                find(&folded, lang, &[], &mut fast);
                assert_eq!(fast, reference(&folded, lang), "{folded}");
            }
        }
    }
}

//! Money as whole cents: no floating point anywhere near a customer's balance.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Language;

/// An amount in cents of the utility's currency (EUR in the demo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct Money(pub i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn cents(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Formats the amount the way customers of `lang` write it:
    /// it/es `1.234,56 €`, fr `1 234,56 €` (narrow no-break space), en `€1,234.56`.
    pub fn format(self, lang: Language) -> String {
        let negative = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let (units, cents) = (abs / 100, abs % 100);
        let (group, decimal) = match lang {
            Language::En | Language::Other => (',', '.'),
            Language::Fr => ('\u{202f}', ','),
            Language::It | Language::Es => ('.', ','),
        };
        let grouped = group_thousands(units, group);
        let sign = if negative { "-" } else { "" };
        match lang {
            Language::En | Language::Other => format!("{sign}€{grouped}{decimal}{cents:02}"),
            _ => format!("{sign}{grouped}{decimal}{cents:02} €"),
        }
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).sum())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02} EUR", self.0 / 100, (self.0 % 100).abs())
    }
}

/// `1234567` with `.` → `1.234.567`.
pub fn group_thousands(n: u64, sep: char) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_every_language() {
        let m = Money(123_456);
        assert_eq!(m.format(Language::It), "1.234,56 €");
        assert_eq!(m.format(Language::Es), "1.234,56 €");
        assert_eq!(m.format(Language::Fr), "1\u{202f}234,56 €");
        assert_eq!(m.format(Language::En), "€1,234.56");
        assert_eq!(Money(5).format(Language::It), "0,05 €");
        assert_eq!(Money(-12840).format(Language::En), "-€128.40");
    }
}

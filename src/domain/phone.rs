//! Phone numbers, normalised to international form so a CIS lookup by phone (WhatsApp senders,
//! numbers quoted in a message) matches however the number was written.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `+` and digits only: `+39 333 123 4567`, `0039 333-123-4567` → `+393331234567`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an international phone number (expected +<country code><number>, 8 to 15 digits)")]
pub struct InvalidPhone(pub String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, InvalidPhone> {
        let trimmed = raw.trim();
        let allowed = |c: char| c.is_ascii_digit() || " .-/()+".contains(c);
        if trimmed.is_empty() || !trimmed.chars().all(allowed) {
            return Err(InvalidPhone(raw.to_string()));
        }
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        // International only: a national number is ambiguous across the utility's countries.
        let national = if trimmed.starts_with('+') {
            digits.as_str()
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest
        } else {
            return Err(InvalidPhone(raw.to_string()));
        };
        if !(8..=15).contains(&national.len()) || national.starts_with('0') {
            return Err(InvalidPhone(raw.to_string()));
        }
        Ok(Self(format!("+{national}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = InvalidPhone;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> Self {
        p.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_number_are_equal() {
        let a = PhoneNumber::parse("+39 333 123 4567").unwrap();
        assert_eq!(a, PhoneNumber::parse("0039 333-123-4567").unwrap());
        assert_eq!(a.as_str(), "+393331234567");
    }

    #[test]
    fn national_and_malformed_numbers_are_rejected() {
        for bad in ["333 123 4567", "+39 abc", "+1234", ""] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Customer accounts and supply points (POD, PDR, CUPS, PDL, PCE, MPRN, GPRN, water meters).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A customer account number: eight digits starting with 4 in the demo CIS.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    /// Accepts an account number as customers write it ("4000 0001", "40000001").
    pub fn parse(raw: &str) -> Option<Self> {
        let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        (digits.len() == 8 && digits.starts_with('4') && digits.chars().all(|c| c.is_ascii_digit()))
            .then_some(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Commodity {
    Electricity,
    Gas,
    Water,
}

impl Commodity {
    pub fn as_str(self) -> &'static str {
        match self {
            Commodity::Electricity => "electricity",
            Commodity::Gas => "gas",
            Commodity::Water => "water",
        }
    }
}

/// The national scheme a supply point identifier belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SupplyKind {
    /// Italy, electricity: `IT` + distributor + `E` + digits.
    Pod,
    /// Italy, gas: 14 digits.
    Pdr,
    /// Spain, electricity and gas: `ES` + 16 digits + 2 check letters (+ 2 optional).
    Cups,
    /// France, electricity (Linky PRM): 14 digits.
    Pdl,
    /// France, gas: `GI` + 6 digits.
    Pce,
    /// Ireland, electricity: 11 digits starting with 10.
    Mprn,
    /// Ireland, gas: 7 digits.
    Gprn,
    /// A water meter serial.
    Water,
}

impl SupplyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SupplyKind::Pod => "POD",
            SupplyKind::Pdr => "PDR",
            SupplyKind::Cups => "CUPS",
            SupplyKind::Pdl => "PDL",
            SupplyKind::Pce => "PCE",
            SupplyKind::Mprn => "MPRN",
            SupplyKind::Gprn => "GPRN",
            SupplyKind::Water => "WATER",
        }
    }
}

/// A supply point identifier, upper-cased with spaces removed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SupplyPointId(String);

impl SupplyPointId {
    pub fn normalise(raw: &str) -> Self {
        Self(
            raw.chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .flat_map(char::to_uppercase)
                .collect(),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SupplyPointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The two CUPS check letters for its 16 digits (the standard mod-529 scheme).
pub fn cups_check_letters(digits16: &str) -> Option<[char; 2]> {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    if digits16.len() != 16 || !digits16.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits16.parse().ok()?;
    let r = (n % 529) as usize;
    Some([LETTERS[r / 23] as char, LETTERS[r % 23] as char])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_accepts_spaced_digits_only() {
        assert_eq!(AccountId::parse("4000 0001").unwrap().as_str(), "40000001");
        assert!(AccountId::parse("30000001").is_none());
        assert!(AccountId::parse("4000001").is_none());
    }

    #[test]
    fn cups_check_letters_match_known_example() {
        assert_eq!(cups_check_letters("0021000012345678"), Some(['L', 'B']));
        assert_eq!(cups_check_letters("0031405522670012"), Some(['S', 'L']));
        assert_eq!(cups_check_letters("12"), None);
    }

    #[test]
    fn supply_ids_normalise() {
        assert_eq!(SupplyPointId::normalise("it001e 0001 2345").as_str(), "IT001E00012345");
    }
}

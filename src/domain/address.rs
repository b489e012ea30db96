//! E-mail addresses and Message-IDs, normalised when they enter the system.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A syntactically plausible, lower-cased e-mail address (`local@domain`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an e-mail address (expected local@domain)")]
pub struct InvalidEmail(pub String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let trimmed = raw.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, domain) = trimmed
            .rsplit_once('@')
            .ok_or_else(|| InvalidEmail(raw.to_string()))?;
        let valid_local = !local.is_empty() && local.len() <= 64;
        let valid_domain = !domain.is_empty()
            && domain.len() <= 253
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let no_space = !trimmed.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid_local && valid_domain && no_space {
            Ok(Self(trimmed.to_lowercase()))
        } else {
            Err(InvalidEmail(raw.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidEmail;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An RFC 5322 Message-ID without its angle brackets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a Message-ID (expected id-left@id-right without spaces)")]
pub struct InvalidMessageId(pub String);

impl MessageId {
    pub fn parse(raw: &str) -> Result<Self, InvalidMessageId> {
        let id = raw.trim().trim_start_matches('<').trim_end_matches('>');
        let ok = !id.is_empty()
            && id.len() <= 998
            && !id.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
        if ok {
            Ok(Self(id.to_string()))
        } else {
            Err(InvalidMessageId(raw.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used in headers: `<id>`.
    pub fn bracketed(&self) -> String {
        format!("<{}>", self.0)
    }
}

impl TryFrom<String> for MessageId {
    type Error = InvalidMessageId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MessageId> for String {
    fn from(value: MessageId) -> Self {
        value.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lowercased_and_unbracketed() {
        let e = EmailAddress::parse(" <Giulia.Rossi@Posta.Example> ").unwrap();
        assert_eq!(e.as_str(), "giulia.rossi@posta.example");
        assert_eq!(e.local_part(), "giulia.rossi");
        assert_eq!(e.domain(), "posta.example");
    }

    #[test]
    fn email_rejects_garbage() {
        for bad in ["", "no-at-sign", "@domain.example", "a@", "a b@c.example", "a@.example"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn message_id_round_trips_brackets() {
        let m = MessageId::parse("<abc.123@mail.example>").unwrap();
        assert_eq!(m.as_str(), "abc.123@mail.example");
        assert_eq!(m.bracketed(), "<abc.123@mail.example>");
        assert!(MessageId::parse("<with space@x>").is_err());
        assert!(MessageId::parse("<>").is_err());
    }
}

//! The people who work the queue: user names, roles, and what each role may do. Checked on
//! every web route and API call.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A staff user name: 1–64 characters of `a-z 0-9 . _ - @`, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Username(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a user name: use 1 to 64 characters from a-z, 0-9, '.', '_', '-' and '@'")]
pub struct InvalidUsername(pub String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, InvalidUsername> {
        let name = s.trim().to_lowercase();
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@'));
        if ok { Ok(Self(name)) } else { Err(InvalidUsername(s.to_string())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Username {
    type Err = InvalidUsername;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works the queue: approves, edits and rejects drafts; escalates what is beyond them.
    Agent,
    /// Everything an agent does, plus escalated items, overrides of unverified claims and
    /// reassignment.
    Supervisor,
    /// Reads everything, changes nothing.
    Compliance,
    /// Manages accounts and tokens and reads everything; does not answer customers
    /// (separation of duties).
    Admin,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown role `{0}`; expected one of: agent, supervisor, compliance, admin")]
pub struct UnknownRole(pub String);

impl Role {
    pub const ALL: [Role; 4] = [Role::Agent, Role::Supervisor, Role::Compliance, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Compliance => "compliance",
            Role::Admin => "admin",
        }
    }

    /// The one place where roles meet permissions.
    pub fn can(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Agent => matches!(permission, Read | Act),
            Role::Supervisor => matches!(permission, Read | Act | ActOnEscalated | Override | Reassign),
            Role::Compliance => matches!(permission, Read),
            Role::Admin => matches!(permission, Read | ManageUsers),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim()).ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// What a request may need. Each route names one; [`Role::can`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// The queue, messages, decisions, statistics.
    Read,
    /// Approve, edit, reject, escalate, correct the intent or urgency of an item that is not
    /// escalated.
    Act,
    /// The same on escalated items (emergencies and what an agent escalated).
    ActOnEscalated,
    /// Send a reply with a claim the fact-checker could not verify (a reason is required).
    Override,
    /// Give an item to another person.
    Reassign,
    /// Add, change and disable users; issue and revoke API tokens.
    ManageUsers,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Act => "act",
            Permission::ActOnEscalated => "act_on_escalated",
            Permission::Override => "override",
            Permission::Reassign => "reassign",
            Permission::ManageUsers => "manage_users",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_parsed_at_the_boundary() {
        assert_eq!(Username::parse(" Paola.Neri ").unwrap().as_str(), "paola.neri");
        assert!(Username::parse("").is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("<script>").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn the_role_matrix() {
        use Permission::*;
        let all = [Read, Act, ActOnEscalated, Override, Reassign, ManageUsers];
        let allowed = |r: Role| all.iter().copied().filter(|p| r.can(*p)).collect::<Vec<_>>();
        assert_eq!(allowed(Role::Agent), [Read, Act]);
        assert_eq!(allowed(Role::Supervisor), [Read, Act, ActOnEscalated, Override, Reassign]);
        assert_eq!(allowed(Role::Compliance), [Read]);
        assert_eq!(allowed(Role::Admin), [Read, ManageUsers]);
        assert_eq!("supervisor".parse::<Role>(), Ok(Role::Supervisor));
        assert!("root".parse::<Role>().is_err());
    }
}

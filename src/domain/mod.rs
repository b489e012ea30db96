//! Domain types shared by every stage: parsed once at the boundary, trusted afterwards.

mod address;
mod decision;
mod fact;
pub(crate) mod money;
mod phone;
mod staff;
mod supply;
mod taxonomy;

pub use address::{EmailAddress, InvalidEmail, InvalidMessageId, MessageId};
pub use decision::{Decision, Reason, ReasonCode};
pub use fact::{Claim, ClaimKind, ClaimValue, Fact, FactValue};
pub use money::Money;
pub use phone::{InvalidPhone, PhoneNumber};
pub use staff::{InvalidUsername, Permission, Role, Username, UnknownRole};
pub use supply::{AccountId, Commodity, SupplyKind, SupplyPointId, cups_check_letters};
pub use taxonomy::{Intent, Language, UnknownLabel, Urgency};

//! The fixed taxonomy: intents, urgencies and languages (ids used in config, templates, eval
//! files, the audit trail and the API).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown {axis} `{value}`; expected one of: {expected}")]
pub struct UnknownLabel {
    pub axis: &'static str,
    pub value: String,
    pub expected: String,
}

macro_rules! label_enum {
    ($(#[$meta:meta])* $name:ident, $axis:literal, { $($variant:ident = $id:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $id),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownLabel;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim() {
                    $($id => Ok($name::$variant),)+
                    other => Err(UnknownLabel {
                        axis: $axis,
                        value: other.to_string(),
                        expected: [$($id),+].join(", "),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

label_enum!(
    /// What the customer wants.
    Intent, "intent", {
        Billing = "billing",
        Payment = "payment",
        InstallmentPlan = "installment_plan",
        MeterReading = "meter_reading",
        Outage = "outage",
        Assistance = "assistance",
        Contract = "contract",
        AccountUpdate = "account_update",
        Complaint = "complaint",
        Other = "other",
    }
);

label_enum!(
    /// How soon a person must look. Ordered from most to least urgent.
    Urgency, "urgency", {
        Emergency = "emergency",
        High = "high",
        Normal = "normal",
        Low = "low",
    }
);

label_enum!(
    /// The language of the message. `Other` is detected but answered by a person.
    Language, "language", {
        It = "it",
        Es = "es",
        Fr = "fr",
        En = "en",
        Other = "other",
    }
);

impl Intent {
    /// Intents whose answer needs account data, so an unverified sender gets none.
    pub fn needs_account_data(self) -> bool {
        matches!(
            self,
            Intent::Billing
                | Intent::Payment
                | Intent::InstallmentPlan
                | Intent::MeterReading
                | Intent::Contract
                | Intent::AccountUpdate
        )
    }
}

impl Language {
    /// The languages Switchyard writes replies in.
    pub const SUPPORTED: [Language; 4] = [Language::It, Language::Es, Language::Fr, Language::En];

    pub fn is_supported(self) -> bool {
        self != Language::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for i in Intent::ALL {
            assert_eq!(i.as_str().parse::<Intent>().unwrap(), *i);
        }
        for u in Urgency::ALL {
            assert_eq!(u.as_str().parse::<Urgency>().unwrap(), *u);
        }
        assert_eq!(
            serde_json::to_string(&Intent::InstallmentPlan).unwrap(),
            "\"installment_plan\""
        );
    }

    #[test]
    fn unknown_label_names_the_choices() {
        let err = "billng".parse::<Intent>().unwrap_err();
        assert!(err.to_string().contains("billing, payment"), "{err}");
    }

    #[test]
    fn urgency_orders_most_urgent_first() {
        assert!(Urgency::Emergency < Urgency::High);
        assert!(Urgency::Normal < Urgency::Low);
    }
}

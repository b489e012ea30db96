//! Two requests that change who must handle a message, read from the customer's own words:
//! accepting a simulated payment plan (a person opens it), and a disconnection (a cut-off
//! notice or a suspension for non-payment: never automatic for a vulnerable customer).
//! Both work on accent-folded, lower-cased text in the four languages.

use std::sync::LazyLock;

use regex::Regex;

/// "accetto il piano in 6 rate", "I agree to the 6 instalments", "acepto 12 cuotas",
/// "je confirme le paiement en 3 fois": consent and a number of instalments, close together.
static ACCEPT: LazyLock<Regex> = LazyLock::new(|| {
    crate::text::regex(
        r"\b(?:accetto|accettiamo|confermo|confermiamo|acconsento|vorrei procedere|procediamo|acepto|aceptamos|confirmo|doy mi consentimiento|quiero proceder|j'accepte|j accepte|nous acceptons|je confirme|je donne mon accord|i agree|i accept|i confirm|please go ahead|go ahead|i consent|i'd like to proceed|i would like to proceed)\b[^.!?\n]{0,60}?\b(3|6|12|tre|sei|dodici|tres|seis|doce|trois|six|douze|three|twelve)\b[^.!?\n]{0,25}?\b(?:rate|rata|mesi|cuotas|plazos|meses|mensualites|fois|echeances|mois|instalments|installments|monthly payments|payments|months)\b",
    )
});

/// Disconnection for non-payment, or a notice of it.
static DISCONNECTION: LazyLock<Regex> = LazyLock::new(|| {
    crate::text::regex(
        r"\b(?:distacco|sospensione (?:della )?fornitura|sospensione per morosita|preavviso di (?:distacco|sospensione)|staccare la (?:luce|corrente|fornitura|gas)|riduzione di potenza|corte de (?:suministro|luz|gas)|suspension del suministro|aviso de corte|cortar (?:la luz|el gas|el suministro)|coupure pour impaye|suspension de (?:la )?fourniture|reduction de puissance|couper (?:l'electricite|le gaz|le courant)|avis de coupure|disconnection|disconnect(?:ed)?|cut off|cut-off|supply will be cut|supply suspended)\b",
    )
});

/// The number of instalments the customer accepted, when they accepted one.
pub fn plan_acceptance(folded: &str) -> Option<u32> {
    let c = ACCEPT.captures(folded)?;
    Some(match &c[1] {
        "3" | "tre" | "tres" | "trois" | "three" => 3,
        "6" | "sei" | "seis" | "six" => 6,
        _ => 12,
    })
}

pub fn mentions_disconnection(folded: &str) -> bool {
    DISCONNECTION.is_match(folded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::fold;

    #[test]
    fn acceptance_in_every_language() {
        for (text, n) in [
            ("Buongiorno, accetto il piano in 6 rate proposto.", 6),
            ("Confermo: procediamo con 12 rate mensili", 12),
            ("Acepto el plan de 3 cuotas, gracias.", 3),
            ("J'accepte le paiement en 12 mensualités.", 12),
            ("Je confirme l'échéancier en six fois", 6),
            ("I agree to the 6 monthly instalments plan.", 6),
            ("Please go ahead with three instalments", 3),
        ] {
            assert_eq!(plan_acceptance(&fold(text)), Some(n), "{text}");
        }
    }

    #[test]
    fn a_question_about_plans_is_not_acceptance() {
        for text in [
            "Posso pagare in 6 rate?",
            "Can I pay in 12 instalments? I don't agree with the bill.",
            "¿Es posible pagar en 3 cuotas?",
            "I accept that I paid late. Can I pay 50 euro now",
        ] {
            assert_eq!(plan_acceptance(&fold(text)), None, "{text}");
        }
    }

    #[test]
    fn disconnection_notices_are_seen() {
        for text in [
            "Ho ricevuto un preavviso di distacco",
            "me ha llegado un aviso de corte de suministro",
            "j'ai reçu un avis de coupure pour impayé",
            "I got a letter saying my supply will be cut off",
        ] {
            assert!(mentions_disconnection(&fold(text)), "{text}");
        }
        assert!(!mentions_disconnection(&fold("the bill is too high, please check it")));
    }
}

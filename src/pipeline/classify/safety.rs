//! The safety override: phrases that mean danger now (gas, sparks, smoke, fire, fallen cables,
//! burst mains, carbon monoxide, medical equipment without power) in the four languages. A hit
//! forces urgency `emergency` whatever any model says. Negated or hypothetical mentions
//! ("no huele a gas", "what do I do if I smell gas?") do not count; anything doubtful does.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hazard {
    Gas,
    ElectricalFire,
    FallenCable,
    WaterMain,
    CarbonMonoxide,
    MedicalEquipment,
}

impl Hazard {
    pub fn as_str(self) -> &'static str {
        match self {
            Hazard::Gas => "gas",
            Hazard::ElectricalFire => "electrical_fire",
            Hazard::FallenCable => "fallen_cable",
            Hazard::WaterMain => "water_main",
            Hazard::CarbonMonoxide => "carbon_monoxide",
            Hazard::MedicalEquipment => "medical_equipment",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafetyHit {
    pub hazard: Hazard,
    /// The phrase as matched (accent-folded).
    pub phrase: String,
}

use Hazard::*;

/// Accent-folded, lower-case phrases. A phrase matches at a word start; it may end mid-word so
/// `allagat` covers allagato/allagata/allagati.
#[rustfmt::skip]
const PHRASES: &[(&str, Hazard)] = &[
    // gas
    ("odore di gas", Gas), ("puzza di gas", Gas), ("perdita di gas", Gas), ("fuga di gas", Gas), ("fuoriuscita di gas", Gas), ("sento gas", Gas), ("odore forte di gas", Gas), ("forte odore di gas", Gas), ("sa di gas", Gas), ("c'e gas", Gas),
    ("olor a gas", Gas), ("olor de gas", Gas), ("huele a gas", Gas), ("huele mucho a gas", Gas), ("fuga de gas", Gas), ("escape de gas", Gas), ("peste a gas", Gas), ("olor fuerte a gas", Gas), ("fuerte olor a gas", Gas),
    ("odeur de gaz", Gas), ("odeur du gaz", Gas), ("fuite de gaz", Gas), ("sent le gaz", Gas), ("ca sent le gaz", Gas), ("forte odeur de gaz", Gas), ("odeur de gas", Gas),
    ("smell of gas", Gas), ("smell gas", Gas), ("smells of gas", Gas), ("smelling gas", Gas), ("smells like gas", Gas), ("smell like gas", Gas), ("gas smell", Gas), ("gas leak", Gas), ("leaking gas", Gas), ("gas is leaking", Gas), ("strong smell of gas", Gas), ("smelt gas", Gas), ("smelled gas", Gas),
    // sparks, smoke, fire, burning
    ("scintill", ElectricalFire), ("fumo dal", ElectricalFire), ("fumo esce", ElectricalFire), ("esce fumo", ElectricalFire), ("fiamme", ElectricalFire), ("incendio", ElectricalFire), ("prende fuoco", ElectricalFire), ("preso fuoco", ElectricalFire), ("va a fuoco", ElectricalFire), ("odore di bruciato", ElectricalFire), ("puzza di bruciato", ElectricalFire), ("fa fumo", ElectricalFire), ("sta fumando", ElectricalFire),
    ("chispas", ElectricalFire), ("chispea", ElectricalFire), ("sale humo", ElectricalFire), ("humo del", ElectricalFire), ("humo en", ElectricalFire), ("echa humo", ElectricalFire), ("olor a quemado", ElectricalFire), ("incendio", ElectricalFire), ("llamas", ElectricalFire), ("en llamas", ElectricalFire), ("fuego", ElectricalFire),
    ("etincelle", ElectricalFire), ("fumee", ElectricalFire), ("qui fume", ElectricalFire), ("incendie", ElectricalFire), ("flammes", ElectricalFire), ("pris feu", ElectricalFire), ("prend feu", ElectricalFire), ("en feu", ElectricalFire), ("odeur de brule", ElectricalFire),
    ("sparks", ElectricalFire), ("sparking", ElectricalFire), ("smoke coming", ElectricalFire), ("smoking", ElectricalFire), ("smoke from", ElectricalFire), ("there is smoke", ElectricalFire), ("there's smoke", ElectricalFire), ("on fire", ElectricalFire), ("caught fire", ElectricalFire), ("flames", ElectricalFire), ("burning smell", ElectricalFire), ("smell of burning", ElectricalFire), ("smells like burning", ElectricalFire),
    // fallen or exposed cables
    ("cavo caduto", FallenCable), ("cavi caduti", FallenCable), ("cavo a terra", FallenCable), ("cavi a terra", FallenCable), ("cavo scoperto", FallenCable), ("cavi scoperti", FallenCable), ("filo scoperto", FallenCable), ("fili scoperti", FallenCable), ("palo caduto", FallenCable), ("cavo penzola", FallenCable), ("cavi penzolano", FallenCable), ("cavo dell'alta tensione", FallenCable),
    ("cable caido", FallenCable), ("cables caidos", FallenCable), ("cable en el suelo", FallenCable), ("cables en el suelo", FallenCable), ("cable suelto", FallenCable), ("cables sueltos", FallenCable), ("cables pelados", FallenCable), ("cable pelado", FallenCable), ("poste caido", FallenCable), ("cable colgando", FallenCable), ("cables colgando", FallenCable),
    ("cable tombe", FallenCable), ("cables tombes", FallenCable), ("cable au sol", FallenCable), ("cables au sol", FallenCable), ("fil denude", FallenCable), ("fils denudes", FallenCable), ("cable arrache", FallenCable), ("poteau tombe", FallenCable), ("cable pend", FallenCable), ("cable electrique tombe", FallenCable),
    ("fallen cable", FallenCable), ("fallen power line", FallenCable), ("power line down", FallenCable), ("power lines down", FallenCable), ("cable down", FallenCable), ("wire down", FallenCable), ("wires down", FallenCable), ("line is down", FallenCable), ("downed line", FallenCable), ("downed power", FallenCable), ("exposed wire", FallenCable), ("live wire", FallenCable), ("pole down", FallenCable), ("cable hanging", FallenCable), ("wires hanging", FallenCable), ("cable on the ground", FallenCable), ("cable lying", FallenCable),
    // burst mains and flooding from the network
    ("tubo rotto", WaterMain), ("tubatura rotta", WaterMain), ("tubo scoppiato", WaterMain), ("condotta rotta", WaterMain), ("rottura della condotta", WaterMain), ("allagat", WaterMain), ("allagamento", WaterMain), ("acqua che esce dalla strada", WaterMain), ("esce acqua dalla strada", WaterMain), ("fiume d'acqua", WaterMain),
    ("tuberia rota", WaterMain), ("tuberia reventada", WaterMain), ("reventon", WaterMain), ("rotura de tuberia", WaterMain), ("inundacion", WaterMain), ("inundad", WaterMain), ("sale agua de la calle", WaterMain), ("se ha reventado", WaterMain),
    ("canalisation cassee", WaterMain), ("conduite cassee", WaterMain), ("rupture de canalisation", WaterMain), ("canalisation a eclate", WaterMain), ("inondation", WaterMain), ("inonde", WaterMain), ("fuite d'eau enorme", WaterMain), ("geyser", WaterMain),
    ("burst main", WaterMain), ("burst pipe", WaterMain), ("main has burst", WaterMain), ("main burst", WaterMain), ("pipe has burst", WaterMain), ("pipe burst", WaterMain), ("flooding", WaterMain), ("flooded", WaterMain), ("water gushing", WaterMain), ("gushing water", WaterMain),
    // carbon monoxide
    ("monossido", CarbonMonoxide), ("allarme co", CarbonMonoxide), ("rilevatore di co", CarbonMonoxide), ("rilevatore co", CarbonMonoxide),
    ("monoxido", CarbonMonoxide), ("detector de co", CarbonMonoxide), ("alarma de co", CarbonMonoxide),
    ("monoxyde", CarbonMonoxide), ("detecteur de co", CarbonMonoxide), ("alarme co", CarbonMonoxide),
    ("carbon monoxide", CarbonMonoxide), ("co alarm", CarbonMonoxide), ("co detector", CarbonMonoxide), ("co monitor", CarbonMonoxide),
];

/// Life-sustaining equipment: an emergency only together with a loss of power.
#[rustfmt::skip]
const MEDICAL: &[&str] = &[
    "ossigeno", "concentratore", "respiratore", "ventilatore polmonare", "salvavita", "dialisi", "macchinario medic", "apparecchio medic",
    "oxigeno", "concentrador", "respirador", "dialisis", "soporte vital", "equipo medico", "aparato medico",
    "oxygene", "concentrateur", "respirateur", "dialyse", "appareil medical", "assistance respiratoire",
    "oxygen", "ventilator", "respirator", "dialysis", "life support", "life-support", "medical equipment", "medical device", "home dialysis",
];

#[rustfmt::skip]
const POWER_LOSS: &[&str] = &[
    "senza luce", "senza corrente", "senza elettricita", "manca la corrente", "manca la luce", "niente corrente", "niente luce", "non c'e corrente", "non c'e luce", "e saltata la corrente", "blackout",
    "sin luz", "sin corriente", "sin electricidad", "no hay luz", "no tenemos luz", "no tengo luz", "se ha ido la luz", "corte de luz", "apagon",
    "sans electricite", "sans courant", "plus de courant", "plus d'electricite", "pas de courant", "pas d'electricite", "coupure de courant", "coupure d'electricite", "panne de courant",
    "no power", "without power", "power cut", "power is off", "power went off", "power outage", "no electricity", "lost power", "power is out", "power's out",
];

/// Words that negate or make hypothetical what directly follows them.
#[rustfmt::skip]
const NEGATIONS: &[&str] = &[
    "no", "non", "not", "never", "nunca", "jamais", "mai", "pas", "sin", "senza", "sans", "without", "nessun", "nessuna", "nessuno", "ningun", "ninguna", "ningu", "aucun", "aucune", "niente", "nada", "nothing", "nor", "ni", "neanche", "nemmeno", "tampoco", "plus",
    "don", "doesn", "didn", "isn", "aren", "wasn", "haven", "hasn", "cant", "cannot", "wont", "dont", "doesnt", "didnt",
    // Hypotheticals. Not "se"/"si": they are also reflexive pronouns ("si sente odore di gas",
    // "se huele a gas") and "sí" means yes; a missed hypothetical only costs an escalation.
    "if", "caso", "cas", "case", "qualora", "eventualmente", "whether", "ipotesi", "supposing",
];

/// Words skipped when looking back for a negation (articles, prepositions, contractions).
const TRANSPARENT: &[&str] = &["c", "e", "d", "l", "n", "t", "s", "y", "a", "de", "di", "of", "any", "ningun", "un", "una", "un'", "del", "d'", "hay", "je", "i", "we", "ho", "ha", "avverto", "sento", "noto", "siento", "noto", "sens", "smell", "feel", "il", "there", "is", "was", "ya"];

/// Words that end a negation's reach ("no tengo luz pero huele a gas"). Not "e"/"y": folded
/// they are also "è" and the "y" of "il y a"; the two-word window covers "no luz y huele a gas".
const SCOPE_BREAKS: &[&str] = &["and", "et", "ma", "but", "pero", "mais", "however", "sino", "ahora", "now", "ora", "maintenant"];

struct Matchers {
    phrases: AhoCorasick,
    medical: AhoCorasick,
    power_loss: AhoCorasick,
}

static MATCHERS: LazyLock<Matchers> = LazyLock::new(|| {
    let build = |patterns: Vec<&str>| {
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(patterns)
            .expect("valid safety patterns")
    };
    Matchers {
        phrases: build(PHRASES.iter().map(|(p, _)| *p).collect()),
        medical: build(MEDICAL.to_vec()),
        power_loss: build(POWER_LOSS.to_vec()),
    }
});

/// Looks for danger in accent-folded, lower-case text.
pub fn scan(folded: &str) -> Option<SafetyHit> {
    let m = &*MATCHERS;
    for hit in m.phrases.find_iter(folded) {
        if at_word_start(folded, hit.start()) && !negated(folded, hit.start()) {
            let (phrase, hazard) = PHRASES[hit.pattern().as_usize()];
            return Some(SafetyHit { hazard, phrase: phrase.to_string() });
        }
    }
    let device = m
        .medical
        .find_iter(folded)
        .find(|h| at_word_start(folded, h.start()) && !negated(folded, h.start()))?;
    let outage = m
        .power_loss
        .find_iter(folded)
        .find(|h| at_word_start(folded, h.start()) && !negated(folded, h.start()))?;
    Some(SafetyHit {
        hazard: Hazard::MedicalEquipment,
        phrase: format!(
            "{} + {}",
            &folded[device.start()..device.end()],
            &folded[outage.start()..outage.end()]
        ),
    })
}

fn at_word_start(text: &str, at: usize) -> bool {
    text[..at].chars().next_back().is_none_or(|c| !c.is_alphanumeric())
}

/// Is the phrase at `at` negated or hypothetical within its clause? Looks back over up to two
/// meaningful words, stopping at punctuation and at conjunctions.
fn negated(text: &str, at: usize) -> bool {
    let before = &text[..at];
    let clause_start = before.rfind(['.', '!', '?', ';', ',', ':', '\n', '(']).map_or(0, |i| i + 1);
    let clause = &before[clause_start..];
    let mut meaningful = 0;
    for word in clause.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).rev() {
        if NEGATIONS.contains(&word) {
            return true;
        }
        if SCOPE_BREAKS.contains(&word) {
            return false;
        }
        if TRANSPARENT.contains(&word) {
            continue;
        }
        meaningful += 1;
        if meaningful >= 2 {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::fold;

    fn hazard(text: &str) -> Option<Hazard> {
        scan(&fold(text)).map(|h| h.hazard)
    }

    #[test]
    fn finds_danger_in_every_language() {
        assert_eq!(hazard("C'è un forte odore di gas in cucina"), Some(Gas));
        assert_eq!(hazard("Huele a gas en la escalera"), Some(Gas));
        assert_eq!(hazard("Ça sent le gaz dans l'immeuble"), Some(Gas));
        assert_eq!(hazard("There is a strong smell of gas in the hall"), Some(Gas));
        assert_eq!(hazard("Escono scintille dal contatore"), Some(ElectricalFire));
        assert_eq!(hazard("Hay un cable caído en la calle"), Some(FallenCable));
        assert_eq!(hazard("Une canalisation cassée, la rue est inondée"), Some(WaterMain));
        assert_eq!(hazard("Our CO alarm keeps going off"), Some(CarbonMonoxide));
        assert_eq!(hazard("Mio padre usa il concentratore di ossigeno e siamo senza corrente"), Some(MedicalEquipment));
        assert_eq!(hazard("My mother's oxygen concentrator stopped, we have no power"), Some(MedicalEquipment));
    }

    #[test]
    fn negated_or_hypothetical_mentions_are_not_emergencies() {
        assert_eq!(hazard("No huele a gas, solo pregunto por la factura"), None);
        assert_eq!(hazard("Non c'è odore di gas, volevo solo sapere della bolletta"), None);
        assert_eq!(hazard("Il n'y a pas d'odeur de gaz, c'est juste pour la facture"), None);
        assert_eq!(hazard("I don't smell gas or anything, just asking about the bill"), None);
        assert_eq!(hazard("What should I do if I smell gas?"), None);
        assert_eq!(hazard("In caso di fuga di gas cosa devo fare?"), None);
    }

    #[test]
    fn reflexive_pronouns_are_not_negations() {
        assert_eq!(hazard("Si sente odore di gas nel palazzo"), Some(Gas));
        assert_eq!(hazard("Se huele a gas desde esta mañana"), Some(Gas));
    }

    #[test]
    fn negation_does_not_reach_across_clauses() {
        assert_eq!(hazard("No tengo luz y huele a gas"), Some(Gas));
        assert_eq!(hazard("No! There is a smell of gas"), Some(Gas));
        assert_eq!(hazard("We have no power and there are sparks from the meter"), Some(ElectricalFire));
    }

    #[test]
    fn medical_equipment_needs_a_power_loss() {
        assert_eq!(hazard("Uso un concentratore di ossigeno, posso avere il bonus?"), None);
    }
}

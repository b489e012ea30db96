//! The safety override: words that mean danger now (gas, sparks, smoke, fire, fallen or
//! exposed cables, burst mains, carbon monoxide, life-sustaining equipment without power, a
//! person trapped in a lift) in the four languages and a few more. A hit forces urgency
//! `emergency` whatever any model says.
//!
//! Danger is read one sentence at a time: an alarm phrase ("gas smell", "sparks") or a thing
//! and a state together ("the meter" … "is smoking", "a cable" … "on the road"). A mention does
//! not count when it is negated ("no huele a gas"), hypothetical ("what do I do if I ever smell
//! gas?"), or over ("last week there were sparks; the engineer fixed it") unless the sentence
//! says it is still happening. An alarming subject line counts unless the body denies it.
//! Anything doubtful counts: a false alarm costs an escalation, a missed one can cost a life.

mod terms;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hazard {
    Gas,
    ElectricalFire,
    /// Fallen or exposed live cables and equipment, electric shocks.
    FallenCable,
    WaterMain,
    CarbonMonoxide,
    MedicalEquipment,
    PersonTrapped,
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
            Hazard::PersonTrapped => "person_trapped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafetyHit {
    pub hazard: Hazard,
    /// The words that matched (accent-folded), e.g. `sparks` or `contatore + fumo`.
    pub phrase: String,
}

/// Looks for present danger in an accent-folded, lower-case subject and body.
pub fn scan(subject: &str, body: &str) -> Option<SafetyHit> {
    let text = format!("{subject}\n{body}");
    let reading = Reading::new(&text, subject.len() + 1);
    if let Some(hit) = reading.danger(Part::Body) {
        return Some(hit);
    }
    let hit = reading.danger(Part::Subject)?;
    (!reading.body_denies(hit.hazard)).then_some(hit)
}

/// What a matched term means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Alarm(Hazard),
    /// The thing of `terms::PAIRINGS[i]`.
    Thing(usize),
    /// The state of `terms::PAIRINGS[i]`.
    State(usize),
    Device,
    PowerLoss,
    Cue(Cue),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    Hypothetical,
    Resolved,
    PowerBack,
    Past,
    Present,
    Still,
    Future,
    NotInDanger,
    Bait,
    SubjectWord,
    Telecom,
    Tobacco,
}

struct Lexicon {
    automaton: AhoCorasick,
    /// Per pattern: each meaning, and whether the term is a stem (may end mid-word).
    meanings: Vec<Vec<(Role, bool)>>,
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let mut by_pattern: BTreeMap<&str, Vec<(Role, bool)>> = BTreeMap::new();
    let mut add = |term: &'static str, role: Role| {
        let pattern = term.trim_end_matches('*');
        by_pattern.entry(pattern).or_default().push((role, pattern.len() != term.len()));
    };
    for &(term, hazard) in terms::ALARMS {
        add(term, Role::Alarm(hazard));
    }
    for (i, pairing) in terms::PAIRINGS.iter().enumerate() {
        pairing.things.iter().for_each(|t| add(t, Role::Thing(i)));
        pairing.states.iter().for_each(|t| add(t, Role::State(i)));
    }
    terms::DEVICES.iter().for_each(|t| add(t, Role::Device));
    terms::POWER_LOSS.iter().for_each(|t| add(t, Role::PowerLoss));
    let cues: [(&[&'static str], Cue); 12] = [
        (terms::HYPOTHETICAL, Cue::Hypothetical),
        (terms::RESOLVED, Cue::Resolved),
        (terms::POWER_BACK, Cue::PowerBack),
        (terms::PAST, Cue::Past),
        (terms::PRESENT, Cue::Present),
        (terms::STILL, Cue::Still),
        (terms::FUTURE, Cue::Future),
        (terms::NOT_IN_DANGER, Cue::NotInDanger),
        (terms::BAIT, Cue::Bait),
        (terms::SUBJECT_WORDS, Cue::SubjectWord),
        (terms::TELECOM, Cue::Telecom),
        (terms::TOBACCO, Cue::Tobacco),
    ];
    for (list, cue) in cues {
        list.iter().for_each(|t| add(t, Role::Cue(cue)));
    }
    let automaton = AhoCorasick::new(by_pattern.keys()).expect("valid safety terms");
    Lexicon { automaton, meanings: by_pattern.into_values().collect() }
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Subject,
    Body,
}

struct Sentence {
    start: usize,
    end: usize,
    question: bool,
}

#[derive(Clone, Copy)]
struct Found {
    start: usize,
    end: usize,
    role: Role,
    sentence: usize,
    negated: bool,
}

/// One message, split into sentences, with every term found in it.
struct Reading<'a> {
    text: &'a str,
    body_start: usize,
    sentences: Vec<Sentence>,
    found: Vec<Found>,
}

/// How far apart a thing and its state may be in one sentence (bytes).
const PAIR_REACH: usize = 90;

impl<'a> Reading<'a> {
    fn new(text: &'a str, body_start: usize) -> Self {
        let sentences = split_sentences(text);
        let lexicon = &*LEXICON;
        let mut found = Vec::new();
        for m in lexicon.automaton.find_overlapping_iter(text) {
            let (start, end) = (m.start(), m.end());
            if !at_word_start(text, start) {
                continue;
            }
            let whole_word = text[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
            let sentence = sentences.partition_point(|s| s.end <= start).min(sentences.len() - 1);
            for &(role, stem) in &lexicon.meanings[m.pattern().as_usize()] {
                if stem || whole_word {
                    found.push(Found { start, end, role, sentence, negated: negated(text, start) });
                }
            }
        }
        found.sort_by_key(|f| (f.start, f.end));
        Reading { text, body_start, sentences, found }
    }

    fn part(&self, sentence: usize) -> Part {
        if self.sentences[sentence].start < self.body_start { Part::Subject } else { Part::Body }
    }

    fn words(&self, f: &Found) -> &str {
        &self.text[f.start..f.end]
    }

    fn cue_at(&self, sentence: usize, cue: Cue) -> Option<&Found> {
        self.found.iter().find(|f| f.sentence == sentence && f.role == Role::Cue(cue))
    }

    fn has(&self, sentence: usize, cue: Cue) -> bool {
        self.cue_at(sentence, cue).is_some()
    }

    fn has_anywhere(&self, cue: Cue) -> bool {
        self.found.iter().any(|f| f.role == Role::Cue(cue))
    }

    /// Does this mention describe danger now? Not when negated, hypothetical, about the
    /// subject line, not ours (a phone cable, a cigarette), or over (fixed, in the past)
    /// without a word that says it continues.
    fn counts(&self, f: &Found) -> bool {
        let s = f.sentence;
        if f.negated || self.cue_at(s, Cue::Hypothetical).is_some_and(|c| c.start < f.start) {
            return false;
        }
        if self.has(s, Cue::Bait) && self.has(s, Cue::SubjectWord) {
            return false;
        }
        match hazard_of(f.role) {
            Some(Hazard::FallenCable) if self.near_telecom(f) => return false,
            Some(Hazard::ElectricalFire) if self.has_anywhere(Cue::Tobacco) => return false,
            _ => {}
        }
        let beside = |other: Option<usize>, cue| other.is_some_and(|o| self.has(o, cue));
        let (before, after) = (self.neighbour(s, -1), self.neighbour(s, 1));
        let near = |cue| self.has(s, cue) || beside(after, cue);
        let still = near(Cue::Still) || beside(before, Cue::Still);
        if near(Cue::Resolved) && !still {
            return false;
        }
        !self.has(s, Cue::Past) || still || self.has(s, Cue::Present)
    }

    /// The sentence before (-1) or after (1), if it is in the same part of the message.
    fn neighbour(&self, sentence: usize, step: isize) -> Option<usize> {
        let other = sentence.checked_add_signed(step).filter(|&o| o < self.sentences.len())?;
        (self.part(other) == self.part(sentence)).then_some(other)
    }

    /// "Câble téléphonique", "the broadband cable": a telecom word right next to the cable.
    fn near_telecom(&self, f: &Found) -> bool {
        self.found.iter().any(|c| c.role == Role::Cue(Cue::Telecom) && c.start.abs_diff(f.start) <= 25)
    }

    fn danger(&self, part: Part) -> Option<SafetyHit> {
        let by_sentence = (0..self.sentences.len())
            .filter(|&s| self.part(s) == part)
            .find_map(|s| self.alarm(s).or_else(|| self.pair(|f| f.sentence == s, false)));
        match part {
            Part::Subject => by_sentence,
            Part::Body => by_sentence
                .or_else(|| self.pair(|_| true, true))
                .or_else(|| self.equipment_without_power()),
        }
    }

    fn alarm(&self, sentence: usize) -> Option<SafetyHit> {
        self.found.iter().filter(|f| f.sentence == sentence).find_map(|f| match f.role {
            Role::Alarm(hazard) if self.counts(f) => Some(SafetyHit { hazard, phrase: self.words(f).to_string() }),
            _ => None,
        })
    }

    /// A thing and its state among the terms `within` selects, for the pairings that read
    /// single sentences or (`whole_message`) the whole message.
    fn pair(&self, within: impl Fn(&Found) -> bool, whole_message: bool) -> Option<SafetyHit> {
        let here: Vec<&Found> = self.found.iter().filter(|f| within(f) && self.counts(f)).collect();
        let reach = if whole_message { usize::MAX } else { PAIR_REACH };
        terms::PAIRINGS.iter().enumerate().filter(|(_, p)| p.whole_message == whole_message).find_map(|(i, pairing)| {
            here.iter().filter(|t| t.role == Role::Thing(i) && !self.follows_denial(t, i)).find_map(|thing| {
                here.iter()
                    .filter(|s| s.role == Role::State(i) && s.start != thing.start && !self.follows_denial(s, i))
                    .find(|state| thing.start.abs_diff(state.start) <= reach)
                    .map(|state| SafetyHit {
                        hazard: pairing.hazard,
                        phrase: format!("{} + {}", self.words(thing), self.words(state)),
                    })
            })
        })
    }

    /// "No leak or gas smell": "smell" follows the denied "gas" and shares its denial.
    fn follows_denial(&self, term: &Found, pairing: usize) -> bool {
        self.found.iter().any(|f| {
            f.negated
                && f.end <= term.start
                && term.start - f.end <= 12
                && matches!(f.role, Role::Thing(i) | Role::State(i) if i == pairing)
        })
    }

    /// Life-sustaining equipment and a power cut anywhere in the body, the cut neither
    /// announced for later nor over, and nobody said to be out of danger.
    fn equipment_without_power(&self) -> Option<SafetyHit> {
        if self.has_anywhere(Cue::NotInDanger) {
            return None;
        }
        let in_body = |f: &&Found| f.start >= self.body_start;
        let device = self.found.iter().filter(in_body).find(|f| {
            // "Senza ossigeno" is the danger itself, not its absence: only a plain negation
            // ("pas d'appareil respiratoire") rules the device out.
            let plainly_negated = f.negated && negated_by(self.text, f.start, NEGATIONS.iter().filter(|w| !WITHOUT.contains(w)));
            f.role == Role::Device && self.counts(&Found { negated: plainly_negated, ..**f })
        })?;
        let cut = self.found.iter().filter(in_body).find(|f| {
            let s = f.sentence;
            let power_back = self.has(s, Cue::PowerBack) && !self.sentences[s].question;
            f.role == Role::PowerLoss && self.counts(f) && !self.has(s, Cue::Future) && !power_back
        })?;
        Some(SafetyHit {
            hazard: Hazard::MedicalEquipment,
            phrase: format!("{} + {}", self.words(device), self.words(cut)),
        })
    }

    /// Does the body take back an alarming subject line ("there's no leak, I only wrote
    /// that so you'd answer") or speak of the same danger only as negated, hypothetical or over?
    fn body_denies(&self, hazard: Hazard) -> bool {
        self.found.iter().filter(|f| f.start >= self.body_start).any(|f| {
            (hazard_of(f.role) == Some(hazard) && !self.counts(f)) || (f.role == Role::Cue(Cue::Bait) && self.has(f.sentence, Cue::SubjectWord))
        })
    }
}

fn hazard_of(role: Role) -> Option<Hazard> {
    match role {
        Role::Alarm(hazard) => Some(hazard),
        Role::Thing(i) | Role::State(i) => Some(terms::PAIRINGS[i].hazard),
        Role::Device | Role::PowerLoss => Some(Hazard::MedicalEquipment),
        Role::Cue(_) => None,
    }
}

/// Sentences end at `.`, `!`, `?`, `;` and line breaks; a dot between digits ("1.842") does not
/// end one.
fn split_sentences(text: &str) -> Vec<Sentence> {
    let bytes = text.as_bytes();
    let mut sentences = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let ends = match b {
            b'!' | b'?' | b';' | b'\n' => true,
            b'.' => !(i > 0 && bytes[i - 1].is_ascii_digit() && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)),
            _ => false,
        };
        if ends {
            sentences.push(Sentence { start, end: i + 1, question: b == b'?' });
            start = i + 1;
        }
    }
    sentences.push(Sentence { start, end: text.len().max(start), question: false });
    sentences
}

fn at_word_start(text: &str, at: usize) -> bool {
    text[..at].chars().next_back().is_none_or(|c| !c.is_alphanumeric())
}

/// Words that negate what follows them in the clause.
#[rustfmt::skip]
const NEGATIONS: &[&str] = &[
    "no", "non", "not", "never", "nunca", "jamais", "mai", "pas", "sin", "senza", "sans", "without", "nessun", "nessuna", "nessuno", "ningun", "ninguna", "ningu", "aucun", "aucune", "niente", "nada", "nothing", "nobody", "nadie", "ni", "nor", "neanche", "nemmeno", "neppure", "tampoco", "rien",
    "don", "doesn", "didn", "isn", "aren", "wasn", "weren", "haven", "hasn", "hadn", "cant", "cannot", "wont", "dont", "doesnt", "didnt", "isnt", "nie", "nicht", "sem", "kein", "keine", "geen", "niet",
    // Hypotheticals. Not "se"/"si": they are also reflexive pronouns ("si sente odore di gas",
    // "se huele a gas") and "sí" means yes; the cue phrases of terms::HYPOTHETICAL cover them.
    "if", "caso", "cas", "case", "qualora", "eventualmente", "whether", "ipotesi", "supposing",
];

/// Negations that mean "without": before equipment they describe the danger.
const WITHOUT: &[&str] = &["sin", "senza", "sans", "without", "sem"];

/// Words skipped when looking back for a negation (articles, pronouns, light verbs).
#[rustfmt::skip]
const TRANSPARENT: &[&str] = &[
    "c", "e", "d", "l", "n", "t", "s", "y", "a", "an", "the", "any", "some", "de", "di", "of", "un", "una", "une", "un'", "des", "du", "del", "dei", "degli", "delle", "il", "la", "le", "les", "el", "los", "las", "lo", "gli",
    "hay", "je", "i", "we", "ho", "ha", "avverto", "sento", "noto", "siento", "sens", "smell", "feel", "there", "is", "was", "ya", "ci", "sono", "son", "est", "more", "longer", "piu", "mas", "ne", "or", "o", "ou",
];

/// Words that end a negation's reach ("no tengo luz pero huele a gas"). Not "e"/"y": folded
/// they are also "è" and the "y" of "il y a"; the short window covers "no luz y huele a gas".
const SCOPE_BREAKS: &[&str] = &["and", "et", "ma", "but", "pero", "mais", "however", "sino", "ahora", "now", "ora", "maintenant", "mentre", "while"];

/// French "plus" negates ("il n'y a plus d'odeur") except in "de plus en plus", "en plus",
/// "le plus", "encore plus"…
const PLUS_NOT_NEGATING_AFTER: &[&str] = &["de", "en", "le", "la", "les", "un", "peu", "bien", "encore", "beaucoup", "et", "au", "non"];

/// Is the term at `at` negated within its clause? Looks back over up to two meaningful words,
/// stopping at punctuation and at conjunctions. Italian "né" folds to "ne", which is also a
/// pronoun ("ne esce fumo"), so it negates only after another negation ("non … né scintille").
fn negated(text: &str, at: usize) -> bool {
    negated_by(text, at, NEGATIONS.iter())
}

fn negated_by<'w>(text: &str, at: usize, negations: impl Iterator<Item = &'w &'w str> + Clone) -> bool {
    let is_negation = |word: &str| negations.clone().any(|n| *n == word);
    let before = &text[..at];
    let clause_start = before.rfind(['.', '!', '?', ';', ',', ':', '\n', '(']).map_or(0, |i| i + 1);
    let words: Vec<&str> = crate::text::words(&before[clause_start..]).collect();
    let mut meaningful = 0;
    for (i, &word) in words.iter().enumerate().rev() {
        let negation = match word {
            "plus" => !(i > 0 && PLUS_NOT_NEGATING_AFTER.contains(&words[i - 1])),
            "ne" => words[..i].iter().any(|w| is_negation(w)),
            w => is_negation(w),
        };
        if negation {
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
    use super::Hazard::*;
    use super::*;
    use crate::text::fold;

    fn hazard(text: &str) -> Option<Hazard> {
        scan("", &fold(text)).map(|h| h.hazard)
    }

    #[test]
    fn finds_danger_in_every_language() {
        assert_eq!(hazard("C'è un forte odore di gas in cucina"), Some(Gas));
        assert_eq!(hazard("Huele a gas en la escalera"), Some(Gas));
        assert_eq!(hazard("Ça sent le gaz dans l'immeuble"), Some(Gas));
        assert_eq!(hazard("There is a strong smell of gas in the hall"), Some(Gas));
        assert_eq!(hazard("Escono scintille dal contatore"), Some(ElectricalFire));
        assert_eq!(hazard("Hay un cable caído en la calle"), Some(FallenCable));
        assert_eq!(hazard("Une canalisation cassée, l'eau jaillit sur la chaussée"), Some(WaterMain));
        assert_eq!(hazard("Our CO alarm keeps going off"), Some(CarbonMonoxide));
        assert_eq!(hazard("Mio padre usa il concentratore di ossigeno e siamo senza corrente"), Some(MedicalEquipment));
        assert_eq!(hazard("My mother's oxygen concentrator stopped, we have no power"), Some(MedicalEquipment));
        assert_eq!(hazard("Es riecht sehr stark nach Gas im Treppenhaus"), Some(Gas));
    }

    #[test]
    fn a_thing_and_its_state_in_one_sentence() {
        assert_eq!(hazard("Il contatore sul pianerottolo fa un po' di fumo bianco"), Some(ElectricalFire));
        assert_eq!(hazard("La caja del contador está muy caliente y hace un chisporroteo"), Some(ElectricalFire));
        assert_eq!(hazard("Après l'élagage, des fils électriques pendent jusqu'au trottoir"), Some(FallenCable));
        assert_eq!(hazard("A tractor has hit the pole and the line is lying across the cab"), Some(FallenCable));
        assert_eq!(hazard("Water is coming up through the footpath and the road is sinking"), Some(WaterMain));
        assert_eq!(hazard("La caldera hace una llama rara y estamos mareados"), Some(CarbonMonoxide));
        assert_eq!(hazard("Mia madre è bloccata sul montascale a metà rampa"), Some(PersonTrapped));
        assert_eq!(hazard("gas pipe hissing in the front garden"), Some(Gas));
    }

    #[test]
    fn the_thing_and_the_state_must_share_a_sentence() {
        assert_eq!(hazard("The meter reading is 4512. I stopped smoking last year."), None);
        assert_eq!(hazard("My gas bill is high. The smell of the new paint is strong."), None);
    }

    #[test]
    fn negated_or_hypothetical_mentions_are_not_emergencies() {
        assert_eq!(hazard("No huele a gas, solo pregunto por la factura"), None);
        assert_eq!(hazard("Non c'è odore di gas, volevo solo sapere della bolletta"), None);
        assert_eq!(hazard("Il n'y a pas d'odeur de gaz, c'est juste pour la facture"), None);
        assert_eq!(hazard("I don't smell gas or anything, just asking about the bill"), None);
        assert_eq!(hazard("What should I do if I smell gas?"), None);
        assert_eq!(hazard("In caso di fuga di gas cosa devo fare?"), None);
        assert_eq!(hazard("Non ci sono fili a terra né scintille, semplicemente manca la luce"), None);
        assert_eq!(hazard("Si algún día huele a gas, ¿a quién llamo?"), None);
    }

    #[test]
    fn danger_that_is_over_is_not_an_emergency_unless_it_continues() {
        assert_eq!(hazard("La settimana scorsa c'era una perdita di gas al contatore, il tecnico ha sistemato tutto."), None);
        assert_eq!(hazard("Hier soir le compteur a fait des étincelles ; le technicien a tout réparé."), None);
        assert_eq!(hazard("Last week the meter sparked and it is still sparking now"), Some(ElectricalFire));
        assert_eq!(hazard("The cable that fell needs to be fixed, it is lying on the road"), Some(FallenCable));
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
        assert_eq!(hazard("Ça sent de plus en plus le gaz"), Some(Gas));
    }

    #[test]
    fn medical_equipment_needs_a_power_cut_now() {
        assert_eq!(hazard("Uso un concentratore di ossigeno, posso avere il bonus?"), None);
        assert_eq!(hazard("Mi madre usa oxígeno. Hay un corte de luz previsto para mañana."), None);
        assert_eq!(hazard("Thanks, the power came back on. Mum's oxygen concentrator is running again."), None);
        assert_eq!(hazard("No power since 6. Dad is on oxygen, when will it be back on?"), Some(MedicalEquipment));
    }

    #[test]
    fn an_alarming_subject_counts_unless_the_body_takes_it_back() {
        let scan_both = |s: &str, b: &str| scan(&fold(s), &fold(b)).map(|h| h.hazard);
        assert_eq!(scan_both("GAS LEAK", "Please send someone, Via Roma 3."), Some(Gas));
        assert_eq!(scan_both("GAS LEAK", "There's no leak, I just want to know about my bill."), None);
        assert_eq!(scan_both("Fuga di gas", "Ho scritto fuga di gas nell'oggetto perché non rispondete mai."), None);
    }

    #[test]
    fn words_match_whole_unless_a_stem() {
        // "fil" (wire) must not match "fille" (daughter).
        assert_eq!(hazard("Ma fille est tombée dans l'escalier, pouvez-vous changer le contrat ?"), None);
        assert_eq!(hazard("Il cavo è staccato e penzola sulla strada"), Some(FallenCable));
    }
}

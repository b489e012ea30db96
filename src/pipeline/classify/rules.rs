//! The first model: weighted keywords and phrases in the four languages (rules.lexicon).
//! Transparent and fast; the trained model (linear.rs) replaced it as the default behind
//! [`Model`], and it stays selectable (`classify.model = "rules"`) as a baseline.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};

use super::{Model, ModelInput, Prediction};
use crate::domain::{Intent, Urgency};

const LEXICON: &str = include_str!("rules.lexicon");

#[derive(Debug, Clone, Copy, PartialEq)]
enum Label {
    Intent(Intent),
    High,
    Low,
}

struct Entry {
    label: Label,
    weight: f32,
    /// The phrase must end at a word boundary (no trailing `*`).
    whole_word: bool,
}

struct Lexicon {
    matcher: AhoCorasick,
    /// Per distinct phrase, every label it counts for ("sin luz" is both outage and high).
    entries: Vec<Vec<Entry>>,
}

static RULES: LazyLock<Lexicon> = LazyLock::new(|| parse_lexicon(LEXICON).expect("rules.lexicon is valid"));

fn parse_lexicon(text: &str) -> Result<Lexicon, String> {
    let mut patterns: Vec<String> = Vec::new();
    let mut entries: Vec<Vec<Entry>> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(label), Some(weight), Some(phrase)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("line {}: expected `<label> <weight> <phrase>`", n + 1));
        };
        let label = match label {
            "high" => Label::High,
            "low" => Label::Low,
            other => Label::Intent(other.parse().map_err(|e| format!("line {}: {e}", n + 1))?),
        };
        let weight: f32 = weight.parse().map_err(|_| format!("line {}: weight `{weight}` is not a number", n + 1))?;
        let whole_word = !phrase.ends_with('*');
        let pattern = phrase.trim_end_matches('*').to_string();
        let entry = Entry { label, weight, whole_word };
        match patterns.iter().position(|p| *p == pattern) {
            Some(i) => entries[i].push(entry),
            None => {
                patterns.push(pattern);
                entries.push(vec![entry]);
            }
        }
    }
    let matcher = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&patterns)
        .map_err(|e| e.to_string())?;
    Ok(Lexicon { matcher, entries })
}

pub struct RulesModel;

/// Weight of the subject relative to the body: subjects are short and to the point.
const SUBJECT_WEIGHT: f32 = 1.5;
const REPLY_SUBJECT_WEIGHT: f32 = 0.5;

fn is_reply_subject(folded: &str) -> bool {
    ["re:", "r:", "rif:", "aw:", "rv:", "res:", "fw:", "fwd:", "tr:", "i:"].iter().any(|p| folded.trim_start().starts_with(p))
}

impl Model for RulesModel {
    fn version(&self) -> &str {
        "rules-1"
    }

    fn predict(&self, input: &ModelInput<'_>) -> Prediction {
        let mut intents = [0.0f32; Intent::ALL.len()];
        let (mut high, mut low) = (0.0f32, 0.0f32);
        // A reply's subject names the old topic of the thread, not necessarily the new request.
        let subject_weight = if is_reply_subject(input.subject) { REPLY_SUBJECT_WEIGHT } else { SUBJECT_WEIGHT };
        for (text, factor) in [(input.subject, subject_weight), (input.text, 1.0)] {
            for (label, weight) in matches(text) {
                match label {
                    Label::Intent(i) => intents[i as usize] += weight * factor,
                    Label::High => high += weight,
                    Label::Low => low += weight,
                }
            }
        }
        let mut ranked: Vec<(Intent, f32)> = Intent::ALL
            .iter()
            .map(|&i| (i, intents[i as usize]))
            .filter(|(_, s)| *s > 0.0)
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let total: f32 = ranked.iter().map(|(_, s)| s).sum();
        let (intent, confidence) = match ranked.first() {
            // The +1 is the weight of "none of these": one weak keyword is not certainty.
            Some(&(intent, top)) => (intent, top / (total + 1.0)),
            None => (Intent::Other, 0.2),
        };
        let urgency = if high >= 2.0 && high >= low {
            Urgency::High
        } else if low >= 2.0 {
            Urgency::Low
        } else {
            Urgency::Normal
        };
        let alternatives = ranked
            .iter()
            .skip(1)
            .take(3)
            .map(|&(i, s)| (i, s / (total + 1.0)))
            .collect();
        let emergency_probability = 0.0;
        Prediction { intent, urgency, confidence, alternatives, emergency_probability, language: None }
    }
}

fn matches(text: &str) -> impl Iterator<Item = (Label, f32)> + '_ {
    let rules = &*RULES;
    rules.matcher.find_iter(text).flat_map(move |m| {
        let starts_word = text[..m.start()].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let ends_word = text[m.end()..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        rules.entries[m.pattern().as_usize()]
            .iter()
            .filter(move |e| starts_word && (ends_word || !e.whole_word))
            .map(|e| (e.label, e.weight))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Language;
    use crate::text::fold;

    fn predict(subject: &str, text: &str) -> Prediction {
        RulesModel.predict(&ModelInput { subject: &fold(subject), text: &fold(text), language: Language::It })
    }

    #[test]
    fn lexicon_parses() {
        assert!(RULES.entries.iter().map(Vec::len).sum::<usize>() > 300);
        assert!(parse_lexicon("billing x bill").is_err());
        assert!(parse_lexicon("bills 2 bill").is_err());
    }

    #[test]
    fn reads_intents_in_every_language() {
        assert_eq!(predict("Bolletta troppo alta", "").intent, Intent::Billing);
        assert_eq!(predict("", "¿Puedo fraccionar la factura en cuotas?").intent, Intent::InstallmentPlan);
        assert_eq!(predict("Relevé de compteur", "Voici mon index").intent, Intent::MeterReading);
        assert_eq!(predict("", "We have had no power since 7am").intent, Intent::Outage);
        assert_eq!(predict("Reclamo formale", "è inaccettabile").intent, Intent::Complaint);
        assert_eq!(predict("", "hello").intent, Intent::Other);
    }

    #[test]
    fn urgency_cues() {
        assert_eq!(predict("", "sin luz desde ayer, es urgente").urgency, Urgency::High);
        assert_eq!(predict("", "nessuna fretta, solo per sapere").urgency, Urgency::Low);
        assert_eq!(predict("", "non è urgente").urgency, Urgency::Low);
        assert_eq!(predict("", "la bolletta").urgency, Urgency::Normal);
    }

    #[test]
    fn whole_words_do_not_match_inside_others() {
        // "pay" must not fire inside "paypal"-like words; "bill" not inside "billion".
        assert!(matches(&fold("billions paypal")).next().is_none());
    }
}

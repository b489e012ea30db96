//! Stage 3, classify: intent, urgency, language, confidence and entities. The intent and
//! urgency model sits behind [`Model`] so it can be replaced; language detection, the safety
//! override and entity extraction stay the same whatever the model.

pub mod entities;
pub mod language;
pub mod rules;
pub mod safety;

use serde::Serialize;

pub use entities::Entities;
pub use safety::{Hazard, SafetyHit};

use super::guard::Admitted;
use crate::domain::{Intent, Language, Urgency};

/// What a model sees: the customer's own words, accent-folded and lower-cased.
pub struct ModelInput<'a> {
    pub subject: &'a str,
    pub text: &'a str,
    pub language: Language,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub intent: Intent,
    pub urgency: Urgency,
    /// 0..1: how sure the model is of the intent.
    pub confidence: f32,
    /// Scores of the other intents considered, best first (for people reviewing).
    pub alternatives: Vec<(Intent, f32)>,
}

pub trait Model: Send + Sync {
    /// Recorded with every classification (e.g. `rules-1`).
    fn version(&self) -> &str;
    fn predict(&self, input: &ModelInput<'_>) -> Prediction;
}

#[derive(Debug, Clone, Serialize)]
pub struct Classification {
    pub intent: Intent,
    pub urgency: Urgency,
    pub language: Language,
    pub confidence: f32,
    pub alternatives: Vec<(Intent, f32)>,
    /// Set when a safety phrase forced urgency to emergency.
    pub safety: Option<SafetyHit>,
    pub entities: Entities,
    pub model: String,
}

pub struct Settings {
    pub max_chars: usize,
}

pub fn run(admitted: &Admitted, model: &dyn Model, settings: &Settings) -> Classification {
    let message = &admitted.message;
    let text = truncate(&message.text, settings.max_chars);
    let subject = crate::text::fold(&message.subject);
    let folded = crate::text::fold(text);
    let language = language::detect(&subject, &folded, message.content_language.as_deref());
    let prediction = model.predict(&ModelInput { subject: &subject, text: &folded, language });
    // Safety phrases are looked for in what the customer wrote now, never in quoted history:
    // an old thread mentioning a past gas leak is not a new emergency.
    let safety = safety::scan(&format!("{subject}\n{folded}"));
    let urgency = if safety.is_some() { Urgency::Emergency } else { prediction.urgency };
    // Danger with no other request is a report of a fault on the network; a meter that
    // sparks or smokes is a fault too, not a reading.
    let intent = match (&safety, prediction.intent) {
        (Some(_), Intent::Other | Intent::MeterReading) => Intent::Outage,
        (_, intent) => intent,
    };
    let entities = entities::extract(&message.subject, text);
    Classification {
        intent,
        urgency,
        language,
        confidence: prediction.confidence,
        alternatives: prediction.alternatives,
        safety,
        entities,
        model: model.version().to_string(),
    }
}

fn truncate(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

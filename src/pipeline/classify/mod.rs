//! Stage 3, classify: intent, urgency, language, confidence and entities. The intent and
//! urgency model sits behind [`Model`] so it can be replaced; language detection, the safety
//! override and entity extraction stay the same whatever the model.

pub mod entities;
pub mod features;
pub mod language;
pub mod linear;
pub mod llm;
pub mod requests;
pub mod rules;
pub mod safety;

use serde::Serialize;

pub use entities::Entities;
pub use safety::{Hazard, SafetyHit};

use super::parse::ParsedMessage;
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
    /// 0..1: the model's own estimate that this is an emergency (besides the safety phrases).
    pub emergency_probability: f32,
    /// The model's language and its probability, when the model knows languages.
    pub language: Option<(Language, f32)>,
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
    /// What the LLM did, when it was asked (see [`llm`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<llm::LlmRecord>,
}

impl Classification {
    /// Whose reading of the intent stands: `llm` when its answer was accepted, else `local`.
    pub fn decided_by(&self) -> &'static str {
        match &self.llm {
            Some(r) if r.outcome == llm::LlmOutcome::Accepted => "llm",
            _ => "local",
        }
    }
}

pub struct Settings {
    pub max_chars: usize,
    /// The model's own emergency estimate at or above this makes a message an emergency, even
    /// without a safety phrase (a phrase always does).
    pub emergency_threshold: f32,
    /// Below this probability the model's language is checked against function words.
    pub language_threshold: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Self { max_chars: 20_000, emergency_threshold: 0.35, language_threshold: 0.6 }
    }
}

pub fn run(message: &ParsedMessage, model: &dyn Model, settings: &Settings) -> Classification {
    let mut c = classify_text(&message.subject, &message.text, message.content_language.as_deref(), model, settings);
    c.entities = entities::extract(&message.subject, truncate(&message.text, settings.max_chars));
    c
}

/// Classifies a subject and the text the customer wrote now (quoted history and signature
/// already split off). Entities are left empty: `run` adds them.
pub fn classify_text(
    subject: &str,
    text: &str,
    content_language: Option<&str>,
    model: &dyn Model,
    settings: &Settings,
) -> Classification {
    let text = truncate(text, settings.max_chars);
    let subject = crate::text::fold(subject);
    let folded = crate::text::fold(text);
    let by_words = || language::detect(&subject, &folded, content_language);
    let prediction = model.predict(&ModelInput { subject: &subject, text: &folded, language: Language::Other });
    let language = match prediction.language {
        Some((lang, p)) if p >= settings.language_threshold => lang,
        _ => by_words(),
    };
    // Safety phrases are looked for in what the customer wrote now, never in quoted history:
    // an old thread mentioning a past gas leak is not a new emergency.
    let safety = safety::scan(&subject, &folded);
    let urgency = if safety.is_some() || prediction.emergency_probability >= settings.emergency_threshold {
        Urgency::Emergency
    } else if prediction.urgency == Urgency::Emergency {
        // Not sure enough to alert people, but the model still sees danger: a person soon.
        Urgency::High
    } else {
        prediction.urgency
    };
    // A danger inside a mail about something else keeps the mail's intent (a billing question
    // that mentions a gas smell is still a billing question, urgently): the model decides.
    let intent = prediction.intent;
    Classification {
        intent,
        urgency,
        language,
        confidence: prediction.confidence,
        alternatives: prediction.alternatives,
        safety,
        entities: Entities::default(),
        model: model.version().to_string(),
        llm: None,
    }
}

/// The model the configuration names: `embedded`, `rules`, or a model file.
pub fn load_model(setting: &str) -> Result<std::sync::Arc<dyn Model>, linear::ModelError> {
    Ok(match setting {
        "embedded" => linear::LinearModel::embedded()?,
        "rules" => std::sync::Arc::new(rules::RulesModel),
        path => std::sync::Arc::new(linear::LinearModel::load(std::path::Path::new(path))?),
    })
}

fn truncate(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

//! LLM drafting: the model writes the reply's wording around named slots (`{{invoice.amount}}`)
//! and never a value itself; Switchyard fills every slot from the verified facts. The template
//! reply is given as a reference so the LLM keeps to what may be said. A slot it was not given,
//! a failed call or an empty answer falls back to the template, with the reason recorded. What
//! the LLM writes is fact-checked like any draft: a value it typed itself matches no fact and
//! holds the reply for a person.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde::Serialize;

use super::{Draft, DraftInput};
use crate::config::{DraftMode, Settings};
use crate::llm::{Llm, LlmError, Request, Usage};
use crate::locale;

pub const PROMPT: &str = include_str!("../../../prompts/draft.txt");

/// The user message: everything the model works from, customer text framed as data.
const FRAME: &str = "Language: {lang}\nTone: {tone}\nCompany: {company}\n\nSLOTS\n{slots}\n\nREFERENCE\n{reference}\n\n\
                     Subject: {subject}\n<<<CUSTOMER MESSAGE>>>\n{text}\n<<<END CUSTOMER MESSAGE>>>";

static SCHEMA: LazyLock<serde_json::Value> = LazyLock::new(|| {
    serde_json::json!({
        "type": "object",
        "properties": { "body": { "type": "string" } },
        "required": ["body"],
        "additionalProperties": false
    })
});

static SLOT: LazyLock<Regex> = LazyLock::new(|| crate::text::regex(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}"));

/// `draft-` and 12 hex digits of SHA-256 over the prompt, the frame and the schema.
pub fn prompt_version() -> String {
    crate::llm::prompt_version("draft", &[PROMPT, FRAME, &SCHEMA.to_string()])
}

/// What the LLM did for one draft, recorded with the decision.
#[derive(Debug, Clone, Serialize)]
pub struct DraftRecord {
    pub model: String,
    pub prompt: String,
    /// `accepted`, or `fallback: <why>` (the template was used).
    pub outcome: String,
    pub usage: Usage,
    pub latency_ms: u64,
    /// The slots the text used, in order of first use.
    pub slots: Vec<String>,
}

impl DraftRecord {
    pub fn accepted(&self) -> bool {
        self.outcome == "accepted"
    }
}

pub struct LlmDrafter {
    llm: Llm,
    prompt: String,
    max_chars: usize,
    max_tokens: u32,
}

impl LlmDrafter {
    /// The drafter `draft.mode = "llm"` and `[llm]` configure; None for templates.
    pub fn configured(settings: &Settings) -> Result<Option<Arc<Self>>, LlmError> {
        if settings.draft.mode != DraftMode::Llm {
            return Ok(None);
        }
        Ok(Some(Arc::new(Self {
            llm: Llm::new(&settings.llm)?,
            prompt: prompt_version(),
            max_chars: settings.draft.llm_max_chars,
            max_tokens: settings.draft.llm_max_tokens,
        })))
    }

    /// The LLM's wording for `reference` (the template draft), slots filled; the reference
    /// itself, with the reason in its record, when the LLM's text cannot be used.
    pub async fn write(&self, input: &DraftInput<'_>, reference: Draft) -> Draft {
        let slots = slots(input);
        let user = frame(input, &slots, &reference.body, self.max_chars);
        let request = Request { system: PROMPT, user: &user, schema_name: "reply", schema: &SCHEMA, max_tokens: self.max_tokens };
        let mut record = DraftRecord {
            model: self.llm.model().to_string(),
            prompt: self.prompt.clone(),
            outcome: "accepted".into(),
            usage: Usage::default(),
            latency_ms: 0,
            slots: Vec::new(),
        };
        let answer = self.llm.json(&request).await;
        if let Ok(a) = &answer {
            (record.usage, record.latency_ms) = (a.usage, a.latency.as_millis() as u64);
        }
        let filled = answer.map_err(|e| e.to_string()).and_then(|a| body_of(&a.json)).and_then(|body| fill(&body, &slots));
        match filled {
            Ok((body, used)) => {
                record.slots = used;
                Draft { body: super::tidy(&body), template: format!("llm:{}", reference.template), llm: Some(record), ..reference }
            }
            Err(reason) => {
                // As for classification: the reason can quote the model, so only at debug.
                tracing::warn!("LLM draft unusable; the template reply is used (the reason is in the decision's draft_llm)");
                tracing::debug!(%reason, "LLM draft unusable");
                record.outcome = format!("fallback: {reason}");
                Draft { llm: Some(record), ..reference }
            }
        }
    }
}

/// Every value a reply may state, by slot name: the facts (formatted for the reply's
/// language), the brand's contact details and, for a verified sender, their name.
pub fn slots(input: &DraftInput<'_>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for f in &input.grounding.facts {
        out.insert(f.key.clone(), locale::format_fact(&f.value, input.language));
    }
    let b = input.brand;
    for (name, value) in [
        ("brand.company", b.company.as_str()),
        ("brand.phone", b.phone.as_str()),
        ("brand.emergency_phone", b.emergency_phone.as_str()),
        ("brand.public_emergency", b.public_emergency.as_str()),
        ("brand.website", b.website.as_str()),
        ("brand.email", b.from_address.as_str()),
        ("brand.iban", b.iban.as_str()),
    ] {
        if !value.is_empty() {
            out.insert(name.to_string(), value.to_string());
        }
    }
    if let Some(c) = &input.identity.customer {
        out.insert("customer.name".into(), c.full_name());
        out.insert("customer.first_name".into(), c.first_name.clone());
    }
    out
}

fn frame(input: &DraftInput<'_>, slots: &BTreeMap<String, String>, reference: &str, max_chars: usize) -> String {
    let clean = |s: &str| s.replace("<<<", "<").replace(">>>", ">");
    let text: String = input.message.text.chars().take(max_chars).collect();
    let slot_lines: Vec<String> = slots.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    FRAME
        .replace("{lang}", input.language.as_str())
        .replace("{tone}", input.brand.tone.as_str())
        .replace("{company}", &input.brand.company)
        .replace("{slots}", &slot_lines.join("\n"))
        .replace("{reference}", reference)
        .replace("{subject}", &clean(&input.message.subject).replace('\n', " "))
        .replace("{text}", &clean(&text))
}

fn body_of(json: &serde_json::Value) -> Result<String, String> {
    let body = json.get("body").and_then(|b| b.as_str()).ok_or("the answer has no `body` string")?;
    if body.trim().is_empty() {
        return Err("the answer's body is empty".into());
    }
    Ok(body.to_string())
}

/// Replaces every `{{slot}}` with its value. A slot that was not given, or braces left over,
/// make the text unusable: the LLM invented a value's name or broke the syntax.
pub fn fill(body: &str, slots: &BTreeMap<String, String>) -> Result<(String, Vec<String>), String> {
    let mut used: Vec<String> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let filled = SLOT.replace_all(body, |c: &regex::Captures<'_>| {
        let name = &c[1];
        match slots.get(name) {
            Some(value) => {
                if !used.iter().any(|u| u == name) {
                    used.push(name.to_string());
                }
                value.clone()
            }
            None => {
                unknown.push(name.to_string());
                String::new()
            }
        }
    });
    if !unknown.is_empty() {
        return Err(format!("slots that were not given: {}", unknown.join(", ")));
    }
    if filled.contains("{{") || filled.contains("}}") {
        return Err("unbalanced slot braces in the text".into());
    }
    Ok((filled.into_owned(), used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given() -> BTreeMap<String, String> {
        BTreeMap::from([("invoice.amount".to_string(), "128,40 €".to_string()), ("brand.phone".to_string(), "800 123 456".to_string())])
    }

    #[test]
    fn slots_are_filled_with_the_verified_values() {
        let (text, used) = fill("L'importo è {{invoice.amount}}; ci chiami al {{ brand.phone }}. Di nuovo: {{invoice.amount}}", &given()).unwrap();
        assert_eq!(text, "L'importo è 128,40 €; ci chiami al 800 123 456. Di nuovo: 128,40 €");
        assert_eq!(used, ["invoice.amount", "brand.phone"]);
    }

    #[test]
    fn an_invented_slot_or_broken_braces_are_refused() {
        let err = fill("Rimborso di {{refund.amount}}", &given()).unwrap_err();
        assert!(err.contains("refund.amount"), "{err}");
        assert!(fill("Importo {{invoice.amount}", &given()).is_err());
    }

    #[test]
    fn the_prompt_version_names_the_prompt() {
        assert!(prompt_version().starts_with("draft-") && prompt_version().len() == "draft-".len() + 12);
        assert_ne!(prompt_version().trim_start_matches("draft-"), crate::pipeline::classify::llm::prompt_version().trim_start_matches("classify-"));
    }
}

//! Stage 6, draft: the reply text, from a tera template per intent and language
//! (`templates/replies/<intent>.<lang>.txt`) or the safety template for emergencies. Templates
//! only print values the ground stage recorded as facts, or brand settings.

pub mod llm;
#[cfg(test)] #[path = "tests.rs"] mod flows;

use crate::text::error_chain;
use serde::Serialize;
use serde_json::{Value, json};
use tera::{Context, Tera};

use super::classify::Classification;
use super::ground::Grounding;
use super::identify::Identity;
use super::parse::ParsedMessage;
use crate::config::BrandSettings;
use crate::domain::{Intent, Language, Urgency};

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("cannot load reply templates: {0}")]
    Load(String),
    #[error("template {template} failed to render: {message}")]
    Render { template: String, message: String },
}

/// The reply templates, loaded once.
pub struct Templates {
    tera: Tera,
}

impl Templates {
    /// The templates compiled into the binary.
    pub fn embedded() -> Result<Self, DraftError> {
        let files = crate::embedded::TEMPLATES.iter().map(|(name, bytes)| {
            (name.to_string(), String::from_utf8_lossy(bytes).into_owned())
        });
        Self::from_files(files.collect())
    }

    /// Templates from a directory laid out like `templates/` (for utilities that customise them).
    pub fn from_dir(dir: &std::path::Path) -> Result<Self, DraftError> {
        let mut files = Vec::new();
        for sub in ["replies", "notices"] {
            let entries = std::fs::read_dir(dir.join(sub))
                .map_err(|e| DraftError::Load(format!("{}: {e}", dir.join(sub).display())))?;
            for entry in entries.flatten() {
                let path = entry.path();
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| DraftError::Load(format!("{}: {e}", path.display())))?;
                let name = format!("{sub}/{}", entry.file_name().to_string_lossy());
                files.push((name, text));
            }
        }
        Self::from_files(files)
    }

    fn from_files(files: Vec<(String, String)>) -> Result<Self, DraftError> {
        let mut tera = Tera::default();
        // Replies are plain text: escaping would corrupt names such as "O'Brien".
        tera.autoescape_on(vec![]);
        tera.add_raw_templates(files).map_err(|e| DraftError::Load(error_chain(&e)))?;
        let missing: Vec<String> = required_templates()
            .filter(|t| !tera.get_template_names().any(|n| n == t))
            .collect();
        if !missing.is_empty() {
            return Err(DraftError::Load(format!("missing templates: {}", missing.join(", "))));
        }
        Ok(Self { tera })
    }

    fn render(&self, name: &str, context: &Context) -> Result<String, DraftError> {
        self.tera.render(name, context).map_err(|e| DraftError::Render {
            template: name.to_string(),
            message: error_chain(&e),
        })
    }
}

fn required_templates() -> impl Iterator<Item = String> {
    Language::SUPPORTED.into_iter().flat_map(|lang| {
        Intent::ALL
            .iter()
            .map(|i| i.as_str())
            .chain(["safety"])
            .map(move |name| format!("replies/{name}.{}.txt", lang.as_str()))
    })
    .chain(["notices/escalation.txt".to_string(), "notices/review.txt".to_string()])
}


#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftKind {
    Reply,
    Safety,
}

#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    pub kind: DraftKind,
    pub language: Language,
    pub template: String,
    pub subject: String,
    pub body: String,
    /// Files sent with the reply (the bill's PDF copy).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<super::ground::Attachment>,
    /// Set when the LLM wrote the text (see [`llm`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<llm::DraftRecord>,
}

/// The language a reply is written in: the message's, else the customer's, else English.
pub fn reply_language(classification: &Classification, identity: &Identity) -> Language {
    if classification.language.is_supported() {
        classification.language
    } else {
        identity.customer.as_ref().map(|c| c.language).filter(|l| l.is_supported()).unwrap_or(Language::En)
    }
}

pub struct DraftInput<'a> {
    pub message: &'a ParsedMessage,
    pub classification: &'a Classification,
    pub identity: &'a Identity,
    pub grounding: &'a Grounding,
    pub brand: &'a BrandSettings,
    pub language: Language,
}

pub fn run(input: &DraftInput<'_>, templates: &Templates) -> Result<Draft, DraftError> {
    let c = input.classification;
    let (kind, name) = if c.urgency == Urgency::Emergency {
        (DraftKind::Safety, "safety")
    } else {
        (DraftKind::Reply, c.intent.as_str())
    };
    let template = format!("replies/{name}.{}.txt", input.language.as_str());
    let body = templates.render(&template, &reply_context(input))?;
    Ok(Draft {
        kind,
        language: input.language,
        template,
        subject: reply_subject(&input.message.subject, input.language),
        body: tidy(&body),
        // Attachments belong to the reply, not to a safety message.
        attachments: if kind == DraftKind::Reply { input.grounding.attachments.clone() } else { Vec::new() },
        llm: None,
    })
}

fn brand_json(brand: &BrandSettings) -> Value {
    json!({
        "company": brand.company,
        "phone": brand.phone,
        "emergency_phone": brand.emergency_phone,
        "public_emergency": brand.public_emergency,
        "website": brand.website,
        "email": brand.from_address.as_str(),
        "iban": brand.iban,
        "sign_off": brand.sign_off,
        "tone": brand.tone.as_str(),
    })
}

fn reply_context(input: &DraftInput<'_>) -> Context {
    let c = input.classification;
    let customer = input.identity.customer.as_ref().map(|cu| {
        json!({
            "first_name": cu.first_name,
            "last_name": cu.last_name,
            "full_name": cu.full_name(),
            "account": cu.account.as_str(),
        })
    });
    let mut ctx = Context::new();
    ctx.insert("lang", input.language.as_str());
    ctx.insert("intent", c.intent.as_str());
    ctx.insert("urgency", c.urgency.as_str());
    ctx.insert("subject", &input.message.subject);
    ctx.insert("verified", &input.identity.verified());
    ctx.insert("customer", &customer);
    ctx.insert("brand", &brand_json(input.brand));
    ctx.insert("facts", &input.grounding.view);
    ctx.insert("hazard", &c.safety.as_ref().map(|s| s.hazard.as_str()));
    ctx
}

/// The staff alert for an emergency. Internal: it may carry the customer's contact details.
pub struct NoticeInput<'a> {
    pub draft: &'a DraftInput<'a>,
    pub received_at: String,
    pub reply_sent: bool,
}

pub fn escalation_notice(input: &NoticeInput<'_>, templates: &Templates) -> Result<Draft, DraftError> {
    let d = input.draft;
    let mut ctx = reply_context(d);
    if let Some(cu) = &d.identity.customer {
        ctx.insert(
            "customer",
            &json!({
                "full_name": cu.full_name(),
                "account": cu.account.as_str(),
                "phone": cu.phone,
                "address": format!("{}, {} {}", cu.address.street, cu.address.postcode, cu.address.city),
                "vulnerable": cu.vulnerable,
            }),
        );
    }
    ctx.insert("sender", d.message.from.as_str());
    ctx.insert("received_at", &input.received_at);
    ctx.insert("message_id", &d.message.message_id.as_ref().map(|m| m.to_string()));
    ctx.insert("detected", &d.classification.safety.as_ref().map(|s| format!("{} ({})", s.phrase, s.hazard.as_str())));
    ctx.insert("excerpt", &excerpt(&d.message.text, 600));
    ctx.insert("reply_sent", &input.reply_sent);
    let template = "notices/escalation.txt".to_string();
    let body = templates.render(&template, &ctx)?;
    let what = d.classification.safety.as_ref().map(|s| s.hazard.as_str()).unwrap_or("safety");
    Ok(Draft {
        kind: DraftKind::Safety,
        language: Language::En,
        subject: format!("[EMERGENCY] {what}: {}", d.message.from),
        template,
        body: tidy(&body),
        attachments: Vec::new(),
        llm: None,
    })
}


/// The note filed beside a draft: why approval is needed and what the draft relies on.
pub struct ReviewInput<'a> {
    pub draft: &'a DraftInput<'a>,
    /// Only the reasons that hold the reply (not the identity reasons every message has).
    pub holds: &'a [crate::domain::Reason],
    pub claims: &'a [crate::domain::Claim],
    pub drafts_folder: &'a str,
}

pub fn review_note(input: &ReviewInput<'_>, templates: &Templates) -> Result<Draft, DraftError> {
    let d = input.draft;
    let c = d.classification;
    let mut ctx = Context::new();
    ctx.insert("sender", d.message.from.as_str());
    ctx.insert("subject", &d.message.subject);
    ctx.insert("intent", c.intent.as_str());
    ctx.insert("urgency", c.urgency.as_str());
    ctx.insert("lang", c.language.as_str());
    ctx.insert("confidence", &format!("{:.2}", c.confidence));
    ctx.insert(
        "customer",
        &d.identity.customer.as_ref().map(|cu| {
            json!({"full_name": cu.full_name(), "account": cu.account.as_str(), "vulnerable": cu.vulnerable})
        }),
    );
    let holds: Vec<Value> = input.holds.iter().map(|r| json!({"code": r.code.as_str(), "detail": r.detail})).collect();
    ctx.insert("holds", &holds);
    let claims: Vec<Value> = input
        .claims
        .iter()
        .map(|cl| json!({"text": cl.text, "kind": cl.kind.as_str(), "verified": cl.is_verified(), "matched": cl.matched}))
        .collect();
    ctx.insert("claims", &claims);
    let facts: Vec<Value> = d
        .grounding
        .facts
        .iter()
        .map(|f| {
            json!({
                "key": f.key,
                "value": crate::locale::format_fact(&f.value, d.language),
                "source": f.source,
                "fetched_at": f.fetched_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            })
        })
        .collect();
    ctx.insert("facts", &facts);
    ctx.insert("drafts_folder", input.drafts_folder);
    let template = "notices/review.txt".to_string();
    let body = templates.render(&template, &ctx)?;
    Ok(Draft {
        kind: DraftKind::Reply,
        language: Language::En,
        subject: format!("[Switchyard review] {}", reply_subject(&d.message.subject, d.language)),
        template,
        body: tidy(&body),
        attachments: Vec::new(),
        llm: None,
    })
}

fn excerpt(text: &str, max_chars: usize) -> String {
    let mut out: String = text.chars().take(max_chars).collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out
}

/// `Re: <subject>`, without stacking prefixes; a localized subject when there was none.
pub fn reply_subject(subject: &str, lang: Language) -> String {
    let s = subject.trim();
    if s.is_empty() {
        let fallback = match lang {
            Language::It => "La sua richiesta",
            Language::Es => "Su consulta",
            Language::Fr => "Votre demande",
            _ => "Your enquiry",
        };
        return format!("Re: {fallback}");
    }
    let lower = s.to_lowercase();
    let prefixed = ["re:", "r:", "rif:", "aw:", "rv:", "res:", "réf:", "ref:"].iter().any(|p| lower.starts_with(p));
    if prefixed { s.to_string() } else { format!("Re: {s}") }
}

/// Trims trailing spaces and collapses runs of blank lines that template branches leave.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_templates_cover_every_intent_and_language() {
        Templates::embedded().expect("all templates present and valid");
    }

    #[test]
    fn reply_subject_does_not_stack() {
        assert_eq!(reply_subject("Bolletta", Language::It), "Re: Bolletta");
        assert_eq!(reply_subject("RE: Bill", Language::En), "RE: Bill");
        assert_eq!(reply_subject("", Language::Fr), "Re: Votre demande");
    }

    #[test]
    fn missing_template_is_named() {
        let err = Templates::from_files(vec![("replies/billing.it.txt".into(), "x".into())]).err().unwrap();
        assert!(err.to_string().contains("replies/payment.it.txt"), "{err}");
    }
}

//! The triage pipeline: parse ► guard ► classify ► identify ► ground ► draft ► factcheck ►
//! policy ► act. Each stage is a module with typed inputs and outputs; this module runs them
//! in order for one stored message and returns the [`Outcome`] to record.

pub mod act;
pub mod classify;
pub mod draft;
pub mod factcheck;
pub mod ground;
pub mod guard;
pub mod identify;
pub mod parse;
pub mod policy;
pub mod recheck;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{Local, NaiveDateTime, Utc};
use serde::Serialize;

use crate::config::Settings;
use crate::connectors::Connectors;
use crate::domain::{Claim, Decision, EmailAddress, Fact, Intent, Language, Reason, ReasonCode, Urgency};
use classify::Classification;
use crate::store::{SenderLookup, Store, StoreError, StoredMessage};
use act::Outgoing;
use draft::{Draft, DraftInput, Templates};
use factcheck::Allowlist;
use guard::{GuardRules, Verdict};

/// Everything decided about one message: what is recorded, reported and delivered.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The store's id of the inbound message.
    pub message: i64,
    /// The channel it came from, and replies go through.
    pub channel: String,
    /// Where exactly it came from (`<channel>/<file name or UID>`).
    pub source: String,
    pub message_id: Option<String>,
    pub from: Option<String>,
    /// The customer's subject line, for the queue.
    #[serde(skip)]
    pub subject: Option<String>,
    pub customer: Option<String>,
    pub language: Option<Language>,
    pub intent: Option<Intent>,
    pub urgency: Option<Urgency>,
    pub confidence: Option<f32>,
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    pub policy_version: String,
    pub model: Option<String>,
    /// Whose reading of the intent stands: `local` or `llm`.
    pub decided_by: Option<String>,
    /// What the LLM did, when it was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<classify::llm::LlmRecord>,
    pub facts: Vec<Fact>,
    pub claims: Vec<Claim>,
    pub draft: Option<Draft>,
    #[serde(skip)]
    pub outgoing: Vec<Outgoing>,
}

impl Outcome {
    fn early(stored: &StoredMessage, decision: Decision, reasons: Vec<Reason>, policy_version: &str) -> Self {
        Outcome {
            message: stored.id,
            channel: stored.channel.clone(),
            source: stored.source.clone(),
            message_id: None,
            from: None,
            subject: None,
            customer: None,
            language: None,
            intent: None,
            urgency: None,
            confidence: None,
            decision,
            reasons,
            policy_version: policy_version.to_string(),
            model: None,
            decided_by: None,
            llm: None,
            facts: Vec::new(),
            claims: Vec::new(),
            draft: None,
            outgoing: Vec::new(),
        }
    }
}

/// Decisions taken in the current batch but not committed yet. The guard must see them as if
/// they were in the store: a duplicate or a fourth reply to one sender can be in the same batch.
#[derive(Debug, Default)]
pub struct Uncommitted {
    message_ids: HashSet<String>,
    replies: HashMap<String, u32>,
}

impl Uncommitted {
    pub fn note(&mut self, outcome: &Outcome) {
        if let Some(id) = &outcome.message_id {
            self.message_ids.insert(id.clone());
        }
        for out in outcome.outgoing.iter().filter(|o| o.kind == act::OutgoingKind::Reply) {
            *self.replies.entry(out.recipient.to_string()).or_default() += 1;
        }
    }

    fn add_to(&self, mut history: guard::SenderHistory, parsed: &parse::ParsedMessage) -> guard::SenderHistory {
        history.message_id_seen |= parsed.message_id.as_ref().is_some_and(|m| self.message_ids.contains(m.as_str()));
        history.recent_auto_replies += self.replies.get(parsed.from.as_str()).copied().unwrap_or(0);
        history
    }
}

/// Reasons that hold a reply for a person (as opposed to those that explain identity or say
/// why it may be sent).
fn is_hold(code: ReasonCode) -> bool {
    !matches!(
        code,
        ReasonCode::CustomerVerified
            | ReasonCode::SenderUnverified
            | ReasonCode::SenderMismatch
            | ReasonCode::ClaimsVerified
            | ReasonCode::AutoSendAllowed
            | ReasonCode::RoutedToTeam
            | ReasonCode::LlmDraftFallback
    )
}

/// Who the sender is, the reply's language, and what the systems say: the input of drafting.
struct Facts {
    identity: identify::Identity,
    lang: Language,
    grounding: ground::Grounding,
}

/// A decided message read again by [`Pipeline::reread`].
struct Reread {
    stored: StoredMessage,
    recorded: crate::store::RecordedDecision,
    admitted: guard::Admitted,
    classification: Classification,
    fresh: Facts,
}

/// A reply a person approved, ready to queue, with what it was checked against.
#[derive(Debug)]
pub struct ApprovedReply {
    pub channel: String,
    pub reply: act::Outgoing,
    /// The approved text fact-checked against `facts`.
    pub claims: Vec<Claim>,
    /// The facts as the live systems give them now.
    pub facts: Vec<Fact>,
    /// Facts the draft relied on that changed since it was written.
    pub changes: Vec<recheck::Change>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Compose(#[from] act::ActError),
}

/// What kind of channel a message came through, as told to other systems.
fn channel_kind(channel: &str) -> &'static str {
    if channel.starts_with("whatsapp") { "whatsapp" } else { "email" }
}

/// The utility's local time, or a fixed one so demo data and tests are reproducible.
#[derive(Debug, Clone, Copy)]
pub enum LocalClock {
    System,
    Fixed(NaiveDateTime),
}

impl LocalClock {
    pub fn now(self) -> ground::Clock {
        let local_now = match self {
            LocalClock::System => Local::now().naive_local(),
            LocalClock::Fixed(t) => t,
        };
        ground::Clock { now: Utc::now(), local_now }
    }
}

/// The stages and what they need, built once at start-up.
pub struct Pipeline {
    pub settings: Arc<Settings>,
    pub connectors: Connectors,
    pub model: Arc<dyn classify::Model>,
    pub templates: Arc<Templates>,
    pub allowlist: Allowlist,
    pub clock: LocalClock,
    /// Set when the configuration asks for LLM classification.
    pub llm: Option<Arc<classify::llm::LlmClassifier>>,
    /// Set when the configuration asks for LLM drafting.
    pub drafter: Option<Arc<draft::llm::LlmDrafter>>,
    /// Mail from these is our own: never answered.
    own_addresses: Vec<EmailAddress>,
}

impl Pipeline {
    pub fn new(
        settings: Arc<Settings>,
        connectors: Connectors,
        model: Arc<dyn classify::Model>,
        templates: Arc<Templates>,
        clock: LocalClock,
    ) -> Self {
        let allowlist = Allowlist::from_settings(&settings);
        let mut own_addresses = settings.guard.own_addresses.clone();
        own_addresses.push(settings.brand.from_address.clone());
        own_addresses.extend(settings.mailboxes.iter().map(|m| m.address.clone()));
        Self { settings, connectors, model, templates, allowlist, clock, llm: None, drafter: None, own_addresses }
    }

    /// Adds LLM classification (see [`classify::llm`]).
    pub fn with_llm(mut self, llm: Option<Arc<classify::llm::LlmClassifier>>) -> Self {
        self.llm = llm;
        self
    }

    /// Adds LLM drafting (see [`draft::llm`]).
    pub fn with_drafter(mut self, drafter: Option<Arc<draft::llm::LlmDrafter>>) -> Self {
        self.drafter = drafter;
        self
    }

    /// Runs every stage for a batch of stored messages, in order. Only store errors escape:
    /// everything else becomes part of an outcome (quarantine, approval with a reason).
    /// The batch is parsed first so the sender histories come from the store in one query.
    pub async fn triage(&self, batch: &[StoredMessage], store: &dyn Store) -> Result<Vec<Outcome>, StoreError> {
        let s = &self.settings;
        let limits = parse::Limits { max_bytes: s.worker.max_message_bytes };
        let parsed: Vec<Result<parse::ParsedMessage, parse::ParseError>> =
            batch.iter().map(|m| parse::run(&m.raw, m.stored_len, limits)).collect();
        let lookups: Vec<SenderLookup<'_>> = batch
            .iter()
            .zip(&parsed)
            .filter_map(|(m, p)| p.as_ref().ok().map(|p| SenderLookup { message: m.id, message_id: p.message_id.as_ref(), sender: &p.from }))
            .collect();
        let since = Utc::now() - chrono::Duration::hours(s.guard.reply_window_hours.into());
        let mut fetched = store.sender_histories(&lookups, since).await?.into_iter();
        let mut histories = Vec::with_capacity(batch.len());
        for p in &parsed {
            histories.push(match p {
                Ok(_) => Some(fetched.next().ok_or_else(|| StoreError::Corrupt("sender history missing".into()))?),
                Err(_) => None,
            });
        }
        let mut readings = self.classify_batch(&parsed, &histories).await.into_iter();
        // Withdrawals of the support paragraph recorded locally override the CIS's flag.
        let withdrawn = store.withdrawn(crate::privacy::Purpose::AssistanceInfo).await?;
        let mut uncommitted = Uncommitted::default();
        let mut outcomes = Vec::with_capacity(batch.len());
        for ((stored, parsed), history) in batch.iter().zip(parsed).zip(histories) {
            crate::crashpoint!("before_triage");
            let reading = readings.next().flatten();
            let outcome = match (parsed, history) {
                (Ok(p), Some(history)) => {
                    let history = uncommitted.add_to(history, &p);
                    self.after_parse(stored, p, history, reading, &withdrawn).await
                }
                (Err(e), _) => Outcome::early(stored, Decision::Quarantine, vec![e.reason()], &s.policy.version),
                (Ok(_), None) => return Err(StoreError::Corrupt("sender history missing".into())),
            };
            uncommitted.note(&outcome);
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// Classifies every message the guard will let through, before the decisions (which run
    /// in order, because each may count against the next sender's reply limit). The LLM, when
    /// it is asked, is asked for the whole batch at once: a storm is not read one by one.
    async fn classify_batch(
        &self,
        parsed: &[Result<parse::ParsedMessage, parse::ParseError>],
        histories: &[Option<guard::SenderHistory>],
    ) -> Vec<Option<Classification>> {
        let stage = self.settings.classify.stage();
        let rules = self.guard_rules();
        // A repeat of a Message-ID earlier in the batch will be stopped as a duplicate.
        let mut ids = HashSet::new();
        let local: Vec<Option<(&parse::ParsedMessage, Classification)>> = parsed
            .iter()
            .zip(histories)
            .map(|(p, h)| match (p, h) {
                (Ok(p), Some(h)) if guard::machine_reasons(p, *h, &rules).is_empty() => {
                    let repeat = p.message_id.as_ref().is_some_and(|id| !ids.insert(id.as_str()));
                    (!repeat).then(|| (p, classify::run(p, self.model.as_ref(), &stage)))
                }
                _ => None,
            })
            .collect();
        let Some(llm) = &self.llm else { return local.into_iter().map(|r| r.map(|(_, c)| c)).collect() };
        let refined = local.into_iter().map(|reading| async move {
            match reading {
                Some((p, c)) => Some(llm.refine(&p.subject, &p.text, c).await),
                None => None,
            }
        });
        futures_util::future::join_all(refined).await
    }

    fn guard_rules(&self) -> GuardRules<'_> {
        GuardRules {
            own_addresses: &self.own_addresses,
            own_message_id_domain: &self.settings.brand.message_id_domain,
            max_auto_replies: self.settings.guard.max_auto_replies_per_sender,
        }
    }

    async fn after_parse(
        &self,
        stored: &StoredMessage,
        parsed: parse::ParsedMessage,
        history: guard::SenderHistory,
        reading: Option<Classification>,
        withdrawn: &crate::privacy::Withdrawn,
    ) -> Outcome {
        let s = &self.settings;
        let (message_id, from) = (parsed.message_id.as_ref().map(|m| m.to_string()), parsed.from.to_string());
        match guard::run(parsed, history, &self.guard_rules()) {
            Verdict::Admit(admitted) => self.decide(stored, admitted, reading, withdrawn).await,
            Verdict::Stop(reasons) => {
                let mut o = Outcome::early(stored, Decision::Ignore, reasons, &s.policy.version);
                (o.message_id, o.from) = (message_id, Some(from));
                o
            }
        }
    }

    async fn decide(&self, stored: &StoredMessage, admitted: guard::Admitted, reading: Option<Classification>, withdrawn: &crate::privacy::Withdrawn) -> Outcome {
        let classification = reading.unwrap_or_else(|| classify::run(&admitted.message, self.model.as_ref(), &self.settings.classify.stage()));
        // Personal data only at debug: who wrote and about what (see src/telemetry.rs).
        let m = &admitted.message;
        tracing::debug!(message = stored.id, from = %m.from, name = ?m.from_name, subject = %m.subject, intent = %classification.intent, "admitted");
        let facts = self.facts_for(stored, &admitted, &classification, &self.connectors, withdrawn).await;
        let outcome = self.decide_with(stored, &admitted, classification, facts).await;
        tracing::debug!(message = stored.id, customer = ?outcome.customer, decision = %outcome.decision, "decided");
        outcome
    }

    /// Who the sender is and what the systems say about them, read through `connectors`.
    async fn facts_for(
        &self,
        stored: &StoredMessage,
        admitted: &guard::Admitted,
        classification: &Classification,
        connectors: &Connectors,
        withdrawn: &crate::privacy::Withdrawn,
    ) -> Facts {
        let identity = match identify::run(admitted, classification, connectors.cis.as_ref()).await {
            Ok(identity) => identity,
            Err(e) => identify::Identity {
                customer: None,
                reasons: vec![
                    Reason::new(ReasonCode::SenderUnverified, "the CIS could not be asked who the sender is"),
                    Reason::new(ReasonCode::ConnectorUnavailable, e.to_string()),
                ],
            },
        };
        let lang = draft::reply_language(classification, &identity);
        let reference = act::reference(admitted.message.message_id.as_ref(), &stored.raw_sha256);
        let ground_input = ground::GroundInput {
            classification,
            identity: &identity,
            lang,
            reference: &reference,
            channel: channel_kind(&stored.channel),
            installments: &self.settings.installments,
        };
        let mut grounding = ground::run(&ground_input, connectors, &self.clock.now()).await;
        let account = identity.customer.as_ref().map(|c| c.account.as_str());
        let channel = crate::privacy::Channel::of(&stored.channel);
        crate::privacy::apply_withdrawal(&mut grounding.view, withdrawn.any(channel, account, Some(admitted.message.from.as_str())));
        Facts { identity, lang, grounding }
    }

    /// The stages after the facts: draft, factcheck, policy, act.
    async fn decide_with(&self, stored: &StoredMessage, admitted: &guard::Admitted, classification: Classification, facts: Facts) -> Outcome {
        let s = &self.settings;
        let Facts { identity, lang, grounding } = facts;
        let input = DraftInput {
            message: &admitted.message,
            classification: &classification,
            identity: &identity,
            grounding: &grounding,
            brand: &s.brand,
            language: lang,
        };
        let (draft, draft_error) = match draft::run(&input, &self.templates) {
            Ok(d) => (Some(self.reword(&input, d).await), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let check = draft.as_ref().map(|d| factcheck::run(&d.body, &grounding.facts, &self.allowlist, lang));
        let ruling = policy::run(
            &policy::PolicyInput {
                admitted: &admitted,
                classification: &classification,
                identity: &identity,
                grounding: &grounding,
                factcheck: check.as_ref(),
                draft_error,
            },
            &s.policy,
        );
        let mut reasons = ruling.reasons;
        if let Some(record) = draft.as_ref().and_then(|d| d.llm.as_ref()).filter(|r| !r.accepted()) {
            reasons.push(Reason::new(ReasonCode::LlmDraftFallback, format!("the template reply was used ({})", record.outcome)));
        }
        let outgoing = self.outgoing(stored, &input, ruling.decision, draft.as_ref(), check.as_ref(), &mut reasons);
        Outcome {
            message: stored.id,
            channel: stored.channel.clone(),
            source: stored.source.clone(),
            message_id: admitted.message.message_id.as_ref().map(|m| m.to_string()),
            from: Some(admitted.message.from.to_string()),
            subject: Some(admitted.message.subject.clone()),
            customer: identity.customer.as_ref().map(|c| c.account.to_string()),
            language: Some(classification.language),
            intent: Some(classification.intent),
            urgency: Some(classification.urgency),
            confidence: Some(classification.confidence),
            decision: ruling.decision,
            reasons,
            policy_version: ruling.policy_version,
            model: Some(classification.model.clone()),
            decided_by: Some(classification.decided_by().to_string()),
            llm: classification.llm.clone(),
            facts: grounding.facts.clone(),
            claims: check.map(|c| c.claims).unwrap_or_default(),
            draft,
            outgoing,
        }
    }

    /// The messages a decision sends. A failure to compose them is itself a reason: the
    /// decision stands and a person sees why nothing went out.
    fn outgoing(
        &self,
        stored: &StoredMessage,
        input: &DraftInput<'_>,
        decision: Decision,
        draft: Option<&Draft>,
        check: Option<&factcheck::FactCheck>,
        reasons: &mut Vec<Reason>,
    ) -> Vec<Outgoing> {
        let verified = check.is_some_and(|c| c.all_verified());
        let reply = match decision {
            Decision::AutoSend => draft,
            Decision::Escalate => draft.filter(|_| verified),
            _ => None,
        };
        let held = if decision == Decision::Approve { draft } else { None };
        let holds: Vec<Reason> = reasons.iter().filter(|r| is_hold(r.code)).cloned().collect();
        let mut failed = |e: draft::DraftError| reasons.push(Reason::new(ReasonCode::DraftUnavailable, e.to_string()));
        let notice = (decision == Decision::Escalate)
            .then(|| {
                let n = draft::NoticeInput {
                    draft: input,
                    received_at: stored.received_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    reply_sent: reply.is_some(),
                };
                draft::escalation_notice(&n, &self.templates)
            })
            .and_then(|r| r.map_err(&mut failed).ok());
        let note = held
            .map(|_| {
                let r = draft::ReviewInput {
                    draft: input,
                    holds: &holds,
                    claims: check.map(|c| c.claims.as_slice()).unwrap_or_default(),
                    drafts_folder: if stored.channel.starts_with("imap:") { "your Drafts folder" } else { "the drafts folder" },
                };
                draft::review_note(&r, &self.templates)
            })
            .and_then(|r| r.map_err(&mut failed).ok());
        let team = held.and_then(|_| self.team_for(input));
        if let Some(team) = team {
            reasons.push(Reason::new(ReasonCode::RoutedToTeam, format!("review note sent to {team}")));
        }
        let plan = act::Plan {
            message: input.message,
            raw_sha256: &stored.raw_sha256,
            reply,
            draft: held,
            note: note.as_ref(),
            note_to: team,
            alert: notice.as_ref().map(|n| (n, self.settings.escalation.notify.as_slice())),
        };
        act::compose(&plan, &self.sender_for(&stored.channel)).unwrap_or_else(|e| {
            reasons.push(Reason::new(ReasonCode::DraftUnavailable, e.to_string()));
            Vec::new()
        })
    }

    /// The check before a reply is sent (see [`recheck`]): `None` when the facts the reply
    /// states are unchanged in the live systems, else the decision rebuilt from the new ones.
    pub async fn recheck(&self, message: i64, store: &dyn Store) -> Result<Option<Outcome>, StoreError> {
        let Some(Reread { stored, recorded, admitted, classification, mut fresh }) = self.reread(message, store).await? else {
            return Ok(None);
        };
        let changes = recheck::changes(&recorded, &fresh.grounding.facts);
        if changes.is_empty() {
            return Ok(None);
        }
        let (reason, hold) = recheck::reason(&changes, self.settings.policy.on_fact_change);
        tracing::info!(message, changed = changes.len(), hold, "facts changed before sending; rebuilding the reply");
        // The reply is rebuilt from the facts just read: no second round trip to the systems.
        if hold {
            fresh.grounding.reasons.push(reason.clone());
        }
        let mut outcome = self.decide_with(&stored, &admitted, classification, fresh).await;
        if !hold {
            outcome.reasons.push(reason);
        }
        Ok(Some(outcome))
    }

    /// A decided message read again: its recorded reading, and its facts fetched now from the
    /// live systems (no cache). `None` when it was never decided or no longer parses.
    async fn reread(&self, message: i64, store: &dyn Store) -> Result<Option<Reread>, StoreError> {
        let Some((stored, recorded)) = store.recorded_decision(message).await? else { return Ok(None) };
        let limits = parse::Limits { max_bytes: self.settings.worker.max_message_bytes };
        // It was parsed and admitted when decided; the same bytes give the same result.
        let Ok(parsed) = parse::run(&stored.raw, stored.stored_len, limits) else { return Ok(None) };
        let Verdict::Admit(admitted) = guard::run(parsed, guard::SenderHistory::default(), &self.guard_rules()) else { return Ok(None) };
        let mut classification = classify::run(&admitted.message, self.model.as_ref(), &self.settings.classify.stage());
        // The recorded reading stands (it may have been the LLM's); entities come from the text.
        classification.intent = recorded.intent.unwrap_or(classification.intent);
        classification.urgency = recorded.urgency.unwrap_or(classification.urgency);
        classification.language = recorded.language.unwrap_or(classification.language);
        classification.confidence = recorded.confidence.unwrap_or(classification.confidence);
        let withdrawn = store.withdrawn(crate::privacy::Purpose::AssistanceInfo).await?;
        let fresh = self.facts_for(&stored, &admitted, &classification, &self.connectors.live(), &withdrawn).await;
        Ok(Some(Reread { stored, recorded, admitted, classification, fresh }))
    }

    /// The reply a person approved (`text`, edited or not), checked now against live facts:
    /// the check before sending, done while the person is still there to see its result.
    /// `None` when the message was never decided.
    pub async fn approved_reply(&self, message: i64, text: &str, store: &dyn Store) -> Result<Option<ApprovedReply>, ApproveError> {
        let Some(Reread { stored, recorded, admitted, fresh, .. }) = self.reread(message, store).await? else { return Ok(None) };
        let check = factcheck::run(text, &fresh.grounding.facts, &self.allowlist, fresh.lang);
        let changes = recheck::changes(&recorded, &fresh.grounding.facts);
        let draft = Draft {
            kind: draft::DraftKind::Reply,
            language: fresh.lang,
            template: "approved".into(),
            subject: draft::reply_subject(&admitted.message.subject, fresh.lang),
            body: text.to_string(),
            attachments: fresh.grounding.attachments.clone(),
            llm: None,
        };
        let reply = act::approved_reply(&admitted.message, &stored.raw_sha256, &draft, &self.sender_for(&stored.channel))?;
        Ok(Some(ApprovedReply { channel: stored.channel, reply, claims: check.claims, facts: fresh.grounding.facts, changes }))
    }

    /// The LLM's wording of a reply when LLM drafting is on. Safety replies are never reworded:
    /// they must go out at once and say exactly what was approved.
    async fn reword(&self, input: &DraftInput<'_>, template: Draft) -> Draft {
        match &self.drafter {
            Some(drafter) if template.kind == draft::DraftKind::Reply => drafter.write(input, template).await,
            _ => template,
        }
    }

    /// The team address that handles a held draft: the vulnerable-customer team first, then
    /// the intent's team; `None` leaves it with the mailbox.
    fn team_for(&self, input: &DraftInput<'_>) -> Option<&EmailAddress> {
        let routing = &self.settings.routing;
        let vulnerable = input.identity.customer.as_ref().is_some_and(|c| c.vulnerable);
        routing.vulnerable.as_ref().filter(|_| vulnerable).or_else(|| routing.teams.get(&input.classification.intent))
    }

    /// Who replies on a channel: the mailbox's own address for IMAP mailboxes, the brand's
    /// address for the embedded Maildir.
    pub fn sender_for(&self, channel: &str) -> act::Sender {
        let s = &self.settings;
        let mailbox = channel.strip_prefix("imap:").and_then(|name| s.mailboxes.iter().find(|m| m.name == name));
        act::Sender {
            name: mailbox.and_then(|m| m.display_name.clone()).unwrap_or_else(|| s.brand.from_name.clone()),
            address: mailbox.map(|m| m.address.clone()).unwrap_or_else(|| s.brand.from_address.clone()),
            message_id_domain: s.brand.message_id_domain.clone(),
        }
    }
}


//! Typed settings: the TOML file, then `SWITCHYARD__SECTION__KEY` environment overrides.
//! Unknown keys are rejected and every error names the key and what was expected.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::domain::{EmailAddress, Intent, Urgency};
use crate::store::events::EventKind;

/// The configuration shipped in the repository and embedded in the binary, used when the
/// default path does not exist (so the binary runs from any directory).
pub const EMBEDDED_DEFAULT: &str = include_str!("../config/switchyard.toml");
pub const DEFAULT_PATH: &str = "config/switchyard.toml";
const ENV_PREFIX: &str = "SWITCHYARD__";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin} is not valid TOML: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: `{key}`: {message}")]
    Invalid { origin: String, key: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub worker: WorkerSettings,
    #[serde(default)]
    pub store: StoreSettings,
    #[serde(default)]
    pub maildir: MaildirSettings,
    /// Real mailboxes (IMAP in, SMTP out, drafts in the staff's own Drafts folder).
    #[serde(default)]
    pub mailboxes: Vec<MailboxSettings>,
    #[serde(default)]
    pub brand: BrandSettings,
    #[serde(default)]
    pub escalation: EscalationSettings,
    #[serde(default)]
    pub guard: GuardSettings,
    #[serde(default)]
    pub classify: ClassifySettings,
    /// The LLM endpoint (OpenAI, Azure OpenAI, or a compatible local server).
    #[serde(default)]
    pub llm: LlmSettings,
    #[serde(default)]
    pub policy: PolicySettings,
    #[serde(default)]
    pub factcheck: FactcheckSettings,
    #[serde(default)]
    pub connectors: ConnectorSettings,
    /// Which payment plans a reply may offer.
    #[serde(default)]
    pub installments: InstallmentSettings,
    /// Where what needs a person goes.
    #[serde(default)]
    pub routing: RoutingSettings,
    /// How replies are written: templates, or the LLM with slots.
    #[serde(default)]
    pub draft: DraftSettings,
    /// The web queue, the REST API, health checks and metrics.
    #[serde(default)]
    pub web: WebSettings,
    /// The audit trail's signing key and how often the chain head is signed.
    #[serde(default)]
    pub audit: AuditSettings,
    /// How long message bodies and personal data are kept (docs/readme-privacy.md).
    #[serde(default)]
    pub privacy: PrivacySettings,
    /// Outgoing webhooks: events POSTed, signed, to other systems (docs/readme-webhooks.md).
    #[serde(default)]
    pub webhooks: Vec<WebhookSettings>,
    /// How webhook deliveries are paced and retried.
    #[serde(default)]
    pub webhook_delivery: WebhookDeliverySettings,
}

/// The audit trail: the Ed25519 key that signs its head, and how often.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// The signing key: 64 hex digits (an Ed25519 seed), the value or `{ env = "VARIABLE" }`.
    /// When unset, the key in `key_file` is used, made on the first run.
    pub signing_key: Option<crate::secret::Secret>,
    /// Relative to the data directory.
    pub key_file: PathBuf,
    /// The public key `audit verify` checks signatures against (hex). Keep it where whoever can
    /// change the database cannot; unset, the signing key's own public half is used.
    pub public_key: Option<String>,
    /// The worker signs the chain head this often when entries were added.
    pub sign_interval_seconds: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { signing_key: None, key_file: PathBuf::from("audit.key"), public_key: None, sign_interval_seconds: 60 }
    }
}

/// Retention: after `retention_days` without activity a message loses its body and personal
/// data (its decision's codes and the audit trail stay). 0 keeps everything for ever.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacySettings {
    pub retention_days: u32,
}

/// The longest retention accepted (100 years): a larger number is a typo, not a policy.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

impl Default for PrivacySettings {
    /// Two years: long enough for a billing dispute or a complaint to the ombudsman about any
    /// answer, short enough that mail is not kept for ever by default (storage limitation).
    fn default() -> Self {
        Self { retention_days: 730 }
    }
}

/// The web server `run` starts beside the worker (not with `--once`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    pub enabled: bool,
    /// Port 0 picks a free port; the URL actually served is written to `<data dir>/web.url`.
    pub listen: std::net::SocketAddr,
    /// The address staff use when a TLS proxy sits in front (`https://queue.utility.example`):
    /// session cookies are then marked Secure, as they are when `tls_cert` is set.
    pub public_url: Option<String>,
    /// Serve HTTPS directly: PEM certificate chain and private key.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// A session ends after this long without a request…
    pub session_idle_minutes: u32,
    /// …and in any case this long after sign-in.
    pub session_max_hours: u32,
    /// Failed sign-ins allowed per user name within `login_window_minutes`, then it is refused
    /// until the window has passed.
    pub login_max_failures: u32,
    /// The same per client address (many user names tried from one place).
    pub login_client_max_failures: u32,
    pub login_window_minutes: u32,
    /// Queue items per page.
    pub page_size: u32,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            tls_cert: None,
            tls_key: None,
            session_idle_minutes: 60,
            session_max_hours: 12,
            login_max_failures: 5,
            login_client_max_failures: 20,
            login_window_minutes: 15,
            page_size: 100,
        }
    }
}

impl WebSettings {
    /// Whether browsers reach us over HTTPS (directly or through a proxy): cookies get `Secure`.
    pub fn https(&self) -> bool {
        self.tls_cert.is_some() || self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }
}

/// One receiver of events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Short name: in logs, in `switchyard status`, and the key of its deliveries in the store
    /// (renaming a webhook makes it a new one).
    pub name: String,
    /// Where events are POSTed: `https://…` (or `http://…`).
    pub url: String,
    /// The HMAC-SHA256 key of `X-Switchyard-Signature`; a string or `{ env = "VARIABLE" }`.
    pub secret: crate::secret::Secret,
    /// The events it receives; default all of them.
    #[serde(default = "all_events")]
    pub events: Vec<EventKind>,
    /// One POST at most this long, connecting included.
    #[serde(default = "default_webhook_timeout")]
    pub timeout_ms: u64,
    /// Attempts before a delivery is marked failed.
    #[serde(default = "default_webhook_attempts")]
    pub max_attempts: u32,
}

fn all_events() -> Vec<EventKind> {
    EventKind::ALL.to_vec()
}
fn default_webhook_timeout() -> u64 {
    5_000
}
fn default_webhook_attempts() -> u32 {
    8
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookDeliverySettings {
    /// The first retry waits this long, each further one twice as long as the one before.
    pub retry_base_ms: u64,
    /// No wait between two attempts is longer than this.
    pub retry_max_ms: u64,
    /// Due deliveries are looked for at least this often (new events also wake the dispatcher).
    pub poll_ms: u64,
    /// POSTs in flight at once, over all webhooks.
    pub concurrency: usize,
}

impl Default for WebhookDeliverySettings {
    fn default() -> Self {
        Self { retry_base_ms: 1_000, retry_max_ms: 15 * 60 * 1_000, poll_ms: 5_000, concurrency: 4 }
    }
}

/// Our rules for payment plans, applied on top of the CIS's eligibility.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstallmentSettings {
    /// The plans simulated, in instalments (each also limited by the CIS's maximum).
    pub counts: Vec<u32>,
    /// Below this balance (in cents) no plan is offered: it is paid in one go.
    pub min_balance_cents: i64,
    /// No instalment smaller than this (in cents); plans that would need one are left out.
    pub min_instalment_cents: i64,
    /// The first instalment falls due this many days after the simulation.
    pub first_due_days: u32,
}

impl Default for InstallmentSettings {
    fn default() -> Self {
        Self { counts: vec![3, 6, 12], min_balance_cents: 5_000, min_instalment_cents: 1_500, first_due_days: 30 }
    }
}

/// Team addresses by intent: the review note for a held draft goes to the team that handles
/// it, the draft itself stays in the mailbox the customer wrote to.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingSettings {
    /// `billing = "fatture@aurora.example"`; intents not listed stay with the mailbox.
    pub teams: std::collections::BTreeMap<Intent, EmailAddress>,
    /// Customers flagged vulnerable, whatever they write about (overrides `teams`).
    pub vulnerable: Option<EmailAddress>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DraftMode {
    /// The tera templates in templates/replies.
    #[default]
    Template,
    /// The LLM writes the text around named slots; Switchyard fills them. Falls back to the
    /// template when the LLM fails or uses a slot it was not given.
    Llm,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DraftSettings {
    pub mode: DraftMode,
    /// Characters of the customer's text the LLM sees at most.
    pub llm_max_chars: usize,
    /// Upper bound on the reply the LLM writes, in tokens.
    pub llm_max_tokens: u32,
}

impl Default for DraftSettings {
    fn default() -> Self {
        Self { mode: DraftMode::Template, llm_max_chars: 4_000, llm_max_tokens: 900 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// How often the inbox is rescanned even without a file-system event (a backstop).
    pub rescan_interval_ms: u64,
    /// Messages read from the inbox, and taken from the store, per transaction.
    pub batch_size: u32,
    /// Attempts before a message that keeps failing is quarantined, and before an outbox
    /// delivery is given up and marked failed.
    pub max_attempts: u32,
    /// Larger messages are quarantined unread.
    pub max_message_bytes: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            rescan_interval_ms: 2_000,
            batch_size: 128,
            max_attempts: 5,
            max_message_bytes: 25 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    #[default]
    Sqlite,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    pub backend: StoreBackend,
    /// SQLite database file, relative to the data directory.
    pub sqlite_file: PathBuf,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self { backend: StoreBackend::Sqlite, sqlite_file: "switchyard.db".into() }
    }
}

/// The embedded default channel: Maildir folders under the data directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaildirSettings {
    pub enabled: bool,
    pub inbox: PathBuf,
    pub outbox: PathBuf,
    pub drafts: PathBuf,
    /// Review notes for the drafts (why approval is needed, the facts used).
    pub review: PathBuf,
}

impl Default for MaildirSettings {
    fn default() -> Self {
        Self { enabled: true, inbox: "inbox".into(), outbox: "outbox".into(), drafts: "drafts".into(), review: "review".into() }
    }
}

/// One support mailbox: where mail is read (IMAP), sent (SMTP) and drafted (IMAP Drafts).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxSettings {
    /// Short name, used in logs and as the channel `imap:<name>`.
    pub name: String,
    /// The address replies from this mailbox come from.
    pub address: EmailAddress,
    /// Display name on replies; default `brand.from_name`.
    #[serde(default)]
    pub display_name: Option<String>,
    pub imap: ImapSettings,
    pub smtp: SmtpSettings,
    #[serde(default)]
    pub folders: FolderSettings,
    /// For `auth = "xoauth2"`.
    #[serde(default)]
    pub oauth: Option<OAuthSettings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
    /// Plain connection upgraded with STARTTLS before authenticating (IMAP 143, SMTP 587).
    Starttls,
    /// No encryption: refused unless the host is a loopback address.
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    Login,
    Plain,
    Xoauth2,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    #[serde(default = "default_auth")]
    pub auth: AuthMethod,
    /// Not needed with `auth = "xoauth2"`.
    #[serde(default)]
    pub password: Option<crate::secret::Secret>,
    /// Extra CA certificates (PEM) to trust besides the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_inbox")]
    pub folder: String,
    /// Use IDLE when the server offers it; otherwise poll.
    #[serde(default = "yes")]
    pub idle: bool,
    /// Re-issue IDLE this often (RFC 2177 asks for less than 29 minutes).
    #[serde(default = "default_idle_renew")]
    pub idle_renew_seconds: u64,
    /// Polling interval when IDLE is off or unsupported.
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
    /// Also look for new mail this often while in IDLE (0: rely on IDLE alone). Some servers
    /// hold IDLE notifications back (Dovecot by 0.5 s); on a nearby server a check every
    /// 100-250 ms costs next to nothing and bounds the delay. Leave 0 for Gmail and Microsoft 365.
    #[serde(default)]
    pub recheck_ms: u64,
    /// First connection: `new` takes only mail that arrives from now on, `all` backfills the
    /// whole folder.
    #[serde(default)]
    pub initial_sync: InitialSync,
    /// What is done to a message once it is stored: `none`, `seen`, `keyword:<name>` or
    /// `move:<folder>`. Customer mail is never deleted.
    #[serde(default = "default_mark")]
    pub mark: MarkProcessed,
    /// Messages fetched per round trip.
    #[serde(default = "default_fetch_batch")]
    pub fetch_batch: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InitialSync {
    #[default]
    New,
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkProcessed {
    None,
    Seen,
    Keyword(String),
    Move(String),
}

impl<'de> Deserialize<'de> for MarkProcessed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bad = |why: &str| serde::de::Error::custom(format!("`{s}`: {why}; expected none, seen, keyword:<name> or move:<folder>"));
        Ok(match s.split_once(':') {
            None if s == "none" => MarkProcessed::None,
            None if s == "seen" => MarkProcessed::Seen,
            Some(("keyword", k)) if !k.is_empty() && k.chars().all(|c| c.is_ascii_graphic() && !"(){%*\\\"]".contains(c)) => {
                MarkProcessed::Keyword(k.to_string())
            }
            Some(("keyword", _)) => return Err(bad("not a valid IMAP keyword")),
            Some(("move", f)) if !f.is_empty() => MarkProcessed::Move(f.to_string()),
            _ => return Err(bad("unknown marking")),
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// Empty: no authentication (a local relay).
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default = "default_auth")]
    pub auth: AuthMethod,
    #[serde(default)]
    pub password: Option<crate::secret::Secret>,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_smtp_timeout")]
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FolderSettings {
    /// `auto` finds it by SPECIAL-USE or its usual names; `none` means the provider files sent
    /// mail itself (Gmail, Microsoft 365), so no copy is appended.
    pub sent: String,
    /// `auto` finds it by SPECIAL-USE or its usual names.
    pub drafts: String,
    /// Where review notes go (why approval is needed, facts used); created if missing.
    pub review: String,
    /// How often Sent and Drafts are checked for drafts that staff sent or discarded.
    pub check_seconds: u64,
    /// A draft missing from Drafts with no reply in Sent is recorded as discarded after this.
    pub discard_grace_seconds: u64,
}

impl Default for FolderSettings {
    fn default() -> Self {
        Self {
            sent: "auto".into(),
            drafts: "auto".into(),
            review: "Switchyard Review".into(),
            check_seconds: 30,
            discard_grace_seconds: 600,
        }
    }
}

/// OAuth2 for XOAUTH2 (Microsoft 365, Google): a fixed bearer token, or a token endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    /// A bearer token used as is (for tokens managed outside Switchyard).
    #[serde(default)]
    pub token: Option<crate::secret::Secret>,
    /// The token endpoint, e.g. https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token.
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<crate::secret::Secret>,
    /// With a refresh token the refresh-token grant is used, without it client credentials.
    #[serde(default)]
    pub refresh_token: Option<crate::secret::Secret>,
    #[serde(default)]
    pub scope: Option<String>,
}

fn default_auth() -> AuthMethod {
    AuthMethod::Login
}
fn default_inbox() -> String {
    "INBOX".into()
}
fn yes() -> bool {
    true
}
fn default_idle_renew() -> u64 {
    25 * 60
}
fn default_poll() -> u64 {
    60
}
/// Nothing is changed in the customer's mailbox unless asked: Switchyard tracks what it took
/// by UID in its own store.
fn default_mark() -> MarkProcessed {
    MarkProcessed::None
}
fn default_fetch_batch() -> u32 {
    500
}
fn default_smtp_timeout() -> u64 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrandSettings {
    pub company: String,
    /// Display name on replies.
    pub from_name: String,
    /// The support address replies come from (also recognised as our own mail).
    pub from_address: EmailAddress,
    /// Right-hand side of the Message-IDs we generate.
    pub message_id_domain: String,
    pub phone: String,
    pub emergency_phone: String,
    pub public_emergency: String,
    pub website: String,
    /// The bank account customers pay by transfer into; printed in payment replies and
    /// always allowed by the fact-checker. Empty: replies point to the bill instead.
    pub iban: String,
    /// The line above the company name at the end of every reply; empty means the
    /// templates' own ("Customer Care Team" in each language).
    pub sign_off: String,
    /// `formal` (Dear Ms Rossi / Gentile cliente) or `friendly` (Hello Giulia / Ciao Giulia).
    pub tone: Tone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    #[default]
    Formal,
    Friendly,
}

impl Tone {
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Formal => "formal",
            Tone::Friendly => "friendly",
        }
    }
}

impl Default for BrandSettings {
    fn default() -> Self {
        Self {
            company: "Aurora Utilities".into(),
            from_name: "Aurora Utilities".into(),
            from_address: EmailAddress::parse("assistenza@aurora.example").expect("valid"),
            message_id_domain: "switchyard.aurora.example".into(),
            phone: "800 123 456".into(),
            emergency_phone: "800 900 900".into(),
            public_emergency: "112".into(),
            website: "https://www.aurora.example".into(),
            iban: "IT60 X054 2811 1010 0000 0123 456".into(),
            sign_off: String::new(),
            tone: Tone::Formal,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationSettings {
    /// Who is alerted, by e-mail, when an emergency arrives.
    pub notify: Vec<EmailAddress>,
}

impl Default for EscalationSettings {
    fn default() -> Self {
        Self { notify: vec![EmailAddress::parse("pronto-intervento@aurora.example").expect("valid")] }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardSettings {
    /// Automatic replies to one sender within the window; more go to a person (RFC 3834 §2).
    pub max_auto_replies_per_sender: u32,
    pub reply_window_hours: u32,
    /// Further addresses that are ours (mail from them is never answered).
    pub own_addresses: Vec<EmailAddress>,
}

impl Default for GuardSettings {
    fn default() -> Self {
        Self { max_auto_replies_per_sender: 3, reply_window_hours: 24, own_addresses: Vec::new() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifySettings {
    /// `embedded` (the model compiled in), `rules` (the keyword lexicon alone), or the path of
    /// a model file written by `switchyard train`.
    pub model: String,
    /// Body text beyond this many characters is not read by the classifier.
    pub max_chars: usize,
    /// The model's emergency estimate at or above this makes a message an emergency even
    /// without a safety phrase (a safety phrase always does).
    pub emergency_threshold: f32,
    /// Below this probability the model's language is checked against function words.
    pub language_threshold: f32,
    /// When the LLM classifies: `off`, `hybrid` (when the local model's confidence is below
    /// `llm_threshold`) or `always`. Safety emergencies never wait for it.
    pub llm: LlmMode,
    pub llm_threshold: f32,
    /// Characters of the customer's text sent to the LLM at most.
    pub llm_max_chars: usize,
}

impl Default for ClassifySettings {
    fn default() -> Self {
        Self {
            model: "embedded".into(),
            max_chars: 20_000,
            emergency_threshold: 0.35,
            language_threshold: 0.6,
            llm: LlmMode::Off,
            llm_threshold: 0.7,
            llm_max_chars: 6_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmMode {
    Off,
    Hybrid,
    Always,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmProvider {
    /// The OpenAI API or any server that speaks it (vLLM, Ollama, LiteLLM…).
    Openai,
    /// Azure OpenAI: `base_url` is the resource (https://NAME.openai.azure.com), `model` the
    /// deployment.
    Azure,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmSettings {
    pub provider: LlmProvider,
    pub base_url: String,
    /// The model name (OpenAI, vLLM, Ollama) or the deployment (Azure).
    pub model: String,
    /// Without one, `OPENAI_API_KEY` is used when set; local servers need none.
    pub api_key: Option<crate::secret::Secret>,
    pub azure_api_version: String,
    /// One HTTP attempt at most this long.
    pub timeout_ms: u64,
    /// The whole call, retries included, at most this long.
    pub total_timeout_ms: u64,
    /// Retries after a rate limit (429), a server error (5xx) or a failed connection.
    pub retries: usize,
    /// Calls in flight at once.
    pub concurrency: usize,
    /// Prices per million tokens, to count what each message cost.
    pub price_input_per_million: f64,
    pub price_output_per_million: f64,
    pub currency: String,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            provider: LlmProvider::Openai,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key: None,
            azure_api_version: "2024-10-21".into(),
            timeout_ms: 15_000,
            total_timeout_ms: 40_000,
            retries: 2,
            concurrency: 4,
            price_input_per_million: 0.15,
            price_output_per_million: 0.60,
            currency: "USD".into(),
        }
    }
}

impl ClassifySettings {
    pub fn stage(&self) -> crate::pipeline::classify::Settings {
        crate::pipeline::classify::Settings {
            max_chars: self.max_chars,
            emergency_threshold: self.emergency_threshold,
            language_threshold: self.language_threshold,
        }
    }
}

impl LlmSettings {
    /// The key to send: the configured one, else `OPENAI_API_KEY`, else none.
    pub fn key(&self) -> Option<crate::secret::Secret> {
        self.api_key.clone().or_else(|| std::env::var("OPENAI_API_KEY").ok().filter(|k| !k.is_empty()).map(crate::secret::Secret::new))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySettings {
    /// Recorded with every decision, so a decision can be traced to the rules in force.
    pub version: String,
    /// Intents whose reply may be sent without a person.
    pub auto_send_intents: Vec<Intent>,
    /// Urgencies that always go to a person (emergencies are escalated regardless).
    pub approve_urgencies: Vec<Urgency>,
    /// Below this classifier confidence, a person decides.
    pub min_confidence: f64,
    /// Intents that go to a person when the customer is flagged vulnerable.
    pub vulnerable_approval_intents: Vec<Intent>,
    /// A vulnerable customer writing about disconnection (a cut-off notice, suspension for
    /// non-payment) always goes to a person, whatever the intent.
    pub vulnerable_disconnection_approval: bool,
    /// When a fact changed between drafting and sending: `rebuild` redrafts from the new facts
    /// and sends if the new draft passes every check; `approve` always hands it to a person.
    pub on_fact_change: FactChange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FactChange {
    #[default]
    Rebuild,
    Approve,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            version: "default-3".into(),
            auto_send_intents: vec![
                Intent::Billing,
                Intent::Payment,
                // A simulation commits nobody: the plan is opened by a person once the customer
                // accepts one (see ground's plan request and the plan_handover reason).
                Intent::InstallmentPlan,
                Intent::MeterReading,
                Intent::Outage,
                Intent::Assistance,
                Intent::Contract,
                Intent::AccountUpdate,
            ],
            // Low urgency is thanks and information for later: nobody waits for an answer, and
            // a template answering a thank-you reads as a machine talking to itself.
            approve_urgencies: vec![Urgency::Low],
            min_confidence: 0.5,
            vulnerable_approval_intents: vec![
                Intent::Billing,
                Intent::Payment,
                Intent::InstallmentPlan,
                Intent::Complaint,
                Intent::Contract,
            ],
            vulnerable_disconnection_approval: true,
            on_fact_change: FactChange::Rebuild,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FactcheckSettings {
    /// Claims that are always true (extra phone numbers, URLs, e-mail addresses). The brand's
    /// phone numbers, website and address are always allowed.
    pub allowlist: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectorSettings {
    /// Which CIS the worker asks: the built-in demo or the utility's, over HTTP.
    pub cis: ConnectorKind,
    /// Which OMS the worker asks.
    pub oms: ConnectorKind,
    pub demo: DemoSettings,
    /// The utility's CIS over the contract in `openapi/utility-systems.json`.
    pub cis_http: HttpConnectorSettings,
    /// The utility's OMS over the same contract.
    pub oms_http: HttpConnectorSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    #[default]
    Demo,
    Http,
}

/// One system reached over HTTP: where, how it authenticates, how long we wait for it and how
/// long an answer may be reused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConnectorSettings {
    /// The root the contract's paths are appended to, e.g. `https://cis.utility.example/api`.
    pub base_url: Option<String>,
    /// Sent as `Authorization: Bearer <token>`; a string or `{ env = "VARIABLE" }`.
    pub token: Option<crate::secret::Secret>,
    /// Extra CA certificates (PEM) to trust besides the system's (a utility's own CA).
    pub ca_file: Option<PathBuf>,
    /// One HTTP attempt at most this long.
    pub timeout_ms: u64,
    /// The whole call, retries included, at most this long; then the message goes to a person.
    pub total_timeout_ms: u64,
    /// Retries after a failed connection, a timeout, 429 or 5xx; never after other 4xx.
    pub retries: u32,
    /// How long a GET answer is reused (0: never). The check right before a send never uses it.
    pub cache_seconds: u64,
    /// Answers kept at most; the oldest go first.
    pub cache_entries: usize,
}

impl Default for HttpConnectorSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            token: None,
            ca_file: None,
            timeout_ms: 2_000,
            total_timeout_ms: 5_000,
            retries: 2,
            cache_seconds: 30,
            cache_entries: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoSettings {
    /// The demo data's "today" (dates of bills and outages are relative to it);
    /// unset means the real date. Written as `2026-11-20` or `"2026-11-20"`.
    #[serde(deserialize_with = "date_or_string")]
    pub as_of: Option<NaiveDate>,
    /// Total customers in the demo CIS (the named ones plus generated ones).
    pub customers: u32,
}

impl Default for DemoSettings {
    fn default() -> Self {
        Self { as_of: None, customers: 520 }
    }
}

impl Settings {
    /// Loads `path` (or the embedded default when `path` is `None` and the default file is
    /// absent), then applies environment overrides from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let (origin, text) = match path {
            Some(p) => (p.display().to_string(), read(p)?),
            None if Path::new(DEFAULT_PATH).exists() => {
                (DEFAULT_PATH.to_string(), read(Path::new(DEFAULT_PATH))?)
            }
            None => ("embedded default configuration".to_string(), EMBEDDED_DEFAULT.to_string()),
        };
        Self::from_toml(&origin, &text, env)
    }

    pub fn from_toml(
        origin: &str,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::Syntax { origin: origin.to_string(), message: e.to_string() }
        })?;
        let overridden = apply_env(&mut table, env)?;
        let settings: Settings = serde_path_to_error::deserialize(table).map_err(|e| {
            let key = e.path().to_string();
            let origin = overridden
                .iter()
                .find(|(k, _)| key.starts_with(k.as_str()))
                .map(|(_, var)| format!("environment variable {var}"))
                .unwrap_or_else(|| origin.to_string());
            ConfigError::Invalid { origin, key, message: e.into_inner().to_string() }
        })?;
        settings.validate(origin)?;
        Ok(settings)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            origin: origin.to_string(),
            key: key.to_string(),
            message: message.to_string(),
        };
        if !(0.0..=1.0).contains(&self.policy.min_confidence) {
            return Err(invalid("policy.min_confidence", "expected a number from 0.0 to 1.0"));
        }
        if !(0.0..=1.0).contains(&self.classify.emergency_threshold) {
            return Err(invalid("classify.emergency_threshold", "expected a number from 0.0 to 1.0"));
        }
        if !(0.0..=1.0).contains(&self.classify.llm_threshold) {
            return Err(invalid("classify.llm_threshold", "expected a number from 0.0 to 1.0"));
        }
        if self.installments.counts.iter().any(|&n| n < 2) || self.installments.min_instalment_cents < 0 {
            return Err(invalid("installments", "counts must be 2 or more and min_instalment_cents not negative"));
        }
        if self.classify.llm != LlmMode::Off || self.draft.mode == DraftMode::Llm {
            if !self.llm.base_url.starts_with("http://") && !self.llm.base_url.starts_with("https://") {
                return Err(invalid("llm.base_url", "expected an http:// or https:// URL"));
            }
            if self.llm.model.is_empty() {
                return Err(invalid("llm.model", "expected the model (or Azure deployment) name"));
            }
            if self.llm.concurrency == 0 || self.llm.timeout_ms == 0 || self.llm.total_timeout_ms == 0 {
                return Err(invalid("llm", "concurrency, timeout_ms and total_timeout_ms must be at least 1"));
            }
        }
        if self.worker.batch_size == 0 {
            return Err(invalid("worker.batch_size", "expected at least 1"));
        }
        if self.worker.max_attempts == 0 {
            return Err(invalid("worker.max_attempts", "expected at least 1"));
        }
        for (kind, key, http) in [
            (self.connectors.cis, "connectors.cis_http", &self.connectors.cis_http),
            (self.connectors.oms, "connectors.oms_http", &self.connectors.oms_http),
        ] {
            if kind == ConnectorKind::Http {
                http.validate(key).map_err(|(k, message)| invalid(&k, &message))?;
            }
        }
        if self.connectors.demo.customers < 24 {
            return Err(invalid(
                "connectors.demo.customers",
                "expected at least 24 (the named demo customers)",
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, m) in self.mailboxes.iter().enumerate() {
            let key = |k: &str| format!("mailboxes[{i}].{k}");
            if m.name.is_empty() || !m.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(invalid(&key("name"), "expected letters, digits, - or _"));
            }
            if !names.insert(m.name.as_str()) {
                return Err(invalid(&key("name"), "two mailboxes have this name"));
            }
            for (proto, host, security, auth, password) in [
                ("imap", &m.imap.host, m.imap.security, Some(m.imap.auth), m.imap.password.is_some()),
                ("smtp", &m.smtp.host, m.smtp.security, m.smtp.username.as_ref().map(|_| m.smtp.auth), m.smtp.password.is_some()),
            ] {
                if security == Security::Plain && !is_loopback(host) {
                    return Err(invalid(
                        &key(&format!("{proto}.security")),
                        "plain (unencrypted) is only allowed for a loopback host; use tls or starttls",
                    ));
                }
                match auth {
                    Some(AuthMethod::Xoauth2) if m.oauth.is_none() => {
                        return Err(invalid(&key("oauth"), "auth = \"xoauth2\" needs an [oauth] section"));
                    }
                    Some(AuthMethod::Login | AuthMethod::Plain) if !password => {
                        return Err(invalid(&key(&format!("{proto}.password")), "expected a password (or { env = \"VARIABLE\" })"));
                    }
                    _ => {}
                }
            }
            if let Some(o) = &m.oauth {
                if o.token.is_none() && (o.token_url.is_none() || o.client_id.is_none()) {
                    return Err(invalid(&key("oauth"), "expected either token, or token_url and client_id"));
                }
            }
        }
        if self.audit.public_key.as_deref().is_some_and(|k| k.len() != 64 || !k.chars().all(|c| c.is_ascii_hexdigit())) {
            return Err(invalid("audit.public_key", "expected 64 hex digits (`switchyard audit keygen` prints one)"));
        }
        if self.privacy.retention_days > MAX_RETENTION_DAYS {
            return Err(invalid(
                "privacy.retention_days",
                &format!("expected at most {MAX_RETENTION_DAYS} (100 years); 0 keeps messages for ever"),
            ));
        }
        if self.audit.sign_interval_seconds == 0 {
            return Err(invalid("audit.sign_interval_seconds", "expected at least 1"));
        }
        if self.web.tls_cert.is_some() != self.web.tls_key.is_some() {
            return Err(invalid("web.tls_cert", "expected both tls_cert and tls_key (PEM files), or neither"));
        }
        if let Some(url) = &self.web.public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(invalid("web.public_url", "expected an http:// or https:// URL"));
            }
        }
        if self.web.session_idle_minutes == 0 || self.web.session_max_hours == 0 || self.web.login_window_minutes == 0 {
            return Err(invalid("web", "session_idle_minutes, session_max_hours and login_window_minutes must be at least 1"));
        }
        if self.brand.message_id_domain.contains(|c: char| c.is_whitespace() || c == '@') {
            return Err(invalid("brand.message_id_domain", "expected a domain name like mail.example"));
        }
        self.validate_webhooks().map_err(|(key, message)| invalid(&key, &message))
    }

    /// `[[webhooks]]` and `[webhook_delivery]`; on error, the key and what is wrong.
    fn validate_webhooks(&self) -> Result<(), (String, String)> {
        let d = &self.webhook_delivery;
        let key = |k: &str| format!("webhook_delivery.{k}");
        if d.retry_base_ms == 0 || d.poll_ms == 0 || d.concurrency == 0 {
            return Err((key("retry_base_ms"), "retry_base_ms, poll_ms and concurrency must be at least 1".into()));
        }
        if d.retry_max_ms < d.retry_base_ms {
            return Err((key("retry_max_ms"), format!("expected at least retry_base_ms ({})", d.retry_base_ms)));
        }
        let mut names = std::collections::HashSet::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            let key = |k: &str| format!("webhooks[{i}].{k}");
            if w.name.is_empty() || !w.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err((key("name"), "expected letters, digits, - or _".into()));
            }
            if !names.insert(w.name.as_str()) {
                return Err((key("name"), format!("two webhooks are named `{}`", w.name)));
            }
            webhook_url(&w.url).map_err(|message| (key("url"), message))?;
            if w.secret.expose().is_empty() {
                return Err((key("secret"), "expected a secret shared with the receiver (a string or { env = \"VARIABLE\" })".into()));
            }
            if w.events.is_empty() {
                return Err((key("events"), format!("expected at least one of {}; leave the key out for all", event_names())));
            }
            if w.timeout_ms == 0 || w.max_attempts == 0 {
                return Err((key("timeout_ms"), "timeout_ms and max_attempts must be at least 1".into()));
            }
        }
        Ok(())
    }
}

fn event_names() -> String {
    EventKind::ALL.iter().map(|k| format!("`{}`", k.as_str())).collect::<Vec<_>>().join(", ")
}

/// A webhook's URL: absolute, http or https, with a host. The error says what is wrong without
/// repeating the URL, which may carry a token.
pub fn webhook_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e}); expected e.g. https://hooks.example/switchyard"))?;
    match parsed.scheme() {
        "http" | "https" if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(parsed),
        "http" | "https" => Err("expected a URL with a host, e.g. https://hooks.example/switchyard".into()),
        other => Err(format!("expected an http:// or https:// URL, found `{other}:`")),
    }
}

impl HttpConnectorSettings {
    /// Checks the settings of a system chosen as `http`; on error, the key and what is wrong.
    fn validate(&self, section: &str) -> Result<(), (String, String)> {
        let key = |k: &str| format!("{section}.{k}");
        let Some(url) = self.base_url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Err((key("base_url"), "expected the URL of the system, e.g. https://cis.utility.example/api".into()));
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| (key("base_url"), format!("`{url}` is not a URL: {e}")))?;
        match parsed.scheme() {
            "https" => {}
            "http" if parsed.host_str().is_some_and(|h| is_loopback(h.trim_matches(['[', ']']))) => {}
            "http" => {
                return Err((
                    key("base_url"),
                    "plain http is only allowed for a loopback host (it would carry customer data and the token in clear); use https".into(),
                ));
            }
            other => return Err((key("base_url"), format!("expected an http:// or https:// URL, found `{other}:`"))),
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err((key("base_url"), "expected a URL without ?query or #fragment".into()));
        }
        if self.timeout_ms == 0 || self.total_timeout_ms == 0 {
            return Err((key("timeout_ms"), "timeout_ms and total_timeout_ms must be at least 1".into()));
        }
        if self.cache_seconds > 0 && self.cache_entries == 0 {
            return Err((key("cache_entries"), "expected at least 1 when cache_seconds is set (or cache_seconds = 0)".into()));
        }
        Ok(())
    }
}

/// TOML has a native date type, environment variables and JSON habits give strings: accept both.
fn date_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let value = Option::<toml::Value>::deserialize(d)?;
    let text = match value {
        None => return Ok(None),
        Some(toml::Value::String(s)) => s,
        Some(toml::Value::Datetime(dt)) => dt.to_string(),
        Some(other) => {
            return Err(serde::de::Error::custom(format!(
                "expected a date like 2026-11-20, found {}",
                other.type_str()
            )));
        }
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("expected a date like 2026-11-20, found `{text}`")))
}

/// Loopback hosts, where an unencrypted connection never leaves the machine.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })
}

/// Applies `SWITCHYARD__SECTION__KEY=value` variables; returns (dotted key, variable) pairs.
/// Values are read as TOML (`0.7`, `true`, `["billing"]`) and fall back to plain strings.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut applied = Vec::new();
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else { continue };
        let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var,
                message: "expected SWITCHYARD__SECTION__KEY with non-empty parts".into(),
            });
        }
        let value = parse_env_value(&raw);
        let (last, parents) = path.split_last().expect("split yields at least one part");
        let mut cursor = &mut *table;
        for part in parents {
            let entry = cursor
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cursor = entry.as_table_mut().ok_or_else(|| ConfigError::Env {
                var: var.clone(),
                message: format!("`{part}` is a value, not a section"),
            })?;
        }
        cursor.insert(last.clone(), value);
        applied.push((path.join("."), var));
    }
    Ok(applied)
}

fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn embedded_default_is_valid() {
        let s = Settings::from_toml("embedded", EMBEDDED_DEFAULT, no_env()).unwrap();
        assert!(s.policy.auto_send_intents.contains(&Intent::Billing));
    }

    #[test]
    fn the_example_configurations_load() {
        let env = || {
            ["SUPPORT_MAIL_PASSWORD", "GMAIL_CLIENT_SECRET", "GMAIL_REFRESH_TOKEN", "M365_CLIENT_SECRET"]
                .iter()
                .map(|k| (k.to_string(), "x".to_string()))
                .collect::<Vec<_>>()
        };
        // SAFETY: test-only; the variables exist only for the secrets these files name.
        for (k, v) in env() {
            unsafe { std::env::set_var(k, v) };
        }
        for (name, text) in [
            ("imap-smtp", include_str!("../config/examples/imap-smtp.toml")),
            ("gmail", include_str!("../config/examples/gmail.toml")),
            ("microsoft365", include_str!("../config/examples/microsoft365.toml")),
        ] {
            let s = Settings::from_toml(name, text, no_env()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.mailboxes.len(), 1, "{name}");
            assert!(!s.maildir.enabled, "{name}");
        }
        // SAFETY: test-only, like the variables above.
        for var in ["CIS_API_TOKEN", "OMS_API_TOKEN"] {
            unsafe { std::env::set_var(var, "x") };
        }
        let s = Settings::from_toml("http-connectors", include_str!("../config/examples/http-connectors.toml"), no_env())
            .unwrap_or_else(|e| panic!("http-connectors: {e}"));
        assert_eq!((s.connectors.cis, s.connectors.oms), (ConnectorKind::Http, ConnectorKind::Http));
        assert!(s.connectors.cis_http.token.is_some());
        let s = Settings::from_toml("web-queue", include_str!("../config/examples/web-queue.toml"), no_env())
            .unwrap_or_else(|e| panic!("web-queue: {e}"));
        assert!(s.web.enabled && s.web.https());
        let half = "[web]\ntls_cert = \"/etc/cert.pem\"\n";
        let e = Settings::from_toml("t", half, no_env()).unwrap_err().to_string();
        assert!(e.contains("web.tls_cert") && e.contains("tls_key"), "{e}");
    }

    #[test]
    fn plain_text_mail_is_refused_beyond_loopback() {
        let text = r#"
[[mailboxes]]
name = "x"
address = "a@b.example"
[mailboxes.imap]
host = "imap.b.example"
port = 143
security = "plain"
username = "a"
password = "p"
[mailboxes.smtp]
host = "127.0.0.1"
port = 25
security = "plain"
"#;
        let err = Settings::from_toml("f.toml", text, no_env()).unwrap_err().to_string();
        assert!(err.contains("mailboxes[0].imap.security") && err.contains("loopback"), "{err}");
        let no_password = text.replace("password = \"p\"", "").replacen("security = \"plain\"", "security = \"tls\"", 1);
        let err = Settings::from_toml("f.toml", &no_password, no_env()).unwrap_err().to_string();
        assert!(err.contains("mailboxes[0].imap.password"), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Settings::from_toml("f.toml", "[policy]\nmin_confidenc = 0.3\n", no_env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("min_confidenc"), "{err}");
        assert!(err.contains("f.toml"), "{err}");
    }

    #[test]
    fn wrong_type_names_key_and_expectation() {
        let err = Settings::from_toml("f.toml", "[policy]\nmin_confidence = \"high\"\n", no_env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("policy.min_confidence"), "{err}");
        assert!(err.contains("f64") || err.contains("float"), "{err}");
    }

    #[test]
    fn unknown_intent_lists_choices() {
        let err =
            Settings::from_toml("f.toml", "[policy]\nauto_send_intents = [\"bills\"]\n", no_env())
                .unwrap_err()
                .to_string();
        assert!(err.contains("policy.auto_send_intents"), "{err}");
        assert!(err.contains("billing"), "{err}");
    }

    #[test]
    fn env_overrides_file_and_is_named_in_errors() {
        let env = vec![("SWITCHYARD__POLICY__MIN_CONFIDENCE".to_string(), "0.8".to_string())];
        let s = Settings::from_toml("f.toml", "[policy]\nmin_confidence = 0.3\n", env).unwrap();
        assert_eq!(s.policy.min_confidence, 0.8);

        let env = vec![("SWITCHYARD__GUARD__MAX_AUTO_REPLIES_PER_SENDER".into(), "many".into())];
        let err = Settings::from_toml("f.toml", "", env).unwrap_err().to_string();
        assert!(err.contains("SWITCHYARD__GUARD__MAX_AUTO_REPLIES_PER_SENDER"), "{err}");
        assert!(err.contains("guard.max_auto_replies_per_sender"), "{err}");
    }

    #[test]
    fn env_reaches_nested_sections() {
        let env = vec![("SWITCHYARD__CONNECTORS__DEMO__AS_OF".to_string(), "2026-03-01".to_string())];
        let s = Settings::from_toml("f.toml", "", env).unwrap();
        assert_eq!(s.connectors.demo.as_of, NaiveDate::from_ymd_opt(2026, 3, 1));
    }

    #[test]
    fn http_connectors_come_from_nested_env_keys() {
        let env = vec![
            ("SWITCHYARD__CONNECTORS__CIS".to_string(), "http".to_string()),
            ("SWITCHYARD__CONNECTORS__CIS_HTTP__BASE_URL".to_string(), "http://127.0.0.1:8081".to_string()),
            ("SWITCHYARD__CONNECTORS__CIS_HTTP__TIMEOUT_MS".to_string(), "250".to_string()),
            ("SWITCHYARD__CONNECTORS__OMS_HTTP__CACHE_SECONDS".to_string(), "0".to_string()),
        ];
        let s = Settings::from_toml("f.toml", "", env).unwrap();
        let c = &s.connectors;
        assert_eq!((c.cis, c.oms), (ConnectorKind::Http, ConnectorKind::Demo));
        assert_eq!(c.cis_http.base_url.as_deref(), Some("http://127.0.0.1:8081"));
        assert_eq!((c.cis_http.timeout_ms, c.cis_http.total_timeout_ms, c.cis_http.retries), (250, 5_000, 2));
        assert_eq!((c.oms_http.cache_seconds, c.cis_http.cache_seconds, c.cis_http.cache_entries), (0, 30, 10_000));
    }

    #[test]
    fn an_http_connector_needs_a_usable_base_url() {
        let err = |toml: &str| Settings::from_toml("f.toml", toml, no_env()).unwrap_err().to_string();
        let e = err("[connectors]\ncis = \"http\"\n");
        assert!(e.contains("connectors.cis_http.base_url") && e.contains("expected the URL"), "{e}");
        let e = err("[connectors]\noms = \"http\"\n[connectors.oms_http]\nbase_url = \"http://oms.utility.example\"\n");
        assert!(e.contains("connectors.oms_http.base_url") && e.contains("loopback"), "{e}");
        let e = err("[connectors]\noms = \"http\"\n[connectors.oms_http]\nbase_url = \"ftp://x\"\n");
        assert!(e.contains("http:// or https://"), "{e}");
        let e = err("[connectors]\ncis = \"soap\"\n");
        assert!(e.contains("connectors.cis") && e.contains("demo"), "{e}");
        // Settings of a system left on the demo are not checked.
        Settings::from_toml("f.toml", "[connectors.cis_http]\ntimeout_ms = 0\n", no_env()).unwrap();
    }

    const WEBHOOK: &str = "[[webhooks]]\nname = \"crm\"\nurl = \"https://crm.example/hooks\"\nsecret = \"s3cret\"\n";

    #[test]
    fn webhooks_have_defaults_and_a_secret_from_the_environment() {
        let s = Settings::from_toml("f.toml", "", no_env()).unwrap();
        assert!(s.webhooks.is_empty());
        assert_eq!((s.webhook_delivery.retry_base_ms, s.webhook_delivery.concurrency), (1_000, 4));
        let s = Settings::from_toml("f.toml", WEBHOOK, no_env()).unwrap();
        let w = &s.webhooks[0];
        assert_eq!((w.name.as_str(), w.timeout_ms, w.max_attempts), ("crm", 5_000, 8));
        assert_eq!(w.events, EventKind::ALL);
        assert!(!format!("{w:?}").contains("s3cret"), "the secret is never printed");
        // SAFETY: test-only, a variable no other test uses.
        unsafe { std::env::set_var("SWITCHYARD_TEST_WEBHOOK_SECRET", "from-env") };
        let text = WEBHOOK.replace("\"s3cret\"", "{ env = \"SWITCHYARD_TEST_WEBHOOK_SECRET\" }") + "events = [\"reply.sent\"]\n";
        let s = Settings::from_toml("f.toml", &text, no_env()).unwrap();
        assert_eq!(s.webhooks[0].secret.expose(), "from-env");
        assert_eq!(s.webhooks[0].events, [EventKind::ReplySent]);
    }

    #[test]
    fn the_commented_webhook_example_in_the_default_configuration_loads() {
        let example: String = EMBEDDED_DEFAULT
            .lines()
            .skip_while(|l| !l.starts_with("# [[webhooks]]"))
            .take_while(|l| l.starts_with("# "))
            .map(|l| format!("{}\n", &l[2..]))
            .collect();
        assert!(example.contains("max_attempts"), "{example}");
        let example = example.replace("{ env = \"CRM_WEBHOOK_SECRET\" }", "\"x\"");
        let s = Settings::from_toml("example", &format!("{EMBEDDED_DEFAULT}\n{example}"), no_env()).unwrap();
        assert_eq!(s.webhooks[0].events, [EventKind::DraftPending, EventKind::ReplySent]);
    }

    #[test]
    fn bad_webhooks_are_named_with_what_to_write() {
        let err = |extra: &str, base: &str| Settings::from_toml("f.toml", &format!("{base}{extra}"), no_env()).unwrap_err().to_string();
        let e = err("events = [\"message.sent\"]\n", WEBHOOK);
        assert!(e.contains("webhooks[0].events") && e.contains("message.triaged"), "{e}");
        let e = err("events = []\n", WEBHOOK);
        assert!(e.contains("webhooks[0].events") && e.contains("leave the key out"), "{e}");
        let e = err("retries = 3\n", WEBHOOK);
        assert!(e.contains("retries") && e.contains("max_attempts"), "{e}");
        let e = err("", &WEBHOOK.replace("https://crm.example/hooks", "ftp://crm.example/x"));
        assert!(e.contains("webhooks[0].url") && e.contains("http:// or https://"), "{e}");
        let e = err("", &WEBHOOK.replace("https://crm.example/hooks", "crm.example/hooks?token=abc"));
        assert!(e.contains("webhooks[0].url") && !e.contains("token=abc"), "the URL is not repeated: {e}");
        let e = err("", &WEBHOOK.replace("\"s3cret\"", "\"\""));
        assert!(e.contains("webhooks[0].secret"), "{e}");
        let e = err(WEBHOOK, WEBHOOK);
        assert!(e.contains("webhooks[1].name") && e.contains("crm"), "{e}");
        let e = err("max_attempts = 0\n", WEBHOOK);
        assert!(e.contains("webhooks[0]") && e.contains("at least 1"), "{e}");
        let e = err("[webhook_delivery]\nretry_base_ms = 500\nretry_max_ms = 100\n", "");
        assert!(e.contains("webhook_delivery.retry_max_ms"), "{e}");
    }

    #[test]
    fn retention_has_a_finite_default_and_a_sane_maximum() {
        assert_eq!(Settings::from_toml("f.toml", "", no_env()).unwrap().privacy.retention_days, 730);
        assert_eq!(Settings::from_toml("embedded", EMBEDDED_DEFAULT, no_env()).unwrap().privacy.retention_days, 730);
        assert_eq!(Settings::from_toml("f.toml", "[privacy]\nretention_days = 0\n", no_env()).unwrap().privacy.retention_days, 0);
        let e = Settings::from_toml("f.toml", "[privacy]\nretention_days = 365000\n", no_env()).unwrap_err().to_string();
        assert!(e.contains("privacy.retention_days") && e.contains("for ever"), "{e}");
        let e = Settings::from_toml("f.toml", "[privacy]\nretention = 30\n", no_env()).unwrap_err().to_string();
        assert!(e.contains("retention"), "{e}");
        let e = Settings::from_toml("f.toml", "[privacy]\nretention_days = -1\n", no_env()).unwrap_err().to_string();
        assert!(e.contains("privacy.retention_days"), "{e}");
    }

    #[test]
    fn out_of_range_confidence_is_rejected() {
        let err = Settings::from_toml("f.toml", "[policy]\nmin_confidence = 1.5\n", no_env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("policy.min_confidence") && err.contains("0.0 to 1.0"), "{err}");
    }
}

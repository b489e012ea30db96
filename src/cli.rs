//! The command line: `switchyard [--config FILE] [--data-dir DIR] <command>`.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about = "Triage a utility's customer messages: classify, ground, draft, fact-check, decide.")]
pub struct Cli {
    /// Configuration file [default: config/switchyard.toml, else the embedded default]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where all state lives: database, inbox, outbox, drafts
    #[arg(long, global = true, value_name = "DIR", default_value = "var")]
    pub data_dir: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Triage the inbox: keeps watching, or drains it and exits with --once
    Run {
        /// Drain the inbox and the pipeline, then exit
        #[arg(long)]
        once: bool,
        /// One JSON object per processed message instead of a table
        #[arg(long)]
        json: bool,
        /// Do not seed a new inbox with the bundled sample mailbox
        #[arg(long)]
        no_seed: bool,
    },
    /// Train the classifier from labelled messages and write the model file
    Train {
        /// The training split: a directory of *.jsonl files
        #[arg(long, default_value = "data/classifier/train")]
        data: PathBuf,
        /// The development split, scored after training (never trained on)
        #[arg(long, default_value = "data/classifier/dev")]
        dev: PathBuf,
        /// Where the model is written (set classify.model to use another file)
        #[arg(long, default_value = "models/classifier.bin")]
        out: PathBuf,
        /// Leave out the intents and urgencies staff corrected (by default they are learned
        /// from whenever the store in --data-dir holds any)
        #[arg(long)]
        no_corrections: bool,
    },
    /// Score the classifier on a labelled JSON Lines file
    Eval {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Classify one message read from standard input (an .eml file)
    Classify {
        #[arg(long)]
        json: bool,
    },
    /// Record a person's correction of a message's intent or urgency
    Correct {
        /// The message's store id (`store_id` in `run --json`)
        #[arg(long)]
        message: i64,
        #[arg(long)]
        intent: Option<crate::domain::Intent>,
        #[arg(long)]
        urgency: Option<crate::domain::Urgency>,
        /// Who corrects it
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// Check every claim in a draft (standard input) against one customer's live facts;
    /// exits 0 when every claim is verified, 1 otherwise
    Factcheck {
        /// The customer's account number
        #[arg(long)]
        customer: String,
        /// One JSON object: each claim with its kind, text, whether it is verified and the fact it matched
        #[arg(long)]
        json: bool,
        /// Read numbers as in this language (it, es, fr, en) [default: the customer's]
        #[arg(long)]
        lang: Option<crate::domain::Language>,
    },
    /// What the store holds, and what needs a person: failed deliveries and quarantined mail
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List the drafts left for people and what became of them (sent, edited, discarded…)
    Approvals {
        /// One JSON object per draft
        #[arg(long)]
        json: bool,
    },
    /// Serve the demo CIS and OMS over the HTTP contract (openapi/utility-systems.json)
    DemoCis {
        /// Address and port to listen on (port 0: any free port; the address is printed)
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
        /// Require `Authorization: Bearer <token>`, the token read from this variable
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
    },
    /// Staff accounts of the web queue and the API
    User {
        #[command(subcommand)]
        what: UserCommand,
    },
    /// Bearer tokens for the REST API and /metrics
    Token {
        #[command(subcommand)]
        what: TokenCommand,
    },
    /// The audit trail: verify it, sign its head, make a signing key
    Audit {
        #[command(subcommand)]
        what: AuditCommand,
    },
    /// Personal data: the retention purge, erasure requests and access requests
    Privacy {
        #[command(subcommand)]
        what: PrivacyCommand,
    },
    /// Consents per channel and purpose (service, assistance_info), respected by every
    /// outbound path
    Consent {
        #[command(subcommand)]
        what: ConsentCommand,
    },
    /// Benchmarks that print figures
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Checks every entry and signed head; exits 0 when the trail is intact, 1 otherwise,
    /// naming the first bad entry
    Verify {
        /// The public key to check signatures against (hex) [default: audit.public_key, else
        /// the signing key's own; with --export, else the key the manifest names]
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
        /// Check an export directory (from `audit export`) offline, without the database
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
        /// One JSON object: `intact`, and the report with every problem found
        #[arg(long)]
        json: bool,
    },
    /// Writes the entries of a period, or the whole stories of the messages the filters
    /// select, with a signed manifest that `audit verify --export` checks offline
    Export {
        /// First day (UTC) or RFC 3339 time, inclusive
        #[arg(long, value_name = "DATE")]
        from: String,
        /// Last day (UTC, all of it) or RFC 3339 time, inclusive
        #[arg(long, value_name = "DATE")]
        to: String,
        #[arg(long, value_enum)]
        format: crate::audit::format::Format,
        /// A new or empty directory [default: <data dir>/exports/audit-<time>]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The messages of this customer (account number)
        #[arg(long, value_name = "ACCOUNT")]
        customer: Option<String>,
        /// The messages from this address
        #[arg(long, value_name = "ADDRESS")]
        email: Option<String>,
        /// The messages of this channel (e.g. maildir:inbox)
        #[arg(long, value_name = "CHANNEL")]
        mailbox: Option<String>,
        /// The messages classified with this intent
        #[arg(long)]
        intent: Option<crate::domain::Intent>,
        /// The messages decided this way (auto_send, approve, escalate, ignore, quarantine)
        #[arg(long, value_parser = parse_decision)]
        decision: Option<crate::domain::Decision>,
        /// Only the entries of this actor (a user name, or `switchyard`)
        #[arg(long, value_name = "NAME")]
        actor: Option<String>,
        /// Print the manifest as JSON instead of a summary
        #[arg(long)]
        json: bool,
    },
    /// An HTML page telling the whole story of one message and its customer's conversation,
    /// with the chain checked for its entries
    Report {
        /// The message's store id
        #[arg(long)]
        message: i64,
        /// Write the page here instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The public key to check the signed head against (hex) [default: audit.public_key,
        /// else the signing key's own]
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// Signs the chain head now (the worker also does it every audit.sign_interval_seconds)
    Sign,
    /// Prints a new signing key (64 hex digits) on stdout and its public key on stderr
    Keygen,
}

fn parse_decision(s: &str) -> Result<crate::domain::Decision, String> {
    crate::domain::Decision::parse(s).ok_or_else(|| format!("`{s}` is not a decision: use auto_send, approve, escalate, ignore or quarantine"))
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (first line) or --password-env
    Add {
        name: crate::domain::Username,
        /// agent, supervisor, compliance or admin
        #[arg(long)]
        role: crate::domain::Role,
        /// Read the password from this environment variable instead of standard input
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// List users, their roles and whether they are disabled
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a new password (standard input or --password-env); ends the user's sessions
    Passwd {
        name: crate::domain::Username,
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// Change a user's role; ends their sessions
    Role {
        name: crate::domain::Username,
        role: crate::domain::Role,
    },
    /// Stop a user from signing in or using tokens; ends their sessions
    Disable { name: crate::domain::Username },
    Enable { name: crate::domain::Username },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token for a user; it is printed once and stored only as a hash
    Add {
        /// The user the token acts as (with that user's role)
        #[arg(long)]
        user: crate::domain::Username,
        /// A name to tell tokens apart (e.g. crm, prometheus)
        #[arg(long)]
        name: String,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Revoke {
        #[arg(long)]
        user: crate::domain::Username,
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Throughput and peak memory of `run --once` over generated mail (embedded default)
    Pipeline {
        /// How many messages to generate
        #[arg(long, default_value_t = 10_000)]
        messages: usize,
        /// How many runs, each on a fresh data directory; the median is printed
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Keep the data directory afterwards (it is printed)
        #[arg(long)]
        keep: bool,
        /// Print the figures as JSON
        #[arg(long)]
        json: bool,
    },
    /// Local classification throughput on one thread (the development split, cycled)
    Classify {
        #[arg(long, default_value_t = 100_000)]
        messages: usize,
        #[arg(long, default_value = "data/classifier/dev")]
        dev: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Fact-checking throughput on one thread: drafts written from the reply templates for
    /// the demo customers in it, es, fr and en, cycled
    Factcheck {
        /// How many drafts to check
        #[arg(long, default_value_t = 200_000)]
        drafts: usize,
        /// Check every draft written, not only those with 10 to 30 claims
        #[arg(long)]
        all: bool,
        /// Print the figures as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Audit trail throughput: entries per second for verify (database), export (JSON Lines
    /// and CSV) and verify --export, on a temporary database of generated entries
    Audit {
        #[arg(long, default_value_t = 200_000)]
        entries: usize,
        /// Keep the data directory afterwards (it is printed): `--data-dir` it to run the
        /// audit commands on the generated trail
        #[arg(long)]
        keep: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delivery-to-reply latency through a running mail stack (see scripts/bench-mail)
    Latency {
        /// The directory of a stack started with scripts/mail-stack.sh
        #[arg(long)]
        stack: PathBuf,
        #[arg(long, default_value_t = 200)]
        messages: usize,
        /// Messages submitted per second
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// imap.recheck_ms for the worker (0: IDLE alone)
        #[arg(long, default_value_t = 0)]
        recheck_ms: u64,
        #[arg(long)]
        json: bool,
    },
    /// Backfill of a large mailbox beside a plain UID FETCH of it (see scripts/bench-mail)
    Backfill {
        #[arg(long)]
        stack: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        messages: usize,
        #[arg(long)]
        json: bool,
    },
}

/// Whom a privacy or consent command is about: exactly one of the two.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Who {
    /// The customer's account number (their messages, wherever they wrote from)
    #[arg(long, value_name = "ACCOUNT")]
    pub customer: Option<String>,
    /// An e-mail address (the messages from it, identified or not)
    #[arg(long, value_name = "ADDRESS")]
    pub email: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// Removes the bodies and personal data of messages older than privacy.retention_days
    /// (the worker also does it at start and once a day); decisions' codes and the audit
    /// trail stay
    Purge {
        /// Purge up to this date (YYYY-MM-DD, midnight UTC, or RFC 3339) instead of the
        /// retention period
        #[arg(long, value_name = "DATE")]
        before: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Erases everything of one customer (GDPR Art. 17): their messages' texts and personal
    /// data, their consents and pseudonym keys, their Maildir files
    Erase {
        #[command(flatten)]
        who: Who,
        /// Why (the request and its reference); the trail keeps only its hash
        #[arg(long)]
        reason: String,
        /// Who carries out the erasure
        #[arg(long, default_value = "cli")]
        by: String,
        #[arg(long)]
        json: bool,
    },
    /// Prints everything held about one customer as one JSON document (GDPR Art. 15)
    Export {
        #[command(flatten)]
        who: Who,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Records a consent given (--opt-in) or withdrawn (--opt-out); the latest record per
    /// customer, channel and purpose holds
    #[command(group(ArgGroup::new("choice").required(true).args(["opt_in", "opt_out"])))]
    Record {
        #[command(flatten)]
        who: Who,
        /// email or whatsapp
        #[arg(long)]
        channel: crate::privacy::Channel,
        /// service (answers to their own messages) or assistance_info (the paragraph about
        /// support programmes in replies)
        #[arg(long)]
        purpose: crate::privacy::Purpose,
        #[arg(long)]
        opt_in: bool,
        #[arg(long)]
        opt_out: bool,
        /// How it was given: "phone call", "web form", "letter of 2026-11-20"…
        #[arg(long)]
        source: String,
        /// Who records it
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// Lists a customer's consent records, newest first, marking those that hold
    List {
        #[command(flatten)]
        who: Who,
        #[arg(long)]
        json: bool,
    },
}

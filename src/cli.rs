//! The command line: `switchyard [--config FILE] [--data-dir DIR] <command>`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    /// Benchmarks that print figures
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
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

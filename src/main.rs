//! Thin entry point: command line → telemetry → app.

use std::process::ExitCode;

use clap::Parser;
use switchyard::cli::{BenchCommand, Cli, Command};
use switchyard::config::Settings;
use switchyard::{accounts, app, audit_cli, bench, commands, privacy_cli, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    switchyard::channels::tls::install_crypto_provider();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("switchyard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One thread: the work is sequential and SQLite has one writer; blocking work (SQLite, files)
/// runs on its own threads.
fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(f)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = || Settings::load(cli.config.as_deref(), std::env::vars());
    match cli.command {
        Command::Run { once, json, no_seed } => {
            let settings = settings()?;
            let options = app::RunOptions { once, json, seed: !no_seed };
            let summary = block_on(app::run(settings, &cli.data_dir, options))?;
            let incomplete = summary.stats.failed > 0 || summary.source_failures > 0;
            Ok(if incomplete && once { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        Command::Status { json } => {
            block_on(commands::status(&settings()?, &cli.data_dir, json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Approvals { json } => {
            block_on(commands::list_approvals(&settings()?, &cli.data_dir, json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Train { data, dev, out, no_corrections } => {
            let options = commands::TrainOptions { data, dev: Some(dev), out, corrections: !no_corrections };
            block_on(commands::train(&settings()?, &cli.data_dir, &options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval { file, json } => {
            block_on(commands::eval(&settings()?, &file, json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Classify { json } => {
            block_on(commands::classify(&settings()?, json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Factcheck { customer, json, lang } => {
            let options = commands::FactcheckOptions { customer, json, language: lang };
            // The contract: 0 when every claim is verified, 1 otherwise (errors included).
            let verified = block_on(commands::factcheck(&settings()?, &options))?;
            Ok(if verified { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Correct { message, intent, urgency, by } => {
            let correction = switchyard::store::Correction { message, intent, urgency, by };
            block_on(commands::correct(&settings()?, &cli.data_dir, &correction))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::DemoCis { listen, token_env } => {
            block_on(commands::demo_cis(&settings()?, listen, token_env.as_deref()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { what } => {
            // The contract: 0 when the trail is intact, non-zero otherwise (errors included).
            let intact = block_on(audit_cli::run(&settings()?, &cli.data_dir, what))?;
            Ok(if intact { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Privacy { what } => {
            block_on(privacy_cli::privacy(&settings()?, &cli.data_dir, what))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Consent { what } => {
            block_on(privacy_cli::consent(&settings()?, &cli.data_dir, what))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User { what } => {
            block_on(accounts::user(&settings()?, &cli.data_dir, what))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { what } => {
            block_on(accounts::token(&settings()?, &cli.data_dir, what))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { what } => {
            match what {
                BenchCommand::Pipeline { messages, runs, keep, json } => {
                    settings()?;
                    bench::run(&bench::Options { messages, runs, keep, json, config: cli.config.clone() })?;
                }
                BenchCommand::Classify { messages, dev, json } => {
                    commands::bench_classify(&settings()?, &dev, messages, json)?;
                }
                BenchCommand::Factcheck { drafts, all, json } => {
                    block_on(commands::bench_factcheck(&settings()?, drafts, all, json))?;
                }
                BenchCommand::Audit { entries, keep, json } => {
                    block_on(bench::audit::run(&bench::audit::Options { entries, keep, json }))?;
                }
                BenchCommand::Latency { stack, messages, rate, recheck_ms, json } => {
                    bench::mail::latency(&bench::mail::LatencyOptions { stack, messages, rate, recheck_ms, json })?;
                }
                BenchCommand::Backfill { stack, messages, json } => {
                    block_on(bench::mail::backfill(&bench::mail::BackfillOptions { stack, messages, json }))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

//! Thin entry point: command line → telemetry → app.

use std::process::ExitCode;

use clap::Parser;
use switchyard::cli::{BenchCommand, Cli, Command};
use switchyard::config::Settings;
use switchyard::{app, bench, telemetry};

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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = || Settings::load(cli.config.as_deref(), std::env::vars());
    match cli.command {
        Command::Run { once, json, no_seed } => {
            let settings = settings()?;
            // One thread: the pipeline is sequential and SQLite has one writer, so more threads
            // only add hand-offs. Blocking work (SQLite, file I/O) runs on its own threads.
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let options = app::RunOptions { once, json, seed: !no_seed };
            let summary = runtime.block_on(app::run(settings, &cli.data_dir, options))?;
            let incomplete = summary.stats.failed > 0 || summary.source_failures > 0;
            Ok(if incomplete && once { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        Command::Status { json } => {
            let settings = settings()?;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(app::status(&settings, &cli.data_dir, json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Approvals { json } => {
            let settings = settings()?;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(app::list_approvals(&settings, &cli.data_dir, json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { what } => {
            match what {
                BenchCommand::Pipeline { messages, runs, keep, json } => {
                    settings()?;
                    bench::run(&bench::Options { messages, runs, keep, json, config: cli.config.clone() })?;
                }
                BenchCommand::Latency { stack, messages, rate, recheck_ms, json } => {
                    bench::mail::latency(&bench::mail::LatencyOptions { stack, messages, rate, recheck_ms, json })?;
                }
                BenchCommand::Backfill { stack, messages, json } => {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                    runtime.block_on(bench::mail::backfill(&bench::mail::BackfillOptions { stack, messages, json }))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

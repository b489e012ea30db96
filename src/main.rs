//! Thin entry point: command line → telemetry → app.

use std::process::ExitCode;

use clap::Parser;
use switchyard::cli::{Cli, Command};
use switchyard::config::Settings;
use switchyard::{app, bench, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
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
            let stats = runtime.block_on(app::run(settings, &cli.data_dir, options))?;
            Ok(if stats.failed > 0 && once { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        Command::Bench { messages, runs, keep, json } => {
            settings()?;
            bench::run(&bench::Options { messages, runs, keep, json, config: cli.config.clone() })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

//! Logging: structured `tracing` events on stderr. The level comes from SWITCHYARD_LOG (or
//! RUST_LOG), default `info`. Message bodies and personal data are only logged at `debug`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = std::env::var("SWITCHYARD_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

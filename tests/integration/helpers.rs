//! Shared helpers: a fresh data directory per test and a way to run the binary against it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The demo data's "today" in every test, so outcomes do not depend on the calendar.
pub const AS_OF: &str = "2026-11-20";

/// A data directory removed when the test ends (kept when it fails, for inspection).
pub struct TestDir {
    pub path: PathBuf,
}

impl TestDir {
    pub fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "switchyard-it-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test dir");
        Self { path }
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
        cmd.arg("--data-dir")
            .arg(&self.path)
            .env("SWITCHYARD__CONNECTORS__DEMO__AS_OF", AS_OF)
            .env("SWITCHYARD_LOG", "warn")
            .env_remove("SWITCHYARD_CRASHPOINT")
            // Tests run from the crate root, where config/switchyard.toml is the embedded one.
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        cmd
    }

    /// `run --once --json [extra]`, returning the parsed JSON lines and the raw output.
    pub fn run_once(&self, extra: &[&str]) -> (Vec<serde_json::Value>, Output) {
        let out = self.command().args(["run", "--once", "--json"]).args(extra).output().expect("run switchyard");
        let lines = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        (lines, out)
    }

    /// Files in a Maildir folder's new/ and cur/, by name.
    pub fn maildir_files(&self, folder: &str) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for sub in ["new", "cur"] {
            let dir = self.path.join(folder).join(sub);
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                out.insert(e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("read"));
            }
        }
        out
    }

    pub fn db(&self) -> PathBuf {
        self.path.join("switchyard.db")
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            eprintln!("test data kept in {}", self.path.display());
        }
    }
}

/// One header's value (unfolded) from a raw message.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let head = text.split("\n\n").next().unwrap_or_default();
    let mut value: Option<String> = None;
    for line in head.split('\n') {
        match &mut value {
            Some(v) if line.starts_with([' ', '\t']) => v.push_str(line),
            Some(_) => break,
            None => {
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case(name) {
                        value = Some(v.trim().to_string());
                    }
                }
            }
        }
    }
    value
}

/// Rows of a query over the test database, as strings.
pub fn query(db: &Path, sql: &'static str) -> Vec<Vec<Option<String>>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        use sqlx::{Connection, Row};
        let url = format!("sqlite://{}?mode=ro", db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open db");
        let rows = sqlx::query(sql).fetch_all(&mut conn).await.expect("query");
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.try_get::<Option<String>, _>(i).unwrap_or_else(|_| r.try_get::<Option<i64>, _>(i).ok().flatten().map(|n| n.to_string()))).collect())
            .collect()
    })
}

pub fn count(db: &Path, sql: &'static str) -> i64 {
    query(db, sql)[0][0].as_deref().unwrap_or("0").parse().expect("a count")
}

pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/mailbox")
}

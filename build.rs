//! Embeds the reply templates, the SQL migrations and the sample mailbox in the binary, so
//! `switchyard` runs from any directory with nothing beside it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut out = String::new();
    embed(&mut out, "TEMPLATES", &root, "templates", &["txt", "html"], true);
    embed(&mut out, "SQLITE_MIGRATIONS", &root, "migrations/sqlite", &["sql"], false);
    embed(&mut out, "SAMPLE_MAILBOX", &root, "samples/mailbox", &["eml"], false);
    // The trained classifier; absent only before the first `switchyard train`.
    let model = root.join("models/classifier.bin");
    println!("cargo:rerun-if-changed={}", model.display());
    if model.exists() {
        writeln!(out, "pub static CLASSIFIER_MODEL: &[u8] = include_bytes!({:?});", model.display().to_string()).unwrap();
    } else {
        writeln!(out, "pub static CLASSIFIER_MODEL: &[u8] = &[];").unwrap();
    }
    let dest = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded.rs");
    fs::write(dest, out).expect("write embedded.rs");
}

/// Writes `pub static NAME: &[(&str, &[u8])]` of (relative path, contents), sorted by path.
fn embed(out: &mut String, name: &str, root: &Path, dir: &str, exts: &[&str], recursive: bool) {
    let base = root.join(dir);
    println!("cargo:rerun-if-changed={}", base.display());
    let mut files = Vec::new();
    collect(&base, recursive, exts, &mut files);
    files.sort();
    writeln!(out, "pub static {name}: &[(&str, &[u8])] = &[").unwrap();
    for path in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let rel = path.strip_prefix(&base).expect("under base").to_string_lossy().replace('\\', "/");
        writeln!(out, "    ({rel:?}, include_bytes!({:?})),", path.display().to_string()).unwrap();
    }
    writeln!(out, "];").unwrap();
}

fn collect(dir: &Path, recursive: bool, exts: &[&str], files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if recursive {
                println!("cargo:rerun-if-changed={}", path.display());
                collect(&path, recursive, exts, files);
            }
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.contains(&e)) {
            files.push(path);
        }
    }
}

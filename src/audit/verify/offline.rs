//! Offline verification of an export directory (`audit verify --export`): the manifest's
//! signature, the data file's digest, and every entry through the same [`Walk`] the database
//! check uses, set up from the manifest's starting point.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use super::{Walk, check_signatures, short};
use crate::audit::Entry;
use crate::audit::format::{EntryReader, Format};
use crate::audit::manifest::{self, FileDigest, Manifest};
use crate::audit::sign::Head;

/// Something wrong in an export: in which file, at which line and entry when it is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportProblem {
    pub file: String,
    pub line: Option<u64>,
    pub seq: Option<i64>,
    pub what: String,
}

impl std::fmt::Display for ExportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.seq, self.line) {
            (Some(seq), Some(line)) => write!(f, "first bad entry {seq} ({} line {line}): {}", self.file, self.what),
            (Some(seq), None) => write!(f, "first bad entry {seq} ({}): {}", self.file, self.what),
            (None, Some(line)) => write!(f, "{} line {line}: {}", self.file, self.what),
            (None, None) => write!(f, "{}: {}", self.file, self.what),
        }
    }
}

/// What `audit verify --export` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportReport {
    pub dir: String,
    pub public_key: String,
    /// The key came from the manifest itself: the check proves integrity, not origin.
    pub key_from_export: bool,
    pub format: String,
    pub entries: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub contiguous: bool,
    /// Signed heads in the manifest, and how many of them were matched to an exported entry.
    pub heads: usize,
    pub heads_matched: usize,
    /// Exported entries after the last head within the export: pinned by the manifest's
    /// signature only (and, through the database, by the head after the export).
    pub unsigned_tail: u64,
    /// The first head after the export, when the manifest carries one.
    pub head_after: Option<Head>,
    pub problems: Vec<ExportProblem>,
}

impl ExportReport {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, file: &str, line: Option<u64>, seq: Option<i64>, what: String) {
        self.problems.push(ExportProblem { file: file.to_string(), line, seq, what });
    }
}

/// Verifies an export directory offline against `public_key` (hex), or against the key the
/// manifest names when none is given (which proves integrity only: whoever rewrote the export
/// could have signed it with a key of their own).
pub fn export(dir: &Path, public_key: Option<&str>) -> ExportReport {
    let mut report = ExportReport { dir: dir.display().to_string(), ..ExportReport::default() };
    let text = match std::fs::read_to_string(dir.join(manifest::FILE)) {
        Ok(t) => t,
        Err(e) => {
            report.problem(manifest::FILE, None, None, format!("cannot read it ({e}): is {} an export directory?", dir.display()));
            return report;
        }
    };
    let (m, value) = match Manifest::parse(&text) {
        Ok(parsed) => parsed,
        Err(e) => {
            report.problem(manifest::FILE, None, None, e.to_string());
            return report;
        }
    };
    report.key_from_export = public_key.is_none();
    report.public_key = public_key.unwrap_or(&m.public_key).to_string();
    check_manifest_signature(&mut report, &m, &value);
    check_data_file(&mut report, dir, &m);
    if let Some(p) = check_signatures(&m.heads, &report.public_key) {
        report.problem(manifest::FILE, None, Some(p.seq), p.what);
    }
    report
}

fn check_manifest_signature(report: &mut ExportReport, m: &Manifest, value: &serde_json::Value) {
    if manifest::signature_valid(value, &report.public_key) {
        return;
    }
    let what = if m.public_key != report.public_key && manifest::signature_valid(value, &m.public_key) {
        format!(
            "it is signed with another key ({}…), not the audit key {}…: it was made or re-made by someone else",
            short(&m.public_key),
            short(&report.public_key)
        )
    } else {
        "its signature does not verify: a field was changed after it was signed".to_string()
    };
    report.problem(manifest::FILE, None, None, what);
}

/// The data file: its digest against the manifest's, and every entry walked.
fn check_data_file(report: &mut ExportReport, dir: &Path, m: &Manifest) {
    let Some(format) = Format::parse(&m.format) else {
        report.problem(manifest::FILE, None, None, format!("its format `{}` is neither jsonl nor csv", m.format));
        return;
    };
    let name = format.file_name();
    report.format = format.as_str().to_string();
    let Some(expected) = m.files.get(name) else {
        report.problem(manifest::FILE, None, None, format!("it lists no {name}, the file its format names"));
        return;
    };
    let digest = match walk_export(report, &dir.join(name), format, m) {
        Ok(d) => d,
        Err(e) => {
            report.problem(name, None, None, format!("cannot read it: {e}"));
            return;
        }
    };
    if digest != *expected {
        let what = format!(
            "its SHA-256 is {} ({} bytes), the manifest says {} ({} bytes): the file was changed after the export",
            digest.sha256, digest.bytes, expected.sha256, expected.bytes
        );
        report.problem(name, None, None, what);
    }
}

/// Feeds every entry of the data file to a [`Walk`] set up from the manifest; returns the
/// file's digest.
fn walk_export(
    report: &mut ExportReport,
    path: &Path,
    format: Format,
    m: &Manifest,
) -> std::io::Result<FileDigest> {
    let name = format.file_name();
    let within: Vec<Head> = m.heads.iter().filter(|h| m.last_seq.is_some_and(|l| h.seq <= l)).cloned().collect();
    let mut walk = match (m.first_seq, &m.start_hash) {
        (Some(first), Some(start)) => Walk::starting_after(first - 1, start, &within),
        _ => Walk::new(&within),
    };
    if !m.contiguous {
        walk = walk.sparse();
    }
    let mut reader = EntryReader::open(path, format)?;
    let mut seen = Seen::new(&within);
    let read = reader.header().and_then(|()| {
        while let Some((line, e)) = reader.next_entry()? {
            seen.entry(&e, line);
            walk.entry(&e);
            if seen.problem_line.is_none() && walk.problem().is_some() {
                seen.problem_line = Some(line);
            }
        }
        Ok(())
    });
    if let Err(e) = read {
        report.problem(name, None, None, e.to_string());
    }
    let digest = reader.finish()?;
    let problem_line = seen.problem_line;
    let walked = walk.finish(within.len());
    if let Some(p) = walked.problem {
        report.problem(name, problem_line, Some(p.seq), p.what);
    }
    seen.report(report, m, name);
    Ok(digest)
}

/// What the data file held, to compare with what the manifest says it holds.
#[derive(Default)]
struct Seen {
    /// The signed heads within the export, by seq, and the last one's seq.
    heads: HashMap<i64, String>,
    last_head: Option<i64>,
    count: u64,
    after_last_head: u64,
    first: Option<(u64, i64)>,
    last: Option<(i64, String)>,
    heads_matched: usize,
    problem_line: Option<u64>,
}

impl Seen {
    fn new(heads: &[Head]) -> Self {
        Self {
            heads: heads.iter().map(|h| (h.seq, h.hash.clone())).collect(),
            last_head: heads.iter().map(|h| h.seq).max(),
            ..Self::default()
        }
    }

    fn entry(&mut self, e: &Entry, line: u64) {
        self.count += 1;
        self.after_last_head += u64::from(self.last_head.is_none_or(|h| e.seq > h));
        self.first.get_or_insert((line, e.seq));
        match &mut self.last {
            Some((seq, hash)) => {
                *seq = e.seq;
                hash.clone_from(&e.hash);
            }
            None => self.last = Some((e.seq, e.hash.clone())),
        }
        if self.problem_line.is_none() && self.heads.get(&e.seq) == Some(&e.hash) {
            self.heads_matched += 1;
        }
    }

    fn report(self, report: &mut ExportReport, m: &Manifest, name: &str) {
        report.entries = self.count;
        report.first_seq = self.first.map(|f| f.1);
        report.last_seq = self.last.as_ref().map(|l| l.0);
        report.contiguous = m.contiguous;
        report.heads = m.heads.len();
        report.heads_matched = self.heads_matched;
        report.unsigned_tail = self.after_last_head;
        report.head_after = m.heads.iter().find(|h| m.last_seq.is_some_and(|l| h.seq > l)).cloned();
        // A contiguous walk names a missing first entry itself; a sparse one cannot tell.
        if let (Some(expected), Some((line, seq)), false) = (m.first_seq, self.first, m.contiguous)
            && seq != expected
        {
            let what = format!("entry {expected}, the first the manifest names, is not the first in the file (it starts at {seq})");
            report.problem(name, Some(line), Some(expected), what);
        }
        if self.count != m.count {
            report.problem(name, None, None, format!("it holds {} entries, the manifest says {}: lines were removed or added", self.count, m.count));
        }
        let last = self.last.as_ref().map(|l| l.0);
        if last != m.last_seq {
            let number = |n: Option<i64>| n.map_or(String::from("none"), |l| l.to_string());
            let how = if last < m.last_seq { "entries were cut off the end" } else { "entries were added at the end" };
            let what = format!("the last entry is {}, the manifest says {}: {how}", number(last), number(m.last_seq));
            report.problem(name, None, m.last_seq, what);
        } else if self.last.map(|l| l.1) != m.end_hash {
            report.problem(name, None, m.last_seq, "the last entry's hash is not the one the manifest ends with".into());
        }
    }
}

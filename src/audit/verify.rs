//! Verification of the trail: every entry's hash recomputed, every link to the entry before
//! checked, no gap in the sequence, and every signed head matched to its entry with a valid
//! signature. The first inconsistency is named by the earliest entry it implicates. The same
//! walk runs over the database ([`database`]) and, offline, over an export ([`export`]).

use std::collections::HashMap;

use serde::Serialize;
use sqlx::SqliteConnection;

use super::sign::{self, Head};
use super::{Entry, GENESIS, Pages};
use crate::store::StoreError;

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The earliest entry implicated.
    pub seq: i64,
    pub what: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub entries: u64,
    pub last_seq: i64,
    pub last_hash: String,
    pub signed_heads: usize,
    /// Entries after the last signed head: protected by the chain alone until the next head.
    pub unsigned_tail: i64,
    pub problem: Option<Problem>,
}

impl Report {
    pub fn intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// Walks entries in sequence order and finds the first inconsistency. Feed it every entry,
/// then call [`Walk::finish`].
pub struct Walk {
    expected_seq: i64,
    prev_hash: String,
    /// False after a gap a sparse walk allows: the entry before is not at hand to link to.
    linked: bool,
    /// A filtered export holds some entries only: gaps are expected, links checked where
    /// neighbours are both present.
    sparse: bool,
    entries: u64,
    problem: Option<Problem>,
    heads: HashMap<i64, Head>,
}

impl Walk {
    pub fn new(heads: &[Head]) -> Self {
        Self {
            expected_seq: 1,
            prev_hash: GENESIS.to_string(),
            linked: true,
            sparse: false,
            entries: 0,
            problem: None,
            heads: heads.iter().map(|h| (h.seq, h.clone())).collect(),
        }
    }

    /// Starting after an entry other than the genesis (an export that begins mid-chain).
    pub fn starting_after(seq: i64, hash: &str, heads: &[Head]) -> Self {
        Self { expected_seq: seq + 1, prev_hash: hash.to_string(), ..Self::new(heads) }
    }

    /// Allows gaps (a filtered export): each entry is still re-hashed and matched to its
    /// signed head, and linked to the one before whenever that one is present.
    pub fn sparse(mut self) -> Self {
        self.sparse = true;
        self
    }

    /// The first problem found so far.
    pub fn problem(&self) -> Option<&Problem> {
        self.problem.as_ref()
    }

    fn found(&mut self, seq: i64, what: String) {
        if self.problem.as_ref().is_none_or(|p| seq < p.seq) {
            self.problem = Some(Problem { seq, what });
        }
    }

    pub fn entry(&mut self, e: &Entry) {
        self.entries += 1;
        if self.problem.is_some() {
            return;
        }
        if e.seq > self.expected_seq && self.sparse {
            self.expected_seq = e.seq;
            self.linked = false;
        }
        if e.seq > self.expected_seq {
            let what = if e.seq == self.expected_seq + 1 {
                format!("entry {} is missing: the entry after {} is {} (deleted)", self.expected_seq, self.expected_seq - 1, e.seq)
            } else {
                format!("entries {} to {} are missing (deleted)", self.expected_seq, e.seq - 1)
            };
            self.found(self.expected_seq, what);
            return;
        }
        if e.seq < self.expected_seq {
            self.found(e.seq, format!("entry {} appears again after entry {} (duplicated or reordered)", e.seq, self.expected_seq - 1));
            return;
        }
        if e.compute_hash() != e.hash {
            let (seq, what) = changed(e);
            self.found(seq, what);
            return;
        }
        if self.linked && e.prev_hash != self.prev_hash {
            let before = e.seq - 1;
            let what = format!(
                "the chain breaks before entry {}: entry {before} was changed and re-hashed, inserted or moved (entry {} does not point to it)",
                e.seq, e.seq
            );
            self.found(before.max(1), what);
            return;
        }
        if let Some(h) = self.heads.get(&e.seq) {
            if h.hash != e.hash {
                self.found(e.seq, format!("entry {} is not the entry signed at {}: the chain was rewritten up to here", e.seq, h.signed_at));
                return;
            }
        }
        self.prev_hash.clear();
        self.prev_hash.push_str(&e.hash);
        self.linked = true;
        self.expected_seq += 1;
    }

    /// Signed heads beyond the last entry mean entries were cut off the end.
    pub fn finish(mut self, signed: usize) -> Report {
        let last_seq = self.expected_seq - 1;
        if self.problem.is_none() {
            if let Some(h) = self.heads.values().filter(|h| h.seq > last_seq).min_by_key(|h| h.seq) {
                let what = format!("entries after {last_seq} were deleted: a head signed at {} covers up to entry {}", h.signed_at, h.seq);
                self.found(last_seq + 1, what);
            }
        }
        let last_signed = self.heads.keys().copied().filter(|s| *s <= last_seq).max().unwrap_or(0);
        Report {
            entries: self.entries,
            last_seq,
            last_hash: self.prev_hash,
            signed_heads: signed,
            unsigned_tail: last_seq - last_signed,
            problem: self.problem,
        }
    }
}

/// Why an entry no longer matches its hash. An entry that hashes right under the number next
/// to its own was moved: renumbered after an insertion or a deletion, or swapped with a
/// neighbour. The entry named is the first one the change implicates.
fn changed(e: &Entry) -> (i64, String) {
    let under = |seq: i64| Entry { seq, ..e.clone() }.compute_hash() == e.hash;
    if under(e.seq - 1) {
        let what = format!(
            "entry {} was inserted: the entry after it, now numbered {}, was entry {} when it was written (the rest was renumbered)",
            e.seq - 1,
            e.seq,
            e.seq - 1
        );
        (e.seq - 1, what)
    } else if under(e.seq + 1) {
        let what = format!(
            "entry {} holds what was written as entry {}: an entry was deleted and the rest renumbered, or two entries were swapped",
            e.seq,
            e.seq + 1
        );
        (e.seq, what)
    } else {
        (e.seq, format!("entry {} was changed after it was written: its content no longer matches its hash", e.seq))
    }
}

/// Checks each head's signature; the first bad one is a problem at its entry. Everything up to
/// the last head before it that verifies is still pinned; what follows may have been rewritten.
pub fn check_signatures(heads: &[Head], public_key: &str) -> Option<Problem> {
    let bad = heads.iter().position(|h| !h.signature_valid(public_key))?;
    let h = &heads[bad];
    let why = if h.public_key != public_key {
        format!("the head at entry {} was signed with another key ({}…), not the audit key", h.seq, &h.public_key[..16.min(h.public_key.len())])
    } else {
        format!("the signature of the head at entry {} is not valid (forged or altered)", h.seq)
    };
    let pinned = match heads[..bad].iter().rev().find(|g| g.signature_valid(public_key)) {
        Some(g) => format!("entries after {}, the last head whose signature is valid, may have been rewritten", g.seq),
        None => "no earlier head verifies: any entry up to it may have been rewritten".to_string(),
    };
    Some(Problem { seq: h.seq, what: format!("{why}; {pinned}") })
}

/// Verifies the whole trail in the database against `public_key` (hex).
pub async fn database(conn: &mut SqliteConnection, public_key: &str) -> Result<Report, StoreError> {
    let heads = sign::heads(conn).await?;
    let mut walk = Walk::new(&heads);
    let mut pages = Pages::new(0, i64::MAX);
    loop {
        let page = pages.next(conn).await?;
        if page.is_empty() {
            break;
        }
        page.iter().for_each(|e| walk.entry(e));
    }
    Ok(walk.finish(heads.len()).with(check_signatures(&heads, public_key)))
}

impl Report {
    /// Adds a problem found apart from the walk (a bad signature); the earlier one stands.
    pub fn with(mut self, problem: Option<Problem>) -> Self {
        if let Some(p) = problem.filter(|p| self.problem.as_ref().is_none_or(|q| p.seq < q.seq)) {
            self.problem = Some(p);
        }
        self
    }
}

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
pub fn export(dir: &std::path::Path, public_key: Option<&str>) -> ExportReport {
    use super::manifest::{self, Manifest};
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

fn check_manifest_signature(report: &mut ExportReport, m: &super::manifest::Manifest, value: &serde_json::Value) {
    use super::manifest::{FILE, signature_valid};
    if signature_valid(value, &report.public_key) {
        return;
    }
    let what = if m.public_key != report.public_key && signature_valid(value, &m.public_key) {
        format!(
            "it is signed with another key ({}…), not the audit key {}…: it was made or re-made by someone else",
            short(&m.public_key),
            short(&report.public_key)
        )
    } else {
        "its signature does not verify: a field was changed after it was signed".to_string()
    };
    report.problem(FILE, None, None, what);
}

fn short(key: &str) -> &str {
    &key[..16.min(key.len())]
}

/// The data file: its digest against the manifest's, and every entry walked.
fn check_data_file(report: &mut ExportReport, dir: &std::path::Path, m: &super::manifest::Manifest) {
    use super::format::Format;
    let Some(format) = Format::parse(&m.format) else {
        report.problem(super::manifest::FILE, None, None, format!("its format `{}` is neither jsonl nor csv", m.format));
        return;
    };
    let name = format.file_name();
    report.format = format.as_str().to_string();
    let Some(expected) = m.files.get(name) else {
        report.problem(super::manifest::FILE, None, None, format!("it lists no {name}, the file its format names"));
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
    path: &std::path::Path,
    format: super::format::Format,
    m: &super::manifest::Manifest,
) -> std::io::Result<super::manifest::FileDigest> {
    let name = format.file_name();
    let within: Vec<Head> = m.heads.iter().filter(|h| m.last_seq.is_some_and(|l| h.seq <= l)).cloned().collect();
    let mut walk = match (m.first_seq, &m.start_hash) {
        (Some(first), Some(start)) => Walk::starting_after(first - 1, start, &within),
        _ => Walk::new(&within),
    };
    if !m.contiguous {
        walk = walk.sparse();
    }
    let mut reader = super::format::EntryReader::open(path, format)?;
    let mut seen = Seen::default();
    let read = reader.header().and_then(|()| {
        while let Some((line, e)) = reader.next_entry()? {
            seen.entry(&e, line, &within);
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
    count: u64,
    after_last_head: u64,
    first: Option<(u64, i64)>,
    last: Option<(i64, String)>,
    heads_matched: usize,
    problem_line: Option<u64>,
}

impl Seen {
    fn entry(&mut self, e: &Entry, line: u64, heads: &[Head]) {
        self.count += 1;
        self.after_last_head += u64::from(heads.last().is_none_or(|h| e.seq > h.seq));
        self.first.get_or_insert((line, e.seq));
        self.last = Some((e.seq, e.hash.clone()));
        if self.problem_line.is_none() && heads.iter().any(|h| h.seq == e.seq && h.hash == e.hash) {
            self.heads_matched += 1;
        }
    }

    fn report(self, report: &mut ExportReport, m: &super::manifest::Manifest, name: &str) {
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
            let after = last.map_or(String::from("none"), |l| l.to_string());
            let missing = m.last_seq.map(|l| l.to_string()).unwrap_or_default();
            report.problem(name, None, m.last_seq, format!("the last entry is {after}, the manifest says {missing}: entries were cut off the end"));
        } else if self.last.map(|l| l.1) != m.end_hash {
            report.problem(name, None, m.last_seq, "the last entry's hash is not the one the manifest ends with".into());
        }
    }
}

#[cfg(test)]
mod tests;

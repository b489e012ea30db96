//! Verification of the trail: every entry's hash recomputed, every link to the entry before
//! checked, no gap in the sequence, and every signed head matched to its entry with a valid
//! signature. The first inconsistency is named by the earliest entry it implicates. The same
//! walk runs over the database ([`database`]) and, offline, over an export ([`export`]).

use std::collections::HashMap;

use serde::Serialize;
use sqlx::SqliteConnection;

use super::sign::{self, Head};

mod offline;
pub use offline::{ExportProblem, ExportReport, export};
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
        format!("the head at entry {} was signed with another key ({}…), not the audit key", h.seq, short(&h.public_key))
    } else {
        format!("the signature of the head at entry {} is not valid (forged or altered)", h.seq)
    };
    let pinned = match heads[..bad].iter().rev().find(|g| g.signature_valid(public_key)) {
        Some(g) => format!("entries after {}, the last head whose signature is valid, may have been rewritten", g.seq),
        None => "no earlier head verifies: any entry up to it may have been rewritten".to_string(),
    };
    Some(Problem { seq: h.seq, what: format!("{why}; {pinned}") })
}

/// The start of a key, to name it. A key read from an export may be anything, so this never
/// splits a character.
pub(crate) fn short(key: &str) -> String {
    key.chars().take(16).collect()
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

#[cfg(test)]
mod tests;

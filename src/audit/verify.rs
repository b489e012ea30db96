//! Verification of the trail in the database: every entry's hash recomputed, every link to the
//! entry before checked, no gap in the sequence, and every signed head matched to its entry
//! with a valid signature. The first inconsistency is named by the earliest entry it implicates.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::SqliteConnection;

use super::sign::{self, Head};
use super::{ENTRY_COLUMNS, Entry, GENESIS, entry_from_row};
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
    entries: u64,
    problem: Option<Problem>,
    heads: HashMap<i64, Head>,
}

impl Walk {
    pub fn new(heads: &[Head]) -> Self {
        Self { expected_seq: 1, prev_hash: GENESIS.to_string(), entries: 0, problem: None, heads: heads.iter().map(|h| (h.seq, h.clone())).collect() }
    }

    /// Starting after an entry other than the genesis (an export that begins mid-chain).
    pub fn starting_after(seq: i64, hash: &str, heads: &[Head]) -> Self {
        Self { expected_seq: seq + 1, prev_hash: hash.to_string(), ..Self::new(heads) }
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
            self.found(e.seq, format!("entry {} was changed after it was written: its content no longer matches its hash", e.seq));
            return;
        }
        if e.prev_hash != self.prev_hash {
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
        self.prev_hash = e.hash.clone();
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

/// Checks each head's signature; the first bad one is a problem at its entry.
pub fn check_signatures(heads: &[Head], public_key: &str) -> Option<Problem> {
    heads.iter().find(|h| !h.signature_valid(public_key)).map(|h| Problem {
        seq: h.seq,
        what: if h.public_key != public_key {
            format!("the head at entry {} was signed with another key ({}…), not the audit key", h.seq, &h.public_key[..16.min(h.public_key.len())])
        } else {
            format!("the signature of the head at entry {} is not valid (forged or altered)", h.seq)
        },
    })
}

/// Verifies the whole trail in the database against `public_key` (hex).
pub async fn database(conn: &mut SqliteConnection, public_key: &str) -> Result<Report, StoreError> {
    let heads = sign::heads(conn).await?;
    let bad_signature = check_signatures(&heads, public_key);
    let mut walk = Walk::new(&heads);
    let mut after = 0i64;
    loop {
        // Pages in sequence order; `seq > after` also catches rows whose seq was rewritten.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 20000")))
            .bind(after)
            .fetch_all(&mut *conn)
            .await?;
        let Some(last) = rows.last() else { break };
        after = sqlx::Row::get(last, "seq");
        for r in &rows {
            walk.entry(&entry_from_row(r));
        }
    }
    let mut report = walk.finish(heads.len());
    if let Some(p) = bad_signature {
        if report.problem.as_ref().is_none_or(|q| p.seq < q.seq) {
            report.problem = Some(p);
        }
    }
    Ok(report)
}

//! Tampering with the database directly, each case named by the first bad entry.

use super::*;
use crate::audit::sign::Signer;
use crate::audit::test_trail::{Trail, build};

async fn trail() -> Trail {
    let t = build(40).await;
    assert!(t.last > 250, "a few hundred entries: {}", t.last);
    t
}

fn problem(r: &Report) -> &Problem {
    r.problem.as_ref().expect("the tampering is found")
}

#[tokio::test]
async fn an_untouched_trail_is_intact() {
    let t = trail().await;
    let r = t.verify().await;
    assert!(r.intact(), "{:?}", r.problem);
    assert_eq!((r.entries, r.last_seq, r.signed_heads, r.unsigned_tail), (t.last as u64, t.last, 2, 0));
}

#[tokio::test]
async fn an_edited_field_is_found_at_its_entry() {
    let t = trail().await;
    t.exec("UPDATE audit_log SET actor = 'mallory' WHERE seq = 120").await;
    let p = problem(&t.verify().await).clone();
    assert_eq!(p.seq, 120);
    assert!(p.what.contains("changed after it was written"), "{}", p.what);
}

#[tokio::test]
async fn an_entry_edited_and_re_hashed_is_found_by_the_next_link() {
    let t = trail().await;
    let mut e = t.entry(120).await;
    e.actor = "mallory".into();
    e.hash = e.compute_hash();
    t.put(&e).await;
    let p = problem(&t.verify().await).clone();
    assert_eq!(p.seq, 120, "{}", p.what);
    assert!(p.what.contains("breaks before entry 121"), "{}", p.what);
}

#[tokio::test]
async fn a_deleted_middle_entry_is_found() {
    let t = trail().await;
    t.exec("DELETE FROM audit_log WHERE seq = 150").await;
    let p = problem(&t.verify().await).clone();
    assert_eq!(p.seq, 150);
    assert!(p.what.contains("missing"), "{}", p.what);
}

#[tokio::test]
async fn a_deletion_hidden_by_renumbering_is_found() {
    let t = trail().await;
    t.exec("DELETE FROM audit_log WHERE seq = 150").await;
    t.exec("UPDATE audit_log SET seq = -(seq - 1) WHERE seq > 150").await;
    t.exec("UPDATE audit_log SET seq = -seq WHERE seq < 0").await;
    let p = problem(&t.verify().await).clone();
    assert_eq!(p.seq, 150);
    assert!(p.what.contains("was written as entry 151"), "{}", p.what);
}

#[tokio::test]
async fn entries_cut_off_the_end_are_found_by_the_signed_head() {
    let t = trail().await;
    t.exec(&format!("DELETE FROM audit_log WHERE seq > {}", t.last - 10)).await;
    let p = problem(&t.verify().await).clone();
    assert_eq!(p.seq, t.last - 9);
    assert!(p.what.contains(&format!("covers up to entry {}", t.last)), "{}", p.what);
}

#[tokio::test]
async fn an_inserted_entry_is_found_though_the_rest_was_renumbered() {
    let t = trail().await;
    let before = t.entry(119).await;
    t.exec("UPDATE audit_log SET seq = -(seq + 1) WHERE seq >= 120").await;
    t.exec("UPDATE audit_log SET seq = -seq WHERE seq < 0").await;
    // A well-formed entry, chained to the one before: only what follows gives it away.
    let mut forged = Entry { seq: 120, kind: "draft.approved".into(), actor: "mallory".into(), prev_hash: before.hash.clone(), ..before };
    forged.hash = forged.compute_hash();
    t.put(&forged).await;
    let p = problem(&t.verify().await).clone();
    assert_eq!(p.seq, 120, "{}", p.what);
    assert!(p.what.contains("inserted"), "{}", p.what);
}

#[tokio::test]
async fn two_swapped_entries_are_found_at_the_first() {
    let t = trail().await;
    let (a, b) = (t.entry(130).await, t.entry(131).await);
    t.put(&Entry { seq: 130, ..b }).await;
    t.put(&Entry { seq: 131, ..a }).await;
    let p = problem(&t.verify().await).clone();
    assert_eq!(p.seq, 130);
    assert!(p.what.contains("swapped"), "{}", p.what);
}

#[tokio::test]
async fn a_head_signed_with_another_key_is_rejected() {
    let t = trail().await;
    let (other, _) = Signer::generate();
    let head = &t.heads[1];
    let forged = other.sign(Head::statement(head.seq, &head.hash, &head.signed_at).as_bytes());
    t.exec(&format!("UPDATE audit_heads SET signature = '{forged}', public_key = '{}' WHERE seq = {}", other.public_hex(), head.seq)).await;
    let p = problem(&t.verify().await).clone();
    assert_eq!(p.seq, head.seq);
    assert!(p.what.contains("another key"), "{}", p.what);

    // The same forgery claiming the audit key's name.
    t.exec(&format!("UPDATE audit_heads SET public_key = '{}' WHERE seq = {}", t.public_key(), head.seq)).await;
    let p = problem(&t.verify().await).clone();
    assert_eq!(p.seq, head.seq);
    assert!(p.what.contains("not valid"), "{}", p.what);
}

#[tokio::test]
async fn a_rewritten_tail_re_signed_with_another_key_is_rejected() {
    let t = trail().await;
    let (other, _) = Signer::generate();
    // Rewrite entry 200 and re-hash everything after it, as someone with write access but
    // without the key would, then sign a new head with a key of their own.
    let mut prev = t.entry(199).await.hash;
    for seq in 200..=t.last {
        let mut e = t.entry(seq).await;
        if seq == 200 {
            e.actor = "mallory".into();
        }
        e.prev_hash = prev;
        e.hash = e.compute_hash();
        prev = e.hash.clone();
        t.put(&e).await;
    }
    let head = &t.heads[1];
    let signature = other.sign(Head::statement(head.seq, &prev, &head.signed_at).as_bytes());
    t.exec(&format!("UPDATE audit_heads SET hash = '{prev}', signature = '{signature}' WHERE seq = {}", head.seq)).await;
    let p = problem(&t.verify().await).clone();
    assert_eq!(p.seq, head.seq);
    assert!(p.what.contains(&format!("entries after {}", t.heads[0].seq)), "names the last head still valid: {}", p.what);
}

#[tokio::test]
async fn a_head_whose_hash_was_changed_is_rejected() {
    let t = trail().await;
    let head = &t.heads[0];
    t.exec(&format!("UPDATE audit_heads SET hash = '{}' WHERE seq = {}", "ab".repeat(32), head.seq)).await;
    let p = problem(&t.verify().await).clone();
    assert_eq!(p.seq, head.seq, "{}", p.what);
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_named() {
    let t = trail().await;
    t.exec("UPDATE audit_log SET message = 'forty' WHERE seq = 77").await;
    let err = t.store.verify_audit(&t.public_key()).await.unwrap_err();
    assert!(err.to_string().contains("audit entry 77 is not an entry"), "{err}");
}

//! Exports round-trip through offline verification, whole or filtered; a changed or removed
//! line, a changed manifest and a manifest signed by another key are each named.

use std::path::{Path, PathBuf};

use super::*;
use crate::audit::manifest::Manifest;
use crate::audit::test_trail::{Trail, account, build};
use crate::audit::verify::{self, ExportReport};

fn whole_day() -> Range {
    Range::parse("2026-11-20", "2026-11-20").unwrap()
}

async fn export_to(t: &Trail, format: Format, range: Range, filters: Filters) -> (PathBuf, Manifest) {
    let out = crate::testing::temp_dir("audit-export").join("export");
    let mut conn = t.store.pool.acquire().await.unwrap();
    let request = Request { range, filters, format, out: out.clone() };
    let manifest = export(&mut conn, &request, &t.signer).await.unwrap();
    (out, manifest)
}

fn verified(t: &Trail, dir: &Path) -> ExportReport {
    verify::export(dir, Some(&t.public_key()))
}

fn assert_intact(r: &ExportReport) {
    assert!(r.intact(), "{:?}", r.problems.iter().map(ToString::to_string).collect::<Vec<_>>());
}

/// The problems as printed, one string.
fn problems(r: &ExportReport) -> String {
    assert!(!r.intact(), "the tampering is found");
    r.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

async fn count_where(t: &Trail, sql: &'static str) -> u64 {
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&t.store.pool).await.unwrap();
    n as u64
}

fn edit_line(path: &Path, line: usize, edit: impl Fn(&str) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
    lines[line - 1] = edit(&lines[line - 1]);
    std::fs::write(path, lines.concat()).unwrap();
}

#[tokio::test]
async fn a_whole_export_round_trips_in_both_formats() {
    let t = build(40).await;
    for format in [Format::Jsonl, Format::Csv] {
        let (dir, m) = export_to(&t, format, whole_day(), Filters::default()).await;
        assert_eq!((m.count, m.first_seq, m.last_seq, m.contiguous), (t.last as u64, Some(1), Some(t.last), true));
        assert_eq!(m.start_hash.as_deref(), Some(crate::audit::GENESIS));
        assert_eq!(m.heads, t.heads);
        let r = verified(&t, &dir);
        assert_intact(&r);
        assert_eq!((r.entries, r.heads_matched, r.unsigned_tail, r.key_from_export), (t.last as u64, 2, 0, false));
    }
}

#[tokio::test]
async fn a_time_range_starts_mid_chain_and_still_links() {
    let t = build(40).await;
    let range = Range::parse("2026-11-20T08:10:00Z", "2026-11-20T08:12:00Z").unwrap();
    let (dir, m) = export_to(&t, Format::Jsonl, range, Filters::default()).await;
    let expected = count_where(&t, "SELECT COUNT(*) FROM audit_log WHERE message BETWEEN 10 AND 12").await;
    assert_eq!((m.count, m.contiguous), (expected, true));
    assert!(m.first_seq.unwrap() > 1);
    assert_eq!(m.heads.len(), 1, "no head inside, the first one after: {:?}", m.heads);
    let r = verified(&t, &dir);
    assert_intact(&r);
    assert_eq!(r.head_after.as_ref().map(|h| h.seq), Some(t.heads[0].seq));
}

#[tokio::test]
async fn filters_select_whole_stories_and_the_export_verifies() {
    let t = build(40).await;
    let cases: [(Filters, &'static str); 4] = [
        (Filters { intent: Some("billing".into()), ..Filters::default() }, "SELECT COUNT(*) FROM audit_log WHERE message % 3 = 0"),
        (Filters { customer: Some(account(1)), ..Filters::default() }, "SELECT COUNT(*) FROM audit_log WHERE message % 5 = 1"),
        (
            Filters { intent: Some("billing".into()), decision: Some("approve".into()), ..Filters::default() },
            "SELECT COUNT(*) FROM audit_log WHERE message % 12 = 0",
        ),
        (Filters { actor: Some("sara".into()), ..Filters::default() }, "SELECT COUNT(*) FROM audit_log WHERE actor = 'sara'"),
    ];
    for (filters, expected) in cases {
        for format in [Format::Jsonl, Format::Csv] {
            let (dir, m) = export_to(&t, format, whole_day(), filters.clone()).await;
            assert_eq!(m.count, count_where(&t, expected).await, "{filters:?}");
            assert!(m.count > 0 && !m.contiguous, "{filters:?}");
            assert_intact(&verified(&t, &dir));
        }
    }
}

#[tokio::test]
async fn a_customer_is_named_in_the_manifest_by_pseudonym_only() {
    let t = build(10).await;
    let filters = Filters { customer: Some(account(1)), ..Filters::default() };
    let (dir, m) = export_to(&t, Format::Jsonl, whole_day(), filters).await;
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(!text.contains(&account(1)), "the account number is not in the manifest");
    assert_eq!(m.filters.customer_pseudonym.as_ref().map(String::len), Some(32));

    let unknown = Filters { customer: Some("99999999".into()), ..Filters::default() };
    let (dir, m) = export_to(&t, Format::Csv, whole_day(), unknown).await;
    assert_eq!((m.count, m.filters.customer_pseudonym.as_deref()), (0, Some("(none: never recorded)")));
    assert_intact(&verified(&t, &dir));
}

#[tokio::test]
async fn a_changed_line_is_named_by_entry_and_line() {
    let t = build(20).await;
    let (dir, _) = export_to(&t, Format::Jsonl, whole_day(), Filters::default()).await;
    edit_line(&dir.join("entries.jsonl"), 10, |l| l.replace("\"actor\":\"switchyard\"", "\"actor\":\"mallory\""));
    let p = problems(&verified(&t, &dir));
    assert!(p.contains("first bad entry 10 (entries.jsonl line 10): entry 10 was changed"), "{p}");
    assert!(p.contains("entries.jsonl: its SHA-256"), "{p}");

    let (dir, _) = export_to(&t, Format::Csv, whole_day(), Filters::default()).await;
    edit_line(&dir.join("entries.csv"), 11, |l| l.replace(",switchyard,", ",mallory,"));
    let p = problems(&verified(&t, &dir));
    assert!(p.contains("first bad entry 10 (entries.csv line 11)"), "{p}");
}

#[tokio::test]
async fn a_removed_line_is_named() {
    let t = build(20).await;
    let (dir, _) = export_to(&t, Format::Jsonl, whole_day(), Filters::default()).await;
    edit_line(&dir.join("entries.jsonl"), 10, |_| String::new());
    let p = problems(&verified(&t, &dir));
    assert!(p.contains("first bad entry 10 (entries.jsonl line 10): entry 10 is missing"), "{p}");
    assert!(p.contains("the manifest says"), "{p}");

    // The last line of a filtered export: the count and the last entry give it away.
    let filters = Filters { intent: Some("payment".into()), ..Filters::default() };
    let (dir, m) = export_to(&t, Format::Csv, whole_day(), filters).await;
    let lines = m.count as usize + 1;
    edit_line(&dir.join("entries.csv"), lines, |_| String::new());
    let p = problems(&verified(&t, &dir));
    assert!(p.contains(&format!("first bad entry {} (entries.csv): the last entry is", m.last_seq.unwrap())), "{p}");
}

#[tokio::test]
async fn a_changed_manifest_field_breaks_its_signature() {
    let t = build(10).await;
    let (dir, _) = export_to(&t, Format::Jsonl, whole_day(), Filters::default()).await;
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"from\": \"2026-11-20T00:00:00", "\"from\": \"2026-11-19T00:00:00")).unwrap();
    let r = verified(&t, &dir);
    let p = problems(&r);
    assert_eq!(r.problems.len(), 1, "{p}");
    assert!(p.starts_with("manifest.json: its signature does not verify"), "{p}");
}

#[tokio::test]
async fn a_manifest_signed_by_another_key_is_named() {
    let t = build(10).await;
    let (dir, m) = export_to(&t, Format::Jsonl, whole_day(), Filters::default()).await;
    let (other, _) = crate::audit::sign::Signer::generate();
    let mut forged = Manifest { public_key: other.public_hex().into(), ..m };
    forged.sign(&other);
    std::fs::write(dir.join("manifest.json"), serde_json::to_string_pretty(&forged).unwrap()).unwrap();
    let p = problems(&verified(&t, &dir));
    assert!(p.contains("manifest.json: it is signed with another key"), "{p}");

    // Checked against the key it names, the manifest holds, but the heads still do not.
    let r = verify::export(&dir, None);
    assert!(r.key_from_export);
    let p = problems(&r);
    assert!(p.contains("signed with another key") && !p.contains("manifest.json: it is signed"), "{p}");
}

#[tokio::test]
async fn a_missing_data_file_or_manifest_is_named() {
    let t = build(5).await;
    let (dir, _) = export_to(&t, Format::Csv, whole_day(), Filters::default()).await;
    std::fs::remove_file(dir.join("entries.csv")).unwrap();
    assert!(problems(&verified(&t, &dir)).starts_with("entries.csv: cannot read it"));
    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    assert!(problems(&verified(&t, &dir)).starts_with("manifest.json: cannot read it"));
}

#[tokio::test]
async fn an_export_never_overwrites_one() {
    let t = build(3).await;
    let (dir, _) = export_to(&t, Format::Jsonl, whole_day(), Filters::default()).await;
    let mut conn = t.store.pool.acquire().await.unwrap();
    let request = Request { range: whole_day(), filters: Filters::default(), format: Format::Csv, out: dir };
    assert!(matches!(export(&mut conn, &request, &t.signer).await, Err(ExportError::NotEmpty(_))));
}

#[test]
fn days_cover_the_whole_day_and_times_are_exact() {
    let r = Range::parse("2026-11-01", "2026-11-30").unwrap();
    assert_eq!((timestamp(r.from), timestamp(r.to)), ("2026-11-01T00:00:00.000000Z".into(), "2026-11-30T23:59:59.999999Z".into()));
    let r = Range::parse("2026-11-20T10:00:00+01:00", "2026-11-20T12:00:00Z").unwrap();
    assert_eq!(timestamp(r.from), "2026-11-20T09:00:00.000000Z");
    assert!(matches!(Range::parse("2026-11-20", "2026-11-19"), Err(ExportError::Order { .. })));
    assert!(matches!(Range::parse("yesterday", "2026-11-19"), Err(ExportError::Date(_))));
}

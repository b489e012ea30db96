//! Retention, erasure, access and the drafting side of consent over a store holding the sample
//! mailbox triaged by the real pipeline, with its Maildir folders: what goes, what stays, and
//! that the audit trail still verifies (with a signed head) afterwards.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::files::Folders;
use super::*;
use crate::audit::sign::Signer;
use crate::channels::Source;
use crate::channels::maildir::{MaildirSink, MaildirSource};
use crate::config::Settings;
use crate::pipeline::draft::Templates;
use crate::pipeline::{LocalClock, Pipeline};
use crate::report::Reporter;
use crate::store::Store;
use crate::testing::{clock, demo, temp_dir};
use crate::worker::Worker;

const GIULIA: &str = "giulia.rossi@posta.example";
const MARCO: &str = "marco.bianchi@posta.example";

/// The sample mailbox triaged into a fresh store and Maildir folders, its head signed.
struct Triaged {
    store: Arc<SqliteStore>,
    folders: Folders,
    dir: PathBuf,
    signer: Signer,
}

async fn triaged(name: &str) -> Triaged {
    let store = triaged_with(name, &[]).await;
    let dir = store_dir(&store).await;
    let (signer, _) = Signer::generate();
    store.sign_audit_head(&signer).await.unwrap();
    let folders = Folders { inbox: dir.join("inbox"), outgoing: ["outbox", "drafts", "review"].iter().map(|d| dir.join(d)).collect() };
    Triaged { store, folders, dir, signer }
}

/// The directory of a store's database file.
async fn store_dir(store: &SqliteStore) -> PathBuf {
    let file: String = sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'").fetch_one(&store.pool).await.unwrap();
    Path::new(&file).parent().unwrap().to_path_buf()
}

fn worker(dir: &Path, store: Arc<SqliteStore>) -> Worker {
    let model = crate::pipeline::classify::load_model("embedded").unwrap();
    let settings = Arc::new(Settings::from_toml("test", "", Vec::new()).unwrap());
    let pipeline = Pipeline::new(settings, demo(), model, Arc::new(Templates::embedded().unwrap()), LocalClock::Fixed(clock().local_now));
    let sink = MaildirSink::open(&dir.join("outbox"), &dir.join("drafts"), &dir.join("review")).unwrap();
    Worker { pipeline: Arc::new(pipeline), store, sink: Arc::new(sink) }
}

impl Worker {
    async fn run_once(mut self) {
        let mut reporter = Reporter::new(true, Box::new(std::io::sink()));
        self.run(true, &CancellationToken::new(), &mut reporter, &tokio::sync::Notify::new(), Duration::from_secs(1)).await.unwrap();
    }
}

impl Triaged {
    async fn scalar(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.store.pool).await.unwrap()
    }

    async fn verified(&self) {
        self.store.sign_audit_head(&self.signer).await.unwrap();
        let report = self.store.verify_audit(self.signer.public_hex()).await.unwrap();
        assert!(report.intact(), "{:?}", report.problem);
        assert!(report.signed_heads >= 2, "a head signed before and one after");
    }

    /// Every value of every table, as text (blobs too), one string per row.
    async fn every_row(&self) -> Vec<String> {
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetch_all(&self.store.pool).await.unwrap();
        let mut rows = Vec::new();
        for table in tables {
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info(?)").bind(&table).fetch_all(&self.store.pool).await.unwrap();
            let concat = columns.iter().map(|c| format!("COALESCE(CAST(\"{c}\" AS BLOB), x'')")).collect::<Vec<_>>().join(" || ' | ' || ");
            let sql = format!("SELECT CAST('{table}: ' || {concat} AS BLOB) FROM \"{table}\"");
            let found = sqlx::query_scalar::<_, Vec<u8>>(sqlx::AssertSqlSafe(sql)).fetch_all(&self.store.pool).await.unwrap();
            rows.extend(found.iter().map(|b| String::from_utf8_lossy(b).into_owned()));
        }
        rows
    }

    /// Every file of the Maildir folders, as text.
    fn every_file(&self) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        for folder in std::iter::once(&self.folders.inbox).chain(&self.folders.outgoing) {
            for sub in ["new", "cur", "tmp"] {
                for e in std::fs::read_dir(folder.join(sub)).into_iter().flatten().flatten() {
                    out.push((e.path(), String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned()));
                }
            }
        }
        out
    }

    async fn message_of(&self, sender: &str) -> i64 {
        sqlx::query_scalar("SELECT message FROM decisions WHERE sender = ? ORDER BY message LIMIT 1").bind(sender).fetch_one(&self.store.pool).await.unwrap()
    }
}

/// Everything of the store moved `days` into the past, but for the messages in `keep`.
async fn age_all_but(t: &Triaged, days: i64, keep: &[i64]) {
    let keep = serde_json::to_string(keep).unwrap();
    let shift = format!("-{days} days");
    for sql in [
        "UPDATE messages SET received_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', received_at, ?1) WHERE id NOT IN (SELECT value FROM json_each(?2))",
        "UPDATE decisions SET decided_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', decided_at, ?1) WHERE message NOT IN (SELECT value FROM json_each(?2))",
        "UPDATE approvals SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', updated_at, ?1) WHERE message NOT IN (SELECT value FROM json_each(?2))",
        "UPDATE outbox SET created_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', created_at, ?1),
             sent_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', sent_at, ?1) WHERE message NOT IN (SELECT value FROM json_each(?2))",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&shift).bind(&keep).execute(&t.store.pool).await.unwrap();
    }
}

#[tokio::test]
async fn retention_purges_only_old_resolved_messages_and_the_trail_still_verifies() {
    let t = triaged("privacy-retention").await;
    let total = t.scalar("SELECT COUNT(*) FROM messages").await;
    let recent = t.message_of(MARCO).await;
    age_all_but(&t, 400, &[recent]).await;
    // An old message whose reply is still to be sent, and one whose draft waits for a person.
    let unsent: i64 = t.scalar("SELECT MIN(message) FROM outbox WHERE kind = 'reply' AND state = 'sent'").await;
    sqlx::query("UPDATE outbox SET state = 'pending' WHERE message = ?").bind(unsent).execute(&t.store.pool).await.unwrap();
    let waiting = t.scalar("SELECT COUNT(*) FROM approvals WHERE state = 'waiting'").await;
    assert!(waiting > 0, "the sample mailbox leaves drafts for people");
    let expected: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages m WHERE m.id NOT IN (?, ?)
         AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.message = m.id AND a.state = 'waiting')",
    )
    .bind(recent)
    .bind(unsent)
    .fetch_one(&t.store.pool)
    .await
    .unwrap();
    assert!(expected > 20 && expected < total);
    let old_files = t.every_file().len();

    let report = purge(&t.store, &t.folders, Utc::now() - chrono::Duration::days(30)).await.unwrap();
    assert_eq!(report.messages as i64, expected, "all but the recent, the unsent and the waiting ones: {report:?}");
    assert!(report.files > 0 && t.every_file().len() == old_files - report.files as usize);

    let purged = t.scalar("SELECT COUNT(*) FROM messages WHERE purged_at IS NOT NULL AND length(raw) = 0 AND purge_reason = 'retention'").await;
    assert_eq!(purged, report.messages as i64);
    for (what, id) in [("the recent message", recent), ("the unsent reply's message", unsent)] {
        let sql = "SELECT purged_at IS NULL AND length(raw) > 0 FROM messages WHERE id = ?";
        assert!(sqlx::query_scalar::<_, bool>(sql).bind(id).fetch_one(&t.store.pool).await.unwrap(), "{what} was purged");
    }
    let untouched_waiting = t.scalar("SELECT COUNT(*) FROM approvals a JOIN messages m ON m.id = a.message WHERE a.state = 'waiting' AND m.purged_at IS NULL AND length(m.raw) > 0").await;
    assert_eq!(untouched_waiting, waiting);
    // Texts are gone; codes, labels and times stay.
    let leftovers = t
        .scalar(
            "SELECT COUNT(*) FROM decisions d JOIN messages m ON m.id = d.message WHERE m.purged_at IS NOT NULL
             AND (d.draft_body IS NOT NULL OR d.subject IS NOT NULL OR d.facts <> '[]' OR d.claims <> '[]' OR EXISTS (SELECT 1 FROM json_each(d.reasons) r WHERE r.value ->> 'detail' <> ''))",
        )
        .await;
    assert_eq!(leftovers, 0);
    let labelled = t.scalar("SELECT COUNT(*) FROM decisions d JOIN messages m ON m.id = d.message WHERE m.purged_at IS NOT NULL AND d.intent IS NOT NULL AND d.decided_at IS NOT NULL AND d.policy_version <> ''").await;
    assert!(labelled > 0);
    assert_eq!(t.scalar("SELECT COUNT(*) FROM outbox o JOIN messages m ON m.id = o.message WHERE m.purged_at IS NOT NULL AND length(o.raw) > 0").await, 0);
    let entry: String = sqlx::query_scalar("SELECT data FROM audit_log WHERE kind = 'privacy.purged'").fetch_one(&t.store.pool).await.unwrap();
    assert!(entry.contains(&format!("\"messages\":{}", report.messages)) && !entry.contains('@'), "{entry}");
    t.verified().await;

    // Nothing is left to purge: a second run changes nothing and records nothing.
    assert_eq!(purge(&t.store, &t.folders, Utc::now() - chrono::Duration::days(30)).await.unwrap().messages, 0);
    assert_eq!(t.scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'privacy.purged'").await, 1);
}

#[tokio::test]
async fn erasure_removes_the_customers_data_everywhere_and_leaves_others() {
    let t = triaged("privacy-erase").await;
    let subject = Subject::account("40000001").unwrap();
    t.store.record_consent(&consent(subject.clone(), Purpose::AssistanceInfo, false)).await.unwrap();
    let needles = [GIULIA, "Giulia Rossi", "40000001", "Potete spiegarmi come mai"];
    let found = |rows: &[String], n: &str| rows.iter().filter(|r| r.contains(n)).cloned().collect::<Vec<_>>();
    let before = t.every_row().await;
    for n in needles {
        assert!(!found(&before, n).is_empty(), "the test needs `{n}` in the store before");
    }

    let report = erase(&t.store, &t.folders, &subject, "dpo", "Art. 17 request, ticket 42").await.unwrap();
    assert_eq!(report.messages, 2, "{report:?}");
    assert_eq!((report.consents, report.forgotten.len()), (1, 2), "the account's and the address's keys: {report:?}");
    assert!(report.files >= 3, "the two inbox files and the reply: {report:?}");

    let after = t.every_row().await;
    for n in needles {
        assert!(found(&after, n).is_empty(), "`{n}` is still in the store: {:?}", found(&after, n));
    }
    for (path, text) in t.every_file() {
        for n in needles {
            assert!(!text.contains(n), "`{n}` is still in {}", path.display());
        }
    }
    // Others keep theirs, and the erased messages keep their codes.
    assert!(!found(&after, MARCO).is_empty() && t.every_file().iter().any(|(_, f)| f.contains(MARCO)));
    assert_eq!(t.scalar("SELECT COUNT(*) FROM decisions d JOIN messages m ON m.id = d.message WHERE m.purge_reason = 'erasure' AND d.intent IS NOT NULL").await, 2);
    let entry: (String, String) = sqlx::query_as("SELECT actor, data FROM audit_log WHERE kind = 'privacy.erased'").fetch_one(&t.store.pool).await.unwrap();
    assert_eq!(entry.0, "dpo");
    assert!(entry.1.contains(&report.forgotten[0]) && !entry.1.contains("ticket 42"), "{}", entry.1);
    t.verified().await;
    // Not in free pages of the database file nor in its WAL either.
    for file in ["s.db", "s.db-wal"] {
        let bytes = std::fs::read(t.dir.join(file)).unwrap_or_default();
        assert!(!bytes.windows(GIULIA.len()).any(|w| w == GIULIA.as_bytes()), "{file} still holds the address");
    }
}

#[tokio::test]
async fn erasure_by_address_keeps_a_shared_account_named_by_others() {
    let t = triaged("privacy-erase-email").await;
    // Someone else wrote about Giulia's account from their own address, identified as her.
    let other = t.message_of(MARCO).await;
    sqlx::query("UPDATE decisions SET customer = '40000001' WHERE message = ?").bind(other).execute(&t.store.pool).await.unwrap();
    let report = erase(&t.store, &t.folders, &Subject::email(GIULIA).unwrap(), "cli", "request").await.unwrap();
    assert_eq!(report.messages, 2);
    assert_eq!(report.forgotten.len(), 1, "only the address: the account is still named by another message");
    assert!(crate::audit::existing_pseudonym(&mut t.store.pool.acquire().await.unwrap(), crate::audit::SubjectKind::Account, "40000001").await.unwrap().is_some());
    assert_eq!(t.scalar("SELECT COUNT(*) FROM decisions WHERE sender = 'giulia.rossi@posta.example'").await, 0);
    let err = erase(&t.store, &t.folders, &Subject::email(GIULIA).unwrap(), "cli", " ").await.unwrap_err();
    assert!(err.to_string().contains("--reason"), "{err}");
    t.verified().await;
}

#[tokio::test]
async fn an_access_export_holds_the_customers_messages_and_nobody_elses() {
    let t = triaged("privacy-access").await;
    let subject = Subject::account("40000001").unwrap();
    t.store.record_consent(&consent(subject.clone(), Purpose::Service, true)).await.unwrap();
    let data = t.store.access(&subject).await.unwrap();
    let doc = access::document(&data, Utc::now());
    let text = doc.to_string();
    assert_eq!(doc["messages"].as_array().unwrap().len(), 2);
    assert_eq!(doc["addresses"], serde_json::json!([GIULIA]));
    let first = &doc["messages"][0];
    assert_eq!(first["content"]["from"][0]["address"], GIULIA);
    assert!(first["content"]["text"].as_str().unwrap().contains("Potete spiegarmi come mai"), "{first}");
    assert_eq!(first["decision"]["intent"], "billing");
    assert!(first["decision"]["facts"].as_array().is_some_and(|f| !f.is_empty()), "the facts used");
    assert!(first["written"].as_array().unwrap().iter().any(|o| o["kind"] == "reply" && o["content"]["text"].is_string()), "{first}");
    assert_eq!(doc["consents"][0]["purpose"], "service");
    let entries = doc["audit"]["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["kind"] == "consent.recorded") && entries.iter().any(|e| e["kind"] == "message.decided"));
    let senders: Vec<String> = sqlx::query_scalar("SELECT DISTINCT sender FROM decisions WHERE sender IS NOT NULL AND sender <> ? AND sender NOT LIKE '%@aurora.example'").bind(GIULIA).fetch_all(&t.store.pool).await.unwrap();
    assert!(senders.len() > 20);
    for s in senders {
        assert!(!text.contains(&s), "{s} is in Giulia's export");
    }
    assert!(!text.contains("40000002"), "another customer's account");
}

#[tokio::test]
async fn a_strangers_message_quoting_the_account_is_erased_but_not_handed_over() {
    let t = triaged("privacy-stranger").await;
    let raw = "From: nessuno.sconosciuto@altrove.example\r\nSubject: Bolletta\r\nMessage-ID: <s1@altrove.example>\r\n\r\n\
               Per informazione, il mio codice cliente e 40000001. Mi mandate la bolletta?";
    let message = crate::store::NewMessage { channel: "maildir:inbox", channel_ref: "stranger", raw: raw.as_bytes(), stored_len: raw.len() as u64 };
    t.store.ingest(&[message], None).await.unwrap();
    worker(&t.dir, t.store.clone()).run_once().await;
    let stranger = t.message_of("nessuno.sconosciuto@altrove.example").await;
    let customer: Option<String> = sqlx::query_scalar("SELECT customer FROM decisions WHERE message = ?").bind(stranger).fetch_one(&t.store.pool).await.unwrap();
    assert_eq!(customer, None, "not identified: the address is not hers");

    let subject = Subject::account("40000001").unwrap();
    let access = t.store.access(&subject).await.unwrap();
    assert!(access.messages.iter().all(|m| m.id != stranger), "another person's mail is not handed over");
    let report = erase(&t.store, &t.folders, &subject, "dpo", "request").await.unwrap();
    assert_eq!(report.messages, 3, "hers and the one quoting her account");
    let left: i64 = sqlx::query_scalar("SELECT length(raw) FROM messages WHERE id = ?").bind(stranger).fetch_one(&t.store.pool).await.unwrap();
    assert_eq!(left, 0);
    t.verified().await;
}

#[tokio::test]
async fn a_local_withdrawal_leaves_the_support_paragraph_out_whatever_the_cis_says() {
    // Anna Esposito is vulnerable and consented in the CIS: her billing reply has the paragraph.
    const HEADING: &str = "Sostegno per il pagamento delle bollette";
    async fn draft_of(store: &SqliteStore) -> String {
        let sql = "SELECT draft_body FROM decisions WHERE sender = 'anna.esposito@posta.example' AND intent = 'billing'";
        sqlx::query_scalar::<_, String>(sql).fetch_one(&store.pool).await.unwrap()
    }
    assert!(draft_of(&*triaged_with("privacy-assistance-cis", &[]).await).await.contains(HEADING));
    let withdrawn = consent(Subject::account("40000003").unwrap(), Purpose::AssistanceInfo, false);
    let store = triaged_with("privacy-assistance-local", std::slice::from_ref(&withdrawn)).await;
    let body = draft_of(&store).await;
    assert!(!body.contains(HEADING) && !body.contains("ISEE"), "{body}");
    assert!(body.contains("Anna"), "still her reply: {body}");
    // Withdrawn on WhatsApp only, it changes nothing for e-mail.
    let whatsapp = NewConsent { channel: Channel::Whatsapp, ..withdrawn };
    assert!(draft_of(&*triaged_with("privacy-assistance-whatsapp", &[whatsapp]).await).await.contains(HEADING));
}

/// The sample mailbox triaged after these consents were recorded.
async fn triaged_with(name: &str, consents: &[NewConsent]) -> Arc<SqliteStore> {
    let dir = temp_dir(name);
    let store = Arc::new(SqliteStore::open(&dir.join("s.db")).await.unwrap());
    for c in consents {
        store.record_consent(c).await.unwrap();
    }
    crate::app::seed_inbox(&dir.join("inbox")).unwrap();
    MaildirSource::open(&dir.join("inbox"), 1 << 24, 128, Duration::from_secs(1)).unwrap().collect(store.as_ref()).await.unwrap();
    worker(&dir, store.clone()).run_once().await;
    store
}

fn consent(subject: Subject, purpose: Purpose, granted: bool) -> NewConsent {
    NewConsent { subject, channel: Channel::Email, purpose, granted, source: "phone call".into(), by: "anna".into() }
}

#[tokio::test]
async fn the_latest_record_holds_per_subject_channel_and_purpose() {
    let dir = temp_dir("privacy-consents");
    let store = SqliteStore::open(&dir.join("s.db")).await.unwrap();
    let giulia = Subject::email(GIULIA).unwrap();
    store.record_consent(&consent(giulia.clone(), Purpose::Service, false)).await.unwrap();
    let q = |purpose| ConsentQuery { message: 0, recipient: GIULIA, channel: Channel::Email, purpose };
    let latest = store.latest_consents(&[q(Purpose::Service), q(Purpose::AssistanceInfo)]).await.unwrap();
    assert_eq!(latest[0].as_ref().map(|r| r.granted), Some(false));
    assert!(latest[1].is_none());
    store.record_consent(&consent(giulia.clone(), Purpose::Service, true)).await.unwrap();
    let latest = store.latest_consents(&[q(Purpose::Service)]).await.unwrap();
    assert_eq!(latest[0].as_ref().map(|r| r.granted), Some(true), "the opt-in after the opt-out holds");
    assert_eq!(store.consents(&[giulia]).await.unwrap().len(), 2);
    assert!(store.withdrawn(Purpose::Service).await.unwrap().entries.is_empty());
    let entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'consent.recorded' AND subject IS NOT NULL AND data NOT LIKE '%@%'")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(entries, 2);
}

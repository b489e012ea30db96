//! The trail over the sample mailbox: every message's story is there, in order, and none of
//! the personal data the other tables hold is in it.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::channels::Source;
use crate::channels::maildir::{MaildirSink, MaildirSource};
use crate::config::Settings;
use crate::pipeline::classify::rules::RulesModel;
use crate::pipeline::draft::Templates;
use crate::pipeline::{LocalClock, Pipeline};
use crate::report::Reporter;
use crate::store::sqlite::SqliteStore;
use crate::testing::{clock, demo, temp_dir};
use crate::worker::Worker;

async fn triaged_sample_mailbox() -> Arc<SqliteStore> {
    let dir = temp_dir("audit");
    let store = Arc::new(SqliteStore::open(&dir.join("s.db")).await.unwrap());
    let inbox = dir.join("inbox");
    crate::app::seed_inbox(&inbox).unwrap();
    MaildirSource::open(&inbox, 1 << 24, 128, Duration::from_secs(1)).unwrap().collect(store.as_ref()).await.unwrap();
    let settings = Settings::from_toml("test", "", Vec::new()).unwrap();
    let pipeline = Pipeline::new(Arc::new(settings), demo(), Arc::new(RulesModel), Arc::new(Templates::embedded().unwrap()), LocalClock::Fixed(clock().local_now));
    let sink = MaildirSink::open(&dir.join("outbox"), &dir.join("drafts"), &dir.join("review")).unwrap();
    let mut worker = Worker { pipeline: Arc::new(pipeline), store: store.clone(), sink: Arc::new(sink) };
    let mut reporter = Reporter::new(true, Box::new(std::io::sink()));
    worker.run(true, &CancellationToken::new(), &mut reporter, &Notify::new(), Duration::from_secs(1)).await.unwrap();
    store
}

#[tokio::test]
async fn every_message_has_its_story_and_the_chain_holds_no_personal_data() {
    let store = triaged_sample_mailbox().await;
    let (signer, _) = super::sign::Signer::generate();
    store.sign_audit_head(&signer).await.unwrap();
    let report = store.verify_audit(signer.public_hex()).await.unwrap();
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.unsigned_tail, 0);

    // Each decided message: received, then decided, in that order, and sent when it was.
    let stories: Vec<(i64, String)> = sqlx::query_as("SELECT message, group_concat(kind, ' ') FROM (SELECT message, kind FROM audit_log WHERE message IS NOT NULL ORDER BY seq) GROUP BY message")
        .fetch_all(&store.pool)
        .await
        .unwrap();
    let decided: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM decisions").fetch_one(&store.pool).await.unwrap();
    assert_eq!(stories.len() as i64, decided);
    for (message, story) in &stories {
        assert!(story.starts_with("message.received"), "message {message}: {story}");
        assert!(story.contains("message.decided"), "message {message}: {story}");
    }
    let auto_sent = stories.iter().find(|(_, s)| s.contains("reply.checked") && s.contains("message.sent")).expect("an answered message");
    assert!(auto_sent.1.find("message.decided") < auto_sent.1.find("message.sent"), "{}", auto_sent.1);

    // Everything personal the other tables hold, and the trail's text.
    let mut personal: Vec<String> = Vec::new();
    for sql in ["SELECT sender FROM decisions", "SELECT customer FROM decisions", "SELECT subject FROM decisions", "SELECT recipient FROM outbox"] {
        for r in sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&store.pool).await.unwrap() {
            if let Some(v) = r.get::<Option<String>, _>(0).filter(|v| v.len() > 3) {
                personal.push(v);
            }
        }
    }
    assert!(personal.len() > 100, "the test looks for real values");
    let trail: Vec<String> = sqlx::query("SELECT kind || ' ' || actor || ' ' || COALESCE(subject, '') || ' ' || data FROM audit_log")
        .fetch_all(&store.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    let text = trail.join("\n").to_lowercase();
    for p in &personal {
        assert!(!text.contains(&p.to_lowercase()), "the trail names `{p}`");
    }
}

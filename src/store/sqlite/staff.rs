//! SQLite side of the web queue: accounts, sessions, tokens, login throttling, and the queue.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, json};
use crate::domain::{Role, Username};
use crate::store::staff::*;
use crate::store::{OutboxItem, StoreError};

const USER_COLUMNS: &str = "u.id, u.username, u.role, u.disabled_at, u.created_at";

fn user(r: &SqliteRow) -> Result<User, StoreError> {
    let name: String = r.get("username");
    let role: String = r.get("role");
    Ok(User {
        id: r.get("id"),
        username: Username::parse(&name).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        role: role.parse().map_err(|e: crate::domain::UnknownRole| StoreError::Corrupt(e.to_string()))?,
        disabled: r.get::<Option<String>, _>("disabled_at").is_some(),
        created_at: r.get("created_at"),
    })
}

/// `Conflict` for a UNIQUE violation, the database error otherwise.
fn conflict_or(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what()),
        _ => StoreError::Database(e),
    }
}

fn no_such_user(username: &Username) -> StoreError {
    StoreError::NotFound(format!("no user `{username}`; `switchyard user list` shows who exists"))
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn add_user(&self, username: &Username, role: Role, password_hash: &str, by: &str) -> Result<User, StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO users (username, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
            .bind(username.as_str())
            .bind(role.as_str())
            .bind(password_hash)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_or(e, || format!("user `{username}` already exists")))?;
        account_changed(&mut tx, username, serde_json::json!({"change": "added", "role": role.as_str()}), by).await?;
        tx.commit().await?;
        let (user, _) = self.user_for_login(username).await?.ok_or_else(|| no_such_user(username))?;
        Ok(user)
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.username")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user).collect()
    }

    async fn user_for_login(&self, username: &Username) -> Result<Option<(User, String)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = ?")))
            .bind(username.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((user(&r)?, r.get("password_hash")))).transpose()
    }

    async fn set_password(&self, username: &Username, password_hash: &str, by: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?")
            .bind(password_hash)
            .bind(Utc::now())
            .bind(username.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(no_such_user(username));
        }
        account_changed(&mut tx, username, serde_json::json!({"change": "password"}), by).await?;
        end_sessions(&mut tx, username).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_role(&self, username: &Username, role: Role, by: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET role = ?, updated_at = ? WHERE username = ?")
            .bind(role.as_str())
            .bind(Utc::now())
            .bind(username.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(no_such_user(username));
        }
        account_changed(&mut tx, username, serde_json::json!({"change": "role", "role": role.as_str()}), by).await?;
        end_sessions(&mut tx, username).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_disabled(&self, username: &Username, disabled: bool, by: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = Utc::now();
        let done = sqlx::query("UPDATE users SET disabled_at = ?, updated_at = ? WHERE username = ?")
            .bind(disabled.then_some(now))
            .bind(now)
            .bind(username.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(no_such_user(username));
        }
        account_changed(&mut tx, username, serde_json::json!({"change": if disabled { "disabled" } else { "enabled" }}), by).await?;
        end_sessions(&mut tx, username).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(&self, user: i64, token_sha256: &str, csrf: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        let now = Utc::now();
        // Expired sessions of anyone are cleared here, so the table does not grow without end.
        sqlx::query("DELETE FROM sessions WHERE expires_at < ?").bind(now).execute(&self.pool).await?;
        sqlx::query("INSERT INTO sessions (token_sha256, user, csrf, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(token_sha256)
            .bind(user)
            .bind(csrf)
            .bind(now)
            .bind(now)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session(&self, token_sha256: &str, now: DateTime<Utc>, idle_since: DateTime<Utc>) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, s.csrf, s.expires_at, s.last_seen_at
             FROM sessions s JOIN users u ON u.id = s.user WHERE s.token_sha256 = ?"
        )))
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (expires_at, last_seen): (DateTime<Utc>, DateTime<Utc>) = (row.get("expires_at"), row.get("last_seen_at"));
        let user = user(&row)?;
        if user.disabled || expires_at <= now || last_seen < idle_since {
            self.end_session(token_sha256).await?;
            return Ok(None);
        }
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE token_sha256 = ?").bind(now).bind(token_sha256).execute(&self.pool).await?;
        Ok(Some(Session { user, csrf: row.get("csrf"), expires_at }))
    }

    async fn end_session(&self, token_sha256: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_sha256 = ?").bind(token_sha256).execute(&self.pool).await?;
        Ok(())
    }

    async fn add_token(&self, username: &Username, name: &str, token_sha256: &str, by: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO api_tokens (user, name, token_sha256, created_at) SELECT id, ?, ?, ? FROM users WHERE username = ?",
        )
        .bind(name)
        .bind(token_sha256)
        .bind(Utc::now())
        .bind(username.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || format!("`{username}` already has a token named `{name}`; revoke it or pick another name")))?;
        if done.rows_affected() == 0 {
            return Err(no_such_user(username));
        }
        account_changed(&mut tx, username, serde_json::json!({"change": "token_added", "token": name}), by).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn token_user(&self, token_sha256: &str, now: DateTime<Utc>) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, t.id AS token FROM api_tokens t JOIN users u ON u.id = t.user
             WHERE t.token_sha256 = ? AND t.revoked_at IS NULL"
        )))
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = user(&row)?;
        if user.disabled {
            return Ok(None);
        }
        sqlx::query("UPDATE api_tokens SET last_used_at = ? WHERE id = ?").bind(now).bind(row.get::<i64, _>("token")).execute(&self.pool).await?;
        Ok(Some(user))
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.username, t.name, t.created_at, t.last_used_at, t.revoked_at IS NOT NULL AS revoked
             FROM api_tokens t JOIN users u ON u.id = t.user ORDER BY u.username, t.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenRecord {
                    username: Username::parse(r.get("username")).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    name: r.get("name"),
                    created_at: r.get("created_at"),
                    last_used_at: r.get("last_used_at"),
                    revoked: r.get("revoked"),
                })
            })
            .collect()
    }

    async fn revoke_token(&self, username: &Username, name: &str, by: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL
             AND user = (SELECT id FROM users WHERE username = ?)",
        )
        .bind(Utc::now())
        .bind(name)
        .bind(username.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("`{username}` has no live token named `{name}`; `switchyard token list` shows them")));
        }
        account_changed(&mut tx, username, serde_json::json!({"change": "token_revoked", "token": name}), by).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn login_failures(&self, username: &str, client: &str, since: DateTime<Utc>) -> Result<LoginFailures, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM login_failures WHERE username = ?1 AND at >= ?3) AS for_user,
                    (SELECT COUNT(*) FROM login_failures WHERE client = ?2 AND at >= ?3) AS from_client,
                    (SELECT MIN(at) FROM login_failures WHERE (username = ?1 OR client = ?2) AND at >= ?3) AS oldest",
        )
        .bind(username)
        .bind(client)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(LoginFailures {
            for_user: row.get::<i64, _>("for_user") as u32,
            from_client: row.get::<i64, _>("from_client") as u32,
            oldest: row.get("oldest"),
        })
    }

    async fn record_login_failure(&self, username: &str, client: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        // Failures older than a day help no window: drop them as new ones come.
        sqlx::query("DELETE FROM login_failures WHERE at < ?").bind(at - chrono::Duration::days(1)).execute(&self.pool).await?;
        sqlx::query("INSERT INTO login_failures (username, client, at) VALUES (?, ?, ?)")
            .bind(username)
            .bind(client)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn clear_login_failures(&self, username: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE username = ?").bind(username).execute(&self.pool).await?;
        Ok(())
    }
}

/// Who may do what is configuration: every change to an account or token is in the trail.
async fn account_changed(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, username: &Username, mut data: serde_json::Value, by: &str) -> Result<(), StoreError> {
    data["user"] = username.as_str().into();
    crate::audit::append(tx, &[crate::audit::NewEntry::new("account.changed", None, data).by(by)], Utc::now()).await
}

async fn end_sessions(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, username: &Username) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE user = (SELECT id FROM users WHERE username = ?)")
        .bind(username.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The columns of a queue line. Corrections by staff take precedence over the decision's
/// reading; emergencies count as escalated from the start.
const ITEM_COLUMNS: &str = "SELECT d.message, m.received_at, m.channel AS mailbox, d.sender, d.customer,
        COALESCE(d.subject, d.draft_subject) AS subject, COALESCE(c.intent, d.intent) AS intent,
        COALESCE(c.urgency, d.urgency) AS urgency, d.language, d.confidence, d.decision,
        COALESCE(a.state, 'no_action') AS state, a.assignee,
        (a.escalated_at IS NOT NULL OR d.decision = 'escalate') AS escalated, COALESCE(a.draft_message_id IS NOT NULL, 0) AS has_draft,
        (SELECT COUNT(*) FROM json_each(d.claims) WHERE json_extract(value, '$.matched') IS NULL) AS unverified_claims";

const ITEM_FROM: &str = "FROM decisions d JOIN messages m ON m.id = d.message LEFT JOIN approvals a ON a.message = d.message
    LEFT JOIN corrections c ON c.message = d.message";

const URGENCY_RANK: &str = "CASE COALESCE(c.urgency, d.urgency) WHEN 'emergency' THEN 0 WHEN 'high' THEN 1
    WHEN 'normal' THEN 2 WHEN 'low' THEN 3 ELSE 4 END";

fn item(r: &SqliteRow) -> QueueItem {
    QueueItem {
        message: r.get("message"),
        received_at: r.get("received_at"),
        mailbox: r.get("mailbox"),
        sender: r.get("sender"),
        customer: r.get("customer"),
        subject: r.get("subject"),
        intent: r.get("intent"),
        urgency: r.get("urgency"),
        language: r.get("language"),
        confidence: r.get("confidence"),
        decision: r.get("decision"),
        state: r.get("state"),
        assignee: r.get("assignee"),
        escalated: r.get("escalated"),
        has_draft: r.get("has_draft"),
        unverified_claims: r.get("unverified_claims"),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(text: Option<String>, what: &str) -> Result<T, StoreError>
where
    T: Default,
{
    match text {
        None => Ok(T::default()),
        Some(t) => serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("{what}: {e}"))),
    }
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn queue(&self, f: &QueueFilter) -> Result<Vec<QueueItem>, StoreError> {
        let state = match f.state {
            StateFilter::Open => "a.state = 'waiting'",
            StateFilter::Escalated => "a.state = 'waiting' AND (a.escalated_at IS NOT NULL OR d.decision = 'escalate')",
            StateFilter::Done => "a.state <> 'waiting'",
            StateFilter::All => "a.message IS NOT NULL",
        };
        let sql = format!(
            "{ITEM_COLUMNS} {ITEM_FROM} WHERE {state} AND (?1 IS NULL OR COALESCE(c.intent, d.intent) = ?1) AND (?2 IS NULL OR d.language = ?2)
               AND (?3 IS NULL OR m.channel = ?3) AND (?4 IS NULL OR a.assignee = ?4)
             ORDER BY {URGENCY_RANK}, m.received_at, d.message LIMIT ?5 OFFSET ?6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(f.intent.map(|i| i.as_str()))
            .bind(f.language.map(|l| l.as_str()))
            .bind(f.mailbox.as_deref())
            .bind(f.assignee.as_deref())
            .bind(f.limit.max(1))
            .bind(f.offset)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(item).collect())
    }

    async fn queue_stats(&self) -> Result<QueueStats, StoreError> {
        let pairs = |sql: &'static str| async move {
            let rows: Vec<(Option<String>, i64)> = sqlx::query_as(sql).fetch_all(&self.pool).await?;
            Ok::<_, StoreError>(rows.into_iter().map(|(k, n)| (k.unwrap_or_else(|| "unknown".into()), n)).collect::<Vec<_>>())
        };
        let open_by_urgency = pairs(
            "SELECT COALESCE(c.urgency, d.urgency), COUNT(*) FROM approvals a JOIN decisions d ON d.message = a.message
             LEFT JOIN corrections c ON c.message = a.message WHERE a.state = 'waiting'
             GROUP BY 1 ORDER BY CASE COALESCE(c.urgency, d.urgency) WHEN 'emergency' THEN 0 WHEN 'high' THEN 1
             WHEN 'normal' THEN 2 WHEN 'low' THEN 3 ELSE 4 END",
        )
        .await?;
        let open_by_intent = pairs(
            "SELECT COALESCE(c.intent, d.intent), COUNT(*) FROM approvals a JOIN decisions d ON d.message = a.message
             LEFT JOIN corrections c ON c.message = a.message WHERE a.state = 'waiting' GROUP BY 1 ORDER BY 2 DESC, 1",
        )
        .await?;
        let resolved_by_state = pairs("SELECT state, COUNT(*) FROM approvals WHERE state <> 'waiting' GROUP BY 1 ORDER BY 1").await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS open,
                    SUM(a.escalated_at IS NOT NULL OR d.decision = 'escalate') AS escalated,
                    MIN(m.received_at) AS oldest
             FROM approvals a JOIN decisions d ON d.message = a.message JOIN messages m ON m.id = a.message
             WHERE a.state = 'waiting'",
        )
        .fetch_one(&self.pool)
        .await?;
        let mailboxes: Vec<String> = sqlx::query_scalar("SELECT DISTINCT channel FROM approvals ORDER BY 1").fetch_all(&self.pool).await?;
        let oldest: Option<DateTime<Utc>> = row.get("oldest");
        Ok(QueueStats {
            open: row.get("open"),
            escalated: row.get::<Option<i64>, _>("escalated").unwrap_or(0),
            open_by_urgency,
            open_by_intent,
            resolved_by_state,
            oldest_open_seconds: oldest.map(|t| (Utc::now() - t).num_seconds().max(0)),
            mailboxes,
        })
    }

    async fn case(&self, message: i64) -> Result<Option<Case>, StoreError> {
        let sql = format!(
            "{ITEM_COLUMNS}, m.raw, m.stored_len, m.channel_ref, d.reasons, d.facts, d.claims, d.policy_version, d.model,
                d.decided_by, d.decided_at, d.draft_subject, d.draft_body, a.proposal, a.edited_text, a.edited_by, a.escalated_by,
                a.sent_by, a.resolved_via, COALESCE(a.sent_at, CASE WHEN a.state <> 'waiting' THEN a.updated_at END) AS resolved_at,
                a.sent_text, a.diff, a.reason, c.intent AS c_intent, c.urgency AS c_urgency, c.corrected_by, c.corrected_at
             {ITEM_FROM} WHERE d.message = ?"
        );
        let Some(r) = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(message).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let outbox = sqlx::query(
            "SELECT id, kind, recipient, state, attempts, created_at, sent_at, last_error FROM outbox WHERE message = ? ORDER BY id",
        )
        .bind(message)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|o| OutboxRecord {
            id: o.get("id"),
            kind: o.get("kind"),
            recipient: o.get("recipient"),
            state: o.get("state"),
            attempts: o.get("attempts"),
            created_at: o.get("created_at"),
            sent_at: o.get("sent_at"),
            last_error: o.get("last_error"),
        })
        .collect();
        let actions = sqlx::query("SELECT actor, action, detail, at FROM staff_actions WHERE message = ? ORDER BY id")
            .bind(message)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|a| StaffAction {
                actor: a.get("actor"),
                action: a.get("action"),
                detail: serde_json::from_str(a.get("detail")).unwrap_or(serde_json::Value::Null),
                at: a.get("at"),
            })
            .collect();
        let correction = r.get::<Option<String>, _>("corrected_by").map(|by| CorrectionRecord {
            intent: r.get("c_intent"),
            urgency: r.get("c_urgency"),
            by,
            at: r.get("corrected_at"),
        });
        Ok(Some(Case {
            item: item(&r),
            raw: r.get("raw"),
            stored_len: r.get::<i64, _>("stored_len") as u64,
            source: format!("{}/{}", r.get::<String, _>("mailbox"), r.get::<String, _>("channel_ref")),
            reasons: parse_json(r.get("reasons"), "decision reasons")?,
            facts: parse_json(r.get("facts"), "decision facts")?,
            claims: parse_json(r.get("claims"), "decision claims")?,
            policy_version: r.get("policy_version"),
            model: r.get("model"),
            decided_by: r.get("decided_by"),
            decided_at: r.get("decided_at"),
            draft_subject: r.get("draft_subject"),
            reply_body: r.get("draft_body"),
            proposal: r.get::<Option<String>, _>("proposal").unwrap_or_default(),
            edited_text: r.get("edited_text"),
            edited_by: r.get("edited_by"),
            escalated_by: r.get("escalated_by"),
            resolved_by: r.get("sent_by"),
            resolved_via: r.get("resolved_via"),
            resolved_at: r.get("resolved_at"),
            sent_text: r.get("sent_text"),
            diff: r.get("diff"),
            resolution_reason: r.get("reason"),
            correction,
            outbox,
            actions,
        }))
    }

    async fn history(&self, message: i64, limit: u32) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.message, m.received_at, COALESCE(d.subject, d.draft_subject) AS subject, d.intent, d.decision, a.state
             FROM decisions d JOIN messages m ON m.id = d.message LEFT JOIN approvals a ON a.message = d.message,
                  (SELECT sender, customer FROM decisions WHERE message = ?1) this
             WHERE d.message <> ?1 AND (d.sender = this.sender OR (this.customer IS NOT NULL AND d.customer = this.customer))
             ORDER BY m.received_at DESC, d.message DESC LIMIT ?2",
        )
        .bind(message)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| HistoryEntry {
                message: r.get("message"),
                received_at: r.get("received_at"),
                subject: r.get("subject"),
                intent: r.get("intent"),
                decision: r.get("decision"),
                state: r.get("state"),
            })
            .collect())
    }

    async fn decisions(&self, since: Option<DateTime<Utc>>, limit: u32) -> Result<Vec<DecisionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.message, d.decided_at, m.channel, d.decision, COALESCE(c.intent, d.intent) AS intent,
                    COALESCE(c.urgency, d.urgency) AS urgency, d.language, d.confidence, d.reasons, d.policy_version, d.decided_by
             FROM decisions d JOIN messages m ON m.id = d.message LEFT JOIN corrections c ON c.message = d.message
             WHERE ?1 IS NULL OR d.decided_at > ?1 ORDER BY d.decided_at, d.message LIMIT ?2",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DecisionRecord {
                    message: r.get("message"),
                    decided_at: r.get("decided_at"),
                    mailbox: r.get("channel"),
                    decision: r.get("decision"),
                    intent: r.get("intent"),
                    urgency: r.get("urgency"),
                    language: r.get("language"),
                    confidence: r.get("confidence"),
                    reasons: parse_json(r.get("reasons"), "decision reasons")?,
                    policy_version: r.get("policy_version"),
                    decided_by: r.get("decided_by"),
                })
            })
            .collect()
    }

    async fn approve(&self, a: &Approval) -> Result<OutboxItem, StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let state = if a.edited { "approved_edited" } else { "approved" };
        let unverified = a.claims.iter().filter(|c| c.matched.is_none()).count() as i64;
        let done = sqlx::query(
            "UPDATE approvals SET state = ?, sent_message_id = ?, sent_by = ?, sent_at = ?, sent_text = ?, diff = ?, claims = ?,
                unverified_claims = ?, facts = ?, reason = ?, resolved_via = ?, updated_at = ?
             WHERE message = ? AND state = 'waiting'",
        )
        .bind(state)
        .bind(a.reply.message_id.as_str())
        .bind(a.by.as_str())
        .bind(now)
        .bind(&a.text)
        .bind(&a.diff)
        .bind(json(&a.claims))
        .bind(unverified)
        .bind(json(&a.facts))
        .bind(&a.override_reason)
        .bind(a.via.as_str())
        .bind(now)
        .bind(a.message)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(not_waiting(a.message));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (message, channel, kind, rfc_message_id, recipient, raw, next_attempt_at, created_at)
             VALUES (?, ?, 'reply', ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(a.message)
        .bind(&a.channel)
        .bind(a.reply.message_id.as_str())
        .bind(a.reply.recipient.as_str())
        .bind(&a.reply.raw)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || format!("a reply to message {} was already queued", a.message)))?;
        let detail = serde_json::json!({
            "state": state,
            "diff": a.diff,
            "unverified_claims": unverified,
            "override_reason": a.override_reason,
            "reply": a.reply.message_id.as_str(),
        });
        action(&mut tx, a.message, &a.by, a.via, "approve", &detail).await?;
        tx.commit().await?;
        Ok(OutboxItem {
            id,
            message: a.message,
            channel: a.channel.clone(),
            kind: crate::pipeline::act::OutgoingKind::Reply,
            rfc_message_id: a.reply.message_id.clone(),
            recipient: a.reply.recipient.clone(),
            raw: a.reply.raw.clone(),
            attempts: 0,
        })
    }

    async fn change_item(&self, message: i64, by: &Username, via: Via, change: &ItemChange) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let (updated, detail) = match change {
            ItemChange::Reject { reason } => {
                let q = sqlx::query(
                    "UPDATE approvals SET state = 'rejected', reason = ?, sent_by = ?, resolved_via = ?, updated_at = ?
                     WHERE message = ? AND state = 'waiting'",
                )
                .bind(reason)
                .bind(by.as_str())
                .bind(via.as_str());
                (q.bind(now).bind(message).execute(&mut *tx).await?, serde_json::json!({ "reason": reason }))
            }
            ItemChange::Escalate { note } => {
                let q = sqlx::query(
                    "UPDATE approvals SET escalated_by = ?, escalated_at = ?, updated_at = ? WHERE message = ? AND state = 'waiting'",
                )
                .bind(by.as_str())
                .bind(now);
                (q.bind(now).bind(message).execute(&mut *tx).await?, serde_json::json!({ "note": note }))
            }
            ItemChange::Reassign { to } => {
                let q = sqlx::query("UPDATE approvals SET assignee = ?, updated_at = ? WHERE message = ?").bind(to.as_ref().map(Username::as_str));
                (q.bind(now).bind(message).execute(&mut *tx).await?, serde_json::json!({ "to": to }))
            }
            ItemChange::SaveEdit { text } => {
                let q = sqlx::query(
                    "UPDATE approvals SET edited_text = ?, edited_by = ?, edited_at = ?, updated_at = ? WHERE message = ? AND state = 'waiting'",
                )
                .bind(text)
                .bind(by.as_str())
                .bind(now);
                (q.bind(now).bind(message).execute(&mut *tx).await?, serde_json::json!({ "chars": text.chars().count() }))
            }
            ItemChange::Correct { intent, urgency } => {
                correct_in(&mut tx, message, *intent, *urgency, by.as_str()).await?;
                action(&mut tx, message, by, via, change.action(), &serde_json::json!({ "intent": intent, "urgency": urgency })).await?;
                tx.commit().await?;
                return Ok(());
            }
        };
        if updated.rows_affected() == 0 {
            return Err(not_waiting(message));
        }
        action(&mut tx, message, by, via, change.action(), &detail).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn not_waiting(message: i64) -> StoreError {
    StoreError::Conflict(format!("message {message} is not waiting for a person any more (someone resolved it, or it is not in the queue)"))
}

async fn action(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    message: i64,
    by: &Username,
    via: Via,
    what: &str,
    detail: &serde_json::Value,
) -> Result<(), StoreError> {
    let mut detail = detail.clone();
    detail["via"] = via.as_str().into();
    let now = Utc::now();
    sqlx::query("INSERT INTO staff_actions (message, actor, action, detail, at) VALUES (?, ?, ?, ?, ?)")
        .bind(message)
        .bind(by.as_str())
        .bind(what)
        .bind(detail.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let entry = crate::audit::NewEntry::new(audit_kind(what), Some(message), audit_detail(&detail)).by(by.as_str());
    crate::audit::append(tx, &[entry], now).await?;
    Ok(())
}

fn audit_kind(action: &str) -> &'static str {
    match action {
        "approve" => "draft.approved",
        "reject" => "draft.rejected",
        "escalate" => "item.escalated",
        "reassign" => "item.reassigned",
        "edit" => "draft.edited",
        "correct" => "message.corrected",
        _ => "staff.action",
    }
}

/// The trail keeps what people wrote (a reason, a note, a diff) only as its hash; the text
/// itself stays in `staff_actions` and `approvals`, where erasure can reach it.
fn audit_detail(detail: &serde_json::Value) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (k, v) in detail.as_object().into_iter().flatten() {
        match (k.as_str(), v) {
            ("reason" | "note" | "diff" | "override_reason", serde_json::Value::String(text)) => {
                out.insert(format!("{k}_sha256"), crate::audit::sha256_hex(text.as_bytes()).into());
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    serde_json::Value::Object(out)
}

/// Records a correction of a classified message (the latest wins per axis).
pub(super) async fn correct_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    message: i64,
    intent: Option<crate::domain::Intent>,
    urgency: Option<crate::domain::Urgency>,
    by: &str,
) -> Result<(), StoreError> {
    let decided: Option<String> = sqlx::query_scalar("SELECT decision FROM decisions WHERE message = ?").bind(message).fetch_optional(&mut **tx).await?;
    match decided.as_deref() {
        None => return Err(StoreError::NotFound(format!("message {message} has no decision yet"))),
        Some("ignore" | "quarantine") => {
            return Err(StoreError::NotFound(format!("message {message} was never classified (ignored or quarantined)")));
        }
        Some(_) => {}
    }
    sqlx::query(
        "INSERT INTO corrections (message, intent, urgency, corrected_by, corrected_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (message) DO UPDATE SET intent = COALESCE(excluded.intent, intent),
            urgency = COALESCE(excluded.urgency, urgency), corrected_by = excluded.corrected_by,
            corrected_at = excluded.corrected_at",
    )
    .bind(message)
    .bind(intent.map(|i| i.as_str()))
    .bind(urgency.map(|u| u.as_str()))
    .bind(by)
    .bind(Utc::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

-- Switchyard schema, SQLite. migrations/postgres/ holds the same schema for PostgreSQL.

-- Every inbound message, stored before it is processed.
CREATE TABLE messages (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    channel           TEXT    NOT NULL,               -- e.g. maildir:inbox
    channel_ref       TEXT    NOT NULL,               -- file name, UID: unique within the channel
    raw               BLOB    NOT NULL,
    raw_sha256        TEXT    NOT NULL,
    stored_len        INTEGER NOT NULL,               -- original size (raw may be a prefix if oversized)
    received_at       TEXT    NOT NULL,
    state             TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    UNIQUE (channel, channel_ref)
);
CREATE INDEX messages_pending ON messages (id) WHERE state = 'pending';

-- One decision per message, written in the same transaction as its outbox rows.
CREATE TABLE decisions (
    message           INTEGER PRIMARY KEY REFERENCES messages (id),
    header_message_id TEXT,
    sender            TEXT,
    customer          TEXT,
    language          TEXT,
    intent            TEXT,
    urgency           TEXT,
    confidence        REAL,
    decision          TEXT    NOT NULL,
    reasons           TEXT    NOT NULL,               -- JSON [{code, detail}]
    policy_version    TEXT    NOT NULL,
    model             TEXT,
    facts             TEXT    NOT NULL,               -- JSON
    claims            TEXT    NOT NULL,               -- JSON
    draft_subject     TEXT,
    draft_body        TEXT,
    decided_at        TEXT    NOT NULL
);
CREATE INDEX decisions_header_message_id ON decisions (header_message_id);

-- Messages to deliver: replies, drafts for approval, alerts. Marked when delivered.
CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    message           INTEGER NOT NULL REFERENCES messages (id),
    kind              TEXT    NOT NULL CHECK (kind IN ('reply', 'draft', 'alert')),
    rfc_message_id    TEXT    NOT NULL UNIQUE,
    recipient         TEXT    NOT NULL,
    raw               BLOB    NOT NULL,
    state             TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT    NOT NULL,
    last_error        TEXT,
    created_at        TEXT    NOT NULL,
    sent_at           TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_by_message ON outbox (message);
CREATE INDEX outbox_replies_by_recipient ON outbox (recipient, created_at) WHERE kind = 'reply';

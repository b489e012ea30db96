-- Switchyard schema, SQLite.

-- Every inbound message, stored before it is processed.
CREATE TABLE messages (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    channel           TEXT    NOT NULL,               -- maildir:<dir> or imap:<mailbox>
    channel_ref       TEXT    NOT NULL,               -- file name, or <uidvalidity>:<uid>
    header_message_id TEXT,                           -- the Message-ID header, when present
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
CREATE INDEX messages_by_message_id ON messages (channel, header_message_id);
CREATE INDEX messages_by_content ON messages (raw_sha256);

-- Where each IMAP folder was read up to. Saved in the same transaction as the messages.
CREATE TABLE sync_cursors (
    channel           TEXT    NOT NULL,
    folder            TEXT    NOT NULL,
    uidvalidity       INTEGER NOT NULL,
    last_uid          INTEGER NOT NULL,
    PRIMARY KEY (channel, folder)
);

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

-- Messages to deliver: replies, drafts for approval, review notes, alerts.
CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    message           INTEGER NOT NULL REFERENCES messages (id),
    channel           TEXT    NOT NULL,               -- the channel that delivers it
    kind              TEXT    NOT NULL CHECK (kind IN ('reply', 'draft', 'note', 'alert')),
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

-- Drafts left for a person, and what became of them.
CREATE TABLE approvals (
    message           INTEGER PRIMARY KEY REFERENCES messages (id),
    channel           TEXT    NOT NULL,
    inbound_message_id TEXT,                          -- the customer's Message-ID: replies point to it
    draft_message_id  TEXT    NOT NULL,
    customer          TEXT    NOT NULL,               -- the draft's recipient
    proposal          TEXT    NOT NULL,               -- the draft's text
    state             TEXT    NOT NULL DEFAULT 'waiting'
                      CHECK (state IN ('waiting', 'sent', 'sent_edited', 'answered_without_draft', 'discarded')),
    sent_message_id   TEXT,
    sent_by           TEXT,
    sent_at           TEXT,
    sent_text         TEXT,
    diff              TEXT,
    claims            TEXT,                           -- JSON: the sent text fact-checked
    unverified_claims INTEGER,
    missing_since     TEXT,                           -- the draft left Drafts with no reply in Sent yet
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
);
CREATE INDEX approvals_waiting ON approvals (channel) WHERE state = 'waiting';

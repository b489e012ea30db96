-- Issue 6: the web queue and API. Staff accounts, their sessions and API tokens, what staff
-- did to each message, and a queue item for every decision that leaves work for a person.

-- Local staff accounts. The password is stored only as an argon2id PHC string.
CREATE TABLE users (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    username          TEXT    NOT NULL UNIQUE,
    role              TEXT    NOT NULL CHECK (role IN ('agent', 'supervisor', 'compliance', 'admin')),
    password_hash     TEXT    NOT NULL,
    disabled_at       TEXT,                           -- set: the user cannot sign in or use a token
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
);

-- Browser sessions. The cookie carries a random token; only its SHA-256 is stored, so a copy
-- of the database does not let anyone sign in.
CREATE TABLE sessions (
    token_sha256      TEXT    PRIMARY KEY,
    user              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf              TEXT    NOT NULL,               -- the form token of this session
    created_at        TEXT    NOT NULL,
    last_seen_at      TEXT    NOT NULL,
    expires_at        TEXT    NOT NULL                -- absolute end; idle expiry uses last_seen_at
);
CREATE INDEX sessions_by_user ON sessions (user);

-- Bearer tokens for the REST API; each acts as its user, with that user's role.
CREATE TABLE api_tokens (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    user              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    token_sha256      TEXT    NOT NULL UNIQUE,
    created_at        TEXT    NOT NULL,
    last_used_at      TEXT,
    revoked_at        TEXT,
    UNIQUE (user, name)
);

-- Failed sign-ins, for throttling by user name and by client address.
CREATE TABLE login_failures (
    username          TEXT    NOT NULL,
    client            TEXT    NOT NULL,
    at                TEXT    NOT NULL
);
CREATE INDEX login_failures_by_username ON login_failures (username, at);
CREATE INDEX login_failures_by_client ON login_failures (client, at);

-- Everything staff did to a message in Switchyard (web or API), oldest first.
CREATE TABLE staff_actions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    message           INTEGER NOT NULL REFERENCES messages (id),
    actor             TEXT    NOT NULL,               -- user name
    action            TEXT    NOT NULL,               -- approve, edit, reject, reassign, escalate, correct
    detail            TEXT    NOT NULL,               -- JSON: reason, diff, override, old and new values
    at                TEXT    NOT NULL
);
CREATE INDEX staff_actions_by_message ON staff_actions (message, id);

-- The approvals table becomes the queue: one item per decision that leaves work for a person
-- (approve or escalate), with or without a draft. SQLite cannot change a CHECK constraint in
-- place, so the table is rebuilt.
CREATE TABLE approvals_new (
    message           INTEGER PRIMARY KEY REFERENCES messages (id),
    channel           TEXT    NOT NULL,
    inbound_message_id TEXT,                          -- the customer's Message-ID: replies point to it
    draft_message_id  TEXT,                           -- NULL: no draft was written (a person writes the reply)
    customer          TEXT    NOT NULL,               -- the draft's recipient (the sender)
    proposal          TEXT    NOT NULL,               -- the draft's text ('' without a draft)
    state             TEXT    NOT NULL DEFAULT 'waiting'
                      CHECK (state IN ('waiting', 'sent', 'sent_edited', 'answered_without_draft', 'discarded',
                                       'approved', 'approved_edited', 'rejected')),
    sent_message_id   TEXT,
    sent_by           TEXT,
    sent_at           TEXT,
    sent_text         TEXT,
    diff              TEXT,
    claims            TEXT,                           -- JSON: the sent (or approved) text fact-checked
    unverified_claims INTEGER,
    missing_since     TEXT,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    -- Set by the web queue and the API.
    assignee          TEXT,                           -- user name of whoever should handle it
    escalated_by      TEXT,
    escalated_at      TEXT,
    edited_text       TEXT,                           -- saved edit, not yet approved
    edited_by         TEXT,
    edited_at         TEXT,
    resolved_via      TEXT CHECK (resolved_via IN ('mailbox', 'web', 'api')),
    reason            TEXT,                           -- why it was rejected, or why unverified claims were sent
    facts             TEXT                            -- JSON: the live facts the approved text was checked against
);
INSERT INTO approvals_new (message, channel, inbound_message_id, draft_message_id, customer, proposal, state,
        sent_message_id, sent_by, sent_at, sent_text, diff, claims, unverified_claims, missing_since, created_at, updated_at,
        resolved_via)
    SELECT a.message, a.channel, a.inbound_message_id, a.draft_message_id, a.customer, a.proposal, a.state,
        a.sent_message_id, a.sent_by, a.sent_at, a.sent_text, a.diff, a.claims, a.unverified_claims, a.missing_since,
        a.created_at, a.updated_at, CASE WHEN a.state = 'waiting' THEN NULL ELSE 'mailbox' END
    FROM approvals a;
DROP TABLE approvals;
ALTER TABLE approvals_new RENAME TO approvals;
CREATE INDEX approvals_waiting ON approvals (channel) WHERE state = 'waiting';
CREATE INDEX approvals_by_state ON approvals (state, message);

-- Escalations decided before this migration join the queue too.
INSERT INTO approvals (message, channel, inbound_message_id, customer, proposal, created_at, updated_at)
    SELECT d.message, m.channel, d.header_message_id, COALESCE(d.sender, ''), '', d.decided_at, d.decided_at
    FROM decisions d JOIN messages m ON m.id = d.message
    WHERE d.decision IN ('approve', 'escalate') AND d.message NOT IN (SELECT message FROM approvals);

-- The customer's subject, for the queue (decisions kept only the reply's subject; older rows
-- fall back to it).
ALTER TABLE decisions ADD COLUMN subject TEXT;

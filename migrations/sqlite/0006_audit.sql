-- Issue 7: the audit trail. Append-only; each entry is chained to the one before by SHA-256
-- and the chain head is signed with Ed25519 from time to time. Entries hold hashes, codes and
-- pseudonyms, never personal data: bodies and personal data stay in the other tables, where
-- retention and erasure can remove them without breaking the chain.

CREATE TABLE audit_log (
    seq               INTEGER PRIMARY KEY,            -- 1, 2, 3…: no gaps
    at                TEXT    NOT NULL,               -- RFC 3339, microseconds, UTC (hashed as stored)
    kind              TEXT    NOT NULL,               -- message.received, message.decided, draft.approved…
    message           INTEGER,                        -- the message's store id (no foreign key: it may be erased)
    actor             TEXT    NOT NULL,               -- `switchyard`, or the user name of a person
    subject           TEXT,                           -- the customer's pseudonym (see privacy_subjects)
    mailbox           TEXT,                           -- the channel, for export filters
    intent            TEXT,
    decision          TEXT,
    data              TEXT    NOT NULL,               -- JSON: hashes, keys, codes; no personal data
    prev_hash         TEXT    NOT NULL,               -- hash of entry seq - 1 (64 zeros for the first)
    hash              TEXT    NOT NULL                -- SHA-256 of this entry's fields and prev_hash
);
CREATE INDEX audit_log_by_message ON audit_log (message, seq);
CREATE INDEX audit_log_by_at ON audit_log (at);
CREATE INDEX audit_log_by_subject ON audit_log (subject, seq);

-- Signed chain heads: at this entry the chain's hash was this, signed with this key.
CREATE TABLE audit_heads (
    seq               INTEGER PRIMARY KEY,
    hash              TEXT    NOT NULL,
    signed_at         TEXT    NOT NULL,
    public_key        TEXT    NOT NULL,               -- hex Ed25519 public key
    signature         TEXT    NOT NULL                -- hex Ed25519 signature of the head statement
);

-- Customers' pseudonyms. The audit trail names a customer only by `ref`, a keyed hash with a
-- key of its own; erasing a customer deletes the row, after which nothing links the trail's
-- entries back to the person (crypto-shredding).
CREATE TABLE privacy_subjects (
    ref               TEXT    PRIMARY KEY,
    kind              TEXT    NOT NULL CHECK (kind IN ('account', 'email', 'phone')),
    value             TEXT    NOT NULL,
    key               TEXT    NOT NULL,               -- hex, 32 random bytes
    created_at        TEXT    NOT NULL,
    UNIQUE (kind, value)
);

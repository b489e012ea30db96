-- Issue 7: privacy. Consent records, and what retention and erasure leave of a message: its
-- codes and times stay, its body and personal data go (see docs/readme-privacy.md).

-- What a customer agreed to, per channel and purpose. Records are never changed: the latest
-- one per (subject, channel, purpose) is what holds, the earlier ones are its history.
CREATE TABLE consents (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_kind      TEXT    NOT NULL CHECK (subject_kind IN ('account', 'email')),
    subject           TEXT    NOT NULL,               -- the account number, or the address (lower case)
    channel           TEXT    NOT NULL CHECK (channel IN ('email', 'whatsapp')),
    purpose           TEXT    NOT NULL CHECK (purpose IN ('service', 'assistance_info')),
    granted           INTEGER NOT NULL CHECK (granted IN (0, 1)),
    source            TEXT    NOT NULL,               -- how it was given: "phone call", "web form"…
    recorded_at       TEXT    NOT NULL,
    recorded_by       TEXT    NOT NULL
);
CREATE INDEX consents_by_subject ON consents (subject_kind, subject, channel, purpose, recorded_at);
CREATE INDEX consents_by_purpose ON consents (purpose, channel);

-- A message whose body and personal data were removed: by the retention period or by an
-- erasure request. `files_left` is set in the same transaction and cleared once its Maildir
-- files are gone, so a crash in between only delays their removal to the next purge.
ALTER TABLE messages ADD COLUMN purged_at TEXT;
ALTER TABLE messages ADD COLUMN purge_reason TEXT CHECK (purge_reason IN ('retention', 'erasure'));
ALTER TABLE messages ADD COLUMN files_left INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_unpurged ON messages (received_at) WHERE purged_at IS NULL;
CREATE INDEX messages_files_left ON messages (id) WHERE files_left = 1;
CREATE INDEX decisions_by_customer ON decisions (customer);
CREATE INDEX decisions_by_sender ON decisions (sender);

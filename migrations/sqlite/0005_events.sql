-- Issue 6: events for outgoing webhooks. An event is written in the same transaction as the
-- fact it reports (a decision, a reply sent), so a crash can never lose one; its deliveries
-- to each webhook are rows here too, so a crash between commit and POST loses nothing either.

-- What happened, one row per event. Never personal data: ids, codes and times only.
CREATE TABLE events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,  -- the event's "id" in the payload
    kind              TEXT    NOT NULL,                   -- message.triaged | draft.pending | reply.sent | …
    message           INTEGER NOT NULL REFERENCES messages (id),  -- the message it is about
    payload           TEXT    NOT NULL,                   -- JSON: the payload's "data" object
    created_at        TEXT    NOT NULL                    -- when the fact was committed (UTC)
);

-- How far each configured webhook has been given events: events after `last_event` have no
-- delivery row for it yet. A webhook is registered at the latest event when first configured,
-- so it receives what happens from then on, not the history.
CREATE TABLE webhook_cursors (
    webhook           TEXT    PRIMARY KEY,                -- the [[webhooks]] name
    last_event        INTEGER NOT NULL                    -- events.id up to which rows were created
);

-- One POST to make: an event for one webhook that subscribes to its kind.
CREATE TABLE webhook_deliveries (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    event             INTEGER NOT NULL REFERENCES events (id),
    webhook           TEXT    NOT NULL,                   -- the [[webhooks]] name
    delivery_id       TEXT    NOT NULL UNIQUE,            -- X-Switchyard-Delivery: random, the same on every retry
    state             TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,         -- POSTs whose outcome was recorded
    next_attempt_at   TEXT    NOT NULL,                   -- due from then (UTC); meaningful while pending
    last_status       INTEGER,                            -- HTTP status of the last answer; NULL: none (connection, timeout)
    last_error        TEXT,                               -- why the last attempt did not deliver
    last_attempt_at   TEXT,
    created_at        TEXT    NOT NULL,
    delivered_at      TEXT,                               -- when a 2xx was received
    UNIQUE (event, webhook)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (last_attempt_at) WHERE state = 'failed';
CREATE INDEX events_by_message ON events (message);

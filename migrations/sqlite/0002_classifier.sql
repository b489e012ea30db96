-- Issue 4: staff corrections for training, and what the LLM (when configured) did per message.

-- Intents and urgencies corrected by staff; `switchyard train` learns from them.
CREATE TABLE corrections (
    message           INTEGER PRIMARY KEY REFERENCES messages (id),
    intent            TEXT,
    urgency           TEXT,
    corrected_by      TEXT    NOT NULL,
    corrected_at      TEXT    NOT NULL
);

-- The LLM's part in a classification: NULL when it was not asked.
ALTER TABLE decisions ADD COLUMN decided_by     TEXT;     -- local | llm | safety
ALTER TABLE decisions ADD COLUMN llm_model      TEXT;
ALTER TABLE decisions ADD COLUMN llm_prompt     TEXT;     -- prompt version (hash)
ALTER TABLE decisions ADD COLUMN llm_outcome    TEXT;     -- accepted | overridden | fallback: reason
ALTER TABLE decisions ADD COLUMN llm_tokens_in  INTEGER;
ALTER TABLE decisions ADD COLUMN llm_tokens_out INTEGER;
ALTER TABLE decisions ADD COLUMN llm_cost       REAL;

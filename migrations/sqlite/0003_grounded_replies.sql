-- Issue 5: how each reply was written, and the facts it was checked against before sending.

ALTER TABLE decisions ADD COLUMN draft_template  TEXT;    -- replies/<intent>.<lang>.txt, or llm:<template>
ALTER TABLE decisions ADD COLUMN draft_llm       TEXT;    -- JSON: model, prompt version, outcome, tokens, cost, slots used
ALTER TABLE decisions ADD COLUMN draft_llm_prompt TEXT;   -- the drafting prompt's version, for queries
ALTER TABLE decisions ADD COLUMN redecided_at    TEXT;    -- set when a fact changed before sending and the reply was rebuilt

-- What each LLM call cost: which API format, and the cost the provider reported (USD).
ALTER TABLE llm_calls ADD COLUMN api TEXT NOT NULL DEFAULT 'chat-completions';
ALTER TABLE llm_calls ADD COLUMN cost REAL;

-- Cleanup folds old calls into one row per UTC day, API and model before deleting them,
-- so `stats` can still say what the LLM cost in total.
CREATE TABLE llm_usage_days (
    day           INTEGER NOT NULL,  -- Unix ms of the UTC day's start
    api           TEXT    NOT NULL,
    model         TEXT    NOT NULL,
    calls         INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost          REAL,              -- NULL while no call of the day reported a cost
    PRIMARY KEY (day, api, model)
) WITHOUT ROWID;

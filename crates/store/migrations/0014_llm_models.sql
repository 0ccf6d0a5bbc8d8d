-- What each LLM call brought beside its text: how many sources came back (NULL for a
-- failed call), and a note when the answer was cut short or its images were left out.
ALTER TABLE llm_calls ADD COLUMN sources INTEGER;
ALTER TABLE llm_calls ADD COLUMN note TEXT;

-- What wabot learned about a model from its answers: a server that refused images for
-- it (llama.cpp without a projector, a text-only vLLM or Ollama model) is sent none
-- until `until`, when one request tries again (the server may have gained a projector).
CREATE TABLE llm_models (
    endpoint        TEXT    NOT NULL,  -- the URL requests go to
    model           TEXT    NOT NULL,  -- the model or preset label
    no_images_until INTEGER NOT NULL,  -- Unix ms
    reason          TEXT    NOT NULL,  -- the server's words
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (endpoint, model)
) WITHOUT ROWID;

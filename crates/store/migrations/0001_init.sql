-- wabot schema, version 1. Instants are INTEGER Unix milliseconds (UTC).

-- Every stored message. (chat_jid, id) is WhatsApp's identity of a message.
-- status is the agent's processing state:
--   history  stored for context/search only, never answered (imports, history sync, other chats)
--   pending  waiting for the agent; claim_token/claim_until lease it to one process-once run
--   answered the reply is in the outbox
--   failed   gave up after max attempts or a non-retryable error (last_error says why)
--   skipped  deliberately not answered (entity removed, paused with --from-now, no mention, ...)
CREATE TABLE messages (
    pk              INTEGER PRIMARY KEY,
    chat_jid        TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    sender          TEXT    NOT NULL,
    content         TEXT    NOT NULL DEFAULT '',
    timestamp       INTEGER NOT NULL,
    is_from_me      INTEGER NOT NULL DEFAULT 0 CHECK (is_from_me IN (0, 1)),
    message_type    TEXT    NOT NULL DEFAULT 'text',
    push_name       TEXT,
    quoted_id       TEXT,
    mentions        TEXT,   -- JSON array of the JIDs the message mentions
    raw             TEXT,
    source          TEXT    NOT NULL DEFAULT 'live' CHECK (source IN ('live', 'history', 'import', 'own')),
    status          TEXT    NOT NULL DEFAULT 'history'
                    CHECK (status IN ('history', 'pending', 'answered', 'failed', 'skipped')),
    claim_token     TEXT,
    claim_until     INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    edited_at       INTEGER,
    revoked_at      INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (chat_jid, id)
);
-- Conversation context, sync anchors (oldest message of a chat) and search by chat.
CREATE INDEX messages_chat_time ON messages (chat_jid, timestamp);
-- Retention: cleanup deletes by age of storage.
CREATE INDEX messages_created ON messages (created_at);
-- The agent's queue: a no-op process-once run reads only this (tiny) index.
CREATE INDEX messages_pending ON messages (chat_jid, timestamp) WHERE status = 'pending';

-- Full-text search over message content, kept in step by triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    content,
    content = 'messages',
    content_rowid = 'pk',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.pk, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.pk, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.pk, old.content);
    INSERT INTO messages_fts (rowid, content) VALUES (new.pk, new.content);
END;

CREATE TABLE chats (
    jid           TEXT    PRIMARY KEY,
    name          TEXT,
    is_group      INTEGER NOT NULL DEFAULT 0 CHECK (is_group IN (0, 1)),
    last_activity INTEGER,
    metadata      TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- People. lid holds the LID form of the same person once the library tells us.
CREATE TABLE contacts (
    jid        TEXT PRIMARY KEY,
    phone      TEXT,
    lid        TEXT UNIQUE,
    push_name  TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Conversation memory, one per (user, chat); for groups user_jid is the group.
CREATE TABLE chat_sessions (
    id            TEXT    PRIMARY KEY,
    user_jid      TEXT    NOT NULL,
    chat_jid      TEXT    NOT NULL,
    context       TEXT    NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    last_activity INTEGER NOT NULL,
    UNIQUE (user_jid, chat_jid)
) WITHOUT ROWID;
CREATE INDEX chat_sessions_expires ON chat_sessions (expires_at);

-- Everything wabot sends goes through here; only the listener sends.
-- message_id is the WhatsApp message id chosen before sending, so a resend after a
-- crash carries the same id and the echo is recognised.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    message_id      TEXT    NOT NULL UNIQUE,
    chat_jid        TEXT    NOT NULL,
    content         TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('reply', 'debug', 'vitality', 'manual')),
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    reply_to_chat   TEXT,
    reply_to_id     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_pending ON outbox (chat_jid, id) WHERE status = 'pending';
CREATE INDEX outbox_status_updated ON outbox (status, updated_at);
-- The per-chat reply rate limit.
CREATE INDEX outbox_chat_created ON outbox (chat_jid, created_at);

-- LLM calls with their token usage.
CREATE TABLE llm_calls (
    id                INTEGER PRIMARY KEY,
    chat_jid          TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    outcome           TEXT    NOT NULL,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    duration_ms       INTEGER NOT NULL,
    created_at        INTEGER NOT NULL
);
CREATE INDEX llm_calls_created ON llm_calls (created_at);

-- History sync: one checkpoint per chat; the cursor is the oldest message fetched.
CREATE TABLE sync_checkpoints (
    chat_jid         TEXT    PRIMARY KEY,
    state            TEXT    NOT NULL DEFAULT 'not_started'
                     CHECK (state IN ('not_started', 'in_progress', 'completed', 'interrupted', 'cancelled', 'failed')),
    cursor_id        TEXT,
    cursor_timestamp INTEGER,
    cursor_from_me   INTEGER,
    messages_synced  INTEGER NOT NULL DEFAULT 0,
    max_messages     INTEGER NOT NULL DEFAULT 500,
    progress_percent INTEGER NOT NULL DEFAULT 0 CHECK (progress_percent BETWEEN 0 AND 100),
    error_message    TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    completed_at     INTEGER
) WITHOUT ROWID;

-- Sync requests that `wabot sync` leaves for a running listener.
CREATE TABLE sync_requests (
    id          INTEGER PRIMARY KEY,
    chat_jid    TEXT    NOT NULL,
    action      TEXT    NOT NULL CHECK (action IN ('start', 'resume', 'restart', 'cancel')),
    max_messages INTEGER NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX sync_requests_queued ON sync_requests (id) WHERE status = 'queued';

CREATE TABLE sync_status (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    is_syncing       INTEGER NOT NULL DEFAULT 0,
    total_chats      INTEGER NOT NULL DEFAULT 0,
    completed_chats  INTEGER NOT NULL DEFAULT 0,
    messages_synced  INTEGER NOT NULL DEFAULT 0,
    last_sync_time   INTEGER,
    is_latest        INTEGER NOT NULL DEFAULT 0
);
INSERT INTO sync_status (id) VALUES (1);

-- Per-chat control: exclusions and how to resume.
CREATE TABLE chat_tracking (
    chat_jid    TEXT    PRIMARY KEY,
    excluded    INTEGER NOT NULL DEFAULT 0 CHECK (excluded IN (0, 1)),
    excluded_at INTEGER,
    resume_mode TEXT    CHECK (resume_mode IN ('from_now', 'from_last')),
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Global processing switch (pause/resume).
CREATE TABLE processing_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    paused      INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    paused_at   INTEGER,
    resumed_at  INTEGER,
    resume_mode TEXT    CHECK (resume_mode IN ('from_now', 'from_last'))
);
INSERT INTO processing_state (id) VALUES (1);

CREATE TABLE media_files (
    id             INTEGER PRIMARY KEY,
    chat_jid       TEXT    NOT NULL,
    message_id     TEXT    NOT NULL,
    media_type     TEXT    NOT NULL,
    mimetype       TEXT,
    size_bytes     INTEGER,
    sha256         TEXT,
    caption        TEXT,
    file_name      TEXT,
    download       TEXT,
    download_state TEXT    NOT NULL DEFAULT 'none'
                   CHECK (download_state IN ('none', 'pending', 'done', 'failed')),
    local_path     TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (chat_jid, message_id)
);
CREATE INDEX media_files_pending ON media_files (id) WHERE download_state = 'pending';

-- The app.json hash seen last, to log what changed.
CREATE TABLE config_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    config_hash TEXT    NOT NULL,
    entities    TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Written every few seconds by the listener.
CREATE TABLE listener_heartbeat (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    pid           INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    connected     INTEGER NOT NULL DEFAULT 0,
    state         TEXT    NOT NULL,
    detail        TEXT,
    last_event_at INTEGER
);

-- One row per job run; a row without finished_at is a run that died.
CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    job         TEXT    NOT NULL,
    pid         INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT    CHECK (outcome IN ('ok', 'failed')),
    summary     TEXT
);
CREATE INDEX job_runs_job_started ON job_runs (job, started_at);

-- Issue 29: a reply counts as delivered only when it is.
--
-- The outbox's 'sent' splits in two: 'accepted' (the server acked it, or the provider took
-- it) and 'delivered' (a delivery or read receipt came). An accepted row without a
-- receipt after `whatsapp.delivery_timeout_minutes` is 'unconfirmed': the linked device
-- sends it again with its id after the next reconnect, `resends` times at most.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt.
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY,
    message_id      TEXT    NOT NULL UNIQUE,
    chat_jid        TEXT    NOT NULL,
    content         TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('reply', 'debug', 'vitality', 'manual')),
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'written', 'accepted', 'delivered',
                                      'unconfirmed', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    reply_to_chat   TEXT,
    reply_to_id     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    written_at      INTEGER,
    delivered_at    INTEGER,
    read_at         INTEGER,
    provider_id     TEXT,
    error_code      TEXT,
    resends         INTEGER NOT NULL DEFAULT 0
);
INSERT INTO outbox_new (id, message_id, chat_jid, content, kind, status, attempts,
        next_attempt_at, last_error, reply_to_chat, reply_to_id, created_at, updated_at,
        sent_at, written_at, delivered_at, read_at, provider_id, error_code)
    SELECT id, message_id, chat_jid, content, kind,
        CASE WHEN status != 'sent' THEN status
             WHEN delivered_at IS NOT NULL OR read_at IS NOT NULL THEN 'delivered'
             ELSE 'accepted' END,
        attempts, next_attempt_at, last_error, reply_to_chat, reply_to_id, created_at,
        updated_at, sent_at, written_at, delivered_at, read_at, provider_id, error_code
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (chat_jid, id) WHERE status IN ('pending', 'written');
CREATE INDEX outbox_status_updated ON outbox (status, updated_at);
CREATE INDEX outbox_chat_created ON outbox (chat_jid, created_at);
CREATE UNIQUE INDEX outbox_provider_id ON outbox (provider_id) WHERE provider_id IS NOT NULL;

-- Error 463: WhatsApp refuses first messages to contacts without a privacy token while a
-- "reachout timelock" holds on the account. Its end, when the server said it.
ALTER TABLE account_state ADD COLUMN reachout_refused_at INTEGER;
ALTER TABLE account_state ADD COLUMN reachout_until INTEGER;


-- History chunks as WhatsApp pushed or answered them, spooled (still compressed) before
-- they are read: the library sends the history-sync receipt before it downloads a
-- chunk, so a chunk not stored here is never sent again. `compressed` is dropped once
-- the chunk's messages are stored; a chunk that does not decode keeps its error.
CREATE TABLE history_chunks (
    id                INTEGER PRIMARY KEY,
    sync_type         INTEGER NOT NULL,
    chunk_order       INTEGER,
    progress          INTEGER,
    request_id        TEXT,   -- the on-demand request it answers; NULL when pushed
    decompressed_size INTEGER NOT NULL,
    compressed        BLOB,
    messages          INTEGER,
    error             TEXT,
    received_at       INTEGER NOT NULL,
    stored_at         INTEGER,
    reasked_at        INTEGER  -- when an incomplete transfer's chats were asked for again
);
CREATE INDEX history_chunks_unstored ON history_chunks (id) WHERE compressed IS NOT NULL;

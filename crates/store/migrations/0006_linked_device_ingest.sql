-- Issue 18: nothing WhatsApp delivered is lost, and every send is confirmed.

-- A message wabot cannot turn into text is still stored (type 'unsupported'): the name
-- of the protobuf field it came in and the encoded protobuf itself, so a later version
-- can read it again. Also kept for poll votes that could not be decrypted yet.
ALTER TABLE messages ADD COLUMN wire_type TEXT;
ALTER TABLE messages ADD COLUMN wire_raw BLOB;
-- What wabot removed from a received message and why (a malformed mention, ...).
ALTER TABLE messages ADD COLUMN note TEXT;

-- Received messages wabot's own validation rejected whole (an unusable chat JID, an
-- oversized id, ...): kept verbatim for `wabot doctor`, counted by `wabot stats`.
CREATE TABLE quarantine (
    id         INTEGER PRIMARY KEY,
    chat_jid   TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    record     TEXT    NOT NULL,  -- the converted record, as wabot saw it (debug text)
    wire_raw   BLOB,              -- the encoded protobuf, when there was one
    created_at INTEGER NOT NULL,
    UNIQUE (chat_jid, message_id)
);

-- The secret of every poll seen, so later votes (encrypted with it) can be read.
CREATE TABLE poll_secrets (
    message_id  TEXT    PRIMARY KEY,
    creator_jid TEXT    NOT NULL,  -- as WhatsApp addressed the creator (part of the key)
    secret      BLOB    NOT NULL,
    options     TEXT    NOT NULL,  -- JSON array of option names
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- The outbox gains 'written' (on the socket, no server ack yet) and receipt instants.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt.
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY,
    message_id      TEXT    NOT NULL UNIQUE,
    chat_jid        TEXT    NOT NULL,
    content         TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('reply', 'debug', 'vitality', 'manual')),
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'written', 'sent', 'failed', 'cancelled')),
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
    read_at         INTEGER
);
INSERT INTO outbox_new (id, message_id, chat_jid, content, kind, status, attempts,
        next_attempt_at, last_error, reply_to_chat, reply_to_id, created_at, updated_at, sent_at)
    SELECT id, message_id, chat_jid, content, kind, status, attempts, next_attempt_at,
        last_error, reply_to_chat, reply_to_id, created_at, updated_at, sent_at
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (chat_jid, id) WHERE status IN ('pending', 'written');
CREATE INDEX outbox_status_updated ON outbox (status, updated_at);
CREATE INDEX outbox_chat_created ON outbox (chat_jid, created_at);

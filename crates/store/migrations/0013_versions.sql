-- Issue 30: nobody rewrites what someone else wrote, and the archive keeps what was.

-- Every earlier text of a message: what an edit replaced or a revoke blanked, when and by
-- whom. The message's current text stays in `messages`; a version goes with its message.
CREATE TABLE message_versions (
    id         INTEGER PRIMARY KEY,
    chat_jid   TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    content    TEXT    NOT NULL,
    change     TEXT    NOT NULL CHECK (change IN ('edit', 'revoke')),
    changed_by TEXT    NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE INDEX message_versions_message ON message_versions (chat_jid, message_id);
-- Only an edited or revoked message has versions: the check costs a bulk cleanup nothing.
CREATE TRIGGER message_versions_follow_delete AFTER DELETE ON messages
    WHEN old.edited_at IS NOT NULL OR old.revoked_at IS NOT NULL
BEGIN
    DELETE FROM message_versions WHERE chat_jid = old.chat_jid AND message_id = old.id;
END;

-- Edits and revokes refused because their sender had no right to make them (not the
-- author; for a revoke, not a group admin either): kept as evidence, applied to nothing.
CREATE TABLE rejected_changes (
    id         INTEGER PRIMARY KEY,
    chat_jid   TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    change     TEXT    NOT NULL CHECK (change IN ('edit', 'revoke')),
    attempted_by TEXT  NOT NULL,
    author     TEXT    NOT NULL,
    content    TEXT,   -- the text an edit tried to put in
    at         INTEGER NOT NULL
);

-- Group admins as WhatsApp reported them at the last connect: who may revoke others'
-- messages.
CREATE TABLE group_admins (
    chat_jid TEXT NOT NULL,
    jid      TEXT NOT NULL,
    PRIMARY KEY (chat_jid, jid)
) WITHOUT ROWID;

-- Issue 30: a refusal of the connection no reconnect cures (a bad request, an unexplained
-- restriction), recorded for `doctor`; a pairing clears it.
ALTER TABLE account_state ADD COLUMN refused_at INTEGER;
ALTER TABLE account_state ADD COLUMN refusal_reason TEXT;

-- The Cloud API's business-scoped user id (BSUID) of a person, learnt from every webhook
-- that carries it beside the phone number: `…@bsuid` chats join the phone chat.
ALTER TABLE contacts ADD COLUMN bsuid TEXT;
CREATE UNIQUE INDEX contacts_bsuid ON contacts (bsuid) WHERE bsuid IS NOT NULL;

-- Issue 32: the export files imported, by content, chat and the time zone they were read
-- in: the same file read in another zone would store every message again, at shifted
-- times.
CREATE TABLE imported_files (
    sha256      TEXT    NOT NULL,
    chat_jid    TEXT    NOT NULL,
    timezone    TEXT    NOT NULL,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (sha256, chat_jid, timezone)
) WITHOUT ROWID;

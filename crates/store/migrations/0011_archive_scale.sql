-- Issue 24: an archive of a million messages stays quick to search and to summarise.

-- Search looks at the newest messages first, by message time (see src/db/search.rs).
CREATE INDEX messages_time ON messages (timestamp);

-- Message counts per chat, direction and status, kept in step by triggers, so `stats`
-- reads a few hundred rows instead of counting the whole archive. The statements in
-- the triggers never conflict (no ON CONFLICT policy of the statement that fired them,
-- such as UPDATE OR IGNORE, can change what they do).
CREATE TABLE message_counts (
    chat_jid   TEXT    NOT NULL,
    is_from_me INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    messages   INTEGER NOT NULL,
    PRIMARY KEY (chat_jid, is_from_me, status)
) WITHOUT ROWID;
INSERT INTO message_counts (chat_jid, is_from_me, status, messages)
    SELECT chat_jid, is_from_me, status, count(*) FROM messages GROUP BY 1, 2, 3;
CREATE TRIGGER message_counts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_counts (chat_jid, is_from_me, status, messages)
        SELECT new.chat_jid, new.is_from_me, new.status, 0
        WHERE NOT EXISTS (SELECT 1 FROM message_counts WHERE chat_jid = new.chat_jid
                          AND is_from_me = new.is_from_me AND status = new.status);
    UPDATE message_counts SET messages = messages + 1
        WHERE chat_jid = new.chat_jid AND is_from_me = new.is_from_me AND status = new.status;
END;
CREATE TRIGGER message_counts_delete AFTER DELETE ON messages BEGIN
    UPDATE message_counts SET messages = messages - 1
        WHERE chat_jid = old.chat_jid AND is_from_me = old.is_from_me AND status = old.status;
END;
CREATE TRIGGER message_counts_update AFTER UPDATE OF chat_jid, is_from_me, status ON messages
    WHEN old.chat_jid IS NOT new.chat_jid OR old.is_from_me IS NOT new.is_from_me
         OR old.status IS NOT new.status
BEGIN
    UPDATE message_counts SET messages = messages - 1
        WHERE chat_jid = old.chat_jid AND is_from_me = old.is_from_me AND status = old.status;
    INSERT INTO message_counts (chat_jid, is_from_me, status, messages)
        SELECT new.chat_jid, new.is_from_me, new.status, 0
        WHERE NOT EXISTS (SELECT 1 FROM message_counts WHERE chat_jid = new.chat_jid
                          AND is_from_me = new.is_from_me AND status = new.status);
    UPDATE message_counts SET messages = messages + 1
        WHERE chat_jid = new.chat_jid AND is_from_me = new.is_from_me AND status = new.status;
END;

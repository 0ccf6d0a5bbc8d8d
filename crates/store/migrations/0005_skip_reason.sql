-- Why a message was not answered, as data the answer policy owns (see src/policy.rs),
-- instead of matching the human-readable last_error.
ALTER TABLE messages ADD COLUMN skip_reason TEXT;
UPDATE messages SET skip_reason = CASE last_error
        WHEN 'own message' THEN 'own_message'
        WHEN 'chat is not monitored' THEN 'not_monitored'
        WHEN 'not mentioned' THEN 'not_mentioned'
        WHEN 'no text to answer' THEN 'no_text'
        WHEN 'arrived while not answering' THEN 'arrived_while_off'
        WHEN 'revoked' THEN 'revoked'
    END
    WHERE status = 'skipped';
CREATE INDEX messages_unmentioned ON messages (chat_jid, timestamp)
    WHERE skip_reason = 'not_mentioned';

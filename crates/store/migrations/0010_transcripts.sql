-- What a voice note said, stored with its message so that search finds it.
ALTER TABLE messages ADD COLUMN transcript TEXT;
-- Transcription of a media file: done (the text is on the message), failed for good
-- (the turn says it could not be transcribed), or neither yet (NULL). Attempts count
-- retryable failures, which back off across runs like LLM calls.
ALTER TABLE media_files ADD COLUMN transcript_state TEXT
    CHECK (transcript_state IN ('done', 'failed'));
ALTER TABLE media_files ADD COLUMN transcript_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE media_files ADD COLUMN transcript_error TEXT;
-- View-once media is kept for the archive but never sent to a model.
ALTER TABLE media_files ADD COLUMN view_once INTEGER NOT NULL DEFAULT 0;

-- The full-text index gets the transcript as a second column (same tokenizer).
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    content,
    transcript,
    content = 'messages',
    content_rowid = 'pk',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, content, transcript)
        VALUES (new.pk, new.content, new.transcript);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content, transcript)
        VALUES ('delete', old.pk, old.content, old.transcript);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, transcript ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content, transcript)
        VALUES ('delete', old.pk, old.content, old.transcript);
    INSERT INTO messages_fts (rowid, content, transcript)
        VALUES (new.pk, new.content, new.transcript);
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

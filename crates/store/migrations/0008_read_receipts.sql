-- When wabot marked an answered message read for its sender (whatsapp.read_receipts).
ALTER TABLE messages ADD COLUMN read_receipt_at INTEGER;
CREATE INDEX messages_awaiting_receipt ON messages (timestamp)
    WHERE status = 'answered' AND is_from_me = 0 AND read_receipt_at IS NULL;

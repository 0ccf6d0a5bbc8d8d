-- Issue 22: the official transports (Twilio, Meta's Cloud API).

-- The provider's own id of a sent row (Twilio's MessageSid, the Cloud API's wamid): status
-- callbacks name the message by it. The outbox's message_id stays wabot's own id.
ALTER TABLE outbox ADD COLUMN provider_id TEXT;
CREATE UNIQUE INDEX outbox_provider_id ON outbox (provider_id) WHERE provider_id IS NOT NULL;
-- The provider's error code of a failed row (63016, 131047, ...), so `stats` can count the
-- replies refused outside WhatsApp's 24-hour customer service window.
ALTER TABLE outbox ADD COLUMN error_code TEXT;

-- Where a webhook transport's media file is fetched from: {"provider": "twilio", "url": …}
-- or {"provider": "cloud-api", "media_id": …}. The linked device's CDN keys stay in `download`.
ALTER TABLE media_files ADD COLUMN remote TEXT;

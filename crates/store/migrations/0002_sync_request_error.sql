-- Why the listener could not perform a sync request, for the `sync` process waiting on it.
ALTER TABLE sync_requests ADD COLUMN error TEXT;

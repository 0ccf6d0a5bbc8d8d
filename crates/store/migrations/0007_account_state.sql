-- How WhatsApp last treated this account, for the states that need a human: a ban with
-- its end, a logout, and the WhatsApp Web version the server asked for.
CREATE TABLE account_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    banned_until   INTEGER,
    ban_reason     TEXT,
    logged_out_at  INTEGER,
    logout_reason  TEXT,
    client_version TEXT,
    updated_at     INTEGER NOT NULL
);

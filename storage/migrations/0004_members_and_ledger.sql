-- The member record: the voice profile and the economy profile are two views of one row.
-- ``experience`` is progress within ``level``; ``voicepoints`` is a cached balance that always
-- equals the sum of the member's ledger rows (``ledger`` below). ``has_text`` = 0 shows ``text``
-- as null, as the original does for a profile that never typed. ``user_id`` 0 is the tombstone
-- profile of a guild: the ledger rows of deleted members point at it.
CREATE TABLE members (
    guild_id        INTEGER NOT NULL,
    user_id         INTEGER NOT NULL,
    vp_id           TEXT    NOT NULL UNIQUE,
    voicepoints     INTEGER NOT NULL DEFAULT 0,
    level           INTEGER NOT NULL DEFAULT 1,
    experience      INTEGER NOT NULL DEFAULT 0,
    has_text        INTEGER NOT NULL DEFAULT 0 CHECK (has_text IN (0, 1)),
    text_level      INTEGER NOT NULL DEFAULT 0,
    text_experience INTEGER NOT NULL DEFAULT 0,
    message_count   INTEGER NOT NULL DEFAULT 0,
    voice_seconds   INTEGER NOT NULL DEFAULT 0,
    pray_date       INTEGER NOT NULL DEFAULT 0,
    pray_streak     INTEGER NOT NULL DEFAULT 0,
    pray_total      INTEGER NOT NULL DEFAULT 0,
    data            TEXT    CHECK (data IS NULL OR json_valid(data)),
    is_bot          INTEGER NOT NULL DEFAULT 0 CHECK (is_bot IN (0, 1)),
    last_text_xp_at INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- Tops walk these indexes instead of sorting the table.
CREATE INDEX members_top_points ON members (guild_id, voicepoints DESC, user_id);
CREATE INDEX members_top_levels ON members (guild_id, level DESC, experience DESC, user_id);
CREATE INDEX members_top_time ON members (guild_id, voice_seconds DESC, user_id);
CREATE INDEX members_top_text_level ON members (guild_id, text_level DESC, text_experience DESC, user_id);
CREATE INDEX members_top_text_message ON members (guild_id, message_count DESC, user_id);
CREATE INDEX members_top_pray_streak ON members (guild_id, pray_streak DESC, user_id);
CREATE INDEX members_by_user ON members (user_id);

-- Every change of a balance: a transfer, a reward, an API edit or a reversal.
CREATE TABLE ledger (
    id            INTEGER PRIMARY KEY,
    from_guild_id INTEGER NOT NULL,
    from_user_id  INTEGER NOT NULL,
    from_vp_id    TEXT    NOT NULL,
    to_guild_id   INTEGER NOT NULL,
    to_user_id    INTEGER NOT NULL,
    to_vp_id      TEXT    NOT NULL,
    amount        INTEGER NOT NULL CHECK (amount >= 1),
    reason        TEXT    NOT NULL,
    actor         TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX ledger_from ON ledger (from_guild_id, from_user_id, id);
CREATE INDEX ledger_to ON ledger (to_guild_id, to_user_id, id);
CREATE INDEX ledger_from_vp ON ledger (from_vp_id);
CREATE INDEX ledger_to_vp ON ledger (to_vp_id);
CREATE INDEX ledger_created ON ledger (created_at);

-- Hourly activity per member, for period statistics (day, week, month, year).
CREATE TABLE member_activity (
    guild_id      INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    hour          INTEGER NOT NULL,
    messages      INTEGER NOT NULL DEFAULT 0,
    voice_seconds INTEGER NOT NULL DEFAULT 0,
    experience    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (guild_id, user_id, hour)
) WITHOUT ROWID;

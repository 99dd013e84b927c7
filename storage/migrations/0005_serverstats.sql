-- Server stats: per-guild module settings, the starboard, counter channels, statistics events,
-- privacy opt-outs and guilds the bot has left (purged after a grace period).

CREATE TABLE serverstats_settings (
    guild_id   INTEGER PRIMARY KEY,
    enabled    INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    settings   TEXT    NOT NULL CHECK (json_valid(settings)),
    updated_at INTEGER NOT NULL
);

-- A message that is (or was) on the starboard; board_message_id is NULL while below the threshold.
CREATE TABLE starboard_entries (
    message_id       INTEGER PRIMARY KEY,
    guild_id         INTEGER NOT NULL,
    channel_id       INTEGER NOT NULL,
    author_id        INTEGER NOT NULL,
    board_channel_id INTEGER,
    board_message_id INTEGER UNIQUE,
    stars            INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);
CREATE INDEX starboard_entries_guild ON starboard_entries (guild_id, author_id);

-- Who starred an entry (the author and bots are never stored: their stars do not count).
CREATE TABLE starboard_stars (
    message_id INTEGER NOT NULL REFERENCES starboard_entries (message_id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL,
    guild_id   INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id)
) WITHOUT ROWID;
CREATE INDEX starboard_stars_user ON starboard_stars (guild_id, user_id);

-- Counter channels: kind is members, online, boosts or role (online members with role_id).
CREATE TABLE counter_channels (
    channel_id INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('members', 'online', 'boosts', 'role')),
    label      TEXT    NOT NULL,
    role_id    INTEGER,
    shown      TEXT
);
CREATE INDEX counter_channels_guild ON counter_channels (guild_id);

-- Statistics events: ids, numbers and times only, never message content.
CREATE TABLE serverstats_events (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    user_id    INTEGER,
    channel_id INTEGER,
    ref_id     INTEGER,
    label      TEXT,
    delay      INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX serverstats_events_view ON serverstats_events (guild_id, kind, created_at);
CREATE INDEX serverstats_events_user ON serverstats_events (guild_id, user_id, kind, created_at)
    WHERE user_id IS NOT NULL;
CREATE INDEX serverstats_events_channel ON serverstats_events (guild_id, channel_id, kind, created_at)
    WHERE channel_id IS NOT NULL;
CREATE INDEX serverstats_events_age ON serverstats_events (created_at);

-- Per-day totals of the events above, kept in the same unit of work, so unfiltered views read
-- one row per day; filtered views (user, channel) read the events.
CREATE TABLE serverstats_daily (
    guild_id    INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    day         INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    delay_sum   INTEGER NOT NULL DEFAULT 0,
    delay_count INTEGER NOT NULL DEFAULT 0,
    delay_max   INTEGER,
    PRIMARY KEY (guild_id, kind, day)
) WITHOUT ROWID;

-- Members who asked that nothing more be collected about them in a guild (kept on deletion).
CREATE TABLE privacy_optouts (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) WITHOUT ROWID;

-- Guilds the bot left: their data is purged once the grace period has passed (rejoining cancels).
CREATE TABLE guild_departures (
    guild_id INTEGER PRIMARY KEY,
    left_at  INTEGER NOT NULL
);

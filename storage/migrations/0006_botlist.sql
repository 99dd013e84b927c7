-- The bot-list registry Guildhall serves under /bot-api (a private Bots on Discord).

-- Registered bots with their last posted guild count (NULL until the first post).
CREATE TABLE botlist_bots (
    bot_id           INTEGER PRIMARY KEY,
    registered_at    INTEGER NOT NULL,
    registered_by    TEXT    NOT NULL,
    guild_count      INTEGER CHECK (guild_count >= 0),
    guild_count_at   INTEGER
);

-- A bot's command list as last posted: sort mode and the validated commands as JSON.
CREATE TABLE botlist_commands (
    bot_id     INTEGER PRIMARY KEY REFERENCES botlist_bots (bot_id) ON DELETE CASCADE,
    sort       TEXT    CHECK (sort IS NULL OR sort IN ('default', 'none')),
    commands   TEXT    NOT NULL CHECK (json_valid(commands)),
    updated_at INTEGER NOT NULL
);

-- Members' reviews of registered bots: one per member and bot; the newest replaces the older.
CREATE TABLE botlist_reviews (
    bot_id     INTEGER NOT NULL REFERENCES botlist_bots (bot_id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL,
    guild_id   INTEGER NOT NULL,
    rating     INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    text       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (bot_id, user_id)
) WITHOUT ROWID;

CREATE INDEX botlist_reviews_member ON botlist_reviews (guild_id, user_id);

-- /reviewed rewards already granted: at most one per member.
CREATE TABLE botlist_review_rewards (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    list_name  TEXT    NOT NULL,
    amount     INTEGER NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) WITHOUT ROWID;

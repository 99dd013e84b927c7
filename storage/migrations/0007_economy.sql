-- The economy view's own data: each guild's item catalog, members' inventories, reputation and
-- like events (timestamped, so period statistics can be counted), and rank-card colours.
CREATE TABLE economy_items (
    guild_id    INTEGER NOT NULL,
    item_id     TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (guild_id, item_id)
) WITHOUT ROWID;

-- ``received`` counts every unit ever added, so removals never lower ``itemsReceived``.
CREATE TABLE economy_inventory (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    item_id    TEXT    NOT NULL,
    amount     INTEGER NOT NULL CHECK (amount >= 0),
    received   INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id, item_id),
    FOREIGN KEY (guild_id, item_id) REFERENCES economy_items (guild_id, item_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- One row per reputation or like change; ``giver_id`` is NULL for changes made through the API.
CREATE TABLE economy_events (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    giver_id   INTEGER,
    kind       TEXT    NOT NULL CHECK (kind IN ('rep', 'like')),
    amount     INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX economy_events_receiver ON economy_events (guild_id, user_id, kind, created_at);
CREATE INDEX economy_events_giver ON economy_events (guild_id, giver_id, kind, created_at);

CREATE TABLE economy_rank_cards (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    colours    TEXT    NOT NULL CHECK (json_valid(colours)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) WITHOUT ROWID;

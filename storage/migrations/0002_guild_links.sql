-- A guild's link to a NamelessMC website: where to reach it and the key both sides present.
-- The key is kept as given: the website sends it back in request bodies and the bot sends it
-- to the website, so it cannot be hashed.
CREATE TABLE guild_links (
    guild_id   INTEGER PRIMARY KEY,
    api_url    TEXT    NOT NULL,
    api_key    TEXT    NOT NULL,
    linked_at  INTEGER NOT NULL
);

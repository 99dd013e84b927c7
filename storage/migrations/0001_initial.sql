-- API keys: only a hash of each key is kept; the key itself is shown once, at creation.
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    key_hash    TEXT    NOT NULL UNIQUE,
    prefix      TEXT    NOT NULL,
    bot_user_id INTEGER,
    read_only   INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- Guild scope of a key; a key with no rows here may act in every guild.
CREATE TABLE api_key_guilds (
    key_id   INTEGER NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    guild_id INTEGER NOT NULL,
    PRIMARY KEY (key_id, guild_id)
) WITHOUT ROWID;

-- Per-guild, per-feature settings as JSON; defaults are declared once, in code.
CREATE TABLE guild_settings (
    guild_id   INTEGER NOT NULL,
    feature    TEXT    NOT NULL,
    settings   TEXT    NOT NULL CHECK (json_valid(settings)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (guild_id, feature)
) WITHOUT ROWID;

-- Small key/value facts the bot keeps about itself (e.g. the hash of the last synced command tree).
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

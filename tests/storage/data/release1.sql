-- Guildhall's first release (migrations 0001-0002) with data, for tests/storage/test_migrations_with_data.py.
BEGIN TRANSACTION;
CREATE TABLE api_key_guilds (
    key_id   INTEGER NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    guild_id INTEGER NOT NULL,
    PRIMARY KEY (key_id, guild_id)
) WITHOUT ROWID;
INSERT INTO "api_key_guilds" VALUES(1,1179000000000000001);
INSERT INTO "api_key_guilds" VALUES(3,1179000000000000001);
INSERT INTO "api_key_guilds" VALUES(3,1179000000000000002);
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
INSERT INTO "api_keys" VALUES(1,'website','ee3fb10a3d157a695f8bae0e838246cf91872ffb1257f0093b83957c578907aa','gh_relea',NULL,0,1761955300,NULL);
INSERT INTO "api_keys" VALUES(2,'companion-bot','2b359beb9e2923ae03f23e463ec8195437476e1db24cec0f76a9fb8eb4a61247','gh_relea',1179000000000000201,0,1761955400,NULL);
INSERT INTO "api_keys" VALUES(3,'dashboard','bff91ac487914942e5a760be32cfbeb1c87108b8f4a52d07ed47a1e7f7d49123','gh_relea',NULL,1,1761955500,NULL);
INSERT INTO "api_keys" VALUES(4,'old-site','9d541189cc5a70713f3239808729bfdf80c0a0ee2f28ebb9b3e6b04d7613011d','gh_relea',NULL,0,1761955600,1762000000);
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO "bot_state" VALUES('command_tree_hash','5f2c0d1e9a7b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d');
INSERT INTO "bot_state" VALUES('sandbox_api_key','gh_release1_sandbox_secret_0005');
CREATE TABLE guild_links (
    guild_id   INTEGER PRIMARY KEY,
    api_url    TEXT    NOT NULL,
    api_key    TEXT    NOT NULL,
    linked_at  INTEGER NOT NULL
);
INSERT INTO "guild_links" VALUES(1179000000000000001,'https://mc.example.org/index.php?route=/api/v2','nameless-key-guild-one',1761957000);
INSERT INTO "guild_links" VALUES(1179000000000000002,'https://forum.example.net/api/v2','nameless-key-guild-two',1761957100);
CREATE TABLE guild_settings (
    guild_id   INTEGER NOT NULL,
    feature    TEXT    NOT NULL,
    settings   TEXT    NOT NULL CHECK (json_valid(settings)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (guild_id, feature)
) WITHOUT ROWID;
INSERT INTO "guild_settings" VALUES(1179000000000000001,'levels','{"curve": "linear"}',1761956100);
INSERT INTO "guild_settings" VALUES(1179000000000000001,'voice','{"points_per_minute": 2, "count_alone": false}',1761956000);
INSERT INTO "guild_settings" VALUES(1179000000000000002,'voice','{"afk_counts": false}',1761956200);
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);
INSERT INTO "schema_migrations" VALUES(1,'initial',1761955201);
INSERT INTO "schema_migrations" VALUES(2,'guild_links',1761955202);
COMMIT;

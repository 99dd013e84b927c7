-- What the bot last heard from a guild's linked website (the `info` check of /configure link and
-- /configure test, the announcement at start-up), shown by /configure status. Goes with the link.
CREATE TABLE link_website_contacts (
    guild_id    INTEGER PRIMARY KEY REFERENCES guild_links (guild_id) ON DELETE CASCADE,
    ok          INTEGER NOT NULL CHECK (ok IN (0, 1)),
    detail      TEXT    NOT NULL,
    checked_at  INTEGER NOT NULL
);

-- A ledger row no longer stores its sides' voice-profile ids: a vp id is sha256 of its guild and
-- user ids (the guild's tombstone, user 0, included), so it is computed when a row is read. The
-- two 64-character texts were most of every row: at ten million rows about 1.3 GB of the
-- table's 2 GB, written again by every transfer and read by every scan. Searches by vp id already
-- resolve the member row it names and walk the (guild, user) indexes (migration 0009).
ALTER TABLE ledger DROP COLUMN from_vp_id;
ALTER TABLE ledger DROP COLUMN to_vp_id;

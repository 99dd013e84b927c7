-- A member's ledger history matches either side by user id (``from_user_id = ? OR to_user_id = ?``,
-- the seed's filter): one index per side lets SQLite answer it as a union of two short index
-- ranges, newest first, instead of walking every row of the guild.
CREATE INDEX ledger_from_user ON ledger (from_user_id, id);
CREATE INDEX ledger_to_user ON ledger (to_user_id, id);

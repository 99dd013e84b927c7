-- Ledger lookups that walk an index instead of a long one or none.
--
-- A voice-profile id names exactly one member row (members.vp_id is UNIQUE, and the ledger's
-- vp ids always equal the vp id of the row with the same guild and user, tombstones included),
-- so ledger searches by vp id resolve it there and walk the (guild, user) indexes. These two
-- indexes on 64-character keys cost every transfer two random B-tree inserts and were used by
-- nothing else.
DROP INDEX IF EXISTS ledger_from_vp;
DROP INDEX IF EXISTS ledger_to_vp;

-- Reversing a row checks that it was not reversed already: a lookup of the reversal's reason,
-- which without an index read the whole ledger. Only reversal rows are indexed.
CREATE INDEX ledger_reversals ON ledger (reason) WHERE reason GLOB 'reversal of #*';

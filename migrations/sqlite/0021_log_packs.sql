-- Log records are stored in packs, one an export as received (ADR 0022):
-- `data` (store::log_packs) holds the records compressed, `ids` a filter of
-- their trace and request ids, `terms` one of their services, body words
-- and attributes. No row, index entry or full-text posting a record.
--
-- loupe rewrites the log rows stored before into packs in Rust (run by
-- `loupe migrate` and at start), then drops them, their indexes and their
-- full-text index, in one transaction.
CREATE TABLE log_packs (
    id INTEGER PRIMARY KEY,
    ts_lo INTEGER NOT NULL,
    ts_hi INTEGER NOT NULL,
    records INTEGER NOT NULL,
    ids BLOB NOT NULL,
    terms BLOB,
    data BLOB NOT NULL
);
-- Covering: a window's packs and every pack's id filter are read from the
-- index alone.
CREATE INDEX log_packs_window ON log_packs (ts_hi, ts_lo, ids);

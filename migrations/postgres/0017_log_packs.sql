-- Log records are stored in packs, one an export as received (ADR 0022):
-- `data` (store::log_packs) holds the records compressed, `ids` a filter of
-- their trace and request ids, `terms` one of their services, body words
-- and attributes. No row, index entry or text-index posting a record.
--
-- loupe rewrites the log rows stored before into packs in Rust (run by
-- `loupe migrate` and at start), then drops them and their indexes, in one
-- transaction.
CREATE TABLE log_packs (
    id BIGSERIAL PRIMARY KEY,
    ts_lo BIGINT NOT NULL,
    ts_hi BIGINT NOT NULL,
    records INTEGER NOT NULL,
    ids BYTEA NOT NULL,
    terms BYTEA,
    data BYTEA NOT NULL
);
CREATE INDEX log_packs_window ON log_packs (ts_hi, ts_lo);

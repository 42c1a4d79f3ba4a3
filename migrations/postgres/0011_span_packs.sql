-- Spans are stored in packs, one an export as received, and nowhere else
-- (ADR 0011): the pack's `data` (store::packed) has what reports and
-- searches read, its `details` (store::details) the rest of each span,
-- `span_filter` (store::span_filter) its span ids; `traces.packs` lists the packs holding
-- each trace's spans (store::rows::pack_ids), in the summary row each
-- commit updates anyway. No row and no index entry a span: those were what
-- bounded the writers and what took the disk.
--
-- loupe rewrites the span rows stored before into packs in Rust
-- (store::convert, run by `loupe migrate` and at start), then drops them,
-- their indexes and the older packs (`spans_packed`), in one transaction.
CREATE TABLE span_packs (
    id BIGSERIAL PRIMARY KEY,
    start_lo BIGINT NOT NULL,
    start_hi BIGINT NOT NULL,
    spans INTEGER NOT NULL,
    data BYTEA NOT NULL,
    details BYTEA NOT NULL,
    span_filter BYTEA NOT NULL
);
CREATE INDEX span_packs_window ON span_packs (start_hi, start_lo);
ALTER TABLE traces ADD COLUMN packs BYTEA NOT NULL DEFAULT '\x';

-- Each pack carries a Bloom filter of its span ids (store::span_filter,
-- docs/adr/0010), and the index on span ids goes: its random keys cost the
-- writers about a third of their time. A span id pasted into the search box
-- is looked for in the packs whose filter may hold it; packs written before
-- have no filter and are all read.
ALTER TABLE spans_packed ADD COLUMN span_filter BYTEA;
DROP INDEX spans_span;

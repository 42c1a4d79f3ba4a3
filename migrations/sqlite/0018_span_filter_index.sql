-- The span-id filters of every pack side by side (docs/adr/0010, 0020):
-- a pasted span id asks each pack's filter, and through this covering
-- index reads some 1.25 bytes a span instead of a page of `span_packs`
-- (a pack's row, its spans' data beside the filter) a pack. Keyed by id
-- first, so an insert goes at the index's end.
CREATE INDEX span_packs_span_filters ON span_packs (id, span_filter);

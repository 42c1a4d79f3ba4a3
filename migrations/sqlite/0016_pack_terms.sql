-- What trace search asks of a pack's spans, as a Bloom filter
-- (docs/adr/0018): a search reads a pack only when its filter says its
-- spans may meet a condition. NULL (packs written before, or with too
-- many terms): the pack is read.
ALTER TABLE span_packs ADD COLUMN terms BLOB;

-- Span payloads compressed one value at a time with zstd and dictionaries
-- trained on the database's own spans (docs/adr/0008). Values written
-- before stay text; `loupe_text`, a function loupe gives each of its
-- connections, returns the text of either kind, so the view reads both.
CREATE TABLE payload_dicts (
    id INTEGER PRIMARY KEY,
    -- Spans written when it was trained: when the next one is due.
    spans INTEGER NOT NULL,
    data BLOB NOT NULL
);

DROP VIEW span_rows;
CREATE VIEW span_rows AS
SELECT s.*, loupe_text(p.attributes) AS attributes, loupe_text(p.events) AS events,
       loupe_text(p.links) AS links
FROM spans s JOIN spans_payload p ON p.id = s.id;

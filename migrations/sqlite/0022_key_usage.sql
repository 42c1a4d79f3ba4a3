-- What each ingest key sent, per minute (since the Unix epoch) of the
-- items' own time stamps: spans, log records and metric points, and their
-- bytes on the wire. The cost report's volume per key; kept as long as
-- the rollups. Items an open receiver took have no key and no row.
CREATE TABLE key_usage (
    minute INTEGER NOT NULL,
    key TEXT NOT NULL,
    spans INTEGER NOT NULL,
    logs INTEGER NOT NULL,
    metric_points INTEGER NOT NULL,
    spans_wire_bytes INTEGER NOT NULL,
    logs_wire_bytes INTEGER NOT NULL,
    metric_points_wire_bytes INTEGER NOT NULL,
    PRIMARY KEY (minute, key)
) WITHOUT ROWID;

-- What each ingest key sent, per minute (since the Unix epoch) of the
-- items' own time stamps: spans, log records and metric points, and their
-- bytes on the wire. The cost report's volume per key; kept as long as
-- the rollups. Items an open receiver took have no key and no row.
CREATE TABLE key_usage (
    minute BIGINT NOT NULL,
    key TEXT NOT NULL,
    spans BIGINT NOT NULL,
    logs BIGINT NOT NULL,
    metric_points BIGINT NOT NULL,
    spans_wire_bytes BIGINT NOT NULL,
    logs_wire_bytes BIGINT NOT NULL,
    metric_points_wire_bytes BIGINT NOT NULL,
    PRIMARY KEY (minute, key)
);

-- Bytes each item took on the wire (its share of the export request that
-- carried it), for the cost report; running totals so shares of all time
-- need no scan.
ALTER TABLE spans ADD COLUMN wire_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE logs ADD COLUMN wire_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE metric_points ADD COLUMN wire_bytes INTEGER NOT NULL DEFAULT 0;
INSERT INTO counters (name, value) VALUES
    ('spans_wire_bytes', 0), ('logs_wire_bytes', 0), ('metric_points_wire_bytes', 0);

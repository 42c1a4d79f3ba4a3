-- Spans split in two: the narrow columns that searches, the waterfall's
-- shape and the reports scan (about a third of the bytes), and the payload
-- (attributes, events, links) that only whole-span reads need. A report
-- scanning a day of spans reads the narrow table alone. `spans` gets an
-- explicit key, which VACUUM keeps, to tie the two.
CREATE TABLE spans_narrow (
    id INTEGER PRIMARY KEY,
    trace_id BLOB NOT NULL,
    span_id BLOB NOT NULL,
    parent_span_id BLOB,
    resource_id INTEGER NOT NULL,
    scope_id INTEGER NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    kind INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    status_message TEXT NOT NULL,
    is_error INTEGER NOT NULL,
    trace_state TEXT NOT NULL,
    flags INTEGER NOT NULL,
    request_id TEXT,
    http_route TEXT,
    http_method TEXT,
    http_status INTEGER,
    rpc_service TEXT,
    rpc_method TEXT,
    db_system TEXT,
    exception_type TEXT,
    dropped_attributes_count INTEGER NOT NULL,
    dropped_events_count INTEGER NOT NULL,
    dropped_links_count INTEGER NOT NULL,
    wire_bytes INTEGER NOT NULL DEFAULT 0
);
INSERT INTO spans_narrow
SELECT rowid, trace_id, span_id, parent_span_id, resource_id, scope_id, service, name, kind,
       start_ns, end_ns, status_code, status_message, is_error, trace_state, flags, request_id,
       http_route, http_method, http_status, rpc_service, rpc_method, db_system, exception_type,
       dropped_attributes_count, dropped_events_count, dropped_links_count, wire_bytes
FROM spans;

-- One row per span, keyed by the span's `spans.id`.
CREATE TABLE spans_payload (
    id INTEGER PRIMARY KEY,
    attributes TEXT NOT NULL,
    events TEXT,
    links TEXT
);
INSERT INTO spans_payload SELECT rowid, attributes, events, links FROM spans;

DROP TABLE spans;
ALTER TABLE spans_narrow RENAME TO spans;
CREATE INDEX spans_trace ON spans (trace_id);
CREATE INDEX spans_request ON spans (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX spans_span ON spans (span_id);
CREATE INDEX spans_requests ON spans (start_ns, service, end_ns, is_error)
    WHERE kind IN (2, 5) OR parent_span_id IS NULL;

-- Whole spans, for the reads that need every field (the same name in
-- PostgreSQL, where spans are one table).
CREATE VIEW span_rows AS
SELECT s.*, p.attributes, p.events, p.links FROM spans s JOIN spans_payload p ON p.id = s.id;

-- The traces each request id is in: one row per (request, trace) written at
-- ingest, instead of an index entry per span (a request's spans share a
-- trace or a few). Resolving a request id reads this alone.
CREATE TABLE request_traces (
    request_id TEXT NOT NULL,
    trace_id BYTEA NOT NULL,
    PRIMARY KEY (request_id, trace_id)
);
INSERT INTO request_traces
SELECT DISTINCT request_id, trace_id FROM spans WHERE request_id IS NOT NULL;
DROP INDEX spans_request;

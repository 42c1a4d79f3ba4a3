-- The spans of each commit packed into one value for the reports (ADR 0007):
-- PostgreSQL's output of a million rows, not its scan, kept a report over a
-- day of a million spans above a second. The format is store::packed's
-- (format 1); the spans stored before are packed here, 1 024 per value in
-- start order, by the same layout written in SQL.
CREATE TABLE spans_packed (
    start_lo BIGINT NOT NULL,
    start_hi BIGINT NOT NULL,
    spans INTEGER NOT NULL,
    data BYTEA NOT NULL
);
CREATE INDEX spans_packed_window ON spans_packed (start_hi, start_lo);

INSERT INTO spans_packed (start_lo, start_hi, spans, data)
SELECT min(start_ns), max(start_ns), count(*),
    '\x01'::BYTEA || string_agg(
        trace_id || span_id || coalesce(parent_span_id, '\x0000000000000000'::BYTEA)
        || int8send(start_ns) || int8send(end_ns)
        || substring(int4send(kind) FROM 4 FOR 1)
        || CASE WHEN is_error THEN '\x01'::BYTEA ELSE '\x00'::BYTEA END
        || int4send(wire_bytes)
        || CASE WHEN service IS NULL THEN '\xffffffff'::BYTEA
            ELSE int4send(octet_length(convert_to(service, 'UTF8'))) || convert_to(service, 'UTF8') END
        || CASE WHEN name IS NULL THEN '\xffffffff'::BYTEA
            ELSE int4send(octet_length(convert_to(name, 'UTF8'))) || convert_to(name, 'UTF8') END
        || CASE WHEN http_route IS NULL THEN '\xffffffff'::BYTEA
            ELSE int4send(octet_length(convert_to(http_route, 'UTF8'))) || convert_to(http_route, 'UTF8') END
        || CASE WHEN http_method IS NULL THEN '\xffffffff'::BYTEA
            ELSE int4send(octet_length(convert_to(http_method, 'UTF8'))) || convert_to(http_method, 'UTF8') END
        || CASE WHEN rpc_service IS NULL THEN '\xffffffff'::BYTEA
            ELSE int4send(octet_length(convert_to(rpc_service, 'UTF8'))) || convert_to(rpc_service, 'UTF8') END
        || CASE WHEN rpc_method IS NULL THEN '\xffffffff'::BYTEA
            ELSE int4send(octet_length(convert_to(rpc_method, 'UTF8'))) || convert_to(rpc_method, 'UTF8') END
        || CASE WHEN db_system IS NULL THEN '\xffffffff'::BYTEA
            ELSE int4send(octet_length(convert_to(db_system, 'UTF8'))) || convert_to(db_system, 'UTF8') END,
        ''::BYTEA ORDER BY start_ns)
FROM (SELECT *, (row_number() OVER (ORDER BY start_ns) - 1) / 1024 AS pack FROM spans) s
GROUP BY pack;

-- The spans of each commit packed into one value for the reports (ADR 0007):
-- stepping a million narrow rows, not reading them, kept a report over a day
-- of a million spans near a second. The format is store::packed's; the spans
-- stored before are packed here in its format 1, 1 024 per value in start
-- order, spelt in hexadecimal and decoded once per value.
CREATE TABLE spans_packed (
    start_lo INTEGER NOT NULL,
    start_hi INTEGER NOT NULL,
    spans INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX spans_packed_window ON spans_packed (start_hi, start_lo);

INSERT INTO spans_packed (start_lo, start_hi, spans, data)
SELECT min(start_ns), max(start_ns), count(*),
    unhex('01' || group_concat(packed, '' ORDER BY start_ns))
FROM (
    SELECT start_ns, (row_number() OVER (ORDER BY start_ns) - 1) / 1024 AS pack,
        hex(trace_id) || hex(span_id)
        || CASE WHEN parent_span_id IS NULL THEN '0000000000000000' ELSE hex(parent_span_id) END
        || printf('%016x', start_ns) || printf('%016x', end_ns)
        || printf('%02x', kind) || CASE WHEN is_error THEN '01' ELSE '00' END
        || printf('%08x', min(wire_bytes, 2147483647))
        || CASE WHEN service IS NULL THEN 'FFFFFFFF'
            ELSE printf('%08x', length(CAST(service AS BLOB))) || hex(service) END
        || CASE WHEN name IS NULL THEN 'FFFFFFFF'
            ELSE printf('%08x', length(CAST(name AS BLOB))) || hex(name) END
        || CASE WHEN http_route IS NULL THEN 'FFFFFFFF'
            ELSE printf('%08x', length(CAST(http_route AS BLOB))) || hex(http_route) END
        || CASE WHEN http_method IS NULL THEN 'FFFFFFFF'
            ELSE printf('%08x', length(CAST(http_method AS BLOB))) || hex(http_method) END
        || CASE WHEN rpc_service IS NULL THEN 'FFFFFFFF'
            ELSE printf('%08x', length(CAST(rpc_service AS BLOB))) || hex(rpc_service) END
        || CASE WHEN rpc_method IS NULL THEN 'FFFFFFFF'
            ELSE printf('%08x', length(CAST(rpc_method AS BLOB))) || hex(rpc_method) END
        || CASE WHEN db_system IS NULL THEN 'FFFFFFFF'
            ELSE printf('%08x', length(CAST(db_system AS BLOB))) || hex(db_system) END AS packed
    FROM spans
)
GROUP BY pack;

-- The spans that stand for requests (server, consumer, roots), by start time,
-- covering what RED figures read: services and failures never touch the rows.
CREATE INDEX spans_requests ON spans (start_ns, service, end_ns, is_error)
    WHERE kind IN (2, 5) OR parent_span_id IS NULL;

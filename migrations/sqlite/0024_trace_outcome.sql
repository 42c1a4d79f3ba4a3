-- What a trace's row in a list says of how it went (docs/adr/0024): the
-- HTTP status code its entry span answered (replaced with the entry, as
-- `entry_ns` is), the first request id seen among its spans, and the first
-- error message seen (an exception's message, else the status message).
-- Traces stored before this version have none.
ALTER TABLE traces ADD COLUMN entry_status INTEGER;
ALTER TABLE traces ADD COLUMN request_id TEXT;
ALTER TABLE traces ADD COLUMN error_message TEXT;

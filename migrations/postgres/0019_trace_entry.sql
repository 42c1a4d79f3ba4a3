-- Each trace's entry span (docs/adr/0023): the root, else its earliest
-- server or consumer span, as (rank: 0 root, 1 server or consumer; start)
-- so that a later batch's better candidate replaces it; `entry_ns` is its
-- duration, the latency the caller saw, which trace search filters and
-- sorts by. Traces stored before this version have none and are measured
-- by their whole envelope, as before.
ALTER TABLE traces ADD COLUMN entry_rank BIGINT;
ALTER TABLE traces ADD COLUMN entry_start_ns BIGINT;
ALTER TABLE traces ADD COLUMN entry_ns BIGINT;
DROP INDEX traces_window;
CREATE INDEX traces_window ON traces (start_ns, end_ns, error_count, entry_ns);

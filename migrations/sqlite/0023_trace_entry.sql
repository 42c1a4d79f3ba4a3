-- Each trace's entry span (docs/adr/0023): the root, else its earliest
-- server or consumer span, as (rank: 0 root, 1 server or consumer; start)
-- so that a later batch's better candidate replaces it; `entry_ns` is its
-- duration, the latency the caller saw, which trace search filters and
-- sorts by. Traces stored before this version have none and are measured
-- by their whole envelope, as before.
ALTER TABLE traces ADD COLUMN entry_rank INTEGER;
ALTER TABLE traces ADD COLUMN entry_start_ns INTEGER;
ALTER TABLE traces ADD COLUMN entry_ns INTEGER;
-- The search's filters and sort keep being answered from the index alone.
DROP INDEX traces_window;
CREATE INDEX traces_window ON traces (start_ns, end_ns, error_count, services, entry_ns, trace_id);

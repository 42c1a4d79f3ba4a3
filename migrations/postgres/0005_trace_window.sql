-- Trace search over a window reads start, end and error count from the
-- index alone, so sorting a day of traces by duration (or keeping only the
-- failed ones) never visits the rows.
DROP INDEX traces_start;
CREATE INDEX traces_window ON traces (start_ns, end_ns, error_count);

-- Trace summaries move from a table keyed by trace id (WITHOUT ROWID) to
-- one keyed by arrival, with the trace id in a unique index of its own.
-- Keyed by a random id, every commit rewrote a page at a random place for
-- each trace it touched, ~200 of the table's pages an 850-span commit, each
-- a 4 KiB frame of the WAL; keyed by arrival, a trace's row is written at
-- the end and its later spans (which come soon after) update it there, and
-- the random writes are the index's 30-byte entries, once per trace, in a
-- fifth as many pages. The writer acknowledged ~10% more spans a second.
-- `traces_window` names the trace id, which it held only as the key before,
-- so a search still reads its page of ids from the index alone.
CREATE TABLE traces_by_arrival (
    id INTEGER PRIMARY KEY,
    trace_id BLOB NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    span_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    root_service TEXT,
    root_name TEXT,
    services TEXT NOT NULL DEFAULT '',
    packs BLOB NOT NULL DEFAULT x''
);
INSERT INTO traces_by_arrival (trace_id, start_ns, end_ns, span_count, error_count,
                               root_service, root_name, services, packs)
SELECT trace_id, start_ns, end_ns, span_count, error_count,
       root_service, root_name, services, packs
FROM traces ORDER BY start_ns;
DROP TABLE traces;
ALTER TABLE traces_by_arrival RENAME TO traces;
CREATE UNIQUE INDEX traces_id ON traces (trace_id);
CREATE INDEX traces_window ON traces (start_ns, end_ns, error_count, services, trace_id);

-- Rollups (docs/adr/0019): per minute (since the Unix epoch), service and
-- endpoint (the request span's name), the requests that started in it:
-- their count, errors, total duration and a latency sketch
-- (`store::sketch`). Writers append a row per key and batch (`merged` 0);
-- the sweeper makes each key's rows one (`merged` 1). Readers add up
-- whatever rows there are.
CREATE TABLE rollups (
    id INTEGER PRIMARY KEY,
    minute INTEGER NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    sketch BLOB NOT NULL,
    merged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX rollups_minute ON rollups (minute);
CREATE INDEX rollups_unmerged ON rollups (minute) WHERE NOT merged;
-- Spans stored before this version have no rollups: the store, once it
-- has converted what it must, settles this to the first minute after the
-- newest span stored (or to none when there is none), and minutes before
-- it are read from spans.
INSERT INTO settings (name, value) VALUES ('rollups_from', CAST('unsettled' AS BLOB));

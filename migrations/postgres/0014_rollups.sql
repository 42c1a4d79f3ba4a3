-- Rollups (docs/adr/0019): per minute (since the Unix epoch), service and
-- endpoint (the request span's name), the requests that started in it:
-- their count, errors, total duration and a latency sketch
-- (`store::sketch`). Writers append a row per key and batch (`merged`
-- false); the sweeper makes each key's rows one (`merged` true): a merge
-- claims rows by deleting them, so two processes never merge a row twice.
-- Readers add up whatever rows there are.
CREATE TABLE rollups (
    id BIGSERIAL PRIMARY KEY,
    minute BIGINT NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    duration_ns BIGINT NOT NULL,
    sketch BYTEA NOT NULL,
    merged BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX rollups_minute ON rollups (minute);
CREATE INDEX rollups_unmerged ON rollups (minute) WHERE NOT merged;
-- Spans stored before this version have no rollups: the store, once it
-- has converted what it must, settles this to the first minute after the
-- newest span stored (or to none when there is none), and minutes before
-- it are read from spans.
INSERT INTO settings (name, value) VALUES ('rollups_from', convert_to('unsettled', 'UTF8'));

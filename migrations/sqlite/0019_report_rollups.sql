-- Report rollups (docs/adr/0021): per minute (since the Unix epoch), what
-- the load and cost reports and the map count of the spans that started in
-- it and the log records written in it, with their traces' context, in
-- `web::reports::figures`' format. A writer marks the minutes its batch
-- touches, and their neighbours, stale (a row each, appended: no writer
-- waits on another's); the background job recomputes a stale minute once
-- it has been quiet and removes the marks it saw. Readers take a minute
-- from here when it has no mark, and from the spans when it has.
CREATE TABLE report_rollups (
    minute INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE report_rollups_stale (
    id INTEGER PRIMARY KEY,
    minute INTEGER NOT NULL,
    at_ns INTEGER NOT NULL
);
CREATE INDEX report_rollups_stale_minute ON report_rollups_stale (minute);
-- Spans stored before this version: the store marks their minutes stale
-- once, after migrating, and settles this.
INSERT INTO settings (name, value) VALUES ('report_rollups', CAST('unsettled' AS BLOB));

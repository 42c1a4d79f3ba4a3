-- Hourly rollups (docs/adr/0019): per hour (`minute`, its first minute),
-- service and endpoint, the sum of the merged minute rows of `rollups`
-- in it, remade by the sweeper in the transaction that merges any of
-- them. Readers take a window's whole hours from here plus the minute
-- rows not merged yet, and only the minutes at its edges from `rollups`:
-- a week is 168 rows a key instead of 10 080.
CREATE TABLE rollups_hourly (
    id BIGSERIAL PRIMARY KEY,
    minute BIGINT NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    duration_ns BIGINT NOT NULL,
    sketch BYTEA NOT NULL
);
CREATE INDEX rollups_hourly_minute ON rollups_hourly (minute);
-- Rows merged before this version are merged again, which makes their hours.
UPDATE rollups SET merged = false;

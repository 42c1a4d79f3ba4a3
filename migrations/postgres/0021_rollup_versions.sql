-- Rollups per release (docs/adr/0025): each row of `rollups` and
-- `rollups_hourly` is also keyed by its resource's `service.version`
-- (empty when it has none), so a service's releases can be set side by
-- side from rollups. Rows made before this version count as no version.
ALTER TABLE rollups ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE rollups_hourly ADD COLUMN version TEXT NOT NULL DEFAULT '';

-- No index on span ids alone: its random keys dirtied a page per span at
-- every commit, a third of the writer's time. A span id pasted into the
-- search box is found by a scan of the narrow span rows (about 75 ms a
-- million spans); reads by (trace id, span id) go through `spans_trace`.
DROP INDEX spans_span;

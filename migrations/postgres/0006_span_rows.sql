-- Whole spans under the name the shared reads use; in SQLite `span_rows`
-- joins the narrow span rows to their payload.
CREATE VIEW span_rows AS SELECT * FROM spans;

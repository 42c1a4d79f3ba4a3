-- Retention removes log records (docs/adr/0016); their full-text rows go
-- with them. The index is contentless (the text lives in `logs` only), so
-- a row is removed by its rowid, which `contentless_delete` allows.
CREATE TRIGGER logs_fts_delete AFTER DELETE ON logs BEGIN
    DELETE FROM logs_fts WHERE rowid = old.id;
END;

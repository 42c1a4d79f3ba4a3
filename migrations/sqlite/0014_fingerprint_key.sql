-- What the database keeps about itself. `fingerprint_key`: the key of the
-- keyed hash resources, scopes and metric streams are interned by
-- (docs/adr/0014), drawn once at random so that no sender can craft a
-- resource whose fingerprint is another's. Rows interned before keep the
-- unkeyed fingerprints they were stored under; new ones get keyed ones.
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
INSERT INTO settings (name, value) VALUES ('fingerprint_key', randomblob(16));

-- What the database keeps about itself. `fingerprint_key`: the key of the
-- keyed hash resources, scopes and metric streams are interned by
-- (docs/adr/0014), drawn once at random so that no sender can craft a
-- resource whose fingerprint is another's; every process sharing the
-- database reads it. Rows interned before keep the unkeyed fingerprints
-- they were stored under; new ones get keyed ones. (`gen_random_uuid`:
-- PostgreSQL 13 and later; 122 random bits.)
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
INSERT INTO settings (name, value) VALUES ('fingerprint_key', uuid_send(gen_random_uuid()));

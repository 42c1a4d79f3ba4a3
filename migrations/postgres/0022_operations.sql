-- Operations (docs/adr/0026): every span name each service used, by kind
-- (OTLP's number), per hour (`minute`, the hour's first minute) it was
-- seen in: what Jaeger's and Tempo's query APIs list for a service. A
-- writer inserts its batch's rows and skips those already there (no row
-- is locked for it); rows go with the rollups (`--rollup-retention`).
-- Spans stored before this version are not listed.
CREATE TABLE operations (
    minute BIGINT NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    kind INTEGER NOT NULL,
    PRIMARY KEY (minute, service, name, kind)
);
CREATE INDEX operations_service ON operations (service, name, kind);

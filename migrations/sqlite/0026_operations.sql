-- Operations (docs/adr/0026): every span name each service used, by kind
-- (OTLP's number), per hour (`minute`, the hour's first minute) it was
-- seen in: what Jaeger's and Tempo's query APIs list for a service. A
-- writer inserts its batch's rows and ignores those already there; rows
-- go with the rollups (`--rollup-retention`). Spans stored before this
-- version are not listed.
CREATE TABLE operations (
    minute INTEGER NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    kind INTEGER NOT NULL,
    PRIMARY KEY (minute, service, name, kind)
) WITHOUT ROWID;
CREATE INDEX operations_service ON operations (service, name, kind);

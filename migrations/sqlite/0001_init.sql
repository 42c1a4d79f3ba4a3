-- Interned resources and scopes: thousands of items share one row.
CREATE TABLE resources (
    id INTEGER PRIMARY KEY,
    fingerprint INTEGER NOT NULL UNIQUE,
    service TEXT NOT NULL,
    attributes TEXT NOT NULL,
    dropped_attributes_count INTEGER NOT NULL,
    schema_url TEXT NOT NULL
);

CREATE TABLE scopes (
    id INTEGER PRIMARY KEY,
    fingerprint INTEGER NOT NULL UNIQUE,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    attributes TEXT NOT NULL,
    dropped_attributes_count INTEGER NOT NULL,
    schema_url TEXT NOT NULL
);

CREATE TABLE spans (
    trace_id BLOB NOT NULL,
    span_id BLOB NOT NULL,
    parent_span_id BLOB,
    resource_id INTEGER NOT NULL,
    scope_id INTEGER NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    kind INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    status_message TEXT NOT NULL,
    is_error INTEGER NOT NULL,
    trace_state TEXT NOT NULL,
    flags INTEGER NOT NULL,
    request_id TEXT,
    http_route TEXT,
    http_method TEXT,
    http_status INTEGER,
    rpc_service TEXT,
    rpc_method TEXT,
    db_system TEXT,
    exception_type TEXT,
    attributes TEXT NOT NULL,
    events TEXT,
    links TEXT,
    dropped_attributes_count INTEGER NOT NULL,
    dropped_events_count INTEGER NOT NULL,
    dropped_links_count INTEGER NOT NULL
);
CREATE INDEX spans_trace ON spans (trace_id);
CREATE INDEX spans_request ON spans (request_id) WHERE request_id IS NOT NULL;

-- One row per trace, maintained at ingest, so that search never scans spans.
CREATE TABLE traces (
    trace_id BLOB PRIMARY KEY,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    span_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    root_service TEXT,
    root_name TEXT
) WITHOUT ROWID;
CREATE INDEX traces_start ON traces (start_ns);

CREATE TABLE trace_services (
    trace_id BLOB NOT NULL,
    service TEXT NOT NULL,
    PRIMARY KEY (trace_id, service)
) WITHOUT ROWID;

CREATE TABLE logs (
    id INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    observed_ns INTEGER NOT NULL,
    resource_id INTEGER NOT NULL,
    scope_id INTEGER NOT NULL,
    service TEXT NOT NULL,
    severity_number INTEGER NOT NULL,
    severity_text TEXT NOT NULL,
    body TEXT NOT NULL,
    event_name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    dropped_attributes_count INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    trace_id BLOB,
    span_id BLOB,
    request_id TEXT
);
CREATE INDEX logs_ts ON logs (ts_ns);
CREATE INDEX logs_service_ts ON logs (service, ts_ns);
CREATE INDEX logs_trace ON logs (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX logs_request ON logs (request_id) WHERE request_id IS NOT NULL;

-- Full-text index of log bodies. Contentless: the text lives in `logs` only.
CREATE VIRTUAL TABLE logs_fts USING fts5 (body, content = '', contentless_delete = 1);
CREATE TRIGGER logs_fts_insert AFTER INSERT ON logs BEGIN
    INSERT INTO logs_fts (rowid, body) VALUES (
        new.id,
        CASE json_type(new.body)
            WHEN 'text' THEN json_extract(new.body, '$')
            WHEN 'null' THEN ''
            ELSE new.body
        END
    );
END;

CREATE TABLE metrics (
    id INTEGER PRIMARY KEY,
    fingerprint INTEGER NOT NULL UNIQUE,
    resource_id INTEGER NOT NULL,
    scope_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    unit TEXT NOT NULL,
    description TEXT NOT NULL,
    temporality INTEGER NOT NULL,
    monotonic INTEGER NOT NULL,
    metadata TEXT NOT NULL
);
CREATE INDEX metrics_name ON metrics (name);

CREATE TABLE metric_points (
    metric_id INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    number REAL,
    data TEXT NOT NULL,
    exemplars TEXT
);
CREATE INDEX metric_points_metric_time ON metric_points (metric_id, time_ns);

-- Running totals, so that /api/v1/stats never counts rows.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('spans', 0), ('logs', 0), ('metric_points', 0);

-- Interned resources and scopes: thousands of items share one row.
CREATE TABLE resources (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint BIGINT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    attributes TEXT NOT NULL,
    dropped_attributes_count BIGINT NOT NULL,
    schema_url TEXT NOT NULL
);

CREATE TABLE scopes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint BIGINT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    attributes TEXT NOT NULL,
    dropped_attributes_count BIGINT NOT NULL,
    schema_url TEXT NOT NULL
);

CREATE TABLE spans (
    trace_id BYTEA NOT NULL,
    span_id BYTEA NOT NULL,
    parent_span_id BYTEA,
    resource_id BIGINT NOT NULL,
    scope_id BIGINT NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    kind INTEGER NOT NULL,
    start_ns BIGINT NOT NULL,
    end_ns BIGINT NOT NULL,
    status_code INTEGER NOT NULL,
    status_message TEXT NOT NULL,
    is_error BOOLEAN NOT NULL,
    trace_state TEXT NOT NULL,
    flags BIGINT NOT NULL,
    request_id TEXT,
    http_route TEXT,
    http_method TEXT,
    http_status BIGINT,
    rpc_service TEXT,
    rpc_method TEXT,
    db_system TEXT,
    exception_type TEXT,
    attributes TEXT NOT NULL,
    events TEXT,
    links TEXT,
    dropped_attributes_count BIGINT NOT NULL,
    dropped_events_count BIGINT NOT NULL,
    dropped_links_count BIGINT NOT NULL
);
CREATE INDEX spans_trace ON spans (trace_id);
CREATE INDEX spans_request ON spans (request_id) WHERE request_id IS NOT NULL;

-- One row per trace, maintained at ingest, so that search never scans spans.
CREATE TABLE traces (
    trace_id BYTEA PRIMARY KEY,
    start_ns BIGINT NOT NULL,
    end_ns BIGINT NOT NULL,
    span_count BIGINT NOT NULL,
    error_count BIGINT NOT NULL,
    root_service TEXT,
    root_name TEXT
);
CREATE INDEX traces_start ON traces (start_ns);

CREATE TABLE trace_services (
    trace_id BYTEA NOT NULL,
    service TEXT NOT NULL,
    PRIMARY KEY (trace_id, service)
);

CREATE TABLE logs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts_ns BIGINT NOT NULL,
    time_ns BIGINT NOT NULL,
    observed_ns BIGINT NOT NULL,
    resource_id BIGINT NOT NULL,
    scope_id BIGINT NOT NULL,
    service TEXT NOT NULL,
    severity_number INTEGER NOT NULL,
    severity_text TEXT NOT NULL,
    body TEXT NOT NULL,
    body_text TEXT NOT NULL,
    event_name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    dropped_attributes_count BIGINT NOT NULL,
    flags BIGINT NOT NULL,
    trace_id BYTEA,
    span_id BYTEA,
    request_id TEXT
);
CREATE INDEX logs_ts ON logs (ts_ns);
CREATE INDEX logs_service_ts ON logs (service, ts_ns);
CREATE INDEX logs_trace ON logs (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX logs_request ON logs (request_id) WHERE request_id IS NOT NULL;

-- Full-text index of log bodies: string bodies as written, others as their JSON text.
CREATE INDEX logs_body_fts ON logs USING GIN (to_tsvector('simple', body_text));

CREATE TABLE metrics (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint BIGINT NOT NULL UNIQUE,
    resource_id BIGINT NOT NULL,
    scope_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    unit TEXT NOT NULL,
    description TEXT NOT NULL,
    temporality INTEGER NOT NULL,
    monotonic BOOLEAN NOT NULL,
    metadata TEXT NOT NULL
);
CREATE INDEX metrics_name ON metrics (name);

CREATE TABLE metric_points (
    metric_id BIGINT NOT NULL,
    attributes TEXT NOT NULL,
    start_ns BIGINT NOT NULL,
    time_ns BIGINT NOT NULL,
    flags BIGINT NOT NULL,
    number DOUBLE PRECISION,
    data TEXT NOT NULL,
    exemplars TEXT
);
CREATE INDEX metric_points_metric_time ON metric_points (metric_id, time_ns);

-- Running totals, so that /api/v1/stats never counts rows.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('spans', 0), ('logs', 0), ('metric_points', 0);

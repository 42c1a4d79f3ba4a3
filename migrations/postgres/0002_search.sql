-- Trace search by service, and any id resolved to its request: by span id.
CREATE INDEX trace_services_service ON trace_services (service, trace_id);
CREATE INDEX spans_span ON spans (span_id);

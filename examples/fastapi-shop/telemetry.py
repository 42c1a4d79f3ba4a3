"""OpenTelemetry set-up shared by the shop's three services.

`setup(default_service_name)` builds a TracerProvider, a LoggerProvider with the
`logging` bridge on the root logger, and a MeterProvider, each exporting over
OTLP. The exporters are configured only by the standard environment variables:

  OTEL_EXPORTER_OTLP_ENDPOINT   default http://localhost:4318 (http/protobuf)
                                or http://localhost:4317 (grpc)
  OTEL_EXPORTER_OTLP_PROTOCOL   http/protobuf (default) or grpc; per signal
                                OTEL_EXPORTER_OTLP_{TRACES,LOGS,METRICS}_PROTOCOL
  OTEL_SERVICE_NAME             default: the service's own name
  (and every other OTEL_* variable the SDK and its exporters read)

`instrument(app)` adds the FastAPI instrumentation (server spans and the
http.server.duration histogram) and the X-Request-ID middleware. httpx clients
are instrumented for the whole process; `http_client()` makes one that
forwards the request id. `lifespan` flushes and shuts the providers down when
the app stops (uvicorn runs it on SIGTERM and SIGINT).

The request id: the incoming `X-Request-ID` header, or a new uuid4. It is the
`request.id` attribute of the server span and of every span started while the
request runs, the `request.id` attribute of every log record written meanwhile,
the `X-Request-ID` header of the response and of every call to the next service.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import os
import re
import threading
import uuid
from contextlib import asynccontextmanager

import httpx
from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

REQUEST_ID_HEADER = "X-Request-ID"
# One of the keys loupe indexes as a request id (see --request-id-keys).
REQUEST_ID_ATTRIBUTE = "request.id"

# An incoming id is kept if it is short printable ASCII; anything else is replaced.
_VALID_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_providers: dict = {}
_lock = threading.Lock()
log = logging.getLogger("shop.telemetry")


def current_request_id() -> str | None:
    return _request_id.get()


# --------------------------------------------------------------------------- exporters


def _protocol(signal: str) -> str:
    value = (
        os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    return value.strip().lower()


def _exporter(signal: str):
    """The OTLP exporter of one signal; it reads its endpoint, headers,
    timeout, compression and so on from the OTEL_EXPORTER_OTLP_* variables."""
    protocol = _protocol(signal)
    if protocol == "http/protobuf":
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Exporter
        elif signal == "logs":
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as Exporter
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as Exporter
    elif protocol == "grpc":
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Exporter
        elif signal == "logs":
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as Exporter
        else:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Exporter
    else:
        raise RuntimeError(
            f"OTLP protocol {protocol!r} for {signal}: the Python SDK exports http/protobuf or grpc"
        )
    return Exporter()


# --------------------------------------------------------------------------- request id on spans and logs


class RequestIdSpanProcessor(SpanProcessor):
    """Puts the current request id on every span started while a request runs
    (database and client spans too, so each is found by the request id)."""

    def on_start(self, span, parent_context=None) -> None:
        rid = _request_id.get()
        if rid is not None:
            span.set_attribute(REQUEST_ID_ATTRIBUTE, rid)


class RequestIdFilter(logging.Filter):
    """Adds the `request.id` attribute to a log record written during a request
    (unless the caller passed one in `extra`); the logging bridge exports it as
    a log attribute. With `drop_sdk=True` it also keeps the SDK's own records
    (export failures and the like) from being exported through the SDK."""

    def __init__(self, drop_sdk: bool = False) -> None:
        super().__init__()
        self.drop_sdk = drop_sdk

    def filter(self, record: logging.LogRecord) -> bool:
        if self.drop_sdk and record.name.startswith("opentelemetry"):
            return False
        if REQUEST_ID_ATTRIBUTE not in record.__dict__:
            rid = _request_id.get()
            if rid is not None:
                record.__dict__[REQUEST_ID_ATTRIBUTE] = rid
        return True


class ConsoleFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        rid = record.__dict__.get(REQUEST_ID_ATTRIBUTE)
        return f"{line} [request.id={rid}]" if rid else line


class RequestIdMiddleware:
    """ASGI middleware. FastAPI's instrumentation wraps the whole middleware
    stack, so the current span here is the request's server span."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for key, value in scope.get("headers") or []:
            if key.lower() == b"x-request-id":
                incoming = value.decode("latin-1").strip()
                break
        rid = incoming if _VALID_REQUEST_ID.match(incoming) else str(uuid.uuid4())
        trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, rid)
        header = (b"x-request-id", rid.encode("ascii"))

        async def send_with_request_id(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers") or [] if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        token = _request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            _request_id.reset(token)


async def _forward_request_id(request: httpx.Request) -> None:
    rid = _request_id.get()
    if rid is not None:
        request.headers[REQUEST_ID_HEADER] = rid


def http_client(**kwargs) -> httpx.AsyncClient:
    """An httpx client (instrumented: client spans, traceparent) that sends
    the current request id to the next service."""
    kwargs.setdefault("timeout", 10.0)
    hooks = kwargs.pop("event_hooks", {}) or {}
    hooks = {**hooks, "request": [_forward_request_id, *hooks.get("request", [])]}
    return httpx.AsyncClient(event_hooks=hooks, **kwargs)


# --------------------------------------------------------------------------- providers


def setup(default_service_name: str) -> None:
    """Once per process: providers, exporters, the logging bridge, httpx."""
    with _lock:
        if _providers:
            return
        resource = Resource.create()
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            resource = resource.merge(Resource({"service.name": default_service_name}))

        tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        tracer_provider.add_span_processor(RequestIdSpanProcessor())
        tracer_provider.add_span_processor(BatchSpanProcessor(_exporter("traces")))
        trace.set_tracer_provider(tracer_provider)

        logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(_exporter("logs")))
        set_logger_provider(logger_provider)

        # The export interval is OTEL_METRIC_EXPORT_INTERVAL (default 60 s);
        # shutdown exports once more, so a short run still sends its metrics.
        reader = PeriodicExportingMetricReader(_exporter("metrics"))
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader], shutdown_on_exit=False)
        metrics.set_meter_provider(meter_provider)

        root = logging.getLogger()
        root.setLevel(logging.INFO)
        bridge = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
        bridge.addFilter(RequestIdFilter(drop_sdk=True))
        root.addHandler(bridge)
        console = logging.StreamHandler()
        console.setFormatter(ConsoleFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        console.addFilter(RequestIdFilter())
        root.addHandler(console)

        HTTPXClientInstrumentor().instrument()

        _providers.update(traces=tracer_provider, logs=logger_provider, metrics=meter_provider, bridge=bridge)
    atexit.register(shutdown)


def instrument(app) -> None:
    """Server spans and HTTP server metrics for `app`, plus the request id."""
    app.add_middleware(RequestIdMiddleware)
    excluded = os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS") or os.environ.get("OTEL_PYTHON_EXCLUDED_URLS")
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=excluded or "/healthz",  # readiness probes are not requests worth a trace
        exclude_spans=["receive", "send"],  # one span per ASGI message is noise here
    )


def shutdown() -> None:
    """Export what is buffered and stop the providers; safe to call twice."""
    with _lock:
        providers = dict(_providers)
        _providers.clear()
    if not providers:
        return
    log.info("telemetry: flushing and shutting down")
    # Metrics first (their last collection), logs last (so the lines above go out).
    providers["metrics"].shutdown()
    providers["traces"].shutdown()
    logging.getLogger().removeHandler(providers["bridge"])
    providers["logs"].shutdown()


@asynccontextmanager
async def lifespan(app):
    """FastAPI lifespan: nothing to start; on shutdown, flush everything."""
    try:
        yield
    finally:
        shutdown()

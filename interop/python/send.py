#!/usr/bin/env python3
"""Send one trace, two log records and three metrics to an OTLP endpoint with
the official OpenTelemetry Python SDK.

Usage: send.py ENDPOINT PROTOCOL RUN_ID

  ENDPOINT  base URL of the receiver, e.g. http://127.0.0.1:4317 (grpc) or
            http://127.0.0.1:4318 (http/protobuf; /v1/traces, /v1/logs and
            /v1/metrics are appended)
  PROTOCOL  grpc | http/protobuf
  RUN_ID    unique id of this run; lands in the resource attribute run.id,
            the request_id attributes and the log bodies

Prints one JSON line on stdout:
  {"trace_id": "<32 hex>", "service": "...", "spans": 3, "logs": 2}
and exits 1 if any export reported a failure (the summary is still printed).
Used by interop/run.py; the data sent here is what run.py asserts on.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import warnings

from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

SCOPE_NAME = "interop.python"
SCOPE_VERSION = "1.0.0"


def exporters(endpoint: str, protocol: str):
    endpoint = endpoint.rstrip("/")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return (
            OTLPSpanExporter(endpoint=endpoint, insecure=True),
            OTLPLogExporter(endpoint=endpoint, insecure=True),
            OTLPMetricExporter(endpoint=endpoint, insecure=True),
        )
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return (
            OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"),
            OTLPLogExporter(endpoint=f"{endpoint}/v1/logs"),
            OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"),
        )
    raise SystemExit(f"unknown protocol {protocol!r} (want grpc or http/protobuf)")


class ExportTally:
    """Wraps an exporter instance's export() to record every result."""

    def __init__(self) -> None:
        self.results: dict[str, list[str]] = {}

    def watch(self, signal: str, exporter) -> None:
        original = exporter.export
        results = self.results.setdefault(signal, [])

        def export(*args, **kwargs):
            result = original(*args, **kwargs)
            results.append(getattr(result, "name", str(result)))
            return result

        exporter.export = export

    def problems(self) -> list[str]:
        out = []
        for signal, results in self.results.items():
            if not results:
                out.append(f"{signal}: nothing was exported")
            bad = [r for r in results if r != "SUCCESS"]
            if bad:
                out.append(f"{signal}: export results {results}")
        return out


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    endpoint, protocol, run_id = argv[1], argv[2], argv[3]
    service = "interop-py-" + re.sub(r"[^a-z0-9]+", "-", protocol.lower()).strip("-")
    request_id = f"req-{run_id}"

    # LoggingHandler in the SDK is deprecated in favour of a contrib package;
    # the brief is to test the SDK's own bridge, so silence the notice.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"opentelemetry\..*")

    resource = Resource.create(
        {"service.name": service, "service.version": "1.2.3", "run.id": run_id}
    )
    span_exporter, log_exporter, metric_exporter = exporters(endpoint, protocol)
    tally = ExportTally()
    tally.watch("traces", span_exporter)
    tally.watch("logs", log_exporter)
    tally.watch("metrics", metric_exporter)

    # --- providers -------------------------------------------------------
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
    log = logging.getLogger("interop.checkout")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(handler)

    # A long interval: the one export happens on shutdown.
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=600_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])

    # --- trace + the log line inside it ------------------------------------
    tracer = tracer_provider.get_tracer(
        SCOPE_NAME, SCOPE_VERSION, attributes={"interop.scope": "python"}
    )
    server_attributes = {
        "http.request.method": "GET",
        "http.route": "/checkout",
        "http.response.status_code": 502,
        "request_id": request_id,
        "url.path": "/checkout",
        "url.scheme": "https",
        "server.address": "shop.interop.test",
        "server.port": 8443,
        "user_agent.original": "interop-python/1.0",
        "interop.str": "hello",
        "interop.int": 42,
        "interop.negative_int": -7,
        "interop.big_int": 9007199254740993,  # 2**53 + 1: must not pass through f64
        "interop.float": 3.25,
        "interop.bool": True,
        "interop.false": False,
        "interop.str_list": ["alpha", "beta", "gamma"],
        "interop.int_list": [1, 2, 3],
        "interop.float_list": [0.5, 1.5],
        "interop.bool_list": [True, False],
    }
    with tracer.start_as_current_span(
        "GET /checkout", kind=SpanKind.SERVER, attributes=server_attributes
    ) as server:
        trace_id = format(server.get_span_context().trace_id, "032x")
        server.add_event("cart.loaded", {"cart.items": 3, "cart.currency": "EUR"})
        with tracer.start_as_current_span(
            "POST /charge",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": "POST",
                "url.full": "https://payments.interop.test/charge",
                "server.address": "payments.interop.test",
                "http.response.status_code": 402,
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as client:
            with tracer.start_as_current_span(
                "validate card",
                kind=SpanKind.INTERNAL,
                attributes={"card.brand": "visa", "card.checks": 2},
                links=[Link(server.get_span_context(), {"link.reason": "validation-of"})],
            ):
                pass
            try:
                raise ValueError("card declined")
            except ValueError as exc:
                client.record_exception(exc, attributes={"payment.attempt": 1})
            client.set_status(Status(StatusCode.ERROR, "card declined by issuer"))
        server.set_status(Status(StatusCode.ERROR, "upstream payment failure"))
        log.warning("payment failed for %s", run_id, extra={"request_id": request_id})

    log.info("checkout request finished for %s", run_id, extra={"request_id": request_id})

    # --- metrics -------------------------------------------------------------
    meter = meter_provider.get_meter(SCOPE_NAME, SCOPE_VERSION)
    meter.create_counter(
        "interop.requests", unit="{request}", description="Requests handled"
    ).add(3, {"route": "/checkout"})
    duration = meter.create_histogram(
        "interop.duration", unit="ms", description="Request duration"
    )
    for value in (5, 50, 500):
        duration.record(value, {"route": "/checkout"})
    meter.create_gauge(
        "interop.queue_depth", unit="{item}", description="Items waiting"
    ).set(7, {"queue": "payments"})

    # --- flush everything before exit ------------------------------------------
    log.removeHandler(handler)
    tracer_provider.force_flush()
    tracer_provider.shutdown()
    logger_provider.force_flush()
    logger_provider.shutdown()
    meter_provider.shutdown()  # collects and exports once

    print(json.dumps({"trace_id": trace_id, "service": service, "spans": 3, "logs": 2}))
    sys.stdout.flush()
    problems = tally.problems()
    for problem in problems:
        print(f"send.py: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

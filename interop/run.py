#!/usr/bin/env python3
"""Interoperability tests: real OpenTelemetry SDKs -> `loupe serve` -> JSON API.

Usage:
  python3 interop/run.py --loupe BIN --python PYTHON_OF_VENV --node-dir interop/js

Starts one `loupe serve` on a fresh SQLite database with every listener on an
ephemeral loopback port, then, for each sender

  python-grpc           interop/python/send.py over OTLP/gRPC (protobuf)
  python-http-protobuf  interop/python/send.py over OTLP/HTTP (protobuf)
  js-http-json          interop/js/send.mjs over OTLP/HTTP (JSON)

runs it with a fresh RUN_ID and checks, through the JSON API, that the trace,
the log records and the metrics it sent arrived intact. Then (fastapi-shop)
it starts examples/fastapi-shop's gateway, orders and payments under uvicorn
on ephemeral loopback ports, exporting over OTLP/HTTP (protobuf), sends a few
orders with known X-Request-IDs (one declined), stops the services with
SIGTERM so they flush, and checks the cross-service trace, the request view
with its logs, the error origin in payments and the HTTP server metrics.
Every wait is a condition poll with a deadline; nothing sleeps for a fixed time.

Each check prints `ok NAME` or `FAIL NAME: reason`; the last line is
`N passed, M failed`; the exit status is 1 if any check failed.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The keys of a keyed server (Server(keys=True)): every sender sends the
# ingest key from OTEL_EXPORTER_OTLP_HEADERS, as a team would configure its
# SDKs, and every API call the read key; an open server ignores both.
INGEST_KEY = uuid.uuid4().hex
READ_KEY = uuid.uuid4().hex

STARTUP_DEADLINE = 60.0  # seconds for `loupe serve` to print its listening line
ARRIVAL_DEADLINE = 30.0  # seconds for sent data to show up in the API
SENDER_TIMEOUT = 120.0  # seconds for one sender process
SHUTDOWN_DEADLINE = 20.0  # seconds for loupe to exit after SIGTERM

LISTENING_RE = re.compile(r"loupe listening otlp_grpc=(\S+)\s+otlp_http=(\S+)\s+ui=(\S+)")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
SPAN_KINDS = {"internal", "server", "client", "producer", "consumer", "unspecified"}
STATUS_CODES = {"unset", "ok", "error"}
DEFAULT_BOUNDS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]


class Fail(Exception):
    """A check failed; the message says why."""


def expect(cond: bool, message: str) -> None:
    if not cond:
        raise Fail(message)


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def short(value, limit: int = 300) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------- reporting


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def ok(self, name: str) -> None:
        self.passed += 1
        print(f"ok {name}", flush=True)

    def fail(self, name: str, reason: str) -> None:
        self.failed.append(name)
        reason = " ".join(str(reason).split())
        print(f"FAIL {name}: {reason}", flush=True)

    def check(self, name: str, fn, *args):
        """Run fn(*args); record ok/FAIL. Returns fn's result, or None on failure."""
        try:
            result = fn(*args)
        except Fail as exc:
            self.fail(name, str(exc))
            return None
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            self.fail(name, f"unexpected response shape: {type(exc).__name__}: {exc}")
            return None
        self.ok(name)
        return result


# --------------------------------------------------------------------------- HTTP API


class Api:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def get(self, path: str, **query) -> tuple[int, object]:
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        req = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "Authorization": f"Bearer {READ_KEY}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            return 0, f"request failed: {exc}"
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def get_json(self, path: str, **query):
        status, body = self.get(path, **query)
        if status != 200:
            raise Fail(f"GET {path} -> HTTP {status}: {short(body)}")
        if isinstance(body, str):
            raise Fail(f"GET {path} -> not JSON: {short(body)}")
        return body


def wait_until(what: str, probe, deadline: float = ARRIVAL_DEADLINE):
    """Poll probe() until it returns (True, value); raise Fail at the deadline.

    probe returns (done, value_or_reason). Fail raised inside probe counts as
    "not yet" (the reason is kept for the timeout message).
    """
    end = time.monotonic() + deadline
    interval = 0.05
    reason = "never polled"
    while True:
        try:
            done, value = probe()
        except Fail as exc:
            done, value = False, str(exc)
        if done:
            return value
        reason = value
        if time.monotonic() >= end:
            raise Fail(f"timed out after {deadline:.0f}s waiting for {what}: {reason}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


# --------------------------------------------------------------------------- server


class Server:
    def __init__(self, binary: str, workdir: str, keys: bool = False,
                 db_dir: str | None = None, extra: tuple[str, ...] = ()) -> None:
        self.stderr_path = os.path.join(workdir, "loupe.stderr")
        self.stdout_lines: list[str] = []
        self._lines: queue.Queue = queue.Queue()
        self._stderr = open(self.stderr_path, "wb")
        cmd = [
            binary,
            "serve",
            "--database-url",
            f"sqlite://{db_dir or workdir}/loupe.db",
            "--otlp-grpc-addr",
            "127.0.0.1:0",
            "--otlp-http-addr",
            "127.0.0.1:0",
            "--ui-addr",
            "127.0.0.1:0",
            *extra,
        ]
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        if keys:
            env["LOUPE_INGEST_KEYS"] = f"interop:{INGEST_KEY}"
            env["LOUPE_READ_KEYS"] = f"reader:{READ_KEY}"
        self.cmd = cmd
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=workdir,
        )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:  # keeps draining so the server never blocks on stdout
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stdout_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def wait_listening(self, deadline: float = STARTUP_DEADLINE) -> tuple[str, str, str]:
        end = time.monotonic() + deadline
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise Fail(f"no 'loupe listening ...' line on stdout within {deadline:.0f}s")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait()
                raise Fail(f"loupe exited with status {code} before printing its listening line")
            match = LISTENING_RE.search(ANSI_RE.sub("", line))
            if match:
                return match.group(1), match.group(2), match.group(3)

    def stop(self) -> int | None:
        """SIGTERM, then wait. Returns the exit status, or None if it had to be killed."""
        self.died_early = self.proc.poll() is not None
        if not self.died_early:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=SHUTDOWN_DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._finish()
                return None
        self._finish()
        return self.proc.returncode

    def _finish(self) -> None:
        self._reader.join(timeout=5)
        self._stderr.close()

    def tails(self, lines: int = 80) -> str:
        try:
            with open(self.stderr_path, "rb") as fh:
                err = fh.read().decode("utf-8", "replace").splitlines()
        except OSError:
            err = []
        out = [
            f"---- loupe command: {' '.join(self.cmd)}",
            f"---- loupe stdout (last {lines} lines) ----",
            *self.stdout_lines[-lines:],
            f"---- loupe stderr (last {lines} lines) ----",
            *err[-lines:],
            "---- end of loupe output ----",
        ]
        return "\n".join(out)


# --------------------------------------------------------------------------- senders


def sender_env() -> dict:
    # The SDKs read OTEL_* variables; none from the caller may change what is sent.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_OTLP_HEADERS"] = f"Authorization=Bearer%20{INGEST_KEY}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_sender(spec: dict) -> dict:
    try:
        proc = subprocess.run(
            spec["cmd"],
            cwd=spec.get("cwd"),
            env=sender_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=SENDER_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        spec["summary"] = None
        raise Fail(f"sender did not finish within {SENDER_TIMEOUT:.0f}s; stderr: "
                   f"{short((exc.stderr or b'').decode('utf-8', 'replace')[-1500:], 1500)}")
    except OSError as exc:
        raise Fail(f"could not start {spec['cmd'][0]}: {exc}")
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    summary = None
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    if lines:
        try:
            summary = json.loads(lines[-1])
        except ValueError:
            summary = None
    if isinstance(summary, dict) and HEX32.match(str(summary.get("trace_id", ""))):
        spec["summary"] = summary  # later checks can run even if the exit status is bad
    tail = stderr[-1500:].strip()
    expect(proc.returncode == 0, f"exit status {proc.returncode}; stderr tail: {tail}")
    expect(isinstance(summary, dict), f"last stdout line is not a JSON object: {short(stdout[-300:])}")
    expect(HEX32.match(str(summary.get("trace_id", ""))) is not None,
           f"trace_id is not 32 lowercase hex: {short(summary)}")
    expect(summary.get("service") == spec["service"],
           f"service {summary.get('service')!r} != {spec['service']!r}")
    expect(summary.get("spans") == 3 and summary.get("logs") == 2, f"summary counts: {short(summary)}")
    return summary


# --------------------------------------------------------------------------- validators


def check_attr_object(where: str, attrs) -> None:
    expect(isinstance(attrs, dict), f"{where}.attributes is not a JSON object: {short(attrs)}")


def validate_span_shape(span: dict) -> None:
    sid = span.get("span_id")
    where = f"span {span.get('name')!r}"
    expect(isinstance(sid, str) and HEX16.match(sid) is not None, f"{where}: span_id {sid!r} is not 16 lowercase hex")
    parent = span.get("parent_span_id", "missing")
    expect(parent is None or (isinstance(parent, str) and HEX16.match(parent) is not None),
           f"{where}: parent_span_id {parent!r} is neither null nor 16 lowercase hex")
    expect(isinstance(span.get("service"), str), f"{where}: service {span.get('service')!r} is not a string")
    expect(isinstance(span.get("name"), str), f"{where}: name is not a string")
    expect(span.get("kind") in SPAN_KINDS, f"{where}: kind {span.get('kind')!r} not in {sorted(SPAN_KINDS)}")
    start, end = span.get("start_time_unix_nano"), span.get("end_time_unix_nano")
    expect(is_int(start) and start > 0, f"{where}: start_time_unix_nano {start!r} is not a positive integer")
    expect(is_int(end) and end >= start, f"{where}: end_time_unix_nano {end!r} is not an integer >= start")
    status = span.get("status")
    expect(isinstance(status, dict), f"{where}: status is not an object: {short(status)}")
    expect(status.get("code") in STATUS_CODES, f"{where}: status.code {status.get('code')!r} not in {sorted(STATUS_CODES)}")
    expect("message" in status and (status["message"] is None or isinstance(status["message"], str)),
           f"{where}: status.message missing or not a string/null: {short(status)}")
    check_attr_object(where, span.get("attributes"))
    resource = span.get("resource")
    expect(isinstance(resource, dict), f"{where}: resource is not an object: {short(resource)}")
    scope = span.get("scope")
    expect(isinstance(scope, dict), f"{where}: scope is not an object: {short(scope)}")
    for key in ("name", "version", "attributes"):
        expect(key in scope, f"{where}: scope has no {key!r}: {short(scope)}")
    expect(isinstance(scope["attributes"], dict), f"{where}: scope.attributes is not an object")
    events = span.get("events")
    expect(isinstance(events, list), f"{where}: events is not a list: {short(events)}")
    for ev in events:
        expect(isinstance(ev, dict) and isinstance(ev.get("name"), str), f"{where}: bad event {short(ev)}")
        expect(is_int(ev.get("time_unix_nano")), f"{where}: event time_unix_nano not an integer: {short(ev)}")
        check_attr_object(f"{where} event {ev.get('name')!r}", ev.get("attributes"))
    expect(isinstance(span.get("links"), list), f"{where}: links is not a list: {short(span.get('links'))}")
    expect("request_id" in span, f"{where}: no request_id key")
    rid = span["request_id"]
    expect(rid is None or isinstance(rid, str), f"{where}: request_id {rid!r} is neither string nor null")


def validate_log_shape(rec: dict) -> None:
    where = f"log {short(rec.get('body'), 60)}"
    for key in ("time_unix_nano", "observed_time_unix_nano", "service", "severity_number", "severity_text",
                "body", "attributes", "trace_id", "span_id", "request_id", "resource", "scope",
                "event_name", "flags"):
        expect(key in rec, f"{where}: no {key!r} key (keys: {sorted(rec)})")
    expect(is_int(rec["time_unix_nano"]) and rec["time_unix_nano"] > 0, f"{where}: time_unix_nano {rec['time_unix_nano']!r}")
    expect(is_int(rec["observed_time_unix_nano"]) and rec["observed_time_unix_nano"] > 0,
           f"{where}: observed_time_unix_nano {rec['observed_time_unix_nano']!r}")
    expect(isinstance(rec["service"], str), f"{where}: service {rec['service']!r}")
    expect(is_int(rec["severity_number"]), f"{where}: severity_number {rec['severity_number']!r} is not an integer")
    expect(rec["severity_text"] is None or isinstance(rec["severity_text"], str), f"{where}: severity_text")
    check_attr_object(where, rec["attributes"])
    tid, sid = rec["trace_id"], rec["span_id"]
    expect(tid is None or (isinstance(tid, str) and HEX32.match(tid) is not None), f"{where}: trace_id {tid!r}")
    expect(sid is None or (isinstance(sid, str) and HEX16.match(sid) is not None), f"{where}: span_id {sid!r}")
    expect(rec["request_id"] is None or isinstance(rec["request_id"], str), f"{where}: request_id")
    expect(isinstance(rec["resource"], dict), f"{where}: resource is not an object")
    expect(isinstance(rec["scope"], dict), f"{where}: scope is not an object")
    expect(rec["event_name"] is None or isinstance(rec["event_name"], str), f"{where}: event_name")
    expect(rec["flags"] is None or is_int(rec["flags"]), f"{where}: flags {rec['flags']!r}")


def span_by_name(spans: list, name: str) -> dict:
    found = [s for s in spans if s.get("name") == name]
    expect(len(found) == 1, f"expected one span named {name!r}, found {len(found)} (names: {[s.get('name') for s in spans]})")
    return found[0]


def latest_point(points: list, service: str, metric: str) -> dict:
    mine = [p for p in points if isinstance(p, dict) and p.get("service") == service]
    expect(mine, f"{metric}: no point with service {service!r} among {len(points)} points")
    return max(mine, key=lambda p: p.get("time_unix_nano") or 0)


# --------------------------------------------------------------------------- one sender


def run_sender_checks(report: Report, api: Api, spec: dict) -> None:
    sid = spec["id"]
    run_id = spec["run_id"]
    service = spec["service"]
    request_id = f"req-{run_id}"
    state: dict = {}

    def name(text: str) -> str:
        return f"{sid}: {text}"

    def needs(*keys):
        for key in keys:
            if state.get(key) is None:
                raise Fail(f"skipped: an earlier check of {sid} failed ({key} unavailable)")

    # -- stats before
    status, body = api.get("/api/v1/stats")
    state["stats_before"] = body if status == 200 and isinstance(body, dict) else None

    summary = report.check(name("sender runs and prints its summary"), run_sender, spec)
    summary = summary or spec.get("summary")
    state["trace_id"] = summary.get("trace_id") if summary else None

    # -- the trace
    def trace_arrived():
        needs("trace_id")

        def probe():
            status, body = api.get(f"/api/v1/traces/{state['trace_id']}")
            if status != 200:
                return False, f"HTTP {status}: {short(body)}"
            if not isinstance(body, dict) or not isinstance(body.get("spans"), list):
                return False, f"not a trace object: {short(body)}"
            if len(body["spans"]) < 3:
                return False, f"{len(body['spans'])} of 3 spans"
            return True, body

        trace = wait_until(f"trace {state['trace_id']} with 3 spans", probe)
        expect(trace.get("trace_id") == state["trace_id"], f"trace_id {trace.get('trace_id')!r}")
        expect(len(trace["spans"]) == 3, f"{len(trace['spans'])} spans, expected exactly 3")
        for key in ("logs", "error_origin"):
            expect(key in trace, f"trace object has no {key!r} key (keys: {sorted(trace)})")
        expect(isinstance(trace["logs"], list), f"trace logs is not a list: {short(trace['logs'])}")
        state["trace"] = trace
        return trace

    report.check(name("trace arrives with 3 spans"), trace_arrived)

    def spans():
        needs("trace")
        return state["trace"]["spans"]

    def span_fields():
        for span in spans():
            validate_span_shape(span)

    report.check(name("span fields have the documented types"), span_fields)

    def span_tree():
        all_spans = spans()
        server = span_by_name(all_spans, "GET /checkout")
        client = span_by_name(all_spans, "POST /charge")
        internal = span_by_name(all_spans, "validate card")
        expect(server["parent_span_id"] is None, f"root parent_span_id {server['parent_span_id']!r}, expected null")
        expect(client["parent_span_id"] == server["span_id"], "client span's parent is not the server span")
        expect(internal["parent_span_id"] == client["span_id"], "internal span's parent is not the client span")
        kinds = (server["kind"], client["kind"], internal["kind"])
        expect(kinds == ("server", "client", "internal"), f"kinds {kinds}, expected ('server', 'client', 'internal')")
        for span in all_spans:
            expect(span["service"] == service, f"span {span['name']!r} service {span['service']!r} != {service!r}")
        expect(len({s["span_id"] for s in all_spans}) == 3, "span ids are not distinct")
        state["server"], state["client"], state["internal"] = server, client, internal

    report.check(name("span tree, names, kinds and service"), span_tree)

    def typed_attributes():
        needs("server")
        attrs = state["server"]["attributes"]
        want_exact = {
            "http.request.method": "GET",
            "http.route": "/checkout",
            "request_id": request_id,
            "interop.str": "hello",
            "interop.str_list": ["alpha", "beta", "gamma"],
            "interop.int_list": [1, 2, 3],
            "interop.float_list": [0.5, 1.5],
            "interop.bool_list": [True, False],
        }
        for key, want in want_exact.items():
            expect(attrs.get(key) == want, f"attributes[{key!r}] = {short(attrs.get(key))}, expected {short(want)}")
        ints = {"http.response.status_code": 502, "server.port": 8443, "interop.int": 42, "interop.negative_int": -7}
        if spec.get("big_int"):
            ints["interop.big_int"] = 9007199254740993
        for key, want in ints.items():
            got = attrs.get(key)
            expect(is_int(got) and got == want, f"attributes[{key!r}] = {got!r}, expected the JSON integer {want}")
        for v in attrs["interop.int_list"]:
            expect(is_int(v), f"interop.int_list element {v!r} is not a JSON integer")
        got = attrs.get("interop.float")
        expect(isinstance(got, float) and got == 3.25, f"attributes['interop.float'] = {got!r}, expected the JSON float 3.25")
        expect(attrs.get("interop.bool") is True, f"attributes['interop.bool'] = {attrs.get('interop.bool')!r}, expected true")
        expect(attrs.get("interop.false") is False, f"attributes['interop.false'] = {attrs.get('interop.false')!r}, expected false")

    report.check(name("span attributes keep their JSON types"), typed_attributes)

    def status_and_events():
        needs("server")
        server, client, internal = state["server"], state["client"], state["internal"]
        expect(client["status"]["code"] == "error", f"client status {short(client['status'])}, expected error")
        expect(client["status"]["message"] == "card declined by issuer", f"client status message {client['status']['message']!r}")
        expect(server["status"]["code"] == "error", f"server status {short(server['status'])}, expected error")
        expect(internal["status"]["code"] == "unset", f"internal status {short(internal['status'])}, expected unset")
        exc = [e for e in client["events"] if e["name"] == "exception"]
        expect(len(exc) == 1, f"client span has {len(exc)} exception events: {short(client['events'])}")
        ev_attrs = exc[0]["attributes"]
        expect(ev_attrs.get("exception.type") == spec["exception_type"],
               f"exception.type {ev_attrs.get('exception.type')!r}, expected {spec['exception_type']!r}")
        expect(ev_attrs.get("exception.message") == "card declined", f"exception.message {ev_attrs.get('exception.message')!r}")
        cart = [e for e in server["events"] if e["name"] == "cart.loaded"]
        expect(len(cart) == 1, f"server span events {short(server['events'])}, expected one 'cart.loaded'")
        items = cart[0]["attributes"].get("cart.items")
        expect(is_int(items) and items == 3, f"cart.loaded attributes {short(cart[0]['attributes'])}")
        links = internal["links"]
        expect(len(links) == 1, f"internal span has {len(links)} links, expected 1: {short(links)}")
        if isinstance(links[0], dict) and "span_id" in links[0]:
            expect(links[0]["span_id"] == server["span_id"], f"link points at {links[0]['span_id']!r}, not the server span")

    report.check(name("status, exception event, events and links"), status_and_events)

    def resource_scope_request_id():
        needs("server")
        for span in spans():
            res = span["resource"]
            expect(res.get("service.name") == service, f"resource service.name {res.get('service.name')!r}")
            expect(res.get("run.id") == run_id, f"resource run.id {res.get('run.id')!r}, expected {run_id!r}")
            expect(span["scope"]["name"] == spec["scope"], f"scope name {span['scope']['name']!r}, expected {spec['scope']!r}")
            expect(span["scope"]["version"] == "1.0.0", f"scope version {span['scope']['version']!r}")
        if spec.get("scope_attributes"):
            got = state["server"]["scope"]["attributes"]
            expect(got == spec["scope_attributes"], f"scope attributes {short(got)}, expected {short(spec['scope_attributes'])}")
        expect(state["server"]["request_id"] == request_id,
               f"server span request_id {state['server']['request_id']!r}, expected {request_id!r}")

    report.check(name("resource, scope and request_id"), resource_scope_request_id)

    def error_origin():
        needs("client")
        origin = state["trace"]["error_origin"]
        client_id = state["client"]["span_id"]
        got = origin.get("span_id") if isinstance(origin, dict) else origin
        expect(got == client_id, f"error_origin {short(origin)} does not point at the failing client span {client_id}")

    report.check(name("error_origin is the failing client span"), error_origin)

    # -- logs
    warning_body = f"payment failed for {run_id}"
    info_body = f"checkout request finished for {run_id}"

    def trace_logs():
        needs("server")

        def probe():
            body = api.get_json(f"/api/v1/traces/{state['trace_id']}")
            logs = body.get("logs") or []
            hits = [r for r in logs if isinstance(r, dict) and r.get("body") == warning_body]
            return (True, hits[0]) if hits else (False, f"trace logs: {short(logs)}")

        rec = wait_until("the warning in the trace's logs", probe)
        validate_log_shape(rec)
        expect(rec["trace_id"] == state["trace_id"], f"warning trace_id {rec['trace_id']!r}")
        expect(rec["span_id"] == state["server"]["span_id"], f"warning span_id {rec['span_id']!r}, expected the server span")

    report.check(name("trace includes the warning log"), trace_logs)

    def logs_by_request_id():
        needs("trace_id")

        def probe():
            body = api.get_json("/api/v1/logs", request_id=request_id)
            if not isinstance(body, list):
                return False, f"not a JSON list: {short(body)}"
            return (True, body) if len(body) >= 2 else (False, f"{len(body)} of 2 records")

        records = wait_until(f"2 log records with request_id={request_id}", probe)
        expect(len(records) == 2, f"{len(records)} records, expected 2: {short(records)}")
        for rec in records:
            validate_log_shape(rec)
            expect(rec["request_id"] == request_id, f"request_id {rec['request_id']!r}")
            expect(rec["attributes"].get("request_id") == request_id, f"attributes {short(rec['attributes'])}")
            expect(rec["service"] == service, f"service {rec['service']!r}")
            expect(rec["resource"].get("run.id") == run_id, f"resource {short(rec['resource'])}")
        by_body = {r["body"]: r for r in records}
        expect(set(by_body) == {warning_body, info_body}, f"bodies {sorted(map(str, by_body))}")
        warn, info = by_body[warning_body], by_body[info_body]
        expect(warn["trace_id"] == state["trace_id"], f"warning trace_id {warn['trace_id']!r}")
        expect(isinstance(warn["span_id"], str), f"warning span_id {warn['span_id']!r}")
        expect(warn["severity_number"] == 13 and warn["severity_text"] == "WARN",
               f"warning severity {warn['severity_number']!r}/{warn['severity_text']!r}, expected 13/WARN")
        expect(info["trace_id"] is None and info["span_id"] is None,
               f"info line trace/span ids {info['trace_id']!r}/{info['span_id']!r}, expected null")
        expect(info["severity_number"] == 9 and info["severity_text"] == "INFO",
               f"info severity {info['severity_number']!r}/{info['severity_text']!r}, expected 9/INFO")
        expect(warn["scope"].get("name") == "interop.checkout", f"log scope {short(warn['scope'])}")

    report.check(name("logs by request_id"), logs_by_request_id)

    def logs_full_text():
        def probe():
            body = api.get_json("/api/v1/logs", q="payment", service=service)
            if not isinstance(body, list):
                return False, f"not a JSON list: {short(body)}"
            hits = [r for r in body if isinstance(r, dict) and r.get("body") == warning_body]
            if not hits:
                return False, f"{len(body)} records, none with body {warning_body!r}"
            return True, body

        body = wait_until("full-text search q=payment", probe)
        for rec in body:
            expect(rec.get("service") == service, f"service filter leaked {rec.get('service')!r}")
            expect(rec.get("body") != info_body, "q=payment matched the info line, which does not contain 'payment'")

    report.check(name("logs full-text search q=payment&service="), logs_full_text)

    # -- metrics
    def catalog():
        want = {"interop.requests": "sum", "interop.duration": "histogram", "interop.queue_depth": "gauge"}

        def probe():
            body = api.get_json("/api/v1/metrics")
            if not isinstance(body, list):
                return False, f"not a JSON list: {short(body)}"
            names = {m.get("name") for m in body if isinstance(m, dict)}
            missing = sorted(set(want) - names)
            return (True, body) if not missing else (False, f"missing {missing}")

        body = wait_until("the three interop metrics in /api/v1/metrics", probe)
        by_name = {m["name"]: m for m in body}
        for metric, kind in want.items():
            m = by_name[metric]
            for key in ("name", "kind", "unit", "description", "series_count"):
                expect(key in m, f"{metric}: no {key!r} key: {short(m)}")
            expect(m["kind"] == kind, f"{metric}: kind {m['kind']!r}, expected {kind!r}")
            expect(is_int(m["series_count"]) and m["series_count"] >= 1, f"{metric}: series_count {m['series_count']!r}")
        expect(by_name["interop.duration"]["unit"] == "ms", f"interop.duration unit {by_name['interop.duration']['unit']!r}")
        expect(by_name["interop.duration"]["description"] == "Request duration",
               f"interop.duration description {by_name['interop.duration']['description']!r}")

    report.check(name("metrics catalog lists sum, histogram and gauge"), catalog)

    def points_of(metric: str, ready):
        def probe():
            body = api.get_json(f"/api/v1/metrics/{urllib.parse.quote(metric)}/points")
            if not isinstance(body, list):
                return False, f"not a JSON list: {short(body)}"
            mine = [p for p in body if isinstance(p, dict) and p.get("service") == service]
            if not mine:
                return False, f"no point for service {service!r} among {len(body)}"
            point = latest_point(body, service, metric)
            reason = ready(point)
            return (True, (body, point)) if reason is None else (False, reason)

        return wait_until(f"{metric} points of {service}", probe)

    def check_point_common(metric: str, point: dict) -> None:
        for key in ("service", "attributes", "start_time_unix_nano", "time_unix_nano", "exemplars"):
            expect(key in point, f"{metric}: point has no {key!r}: {short(point)}")
        check_attr_object(metric, point["attributes"])
        expect(is_int(point["time_unix_nano"]) and point["time_unix_nano"] > 0, f"{metric}: time_unix_nano {point['time_unix_nano']!r}")
        st = point["start_time_unix_nano"]
        expect(st is None or is_int(st), f"{metric}: start_time_unix_nano {st!r}")
        expect(isinstance(point["exemplars"], list), f"{metric}: exemplars {short(point['exemplars'])}")

    def histogram_points():
        def ready(p):
            h = p.get("histogram")
            if not isinstance(h, dict) or h.get("count") != 3:
                return f"latest point {short(p)}"
            return None

        _, point = points_of("interop.duration", ready)
        check_point_common("interop.duration", point)
        h = point["histogram"]
        for key in ("count", "sum", "min", "max", "bucket_counts", "explicit_bounds"):
            expect(key in h, f"histogram has no {key!r}: {short(h)}")
        expect(is_int(h["count"]) and h["count"] == 3, f"count {h['count']!r}")
        expect(is_num(h["sum"]) and h["sum"] == 555, f"sum {h['sum']!r}, expected 555")
        expect(is_num(h["min"]) and h["min"] == 5, f"min {h['min']!r}, expected 5")
        expect(is_num(h["max"]) and h["max"] == 500, f"max {h['max']!r}, expected 500")
        counts, bounds = h["bucket_counts"], h["explicit_bounds"]
        expect(isinstance(counts, list) and all(is_int(c) for c in counts), f"bucket_counts {short(counts)}")
        expect(sum(counts) == 3, f"bucket_counts sum to {sum(counts)}, expected 3")
        expect(isinstance(bounds, list) and bounds == DEFAULT_BOUNDS, f"explicit_bounds {short(bounds)}, expected the SDK default")
        expect(len(counts) == len(bounds) + 1, f"{len(counts)} buckets for {len(bounds)} bounds")
        expect(counts[1] == 1 and counts[4] == 1 and counts[8] == 1,
               f"bucket_counts {counts}: 5, 50 and 500 belong in buckets 1, 4 and 8")
        expect(point["attributes"] == {"route": "/checkout"}, f"attributes {short(point['attributes'])}")

    report.check(name("histogram points: count 3, sum 555, buckets"), histogram_points)

    def counter_points():
        _, point = points_of("interop.requests", lambda p: None if p.get("value") == 3 else f"latest point {short(p)}")
        check_point_common("interop.requests", point)
        expect(is_num(point["value"]) and point["value"] == 3, f"value {point['value']!r}, expected 3")
        expect(point["attributes"] == {"route": "/checkout"}, f"attributes {short(point['attributes'])}")

    report.check(name("counter total is 3"), counter_points)

    def gauge_points():
        _, point = points_of("interop.queue_depth", lambda p: None if p.get("value") == 7 else f"latest point {short(p)}")
        check_point_common("interop.queue_depth", point)
        expect(is_num(point["value"]) and point["value"] == 7, f"value {point['value']!r}, expected 7")
        expect(point["attributes"] == {"queue": "payments"}, f"attributes {short(point['attributes'])}")

    report.check(name("gauge value is 7"), gauge_points)

    # -- stats
    def stats_grow():
        needs("stats_before", "trace_id")
        before = state["stats_before"]
        exact = {"spans": 3, "logs": 2, "traces": 1}

        def deltas(now):
            return {k: (now.get(k, 0) - before.get(k, 0)) for k in ("spans", "logs", "traces", "metric_points")}

        def probe():
            now = api.get_json("/api/v1/stats")
            for key in ("spans", "logs", "metric_points", "traces"):
                if not is_int(now.get(key)):
                    raise Fail(f"stats[{key!r}] = {now.get(key)!r} is not an integer: {short(now)}")
            d = deltas(now)
            good = all(d[k] == v for k, v in exact.items()) and d["metric_points"] >= 3
            return (True, d) if good else (False, f"growth {d}, expected spans+3 logs+2 traces+1 metric_points>=3")

        wait_until("stats to count what was sent", probe)

    report.check(name("stats grow by what was sent"), stats_grow)


# --------------------------------------------------------------------------- fastapi-shop


SHOP_DIR = HERE.parent / "examples" / "fastapi-shop"
SHOP_STARTUP_DEADLINE = 60.0  # seconds for one shop service to listen and answer /healthz
SHOP_REQUEST_TIMEOUT = 30.0  # seconds for one request through the shop
UVICORN_RE = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
# Problems an exporter logs; none may appear in a shop service's output.
EXPORT_TROUBLE_RE = re.compile(
    r"Failed to export|Exception while exporting|Transient error .* exporting|Queue full, dropping"
    r"|Dropping \w+ batch|already shutdown|can only be called once")


class ShopService:
    """One shop service under uvicorn, on an ephemeral loopback port (--port 0;
    the port is read from uvicorn's "Uvicorn running on" line)."""

    def __init__(self, module: str, python: str, workdir: str, env: dict) -> None:
        self.module = module
        self.log_path = os.path.join(workdir, f"shop-{module}.log")
        self._log = open(self.log_path, "wb")
        self.cmd = [python, "-m", "uvicorn", f"{module}:app", "--host", "127.0.0.1", "--port", "0"]
        self.proc = subprocess.Popen(self.cmd, cwd=SHOP_DIR, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.url: str | None = None
        self.exit_code: int | None = None

    def output(self) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_ready(self) -> str:
        end = time.monotonic() + SHOP_STARTUP_DEADLINE

        def port():
            match = UVICORN_RE.search(self.output())
            if match or self.proc.poll() is not None:  # done: listening, or dead
                return True, match.group(1) if match else None
            return False, f"no 'Uvicorn running on' line from {self.module} yet"

        found = wait_until(f"{self.module} to listen", port, SHOP_STARTUP_DEADLINE)
        expect(found is not None, f"{self.module} exited with status {self.proc.returncode}: "
                                  f"{short(self.output()[-1500:], 1500)}")
        self.url = f"http://127.0.0.1:{found}"

        def healthy():
            status, _, body = shop_call("GET", f"{self.url}/healthz", timeout=5)
            return (True, None) if status == 200 else (False, f"/healthz -> {status}: {short(body)}")

        wait_until(f"{self.module} to answer /healthz", healthy, max(1.0, end - time.monotonic()))
        return self.url

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self) -> int | None:
        """The exit status after SIGTERM, or None if it had to be killed."""
        try:
            self.exit_code = self.proc.wait(timeout=SHUTDOWN_DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.exit_code = None
        self._log.close()
        return self.exit_code

    def tail(self, lines: int = 60) -> str:
        out = self.output().splitlines()[-lines:]
        return "\n".join([f"---- {self.module}: {' '.join(self.cmd)} (last {lines} lines) ----", *out])


def shop_call(method: str, url: str, body: dict | None = None, request_id: str | None = None,
              timeout: float = SHOP_REQUEST_TIMEOUT) -> tuple[int, dict, object]:
    """(status, lowercase headers, JSON body or text); status 0 when the call failed."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, got, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        status, got, raw = exc.code, exc.headers, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return 0, {}, f"request failed: {exc}"
    hdrs = {k.lower(): v for k, v in got.items()}
    try:
        return status, hdrs, json.loads(raw)
    except ValueError:
        return status, hdrs, raw.decode("utf-8", "replace")


def run_fastapi_shop_checks(report: Report, api: Api, http_addr: str, python: str, workdir: str) -> None:
    """examples/fastapi-shop: gateway -> orders -> payments, real FastAPI services
    with the OpenTelemetry SDK and contrib instrumentations, exporting over
    OTLP/HTTP (protobuf) to the loupe under test."""
    run_id = uuid.uuid4().hex[:12]
    svc = {m: f"shop-{m}" for m in ("gateway", "orders", "payments")}
    rid = {
        "ok": f"shop-{run_id}-ok",
        "declined": f"shop-{run_id}-declined",
        "lookup": f"shop-{run_id}-lookup",
    }
    state: dict = {}
    services: list[ShopService] = []
    failed_before = len(report.failed)

    def name(text: str) -> str:
        return f"fastapi-shop: {text}"

    def needs(*keys):
        for key in keys:
            if state.get(key) is None:
                raise Fail(f"skipped: an earlier fastapi-shop check failed ({key} unavailable)")

    def start():
        base = sender_env()
        base.update({
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{http_addr}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "PAYMENTS_FAILURE_RATE": "0",  # only the "declined" card fails
        })
        downstream = {}
        for module, url_var in (("payments", "PAYMENTS_URL"), ("orders", "ORDERS_URL"), ("gateway", None)):
            env = dict(base, OTEL_SERVICE_NAME=svc[module], **downstream)
            service = ShopService(module, python, workdir, env)
            services.append(service)
            url = service.wait_ready()
            if url_var:
                downstream = {url_var: url}
        state["gateway_url"] = services[-1].url

    try:
        started = time.monotonic()
        report.check(name("gateway, orders and payments start on ephemeral ports and answer"), start)

        def place_orders():
            needs("gateway_url")
            gw = state["gateway_url"]

            def post(order: dict, request_id: str | None):
                status, headers, body = shop_call("POST", f"{gw}/orders", order, request_id)
                expect(status != 0, f"POST /orders: {body}")
                if request_id is not None:
                    expect(headers.get("x-request-id") == request_id,
                           f"response X-Request-ID {headers.get('x-request-id')!r}, expected {request_id!r}")
                return status, headers, body

            status, _, body = post({"item": "book", "quantity": 1}, rid["ok"])
            expect(status == 201 and isinstance(body, dict) and body.get("status") == "paid",
                   f"ok order -> {status} {short(body)}, expected 201 and status paid")
            state["ok_order"] = body
            status, _, body = post({"item": "mug", "card": "declined"}, rid["declined"])
            expect(status == 502, f"declined order -> {status} {short(body)}, expected 502")
            state["declined_sent"] = True
            status, headers, body = post({"item": "sticker", "quantity": 3}, None)
            expect(status == 201, f"order without X-Request-ID -> {status} {short(body)}")
            generated = headers.get("x-request-id", "")
            expect(re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$", generated) is not None,
                   f"generated X-Request-ID {generated!r} is not a uuid4")
            state["generated"] = generated
            status, headers, body = shop_call("GET", f"{gw}/orders/{state['ok_order']['id']}", request_id=rid["lookup"])
            expect(status == 200 and body == state["ok_order"], f"GET /orders/{{id}} -> {status} {short(body)}")
            expect(headers.get("x-request-id") == rid["lookup"], f"lookup X-Request-ID {headers.get('x-request-id')!r}")

        report.check(name("orders through the gateway; X-Request-ID echoed or generated"), place_orders)
    finally:
        stop_started = time.monotonic()
        for service in reversed(services):  # gateway first
            service.terminate()

        def stopped():
            expect(services, "no service was started")
            problems = []
            for service in services:
                code = service.wait_exit()
                out = service.output()
                if code is None:
                    problems.append(f"{service.module} did not exit within {SHUTDOWN_DEADLINE:.0f}s of SIGTERM (killed)")
                elif code not in (0, -signal.SIGTERM):  # uvicorn re-raises the signal after a clean shutdown
                    problems.append(f"{service.module} exited with status {code}")
                if "Application shutdown complete" not in out:
                    problems.append(f"{service.module} did not run its lifespan shutdown (telemetry flush)")
                trouble = EXPORT_TROUBLE_RE.search(out)
                if trouble:
                    problems.append(f"{service.module} logged an export problem: {trouble.group(0)!r}")
            expect(not problems, "; ".join(problems))

        report.check(name("services flush and exit on SIGTERM without export errors"), stopped)
        state["timing"] = (stop_started - started, time.monotonic() - stop_started)

    # -- the trace of one order across the three services
    def request_view(request_id: str, ready=None, what: str = "") -> dict:
        def probe():
            status, body = api.get(f"/api/v1/requests/{urllib.parse.quote(request_id)}")
            if status != 200:
                return False, f"HTTP {status}: {short(body)}"
            reason = ready(body) if ready else None
            return (True, body) if reason is None else (False, reason)

        return wait_until(what or f"/api/v1/requests/{request_id}", probe)

    def one_trace():
        needs("ok_order")
        view = request_view(rid["ok"])
        expect("request_id" in view.get("matched_as", []), f"matched_as {view.get('matched_as')!r}")
        expect(len(view["trace_ids"]) == 1, f"trace_ids {view['trace_ids']}, expected one")
        tid = view["trace_ids"][0]

        def probe():
            status, body = api.get(f"/api/v1/traces/{tid}")
            if status != 200:
                return False, f"HTTP {status}: {short(body)}"
            return (True, body) if len(body.get("spans") or []) >= 9 else (False, f"{len(body.get('spans') or [])} of 9 spans")

        trace = wait_until(f"trace {tid} with 9 spans", probe)
        spans = trace["spans"]
        for span in spans:
            validate_span_shape(span)
        summary = sorted((s["service"], s["kind"], s["name"]) for s in spans)
        expect(len(spans) == 9, f"{len(spans)} spans, expected 9: {summary}")

        def one(service: str, kind: str, pred=lambda s: True, label: str = "") -> dict:
            found = [s for s in spans if s["service"] == svc[service] and s["kind"] == kind and pred(s)]
            expect(len(found) == 1, f"{len(found)} {kind} spans of {svc[service]}{label}, expected 1: {summary}")
            return found[0]

        is_db = lambda s: s["attributes"].get("db.system") == "sqlite"  # noqa: E731
        gw_server = one("gateway", "server")
        gw_client = one("gateway", "client")
        or_server = one("orders", "server")
        or_client = one("orders", "client", lambda s: not is_db(s), " (http)")
        db = [s for s in spans if s["service"] == svc["orders"] and s["kind"] == "client" and is_db(s)]
        pay_server = one("payments", "server")
        charge = one("payments", "internal")
        expect(gw_server["parent_span_id"] is None, f"gateway server span has parent {gw_server['parent_span_id']!r}")
        chain = [(gw_client, gw_server), (or_server, gw_client), (or_client, or_server),
                 (pay_server, or_client), (charge, pay_server)] + [(d, or_server) for d in db]
        for child, parent in chain:
            expect(child["parent_span_id"] == parent["span_id"],
                   f"{child['service']} {child['name']!r}: parent {child['parent_span_id']!r}, "
                   f"expected {parent['service']} {parent['name']!r} ({parent['span_id']})")
        expect(sorted(d["name"] for d in db) == ["INSERT orders", "SELECT orders", "UPDATE orders"],
               f"database spans {sorted(d['name'] for d in db)}")
        for server, name_, route in ((gw_server, "POST /orders", "/orders"), (or_server, "POST /orders", "/orders"),
                                     (pay_server, "POST /charge", "/charge")):
            expect(server["name"] == name_ and server["attributes"].get("http.route") == route,
                   f"{server['service']} server span {server['name']!r} route {server['attributes'].get('http.route')!r}")
        expect(charge["name"] == "charge card", f"payments internal span {charge['name']!r}")
        for span in spans:
            expect(span["attributes"].get("request.id") == rid["ok"] and span["request_id"] == rid["ok"],
                   f"{span['service']} {span['name']!r}: request.id {span['attributes'].get('request.id')!r}, "
                   f"request_id {span['request_id']!r}, expected {rid['ok']!r}")
            expect(span["resource"].get("service.name") == span["service"], f"resource {short(span['resource'])}")
        expect(trace["error_origin"] is None, f"error_origin of a paid order: {short(trace['error_origin'])}")
        state["ok_trace"] = tid

    report.check(name("an order's trace spans gateway, orders and payments with parent links"), one_trace)

    def request_logs():
        needs("ok_trace")
        order_id = state["ok_order"]["id"]
        wanted = {
            (svc["gateway"], "order received: 1 x book"),
            (svc["orders"], f"order {order_id} stored: 1 x book, 1299 cents"),
            (svc["payments"], f"charged 1299 cents to card ending 4242 for order {order_id}"),
        }
        settled = re.compile(rf"^charge ch_[0-9a-f]{{16}} settled: order {order_id}, 1299 cents$")

        def ready(view):
            have = {(r.get("service"), r.get("body")) for r in view.get("logs") or []}
            missing = sorted(wanted - have)
            if missing:
                return f"missing logs {missing}"
            if not any(settled.match(str(r.get("body"))) for r in view["logs"]):
                return "no settlement log yet"
            return None

        view = request_view(rid["ok"], ready, f"the logs of request {rid['ok']}")
        by_how = {}
        for rec in view["logs"]:
            validate_log_shape(rec)
            expect(rec["request_id"] == rid["ok"], f"log {rec['body']!r}: request_id {rec['request_id']!r}")
            expect(rec["attributes"].get("request.id") == rid["ok"], f"log {rec['body']!r}: attributes {short(rec['attributes'])}")
            by_how.setdefault(rec["matched_by"], []).append(rec)
            if settled.match(str(rec["body"])):
                expect(rec["matched_by"] == "request_id" and rec["trace_id"] is None,
                       f"settlement log matched_by {rec['matched_by']!r}, trace_id {rec['trace_id']!r}: "
                       "expected request_id and null (written off the request's thread)")
                expect(rec["service"] == svc["payments"], f"settlement log service {rec['service']!r}")
            else:
                expect(rec["matched_by"] == "trace_id" and rec["trace_id"] == state["ok_trace"],
                       f"log {rec['body']!r} matched_by {rec['matched_by']!r}, trace_id {rec['trace_id']!r}")
                expect(isinstance(rec["span_id"], str), f"log {rec['body']!r} has no span_id")
        expect(set(by_how) == {"trace_id", "request_id"}, f"matched_by values {sorted(by_how)}")

    report.check(name("/api/v1/requests/{id} finds the trace and logs matched by trace and by request id"), request_logs)

    def failure_origin():
        needs("declined_sent")
        view = request_view(rid["declined"], lambda v: None if v.get("error_origin") else "no error_origin yet",
                            f"error_origin of {rid['declined']}")
        origin = view["error_origin"]
        expect(origin["service"] == svc["payments"] and origin["operation"] == "charge card",
               f"error_origin {short(origin)}, expected payments' 'charge card' span")
        expect(str(origin.get("exception_type")).endswith("CardDeclined"), f"exception_type {origin.get('exception_type')!r}")
        expect("card declined by issuer" in str(origin.get("exception_message")),
               f"exception_message {origin.get('exception_message')!r}")
        through = {(s["service"], s["operation"]) for s in origin["propagated_through"]}
        for hop in ((svc["payments"], "POST /charge"), (svc["orders"], "POST /orders"), (svc["gateway"], "POST /orders")):
            expect(hop in through, f"propagated_through {sorted(through)} lacks {hop}")
        services_seen = {s["service"] for s in view["spans"]}
        expect(services_seen == set(svc.values()), f"spans of services {sorted(services_seen)}")
        errors = [r for r in view["logs"] if r.get("severity_number", 0) >= 17 and r["service"] == svc["payments"]]
        expect(errors and errors[0]["attributes"].get("exception.type") == "CardDeclined",
               f"payments ERROR logs {short(errors)}, expected one with exception.type CardDeclined")
        warn = [r for r in view["logs"] if r["service"] == svc["orders"] and r.get("severity_text") == "WARN"]
        expect(len(warn) == 1 and "payment failed" in warn[0]["body"], f"orders WARN logs {short(warn)}")

    report.check(name("the declined order's error_origin is payments' 'charge card' span"), failure_origin)

    def bridge_logs():
        needs("ok_order")
        records = api.get_json("/api/v1/logs", request_id=rid["ok"], limit=1000)
        expect(isinstance(records, list) and records, f"logs for {rid['ok']}: {short(records)}")
        scopes = set()
        for rec in records:
            validate_log_shape(rec)
            expect(rec["attributes"].get("request.id") == rid["ok"], f"attributes {short(rec['attributes'])}")
            expect(rec["severity_number"] == 9 and rec["severity_text"] == "INFO",
                   f"{rec['body']!r}: severity {rec['severity_number']!r}/{rec['severity_text']!r}, expected 9/INFO")
            scopes.add(rec["scope"].get("name"))
        for want in ("shop.gateway", "shop.orders", "shop.payments", "httpx"):
            expect(want in scopes, f"log scopes (logger names) {sorted(map(str, scopes))} lack {want!r}")
        needs("generated")
        view = request_view(state["generated"])
        gw = [s for s in view["spans"] if s["service"] == svc["gateway"] and s["kind"] == "server"]
        expect(len(gw) == 1 and gw[0]["attributes"].get("request.id") == state["generated"],
               f"gateway server span for the generated id: {short(gw)}")
        expect(any(r["service"] == svc["payments"] for r in view["logs"]), "no payments log under the generated id")

    report.check(name("logging-bridge records carry request.id (given or generated)"), bridge_logs)

    def templated_route():
        needs("ok_order")
        view = request_view(rid["lookup"], lambda v: None if len(v.get("spans") or []) >= 4 else "spans missing")
        servers = {s["service"]: s for s in view["spans"] if s["kind"] == "server"}
        for module in ("gateway", "orders"):
            span = servers.get(svc[module])
            expect(span is not None, f"no server span of {svc[module]}: {sorted(servers)}")
            expect(span["name"] == "GET /orders/{order_id}" and span["attributes"].get("http.route") == "/orders/{order_id}",
                   f"{svc[module]} server span {span['name']!r}, route {span['attributes'].get('http.route')!r}")

    report.check(name("GET /orders/{order_id} keeps its route template"), templated_route)

    # -- metrics
    def latest_by_series(metric: str, services_wanted) -> list:
        def probe():
            body = api.get_json(f"/api/v1/metrics/{urllib.parse.quote(metric)}/points", limit=10000)
            if not isinstance(body, list):
                return False, f"not a JSON list: {short(body)}"
            have = {p.get("service") for p in body if isinstance(p, dict)}
            missing = sorted(set(services_wanted) - have)
            return (True, body) if not missing else (False, f"no point from {missing}")

        points = wait_until(f"{metric} points", probe)
        latest: dict = {}
        for p in points:
            key = (p["service"], json.dumps(p["attributes"], sort_keys=True))
            if key not in latest or p["time_unix_nano"] > latest[key]["time_unix_nano"]:
                latest[key] = p
        return list(latest.values())

    def server_duration():
        needs("ok_order")
        catalog = api.get_json("/api/v1/metrics")
        entry = [m for m in catalog if m.get("name") == "http.server.duration"]
        expect(entry and entry[0]["kind"] == "histogram" and entry[0]["unit"] == "ms",
               f"catalog entry {short(entry)}, expected a histogram in ms")
        points = latest_by_series("http.server.duration", svc.values())
        counts: dict = {}
        for p in points:
            h = p.get("histogram")
            expect(isinstance(h, dict) and is_int(h.get("count")), f"point without histogram: {short(p)}")
            expect(sum(h["bucket_counts"]) == h["count"], f"bucket_counts {h['bucket_counts']} vs count {h['count']}")
            key = (p["service"], p["attributes"].get("http.method"))
            counts[key] = counts.get(key, 0) + h["count"]
        want = {(svc["gateway"], "POST"): 3, (svc["gateway"], "GET"): 1, (svc["orders"], "POST"): 3,
                (svc["orders"], "GET"): 1, (svc["payments"], "POST"): 3}
        expect(counts == want, f"requests per (service, method) {counts}, expected {want}")

    report.check(name("http.server.duration histogram arrived for each service"), server_duration)

    def custom_metrics():
        needs("ok_order")
        placed = latest_by_series("shop.orders.placed", [svc["orders"]])
        got = {p["attributes"].get("outcome"): p["value"] for p in placed}
        expect(got == {"paid": 2, "payment_failed": 1}, f"shop.orders.placed {got}, expected paid 2, payment_failed 1")
        expect(all(p["kind"] == "sum" and p["monotonic"] is True for p in placed), f"kinds {short(placed)}")
        stored = latest_by_series("shop.orders.stored", [svc["orders"]])
        got = {p["attributes"].get("status"): p["value"] for p in stored}
        expect(got == {"paid": 2, "payment_failed": 1}, f"shop.orders.stored {got}, expected paid 2, payment_failed 1")
        expect(all(p["kind"] == "gauge" for p in stored), f"kinds {short(stored)}")

    report.check(name("custom counter and observable gauge"), custom_metrics)

    if "timing" in state:
        run_s, stop_s = state["timing"]
        print(f"   fastapi-shop: services up and requests sent in {run_s:.1f}s, stopped in {stop_s:.1f}s", flush=True)
    if len(report.failed) > failed_before:
        for service in services:
            print(service.tail(), flush=True)


# --------------------------------------------------------------------------- main


def check_unkeyed_export(http_addr: str) -> None:
    request = urllib.request.Request(f"http://{http_addr}/v1/traces", data=b"{}",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raise Fail(f"answered {response.status}")
    except urllib.error.HTTPError as exc:
        expect(exc.code == 401, f"answered {exc.code}")


def check_unkeyed_read(ui_addr: str) -> None:
    try:
        with urllib.request.urlopen(f"http://{ui_addr}/api/v1/services", timeout=10) as response:
            raise Fail(f"answered {response.status}")
    except urllib.error.HTTPError as exc:
        expect(exc.code == 401, f"answered {exc.code}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loupe", required=True, help="path of the loupe binary")
    ap.add_argument("--python", required=True, help="python of a venv with interop/python/requirements.txt")
    ap.add_argument("--node-dir", required=True, help="interop/js with node_modules installed")
    ap.add_argument("--node", default="node", help="node binary (default: node on PATH)")
    ap.add_argument("--only", action="append",
                    choices=["python-grpc", "python-http-protobuf", "js-http-json", "fastapi-shop"],
                    help="run only this sender (repeatable)")
    args = ap.parse_args()

    # abspath, not resolve(): a venv's python must keep its symlinked path.
    loupe = os.path.abspath(args.loupe)
    python = os.path.abspath(args.python)
    node_dir = os.path.abspath(args.node_dir)
    node = shutil.which(args.node) or args.node

    report = Report()
    with tempfile.TemporaryDirectory(prefix="loupe-interop-") as workdir:
        try:
            server = Server(loupe, workdir, keys=True)
        except OSError as exc:
            report.fail("loupe serve starts", f"cannot run {loupe}: {exc}")
            print(f"{report.passed} passed, {len(report.failed)} failed")
            return 1
        try:
            addrs = report.check("loupe serve starts and prints its listening line", server.wait_listening)
            if addrs is not None:
                grpc_addr, http_addr, ui_addr = addrs
                api = Api(f"http://{ui_addr}")
                report.check("an export without the ingest key is refused (401)",
                             check_unkeyed_export, http_addr)
                report.check("the API without the read key is refused (401)",
                             check_unkeyed_read, ui_addr)
                send_py = str(HERE / "python" / "send.py")
                specs = [
                    {"id": "python-grpc", "service": "interop-py-grpc",
                     "cmd_tail": [python, send_py, f"http://{grpc_addr}", "grpc"],
                     "scope": "interop.python", "scope_attributes": {"interop.scope": "python"},
                     "exception_type": "ValueError", "big_int": True},
                    {"id": "python-http-protobuf", "service": "interop-py-http-protobuf",
                     "cmd_tail": [python, send_py, f"http://{http_addr}", "http/protobuf"],
                     "scope": "interop.python", "scope_attributes": {"interop.scope": "python"},
                     "exception_type": "ValueError", "big_int": True},
                    {"id": "js-http-json", "service": "interop-js",
                     "cmd_tail": [node, "send.mjs", f"http://{http_addr}"], "cwd": node_dir,
                     "scope": "interop.js", "exception_type": "Error"},
                ]
                for spec in specs:
                    if args.only and spec["id"] not in args.only:
                        continue
                    spec["run_id"] = uuid.uuid4().hex
                    spec["cmd"] = spec["cmd_tail"] + [spec["run_id"]]
                    run_sender_checks(report, api, spec)
                if not args.only or "fastapi-shop" in args.only:
                    run_fastapi_shop_checks(report, api, http_addr, python, workdir)
        finally:
            def stopped():
                code = server.stop()
                expect(code is not None, f"loupe did not exit within {SHUTDOWN_DEADLINE:.0f}s of SIGTERM (killed)")
                when = "before it was sent SIGTERM" if server.died_early else "after SIGTERM"
                expect(code == 0, f"loupe exited with status {code} {when}")

            report.check("loupe exits 0 on SIGTERM", stopped)
            if report.failed:
                print(server.tails(), flush=True)

    print(f"{report.passed} passed, {len(report.failed)} failed", flush=True)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Browser tests: the web UI of `loupe serve` in a real headless Chromium.

Usage:
  python interop/browser.py --loupe BIN --python PYTHON_OF_VENV --screenshots DIR
      [--demo-screenshots DIR] [--only-demo]

Starts one `loupe serve` on a fresh SQLite database with every listener on an
ephemeral loopback port, seeds it with interop/python/send.py (OTLP/gRPC and
OTLP/HTTP protobuf, a fresh RUN_ID each) and a trace of 1 621 spans (OTLP/HTTP
JSON), then drives Debian's Chromium through Debian's chromedriver (Selenium
never downloads anything) and checks every page, the header search box, the
htmx span details, the htmx trace filters, a large trace's subtrees loaded on
demand and the `/` shortcut. Any SEVERE entry in the browser console (JavaScript error,
CSP violation, failed load) fails the case it happened in. A PNG of each page
goes to the screenshots directory.

First, a second `loupe serve` is fed by `loupe demo` (a fixed seed) and the
pages a newcomer sees first are checked on its data and photographed into
SCREENSHOTS/demo, or --demo-screenshots DIR (scripts/screenshots points it
at docs/screenshots, the README's pictures); --only-demo stops there.

Each check prints `ok NAME` or `FAIL NAME: reason`; the last line is
`N passed, M failed`; the exit status is 1 if any check failed.
Every wait is a WebDriverWait or a condition poll; nothing sleeps.
Needs selenium (interop/python/requirements.txt) in the running Python.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# Server, Api, Report, Fail, expect, wait_until and run_sender are shared with
# the interop suite so both start loupe and run senders the same way.
from run import (  # noqa: E402
    INGEST_KEY, READ_KEY, SHUTDOWN_DEADLINE, Api, Fail, Report, Server, expect, run_sender, short, wait_until,
)

os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never go online

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
UI_DEADLINE = 15.0  # seconds for a page or an htmx swap to show what it should
PAGE_LOAD_TIMEOUT = 30.0


# --------------------------------------------------------------------------- browser


class Browser:
    def __init__(self, base: str, screenshots: Path) -> None:
        self.base = base.rstrip("/")
        self.screenshots = screenshots
        self.profile = tempfile.mkdtemp(prefix="loupe-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1400,900",
            f"--user-data-dir={self.profile}",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.service = Service(executable_path=CHROMEDRIVER)
        self.driver = webdriver.Chrome(service=self.service, options=options)
        self.driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT)

    def url(self, path: str) -> str:
        return self.base + path

    def open(self, path: str) -> None:
        self.console_errors()  # drop what earlier cases left behind
        self.driver.get(self.url(path))
        self.wait_ready()

    def wait_ready(self) -> None:
        # htmx and loupe.js are `defer`: readyState "complete" means they ran.
        self.wait("the page to load", lambda d: d.execute_script(
            "return document.readyState === 'complete' && !!window.htmx"))

    def wait(self, what: str, condition, timeout: float = UI_DEADLINE):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(condition)
        except TimeoutException:
            raise Fail(f"timed out after {timeout:.0f}s waiting for {what} (at {self.driver.current_url})") from None

    def text(self, css: str = "body") -> str:
        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def wait_text(self, needle: str, css: str = "main") -> None:
        def has(d):
            try:
                return needle in d.find_element(By.CSS_SELECTOR, css).text
            except WebDriverException:
                return False

        self.wait(f"{needle!r} in {css}", has)

    def path(self) -> str:
        parts = urllib.parse.urlsplit(self.driver.current_url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def console_errors(self) -> list[str]:
        return [
            entry.get("message", "")
            for entry in self.driver.get_log("browser")
            if entry.get("level") == "SEVERE"
        ]

    def expect_clean_console(self) -> None:
        errors = self.console_errors()
        expect(not errors, f"browser console: {short(errors, 600)}")

    def screenshot(self, name: str) -> None:
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{name}.png"
        expect(self.driver.save_screenshot(str(path)), f"could not save {path}")

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


# --------------------------------------------------------------------------- seeding


def wait_arrived(api: Api, seed: dict) -> None:
    """The trace (3 spans) and both log lines are queryable."""

    def probe():
        status, body = api.get(f"/api/v1/traces/{seed['trace_id']}")
        if status != 200 or not isinstance(body, dict):
            return False, f"trace: HTTP {status}"
        spans = body.get("spans") or []
        if len(spans) != 3:
            return False, f"trace has {len(spans)} of 3 spans"
        logs = api.get_json("/api/v1/logs", request_id=seed["request_id"])
        if not isinstance(logs, list) or len(logs) < 2:
            return False, f"{len(logs) if isinstance(logs, list) else short(logs)} of 2 log records"
        return True, None

    wait_until(f"{seed['service']}'s trace and logs in the API", probe)


def seed(report: Report, api: Api, python: str, addrs: tuple[str, str, str]) -> list[dict]:
    grpc_addr, http_addr, _ = addrs
    send_py = str(HERE / "python" / "send.py")
    seeds = []
    for protocol, endpoint, service in (
        ("grpc", f"http://{grpc_addr}", "interop-py-grpc"),
        ("http/protobuf", f"http://{http_addr}", "interop-py-http-protobuf"),
    ):
        run_id = uuid.uuid4().hex
        spec = {"service": service, "cmd": [python, send_py, endpoint, protocol, run_id]}

        def send(spec=spec, run_id=run_id, service=service):
            summary = run_sender(spec)
            s = {"run_id": run_id, "service": service, "trace_id": summary["trace_id"],
                 "request_id": f"req-{run_id}"}
            wait_arrived(api, s)
            return s

        s = report.check(f"seed: send.py over {protocol} arrives", send)
        if s is not None:
            seeds.append(s)
    return seeds


def seed_large_trace(report: Report, api: Api, http_addr: str) -> str | None:
    """A trace of 1 621 spans (a root, 20 calls, 20 handlers under each, 3
    queries under each handler), posted as OTLP/HTTP JSON: more than the
    waterfall shows at once."""
    trace_id = uuid.uuid4().hex
    now = time.time_ns()
    spans = []

    def add(name: str, parent: str | None, start: int, length: int) -> str:
        span_id = os.urandom(8).hex()
        # One request: the root is the server span, the rest internal.
        span = {"traceId": trace_id, "spanId": span_id, "name": name, "kind": 1 if parent else 2,
                "startTimeUnixNano": str(now + start), "endTimeUnixNano": str(now + start + length)}
        if parent:
            span["parentSpanId"] = parent
        spans.append(span)
        return span_id

    root = add("GET /large", None, 0, 900_000_000)
    for a in range(20):
        call = add(f"call {a}", root, a * 40_000_000, 39_000_000)
        for b in range(20):
            handler = add(f"handle {a}.{b}", call, a * 40_000_000 + b * 1_900_000, 1_800_000)
            for c in range(3):
                add(f"query {a}.{b}.{c}", handler, a * 40_000_000 + b * 1_900_000 + c * 500_000, 400_000)

    def send():
        resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "large"}}]}
        body = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "browser.py"}, "spans": spans}]}]}
        request = urllib.request.Request(f"http://{http_addr}/v1/traces", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {INGEST_KEY}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            expect(response.status == 200, f"export answered {response.status}")

        def arrived():
            status, trace = api.get(f"/api/v1/traces/{trace_id}")
            n = len(trace.get("spans") or []) if status == 200 and isinstance(trace, dict) else 0
            return n == len(spans), f"{n} of {len(spans)} spans"

        wait_until("the large trace in the API", arrived)
        return trace_id

    return report.check(f"seed: a trace of {len(spans)} spans arrives", send)


# --------------------------------------------------------------------------- cases


def log_in(b: Browser) -> bool:
    """The server has read keys: a page sends the browser to the login page,
    a wrong key is refused there, the right one leads back to the page."""
    b.open("/traces")
    expect(b.path().startswith("/login"), f"at {b.path()}, not the login page")
    key = b.driver.find_element(By.CSS_SELECTOR, "form.login input[name=key]")
    key.send_keys("not-the-read-key", Keys.ENTER)
    b.wait_ready()
    b.wait_text("not one of this loupe's read keys")
    key = b.driver.find_element(By.CSS_SELECTOR, "form.login input[name=key]")
    key.send_keys(READ_KEY, Keys.ENTER)
    b.wait("the traces page after login", lambda d: urllib.parse.urlparse(d.current_url).path == "/traces")
    b.wait_ready()
    cookie = b.driver.get_cookie("loupe_session")
    expect(cookie is not None, "no session cookie")
    expect(cookie.get("httpOnly") is True, f"cookie not HttpOnly: {cookie}")
    expect(cookie.get("sameSite") == "Strict", f"cookie not SameSite=Strict: {cookie}")
    b.screenshot("login")
    return True


def log_out(b: Browser) -> None:
    b.open("/")
    b.driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
    b.wait("the login page after logout", lambda d: urllib.parse.urlparse(d.current_url).path == "/login")
    b.open("/traces")
    expect(b.path().startswith("/login"), f"still reading at {b.path()} after logout")


def run_cases(report: Report, b: Browser, seeds: list[dict], large_trace_id: str | None) -> None:
    if not seeds:
        report.fail("browser cases", "nothing was seeded")
        return
    first = seeds[0]
    run_id, trace_id, request_id = first["run_id"], first["trace_id"], first["request_id"]
    services = [s["service"] for s in seeds]
    warning_body = f"payment failed for {run_id}"
    info_body = f"checkout request finished for {run_id}"

    def services_page():
        b.open("/")
        b.wait("the services table", EC.presence_of_element_located((By.CSS_SELECTOR, "table.red tbody tr")))
        table = b.text("table.red")
        for service in services:
            expect(service in table, f"service {service!r} not in the services table: {short(table)}")
        failing = b.driver.find_elements(By.CSS_SELECTOR, "table.red tbody tr.failing")
        expect(failing, "no service row is marked failing, though every seeded request failed")
        b.screenshot("services")
        b.expect_clean_console()

    report.check("page / lists the seeded services", services_page)

    def traces_page():
        b.open("/traces")
        link = b.wait("the trace row", EC.presence_of_element_located(
            (By.CSS_SELECTOR, f'#trace-rows table.results a[href$="/traces/{trace_id}"]')))
        row = link.find_element(By.XPATH, "./ancestor::tr")
        expect("failed" in (row.get_attribute("class") or ""), "the failed trace's row is not marked failed")
        text = row.text
        expect(first["service"] in text and "GET /checkout" in text, f"trace row: {text!r}")
        b.screenshot("traces")
        b.expect_clean_console()

    report.check("page /traces lists the seeded trace", traces_page)

    def logs_page():
        b.open("/logs")
        b.wait_text(warning_body, "#log-results")
        b.wait_text(info_body, "#log-results")
        b.screenshot("logs")
        b.expect_clean_console()

    report.check("page /logs shows the log bodies", logs_page)

    def failures_page():
        b.open("/failures")
        b.wait("the failures table", EC.presence_of_element_located((By.CSS_SELECTOR, "table.failures tbody tr")))
        table = b.text("table.failures")
        for service in services:
            expect(service in table, f"{service!r} not among the failure groups: {short(table)}")
        expect("POST /charge" in table, f"the failing operation POST /charge is not shown: {short(table)}")
        b.screenshot("failures")
        b.expect_clean_console()

    report.check("page /failures groups the failure where it started", failures_page)

    def load_report_page():
        b.open("/reports/load")
        b.wait("the endpoints table", EC.presence_of_element_located((By.CSS_SELECTOR, "table.report tbody tr")))
        text = b.text("main")
        for service in services:
            expect(service in text, f"{service!r} not in the load report: {short(text)}")
        expect("GET /checkout" in text, f"the entry endpoint is not in the load report: {short(text)}")
        sparks = b.driver.find_elements(By.CSS_SELECTOR, "td.sparks svg.spark polyline")
        expect(sparks, "no time series is drawn for the rows")
        # One click narrows the report to what touches a service.
        b.driver.find_element(By.CSS_SELECTOR, f'table.report a.svc[href*="service={first["service"]}"]').click()
        b.wait("the report of one service", EC.url_contains(f"service={first['service']}"))
        b.wait_ready()
        expect(first["service"] in b.text("h1"), f"heading: {b.text('h1')!r}")
        b.screenshot("report-load")
        b.expect_clean_console()

    report.check("page /reports/load shows the seeded endpoints and narrows by service", load_report_page)

    def cost_report_page():
        b.open("/reports/cost")
        b.wait("the services table", EC.presence_of_element_located((By.CSS_SELECTOR, "table.report tbody tr")))
        text = b.text("main")
        for service in services:
            expect(service in text, f"{service!r} not in the cost report: {short(text)}")
        expect("per GB received" in text, "the prices are not shown")
        b.screenshot("report-cost")
        b.expect_clean_console()

    report.check("page /reports/cost shows the seeded services and the prices", cost_report_page)

    def map_page():
        b.open("/map")
        b.wait("the map", EC.presence_of_element_located((By.CSS_SELECTOR, "svg.map a.node")))
        names = [n.text for n in b.driver.find_elements(By.CSS_SELECTOR, "svg.map a.node text.name")]
        for service in services:
            expect(service in names, f"{service!r} is not a node of the map: {names}")
        b.screenshot("map")
        b.expect_clean_console()

    report.check("page /map draws the seeded services", map_page)

    def metrics_page():
        b.open("/metrics-explorer")
        b.wait("the metrics table", EC.presence_of_element_located((By.CSS_SELECTOR, "table.metrics tbody tr")))
        table = b.text("table.metrics")
        for name in ("interop.requests", "interop.duration", "interop.queue_depth"):
            expect(name in table, f"{name} is not listed: {short(table)}")
        b.driver.find_element(By.LINK_TEXT, "interop.duration").click()
        b.wait("the histogram's quantile lines", EC.presence_of_element_located((By.CSS_SELECTOR, "svg.chart path.line")))
        legend = b.text("p.legend")
        expect("p95" in legend, f"legend: {legend!r}")
        cells = b.driver.find_elements(By.CSS_SELECTOR, "svg.heatmap rect.cell")
        expect(cells, "the histogram has no heatmap")
        b.screenshot("metrics-explorer")
        b.expect_clean_console()

    report.check("page /metrics-explorer charts the seeded histogram", metrics_page)

    def system_page():
        b.open("/")
        b.driver.find_element(By.LINK_TEXT, "System").click()
        b.wait("the system page", lambda d: b.path() == "/system")
        b.wait_text("Slowest reads")
        kept = b.text("main")
        for heading in ("Database", "Kept", "Retention", "Ingest", "Writer"):
            expect(heading in kept, f"{heading!r} missing from /system: {short(kept)}")
        rows = b.driver.find_elements(By.XPATH, "//h2[text()='Kept']/following-sibling::table[1]/tbody/tr")
        spans = [r.text for r in rows if r.text.startswith("spans")]
        expect(spans and not spans[0].startswith("spans 0"), f"no spans kept: {[r.text for r in rows]}")
        b.screenshot("system")
        b.expect_clean_console()

    report.check("page /system tells what loupe holds", system_page)

    def trace_page():
        b.open(f"/traces/{trace_id}")
        b.wait_text(trace_id, "h1")
        banner = b.text("section.banner")
        expect("failed in" in banner, f"banner: {banner!r}")
        expect(first["service"] in banner and "POST /charge" in banner, f"banner does not name the origin: {banner!r}")
        rows = b.driver.find_elements(By.CSS_SELECTOR, ".waterfall details.span")
        expect(len(rows) == 3, f"{len(rows)} waterfall rows, expected 3")
        origin = b.driver.find_elements(By.CSS_SELECTOR, ".waterfall details.span.origin")
        expect(len(origin) == 1 and "POST /charge" in origin[0].text,
               f"origin rows: {[o.text for o in origin]}")
        expect(warning_body in b.text(".waterfall"), "the warning log is not under its span in the waterfall")
        b.screenshot("trace")
        b.expect_clean_console()

    report.check("page /traces/{id} shows the waterfall and 'failed in' banner", trace_page)

    def request_page():
        b.open(f"/requests/{request_id}")
        b.wait_text(request_id, "h1")
        main = b.text("main")
        expect("failed in" in b.text("section.banner"), "no 'failed in' banner")
        expect(warning_body in main and info_body in main, "not both log lines on the request page")
        links = b.driver.find_elements(By.CSS_SELECTOR, f'ul.trace-links a[href$="/traces/{trace_id}"]')
        expect(links, "the request page does not link its trace")
        b.screenshot("request")
        b.expect_clean_console()

    report.check("page /requests/{id} shows the banner, trace and both logs", request_page)

    def header_search():
        b.open("/")
        box = b.driver.find_element(By.CSS_SELECTOR, 'header form.search input[name="id"]')
        box.send_keys(request_id, Keys.ENTER)
        b.wait("/requests/{id}", lambda d: urllib.parse.urlsplit(d.current_url).path == f"/requests/{request_id}")
        b.wait_ready()
        b.wait_text(warning_body)
        main = b.text("main")
        expect(info_body in main, "the info line is missing on the request page")
        value = b.driver.find_element(By.CSS_SELECTOR, 'header form.search input[name="id"]').get_attribute("value")
        expect(value == request_id, f"the search box holds {value!r} after the search")
        b.screenshot("search-request")
        b.expect_clean_console()

    report.check("header search: request id + Enter lands on /requests/{id}", header_search)

    def span_details():
        b.open(f"/traces/{trace_id}")
        b.driver.execute_script("window.__loupeMarker = 'still here'")
        server = b.driver.find_element(By.XPATH,
                                       "//div[@class='waterfall']/details[.//span[@class='op' and text()='GET /checkout']]")
        span_id = (server.get_attribute("id") or "").removeprefix("span-")
        server.find_element(By.TAG_NAME, "summary").click()
        b.wait("the span's attribute table to load via htmx", lambda d: server.find_elements(
            By.XPATH, ".//div[@class='detail']//table[@class='kv']//th[text()='http.route']"))
        detail = server.find_element(By.CSS_SELECTOR, ".detail").text
        expect("/checkout" in detail and span_id in detail, f"detail: {short(detail)}")
        expect(request_id in detail, "the detail does not show the request id")
        expect(b.driver.execute_script("return window.__loupeMarker") == "still here",
               "the page reloaded instead of swapping the details in")
        # The client span (the origin) shows its exception event.
        origin = b.driver.find_element(By.CSS_SELECTOR, ".waterfall details.span.origin")
        origin.find_element(By.TAG_NAME, "summary").click()
        b.wait("the origin's exception event", lambda d: origin.find_elements(By.CSS_SELECTOR, ".detail .event.exception"))
        expect("ValueError" in origin.find_element(By.CSS_SELECTOR, ".detail").text, "no ValueError in the origin's details")
        b.screenshot("trace-span-details")
        b.expect_clean_console()

    report.check("trace view: opening a span loads its details via htmx", span_details)

    def fold():
        b.open(f"/traces/{trace_id}")

        def visible():
            return [r for r in b.driver.find_elements(By.CSS_SELECTOR, ".waterfall [data-depth]") if r.is_displayed()]

        before = len(visible())
        expect(before >= 3, f"only {before} rows before folding")
        root = b.driver.find_element(By.XPATH,
                                     "//div[@class='waterfall']/details[.//span[@class='op' and text()='GET /checkout']]")
        button = root.find_element(By.CSS_SELECTOR, "summary button.fold")
        button.click()
        b.wait("everything below the root to fold away", lambda d: len(visible()) == 1)
        expect(root.get_attribute("open") is None, "folding also opened the span's details")
        button.click()
        b.wait("the folded rows to come back", lambda d: len(visible()) == before)
        b.expect_clean_console()

    report.check("trace view: folding a span hides its subtree, unfolding shows it again", fold)

    def trace_filters():
        b.open("/traces")
        b.wait("trace rows", EC.presence_of_element_located((By.CSS_SELECTOR, "#trace-rows table.results tbody tr")))
        b.driver.execute_script("window.__loupeMarker = 'still here'")
        form = b.driver.find_element(By.CSS_SELECTOR, "form.filters")
        Select(form.find_element(By.NAME, "service")).select_by_value(first["service"])
        Select(form.find_element(By.NAME, "status")).select_by_value("error")
        form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()

        def settled(d):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(d.current_url).query)
            if query.get("service") != [first["service"]] or query.get("status") != ["error"]:
                return False
            if d.find_elements(By.CSS_SELECTOR, "form.filters.htmx-request, #trace-rows.htmx-request"):
                return False
            rows = d.find_elements(By.CSS_SELECTOR, "#trace-rows table.results tbody tr")
            return rows and all(first["service"] in r.text for r in rows)

        b.wait("the URL to carry service= and status=error and the rows to match", settled)
        rows = b.driver.find_elements(By.CSS_SELECTOR, "#trace-rows table.results tbody tr")
        for row in rows:
            expect(all(s not in row.text for s in services if s != first["service"]), f"row of another service: {row.text!r}")
            expect("failed" in (row.get_attribute("class") or ""), f"status=error shows a row without errors: {row.text!r}")
        expect(b.driver.find_elements(By.CSS_SELECTOR, f'#trace-rows a[href$="/traces/{trace_id}"]'),
               "the seeded trace is not among the filtered rows")
        expect(b.driver.execute_script("return window.__loupeMarker") == "still here",
               "the filter reloaded the page instead of swapping the rows")
        b.screenshot("traces-filtered")
        b.expect_clean_console()

        # Reloading the pushed URL renders the same filter server-side.
        b.driver.refresh()
        b.wait_ready()
        form = b.driver.find_element(By.CSS_SELECTOR, "form.filters")
        got = (Select(form.find_element(By.NAME, "service")).first_selected_option.get_attribute("value"),
               Select(form.find_element(By.NAME, "status")).first_selected_option.get_attribute("value"))
        expect(got == (first["service"], "error"), f"after reload the form shows {got}")
        b.expect_clean_console()

    report.check("trace list: htmx filter swaps rows and pushes the URL", trace_filters)

    def large_trace():
        expect(large_trace_id is not None, "the large trace was not seeded")
        b.open(f"/traces/{large_trace_id}")
        b.wait_text("A large trace")
        rows = lambda: b.driver.find_elements(By.CSS_SELECTOR, ".waterfall details.span")  # noqa: E731
        before = len(rows())
        expect(400 < before < 1621, f"{before} rows shown of 1621")
        more = b.driver.find_elements(By.CSS_SELECTOR, ".waterfall .span-more button.more")
        expect(more, "no placeholder for the rows left out")
        count = int(more[0].text.split()[1])
        b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", more[0])
        more[0].click()
        b.wait(f"{count} more rows to load in place", lambda d: len(rows()) == before + count)
        expect(len(b.driver.find_elements(By.CSS_SELECTOR, ".waterfall .span-more button.more")) == len(more) - 1,
               "the placeholder was not replaced by its rows")
        # Folding a call hides the placeholders under it with its rows.
        call = b.driver.find_element(By.XPATH,
                                     "//div[@class='waterfall']/details[.//span[@class='op' and text()='call 7']]")
        under = call.find_elements(By.XPATH, "following-sibling::div[@class='span-more'][1]")
        expect(under and under[0].is_displayed(), "no placeholder under call 7")
        b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", call)
        call.find_element(By.CSS_SELECTOR, "summary button.fold").click()
        b.wait("call 7's placeholders to fold away", lambda d: not under[0].is_displayed())
        b.driver.execute_script("window.scrollTo(0, 0)")
        b.screenshot("trace-large")
        b.expect_clean_console()

    report.check("trace view: a large trace shows its top levels and loads a subtree on demand", large_trace)

    def slash_shortcut():
        b.open("/logs")
        active_is_box = "return document.activeElement === document.querySelector('form.search input[name=\"id\"]')"
        b.driver.find_element(By.TAG_NAME, "h1").click()
        expect(not b.driver.execute_script(active_is_box), "the search box has focus before '/' was pressed")
        webdriver.ActionChains(b.driver).send_keys("/").perform()
        b.wait("'/' to focus the search box", lambda d: d.execute_script(active_is_box))
        value = b.driver.execute_script("return document.activeElement.value")
        expect(value == "", f"the '/' was typed into the box: {value!r}")
        # In another field, '/' is just a character.
        q = b.driver.find_element(By.CSS_SELECTOR, 'form.log-filters input[name="q"]')
        q.click()
        q.send_keys("a/b")
        expect(q.get_attribute("value") == "a/b", f"the logs query field holds {q.get_attribute('value')!r}")
        expect(not b.driver.execute_script(active_is_box), "'/' in a text field jumped to the search box")
        b.expect_clean_console()

    report.check("'/' focuses the header search box", slash_shortcut)

    def console_watch_self_test():
        # The CSP (script-src 'self') must refuse an inline script, and the
        # console check must see that: otherwise every "clean console" above
        # proves nothing.
        b.open("/")
        b.driver.execute_script(
            "const s = document.createElement('script');"
            "s.textContent = 'window.__loupeInline = 1';"
            "document.body.appendChild(s);")
        ran = b.driver.execute_script("return window.__loupeInline === 1")
        expect(not ran, "an inline script ran: the page has no effective CSP")
        errors = b.console_errors()
        expect(any("Content Security Policy" in e for e in errors),
               f"the CSP violation did not reach the console log: {short(errors)}")

    report.check("console check catches a CSP violation (self-test)", console_watch_self_test)


# --------------------------------------------------------------------------- main


# --------------------------------------------------------------------------- demo data


DEMO_SEED = "7"  # the same shop every time, so the README's pictures stay alike


def run_demo_cases(report: Report, loupe: str, workdir: str, shots: Path) -> None:
    """A second loupe fed by `loupe demo`: the pages a newcomer sees first,
    checked, and photographed into `shots` (docs/screenshots when refreshing
    the README's pictures with scripts/screenshots)."""
    server = Server(loupe, workdir)
    browser = None
    try:
        addrs = report.check("demo: loupe serve starts", server.wait_listening)
        if addrs is None:
            return
        _, http_addr, ui_addr = addrs

        def feed():
            done = subprocess.run(
                [loupe, "demo", "--endpoint", f"http://{http_addr}", "--ui", f"http://{ui_addr}",
                 "--duration", "3", "--seed", DEMO_SEED],
                capture_output=True, text=True, timeout=300, check=False)
            expect(done.returncode == 0, f"loupe demo exited {done.returncode}: {done.stderr[-800:]}")
            marker = "try request id "
            expect(marker in done.stdout, f"no request id to try in: {done.stdout[-800:]}")
            return done.stdout.split(marker, 1)[1].split()[0]

        request_id = report.check("demo: loupe demo feeds it and names a failed request", feed)
        if request_id is None:
            return
        browser = report.check("demo: chromium starts", lambda: Browser(f"http://{ui_addr}", shots))
        if browser is None:
            return
        b = browser
        api = Api(f"http://{ui_addr}")

        def request_view():
            b.open(f"/requests/{request_id}")
            b.wait_text(request_id, "h1")
            banner = b.text("section.banner")
            expect("failed in" in banner and ("payments" in banner or "inventory" in banner),
                   f"banner: {banner!r}")
            # The gateway's access log has no trace context: only its request id joins it.
            labels = [t.text for t in b.driver.find_elements(By.CSS_SELECTOR, "table.logs td span.tag")]
            expect("request id" in labels and "trace id" in labels,
                   f"log lines matched by: {labels}")
            b.screenshot("request-view")
            b.expect_clean_console()

        report.check("demo: the suggested request id shows where it failed", request_view)

        def waterfall():
            # A checkout that went through: every service, the N+1, the queue.
            found = api.get_json("/api/v1/traces", service="gateway", operation="POST /api/orders",
                                 status="ok", limit="20")
            traces = found.get("traces", found) if isinstance(found, dict) else found
            expect(isinstance(traces, list) and traces, f"no successful checkout: {short(found)}")
            full = [t for t in traces if len(t.get("services") or []) == 5] or traces
            b.open(f"/traces/{full[0]['trace_id']}")
            rows = b.driver.find_elements(By.CSS_SELECTOR, ".waterfall details.span")
            expect(len(rows) >= 12, f"{len(rows)} waterfall rows")
            expect("notifier" in b.text(".waterfall"), "the consumer is not in the waterfall")
            b.screenshot("trace-waterfall")
            b.expect_clean_console()
            # Against a typical checkout: the paths whose calls or time differ.
            b.driver.find_element(By.LINK_TEXT, "compare with a typical trace").click()
            b.wait("the comparison", EC.url_contains("/compare"))
            b.wait_text("against", "h1")
            b.wait("its paths or the word that there are none", lambda d: d.find_elements(
                By.CSS_SELECTOR, "table.trace-compare tbody tr, p.empty"))
            b.expect_clean_console()

        report.check("demo: a checkout's waterfall spans every service, and compares with a typical one", waterfall)

        def drill_downs():
            # A load report endpoint leads to its slowest traces.
            b.open("/reports/load?since=1h")
            b.driver.find_element(By.CSS_SELECTOR, "td.op span.drill a").click()
            b.wait("trace search", EC.url_contains("/traces?"))
            b.wait("its traces", EC.presence_of_element_located(
                (By.CSS_SELECTOR, '#trace-rows table.results a[href^="/traces/"]')))
            expect("sort=duration" in b.driver.current_url, f"at {b.driver.current_url}")
            # A failure group's example opens the request, which says how it ended.
            b.open("/failures")
            b.driver.find_element(By.CSS_SELECTOR, "table.failures td.examples a").click()
            b.wait("the request view", EC.url_contains("/requests/"))
            outcome = b.wait("the outcome", EC.presence_of_element_located((By.CSS_SELECTOR, "p.outcome")))
            expect(outcome.text.startswith(("Succeeded", "Failed")), f"outcome: {outcome.text!r}")
            b.expect_clean_console()

        report.check("demo: a load report endpoint and a failure example lead to their traces", drill_downs)

        def why_slow():
            # An endpoint's "why slow" compares its requests slower than its
            # p95 with the rest; a value narrows the selection further.
            b.open("/reports/load?since=1h")
            link = b.driver.find_element(By.XPATH, "//td[@class='op']//a[text()='why slow']")
            link.click()
            b.wait("the comparison", EC.url_contains("/compare?"))
            rows = b.wait("its differences", lambda d: d.find_elements(By.CSS_SELECTOR, "table.compare tbody tr"))
            expect(rows, "no difference listed")
            b.screenshot("compare")
            narrow = rows[0].find_elements(By.LINK_TEXT, "narrow")
            if narrow:
                before = b.driver.current_url
                narrow[0].click()
                b.wait("a narrower selection", lambda d: d.current_url != before and "/compare?" in d.current_url)
                b.wait_ready()
                expect("What sets them apart" in b.text("h1"), f"at {b.driver.current_url}")
            b.expect_clean_console()

        report.check("demo: an endpoint's why slow lists what sets its slow requests apart", why_slow)

        def ask_why():
            # A range dragged across the latency histogram becomes the selection.
            b.open("/reports/load?window=1h")
            b.driver.find_element(By.XPATH, "//td[@class='op']//a[text()='why slow']").click()
            b.wait("the comparison", EC.url_contains("/compare?"))
            svg = b.wait("the latency histogram", EC.presence_of_element_located(
                (By.CSS_SELECTOR, "svg.selectable[data-edges]")))
            width = svg.size["width"]
            before = b.driver.current_url
            webdriver.ActionChains(b.driver).move_to_element_with_offset(svg, int(-width * 0.4), 0) \
                .click_and_hold().move_by_offset(int(width * 0.5), 0).release().perform()
            # The endpoint's own span is what the histogram draws and the range bounds.
            b.wait("the dragged range", lambda d: d.current_url != before and "max_span_duration_ms=" in d.current_url)
            b.wait_ready()
            picked = urllib.parse.parse_qs(urllib.parse.urlsplit(b.driver.current_url).query)
            low, high = int(picked["min_span_duration_ms"][0]), int(picked["max_span_duration_ms"][0])
            expect(0 <= low < high, f"dragged {low}..{high} ms")
            expect("What sets them apart" in b.text("h1"), f"at {b.driver.current_url}")
            b.expect_clean_console()
            # Then and now: the load report sets the last half hour against the one before.
            b.open("/reports/load?window=30m")
            rows = b.wait("then and now", lambda d: d.find_elements(By.CSS_SELECTOR, "table.change tbody tr"))
            expect(len(rows) >= 5, f"{len(rows)} endpoints then and now")
            cells = rows[0].find_elements(By.CSS_SELECTOR, "td.shift")
            expect(len(cells) == 5 and all("→" in c.text for c in cells), f"cells: {[c.text for c in cells]}")
            b.driver.find_element(By.LINK_TEXT, "a day earlier").click()
            b.wait("against a day earlier", EC.url_contains("against=1d"))
            b.wait_ready()
            # The demo's inventory 1.10.0, out 40 minutes in, brought a failure of its own.
            b.open("/services/inventory?window=1h")
            b.wait_text("1.10.0 against 1.9.4", "h3")
            notice = b.text("h2#releases ~ p.notice")
            expect("UniqueViolationError" in notice, f"notice: {notice!r}")
            b.driver.execute_script("document.getElementById('releases').scrollIntoView()")
            b.screenshot("releases")
            # A canary of payments with a failure of its own: the service's page
            # sets the two releases side by side and calls the failure out.
            now = time.time_ns()
            spans = []
            for i in range(12):
                trace_id, server_id, client_id = uuid.uuid4().hex, os.urandom(8).hex(), os.urandom(8).hex()
                start = now - (i + 1) * 2_000_000_000
                failed = {"code": 2, "message": "card declined"}
                spans.append({"traceId": trace_id, "spanId": server_id, "name": "POST /charges", "kind": 2,
                              "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 90_000_000),
                              "status": failed})
                spans.append({"traceId": trace_id, "spanId": client_id, "parentSpanId": server_id,
                              "name": "POST /v1/authorizations", "kind": 3,
                              "startTimeUnixNano": str(start + 1_000_000),
                              "endTimeUnixNano": str(start + 80_000_000), "status": failed,
                              "events": [{"name": "exception", "timeUnixNano": str(start + 79_000_000),
                                          "attributes": [{"key": "exception.type",
                                                          "value": {"stringValue": "stripe.CardError"}}]}]})
            resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "payments"}},
                                       {"key": "service.version", "value": {"stringValue": "3.3.0-canary"}}]}
            body = {"resourceSpans": [{"resource": resource,
                                       "scopeSpans": [{"scope": {"name": "browser.py"}, "spans": spans}]}]}
            sent = urllib.request.Request(f"http://{http_addr}/v1/traces", data=json.dumps(body).encode(),
                                          headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(sent, timeout=30) as response:
                expect(response.status == 200, f"export answered {response.status}")
            b.open("/services/payments?window=1h")
            b.wait_text("Releases")
            b.wait_text("3.3.0-canary against 3.2.7", "h3")
            notice = b.text("h2#releases ~ p.notice")
            expect("stripe.CardError" in notice and "New in 3.3.0-canary" in notice, f"notice: {notice!r}")
            b.expect_clean_console()

        report.check("demo: ask why: a dragged latency range, then and now, a canary's new failure", ask_why)

        def time_model():
            # The browser sits in India (UTC+05:30, no daylight saving), so
            # local times differ from UTC by a figure no rounding hides.
            b.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Kolkata"})
            shift = datetime.timedelta(hours=5, minutes=30)
            # The overview leads to a service's page, with its charts.
            b.open("/?window=1h")
            b.driver.find_element(By.CSS_SELECTOR, 'table.red td a[href^="/services/"]').click()
            b.wait("a service's page", EC.url_contains("/services/"))
            charts = b.wait("its charts", lambda d: d.find_elements(By.CSS_SELECTOR, "figure.time-chart svg[data-from]"))
            expect(len(charts) == 3, f"{len(charts)} charts")
            b.wait_text("Endpoints")
            ticks = [t.text for t in b.driver.find_elements(By.CSS_SELECTOR, "figure.time-chart text[data-datetime]")]
            expect(ticks, "no time ticks on the charts")
            b.screenshot("service-page")
            # Dragging across the first chart opens the page over that range.
            svg = charts[0]
            width = svg.size["width"]
            webdriver.ActionChains(b.driver).move_to_element_with_offset(svg, int(-width * 0.2), 0) \
                .click_and_hold().move_by_offset(int(width * 0.3), 0).release().perform()
            b.wait("the zoomed window", EC.url_contains("from="))
            b.wait_ready()
            zoomed = urllib.parse.parse_qs(urllib.parse.urlsplit(b.driver.current_url).query)
            expect("window" not in zoomed and "to" in zoomed, f"zoomed to {zoomed}")
            start = datetime.datetime.fromisoformat(zoomed["from"][0].replace("Z", "+00:00"))
            end = datetime.datetime.fromisoformat(zoomed["to"][0].replace("Z", "+00:00"))
            expect(datetime.timedelta(minutes=5) < end - start < datetime.timedelta(minutes=30),
                   f"a 30 % drag across an hour selected {end - start}")
            # The next page keeps the window, and shows it in local time.
            b.driver.find_element(By.CSS_SELECTOR, 'header nav a[href^="/failures"]').click()
            b.wait("the failures page", EC.url_contains("/failures"))
            b.wait_ready()
            kept = urllib.parse.parse_qs(urllib.parse.urlsplit(b.driver.current_url).query)
            expect(kept.get("from") == zoomed["from"] and kept.get("to") == zoomed["to"],
                   f"the failures page has {kept}, the zoom {zoomed}")
            shown = b.driver.find_element(By.CSS_SELECTOR, 'form.range input[name="from"]').get_attribute("value")
            local = (start + shift).strftime("%Y-%m-%dT%H:%M:%S")
            expect(shown.startswith(local), f"the range starts at {shown!r}, expected {local!r} (UTC+05:30)")
            # Times in lists are local, UTC on hover.
            b.open("/traces?window=1h")
            first = b.wait("a start time", EC.presence_of_element_located((By.CSS_SELECTOR, "#trace-rows time[datetime]")))
            at = datetime.datetime.fromisoformat(first.get_attribute("datetime").replace("Z", "+00:00"))
            expect(first.text == (at + shift).strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}",
                   f"start {first.text!r} for {at.isoformat()}")
            expect(first.get_attribute("title").endswith(" UTC"), f"title {first.get_attribute('title')!r}")
            # The logs page's date-time filter takes local time and sends UTC.
            b.open("/logs")
            future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1) + shift)
            b.driver.execute_script("arguments[0].value = arguments[1]",
                                    b.driver.find_element(By.CSS_SELECTOR, 'form.log-filters input[name="from"]'),
                                    future.strftime("%Y-%m-%dT%H:%M"))
            b.driver.find_element(By.CSS_SELECTOR, "form.log-filters button[type=submit]").click()
            b.wait("the filtered logs", EC.url_contains("from="))
            sent = urllib.parse.parse_qs(urllib.parse.urlsplit(b.driver.current_url).query)["from"][0]
            expect(sent == (future - shift).strftime("%Y-%m-%dT%H:%M:00.000Z"), f"sent from={sent!r}")
            b.wait_text("No log record")
            b.expect_clean_console()

        report.check("demo: a service page's chart zooms, the window and local time carry on", time_model)

        for path, name, needle in (
            ("/", "services", "payments"),
            ("/failures", "failures", "httpx.ReadTimeout"),
            ("/reports/load?since=1h", "load-report", "inventory"),
            ("/reports/cost?since=1h", "cost-report", "notifier"),
            ("/map?since=1h", "service-map", "orders"),
        ):
            def page(path=path, name=name, needle=needle):
                b.open(path)
                b.wait_text(needle)
                b.screenshot(name)
                b.expect_clean_console()

            report.check(f"demo: page {path} shows the shop", page)
    finally:
        if browser is not None:
            browser.quit()
        code = server.stop()
        if code != 0:
            report.fail("demo: loupe exits 0 on SIGTERM", f"exit status {code}")



def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loupe", required=True, help="path of the loupe binary")
    ap.add_argument("--python", required=True, help="python of a venv with interop/python/requirements.txt")
    ap.add_argument("--screenshots", required=True, help="directory for the PNG screenshots")
    ap.add_argument("--demo-screenshots", help="directory for the demo-data PNGs (default: SCREENSHOTS/demo)")
    ap.add_argument("--only-demo", action="store_true", help="run only the demo-data cases")
    args = ap.parse_args()

    loupe = os.path.abspath(args.loupe)
    python = os.path.abspath(args.python)  # abspath, not resolve(): keep the venv's symlink
    screenshots = Path(args.screenshots).absolute()
    demo_shots = Path(args.demo_screenshots).absolute() if args.demo_screenshots else screenshots / "demo"

    report = Report()
    with tempfile.TemporaryDirectory(prefix="loupe-browser-demo-") as workdir:
        run_demo_cases(report, loupe, workdir, demo_shots)
    if args.only_demo:
        print(f"{report.passed} passed, {len(report.failed)} failed", flush=True)
        return 1 if report.failed else 0
    with tempfile.TemporaryDirectory(prefix="loupe-browser-") as workdir:
        try:
            server = Server(loupe, workdir, keys=True)
        except OSError as exc:
            report.fail("loupe serve starts", f"cannot run {loupe}: {exc}")
            print(f"{report.passed} passed, {len(report.failed)} failed")
            return 1
        browser = None
        try:
            addrs = report.check("loupe serve starts and prints its listening line", server.wait_listening)
            if addrs is not None:
                api = Api(f"http://{addrs[2]}")
                seeds = seed(report, api, python, addrs)
                large_trace_id = seed_large_trace(report, api, addrs[1])

                def start_browser():
                    for path in (CHROMEDRIVER, CHROMIUM):
                        expect(os.access(path, os.X_OK), f"{path} is missing (apt-get install chromium chromium-driver)")
                    try:
                        return Browser(f"http://{addrs[2]}", screenshots)
                    except WebDriverException as exc:
                        raise Fail(f"cannot start chromedriver/chromium: {exc.msg or exc}") from None

                browser = report.check("chromium starts under chromedriver", start_browser)
                if browser is not None and report.check("login: a read key opens the UI", log_in, browser):
                    run_cases(report, browser, seeds, large_trace_id)
                    report.check("logout: the session ends", log_out, browser)
        finally:
            if browser is not None:
                try:
                    browser.quit()
                except Exception as exc:  # noqa: BLE001 - keep going to stop the server
                    print(f"browser.py: driver.quit failed: {exc}", file=sys.stderr)

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

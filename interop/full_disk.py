#!/usr/bin/env python3
"""A full disk under a running `loupe serve`, on a real filesystem.

Usage:
  python3 interop/full_disk.py --loupe BIN --dir DIR

DIR is an empty directory on a small filesystem of its own (scripts/test
mounts a tmpfs of a few tens of megabytes there). The script fills most of
it with a ballast file, starts `loupe serve` with its SQLite database in DIR
and the free-disk guard off (`--min-free-disk 0`, so that the disk really
fills), and sends OTLP/HTTP exports of incompressible spans until the disk
is full. Then it checks what a team relies on:

  - exports are refused as retryable (503 with Retry-After) and say that
    the disk is full; /readyz says so too; the server logs it once, not
    once an export, and does not die;
  - once the ballast is deleted, exports are taken again without a restart;
  - loupe stops cleanly, the file passes `PRAGMA integrity_check`, and after
    a restart every export that was acknowledged reads back whole.

Each check prints `ok NAME` or `FAIL NAME: reason`; the exit status is 1 if
any check failed. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ANSI_RE, Api, Fail, Report, Server, expect, short, wait_until  # noqa: E402

SPANS_PER_EXPORT = 40
# Hex of random bytes: the packs' compression cannot shrink it below half.
VALUE_BYTES = 1500
# Room left beside the ballast: enough for the schema and a few exports.
ROOM = 6 * 2**20
# A bigger filesystem than this is not one made for the test: refuse to fill it.
MAX_FILESYSTEM = 256 * 2**20
MAX_EXPORTS = 2000


def free_bytes(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def export_body(trace_id: str) -> bytes:
    now = time.time_ns()
    spans = [
        {
            "traceId": trace_id,
            "spanId": os.urandom(8).hex(),
            "name": f"step {i}",
            "kind": 2 if i == 0 else 1,
            "startTimeUnixNano": str(now - 2_000_000),
            "endTimeUnixNano": str(now),
            "attributes": [{"key": "payload", "value": {"stringValue": os.urandom(VALUE_BYTES).hex()}}],
        }
        for i in range(SPANS_PER_EXPORT)
    ]
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "filler"}}]}
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}).encode()


def post(http_addr: str, body: bytes) -> tuple[int, str, str | None]:
    """(status, body text, Retry-After) of one OTLP/HTTP JSON export."""
    req = urllib.request.Request(f"http://{http_addr}/v1/traces", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8", "replace"), None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), exc.headers.get("Retry-After")


def log_lines(server: Server, needle: str) -> list[str]:
    with open(server.stderr_path, "rb") as fh:
        text = ANSI_RE.sub("", fh.read().decode("utf-8", "replace"))
    return [line for line in text.splitlines() if needle in line]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loupe", required=True, help="path of the loupe binary")
    ap.add_argument("--dir", required=True, help="an empty directory on a small filesystem of its own")
    args = ap.parse_args()
    loupe, disk = os.path.abspath(args.loupe), os.path.abspath(args.dir)

    st = os.statvfs(disk)
    if st.f_blocks * st.f_frsize > MAX_FILESYSTEM or os.listdir(disk):
        print(f"{disk} must be an empty directory on a filesystem of at most {MAX_FILESYSTEM >> 20} MB",
              file=sys.stderr)
        return 2

    report = Report()
    acknowledged: list[str] = []
    state: dict = {}
    ballast = os.path.join(disk, "ballast")
    with open(ballast, "wb") as fh:
        fh.write(os.urandom(max(free_bytes(disk) - ROOM, 0)))

    with tempfile.TemporaryDirectory(prefix="loupe-full-disk-") as workdir:
        server = Server(loupe, workdir, db_dir=disk, extra=("--min-free-disk", "0"))
        try:
            addrs = report.check("loupe serve starts on the small filesystem", server.wait_listening)
            if addrs is None:
                print(server.tails(), file=sys.stderr)
                return 1
            _, http_addr, ui_addr = addrs
            api = Api(f"http://{ui_addr}")

            def fill():
                for _ in range(MAX_EXPORTS):
                    trace_id = os.urandom(16).hex()
                    status, text, retry_after = post(http_addr, export_body(trace_id))
                    if status == 200:
                        acknowledged.append(trace_id)
                        continue
                    expect(status == 503, f"HTTP {status} after {len(acknowledged)} exports: {short(text)}")
                    expect(retry_after is not None, "a 503 without Retry-After")
                    state["refusal"] = text
                    return
                raise Fail(f"{MAX_EXPORTS} exports acknowledged and the disk never filled")

            report.check("exports are acknowledged until the disk fills, then refused as retryable (503)", fill)
            filled = bool(acknowledged) and "refusal" in state

            def says_disk_full():
                expect(filled, "the disk never filled")
                expect("disk" in state["refusal"] and "full" in state["refusal"],
                       f"the refusal does not say the disk is full: {short(state['refusal'])}")

            report.check("the refusal says the disk is full", says_disk_full)

            def still_refused():
                for _ in range(20):
                    status, text, retry_after = post(http_addr, export_body(os.urandom(16).hex()))
                    expect(status == 503 and retry_after, f"HTTP {status} while full: {short(text)}")
                expect(server.proc.poll() is None, "loupe exited")
                status, body = api.get("/readyz")
                expect(status == 503 and "full" in str(body), f"/readyz: HTTP {status}: {short(body)}")

            report.check("while full: every export refused, /readyz 503, loupe alive", still_refused)

            def logged_once():
                lines = log_lines(server, "refuses writes")
                expect(len(lines) == 1, f"{len(lines)} lines say the database refuses writes, want 1: "
                       f"{short(lines)}")

            report.check("the failure is logged once, not once an export", logged_once)

            os.remove(ballast)

            def taken_again():
                def probe():
                    trace_id = os.urandom(16).hex()
                    status, text, _ = post(http_addr, export_body(trace_id))
                    if status != 200:
                        return False, f"HTTP {status}: {short(text)}"
                    acknowledged.append(trace_id)
                    return True, None

                wait_until("an export acknowledged after the ballast went", probe)
                wait_until("/readyz 200", lambda: (api.get("/readyz")[0] == 200, "not ready"))

            report.check("once space is freed, exports are taken again without a restart", taken_again)
        finally:
            code = server.stop()
        stopped = report.check("loupe stops cleanly", lambda: expect(code == 0, f"exit status {code}"))
        if stopped is None and code != 0:
            print(server.tails(), file=sys.stderr)

        def intact():
            db = sqlite3.connect(f"file:{disk}/loupe.db?mode=ro", uri=True)
            try:
                verdict = db.execute("PRAGMA integrity_check").fetchall()
            finally:
                db.close()
            expect(verdict == [("ok",)], f"integrity_check: {short(verdict)}")

        report.check("the database file passes PRAGMA integrity_check", intact)

        server = Server(loupe, workdir, db_dir=disk, extra=("--min-free-disk", "0"))
        try:
            addrs = report.check("loupe serve starts again on the same file", server.wait_listening)
            if addrs is not None:
                api = Api(f"http://{addrs[2]}")

                def all_read_back():
                    expect(acknowledged, "nothing was acknowledged")
                    for trace_id in acknowledged:
                        status, body = api.get(f"/api/v1/traces/{trace_id}")
                        expect(status == 200, f"trace {trace_id}: HTTP {status}: {short(body)}")
                        expect(len(body["spans"]) == SPANS_PER_EXPORT,
                               f"trace {trace_id}: {len(body['spans'])} of {SPANS_PER_EXPORT} spans")

                report.check(f"every acknowledged export reads back whole after a restart "
                             f"({len(acknowledged)} traces)", all_read_back)
        finally:
            server.stop()

    print(f"{report.passed} passed, {len(report.failed)} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Orders: stores an order (SQLite in memory), charges it through payments.

  POST /orders          {"item": "book", "quantity": 1, "card": "..."} -> 201 {"id", "status", ...}
                        502 when the payment failed
  GET  /orders/{id}     404 when unknown
  GET  /healthz

Run: uvicorn orders:app --host 0.0.0.0 --port 8001
Env: PAYMENTS_URL (default http://127.0.0.1:8002), the OTEL_* variables (telemetry.py).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, Field

import telemetry

telemetry.setup("orders")

PAYMENTS_URL = os.environ.get("PAYMENTS_URL", "http://127.0.0.1:8002").rstrip("/")
PRICES_CENTS = {"book": 1299, "mug": 850, "tshirt": 1999, "sticker": 199}

log = logging.getLogger("shop.orders")
tracer = trace.get_tracer("shop.orders")
meter = metrics.get_meter("shop.orders")


class OrderRequest(BaseModel):
    item: str = Field(min_length=1, max_length=64)
    quantity: int = Field(default=1, ge=1, le=100)
    card: str = Field(default="4242 4242 4242 4242", min_length=1, max_length=64)


# --------------------------------------------------------------------------- the "database"


class Database:
    """A real SQLite database in memory; every query is a CLIENT span."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:", check_same_thread=False)
        self.lock = threading.Lock()
        self.conn.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL,"
            " quantity INTEGER NOT NULL, amount_cents INTEGER NOT NULL, status TEXT NOT NULL)"
        )

    def query(self, operation: str, sql: str, params: tuple = ()) -> tuple[list, int | None]:
        """(rows, lastrowid)."""
        with tracer.start_as_current_span(
            f"{operation} orders",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system": "sqlite",
                "db.name": ":memory:",
                "db.operation": operation,
                "db.sql.table": "orders",
                "db.statement": sql,
            },
        ), self.lock:
            cur = self.conn.execute(sql, params)
            rows = cur.fetchall()
            self.conn.commit()
            return rows, cur.lastrowid

    def counts_by_status(self) -> list[tuple[str, int]]:
        with self.lock:  # called by the metric reader's thread: no span
            return self.conn.execute("SELECT status, COUNT(*) FROM orders GROUP BY status").fetchall()


db = Database()

orders_placed = meter.create_counter(
    "shop.orders.placed", unit="{order}", description="Orders placed, by outcome"
)


def observe_stored(options: CallbackOptions):
    for status, count in db.counts_by_status():
        yield Observation(count, {"status": status})


meter.create_observable_gauge(
    "shop.orders.stored", callbacks=[observe_stored], unit="{order}",
    description="Orders held in the orders database, by status",
)


# --------------------------------------------------------------------------- the app


@asynccontextmanager
async def lifespan(app: FastAPI):
    async with telemetry.lifespan(app):
        async with telemetry.http_client(base_url=PAYMENTS_URL) as client:
            app.state.payments = client
            yield


app = FastAPI(title="shop orders", lifespan=lifespan)
telemetry.instrument(app)


def as_json(row) -> dict:
    order_id, item, quantity, amount_cents, status = row
    return {"id": order_id, "item": item, "quantity": quantity, "amount_cents": amount_cents, "status": status}


@app.post("/orders", status_code=201)
async def create_order(order: OrderRequest, request: Request):
    price = PRICES_CENTS.get(order.item)
    if price is None:
        raise HTTPException(422, f"unknown item {order.item!r}; we sell {', '.join(sorted(PRICES_CENTS))}")
    amount = price * order.quantity
    _, order_id = db.query(
        "INSERT",
        "INSERT INTO orders (item, quantity, amount_cents, status) VALUES (?, ?, ?, 'pending')",
        (order.item, order.quantity, amount),
    )
    trace.get_current_span().set_attribute("shop.order.id", order_id)
    log.info("order %d stored: %d x %s, %d cents", order_id, order.quantity, order.item, amount)

    try:
        resp = await request.app.state.payments.post(
            "/charge", json={"order_id": order_id, "amount_cents": amount, "card": order.card}
        )
        paid = resp.status_code == 200
        reason = f"payments answered {resp.status_code}"
    except httpx.HTTPError as exc:
        paid, reason = False, f"payments unreachable: {exc}"

    status = "paid" if paid else "payment_failed"
    db.query("UPDATE", "UPDATE orders SET status = ? WHERE id = ?", (status, order_id))
    orders_placed.add(1, {"outcome": status})
    if not paid:
        log.warning("order %d: payment failed (%s)", order_id, reason)
        return JSONResponse(
            {"detail": f"payment failed for order {order_id}", "id": order_id, "status": status},
            status_code=502,
        )
    log.info("order %d paid, charge %s", order_id, resp.json().get("charge_id"))
    rows, _ = db.query("SELECT", "SELECT id, item, quantity, amount_cents, status FROM orders WHERE id = ?",
                       (order_id,))
    return as_json(rows[0])


@app.get("/orders/{order_id}")
async def get_order(order_id: int):
    rows, _ = db.query("SELECT", "SELECT id, item, quantity, amount_cents, status FROM orders WHERE id = ?",
                       (order_id,))
    if not rows:
        log.info("order %d not found", order_id)
        raise HTTPException(404, f"no order {order_id}")
    return as_json(rows[0])


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}

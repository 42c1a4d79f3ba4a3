"""Payments: charges a card. Fails with an exception for the card "declined",
and at random for a fraction PAYMENTS_FAILURE_RATE (default 0.1) of charges.
A successful charge is settled later by a worker thread, which logs with the
request id but without trace context (as a queue consumer would).

  POST /charge          {"order_id": 1, "amount_cents": 1299, "card": "..."} -> 200 {"charge_id", ...}
                        500 when the charge failed
  GET  /healthz

Run: uvicorn payments:app --host 0.0.0.0 --port 8002
Env: PAYMENTS_FAILURE_RATE, the OTEL_* variables (telemetry.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import random
import threading
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry import trace
from pydantic import BaseModel, Field

import telemetry

telemetry.setup("payments")

FAILURE_RATE = min(max(float(os.environ.get("PAYMENTS_FAILURE_RATE", "0.1")), 0.0), 1.0)

log = logging.getLogger("shop.payments")
tracer = trace.get_tracer("shop.payments")


class ChargeRequest(BaseModel):
    order_id: int
    amount_cents: int = Field(gt=0)
    card: str = Field(min_length=1, max_length=64)


class PaymentError(Exception):
    pass


class CardDeclined(PaymentError):
    pass


class ProcessorUnavailable(PaymentError):
    pass


# --------------------------------------------------------------------------- settlement worker


class Settlement:
    """Settles charges on its own thread, off the request."""

    def __init__(self) -> None:
        self.jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self.run, name="settlement", daemon=True)

    def run(self) -> None:
        while (job := self.jobs.get()) is not None:
            charge_id, order_id, amount, rid = job
            log.info("charge %s settled: order %d, %d cents", charge_id, order_id, amount,
                     extra={telemetry.REQUEST_ID_ATTRIBUTE: rid, "charge.id": charge_id})

    def stop(self) -> None:
        self.jobs.put(None)  # after the queued jobs
        self.thread.join(timeout=10)


settlement = Settlement()


@asynccontextmanager
async def lifespan(app: FastAPI):
    async with telemetry.lifespan(app):
        settlement.thread.start()
        try:
            yield
        finally:
            settlement.stop()


app = FastAPI(title="shop payments", lifespan=lifespan)
telemetry.instrument(app)


@app.exception_handler(PaymentError)
async def payment_failed(request: Request, exc: PaymentError):
    log.error("charge failed: %s", exc, exc_info=exc)
    return JSONResponse({"detail": f"{type(exc).__name__}: {exc}"}, status_code=500)


@app.post("/charge")
async def charge(body: ChargeRequest):
    last4 = "".join(c for c in body.card if c.isdigit())[-4:] or "????"
    # The span records the exception (an `exception` event, status ERROR) and re-raises it.
    with tracer.start_as_current_span(
        "charge card", attributes={"shop.order.id": body.order_id, "shop.amount_cents": body.amount_cents}
    ):
        if body.card.strip().lower() == "declined":
            raise CardDeclined(f"card declined by issuer for order {body.order_id}")
        await asyncio.sleep(random.uniform(0.01, 0.05))  # the card network
        if random.random() < FAILURE_RATE:
            raise ProcessorUnavailable(f"payment processor timed out for order {body.order_id}")
    charge_id = f"ch_{uuid.uuid4().hex[:16]}"
    log.info("charged %d cents to card ending %s for order %d", body.amount_cents, last4, body.order_id)
    settlement.jobs.put((charge_id, body.order_id, body.amount_cents, telemetry.current_request_id()))
    return {"charge_id": charge_id, "order_id": body.order_id, "amount_cents": body.amount_cents}


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}

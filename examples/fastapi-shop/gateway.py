"""The shop's front door: takes orders and passes them to the orders service.

  POST /orders          {"item": "book", "quantity": 1, "card": "4242 4242 4242 4242"}
  GET  /orders/{id}
  GET  /healthz

Run: uvicorn gateway:app --host 0.0.0.0 --port 8000
Env: ORDERS_URL (default http://127.0.0.1:8001), the OTEL_* variables (telemetry.py).
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

import telemetry

telemetry.setup("gateway")

ORDERS_URL = os.environ.get("ORDERS_URL", "http://127.0.0.1:8001").rstrip("/")
log = logging.getLogger("shop.gateway")


class OrderRequest(BaseModel):
    item: str = Field(min_length=1, max_length=64)
    quantity: int = Field(default=1, ge=1, le=100)
    card: str = Field(default="4242 4242 4242 4242", min_length=1, max_length=64)


@asynccontextmanager
async def lifespan(app: FastAPI):
    async with telemetry.lifespan(app):
        async with telemetry.http_client(base_url=ORDERS_URL) as client:
            app.state.orders = client
            yield


app = FastAPI(title="shop gateway", lifespan=lifespan)
telemetry.instrument(app)


def relay(resp: httpx.Response) -> JSONResponse:
    try:
        body = resp.json()
    except ValueError:
        body = {"detail": resp.text}
    return JSONResponse(body, status_code=resp.status_code)


@app.post("/orders")
async def place_order(order: OrderRequest, request: Request):
    log.info("order received: %d x %s", order.quantity, order.item)
    try:
        resp = await request.app.state.orders.post("/orders", json=order.model_dump())
    except httpx.HTTPError as exc:
        log.error("orders service unreachable: %s", exc)
        return JSONResponse({"detail": "orders service unreachable", "request_id": telemetry.current_request_id()},
                            status_code=503)
    if resp.status_code >= 500:
        log.error("order failed: orders answered %d", resp.status_code)
        return JSONResponse({"detail": "order could not be placed", "request_id": telemetry.current_request_id()},
                            status_code=502)
    if resp.status_code < 300:
        log.info("order %s placed", resp.json().get("id"))
    return relay(resp)


@app.get("/orders/{order_id}")
async def get_order(order_id: int, request: Request):
    try:
        resp = await request.app.state.orders.get(f"/orders/{order_id}")
    except httpx.HTTPError as exc:
        log.error("orders service unreachable: %s", exc)
        return JSONResponse({"detail": "orders service unreachable"}, status_code=503)
    return relay(resp)


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}

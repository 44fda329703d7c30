"""The reference for the throughput benchmark (issue 15): the same callback parsed, then one durable
INSERT + COMMIT per request in PostgreSQL (psycopg async, 10 connections per worker). Nothing is acknowledged
before its commit; fsync and synchronous_commit stay as the server has them. The benchmark creates the table
(``CREATE``) before it starts the workers.

    REFERENCE_DATABASE_URL=postgresql://... uvicorn benchmarks.reference_endpoint:app
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

POOL_SIZE = 10
DATABASE_URL_ENV = "REFERENCE_DATABASE_URL"
CREATE = """CREATE TABLE IF NOT EXISTS reference_inbox (
    event_id text PRIMARY KEY, call_id text NOT NULL, body jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now())"""
INSERT = "INSERT INTO reference_inbox (event_id, call_id, body) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"

pool: asyncio.Queue[psycopg.AsyncConnection[tuple[object, ...]]] = asyncio.Queue()


async def callback(request: Request) -> JSONResponse:
    events = json.loads(await request.body())
    connection = await pool.get()
    try:
        async with connection.transaction():
            for event in events:
                await connection.execute(
                    INSERT, (event["id"], request.path_params["call_id"], json.dumps(event["data"]))
                )
    finally:
        pool.put_nowait(connection)
    return JSONResponse({"outcomes": {"stored": len(events)}})


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    url = os.environ[DATABASE_URL_ENV]
    for _ in range(POOL_SIZE):
        pool.put_nowait(await psycopg.AsyncConnection.connect(url, autocommit=True))
    yield
    while not pool.empty():
        await pool.get_nowait().close()


app = Starlette(routes=[Route("/webhooks/acs/{call_id}", callback, methods=["POST"])], lifespan=lifespan)

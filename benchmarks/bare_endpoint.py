"""The baseline for the throughput benchmark: a Starlette endpoint that only parses the same payload."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def callback(request: Request) -> JSONResponse:
    events = json.loads(await request.body())
    return JSONResponse({"outcomes": {"parsed": len(events)}})


app = Starlette(routes=[Route("/webhooks/acs/{call_id}", callback, methods=["POST"])])

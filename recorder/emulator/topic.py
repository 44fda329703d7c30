"""An Event Grid topic: ``POST /api/events`` takes CloudEvents batches with ``aeg-sas-key``, and records them
exactly as a subscriber would receive them (``GET /emulator/published``). ``POST /emulator/topic`` takes the
topic down (503) or up again, so tests can show that nothing is lost or reordered while it is down.
"""

from __future__ import annotations

import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

REQUIRED = ("id", "source", "type", "specversion")


@dataclass
class Topic:
    key: str | None
    available: bool = True
    published: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0

    def reset(self) -> None:
        self.available, self.published, self.refused = True, [], 0


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def topic_routes(topic: Topic) -> list[Route]:
    async def receive(request: Request) -> Response:
        presented = request.headers.get("aeg-sas-key", "")
        if topic.key is None or not hmac.compare_digest(presented.encode(), topic.key.encode()):
            return _error(401, "Unauthorized", "The request is missing a valid aeg-sas-key.")
        if not topic.available:
            topic.refused += 1
            return _error(503, "ServiceUnavailable", "The topic is unavailable (emulated outage).")
        if not request.headers.get("content-type", "").startswith("application/cloudevents-batch+json"):
            return _error(400, "BadRequest", "Expected content-type application/cloudevents-batch+json.")
        try:
            batch = json.loads(await request.body())
        except ValueError:
            return _error(400, "BadRequest", "The body is not valid JSON.")
        if not isinstance(batch, list) or not batch:
            return _error(400, "BadRequest", "The body must be a non-empty array of CloudEvents.")
        for event in batch:
            if not isinstance(event, dict) or any(not event.get(name) for name in REQUIRED):
                return _error(400, "BadRequest", f"Every CloudEvent needs {', '.join(REQUIRED)}.")
            if event["specversion"] != "1.0":
                return _error(400, "BadRequest", "specversion must be 1.0.")
        received = time.time()
        topic.published.extend({**event, "_received_at": received} for event in batch)
        return Response(status_code=200)

    async def published(request: Request) -> Response:
        source = request.query_params.get("source")
        events = [e for e in topic.published if source is None or e["source"] == source]
        return JSONResponse({"events": events, "refused": topic.refused})

    async def control(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("available"), bool):
            return _error(400, "InvalidScenario", 'expected {"available": true|false}')
        topic.available = body["available"]
        return JSONResponse({"available": topic.available})

    async def clear(request: Request) -> Response:
        topic.reset()
        return Response(status_code=204)

    return [
        Route("/api/events", receive, methods=["POST"]),
        Route("/emulator/published", published, methods=["GET"]),
        Route("/emulator/published", clear, methods=["DELETE"]),
        Route("/emulator/topic", control, methods=["POST"]),
    ]

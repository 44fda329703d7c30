"""Operations endpoints and middleware: request ids, draining on shutdown, ``GET /metrics``.

Draining: on SIGTERM (or Ctrl-C) the service first answers 503 on ``/webhooks/*`` and ``/readyz`` for
``drain_seconds`` — Event Grid and ACS retry a 503, reaching an instance that is not stopping, and the load
balancer takes this one out of rotation — while the outbox dispatcher keeps running; then uvicorn stops taking
connections, waits for requests in flight, and the lifespan stops the dispatcher, which finishes the commands
it holds. A second signal stops at once.
"""

from __future__ import annotations

import hmac
import logging
import re
import signal
import threading
import uuid
from collections.abc import Callable
from types import FrameType
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recorder.observability import logs, metrics
from recorder.web.responses import error

log = logging.getLogger("recorder.operations")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
DRAIN_RETRY_AFTER_SECONDS = 5


class Drain:
    """Set once the process has been asked to stop; webhooks then answer 503."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def begin(self) -> None:
        self._event.set()

    @property
    def active(self) -> bool:
        return self._event.is_set()


class OperationsMiddleware:
    """Gives each request an id (the caller's ``X-Request-Id`` when it is sane, else a new one), echoes it in
    the response, puts it on every log line of the request, and refuses webhooks while draining."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = presented if _REQUEST_ID.fullmatch(presented) else uuid.uuid4().hex
        # each request runs in its own task, so the context variable never leaks into another request
        logs.request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        if self.drain.active and scope["path"].startswith("/webhooks/"):
            response = error(503, "draining", "this instance is shutting down; retry")
            response.headers["Retry-After"] = str(DRAIN_RETRY_AFTER_SECONDS)
            log.info("webhook.refused_draining", extra={"path": scope["path"]})
            await response(scope, receive, send_with_id)
            return
        await self.app(scope, receive, send_with_id)


def install_drain_on_signals(drain: Drain, seconds: float) -> bool:
    """Wraps the server's SIGTERM/SIGINT handlers (uvicorn's, installed before the lifespan starts) so that a
    signal starts draining and the server is told to stop ``seconds`` later. Only from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if callable(previous):
            signal.signal(signum, _draining_handler(drain, seconds, previous))
    return True


def _draining_handler(
    drain: Drain, seconds: float, previous: Callable[[int, FrameType | None], Any]
) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        if drain.active or seconds <= 0:
            drain.begin()
            previous(signum, frame)  # a second signal, or no drain window: stop now
            return
        drain.begin()
        log.info("shutdown.draining", extra={"drain_seconds": seconds})
        timer = threading.Timer(seconds, previous, args=(signum, None))
        timer.daemon = True
        timer.start()

    return handler


def dispatcher_recent(container: Any) -> bool:
    """False when the dispatcher loop has not come round for ``dispatcher_stall_seconds`` (wedged)."""
    last = container.dispatcher.last_loop_at
    if last is None:  # it has not finished its first pass yet; ``alive`` covers a thread that died
        return True
    age = (container.clock() - last).total_seconds()
    return bool(age <= container.settings.operations.dispatcher_stall_seconds)


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text exposition; 404 unless a metrics token is configured, 401 without it."""
    container = request.app.state.container
    token = container.settings.operations.metrics_token
    if token is None:
        return error(404, "not_found", "metrics are not enabled (set RECORDER_METRICS_TOKEN)")
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), token.encode()):
        response = error(401, "unauthorized", "a bearer token is required for /metrics")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    body = await run_in_threadpool(metrics.exposition, container.dispatcher.backlog)
    return Response(body, media_type=metrics.CONTENT_TYPE)


def routes() -> list[Route]:
    return [Route("/metrics", metrics_endpoint)]

"""The Starlette application: routes, lifespan (dispatcher start/stop), health."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder import bootstrap
from recorder.config.settings import load_settings
from recorder.observability import crashpoints, logs
from recorder.web import console, operations
from recorder.web.api import access as access_api
from recorder.web.api import compliance as compliance_api
from recorder.web.api import ledger as api
from recorder.web.api import recordings, tokens
from recorder.web.api.exports import CutAbortedStreams
from recorder.web.body_guard import BodyGuard, body_exception_handlers
from recorder.web.responses import error
from recorder.web.security import SecurityHeaders
from recorder.web.webhooks import endpoints as webhooks
from recorder.web.webhooks.auth import ReplayWindow

log = logging.getLogger("recorder.app")


def create_app(container: bootstrap.Container, *, run_dispatcher: bool = True) -> Starlette:
    drain = operations.Drain()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if run_dispatcher:
            container.start()
        operations.install_drain_on_signals(drain, container.settings.operations.drain_seconds)
        try:
            yield
        finally:
            await run_in_threadpool(container.close)

    app = Starlette(
        routes=routes(),
        lifespan=lifespan,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(operations.OperationsMiddleware, drain=drain),
            Middleware(CutAbortedStreams),
            Middleware(BodyGuard, read_seconds=container.settings.security.http.body_timeout_seconds),
        ],
        exception_handlers={
            **body_exception_handlers(),
            OperationalError: _database_unavailable,
            Exception: _unexpected,
        },
    )
    app.state.container = container
    app.state.drain = drain
    app.state.replay_window = ReplayWindow()
    return app


def routes() -> list[Route]:
    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/webhooks/eventgrid", webhooks.eventgrid, methods=["POST"]),
        Route("/webhooks/eventgrid", webhooks.eventgrid_options, methods=["OPTIONS"]),
        Route("/webhooks/acs/{call_id}", webhooks.acs_callback, methods=["POST"]),
        *api.routes(),
        *compliance_api.routes(),
        *access_api.routes(),
        *console.routes(),
        *tokens.routes(),
        *recordings.routes(),
        *operations.routes(),
    ]


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    container: bootstrap.Container = request.app.state.container

    def database_problem() -> str | None:
        """e.g. "schema at 0009, needs 0010: run recorder db upgrade" when it changed under this instance."""
        try:
            return container.schema_problem()
        except Exception as exc:
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            log.warning("readyz.database_unreachable", extra={"error": detail[0] if detail else repr(exc)})
            return "unreachable (the service log has the error)"

    def outbox() -> dict[str, float]:
        depth, oldest = container.dispatcher.backlog()
        return {"depth": depth, "oldest_pending_age_seconds": round(oldest, 3)}

    problems = {"database": await run_in_threadpool(database_problem)}
    checks = {
        "database": problems["database"] is None,
        "dispatcher": container.dispatcher.alive and operations.dispatcher_recent(container),
        "accepting_events": not request.app.state.drain.active,
    }
    status = 200 if all(checks.values()) else 503
    body: dict[str, object] = {"ready": status == 200, "checks": checks}
    if reasons := {name: problem for name, problem in problems.items() if problem}:
        body["reasons"] = reasons
    if checks["database"]:
        body["outbox"] = await run_in_threadpool(outbox)
    return JSONResponse(body, status_code=status)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    """The database is down, restarting or locked: nothing was changed, and a retry can succeed."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    log.warning("http.database_unavailable", extra={"error": detail[0] if detail else repr(exc)})
    response = error(503, "database_unavailable", "the database cannot be reached right now; retry")
    response.headers["Retry-After"] = "1"
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("http.unexpected_error", exc_info=exc)
    return error(500, "internal_error", "an unexpected error occurred; it has been logged")


def app_from_environment() -> Starlette:
    """The uvicorn factory used by ``recorder serve``."""
    settings = load_settings(os.environ, for_serving=True)
    logs.configure()  # again: uvicorn's worker processes (--workers N) start with logging unconfigured
    crashpoints.configure(os.environ.get("RECORDER_CRASH_AT"))
    return create_app(bootstrap.build(settings))

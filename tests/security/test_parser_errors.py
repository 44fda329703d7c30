"""Every parser maps its errors to a 4xx, and nothing reads a body before the caller is authenticated: deep
JSON, oversize bodies on every route, non-ASCII digits, huge cursors, datetimes out of range, naive cursor
times, an export whose filter only fails once the query runs. No 5xx, no traceback in the log."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from recorder.db.migrate import upgrade
from recorder.db.repositories.access import KeyRepository
from recorder.services.tokens.api_keys import Role, create_key
from recorder.web.api.exports import CutAbortedStreams, guarded_rows
from tests.e2e.stack import free_port, wait_http
from tests.security.jwks import Jwks
from tests.security.world import World, make_world

DEEP = b"[" * 60000
BODY_ROUTES = [
    ("POST", "/api/keys"),
    ("DELETE", "/api/keys/some-key"),
    ("POST", "/api/erasures"),
    ("POST", "/api/calls/x/legal-hold"),
    ("DELETE", "/api/calls/x/legal-hold"),
    ("POST", "/api/tokens"),
    ("POST", "/api/tokens/revoke"),
    ("POST", "/api/recordings"),
    ("DELETE", "/api/recordings/r-1"),
    ("POST", "/api/calls"),
]
BODYLESS = [("DELETE", "/api/keys/some-key"), ("DELETE", "/api/recordings/r-1")]


@pytest.fixture
def world(tmp_path: Path, jwks: Jwks) -> Iterator[World]:
    """SQLite: what is tested here happens before any query; the out-of-range times run on both backends."""
    url = f"sqlite:///{tmp_path / 'recorder.db'}"
    upgrade(url)
    w = make_world(url, jwks)
    yield w
    w.close()


@pytest.fixture
def any_world(database_url: str, jwks: Jwks) -> Iterator[World]:
    w = make_world(database_url, jwks)
    yield w
    w.close()


def key(world: World, role: Role = Role.ADMIN) -> dict[str, str]:
    with world.container.sessions() as session:
        secret = create_key(KeyRepository(session), role, f"{role} key", datetime.now(UTC))[1]
        session.commit()
    return {"Authorization": f"Bearer {secret}"}


class WatchedBody:
    """A request body that records whether the service read any of it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.read = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.read = True
        yield self.data


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_no_body_is_read_before_the_caller_is_authenticated(
    world: World, caplog: pytest.LogCaptureFixture, method: str, path: str
) -> None:
    before = world.snapshot()
    for headers in ({}, {"Authorization": "Bearer rk_wrong"}):
        body = WatchedBody(DEEP)
        response = world.request(method, path, content=body, headers=headers)
        assert response.status_code == 401, response.text
        assert not body.read, f"{method} {path} read the body of an unauthenticated request"
    assert world.snapshot() == before
    no_tracebacks(caplog)


@pytest.mark.parametrize(("method", "path"), [r for r in BODY_ROUTES if r not in BODYLESS])
def test_deep_json_from_an_authenticated_caller_is_a_400(
    world: World, caplog: pytest.LogCaptureFixture, method: str, path: str
) -> None:
    headers = key(world)
    deep = world.request(method, path, content=DEEP, headers=headers)
    assert deep.status_code in (400, 413), deep.text  # 413 where the route's body limit is below 60 KB
    nested = world.request(method, path, content=b'{"a":' * 40 + b"1" + b"}" * 40, headers=headers)
    assert (nested.status_code, nested.json()["error"]["code"]) == (400, "too_deep")
    no_tracebacks(caplog)


def every_route(world: World) -> list[tuple[str, str]]:
    found = []
    for route in world.app.routes:
        path = getattr(route, "path", "")
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method != "HEAD":
                found.append((method, path.replace("{", "").replace("}", "")))
    return found


def test_an_oversize_body_is_refused_on_every_route(world: World, caplog: pytest.LogCaptureFixture) -> None:
    huge = b"{" + b" " * (1024 * 1024) + b"}"
    admin = key(world)
    routes = every_route(world)
    assert ("POST", "/console/logout") in routes

    async def streamed() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    for method, path in routes:
        for headers in ({}, admin):
            for content in (huge, streamed()):
                before = world.snapshot()
                response = world.request(method, path, content=content, headers=headers)
                answer = (method, path, response.status_code, response.text[:200])
                assert response.status_code < 500 or path == "/readyz", answer  # no dispatcher in-process
                if not headers:
                    assert world.snapshot() == before, answer
    no_tracebacks(caplog)


def test_console_logout_with_an_oversize_body(world: World) -> None:
    response = world.request("POST", "/console/logout", content=b"csrf=" + b"x" * 20000)
    assert response.status_code in (303, 413)


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_QUERIES = [
    {"limit": "\u00b2"},  # superscript two: str.isdigit() says yes, int() says no
    {"limit": "\u0661\u0662"},  # Arabic-Indic digits
    {"limit": "\U0001d7d9"},  # mathematical double-struck one
    {"limit": "\uff11\uff10"},  # fullwidth digits
    {"limit": "0"},
    {"limit": "9" * 30},
    {"cursor": cursor("v1:" + "9" * 30)},
    {"cursor": cursor("v1:-1")},
    {"cursor": cursor("v1:\u00b2")},
    {"cursor": "%%%"},
    {"since": "0001-01-01T00:00:00+14:00"},
    {"until": "9999-12-31T23:59:59-05:00"},
    {"since": "2026-01-01T00:00:00"},
    {"since": "\uff12\uff10\uff12\uff16-01-01T00:00:00Z"},
    {"since": "2026-01-01T00:00:00+24:00"},
    {"until": "tomorrow"},
]


@pytest.mark.parametrize("path", ["/api/consents", "/api/calls"])
def test_bad_query_values_are_400(any_world: World, caplog: pytest.LogCaptureFixture, path: str) -> None:
    auditor = key(any_world, Role.AUDITOR)
    for params in BAD_QUERIES:
        response = any_world.request("GET", path, params=params, headers=auditor)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"]["code"] == "invalid_query"
    no_tracebacks(caplog)


def test_a_naive_time_in_a_calls_cursor_is_400(world: World) -> None:
    for text in ("c1|2026-01-01T00:00:00|abc", "c1|0001-01-01T00:00:00+14:00|abc", "c1|x|abc", "c1|a|b|c"):
        response = world.request("GET", "/api/calls", params={"cursor": cursor(text)}, headers=key(world))
        assert response.status_code == 400, (text, response.text)


def test_the_far_future_still_works_as_an_open_end(any_world: World) -> None:
    admin = key(any_world)
    for path in ("/api/consents", "/api/calls", "/api/consents/export"):
        response = any_world.request("GET", path, params={"until": "9999-12-31T23:59:59Z"}, headers=admin)
        assert response.status_code == 200, response.text


def test_an_export_refuses_bad_filters_before_it_starts_streaming(
    any_world: World, caplog: pytest.LogCaptureFixture
) -> None:
    auditor = key(any_world, Role.AUDITOR)
    for params in (
        {"since": "0001-01-01T00:00:00+14:00"},
        {"until": "9999-12-31T23:59:59-05:00"},
        {"since": "2026-01-01T00:00:00"},
        {"format": "xml"},
    ):
        response = any_world.request("GET", "/api/consents/export", params=params, headers=auditor)
        assert response.status_code == 400, (params, response.text)
    no_tracebacks(caplog)


def test_an_export_that_fails_mid_stream_is_cut_not_completed(caplog: pytest.LogCaptureFixture) -> None:
    """Once the first bytes are out the status cannot change: the client must see a truncated transfer, and
    the log one line. (A database failing between batches, simulated by the row source.)"""

    def rows() -> Iterator[list[tuple[int]]]:
        yield [(1,)]
        raise OperationalError("SELECT", {}, Exception("the database went away"))

    async def export(request: Request) -> StreamingResponse:
        return StreamingResponse((f"{batch}\n" for batch in guarded_rows(rows())), media_type="text/csv")

    app = Starlette(routes=[Route("/export", export)], middleware=[Middleware(CutAbortedStreams)])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/nothing")
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"http://127.0.0.1:{port}/export", timeout=10)
    finally:
        server.should_exit = True
        thread.join(10)
    aborted = [r for r in caplog.records if r.getMessage() == "export.aborted"]
    assert len(aborted) == 1 and not aborted[0].exc_info


def test_refused_bodies_log_one_line_each_and_no_traceback(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        world.request("POST", "/api/erasures", content=DEEP)
        world.request("POST", "/api/erasures", content=DEEP, headers=key(world))
    no_tracebacks(caplog)
    assert all("\n" not in r.getMessage() for r in caplog.records)

"""ASGI middleware for every route: a request body is at most 1 MiB (declared or streamed) and must arrive
within the body deadline once a handler starts reading it; a response sent before the body was read whole
says ``Connection: close``, so a client cannot keep the socket by trickling a body nobody reads. A small
declared body that is already arriving is first read to its end and dropped: a socket closed with bytes
still coming is reset, and the reset can reach the client before the answer does (a 401 lost as
"connection reset by peer").

Routes read bodies only after authenticating the caller; this bounds what happens to those who pass.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recorder.web.responses import MAX_BODY_BYTES, BodyTooLarge, error

DRAIN_BYTES = 64 * 1024  # an unread body up to this size is read and dropped before the answer...
DRAIN_SECONDS = 0.2  # ...if it arrives this quickly; a trickled one gets its answer and the socket closes


class BodyTimeout(Exception):
    """The body did not arrive within the deadline: a 408, and the connection is closed."""


class BodyGuard:
    def __init__(self, app: ASGIApp, read_seconds: float, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.read_seconds = read_seconds
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.limit:
            response = error(413, "body_too_large", f"the body must be at most {self.limit} bytes")
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        expects_body = (declared not in ("", "0")) or "transfer-encoding" in headers
        state = _BodyState(expects_body)

        async def guarded_receive() -> Message:
            if state.done or state.answered:  # after the answer: Starlette only listens for a disconnect
                return await receive()
            message = await self._next(receive, state)
            if message["type"] == "http.request":
                state.received += len(message.get("body", b""))
                if state.received > self.limit:
                    raise BodyTooLarge
                state.done = not message.get("more_body", False)
            return message

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.answered = True
                if not state.done and not await _drained(receive, state, declared):
                    MutableHeaders(scope=message)["connection"] = "close"
            await send(message)

        await self.app(scope, guarded_receive, closing_send)

    async def _next(self, receive: Receive, state: _BodyState) -> Message:
        if state.deadline is None:
            state.deadline = time.monotonic() + self.read_seconds
        remaining = state.deadline - time.monotonic()
        try:
            return await asyncio.wait_for(receive(), max(remaining, 0.001))
        except TimeoutError:
            raise BodyTimeout from None


async def _drained(receive: Receive, state: _BodyState, declared: str) -> bool:
    """What is left of a small declared body, read and dropped if it comes at once; False otherwise."""
    if not (declared.isascii() and declared.isdigit() and int(declared) <= DRAIN_BYTES):
        return False
    deadline = time.monotonic() + DRAIN_SECONDS
    try:
        while not state.done:
            message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            if message["type"] != "http.request":
                return False
            state.received += len(message.get("body", b""))
            state.done = not message.get("more_body", False)
    except TimeoutError:
        return False
    return state.received <= int(declared)


class _BodyState:
    def __init__(self, expects_body: bool) -> None:
        self.done = not expects_body  # True once the last body chunk arrived (or there is no body)
        self.answered = False  # the response has started
        self.received = 0
        self.deadline: float | None = None  # set when a handler first waits for the body


def body_exception_handlers() -> dict[Any, Any]:
    """Starlette exception handlers: whichever route was reading, these are 4xx answers."""

    async def too_large(request: Any, exc: Exception) -> Any:
        response = error(413, "body_too_large", "the request body is too large")
        response.headers["Connection"] = "close"
        return response

    async def too_slow(request: Any, exc: Exception) -> Any:
        response = error(408, "body_timeout", "the request body did not arrive in time")
        response.headers["Connection"] = "close"
        return response

    return {BodyTooLarge: too_large, BodyTimeout: too_slow}

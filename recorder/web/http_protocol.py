"""uvicorn's HTTP/1.1 protocol with TCP_NODELAY on every connection and a deadline for request headers.

With ``--workers`` > 1 uvicorn binds its listening socket without ``IPPROTO_TCP``, so asyncio does not set
TCP_NODELAY on accepted connections; Nagle's algorithm then meets the client's delayed ACK and each response
stalls ~40 ms. Setting it per connection makes a multi-worker server as quick as a single one.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but only once a response has been
sent, and any byte received stops that timer: a connection that never sends a request, or sends its headers
a byte at a time, stays open for ever. Here the whole of each request's headers must arrive within
``RECORDER_HTTP_HEADER_TIMEOUT_SECONDS`` of the connection opening (or of the previous response), or the
connection is closed. Bodies have their own deadline (``recorder.web.body_guard``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_ENV = "RECORDER_HTTP_HEADER_TIMEOUT_SECONDS"
DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0


def header_timeout() -> float:
    """Set by ``recorder serve`` for its worker processes (from the validated settings)."""
    value = os.environ.get(HEADER_TIMEOUT_ENV, "")
    return (
        float(value)
        if value.isascii() and value.isdigit() and int(value) > 0
        else DEFAULT_HEADER_TIMEOUT_SECONDS
    )


class HardenedH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = header_timeout()
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._arm_header_deadline()

    def handle_events(self) -> None:
        super().handle_events()
        if self._request_in_progress():
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self._request_in_progress():
            self._arm_header_deadline()  # waiting for the next request's headers

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _request_in_progress(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self._header_timeout, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self._request_in_progress() or self.transport.is_closing():
            return
        with contextlib.suppress(h11.LocalProtocolError):  # mid-way through headers: nothing to say
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()


HTTP_PROTOCOL = "recorder.web.http_protocol:HardenedH11Protocol"

"""uvicorn's HTTP/1.1 protocol with TCP_NODELAY on every connection.

With ``--workers`` > 1 uvicorn binds its listening socket without ``IPPROTO_TCP``, so asyncio does not set
TCP_NODELAY on accepted connections; Nagle's algorithm then meets the client's delayed ACK and each response
stalls ~40 ms. Setting it per connection makes a multi-worker server as quick as a single one.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


HTTP_PROTOCOL = "recorder.web.http_protocol:NoDelayH11Protocol"

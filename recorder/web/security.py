"""Security headers on every response, and which reverse proxies are believed about scheme and client.

HSTS is sent only when the request arrived over https: directly, or through a proxy listed in
``RECORDER_TRUSTED_PROXIES`` whose ``X-Forwarded-Proto`` uvicorn honoured (``forwarded_allow_ips``). A header
from anyone else never changes ``scope["scheme"]``, so it cannot switch HSTS or Secure cookies on or off.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recorder.config.settings import Settings

HSTS = "max-age=31536000; includeSubDomains"
# The console is server-rendered HTML with one inline <style> block and no script at all: scripts are not
# allowed from anywhere, forms post only to ourselves, and nothing may frame a page.
CONSOLE_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",  # ledger rows, keys and tokens must not sit in any cache
}


class SecurityHeaders:
    """Pure ASGI middleware (no response buffering): headers a route already set are kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON.items():
                    headers.setdefault(name, value)
                console = path == "/console" or path.startswith("/console/")
                headers.setdefault("content-security-policy", CONSOLE_CSP if console else API_CSP)
                if https:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def forwarded_allow_ips(settings: Settings) -> dict[str, Any]:
    """uvicorn.run keyword arguments: proxy headers are honoured only from the configured proxies."""
    proxies = list(settings.security.trusted_proxies)
    if not proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": proxies}


def server_limits(settings: Settings) -> dict[str, Any]:
    """uvicorn.run keyword arguments bounding what slow or greedy clients hold, for ``recorder serve``: at
    most ``max_connections`` per worker (uvicorn answers 503 beyond), idle keep-alive connections closed
    after ``keepalive_seconds``. The header deadline is read by the HTTP protocol in each worker process,
    so it is exported to the environment they inherit; the body deadline is ``BodyGuard``'s."""
    from recorder.web.http_protocol import HEADER_TIMEOUT_ENV

    limits = settings.security.http
    os.environ[HEADER_TIMEOUT_ENV] = str(limits.header_timeout_seconds)
    return {"limit_concurrency": limits.max_connections, "timeout_keep_alive": limits.keepalive_seconds}

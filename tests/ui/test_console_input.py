"""Whatever anyone holding a session puts in the console's query strings is a 4xx page, never a 500; the
printable evidence and the JSON bundle are named after the call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from recorder.db.repositories.access import ConsoleSessionRepository, KeyRepository
from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.calls import Call
from recorder.services.tokens import console_sessions
from recorder.services.tokens.api_keys import Role, create_key
from tests.audit_tampering import bypass
from tests.integration.compliance_world import World


@pytest.fixture
def cookie(world: World) -> dict[str, str]:
    with world.container.sessions() as session:
        key_id, _ = create_key(KeyRepository(session), Role.AUDITOR, "input test", datetime.now(UTC))
        session.commit()
        token = console_sessions.open_session(ConsoleSessionRepository(session), key_id, datetime.now(UTC))
        session.commit()
    return {"Cookie": f"recorder_console={token}"}


@pytest.mark.parametrize(
    "query",
    [
        "participant=bob",
        "participant=12",
        "participant=%00%ff",
        "participant=" + "9" * 400,
        "from=2026-13-01",
        "from=yesterday",
        "to=99999-01-01",
        "to=0001-01-01",
        "page=0",
        "page=abc",
        "page=99999999",
        "region=%3Cscript%3E",
        "tz=Mars/Olympus_Mons",
        "tz=../../etc/passwd",
        "outcome=maybe",
        "recorded=perhaps",
        "hold=%E2%80%8B",
    ],
)
def test_bad_filters_on_the_calls_view_are_400_pages(
    world: World, cookie: dict[str, str], query: str
) -> None:
    response = world.client.get(f"/console/calls?{query}", headers=cookie)
    assert response.status_code == 400, response.text[:300]
    assert 'role="alert"' in response.text


@pytest.mark.parametrize(
    "query", ["participant=4:+14255550101", "participant=0101&tz=Europe/London", "page=2"]
)
def test_good_filters_answer_a_page(world: World, cookie: dict[str, str], query: str) -> None:
    assert world.client.get(f"/console/calls?{query}", headers=cookie).status_code == 200


def test_evidence_is_named_after_the_call_and_an_unknown_call_is_404(
    world: World, cookie: dict[str, str]
) -> None:
    printable = world.client.get("/console/calls/conn-1/evidence/print", headers=cookie)
    assert printable.status_code == 200 and "<title>evidence-conn-1</title>" in printable.text
    assert 'filename="evidence-conn-1.html"' in printable.headers["content-disposition"]
    bundle = world.client.get("/console/calls/conn-1/evidence", headers=cookie)
    assert 'filename="evidence-conn-1.json"' in bundle.headers["content-disposition"]
    assert bundle.json()["exposure"]["total_ms"] == 0 and bundle.json()["verification"]["chain"]["ok"] is True
    for path in ("/console/calls/nope", "/console/calls/nope/evidence", "/console/calls/nope/evidence/print"):
        assert world.client.get(path, headers=cookie).status_code == 404
    assert "<script" not in printable.text  # the console's CSP allows no script: the page needs none


def test_an_entry_deleted_next_to_a_calls_entries_shows_on_that_calls_page(
    world: World, cookie: dict[str, str]
) -> None:
    with world.container.unit_of_work() as uow:  # what the service's sealer does every 100 ms
        uow.audit.seal_pending()
        uow.commit()
    with world.container.sessions() as session:
        call_id = session.scalar(select(Call.id).where(Call.call_connection_id == "conn-2"))
        first = session.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.call_id == call_id))
    assert first is not None and first > 1
    bypass(
        world.container.settings.database_url, "DELETE FROM audit_log WHERE seq = :seq", {"seq": first - 1}
    )
    page = world.client.get("/console/calls/conn-2", headers=cookie)
    assert 'id="tamper-warning"' in page.text and f"Entry {first} no longer links" in page.text
    evidence = world.client.get("/console/calls/conn-2/evidence", headers=cookie).json()["verification"]
    assert evidence["chain"]["first_bad"] == first - 1 and evidence["this_call"]["misplaced"] == [first]
    assert evidence["broken_entry"]["call_connection_id"] == "conn-2" and evidence["broken_entry"]["missing"]

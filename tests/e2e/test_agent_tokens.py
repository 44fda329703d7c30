"""Agents' access tokens through the running service, and an agent joining a call, over real processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import column, create_engine, inspect, select, table, text
from sqlalchemy.sql.expression import ColumnClause

from tests.e2e.stack import BACKENDS, Stack, stack_on_backend

ISSUED: list[str] = []  # every token this module was given, for the leak scan
CHUNK = 16


@pytest.fixture(scope="module", params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from stack_on_backend(request, tmp_path_factory.mktemp("e2e-tokens"))


@pytest.fixture(scope="module")
def keys(stack: Stack) -> dict[str, str]:
    made = {}
    for role in ("service", "operator"):
        created = stack.cli("keys", "create", "--role", role, "--name", f"e2e {role}")
        assert created.returncode == 0, created.stderr
        made[role] = created.stdout.strip().splitlines()[-1]
    return made


def issue(stack: Stack, keys: dict[str, str], user_id: str) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.service_url}/api/tokens",
        json={"user_id": user_id},
        headers={"Authorization": f"Bearer {keys['service']}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    ISSUED.append(body["token"])
    return body


def revoke(stack: Stack, keys: dict[str, str], identity: str) -> httpx.Response:
    return httpx.post(
        f"{stack.service_url}/api/tokens/revoke",
        json={"identity": identity},
        headers={"Authorization": f"Bearer {keys['operator']}"},
        timeout=30,
    )


def token_state(stack: Stack, token: str) -> dict[str, Any]:
    response = httpx.post(f"{stack.emulator_url}/emulator/tokens:verify", json={"token": token}, timeout=10)
    result: dict[str, Any] = response.json()
    return result


def expiry(body: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(body["expires_on"].replace("Z", "+00:00"))


def test_an_agent_gets_refreshes_and_loses_tokens_through_the_service(
    stack: Stack, keys: dict[str, str]
) -> None:
    first = issue(stack, keys, "agent-refresh")
    assert timedelta(minutes=59) < expiry(first) - datetime.now(UTC) <= timedelta(minutes=60)
    time.sleep(1.1)  # a refresh a few minutes before expiry, compressed
    refreshed = issue(stack, keys, "agent-refresh")
    assert refreshed["identity"] == first["identity"]
    assert refreshed["token"] != first["token"]
    assert expiry(refreshed) > expiry(first)
    assert token_state(stack, refreshed["token"])["valid"] is True

    revoked = revoke(stack, keys, first["identity"])
    assert revoked.status_code == 200, revoked.text
    assert token_state(stack, first["token"])["reason"] == "revoked"
    assert token_state(stack, refreshed["token"])["reason"] == "revoked"
    after = issue(stack, keys, "agent-refresh")
    assert token_state(stack, after["token"])["valid"] is True


def test_a_call_joined_by_a_registered_agent_records_them_exempt_and_records_once_the_caller_agrees(
    stack: Stack, keys: dict[str, str]
) -> None:
    agent = issue(stack, keys, "agent-on-the-phones")["identity"]
    registered = stack.cli("agents", "exempt", agent)  # a token alone exempts nobody: an admin registers
    assert registered.returncode == 0, registered.stderr
    caller = "4:+14255550881"
    server_call_id = stack.place_call(
        [
            {"raw_id": caller, "answers": ["1"], "answer_delay_ms": 300, "leave_at_ms": 3000},
            {"raw_id": agent, "exempt": True, "leave_at_ms": 3000},
        ]
    )
    call = stack.wait_until_ended(server_call_id)

    ledger = {e["participant"]: e for e in stack.consents(server_call_id=server_call_id)}
    assert set(ledger) == {caller, agent}
    assert (ledger[agent]["outcome"], ledger[agent]["reason"], ledger[agent]["method"]) == (
        "exempt",
        "agent-identity",
        "policy",
    )
    assert ledger[caller]["outcome"] == "granted"
    prompts = [r for r in call["requests"] if r["operation"] == "start_recognizing_media"]
    assert {r["target"] for r in prompts} == {caller}
    starts = [r for r in call["requests"] if r["operation"] == "start_recording" and not r.get("repeat")]
    assert len(starts) == 1
    granted = [c for c in call["callbacks"] if c["type"].endswith("RecognizeCompleted")]
    # causally after the grant left the emulator (the service may act before its HTTP answer gets back)
    assert starts[0]["at_ms"] >= max(round(c["sent_at_s"] * 1000) for c in granted)
    assert set(call["unconsented_recorded_ms"].values()) == {0}


def test_no_issued_token_appears_in_any_log_or_database_row(stack: Stack, keys: dict[str, str]) -> None:
    own = [issue(stack, keys, "agent-leak-check") for _ in range(2)]
    assert revoke(stack, keys, own[0]["identity"]).status_code == 200
    time.sleep(0.5)  # let the last log lines reach the files

    needles: set[str] = set()
    for token in ISSUED:
        _, payload, signature = token.split(".")  # the header is the same in every token: not a secret
        # Any 31 characters or more of a payload or signature contain one of these aligned pieces.
        for part in (payload, signature):
            needles.update(part[i : i + CHUNK] for i in range(0, len(part) - CHUNK + 1, CHUNK))

    logs = {path.name: path.read_text(errors="replace") for path in stack.logs}
    service_logs = "".join(content for name, content in logs.items() if name.startswith("service"))
    assert "tokens.issued" in service_logs  # the scan reads the lines that matter
    assert own[0]["identity"] in service_logs
    for name, content in logs.items():
        leaked = sum(1 for n in needles if n in content)
        assert leaked == 0, f"{name} contains pieces of issued tokens"

    engine = create_engine(stack.env["RECORDER_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            names = inspect(connection).get_table_names()
            assert "agent_identities" in names and "audit_log" in names
            rows_seen = 0
            for name in names:
                columns: list[ColumnClause[Any]] = [
                    column(c["name"]) for c in inspect(connection).get_columns(name)
                ]
                rows = connection.execute(select(table(name, *columns)))
                for row in rows:
                    rows_seen += 1
                    flat = " ".join(str(value) for value in row)
                    leaked = sum(1 for n in needles if n in flat)
                    assert leaked == 0, f"table {name} holds pieces of issued tokens"
            identities = connection.execute(text("SELECT acs_identity FROM agent_identities")).scalars()
            assert own[0]["identity"] in set(identities)
            assert rows_seen > 0
    finally:
        engine.dispose()

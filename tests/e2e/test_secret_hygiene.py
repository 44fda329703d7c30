"""A whole call through consent and recording, with the service and the emulator as processes, then a scan of
every log line of both, every response body the service sent us and every row of every table: no ACS access
key, Event Grid secret, JWT, API key or SAS signature may appear anywhere. Also: the callbackUri given to ACS
carries no secret, and proxy headers are honoured from the configured trusted proxy (``recorder serve``)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import column as sql_column
from sqlalchemy import create_engine, inspect, select, table
from sqlalchemy.sql.expression import ColumnClause

from tests.e2e.stack import Stack, start_stack

JWT = re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")
SAS = re.compile(r"[?&;]sig=", re.IGNORECASE)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("secrets")
    yield from start_stack(
        f"sqlite:///{workdir / 'recorder.db'}", workdir, extra_env={"RECORDER_TRUSTED_PROXIES": "127.0.0.1"}
    )


class Recorded:
    """Every response body the service sends back to us."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.bodies: list[str] = []

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.request(method, f"{self.stack.service_url}{path}", timeout=10, **kwargs)
        self.bodies.append(response.text)
        self.bodies.extend(f"{k}: {v}" for k, v in response.headers.items() if k.lower() != "set-cookie")
        return response


def _new_key(stack: Stack, role: str) -> str:
    created = stack.cli("keys", "create", "--role", role, "--name", f"scan {role}")
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def _table_text(database_url: str) -> dict[str, str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            dump: dict[str, str] = {}
            for name in inspector.get_table_names():
                names = [c["name"] for c in inspector.get_columns(name)]
                columns: list[ColumnClause[Any]] = [sql_column(n) for n in names]
                rows = connection.execute(select(table(name, *columns))).all()
                dump[name] = "\n".join(repr(tuple(row)) for row in rows)
            return dump
    finally:
        engine.dispose()


def test_no_secret_reaches_logs_responses_or_the_database(stack: Stack) -> None:
    api = Recorded(stack)
    admin, service = _new_key(stack, "admin"), _new_key(stack, "service")
    people = ["4:+14255550701", "4:+14255550702"]
    server_call_id = stack.place_call(
        [
            {"raw_id": who, "answers": ["1"], "answer_delay_ms": 100 + 100 * i, "leave_at_ms": 2500}
            for i, who in enumerate(people)
        ]
    )
    call = stack.wait_until_ended(server_call_id)
    assert any(r["operation"] == "start_recording" for r in call["requests"])  # consent, then recording

    auditor = {"Authorization": f"Bearer {stack.auditor_key}"}
    ledger = api.request("GET", "/api/consents", params={"server_call_id": server_call_id}, headers=auditor)
    assert ledger.status_code == 200 and len(ledger.json()["items"]) == 2
    connection_id = ledger.json()["items"][0]["call_connection_id"]
    assert api.request("GET", f"/api/calls/{connection_id}", headers=auditor).status_code == 200
    assert api.request("GET", "/api/audit/verify", headers=auditor).json()["ok"] is True
    assert api.request("GET", "/api/openapi.json", headers=auditor).status_code in (200, 401)
    assert api.request("GET", "/api/keys", headers={"Authorization": f"Bearer {admin}"}).status_code in (
        200,
        404,
    )
    assert (
        api.request("GET", "/api/consents", headers={"Authorization": f"Bearer {service}"}).status_code == 403
    )
    assert (
        api.request("GET", "/api/consents", headers={"Authorization": f"Bearer {admin}x"}).status_code == 401
    )

    # hostile or mistaken deliveries that carry secrets: none may be echoed or logged
    sent_jwts = [
        stack.keys.token(stack.issuer),
        stack.keys.token(stack.issuer, exp=int(time.time()) - 3600),
        stack.keys.token(stack.issuer, aud="someone-else"),
    ]
    for token in sent_jwts:
        api.request("POST", "/webhooks/acs/nope", json=[], headers={"Authorization": f"Bearer {token}"})
    api.request("POST", "/webhooks/eventgrid", params={"secret": stack.secret + "x"}, json=[])
    api.request("POST", "/webhooks/eventgrid", params={"secret": stack.secret}, content=b"{not json")
    sas_url = "https://acct.blob.core.windows.net/c/b?sv=2025-01-05&sp=r&sig=SASSIGNATURE0123456789"
    api.request(
        "POST", "/webhooks/eventgrid", params={"secret": stack.secret, "u": sas_url}, json=[{"id": 1}]
    )

    # proxy headers, honoured from 127.0.0.1 because RECORDER_TRUSTED_PROXIES says so
    forwarded = api.request("GET", "/healthz", headers={"X-Forwarded-Proto": "https"})
    assert forwarded.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in api.request("GET", "/healthz").headers

    # the callbackUri (and recording-state URI) given to ACS: our public URL and a path, nothing else
    # (the Event Grid subscription URL is the operator's, not ours: the emulator posts IncomingCall there)
    urls = {a["url"] for a in call["callbacks"] if a.get("url") and "/webhooks/eventgrid" not in a["url"]}
    assert urls, "the emulator recorded no callback URLs"
    for url in urls:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == stack.service_url
        assert parts.query == "" and parts.fragment == "" and parts.username is None
        assert re.fullmatch(r"/webhooks/acs/[\w.-]+", parts.path), url

    time.sleep(0.5)  # let the last log lines reach the files
    secrets = {
        "ACS access key": stack.env["RECORDER_ACS_ACCESS_KEY"],
        "Event Grid secret": stack.secret,
        "auditor API key": stack.auditor_key,
        "admin API key": admin,
        "service API key": service,
        **{f"callback JWT {i}": token for i, token in enumerate(sent_jwts)},
        **{f"callback JWT {i} signature": token.rsplit(".", 1)[1] for i, token in enumerate(sent_jwts)},
        "SAS signature": "SASSIGNATURE0123456789",
    }
    places = {
        **{f"log {path.name}": Path(path).read_text(errors="replace") for path in stack.logs},
        **{f"response {i}": body for i, body in enumerate(api.bodies)},
        **{f"table {name}": text for name, text in _table_text(stack.env["RECORDER_DATABASE_URL"]).items()},
    }
    service_log = "".join(text for where, text in places.items() if where.startswith("log service"))
    assert "webhook.auth_failed" in service_log  # the scan reads the lines that matter
    assert any(where.startswith("table ledger") or where.startswith("table consent") for where in places)
    assert all(JWT.search(token) for token in sent_jwts) and SAS.search(sas_url)  # the patterns do match
    leaks = [
        f"{what} in {where}"
        for where, text in places.items()
        for what, secret in secrets.items()
        if secret in text
    ]
    leaks += [f"a JWT in {where}" for where, text in places.items() if JWT.search(text)]
    leaks += [f"a SAS signature in {where}" for where, text in places.items() if SAS.search(text)]
    assert leaks == []

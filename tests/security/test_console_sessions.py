"""Console sessions are server-side: the cookie is a random token, not the API key (and no bearer token); it
stops working after sign-out, after 30 idle minutes, after 8 hours, and when the key is revoked; it is
Secure everywhere but on a loopback host. Time is a controlled clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from recorder.db.repositories.access import KeyRepository
from recorder.db.tables.access import ConsoleSession
from recorder.services.tokens.api_keys import Role, create_key
from tests.security.jwks import Jwks
from tests.security.world import World, make_world


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def world_at(database_url: str, jwks: Jwks, base_url: str, clock: Clock | None = None) -> World:
    return make_world(database_url, jwks, base_url=base_url, clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(database_url: str, jwks: Jwks, clock: Clock) -> Iterator[World]:
    w = world_at(database_url, jwks, "https://recorder.example.org", clock)
    yield w
    w.close()


def auditor_key(world: World) -> tuple[str, str]:
    with world.container.sessions() as session:
        key_id, key = create_key(KeyRepository(session), Role.AUDITOR, "console user", datetime.now(UTC))
        session.commit()
    return key_id, key


def sign_in(world: World, key: str) -> tuple[str, str]:
    """Sign in through the form as a browser would; returns the Set-Cookie header and the session cookie."""
    form = world.request("GET", "/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    response = world.request(
        "POST",
        "/console/login",
        data={"csrf": csrf.group(1), "key": key},
        headers={"Cookie": f"recorder_console_csrf={form.cookies['recorder_console_csrf']}"},
    )
    assert response.status_code == 303, response.text
    set_cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("recorder_console="))
    found = re.match(r"recorder_console=([^;]+)", set_cookie)
    assert found is not None
    world.client.cookies.clear()
    return set_cookie, found.group(1)


def ledger(world: World, cookie: str) -> int:
    return world.request(
        "GET", "/console/ledger", headers={"Cookie": f"recorder_console={cookie}"}
    ).status_code


def test_the_cookie_is_not_the_key_and_the_key_is_not_a_session(world: World) -> None:
    key_id, key = auditor_key(world)
    _, cookie = sign_in(world, key)
    assert cookie != key and key not in cookie
    assert ledger(world, cookie) == 200
    assert ledger(world, key) == 303  # the raw API key in the cookie signs nobody in
    as_bearer = world.request("GET", "/api/consents", headers={"Authorization": f"Bearer {cookie}"})
    assert as_bearer.status_code == 401  # nor is the session token an API key
    with world.container.sessions() as session:
        stored = session.scalars(select(ConsoleSession)).all()
    assert [(s.key_id, len(s.id)) for s in stored] == [(key_id, 64)]
    assert all(cookie not in s.id for s in stored)  # only its hash is kept


def test_sign_out_revokes_the_session_everywhere(world: World) -> None:
    _, key = auditor_key(world)
    _, cookie = sign_in(world, key)
    page = world.request("GET", "/console/ledger", headers={"Cookie": f"recorder_console={cookie}"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    out = world.request(
        "POST",
        "/console/logout",
        data={"csrf": csrf.group(1)},
        headers={"Cookie": f"recorder_console={cookie}"},
    )
    assert out.status_code == 303
    assert ledger(world, cookie) == 303  # a copy of the cookie kept elsewhere is dead too


def test_idle_and_absolute_limits(world: World, clock: Clock) -> None:
    _, key = auditor_key(world)
    _, cookie = sign_in(world, key)
    for _ in range(16):  # active every 29 minutes: alive until the 8 hours are up
        clock.now += timedelta(minutes=29)
        assert ledger(world, cookie) == 200
    clock.now += timedelta(minutes=29)  # 8 h 3 min after sign-in
    assert ledger(world, cookie) == 303
    _, idle_cookie = sign_in(world, key)
    clock.now += timedelta(minutes=31)
    assert ledger(world, idle_cookie) == 303


def test_revoking_the_key_ends_its_sessions(world: World) -> None:
    key_id, key = auditor_key(world)
    _, cookie = sign_in(world, key)
    with world.container.sessions() as session:
        KeyRepository(session).revoke(key_id, datetime.now(UTC))
        session.commit()
    assert ledger(world, cookie) == 303


def test_the_cookie_is_secure_except_on_loopback(database_url: str, jwks: Jwks) -> None:
    cases = [
        ("https://recorder.example.org", True),
        ("http://recorder.example.org", True),  # plain http on a real host: the browser keeps it to https
        ("http://127.0.0.1:8080", False),
        ("http://localhost:8080", False),
    ]
    for base_url, secure in cases:
        w = world_at(database_url, jwks, base_url)
        try:
            set_cookie, _ = sign_in(w, auditor_key(w)[1])
            attributes = {a.strip().lower() for a in set_cookie.split(";")}
            assert ("secure" in attributes) is secure, set_cookie
            assert {"httponly", "samesite=strict", "path=/console"} <= attributes
        finally:
            w.close()

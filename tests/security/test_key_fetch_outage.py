"""When the signing keys cannot be fetched for a moment, a sender's token "cannot be verified right now": 503
(with Retry-After), which Event Grid and ACS retry, never a 401 that loses the event; keys already fetched
keep working; and a forged kid's refresh never makes a genuine token wait for the fetch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import pytest

from recorder.adapters.callback_auth import CallbackAuthError, CallbackVerifier
from recorder.config.compliance import DEFAULT_ENTRA_ROLES, EntraSettings
from recorder.config.security import EVENTGRID_APP_ID_PUBLIC_CLOUD, EventGridEntra, SecuritySettings
from tests.security.jwks import Jwks, jwks_server
from tests.security.world import AUDIENCE, ISSUER, incoming_call, make_world, now_iso, settings_for

ENTRA_ISSUER, ENTRA_AUDIENCE = "https://sts.windows.net/tenant-1/", "api://recorder"


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    with jwks_server() as server:
        yield server


def callback_event(event_id: str) -> list[dict[str, object]]:
    data = {"callConnectionId": "conn-x", "serverCallId": "s", "correlationId": "c"}
    kind = "Microsoft.Communication.PlayCompleted"
    return [{"id": event_id, "type": kind, "specversion": "1.0", "time": now_iso(), "data": data}]


def test_a_callback_during_a_key_outage_is_503_and_cached_keys_keep_working(
    database_url: str, jwks: Jwks
) -> None:
    world = make_world(database_url, jwks, jwks_refresh_seconds=0)  # every unknown kid may refetch
    try:
        assert world.callback("call-1", callback_event("warm-up")).status_code == 200  # keys fetched
        jwks.failing = True
        assert world.callback("call-1", callback_event("cached")).status_code == 200
        before = world.snapshot()
        rotated = jwks.token(ISSUER, AUDIENCE, kid="rotated-key")
        response = world.callback("call-1", callback_event("rotated"), token=rotated)
        assert (response.status_code, response.json()["error"]["code"]) == (503, "auth_unavailable")
        assert response.headers["retry-after"] == "5"
        assert world.snapshot() == before
    finally:
        world.close()


def test_event_grid_and_the_api_answer_503_when_entra_keys_are_unreachable(
    database_url: str, jwks: Jwks
) -> None:
    entra = EventGridEntra(ENTRA_AUDIENCE, (ENTRA_ISSUER,), jwks.url)
    api = EntraSettings(
        issuer=ENTRA_ISSUER, audience=ENTRA_AUDIENCE, jwks_url=jwks.url, roles=DEFAULT_ENTRA_ROLES
    )
    settings = replace(settings_for(database_url, jwks, SecuritySettings(eventgrid_entra=entra)), entra=api)
    jwks.failing = True
    world = make_world(database_url, jwks, settings=settings)
    try:
        token = jwks.token(ENTRA_ISSUER, ENTRA_AUDIENCE, appid=EVENTGRID_APP_ID_PUBLIC_CLOUD)
        delivery = world.eventgrid(incoming_call("e1"), headers={"Authorization": f"Bearer {token}"})
        assert (delivery.status_code, delivery.json()["error"]["code"]) == (503, "auth_unavailable")
        caller = jwks.token(ENTRA_ISSUER, ENTRA_AUDIENCE, roles=["Recorder.Auditor"])
        read = world.request("GET", "/api/consents", headers={"Authorization": f"Bearer {caller}"})
        assert (read.status_code, read.json()["error"]["code"]) == (503, "auth_unavailable")
    finally:
        world.close()


def test_a_forged_kid_does_not_make_genuine_tokens_wait_for_the_fetch(jwks: Jwks) -> None:
    with httpx.Client(timeout=10) as http:
        verifier = CallbackVerifier(jwks.url, ISSUER, AUDIENCE, min_refresh_interval=0, http=http)
        genuine = jwks.token(ISSUER, AUDIENCE)
        verifier.verify(f"Bearer {genuine}")  # the key is cached
        jwks.gate = threading.Event()  # the next fetch hangs until released
        forged = jwks.token(ISSUER, AUDIENCE, kid="forged")
        with ThreadPoolExecutor(2) as pool:
            stuck = pool.submit(verifier.verify, f"Bearer {forged}")
            deadline = time.monotonic() + 5
            while jwks.fetches < 2 and time.monotonic() < deadline:  # the forged kid's fetch is in flight
                time.sleep(0.01)
            assert jwks.fetches == 2
            meanwhile = pool.submit(verifier.verify, f"Bearer {genuine}")
            try:
                assert meanwhile.result(timeout=5)["aud"] == AUDIENCE  # answered while the fetch hangs
                assert not stuck.done()
            finally:
                jwks.gate.set()
            with pytest.raises(CallbackAuthError, match="unknown signing key"):
                stuck.result(timeout=10)

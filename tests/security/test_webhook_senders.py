"""Webhook senders, beyond a valid signature: an Entra ID token on Event Grid deliveries must be issued to
Event Grid itself (its documented app id, or a configured app role); a callback must be about the call in its
URL, its token must not claim a long life, and a token or event id delivered for one call is not taken for
another."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from recorder.config.security import (
    EVENTGRID_APP_ID_GOVERNMENT,
    EVENTGRID_APP_ID_PUBLIC_CLOUD,
    EventGridEntra,
    SecuritySettings,
)
from recorder.services.calls.consent_flow import IncomingCall
from tests.integration.compliance_world import A, B, NumberedAcs, record_call
from tests.security.jwks import Jwks
from tests.security.world import AUDIENCE, ISSUER, World, incoming_call, make_world, now_iso

ENTRA_ISSUER = "https://sts.windows.net/tenant-1/"
ENTRA_AUDIENCE = "api://recorder-eventgrid"


def entra_world(database_url: str, jwks: Jwks, **entra: Any) -> World:
    config = EventGridEntra(ENTRA_AUDIENCE, (ENTRA_ISSUER,), jwks.url, **entra)
    return make_world(database_url, jwks, security=SecuritySettings(eventgrid_entra=config))


def bearer(jwks: Jwks, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwks.token(ENTRA_ISSUER, ENTRA_AUDIENCE, **claims)}"}


def test_event_grid_tokens_must_be_issued_to_event_grid(database_url: str, jwks: Jwks) -> None:
    world = entra_world(database_url, jwks)
    try:
        before = world.snapshot()
        for claims in (
            {},
            {"appid": str(uuid.uuid4())},
            {"azp": "another-app"},
            {"roles": ["Recorder.Admin"]},
        ):
            response = world.eventgrid(incoming_call("a"), headers=bearer(jwks, **claims))
            assert response.status_code == 401, claims
        assert world.snapshot() == before
        v1 = world.eventgrid(incoming_call("v1"), headers=bearer(jwks, appid=EVENTGRID_APP_ID_PUBLIC_CLOUD))
        v2 = world.eventgrid(incoming_call("v2"), headers=bearer(jwks, azp=EVENTGRID_APP_ID_PUBLIC_CLOUD))
        assert (v1.status_code, v2.status_code) == (200, 200)
    finally:
        world.close()


def test_another_cloud_or_a_role_can_be_configured(database_url: str, jwks: Jwks) -> None:
    world = entra_world(
        database_url,
        jwks,
        app_ids=(EVENTGRID_APP_ID_GOVERNMENT,),
        role="AzureEventGridSecureWebhookSubscriber",
    )
    try:
        public = world.eventgrid(
            incoming_call("p"), headers=bearer(jwks, appid=EVENTGRID_APP_ID_PUBLIC_CLOUD)
        )
        assert public.status_code == 401
        gov = world.eventgrid(incoming_call("g"), headers=bearer(jwks, appid=EVENTGRID_APP_ID_GOVERNMENT))
        role = world.eventgrid(
            incoming_call("r"), headers=bearer(jwks, roles=["AzureEventGridSecureWebhookSubscriber"])
        )
        assert (gov.status_code, role.status_code) == (200, 200)
    finally:
        world.close()


@pytest.fixture
def world(database_url: str, jwks: Jwks) -> Iterator[World]:
    w = make_world(database_url, jwks, acs=NumberedAcs())
    record_call(w.container, 1, (A, B), "one", recorded=True)  # conn-1, recording
    record_call(w.container, 2, (A, B), "one", recorded=True)  # conn-2, recording
    yield w
    w.close()


def call_id_of(world: World, connection_id: str) -> str:
    with world.container.unit_of_work() as uow:
        call_id = uow.calls.id_for_connection(connection_id)
    assert call_id is not None
    return call_id


def participants_updated(connection_id: str, event_id: str, people: list[str]) -> dict[str, Any]:
    return {
        "id": event_id,
        "source": f"calling/callConnections/{connection_id}",
        "type": "Microsoft.Communication.ParticipantsUpdated",
        "specversion": "1.0",
        "time": now_iso(),
        "data": {
            "callConnectionId": connection_id,
            "serverCallId": "s",
            "correlationId": "c",
            "sequenceNumber": 99,
            "participants": [{"identifier": {"rawId": p}} for p in people],
        },
    }


def test_a_callback_for_call_a_sent_to_call_bs_url_changes_nothing(world: World) -> None:
    """The red team's replay: A's authentic ParticipantsUpdated (a newcomer) re-sent to B's URL with a new id
    paused B's recording and re-prompted B's participants."""
    b = call_id_of(world, "conn-2")
    newcomer = [A, B, "4:+14255550199"]
    before = world.snapshot()
    moved = world.callback(b, [participants_updated("conn-1", "moved-1", newcomer)])
    assert (moved.status_code, moved.json()["error"]["code"]) == (403, "call_mismatch")
    assert world.snapshot() == before
    own = world.callback(b, [participants_updated("conn-2", "own-1", newcomer)])
    assert own.status_code == 200  # the same event, about B, at B's URL, is applied


def test_a_token_or_event_id_seen_for_one_call_is_not_taken_for_another(world: World) -> None:
    a, b = call_id_of(world, "conn-1"), call_id_of(world, "conn-2")
    token = world.jwks.token(ISSUER, AUDIENCE, jti=str(uuid.uuid4()))
    first = world.callback(a, [participants_updated("conn-1", "e-1", [A, B])], token=token)
    assert first.status_code == 200
    retry = world.callback(a, [participants_updated("conn-1", "e-1", [A, B])], token=token)
    assert retry.status_code == 200  # a retry of the same delivery is fine (and a duplicate)
    reused = world.callback(a, [participants_updated("conn-1", "e-2", [A, B])], token=token)
    assert (reused.status_code, reused.json()["error"]["code"]) == (403, "replayed")
    fresh = world.jwks.token(ISSUER, AUDIENCE)
    same_id = world.callback(b, [participants_updated("conn-2", "e-1", [A, B])], token=fresh)
    assert (same_id.status_code, same_id.json()["error"]["code"]) == (403, "replayed")


def test_a_callback_token_claiming_a_long_life_is_refused(world: World) -> None:
    a = call_id_of(world, "conn-1")
    now = int(datetime.now(UTC).timestamp())
    for claims in ({"iat": now, "exp": now + 3600}, {"iat": None, "exp": now + 3600}):
        token = world.jwks.token(ISSUER, AUDIENCE, **claims)
        response = world.callback(a, [participants_updated("conn-1", "long-1", [A, B])], token=token)
        assert response.status_code == 401, claims
    normal = world.jwks.token(ISSUER, AUDIENCE)  # 5 minutes, as ACS issues them
    assert (
        world.callback(a, [participants_updated("conn-1", "ok-1", [A, B])], token=normal).status_code == 200
    )


def test_a_call_still_being_answered_takes_its_first_callbacks(world: World) -> None:
    """Before the answer returns, the call has no connection id yet: CallConnected must still get through."""
    _, call_id = world.container.calls.incoming_call(IncomingCall("eg-9", "server-9", "ctx", A, None, None))
    assert call_id is not None
    connected = {
        "id": "cc-9",
        "source": "calling/callConnections/conn-9",
        "type": "Microsoft.Communication.CallConnected",
        "specversion": "1.0",
        "time": now_iso(),
        "data": {"callConnectionId": "conn-9", "serverCallId": "server-9", "correlationId": "c"},
    }
    assert world.callback(call_id, [connected]).status_code == 200

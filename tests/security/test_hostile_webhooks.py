"""Hostile deliveries to both webhooks, in-process on a real database: every refusal is a 4xx with a code,
changes no row, and never a 500; a batch with one bad event changes nothing."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client import REGISTRY

from recorder.config.security import EVENTGRID_APP_ID_PUBLIC_CLOUD, EventGridEntra, SecuritySettings
from recorder.web.responses import MAX_BODY_BYTES
from tests.security.jwks import Jwks
from tests.security.world import AUDIENCE, ISSUER, World, incoming_call, make_world, now_iso

ENTRA_ISSUER = "https://sts.windows.net/tenant-1/"
ENTRA_AUDIENCE = "api://recorder-eventgrid"
SECRET = {"secret": "eventgrid-secret-0123456789abcdef"}


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


NESTED = _nested(40)


def assert_refused(world: World, response: object, status: int, code: str, before: dict[str, int]) -> None:
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert world.rows() == before


def test_body_over_one_mebibyte_is_413_declared_or_streamed(world: World) -> None:
    before = world.rows()
    big = b"[" + b" " * MAX_BODY_BYTES + b"]"
    declared = world.request("POST", "/webhooks/eventgrid", params=SECRET, content=big)
    assert_refused(world, declared, 413, "body_too_large", before)

    async def chunks() -> object:
        for _ in range(20):
            yield b" " * 65536

    streamed = world.request("POST", "/webhooks/eventgrid", params=SECRET, content=chunks())
    assert_refused(world, streamed, 413, "body_too_large", before)
    callback = world.callback("call-1", None, content=big)
    assert_refused(world, callback, 413, "body_too_large", before)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 200 + b"]" * 200, "too_deep"),
        (json.dumps([{"a": NESTED}]).encode(), "too_deep"),
        (b"[" * 100000 + b"]" * 100000, "too_deep"),
        (json.dumps([incoming_call(f"e{i}") for i in range(101)]).encode(), "batch_too_large"),
        (b"[]", "empty_batch"),
        (b"{not json", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"[1]", "invalid_event"),
        (json.dumps([{"id": "x", "eventType": "T"}]).encode(), "invalid_event"),
    ],
)
def test_malformed_deliveries_are_400_with_a_code(world: World, body: bytes, code: str) -> None:
    before = world.rows()
    response = world.request("POST", "/webhooks/eventgrid", params=SECRET, content=body)
    assert_refused(world, response, 400, code, before)
    assert_refused(world, world.callback("call-1", None, content=body), 400, code, before)


def test_a_batch_with_one_bad_event_changes_nothing(world: World) -> None:
    good = [incoming_call("good-1"), incoming_call("good-2")]
    bad = incoming_call("bad")
    del bad["data"]["from"]
    before = world.rows()
    assert_refused(world, world.eventgrid([*good, bad]), 400, "missing_field", before)
    stale = incoming_call("stale", time=now_iso(minutes=-30))
    assert_refused(world, world.eventgrid([*good, stale]), 400, "stale_event", before)
    assert world.acs.requests == []
    accepted = world.eventgrid(good)  # the same good events alone are applied
    assert accepted.status_code == 200
    assert world.rows()["calls"] == before["calls"] + 2


def test_unknown_event_types_are_acknowledged_counted_and_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    unknown = [
        {"id": f"u{i}", "eventType": f"Contoso.Unknown{i}", "subject": "", "eventTime": now_iso(), "data": {}}
        for i in range(3)
    ]
    before = world.rows()
    counted = REGISTRY.get_sample_value(
        "recorder_events_received_total", {"source": "eventgrid", "type": "other", "outcome": "ignored"}
    )
    with caplog.at_level(logging.INFO, logger="recorder.webhooks"):
        response = world.eventgrid([*unknown, incoming_call("known")])
    assert response.status_code == 200
    assert response.json() == {"accepted": 4, "ignored": 3}
    assert sum(1 for r in caplog.records if r.getMessage() == "webhook.ignored") == 3
    after = REGISTRY.get_sample_value(
        "recorder_events_received_total", {"source": "eventgrid", "type": "other", "outcome": "ignored"}
    )
    assert (after or 0) - (counted or 0) == 3  # "Contoso.Unknown0" is not a bounded label: counted as other
    assert world.rows()["calls"] == before["calls"] + 1


def test_event_time_window(world: World) -> None:
    before = world.rows()
    cases = [
        (incoming_call("old-call", time=now_iso(minutes=-6)), "stale_event"),
        (incoming_call("future-call", time=now_iso(minutes=10)), "future_event"),
        (incoming_call("bad-time", time="yesterday"), "invalid_time"),
        (incoming_call("odd-time", time="2026-13-45T99:00:00Z"), "invalid_time"),
    ]
    for event, code in cases:
        assert_refused(world, world.eventgrid(event), 400, code, before)
    other = {"id": "f1", "eventType": "Contoso.Other", "data": {}, "eventTime": now_iso(hours=-23)}
    assert world.eventgrid(other).status_code == 200  # Event Grid may retry for up to 24 h
    other = {**other, "id": "f2", "eventTime": now_iso(hours=-25)}
    assert_refused(world, world.eventgrid(other), 400, "stale_event", before)
    assert world.eventgrid(incoming_call("skewed", time=now_iso(minutes=2))).status_code == 200


def test_callbacks_outside_the_window_are_refused(world: World) -> None:
    event = {
        "id": "cb-1",
        "source": "calling/callConnections/c1",
        "type": "Microsoft.Communication.CallConnected",
        "specversion": "1.0",
        "time": now_iso(hours=-25),
        "data": {"callConnectionId": "c1", "serverCallId": "s", "correlationId": "x"},
    }
    before = world.rows()
    assert_refused(world, world.callback("c1", [event]), 400, "stale_event", before)


def test_wrong_secret_and_forged_tokens_are_401_and_store_nothing(world: World, jwks: Jwks) -> None:
    before = world.rows()
    assert_refused(world, world.eventgrid(incoming_call("x"), secret="wrong"), 401, "unauthorized", before)
    response = world.request("POST", "/webhooks/eventgrid", json=incoming_call("y"))
    assert_refused(world, response, 401, "unauthorized", before)
    wrong_audience = jwks.token(ISSUER, "someone-else")
    event = [{"id": "c", "type": "Microsoft.Communication.CallConnected", "specversion": "1.0", "data": {}}]
    assert_refused(world, world.callback("c1", event, token=wrong_audience), 401, "unauthorized", before)
    assert_refused(world, world.callback("c1", event, token="not-a-jwt"), 401, "unauthorized", before)
    assert (
        world.callback("c1", event, token=jwks.token(ISSUER, AUDIENCE)).status_code == 400
    )  # auth ok, body bad


def test_event_grid_entra_token_is_required_in_addition_to_the_secret(database_url: str, jwks: Jwks) -> None:
    security = SecuritySettings(eventgrid_entra=EventGridEntra(ENTRA_AUDIENCE, (ENTRA_ISSUER,), jwks.url))
    world = make_world(database_url, jwks, security=security)
    try:
        before = world.rows()
        from_event_grid = {"appid": EVENTGRID_APP_ID_PUBLIC_CLOUD}
        good = {"Authorization": f"Bearer {jwks.token(ENTRA_ISSUER, ENTRA_AUDIENCE, **from_event_grid)}"}
        assert_refused(world, world.eventgrid(incoming_call("a")), 401, "unauthorized", before)
        wrong = {"Authorization": f"Bearer {jwks.token(ENTRA_ISSUER, 'api://other-app')}"}
        assert_refused(world, world.eventgrid(incoming_call("a"), headers=wrong), 401, "unauthorized", before)
        expired = {"Authorization": f"Bearer {jwks.token(ENTRA_ISSUER, ENTRA_AUDIENCE, exp=1)}"}
        assert_refused(
            world, world.eventgrid(incoming_call("a"), headers=expired), 401, "unauthorized", before
        )
        no_secret = world.eventgrid(incoming_call("a"), secret="", headers=good)
        assert_refused(world, no_secret, 401, "unauthorized", before)
        assert world.eventgrid(incoming_call("a"), headers=good).status_code == 200
        assert world.rows()["calls"] == before["calls"] + 1
    finally:
        world.close()

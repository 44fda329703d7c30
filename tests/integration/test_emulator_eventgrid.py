"""The Event Grid side of the emulator: subscription validation, at-least-once delivery with backoff and
drops, Entra-style tokens, IncomingCall for every call to an identity of the resource, and the recording
files' RecordingFileStatusUpdated (late, chunked, exported twice, in the kinds the recording asked for)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from tests.integration.emulator_harness import (
    ACS_NUMBER,
    SPEECH,
    Harness,
    agent,
    connected,
    new_phone,
    phone,
    required,
    running_harness,
)
from tests.integration.emulator_helpers import Delivery

AUDIENCE = "api://recorder-eventgrid"


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with running_harness(eventgrid_token_audience=AUDIENCE) as running:
        yield running


def grid_events(harness: Harness, kind: str, server_call_id: str) -> list[tuple[Delivery, dict[str, Any]]]:
    return harness.receiver.events(
        lambda d, e: (
            d.path == "/eventgrid"
            and e.get("eventType") == f"Microsoft.Communication.{kind}"
            and server_call_id
            in (e["data"].get("serverCallId"), e.get("subject", "").split("/serverCallId/")[-1])
        )
    )


def test_every_delivery_is_validated_tokened_and_may_come_twice(harness: Harness) -> None:
    started = harness.start_call([{"raw_id": new_phone()}])
    harness.incoming_call(started["server_call_id"])
    assert len(harness.receiver.validations) == 1
    harness.receiver.wait_for(
        lambda d, e: e.get("data", {}).get("serverCallId") == started["server_call_id"], count=2
    )
    (first, event), (second, again) = grid_events(harness, "IncomingCall", started["server_call_id"])
    assert event["id"] == again["id"]  # at-least-once: the same event after its 200
    assert (first.headers["aeg-delivery-count"], second.headers["aeg-delivery-count"]) == ("0", "1")

    keys = harness.control.get("/emulator/entra/keys").json()
    issuer = harness.control.get("/emulator/eventgrid").json()["issuer"]
    token = first.headers["authorization"].removeprefix("Bearer ")
    key = jwt.PyJWKSet.from_dict(keys).keys[0].key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=issuer)
    assert claims["appid"] == claims["azp"] == "4962773b-9cdb-44cf-a8bf-237846a00ab7"


def test_a_webhook_that_fails_validation_gets_nothing() -> None:
    with running_harness() as harness:
        harness.receiver.answer_validation = False
        started = harness.start_call([{"raw_id": new_phone()}])
        time.sleep(0.5)
        assert not grid_events(harness, "IncomingCall", started["server_call_id"])
        (subscription,) = harness.control.get("/emulator/eventgrid").json()["subscriptions"]
        assert subscription["state"] == "failed"
        (attempt,) = harness.describe(started["server_call_id"])["callbacks"]
        assert attempt["error"].startswith("subscription not validated")


@pytest.mark.parametrize(("status", "delivered"), [(503, 1), (400, 0), (401, 0), (403, 0), (413, 0)])
def test_event_grid_retries_with_backoff_except_what_it_drops(status: int, delivered: int) -> None:
    with running_harness(eventgrid_token_audience=None) as harness:
        harness.control.put(
            "/emulator/behaviour", json={"eventgrid_first_retry_s": 0.2, "eventgrid_duplicates": 0}
        )
        harness.receiver.failures["/eventgrid"] = 1
        harness.receiver.failure_status = status
        started = harness.start_call([{"raw_id": new_phone()}])
        time.sleep(1.0)
        attempts = [a["status"] for a in harness.describe(started["server_call_id"])["callbacks"]]
        assert attempts == [status, 200][: 1 + (status == 503)]
        assert len(grid_events(harness, "IncomingCall", started["server_call_id"])) == delivered
        if status == 503:
            times = [a["sent_at_s"] for a in harness.describe(started["server_call_id"])["callbacks"]]
            assert times[1] - times[0] >= 0.2


def test_calls_to_the_resources_own_identities_ring_the_application(harness: Harness) -> None:
    caller, helper = new_phone(), agent("agent")
    started = harness.start_call([{"raw_id": caller}, {"raw_id": helper, "join_at_ms": 1500}])
    (leg,) = started["legs"]
    ring = harness.incoming_call(leg)
    assert (ring["data"]["to"]["rawId"], ring["data"]["from"]["rawId"]) == (helper, caller)

    main = harness.incoming_call(started["server_call_id"])["data"]["incomingCallContext"]
    call = connected(
        harness.client.answer_call(main, harness.callback_url(), cognitive_services_endpoint=SPEECH)
    )
    # the application answers the agent's call as if it were a customer's: the agent never joins
    harness.client.answer_call(ring["data"]["incomingCallContext"], harness.callback_url("leg"))
    time.sleep(1.8)
    described = harness.describe(call.server_call_id)
    assert described["legs_answered_by_application"] == [helper]
    assert helper not in [p["raw_id"] for p in described["participants"] if p["present"]]

    dialled = connected(
        harness.client.create_call(
            phone(ACS_NUMBER), harness.callback_url(), source_caller_id_number=phone(ACS_NUMBER)
        )
    )
    (own,) = [leg for leg in harness.describe(dialled.server_call_id)["legs"]]
    assert harness.incoming_call(own)["data"]["to"]["rawId"] == ACS_NUMBER


def record_then_hang_up(harness: Harness, **options: Any) -> tuple[str, str, float]:
    call = harness.answer([{"raw_id": new_phone()}], behaviour=options.pop("behaviour", {}))
    recording_id = required(
        harness.client.start_recording(call_connection_id=call.call_connection_id, **options).recording_id
    )
    time.sleep(0.3)
    harness.client.get_call_connection(call.call_connection_id).hang_up(is_for_everyone=True)
    return call.server_call_id, recording_id, time.monotonic()


def file_events(harness: Harness, server_call_id: str, count: int) -> list[dict[str, Any]]:
    def announced(d: Delivery, e: dict[str, Any]) -> bool:
        kind = e.get("eventType", "")
        return (
            kind.endswith("RecordingFileStatusUpdated") and f"/serverCallId/{server_call_id}/" in e["subject"]
        )

    harness.receiver.wait_for(announced, count=count, timeout=8)
    time.sleep(0.3)  # and nothing more comes
    unique: dict[str, dict[str, Any]] = {}  # Event Grid may deliver each one twice (same id)
    for _, event in harness.receiver.events(announced):
        unique.setdefault(event["id"], event)
    return list(unique.values())


def test_recording_files_come_late_twice_and_in_acs_default_kinds(harness: Harness) -> None:
    server_call_id, recording_id, ended = record_then_hang_up(harness)
    events = file_events(harness, server_call_id, count=4)
    assert time.monotonic() - ended >= 0.9  # recording_file_delay_ms = 1000
    first, duplicate = events
    assert first["id"] != duplicate["id"]  # a second export, not an Event Grid redelivery
    data = first["data"]
    assert first["subject"].endswith(f"/serverCallId/{server_call_id}/recordingId/{recording_id}")
    assert (data["recordingContentType"], data["recordingChannelType"], data["recordingFormatType"]) == (
        "AudioVideo",
        "Mixed",
        "Mp4",
    )
    (chunk,) = data["recordingStorageInfo"]["recordingChunks"]
    assert chunk["contentLocation"].endswith("/content/video")
    assert "recordingId" not in data and "storageType" not in data


def test_recording_files_follow_the_requested_kinds_and_chunk_long_recordings(harness: Harness) -> None:
    server_call_id, _, _ = record_then_hang_up(
        harness,
        recording_content_type="audio",
        recording_channel_type="unmixed",
        recording_format_type="mp3",
        behaviour={"recording_chunk_ms": 100, "recording_file_duplicates": 0},
    )
    (event,) = file_events(harness, server_call_id, count=2)
    data = event["data"]
    assert (data["recordingContentType"], data["recordingChannelType"], data["recordingFormatType"]) == (
        "Audio",
        "Unmixed",
        "Mp3",
    )
    chunks = data["recordingStorageInfo"]["recordingChunks"]
    assert len(chunks) >= 3
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert {c["endReason"] for c in chunks[:-1]} == {"ChunkMaximumSizeExceeded"}
    assert chunks[-1]["endReason"] == "SessionEnded"
    assert all(c["contentLocation"].endswith("/content/audio") for c in chunks)

"""The reads a reconciliation loop makes, through the real SDK: call properties, participants (paged, own
identities included, holds shown) and recording state, all answered from what the emulator knows now."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator

import pytest
from azure.communication.callautomation import CallAutomationClient, TextSource
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError

from tests.integration.emulator_harness import (
    ACS_NUMBER,
    SPEECH,
    Harness,
    connected,
    new_phone,
    phone,
    raw_ids,
    required,
    running_harness,
)


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with running_harness() as running:
        yield running


def app_identity(harness: Harness) -> str:
    identity: str = harness.control.get("/emulator/self").json()["application"]
    return identity


def list_requests(harness: Harness, connection_id: str) -> int:
    requests = harness.control.get("/emulator/requests").json()
    return sum(1 for r in requests if r["operation"] == "list_participants" and connection_id in r["path"])


def test_answer_names_the_application_and_the_number_it_answered_for(harness: Harness) -> None:
    caller = new_phone()
    call = harness.answer([{"raw_id": caller}])
    properties = call.properties
    assert properties.answered_by is not None
    assert properties.answered_by.raw_id == app_identity(harness)
    assert app_identity(harness).startswith("8:acs:")
    assert properties.answered_for is not None
    assert properties.answered_for.raw_id == ACS_NUMBER
    assert properties.source is not None and properties.source.raw_id == caller
    assert [target.raw_id for target in properties.targets or []] == [ACS_NUMBER]

    read = harness.client.get_call_connection(call.call_connection_id).get_call_properties()
    assert read.call_connection_state == "connected"
    assert read.answered_by is not None and read.answered_by.raw_id == app_identity(harness)


def test_create_and_connect_name_the_application(harness: Harness) -> None:
    target = new_phone()
    created = connected(
        harness.client.create_call(
            phone(target),
            harness.callback_url(),
            source_caller_id_number=phone(ACS_NUMBER),
            cognitive_services_endpoint=SPEECH,
        )
    )
    assert created.properties.source is not None
    assert created.properties.source.raw_id == app_identity(harness)
    assert created.properties.source_caller_id_number is not None
    assert created.properties.source_caller_id_number.raw_id == ACS_NUMBER
    assert created.properties.answered_by is not None
    assert created.properties.answered_by.raw_id == app_identity(harness)

    started = harness.start_call([{"raw_id": new_phone()}], deliver_incoming_call=False)
    joined = connected(
        harness.client.connect_call(
            server_call_id=started["server_call_id"], callback_url=harness.callback_url()
        )
    )
    assert joined.properties.answered_by is not None
    assert joined.properties.answered_by.raw_id == app_identity(harness)


def test_participants_are_paged_and_list_the_calls_own_identities(harness: Harness) -> None:
    caller, second, third = new_phone(), new_phone(), new_phone()
    call = harness.answer([{"raw_id": caller}, {"raw_id": second}, {"raw_id": third}])
    connection = harness.client.get_call_connection(call.call_connection_id)
    before = list_requests(harness, call.call_connection_id)

    participants = list(connection.list_participants())

    # callee number and application identity first (as ACS lists them), then everyone present
    assert raw_ids(participants) == [ACS_NUMBER, app_identity(harness), caller, second, third]
    assert [(p.is_muted, p.is_on_hold) for p in participants] == [(False, False)] * 5
    # five participants, two per page: the SDK followed nextLink twice
    assert list_requests(harness, call.call_connection_id) - before == 3
    assert harness.describe(call.server_call_id)["self_identities"] == [ACS_NUMBER, app_identity(harness)]


def test_reads_follow_joins_leaves_and_holds(harness: Harness) -> None:
    caller, late = new_phone(), new_phone()
    call = harness.answer(
        [{"raw_id": caller}, {"raw_id": late, "join_at_ms": 1000, "leave_at_ms": 4000}], play_ms=600
    )
    connection = harness.client.get_call_connection(call.call_connection_id)
    assert late not in raw_ids(connection.list_participants())
    deadline = time.monotonic() + 15
    while late not in raw_ids(connection.list_participants()):
        assert time.monotonic() < deadline, "the late participant never joined"
        time.sleep(0.05)

    connection.play_media(TextSource(text="Please hold."), [phone(late)], operation_context="hold-late")
    harness.receiver.callback(call.call_connection_id, "PlayStarted")
    held = {p.identifier.raw_id: p.is_on_hold for p in connection.list_participants() if p.identifier}
    assert held[late] is True and held[caller] is False
    harness.receiver.callback(call.call_connection_id, "PlayCompleted")
    time.sleep(0.1)
    assert not any(p.is_on_hold for p in connection.list_participants())

    deadline = time.monotonic() + 15  # the late one leaves 4 s into the call, however slow the machine
    while late in raw_ids(connection.list_participants()):
        assert time.monotonic() < deadline, "the late participant never left"
        time.sleep(0.1)


def test_recording_properties_answer_what_acs_is_doing(harness: Harness) -> None:
    call = harness.answer([{"raw_id": new_phone()}])
    recording_id = required(
        harness.client.start_recording(
            call_connection_id=call.call_connection_id,
            recording_state_callback_url=harness.callback_url("recording"),
        ).recording_id
    )
    assert harness.client.get_recording_properties(recording_id).recording_state == "active"
    harness.client.pause_recording(recording_id)
    assert harness.client.get_recording_properties(recording_id).recording_state == "inactive"

    # ACS resumes on its own (another application, say): the read shows it
    changed = harness.act(call.server_call_id, action="recording_state", state="active")
    assert changed.status_code == 200, changed.text
    assert harness.client.get_recording_properties(recording_id).recording_state == "active"

    harness.client.stop_recording(recording_id)
    with pytest.raises(ResourceNotFoundError):
        harness.client.get_recording_properties(recording_id)


def test_reads_need_a_valid_signature(harness: Harness) -> None:
    call = harness.answer([{"raw_id": new_phone()}])
    path = f"/calling/callConnections/{call.call_connection_id}/participants?api-version=2026-03-12"
    assert harness.control.get(path).status_code == 401
    wrong = CallAutomationClient(
        harness.emulator.url, AzureKeyCredential(base64.b64encode(os.urandom(32)).decode())
    )
    with wrong:
        with pytest.raises(ClientAuthenticationError):
            list(wrong.get_call_connection(call.call_connection_id).list_participants())
        with pytest.raises(ClientAuthenticationError):
            wrong.get_recording_properties("any-recording")

    harness.client.get_call_connection(call.call_connection_id).hang_up(is_for_everyone=True)
    with pytest.raises(ResourceNotFoundError):
        harness.client.get_call_connection(call.call_connection_id).get_call_properties()

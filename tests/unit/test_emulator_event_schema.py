"""The emulator's events against what real ACS sent (tests/data/acs-recorded-events) and, for event types no
recording has, against the SDK 1.6.0 models and the documented Event Grid schemas.

For every event type the emulator emits: it may not emit a field or shape real ACS never sent (every field
path of its events is in the recorded or documented set), and it carries every field the recorded ones of the
same API version carry (every recorded payload of version 2026-03-12 has no field the emulator lacks).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.communication.callautomation._generated.models import _models as sdk_models

from recorder.emulator import events, file_events, media_queue
from recorder.emulator.recording_files import RecordingFile
from recorder.emulator.scenario import CallScenario, ParticipantScript
from recorder.emulator.state import Call

RECORDED = Path(__file__).resolve().parents[1] / "data" / "acs-recorded-events"
EMULATOR = Path(events.__file__).resolve().parent
CALLER, AGENT = (
    "4:+14255550101",
    "8:acs:6d889502-3d7a-41a8-befa-d21fd80e8767_00000031-44bb-d6e6-23e1-6f8ded7cfe23",
)
# Envelope of an Event Grid schema event (Event Grid reference, articles/event-grid/event-schema.md and
# articles/event-grid/communication-services-voice-video-events.md).
EVENTGRID_ENVELOPE = {
    "id",
    "topic",
    "subject",
    "data",
    "eventType",
    "eventTime",
    "dataVersion",
    "metadataVersion",
}
# RecordingFileStatusUpdated data (communication-services-voice-video-events.md; BYOS quickstart for
# storageType, recordingId; @azure/eventgrid-systemevents AcsRecordingFileStatusUpdatedEventData: kinds).
RECORDING_FILE_DATA = {
    "recordingStorageInfo",
    "recordingStorageInfo.recordingChunks",
    *(
        f"recordingStorageInfo.recordingChunks[].{name}"
        for name in (
            "documentId",
            "index",
            "endReason",
            "contentLocation",
            "metadataLocation",
            "deleteLocation",
        )
    ),
    "recordingStartTime",
    "recordingDurationMs",
    "recordingContentType",
    "recordingChannelType",
    "recordingFormatType",
    "sessionEndReason",
    "storageType",
    "recordingId",
}


def paths(value: Any, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            found |= {path} | paths(item, path)
    elif isinstance(value, list):
        for item in value:
            found |= paths(item, prefix + "[]")
    return found


def recorded() -> dict[str, list[dict[str, Any]]]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(RECORDED.glob("*.event.json")):
        for name, payload in json.loads(path.read_text()).items():
            by_type.setdefault(name, []).extend(payload if isinstance(payload, list) else [payload])
    return by_type


RECORDINGS = recorded()


def current(name: str) -> list[dict[str, Any]]:
    """Recorded payloads of ``name`` at the emulator's API version (the shapes it must match)."""
    return [p for p in RECORDINGS.get(name, []) if p.get("data", {}).get("version") == events.API_VERSION]


def sdk_keys(name: str) -> set[str]:
    model = getattr(sdk_models, name)
    return {item["key"] for item in model._attribute_map.values()}


IDENTIFIER = {p.split(".", 1)[1] for e in RECORDINGS["IncomingCall"] for p in paths(e) if p.startswith("to.")}
COMMON = set.intersection(*(paths(p) for name in RECORDINGS if name != "IncomingCall" for p in current(name)))
RESULT = {"data.resultInformation." + key for key in ("code", "subCode", "message")}
NESTED = {  # SDK models of nested fields the emulator fills
    "resultInformation": RESULT,
    "dtmfResult": {"data.dtmfResult.tones"},
    "participant": {f"data.participant.{p}" for p in IDENTIFIER},
}


def allowed(name: str) -> set[str]:
    """What ACS sends for ``name``: recorded (at the emulator's version when recorded there), else the
    SDK model's fields on the envelope every recorded callback of that version has."""
    reference = current(name) or RECORDINGS.get(name, [])
    found = set().union(*(paths(p) for p in reference)) if reference else set(COMMON) | RESULT
    for key in sdk_keys(name):
        found |= {f"data.{key}"} | NESTED.get(key, set())
    for path in [p for p in found if p.endswith(".rawId")]:  # an identifier may be of any recorded kind
        found |= {f"{path.removesuffix('.rawId')}.{part}" for part in IDENTIFIER}
    return found


def sample_call() -> Call:
    scenario = CallScenario(CALLER, "4:+18005550100", (ParticipantScript(CALLER), ParticipantScript(AGENT)))
    call = Call(scenario, "c2VydmVyLWNhbGw=", "1b541d21-bd0e-4695-a9ce-bf3290a807bd", "ctx", "inbound")
    call.call_connection_id, call.app_identity = "0b004880-e406-40bf-8384-a4042a72fecd", AGENT
    for participant in call.participants.values():
        participant.present = True
    call.participants[AGENT].on_hold = True
    return call


def callback_samples() -> dict[str, list[dict[str, Any]]]:
    """Every callback the emulator sends, built by its own builders with the fields its code passes."""
    call = sample_call()
    started = datetime.now(UTC)
    Variants = list[tuple[dict[str, Any], dict[str, Any]]]
    sources: dict[str, Variants] = {
        "CallConnected": [({}, events.CONNECTED)],
        "CallDisconnected": [({}, events.ENDED_BY_API), ({}, events.ENDED_BY_PARTICIPANT)],
        "ParticipantsUpdated": [
            (events.participants_fields(call.participant_models(), 4), events.CONNECTED),
            (events.participants_fields(call.participant_models(), None), events.CONNECTED),
        ],
        "PlayStarted": [({}, events.ACTION_OK)],
        "PlayCompleted": [({}, events.ACTION_OK)],
        "PlayFailed": [(events.failed_source_fields(0), events.INVALID_FILE), ({}, events.TARGET_LEFT)],
        "PlayCanceled": [({}, events.CANCELED)],
        "RecognizeCompleted": [(events.recognize_completed_fields(("one",)), events.MAX_DIGITS)],
        "RecognizeFailed": [
            ({}, events.SILENCE_TIMEOUT),
            (events.failed_source_fields(0), events.INVALID_FILE),
        ],
        "RecognizeCanceled": [({}, events.CANCELED)],
        "ContinuousDtmfRecognitionToneReceived": [(events.tone_fields("nine", 1), events.ACTION_OK)],
        "ContinuousDtmfRecognitionToneFailed": [({}, events.TONE_FAILED)],
        "ContinuousDtmfRecognitionStopped": [({}, events.ACTION_OK)],
        "RecordingStateChanged": [
            (events.recording_state_fields("rec", "active", started), events.CONNECTED)
        ],
        "StartRecordingFailed": [({"recordingId": "rec"}, events.NOT_CONNECTED)],
        "RemoveParticipantSucceeded": [
            ({"participant": call.participant_models()[0]["identifier"]}, events.ACTION_OK)
        ],
    }
    samples: dict[str, list[dict[str, Any]]] = {}
    for name, variants in sources.items():
        contexts = (
            [None]
            if name in ("ParticipantsUpdated", "RecordingStateChanged", "CallDisconnected")
            else [None, "ctx"]
        )
        samples[name] = [
            events.cloud_event(name, call, fields, result=result, operation_context=context)
            for fields, result in variants
            for context in contexts
        ]
    return samples


SAMPLES = callback_samples()


def emitted_names() -> set[str]:
    """The callback names the emulator's code emits (string literals in emit calls and the media maps)."""
    names: set[str] = set()
    for source in EMULATOR.glob("*.py"):
        text = source.read_text()
        names |= set(re.findall(r'emit\(\s*call,\s*"(\w+)"', text))
        names |= set(re.findall(r'_emit\(\s*call,\s*operation,\s*"(\w+)"', text))
    return names | set(media_queue.FAILED.values()) | set(media_queue.CANCELED.values())


def test_every_recorded_payload_is_here() -> None:
    assert len(list(RECORDED.glob("*.event.json"))) == 63 and (RECORDED / "README.md").exists()


def test_every_callback_the_emulator_emits_has_a_sample_here() -> None:
    assert emitted_names() <= set(SAMPLES)
    assert emitted_names() >= {"ParticipantsUpdated", "RecognizeCompleted", "RecordingStateChanged"}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_emulator_sends_no_field_acs_never_sent(name: str) -> None:
    invented = set().union(*(paths(sample) for sample in SAMPLES[name])) - allowed(name)
    assert not invented, f"{name}: {sorted(invented)}"


@pytest.mark.parametrize("name", sorted(n for n in SAMPLES if current(n)))
def test_the_emulator_carries_every_field_acs_sends(name: str) -> None:
    emulated = set().union(*(paths(sample) for sample in SAMPLES[name]))
    for payload in current(name):
        missing = paths(payload) - emulated
        assert not missing, f"{name} {payload['id']}: {sorted(missing)}"


def test_incoming_call_matches_the_recordings() -> None:
    event = events.incoming_call_event(sample_call())
    assert set(event) == EVENTGRID_ENVELOPE
    recorded_data = [paths(p) for p in RECORDINGS["IncomingCall"]]
    emulated = paths(event["data"]) | paths(events.incoming_call_event(swapped_call())["data"])
    assert emulated <= set().union(*recorded_data)
    assert set.intersection(*recorded_data) <= emulated


def swapped_call() -> Call:
    call = sample_call()
    call.scenario = CallScenario(AGENT, CALLER, call.scenario.participants)
    return call


@pytest.mark.parametrize("storage_type", [None, "AzureBlob"])
def test_recording_file_events_follow_the_documented_schema(storage_type: str | None) -> None:
    file = RecordingFile("0-eus-d12-801b3f3fc462fe8a01e6810cbff729b8", "c2VydmVyLWNhbGw=", "eyJQbGF0", 32_044)
    event = file_events.file_event([file], "1b541d21", datetime.now(UTC), storage_type)
    assert set(event) == EVENTGRID_ENVELOPE
    assert paths(event["data"]) <= RECORDING_FILE_DATA
    assert ("storageType" in event["data"]) == (storage_type is not None)
    chunk = event["data"]["recordingStorageInfo"]["recordingChunks"][0]
    assert chunk["contentLocation"].startswith(
        "https://us-storage.asm.skype.com/v1/objects/"
    )  # ACS, even BYOS

"""The webhook parsers against payloads real ACS sent during the Azure SDK's live tests, used as they are."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.domain import events as ev
from recorder.web.webhooks.parsing import (
    CALLBACKS,
    BadEvent,
    Callback,
    CloudEvent,
    EventGridEvent,
    callback_events,
    envelopes,
    load_json,
    raw_id,
)

RECORDED = Path(__file__).resolve().parents[1] / "data" / "acs-recorded-events"
FILES = sorted(RECORDED.glob("*.event.json"))
NOW = datetime(2026, 11, 28, tzinfo=UTC)
CODES = {
    "malformed_json",
    "too_deep",
    "empty_batch",
    "batch_too_large",
    "invalid_event",
    "missing_field",
    "invalid_field",
}
TOPIC = "/subscriptions/x/resourceGroups/y/providers/Microsoft.Communication/communicationServices/z"


def cloud_events(path: Path) -> list[dict[str, Any]]:
    recorded = json.loads(path.read_text())
    found = []
    for name, payload in recorded.items():
        if name == "IncomingCall":
            continue
        found.extend(payload if isinstance(payload, list) else [payload])
    return found


def test_the_recorded_events_are_there() -> None:
    assert len(FILES) == 63


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_recorded_callback_parses(path: Path) -> None:
    for payload in cloud_events(path):
        (parsed,) = callback_events(load_json(json.dumps([payload]).encode()), NOW, 10)
        assert parsed.id == payload["id"]
        assert parsed.call_connection_id == payload["data"]["callConnectionId"]
        assert parsed.type == payload["type"].removeprefix("Microsoft.Communication.")
        if parsed.type == "ParticipantsUpdated":
            assert isinstance(parsed.event, ev.ParticipantsUpdated)
            expected = tuple(p["identifier"]["rawId"] for p in payload["data"]["participants"])
            assert parsed.event.participants == expected
            assert parsed.event.sequence_number == payload["data"]["sequenceNumber"]
        elif parsed.type == "RecordingStateChanged":
            assert isinstance(parsed.event, ev.RecordingStateChanged)
            assert parsed.event.recording_id == payload["data"]["recordingId"]
            assert parsed.event.active == (payload["data"]["state"] == "active")
        elif parsed.type == "CallConnected":
            assert parsed.event == ev.CallConnected(NOW, payload["data"]["callConnectionId"])
        elif parsed.type == "CallDisconnected":
            assert parsed.event == ev.CallDisconnected(NOW)
        elif parsed.type.startswith("Play") or parsed.type.startswith("Transcription"):
            assert parsed.event is None  # acknowledged, not acted on


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_recorded_incoming_call_parses_in_an_event_grid_envelope(path: Path) -> None:
    recorded = json.loads(path.read_text())["IncomingCall"]
    delivery = [
        {
            "id": f"eg-{i}",
            "topic": TOPIC,
            "subject": "/caller/x/recipient/y",
            "eventType": "Microsoft.Communication.IncomingCall",
            "data": data,
            "dataVersion": "1.0",
            "eventTime": datetime.now(UTC).isoformat(),
        }
        for i, data in enumerate(recorded if isinstance(recorded, list) else [recorded])
    ]
    parsed = envelopes(load_json(json.dumps(delivery).encode()), 10)
    assert len(parsed) == len(delivery)
    for envelope in parsed:
        assert raw_id(envelope.data["from"], "from").startswith(("4:", "8:"))
        assert raw_id(envelope.data["to"], "to").startswith(("4:", "8:"))
        assert envelope.data["serverCallId"]


@settings(max_examples=300)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_arbitrary_json_is_either_parsed_or_refused_with_a_code(value: Any) -> None:
    body = json.dumps(value).encode()
    for parse in (lambda: callback_events(load_json(body), NOW, 10), lambda: envelopes(load_json(body), 10)):
        code = None
        try:
            parse()
        except BadEvent as exc:
            code = exc.code
        assert code is None or code in CODES


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_recorded_payload_validates_against_its_typed_model(path: Path) -> None:
    """The pydantic models of parsing.py against what ACS really sent: each callback's CloudEvents envelope,
    its data as the model of its type (the call connection alone for a type the flow does not act on), and
    each IncomingCall inside an Event Grid envelope."""
    for payload in cloud_events(path):
        envelope = CloudEvent.model_validate(payload)
        model = CALLBACKS.get(envelope.type.removeprefix("Microsoft.Communication."), Callback)
        assert model.model_validate(envelope.data).callConnectionId == payload["data"]["callConnectionId"]
    recorded = json.loads(path.read_text())["IncomingCall"]
    for data in recorded if isinstance(recorded, list) else [recorded]:
        grid = {
            "id": "eg-1",
            "eventType": "Microsoft.Communication.IncomingCall",
            "subject": "s",
            "data": data,
        }
        assert EventGridEvent.model_validate(grid).data is data


CALLBACK = {"id": "e1", "specversion": "1.0", "type": "Microsoft.Communication.RecordingStateChanged"}


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ({**CALLBACK, "data": {"state": "active", "recordingId": "r"}}, "missing_field"),
        (
            {**CALLBACK, "data": {"callConnectionId": "c", "state": "paused", "recordingId": "r"}},
            "invalid_field",
        ),
        ({**CALLBACK, "data": {"state": "paused"}}, "invalid_field"),  # the event's own fields come first
        ({**CALLBACK, "data": {"callConnectionId": "c", "state": 1, "recordingId": "r"}}, "missing_field"),
        (
            {
                **CALLBACK,
                "type": "Microsoft.Communication.ParticipantsUpdated",
                "data": {"callConnectionId": "c"},
            },
            "missing_field",
        ),
        ({**CALLBACK, "id": 7, "data": {}}, "invalid_event"),
        ({**CALLBACK, "id": "x" * 257, "data": {}}, "invalid_event"),
        ({**CALLBACK, "type": "", "data": {}}, "invalid_event"),
        ({**CALLBACK, "data": []}, "invalid_event"),
    ],
)
def test_the_models_refuse_with_the_codes_they_always_had(event: dict[str, Any], code: str) -> None:
    with pytest.raises(BadEvent) as refused:
        callback_events([event], NOW, 10)
    assert refused.value.code == code


def test_what_the_flow_may_ignore_is_read_leniently() -> None:
    data = {"callConnectionId": "c", "sequenceNumber": True, "participants": [{"identifier": {}}, 5]}
    event = {**CALLBACK, "type": "Microsoft.Communication.ParticipantsUpdated", "data": data}
    (parsed,) = callback_events([event], NOW, 10)
    assert parsed.event == ev.ParticipantsUpdated(NOW, None, (), NOW, unreadable=2)
    tones = {"callConnectionId": "c", "dtmfResult": {"tones": ["one", 2]}, "operationContext": 3}
    (parsed,) = callback_events(
        [{**CALLBACK, "type": "Microsoft.Communication.RecognizeCompleted", "data": tones}], NOW, 10
    )
    assert parsed.event == ev.RecognizeCompleted(NOW, "", ())

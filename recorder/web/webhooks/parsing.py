"""Turns webhook bodies into typed events. Anything malformed raises ``BadEvent``: a 400, before any write."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from recorder.domain import events as ev

ACS_PREFIX = "Microsoft.Communication."
MAX_DEPTH = 32


class BadEvent(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Envelope:
    """One event of a delivery, in either schema (Event Grid or CloudEvents)."""

    id: str
    type: str
    subject: str
    data: dict[str, Any]
    validation_code: str | None = None
    time: Any = None  # CloudEvents `time` / Event Grid `eventTime`, raw: checked by event_window.py


def load_json(body: bytes) -> Any:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadEvent("malformed_json", "the body is not valid JSON") from None
    except RecursionError:
        raise BadEvent("too_deep", "the JSON is nested too deeply") from None
    if _depth(value) > MAX_DEPTH:
        raise BadEvent("too_deep", f"the JSON is nested deeper than {MAX_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        nxt: list[Any] = []
        for v in level:
            if isinstance(v, dict):
                nxt.extend(v.values())
            elif isinstance(v, list):
                nxt.extend(v)
        level = nxt
    return depth - 1


def envelopes(payload: Any, max_events: int) -> list[Envelope]:
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise BadEvent("empty_batch", "the delivery holds no events")
    if len(items) > max_events:
        raise BadEvent("batch_too_large", f"at most {max_events} events per delivery")
    return [_envelope(item, i) for i, item in enumerate(items)]


def _envelope(item: Any, index: int) -> Envelope:
    if not isinstance(item, dict):
        raise BadEvent("invalid_event", f"event {index} is not an object")
    if "specversion" in item:
        event_type, schema, sent = item.get("type"), "cloudevents", item.get("time")
    else:
        event_type, schema, sent = item.get("eventType"), "eventgrid", item.get("eventTime")
    event_id, data = item.get("id"), item.get("data")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 256:
        raise BadEvent("invalid_event", f"event {index} has no valid id")
    if not isinstance(event_type, str) or not event_type:
        raise BadEvent("invalid_event", f"event {index} has no type")
    if not isinstance(data, dict):
        raise BadEvent("invalid_event", f"event {index} ({schema}) has no data object")
    code = data.get("validationCode") if event_type.endswith("SubscriptionValidationEvent") else None
    if code is not None and not isinstance(code, str):
        raise BadEvent("invalid_event", f"event {index} has an invalid validationCode")
    subject = item.get("subject")
    return Envelope(event_id, event_type, subject if isinstance(subject, str) else "", data, code, sent)


def event_time(envelope: Envelope) -> datetime | None:
    """The event's own time (CloudEvents ``time``, Event Grid ``eventTime``); None when it has none."""
    if envelope.time is None:
        return None
    if not isinstance(envelope.time, str) or len(envelope.time) > 64:
        raise BadEvent("invalid_time", f"event {envelope.id}: time is not an ISO 8601 timestamp")
    try:
        moment = datetime.fromisoformat(envelope.time)
    except ValueError:
        raise BadEvent("invalid_time", f"event {envelope.id}: time is not an ISO 8601 timestamp") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def text(data: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = data.get(key)
    if isinstance(value, str) and value:
        return value
    if required:
        raise BadEvent("missing_field", f"data.{key} is missing or not a string")
    return ""


def raw_id(identifier: Any, where: str) -> str:
    if isinstance(identifier, dict) and isinstance(identifier.get("rawId"), str) and identifier["rawId"]:
        return str(identifier["rawId"])
    raise BadEvent("missing_field", f"{where} has no rawId")


@dataclass(frozen=True)
class CallbackEvent:
    id: str
    type: str  # without the Microsoft.Communication. prefix
    call_connection_id: str
    event: ev.CallEvent | None  # None: a type the consent flow does not act on


def callback_events(payload: Any, at: datetime, max_events: int) -> list[CallbackEvent]:
    parsed = []
    for envelope in envelopes(payload, max_events):
        name = envelope.type.removeprefix(ACS_PREFIX)
        data = envelope.data
        translate = _TRANSLATORS.get(name)
        event = translate(data, at, event_time(envelope) or at) if translate else None
        parsed.append(CallbackEvent(envelope.id, name, text(data, "callConnectionId"), event))
    return parsed


def _participants_updated(data: dict[str, Any], at: datetime, reported: datetime) -> ev.ParticipantsUpdated:
    """A snapshot we cannot order or read is still accepted: the domain fails safe on it (a 400 would lose a
    newcomer for good, since ACS does not send it again)."""
    sequence, participants = data.get("sequenceNumber"), data.get("participants")
    if not isinstance(participants, list):
        raise BadEvent("missing_field", "ParticipantsUpdated needs a participants list")
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
        sequence = None
    ids = [_readable_raw_id(p) for p in participants]
    readable = tuple(i for i in ids if i is not None)
    return ev.ParticipantsUpdated(at, sequence, readable, reported, unreadable=len(ids) - len(readable))


def _readable_raw_id(participant: Any) -> str | None:
    identifier = participant.get("identifier") if isinstance(participant, dict) else None
    raw = identifier.get("rawId") if isinstance(identifier, dict) else None
    return raw if isinstance(raw, str) and raw and len(raw) <= 256 else None


def _recognize_completed(data: dict[str, Any], at: datetime, reported: datetime) -> ev.RecognizeCompleted:
    dtmf = data.get("dtmfResult")
    tones = dtmf.get("tones") if isinstance(dtmf, dict) else None
    if not isinstance(tones, list) or not all(isinstance(t, str) for t in tones):
        tones = []
    return ev.RecognizeCompleted(at, text(data, "operationContext", required=False), tuple(tones))


def _result_sub_code(data: dict[str, Any]) -> int:
    info = data.get("resultInformation")
    sub = info.get("subCode") if isinstance(info, dict) else None
    return sub if isinstance(sub, int) and not isinstance(sub, bool) else 0


def _recording_state(data: dict[str, Any], at: datetime, reported: datetime) -> ev.RecordingStateChanged:
    state = text(data, "state")
    if state not in ("active", "inactive"):
        raise BadEvent("invalid_field", "data.state must be active or inactive")
    return ev.RecordingStateChanged(at, text(data, "recordingId"), state == "active", reported)


def _context(data: dict[str, Any]) -> str:
    return text(data, "operationContext", required=False)


_TRANSLATORS: dict[str, Callable[[dict[str, Any], datetime, datetime], ev.CallEvent]] = {
    "CallConnected": lambda d, at, _: ev.CallConnected(at, text(d, "callConnectionId")),
    "CallDisconnected": lambda d, at, _: ev.CallDisconnected(at),
    "ParticipantsUpdated": _participants_updated,
    "RecognizeCompleted": _recognize_completed,
    "RecognizeFailed": lambda d, at, _: ev.RecognizeFailed(at, _context(d), _result_sub_code(d)),
    "RecognizeCanceled": lambda d, at, _: ev.RecognizeCanceled(at, _context(d)),
    "ContinuousDtmfRecognitionToneReceived": lambda d, at, _: ev.ContinuousToneReceived(
        at, _context(d), text(d, "tone")
    ),
    "RecordingStateChanged": _recording_state,
    "StartRecordingFailed": lambda d, at, _: ev.StartRecordingFailed(
        at, text(d, "recordingId", required=False)
    ),
}

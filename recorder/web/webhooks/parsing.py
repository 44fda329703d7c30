"""Turns webhook bodies into typed events. Anything malformed raises ``BadEvent``: a 400, before any write.

The payloads are pydantic models (the Event Grid and CloudEvents envelopes, the data of each ACS callback the
consent flow reads, Event Grid's IncomingCall; RecordingFileStatusUpdated's in ``recording_files.py``),
validated against every payload in tests/data/acs-recorded-events/; the JSON itself is read by ``load_json``
first, so its size and depth limits hold before any model sees it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    InstanceOf,
    StringConstraints,
    ValidationError,
)

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
    data: InstanceOf[dict[str, Any]]  # taken as it is: its fields are read by the callback's own model
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


class Payload(BaseModel):
    """What ACS and Event Grid send, as far as the service reads it: other fields are ignored (ACS adds some
    with each API version), the ones read are typed."""

    model_config = ConfigDict(strict=True, extra="ignore")


EventId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Name = Annotated[str, StringConstraints(min_length=1)]


class EventGridEvent(Payload):
    """An event in the Event Grid schema (IncomingCall, RecordingFileStatusUpdated, the handshake)."""

    id: EventId
    eventType: Name
    subject: Any = ""  # used only when it is a string
    eventTime: Any = None  # checked by event_time, as the CloudEvents time
    data: InstanceOf[dict[str, Any]]  # taken as it is: its fields are read by the callback's own model


class CloudEvent(Payload):
    """An event in the CloudEvents 1.0 schema (ACS callbacks; Event Grid deliveries that use it)."""

    specversion: Any
    id: EventId
    type: Name
    subject: Any = ""  # used only when it is a string
    time: Any = None
    data: InstanceOf[dict[str, Any]]  # taken as it is: its fields are read by the callback's own model


_ENVELOPE_PROBLEMS = {"id": "has no valid id", "type": "has no type", "eventType": "has no type"}


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
    cloud = "specversion" in item
    try:
        if cloud:
            c = CloudEvent.model_validate(item)
            event_id, event_type, subject, data, sent = c.id, c.type, c.subject, c.data, c.time
        else:
            g = EventGridEvent.model_validate(item)
            event_id, event_type, subject, data, sent = g.id, g.eventType, g.subject, g.data, g.eventTime
    except ValidationError as exc:
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        problem = next((_ENVELOPE_PROBLEMS[f] for f in ("id", "type", "eventType") if f in bad), None)
        schema = "cloudevents" if cloud else "eventgrid"
        raise BadEvent(
            "invalid_event", f"event {index} {problem or f'({schema}) has no data object'}"
        ) from None
    code = data.get("validationCode") if event_type.endswith("SubscriptionValidationEvent") else None
    if code is not None and not isinstance(code, str):
        raise BadEvent("invalid_event", f"event {index} has an invalid validationCode")
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
        data = data_as(CALLBACKS.get(name, Callback), envelope.data)
        event = data.event(at, event_time(envelope) or at) if isinstance(data, Translated) else None
        parsed.append(CallbackEvent(envelope.id, name, data.callConnectionId, event))
    return parsed


Data = TypeVar("Data", bound=BaseModel)


def data_as(model: type[Data], data: dict[str, Any]) -> Data:
    """``data`` as ``model``; the first problem as the 400 it has always been (``missing_field``, or the
    ``BadEvent`` a validator raised), the event's own fields before the call connection id."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["loc"] == ("callConnectionId",))
        cause = errors[0].get("ctx", {}).get("error")
        if isinstance(cause, BadEvent):
            raise cause from None
        raise BadEvent("missing_field", f"data.{errors[0]['loc'][0]} is missing or not a string") from None


Text = Annotated[str, StringConstraints(min_length=1)]
# Read when there, "" when absent or not a string: an answer to an unknown prompt is ignored, not refused.
Context = Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str) else "")]


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _tones(value: Any) -> tuple[str, ...]:
    tones = value.get("tones") if isinstance(value, dict) else None
    return tuple(tones) if isinstance(tones, list) and all(isinstance(t, str) for t in tones) else ()


def _sub_code(value: Any) -> int:
    sub = value.get("subCode") if isinstance(value, dict) else None
    return sub if isinstance(sub, int) and not isinstance(sub, bool) else 0


def _participants(value: Any) -> Any:
    if not isinstance(value, list):
        raise BadEvent("missing_field", "ParticipantsUpdated needs a participants list")
    return value


def _state(value: Any) -> Any:
    if isinstance(value, str) and value and value not in ("active", "inactive"):
        raise BadEvent("invalid_field", "data.state must be active or inactive")
    return value


def _raw_id_at(where: str) -> BeforeValidator:
    def read(identifier: Any) -> str:
        raw = identifier.get("rawId") if isinstance(identifier, dict) else None
        if isinstance(raw, str) and raw:
            return raw
        raise BadEvent("missing_field", f"{where} has no rawId")

    return BeforeValidator(read)


class IncomingCallData(Payload):
    """Event Grid's IncomingCall: the call ACS offers, who calls whom, and the context to answer it with."""

    serverCallId: Text
    incomingCallContext: Text
    caller: Annotated[str, Field(alias="from"), _raw_id_at("data.from")]
    callee: Annotated[str, Field(alias="to"), _raw_id_at("data.to")]
    correlationId: Context = ""


class Callback(Payload):
    """What every ACS callback's data carries: the call it is about."""

    callConnectionId: Text


class Translated(Callback):
    """The data of a callback the consent flow acts on, and the domain event it becomes."""

    def event(self, at: datetime, reported: datetime) -> ev.CallEvent:
        raise NotImplementedError


class CallConnected(Translated):
    def event(self, at: datetime, reported: datetime) -> ev.CallEvent:
        return ev.CallConnected(at, self.callConnectionId)


class CallDisconnected(Translated):
    def event(self, at: datetime, reported: datetime) -> ev.CallEvent:
        return ev.CallDisconnected(at)


class ParticipantsUpdated(Translated):
    """A snapshot we cannot order or read is still accepted: the domain fails safe on it (a 400 would lose a
    newcomer for good, since ACS does not send it again)."""

    participants: Annotated[list[Any], BeforeValidator(_participants)] = Field(None, validate_default=True)
    sequenceNumber: Annotated[int | None, BeforeValidator(_whole)] = None

    def event(self, at: datetime, reported: datetime) -> ev.CallEvent:
        ids = [_readable_raw_id(p) for p in self.participants]
        readable = tuple(i for i in ids if i is not None)
        return ev.ParticipantsUpdated(
            at, self.sequenceNumber, readable, reported, unreadable=len(ids) - len(readable)
        )


class RecognizeCompleted(Translated):
    operationContext: Context = ""
    dtmfResult: Annotated[tuple[str, ...], BeforeValidator(_tones)] = ()

    def event(self, at: datetime, reported: datetime) -> ev.CallEvent:
        return ev.RecognizeCompleted(at, self.operationContext, self.dtmfResult)


class RecognizeFailed(Translated):
    operationContext: Context = ""
    resultInformation: Annotated[int, BeforeValidator(_sub_code)] = 0

    def event(self, at: datetime, reported: datetime) -> ev.CallEvent:
        return ev.RecognizeFailed(at, self.operationContext, self.resultInformation)


class RecognizeCanceled(Translated):
    operationContext: Context = ""

    def event(self, at: datetime, reported: datetime) -> ev.CallEvent:
        return ev.RecognizeCanceled(at, self.operationContext)


class ContinuousToneReceived(Translated):
    operationContext: Context = ""
    tone: Text

    def event(self, at: datetime, reported: datetime) -> ev.CallEvent:
        return ev.ContinuousToneReceived(at, self.operationContext, self.tone)


class RecordingStateChanged(Translated):
    state: Annotated[Text, BeforeValidator(_state)]
    recordingId: Text

    def event(self, at: datetime, reported: datetime) -> ev.CallEvent:
        return ev.RecordingStateChanged(at, self.recordingId, self.state == "active", reported)


class StartRecordingFailed(Translated):
    recordingId: Context = ""

    def event(self, at: datetime, reported: datetime) -> ev.CallEvent:
        return ev.StartRecordingFailed(at, self.recordingId)


def _readable_raw_id(participant: Any) -> str | None:
    identifier = participant.get("identifier") if isinstance(participant, dict) else None
    raw = identifier.get("rawId") if isinstance(identifier, dict) else None
    return raw if isinstance(raw, str) and raw and len(raw) <= 256 else None


CALLBACKS: dict[str, type[Translated]] = {
    "CallConnected": CallConnected,
    "CallDisconnected": CallDisconnected,
    "ParticipantsUpdated": ParticipantsUpdated,
    "RecognizeCompleted": RecognizeCompleted,
    "RecognizeFailed": RecognizeFailed,
    "RecognizeCanceled": RecognizeCanceled,
    "ContinuousDtmfRecognitionToneReceived": ContinuousToneReceived,
    "RecordingStateChanged": RecordingStateChanged,
    "StartRecordingFailed": StartRecordingFailed,
}

"""Scripted participants: what each one does during a call, and how they answer a DTMF prompt.

A script is parsed from the control API's JSON. Every delay here is a scripted one, in milliseconds from the
moment the call is answered; the engine multiplies it by ``EmulatorConfig.time_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recorder.emulator.behaviour import BehaviourError, parse_behaviour
from recorder.emulator.json_fields import flag_field, text_field

TONE_WORDS = {
    "0": "zero",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "8": "eight",
    "9": "nine",
    "a": "a",
    "b": "b",
    "c": "c",
    "d": "d",
    "#": "pound",
    "*": "asterisk",
}
SILENCE = "silence"
HANGUP = "hangup"
DEFAULT_ANSWER_DELAY_MS = 50.0
DEFAULT_PLAY_MS = 200.0


class ScenarioError(ValueError):
    """The scenario JSON is not valid; the message names the field."""


@dataclass(frozen=True)
class ContinuousTone:
    at_ms: float
    key: str

    @property
    def word(self) -> str:
        return TONE_WORDS[self.key]


@dataclass(frozen=True)
class ParticipantScript:
    raw_id: str
    answers: tuple[str, ...] = ()
    join_at_ms: float = 0.0
    leave_at_ms: float | None = None
    rejoin_at_ms: float | None = None  # back in the call after leaving (leave_at_ms < rejoin_at_ms)
    answer_delay_ms: float = DEFAULT_ANSWER_DELAY_MS
    exempt: bool = False
    continuous_tones: tuple[ContinuousTone, ...] = ()
    silence_ms: float | None = None


@dataclass(frozen=True)
class CallScenario:
    caller: str
    callee: str
    participants: tuple[ParticipantScript, ...]
    hang_up_after_ms: float | None = None
    caller_display_name: str = ""
    deliver_incoming_call: bool = True
    play_ms: float = DEFAULT_PLAY_MS
    behaviour: dict[str, Any] = field(default_factory=dict)  # knobs for this call only


@dataclass(frozen=True)
class Pressed:
    """The participant presses ``tones`` (words) after ``delay_ms``; ``stop_tone`` ended the input."""

    tones: tuple[str, ...]
    delay_ms: float
    stop_tone: bool = False


@dataclass(frozen=True)
class Silent:
    delay_ms: float


@dataclass(frozen=True)
class HangsUp:
    delay_ms: float


Outcome = Pressed | Silent | HangsUp


def recognize_outcome(
    script: ParticipantScript,
    answer: str | None,
    *,
    silence_timeout_s: float,
    max_tones: int,
    stop_tones: frozenset[str],
) -> Outcome:
    """What happens when ``script``'s participant is prompted and their next answer is ``answer``."""
    if answer is None or answer == SILENCE:
        wait = script.silence_ms if script.silence_ms is not None else silence_timeout_s * 1000
        return Silent(wait)
    if answer == HANGUP:
        return HangsUp(script.answer_delay_ms)
    tones: list[str] = []
    for key in answer.lower():
        word = TONE_WORDS[key]
        if word in stop_tones:
            return Pressed(tuple(tones), script.answer_delay_ms, stop_tone=True)
        tones.append(word)
        if len(tones) >= max_tones:
            break
    return Pressed(tuple(tones), script.answer_delay_ms)


def parse_call_scenario(body: object) -> CallScenario:
    data = _object(body, "the body")
    caller = _string(data, "from", required=True)
    callee = _string(data, "to", required=True)
    raw_participants = data.get("participants")
    if raw_participants is None:
        participants: tuple[ParticipantScript, ...] = (ParticipantScript(raw_id=caller),)
    elif isinstance(raw_participants, list):
        participants = tuple(parse_participant(item) for item in raw_participants)
    else:
        raise ScenarioError("participants must be a list")
    ids = [participant.raw_id for participant in participants]
    if len(set(ids)) != len(ids):
        raise ScenarioError("participants must have distinct raw_id values")
    behaviour = data.get("behaviour", {})
    try:
        parse_behaviour(behaviour)
    except BehaviourError as error:
        raise ScenarioError(f"behaviour: {error}") from error
    return CallScenario(
        caller=caller,
        callee=callee,
        participants=participants,
        hang_up_after_ms=_milliseconds(data, "hang_up_after_ms"),
        caller_display_name=_string(data, "caller_display_name") or "",
        deliver_incoming_call=_boolean(data, "deliver_incoming_call", default=True),
        play_ms=_duration(data, "play_ms", DEFAULT_PLAY_MS),
        behaviour=dict(behaviour),
    )


def parse_participant(item: object) -> ParticipantScript:
    data = _object(item, "a participant")
    raw_id = _string(data, "raw_id", required=True)
    answers = data.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(answer, str) for answer in answers):
        raise ScenarioError(f"answers of {raw_id} must be a list of strings")
    for answer in answers:
        if answer not in (SILENCE, HANGUP) and not (answer and all(k in TONE_WORDS for k in answer.lower())):
            raise ScenarioError(f"answer {answer!r} of {raw_id} must be DTMF keys, 'silence' or 'hangup'")
    return ParticipantScript(
        raw_id=raw_id,
        answers=tuple(answers),
        join_at_ms=_duration(data, "join_at_ms", 0.0),
        leave_at_ms=_milliseconds(data, "leave_at_ms"),
        rejoin_at_ms=_rejoin(data, raw_id),
        answer_delay_ms=_duration(data, "answer_delay_ms", DEFAULT_ANSWER_DELAY_MS),
        exempt=_boolean(data, "exempt", default=False),
        continuous_tones=_continuous_tones(data.get("continuous_tones", []), raw_id),
        silence_ms=_milliseconds(data, "silence_ms"),
    )


def _rejoin(data: dict[str, Any], raw_id: str) -> float | None:
    rejoin, leave = _milliseconds(data, "rejoin_at_ms"), _milliseconds(data, "leave_at_ms")
    if rejoin is not None and (leave is None or rejoin <= leave):
        raise ScenarioError(f"rejoin_at_ms of {raw_id} must come after its leave_at_ms")
    return rejoin


def _continuous_tones(value: object, raw_id: str) -> tuple[ContinuousTone, ...]:
    if not isinstance(value, list):
        raise ScenarioError(f"continuous_tones of {raw_id} must be a list")
    tones = []
    for item in value:
        data = _object(item, "a continuous tone")
        key = _string(data, "tone", required=True).lower()
        if key not in TONE_WORDS:
            raise ScenarioError(f"continuous tone {key!r} of {raw_id} must be one DTMF key")
        tones.append(ContinuousTone(at_ms=_duration(data, "at_ms", 0.0), key=key))
    return tuple(tones)


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{what} must be a JSON object")
    return value


def _string(data: dict[str, Any], name: str, *, required: bool = False) -> str:
    return text_field(data, name, ScenarioError, required=required)


def _boolean(data: dict[str, Any], name: str, *, default: bool) -> bool:
    return flag_field(data, name, ScenarioError, default=default)


def _duration(data: dict[str, Any], name: str, default: float) -> float:
    value = _milliseconds(data, name)
    return default if value is None else value


def _milliseconds(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ScenarioError(f"{name} must be a non-negative number of milliseconds")
    return float(value)

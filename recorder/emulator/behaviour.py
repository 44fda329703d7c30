"""How the emulator behaves where ACS's behaviour is undocumented or varies: one set of knobs.

Every default is the strictest plausible setting (the fidelity table in ``recorder/emulator/README.md`` says
why for each). The emulator-wide behaviour comes from ``EmulatorConfig.behaviour`` (CLI ``--behaviour k=v``)
and ``PUT /emulator/behaviour``; a scripted call may override any knob in its scenario's ``behaviour``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

MEDIA_QUEUES = ("per_call", "parallel")
SELF_LISTED = ("callee_and_app", "callee", "none")
REPEATABILITY = ("sdk_operations", "all", "none")
CONTENT_TYPES = ("audio", "audioVideo")
CHANNEL_TYPES = ("mixed", "unmixed")
FORMAT_TYPES = ("wav", "mp3", "mp4")


class BehaviourError(ValueError):
    """A knob is unknown or its value is not allowed; the message names it."""


@dataclass(frozen=True)
class Behaviour:
    # Media: one queue of media operations per call, or every operation at once.
    media_queue: str = "per_call"
    hold_during_prompt: bool = True  # the target of a targeted prompt is isOnHold until the prompt ends
    validate_play_sources: bool = True  # WAV mono 16 kHz files, TTS only with a linked AI resource, no Teams
    recognize_fails_when_target_leaves: bool = True
    # Participants.
    self_listed: str = (
        "callee_and_app"  # the call's own identities in ParticipantsUpdated / list_participants
    )
    sequence_gaps: bool = True
    participants_page_size: int = 2
    incoming_call_for_resource_identities: bool = True
    # Requests.
    repeatability: str = "sdk_operations"
    repeatability_window_s: float = 300.0
    repeatability_match_first_sent: bool = True  # a repeat must carry the first attempt's First-Sent
    # Callbacks and Event Grid.
    callback_retries: int = 0
    eventgrid_duplicates: int = 1  # extra deliveries of each Event Grid event after its 200
    eventgrid_validation: bool = True
    eventgrid_first_retry_s: float = 10.0  # Event Grid's schedule (10 s, 30 s, 1 min, ...) scaled to this
    # Recording files.
    recording_file_delay_ms: float = 1000.0
    recording_chunk_ms: float = 3_600_000.0
    recording_file_duplicates: int = 1  # extra RecordingFileStatusUpdated events per recording
    recording_content_default: str = "audioVideo"
    recording_channel_default: str = "mixed"
    recording_format_default: str = "mp4"
    byos_storage_type: str = "AzureBlob"

    def describe(self) -> dict[str, Any]:
        return asdict(self)


CHOICES: dict[str, tuple[str, ...]] = {
    "media_queue": MEDIA_QUEUES,
    "self_listed": SELF_LISTED,
    "repeatability": REPEATABILITY,
    "recording_content_default": CONTENT_TYPES,
    "recording_channel_default": CHANNEL_TYPES,
    "recording_format_default": FORMAT_TYPES,
}
POSITIVE = frozenset({"participants_page_size", "recording_chunk_ms"})
TYPES = {f.name: type(getattr(Behaviour(), f.name)) for f in fields(Behaviour)}


def parse_behaviour(changes: object, base: Behaviour | None = None) -> Behaviour:
    """``base`` (default: the strict defaults) with the knobs in ``changes`` (a JSON object) changed."""
    if not isinstance(changes, dict):
        raise BehaviourError("behaviour must be a JSON object of knobs")
    values = {name: _checked(name, value) for name, value in changes.items()}
    return replace(base or Behaviour(), **values)


def parse_assignments(items: list[str], base: Behaviour | None = None) -> Behaviour:
    """``["media_queue=parallel", "callback_retries=5"]`` (the CLI's ``--behaviour``) applied to ``base``."""
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise BehaviourError(f"--behaviour expects name=value, got {item!r}")
        changes[name.strip()] = _from_text(name.strip(), raw.strip())
    return parse_behaviour(changes, base)


def _from_text(name: str, raw: str) -> Any:
    kind = TYPES.get(name)
    if kind is bool:
        if raw.lower() not in ("true", "false"):
            raise BehaviourError(f"{name} must be true or false")
        return raw.lower() == "true"
    if kind is int or kind is float:
        try:
            return int(raw) if kind is int else float(raw)
        except ValueError as error:
            raise BehaviourError(f"{name} must be a number") from error
    return raw


def _checked(name: str, value: object) -> Any:
    kind = TYPES.get(name)
    if kind is None:
        raise BehaviourError(f"unknown behaviour knob {name!r}; known: {', '.join(sorted(TYPES))}")
    if kind is bool:
        if not isinstance(value, bool):
            raise BehaviourError(f"{name} must be true or false")
        return value
    if kind in (int, float):
        return _number(name, value, kind)
    if not isinstance(value, str) or not value:
        raise BehaviourError(f"{name} must be a non-empty string")
    allowed = CHOICES.get(name)
    if allowed is not None and value not in allowed:
        raise BehaviourError(f"{name} must be one of {', '.join(allowed)}")
    return value


def _number(name: str, value: object, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BehaviourError(f"{name} must be a number")
    if kind is int and not float(value).is_integer():
        raise BehaviourError(f"{name} must be a whole number")
    if value < 0 or (name in POSITIVE and value == 0):
        raise BehaviourError(f"{name} must be {'positive' if name in POSITIVE else 'zero or more'}")
    return kind(value)

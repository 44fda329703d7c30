"""Things ACS or a participant does to a live call on its own, triggered through the control API (``POST
/emulator/calls/<id>/actions``) -- for our tests and for users' integration tests.

``{"action": "recording_state", "state": "active" | "inactive"}``: ACS changes the recording's state by itself
and reports it. ``{"action": "participants_updated", "sequence_number": false, "without_raw_id": raw_id}``: a
snapshot, without ``sequenceNumber`` or with one identifier lacking its ``rawId``, when asked. ``{"action":
"join" | "leave", "participant": raw_id}``: a scripted participant joins or leaves now (a prompted one who
leaves gets RecognizeFailed). ``{"action": "tone", "participant": raw_id, "tone": "9"}``: a key press heard by
continuous DTMF. ``{"action": "tone_failed", "participant": raw_id}``: ContinuousDtmfRecognitionToneFailed.
``{"action": "cancel_media"}``: ACS cancels the running media operation (RecognizeCanceled / PlayCanceled).
``{"action": "hang_up"}``: everyone hangs up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recorder.emulator import events
from recorder.emulator.scenario import TONE_WORDS, ScenarioError
from recorder.emulator.state import Call

if TYPE_CHECKING:
    from recorder.emulator.engine import Emulator

ACTIONS = (
    "recording_state",
    "participants_updated",
    "join",
    "leave",
    "tone",
    "tone_failed",
    "cancel_media",
    "hang_up",
)
NEEDS_PARTICIPANT = frozenset({"join", "leave", "tone", "tone_failed"})


@dataclass(frozen=True)
class CallAction:
    action: str
    participant: str | None = None
    state: str | None = None
    tone: str | None = None
    sequenced: bool = True
    unreadable: str | None = None  # participants_updated: this participant's identifier without rawId


class ActionRefused(Exception):
    """The action does not fit the call as it is now (409)."""


def parse_action(body: object) -> CallAction:
    if not isinstance(body, dict):
        raise ScenarioError("the action must be a JSON object")
    action = body.get("action")
    if action not in ACTIONS:
        raise ScenarioError(f"action must be one of {', '.join(ACTIONS)}")
    participant = body.get("participant")
    if action in NEEDS_PARTICIPANT and (not isinstance(participant, str) or not participant):
        raise ScenarioError(f"{action} needs participant (a raw id)")
    state = body.get("state")
    if action == "recording_state" and state not in ("active", "inactive"):
        raise ScenarioError("state must be active or inactive")
    tone = body.get("tone")
    if action == "tone" and (not isinstance(tone, str) or tone.lower() not in TONE_WORDS):
        raise ScenarioError("tone must be one DTMF key")
    sequenced = body.get("sequence_number", True)
    if not isinstance(sequenced, bool):
        raise ScenarioError("sequence_number must be true or false")
    unreadable = body.get("without_raw_id")
    if unreadable is not None and (not isinstance(unreadable, str) or not unreadable):
        raise ScenarioError("without_raw_id must be a raw id")
    return CallAction(
        action,
        participant if isinstance(participant, str) else None,
        state if isinstance(state, str) else None,
        tone.lower() if isinstance(tone, str) else None,
        sequenced,
        unreadable,
    )


def apply_action(emulator: Emulator, call: Call, action: CallAction) -> dict[str, Any]:
    """Do ``action`` now; ActionRefused when the call is not in a state where it can happen."""
    if call.state != "connected":
        raise ActionRefused(f"the call is {call.state}, not connected")
    if action.action == "recording_state":
        return _recording_state(emulator, call, action.state or "")
    if action.action == "participants_updated":
        emulator.roster.updated(call, sequenced=action.sequenced, unreadable=action.unreadable)
        return {"sequence_number": call.sequence_number if action.sequenced else None}
    if action.action == "cancel_media":
        return {"canceled": emulator.media.cancel_running(call)}
    if action.action == "hang_up":
        emulator.disconnect(call, events.ENDED_BY_PARTICIPANT)
        return {}
    return _participant_action(emulator, call, action)


def _participant_action(emulator: Emulator, call: Call, action: CallAction) -> dict[str, Any]:
    participant = call.participants.get(action.participant or "")
    if participant is None:
        raise ActionRefused(f"{action.participant} is not scripted in this call")
    if action.action == "join":
        participant.left = False
        emulator.roster.join(call, participant)
    elif action.action == "leave":
        emulator.roster.leave(call, participant)
    elif action.action == "tone":
        emulator.roster.continuous_tone(call, participant, action.tone or "")
    elif not emulator.roster.tone_failed(call, participant):
        raise ActionRefused(f"continuous DTMF recognition is not running for {participant.raw_id}")
    return {"participant": participant.describe()}


def _recording_state(emulator: Emulator, call: Call, state: str) -> dict[str, Any]:
    recording = call.active_recording()
    if recording is None:
        raise ActionRefused("the call has no recording")
    if recording.state != state:
        emulator.set_recording_state(call, recording, state)
        emulator.recording_state_changed(call, recording, state)
    return {"recording_id": recording.recording_id, "state": recording.state}

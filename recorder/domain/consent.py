"""The consent state machine: ``decide(state, event, policy)`` returns the new state, commands and records.

The invariant this module exists for: recording is never started or resumed while anyone present lacks
``granted`` or ``exempt`` consent, and it is paused before anyone new is prompted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.model import (
    ALLOWS_RECORDING,
    CallPhase,
    CallState,
    Consent,
    ConsentPolicy,
    Participant,
    RecordingStatus,
    RefusalAction,
)

SILENCE_SUB_CODES = frozenset({8510, 8532})
OPEN_CONSENT = frozenset({Consent.PENDING, Consent.PROMPTED})


@dataclass(frozen=True)
class Decision:
    state: CallState
    commands: tuple[fx.Command, ...] = ()
    records: tuple[fx.Record, ...] = ()

    def then(self, other: Decision) -> Decision:
        return Decision(other.state, self.commands + other.commands, self.records + other.records)


def new_inbound_call(call_id: str, server_call_id: str, incoming_call_context: str, locale: str) -> Decision:
    state = CallState(call_id=call_id, server_call_id=server_call_id, locale=locale)
    return Decision(state, (fx.AnswerCall(incoming_call_context),))


def new_connected_call(call_id: str, server_call_id: str, locale: str) -> Decision:
    """An ongoing call the service is asked to record: it joins with ``connect_call``, then asks everyone."""
    state = CallState(call_id=call_id, server_call_id=server_call_id, locale=locale)
    return Decision(state, (fx.ConnectCall(server_call_id),))


def new_outbound_call(call_id: str, target: str, source_caller_id: str | None, locale: str) -> Decision:
    """A call the service places; its server call id is known once ACS has created it."""
    state = CallState(call_id=call_id, server_call_id="", locale=locale)
    return Decision(state, (fx.CreateCall(target, source_caller_id),))


def decide(state: CallState, event: ev.CallEvent, policy: ConsentPolicy) -> Decision:
    if state.phase is CallPhase.ENDED and not isinstance(event, ev.RecordingStateChanged):
        return Decision(state)
    match event:
        case ev.CallAnswered() | ev.CallConnected() | ev.CallPlaced():
            return _connected(state, event, policy)
        case ev.StopRequested():
            return _stop_requested(state)
        case ev.ParticipantsUpdated():
            return _participants_updated(state, event, policy)
        case ev.RecognizeCompleted():
            return _recognized(state, event, policy)
        case ev.RecognizeFailed():
            return _recognize_failed(state, event, policy)
        case ev.ContinuousToneReceived():
            return _continuous_tone(state, event, policy)
        case ev.RecordingStarted():
            return Decision(replace(state, recording_id=state.recording_id or event.recording_id))
        case ev.RecordingStateChanged():
            return _recording_state_changed(state, event)
        case ev.CallDisconnected():
            return _disconnected(state, event)
        case ev.CommandFailed():
            return _command_failed(state, event)


def _connected(
    state: CallState, event: ev.CallAnswered | ev.CallConnected | ev.CallPlaced, policy: ConsentPolicy
) -> Decision:
    placed = event.server_call_id if isinstance(event, ev.CallPlaced) else ""
    connected = replace(
        state,
        server_call_id=state.server_call_id or placed,
        call_connection_id=state.call_connection_id or event.call_connection_id,
        phase=CallPhase.CONNECTED if isinstance(event, ev.CallConnected) else state.phase,
    )
    if connected.phase is not CallPhase.CONNECTED or state.phase is CallPhase.CONNECTED:
        return Decision(connected)
    return _prompt_pending(connected, event.at, policy)


def _participants_updated(state: CallState, event: ev.ParticipantsUpdated, policy: ConsentPolicy) -> Decision:
    if event.sequence_number <= state.participants_sequence:
        return Decision(state)  # a stale or repeated snapshot
    now_present = set(event.participants)
    updated: list[Participant] = []
    records: list[fx.Record] = []
    for p in state.participants:
        if p.raw_id in now_present:
            updated.append(_rejoined(p) if not p.present else p)
        else:
            updated.append(replace(p, present=False))
    known = {p.raw_id for p in state.participants}
    for raw_id in event.participants:
        if raw_id in known:
            continue
        known.add(raw_id)
        reason = policy.exemption(raw_id)
        if reason is None:
            updated.append(Participant(raw_id))
        else:
            updated.append(Participant(raw_id, consent=Consent.EXEMPT, exempt_reason=reason))
            records.append(fx.ConsentRecorded(raw_id, Consent.EXEMPT, "policy", event.at, reason=reason))
    new_state = replace(state, participants=tuple(updated), participants_sequence=event.sequence_number)
    decision = Decision(new_state, records=tuple(records))
    if new_state.phase is not CallPhase.CONNECTED:
        return decision
    return decision.then(_prompt_pending(new_state, event.at, policy))


def _rejoined(p: Participant) -> Participant:
    """Someone who left comes back: a consent that never became an answer is asked for again."""
    if p.consent in ALLOWS_RECORDING or p.consent in (Consent.DECLINED, Consent.WITHDRAWN):
        return replace(p, present=True)
    return replace(p, present=True, consent=Consent.PENDING, attempts=0, prompted_at=None, prompt=None)


def _recognized(state: CallState, event: ev.RecognizeCompleted, policy: ConsentPolicy) -> Decision:
    p = _prompted_participant(state, event.operation_context)
    if p is None:
        return Decision(state)
    tone = event.tones[0] if event.tones else ""
    if tone == policy.grant_tone:
        outcome = Consent.GRANTED
    elif tone == policy.decline_tone:
        outcome = Consent.DECLINED
    else:
        return _ask_again_or_give_up(state, p, event.at, policy, method="dtmf", dtmf=tone or None)
    return _conclude(state, p, outcome, event.at, policy, method="dtmf", dtmf=tone)


def _recognize_failed(state: CallState, event: ev.RecognizeFailed, policy: ConsentPolicy) -> Decision:
    p = _prompted_participant(state, event.operation_context)
    if p is None:
        return Decision(state)
    method = "timeout" if event.sub_code in SILENCE_SUB_CODES else "recognize_failed"
    return _ask_again_or_give_up(state, p, event.at, policy, method=method, dtmf=None)


def _ask_again_or_give_up(
    state: CallState, p: Participant, at: datetime, policy: ConsentPolicy, *, method: str, dtmf: str | None
) -> Decision:
    if p.attempts <= policy.reprompts:
        return _prompt(state, p, at, policy)
    return _conclude(state, p, Consent.NO_RESPONSE, at, policy, method=method, dtmf=dtmf)


def _conclude(
    state: CallState,
    p: Participant,
    outcome: Consent,
    at: datetime,
    policy: ConsentPolicy,
    *,
    method: str,
    dtmf: str | None,
) -> Decision:
    record = fx.ConsentRecorded(
        p.raw_id, outcome, method, at, prompt=p.prompt, prompted_at=p.prompted_at, dtmf=dtmf
    )
    new_state = _with_participant(state, replace(p, consent=outcome))
    commands: list[fx.Command] = []
    if outcome is Consent.GRANTED:
        commands.append(fx.WatchForWithdrawal(p.raw_id))
    elif policy.on_refusal is RefusalAction.HANG_UP:
        commands.append(fx.HangUp(f"consent {outcome} by a participant"))
    # recording (or the pause) goes first: it is what the participant is waiting for
    reconciled = _reconcile_recording(new_state)
    return Decision(reconciled.state, reconciled.commands + tuple(commands), (record,))


def _continuous_tone(state: CallState, event: ev.ContinuousToneReceived, policy: ConsentPolicy) -> Decision:
    parsed = fx.parse_context(event.operation_context)
    if parsed is None or parsed[0] != "withdraw" or event.tone != policy.withdraw_tone:
        return Decision(state)
    p = state.participant(parsed[2])
    if p is None or p.consent is not Consent.GRANTED:
        return Decision(state)
    record = fx.ConsentRecorded(
        p.raw_id,
        Consent.WITHDRAWN,
        "dtmf",
        event.at,
        prompt=p.prompt,
        prompted_at=p.prompted_at,
        dtmf=event.tone,
    )
    new_state = _with_participant(state, replace(p, consent=Consent.WITHDRAWN))
    return Decision(new_state, records=(record,)).then(_reconcile_recording(new_state))


def _recording_state_changed(state: CallState, event: ev.RecordingStateChanged) -> Decision:
    reported = "active" if event.active else "inactive"
    new_state = replace(
        state, recording_id=state.recording_id or event.recording_id, recording_reported=reported
    )
    previous = state.recording_reported
    if reported == previous or (not event.active and previous == ""):
        return Decision(new_state)  # a repeat, or a recording that starts paused
    if event.active:
        kind = "started" if previous == "" else "resumed"
    elif state.recording is RecordingStatus.PAUSED:
        kind = "paused"
    else:
        kind = "stopped"  # ACS ended it (call over, or a failure): we never asked for a pause
    return Decision(new_state, records=(fx.SegmentRecorded(kind, event.recording_id, event.at),))


def _disconnected(state: CallState, event: ev.CallDisconnected) -> Decision:
    records: list[fx.Record] = []
    participants: list[Participant] = []
    for p in state.participants:
        if p.consent in OPEN_CONSENT and (p.present or p.consent is Consent.PROMPTED):
            records.append(
                fx.ConsentRecorded(
                    p.raw_id,
                    Consent.NO_RESPONSE,
                    "call_ended",
                    event.at,
                    prompt=p.prompt,
                    prompted_at=p.prompted_at,
                )
            )
            p = replace(p, consent=Consent.NO_RESPONSE)
        participants.append(replace(p, present=False))
    commands: tuple[fx.Command, ...] = ()
    recording = state.recording
    if recording in (RecordingStatus.ACTIVE, RecordingStatus.PAUSED):
        commands, recording = (fx.StopRecording(),), RecordingStatus.STOPPED
    new_state = replace(state, phase=CallPhase.ENDED, participants=tuple(participants), recording=recording)
    records.append(fx.CallEnded(event.at, "disconnected"))
    return Decision(new_state, commands, tuple(records))


def _stop_requested(state: CallState) -> Decision:
    """Stop for good: a stopped recording is never started or resumed again, whatever consent follows."""
    if state.recording in (RecordingStatus.ACTIVE, RecordingStatus.PAUSED):
        return Decision(replace(state, recording=RecordingStatus.STOPPED), (fx.StopRecording(),))
    if state.recording is RecordingStatus.NONE:
        return Decision(replace(state, recording=RecordingStatus.STOPPED))
    return Decision(state)


def _command_failed(state: CallState, event: ev.CommandFailed) -> Decision:
    if event.command in ("ConnectCall", "CreateCall") and state.call_connection_id is None:
        ended = replace(state, phase=CallPhase.ENDED)
        reason = f"{event.command} failed: {event.reason}"
        return Decision(ended, records=(fx.CallEnded(event.at, reason, failed=True),))
    if event.command == "StartRecording" and state.recording_id is None:
        return Decision(replace(state, recording=RecordingStatus.FAILED))
    return Decision(state)


def _prompted_participant(state: CallState, context: str) -> Participant | None:
    """The participant an answer belongs to, or None for a stale, foreign or duplicate answer."""
    parsed = fx.parse_context(context)
    if parsed is None or parsed[0] != "consent":
        return None
    p = state.participant(parsed[2])
    if p is None or not p.present or p.consent is not Consent.PROMPTED or p.prompts_sent != parsed[1]:
        return None
    return p


def _prompt_pending(state: CallState, at: datetime, policy: ConsentPolicy) -> Decision:
    """Pause first if someone present lacks consent, then prompt everyone who has not been asked."""
    decision = _reconcile_recording(state)
    for p in decision.state.participants:
        if p.present and p.consent is Consent.PENDING:
            decision = decision.then(_prompt(decision.state, p, at, policy))
    return decision


def _prompt(state: CallState, p: Participant, at: datetime, policy: ConsentPolicy) -> Decision:
    prompt = policy.prompt_for(state.locale)
    asked = replace(
        p,
        consent=Consent.PROMPTED,
        attempts=p.attempts + 1,
        prompts_sent=p.prompts_sent + 1,
        prompted_at=at,
        prompt=prompt,
    )
    command = fx.PromptParticipant(p.raw_id, asked.prompts_sent, prompt, policy.silence_timeout_seconds)
    return Decision(_with_participant(state, asked), (command,))


def _reconcile_recording(state: CallState) -> Decision:
    """Bring the commanded recording status in line with the consent of everyone present."""
    allowed = state.phase is CallPhase.CONNECTED and state.consent_complete
    status = state.recording
    if allowed and status is RecordingStatus.NONE:
        return Decision(replace(state, recording=RecordingStatus.ACTIVE), (fx.StartRecording(),))
    if allowed and status is RecordingStatus.PAUSED:
        return Decision(replace(state, recording=RecordingStatus.ACTIVE), (fx.ResumeRecording(),))
    if not allowed and status is RecordingStatus.ACTIVE:
        return Decision(replace(state, recording=RecordingStatus.PAUSED), (fx.PauseRecording(),))
    return Decision(state)


def _with_participant(state: CallState, participant: Participant) -> CallState:
    return replace(
        state,
        participants=tuple(participant if p.raw_id == participant.raw_id else p for p in state.participants),
    )

"""The consent state machine: ``decide(state, event, policy)`` returns the new state, commands and records.

Every event is handled, then the call is *settled* on the combination of what was commanded and what ACS
reported (``gate``): recording is commanded on only while everyone present is ``granted``, ``exempt`` or the
service itself; whatever ACS reports is enforced; and nobody is prompted while ACS may be recording.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain import gate, presence
from recorder.domain.decision import Decision
from recorder.domain.model import (
    CallPhase,
    CallState,
    Consent,
    ConsentPolicy,
    Participant,
    RecordingStatus,
    RefusalAction,
)

__all__ = ["Decision", "decide", "new_connected_call", "new_inbound_call", "new_outbound_call"]

SILENCE_SUB_CODES = frozenset({8510, 8532})
OPEN_CONSENT = frozenset({Consent.PENDING, Consent.PROMPTED})
# what still matters once a call is over: how ACS's recording ended, and what became of our commands
AFTER_THE_END = (ev.RecordingStateChanged, ev.StartRecordingFailed, ev.CommandDone, ev.CommandFailed)


def new_inbound_call(
    call_id: str, server_call_id: str, incoming_call_context: str, locale: str, callee: str | None = None
) -> Decision:
    """An IncomingCall to answer; ``callee`` (the number or identity called) is the service itself."""
    state = CallState(call_id=call_id, server_call_id=server_call_id, locale=locale)
    state = presence.learn_own_identities(state, [callee] if callee else [])
    return Decision(state, (fx.AnswerCall(incoming_call_context),))


def new_connected_call(call_id: str, server_call_id: str, locale: str) -> Decision:
    """An ongoing call the service is asked to record: it joins with ``connect_call``, then asks everyone."""
    state = CallState(call_id=call_id, server_call_id=server_call_id, locale=locale)
    return Decision(state, (fx.ConnectCall(server_call_id),))


def new_outbound_call(call_id: str, target: str, source_caller_id: str | None, locale: str) -> Decision:
    """A call the service places; its server call id is known once ACS has created it."""
    state = CallState(call_id=call_id, server_call_id="", locale=locale)
    own = [f"4:{source_caller_id}"] if source_caller_id else []
    return Decision(presence.learn_own_identities(state, own), (fx.CreateCall(target, source_caller_id),))


def decide(state: CallState, event: ev.CallEvent, policy: ConsentPolicy) -> Decision:
    if state.phase is CallPhase.ENDED and not isinstance(event, AFTER_THE_END):
        return Decision(state)
    handled = _handle(state, event, policy)
    settled = _settle(handled.state, event.at, policy)
    recording, prompts = settled
    return Decision(
        prompts.state,
        recording.commands + handled.commands + prompts.commands,
        handled.records + recording.records,
    )


def _handle(state: CallState, event: ev.CallEvent, policy: ConsentPolicy) -> Decision:
    match event:
        case ev.CallAnswered() | ev.CallConnected() | ev.CallPlaced():
            return Decision(_connected(state, event))
        case ev.StopRequested():
            return _stop_requested(state)
        case ev.ParticipantsUpdated():
            return presence.participants_updated(state, event, policy)
        case ev.RecognizeCompleted():
            return _recognized(state, event, policy)
        case ev.RecognizeFailed() | ev.RecognizeCanceled():
            return _recognize_ended(state, event, policy)
        case ev.ContinuousToneReceived():
            return _continuous_tone(state, event, policy)
        case ev.RecordingStateChanged():
            reported = event.reported_at or event.at
            new_state, records = gate.recording_reported(state, event.recording_id, event.active, reported)
            return Decision(new_state, records=records)
        case ev.StartRecordingFailed():
            return gate.start_recording_failed(state, event)
        case ev.CallDisconnected():
            return _disconnected(state, event.at)
        case ev.RecordingStarted() | ev.CommandDone():
            return Decision(gate.recording_command_done(state, event))
        case ev.CommandFailed():
            return _command_failed(state, event, policy)
        case ev.StateRead():
            return _state_read(state, event, policy)
        case ev.AnswerOverdue():
            return _answer_overdue(state, event, policy)
        case ev.PromptWithheld():
            return Decision(_withheld(state, event))


def _settle(state: CallState, at: datetime, policy: ConsentPolicy) -> tuple[Decision, Decision]:
    """The recording commands the state calls for, then the prompts it allows (none while ACS may record)."""
    recording = gate.gate(state, at)
    settled = recording.state
    prompts = Decision(settled)
    if settled.phase is not CallPhase.CONNECTED or not settled.identities_known or settled.may_be_recording:
        return recording, prompts
    for p in settled.participants:
        if p.present and p.consent is Consent.PENDING:
            prompts = prompts.then(_prompt(prompts.state, p, at, policy))
    return recording, prompts


def _connected(state: CallState, event: ev.CallAnswered | ev.CallConnected | ev.CallPlaced) -> CallState:
    if isinstance(event, ev.CallConnected):
        return replace(
            state,
            phase=CallPhase.CONNECTED,
            call_connection_id=state.call_connection_id or event.call_connection_id,
        )
    placed = event.server_call_id if isinstance(event, ev.CallPlaced) else ""
    answered = replace(
        state,
        server_call_id=state.server_call_id or placed,
        call_connection_id=state.call_connection_id or event.call_connection_id,
        identities_known=True,
    )
    return presence.learn_own_identities(answered, event.own_identities)


def _recognized(state: CallState, event: ev.RecognizeCompleted, policy: ConsentPolicy) -> Decision:
    state = _media_moved_on(state, event.operation_context, event.at)
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


def _recognize_ended(
    state: CallState, event: ev.RecognizeFailed | ev.RecognizeCanceled, policy: ConsentPolicy
) -> Decision:
    state = _media_moved_on(state, event.operation_context, event.at)
    p = _prompted_participant(state, event.operation_context)
    if p is None:
        return Decision(state)
    if isinstance(event, ev.RecognizeCanceled):
        method = "recognize_canceled"
    else:
        method = "timeout" if event.sub_code in SILENCE_SUB_CODES else "recognize_failed"
    return _ask_again_or_give_up(state, p, event.at, policy, method=method, dtmf=None)


def _media_moved_on(state: CallState, context: str, at: datetime) -> CallState:
    """An outcome of one of our prompts: the next one in the call's media queue has its turn now."""
    parsed = fx.parse_context(context)
    if parsed is None or parsed[0] != "consent" or state.participant(parsed[2]) is None:
        return state
    return replace(state, media_turn_at=at)


def _ask_again_or_give_up(
    state: CallState, p: Participant, at: datetime, policy: ConsentPolicy, *, method: str, dtmf: str | None
) -> Decision:
    """Another attempt (prompted once ACS is not recording), or ``no_response`` once the attempts are used."""
    if p.attempts <= policy.reprompts:
        return Decision(_with_participant(state, replace(p, consent=Consent.PENDING)))
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
    commands: tuple[fx.Command, ...] = ()
    if outcome is Consent.GRANTED:
        commands = (fx.WatchForWithdrawal(p.raw_id),)
    elif policy.on_refusal is RefusalAction.HANG_UP:
        commands = (fx.HangUp(f"consent {outcome} by a participant"),)
    return Decision(new_state, commands, (record,))


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
    return Decision(_with_participant(state, replace(p, consent=Consent.WITHDRAWN)), records=(record,))


def _disconnected(state: CallState, at: datetime) -> Decision:
    records: list[fx.Record] = []
    participants: list[Participant] = []
    for p in state.participants:
        if p.consent in OPEN_CONSENT and (p.present or p.consent is Consent.PROMPTED):
            records.append(
                fx.ConsentRecorded(
                    p.raw_id,
                    Consent.NO_RESPONSE,
                    "call_ended",
                    at,
                    prompt=p.prompt,
                    prompted_at=p.prompted_at,
                )
            )
            p = replace(p, consent=Consent.NO_RESPONSE)
        participants.append(replace(p, present=False))
    ended = replace(state, phase=CallPhase.ENDED, participants=tuple(participants))
    decision = Decision(ended)
    if state.recording in (RecordingStatus.ACTIVE, RecordingStatus.PAUSED):
        decision = gate.command_recording(ended, RecordingStatus.STOPPED, fx.StopRecording())
    records.append(fx.CallEnded(at, "disconnected"))
    return Decision(decision.state, decision.commands, tuple(records))


def _stop_requested(state: CallState) -> Decision:
    """Stop for good: a stopped recording is never started or resumed again, whatever consent follows."""
    if state.recording in (RecordingStatus.ACTIVE, RecordingStatus.PAUSED):
        return gate.command_recording(state, RecordingStatus.STOPPED, fx.StopRecording())
    if state.recording is RecordingStatus.NONE:
        return Decision(replace(state, recording=RecordingStatus.STOPPED))
    return Decision(state)


def _command_failed(state: CallState, event: ev.CommandFailed, policy: ConsentPolicy) -> Decision:
    if event.command in gate.RECORDING_COMMANDS:
        return gate.recording_command_failed(state, event, policy)
    incident = fx.Incident(f"{event.command}_failed", event.reason, event.at)
    connecting = event.command in ("ConnectCall", "CreateCall", "AnswerCall")
    if connecting and state.call_connection_id is None:
        ended = replace(state, phase=CallPhase.ENDED)
        reason = f"{event.command} failed: {event.reason}"
        return Decision(ended, records=(fx.CallEnded(event.at, reason, failed=True),))
    if event.command == "PromptParticipant":
        p = state.participant(event.target)
        if p is not None and p.present and p.consent is Consent.PROMPTED and p.prompts_sent == event.attempt:
            decided = _ask_again_or_give_up(state, p, event.at, policy, method="prompt_failed", dtmf=None)
            return Decision(decided.state, decided.commands, (incident, *decided.records))
    return Decision(state, records=(incident,))


def _state_read(state: CallState, read: ev.StateRead, policy: ConsentPolicy) -> Decision:
    """What ACS said when asked, through the same rules as its callbacks; only differences change anything."""
    if read.connected is False:
        gone = fx.Incident("call_gone", "ACS no longer knows the call", read.at)
        ended = _disconnected(state, read.at)
        return Decision(ended.state, ended.commands, (gone, *ended.records))
    if read.connected and (state.phase is CallPhase.ANSWERING or not state.identities_known):
        state = replace(state, phase=CallPhase.CONNECTED, identities_known=True)
    state = presence.learn_own_identities(state, read.own_identities)
    state, recording_records = gate.recording_read(state, read)
    people = presence.participants_read(state, read, policy)
    return Decision(people.state, people.commands, recording_records + people.records)


def _answer_overdue(state: CallState, event: ev.AnswerOverdue, policy: ConsentPolicy) -> Decision:
    p = state.participant(event.raw_id)
    if p is None or not p.present or p.consent is not Consent.PROMPTED or p.prompts_sent != event.attempt:
        return Decision(state)
    moved_on = replace(state, media_turn_at=event.at)  # we stop waiting: the next prompt has its turn
    incident = fx.Incident("answer_overdue", f"no outcome for prompt {event.attempt}", event.at)
    decided = _ask_again_or_give_up(moved_on, p, event.at, policy, method="no_outcome", dtmf=None)
    return Decision(decided.state, decided.commands, (incident, *decided.records))


def _withheld(state: CallState, event: ev.PromptWithheld) -> CallState:
    """Not asked after all: asked again, without counting it as an attempt, once ACS is not recording."""
    p = state.participant(event.raw_id)
    if p is None or p.consent is not Consent.PROMPTED or p.prompts_sent != event.attempt:
        return state
    return _with_participant(state, replace(p, consent=Consent.PENDING, attempts=max(0, p.attempts - 1)))


def _prompted_participant(state: CallState, context: str) -> Participant | None:
    """The participant an answer belongs to, or None for a stale, foreign or duplicate answer."""
    parsed = fx.parse_context(context)
    if parsed is None or parsed[0] != "consent":
        return None
    p = state.participant(parsed[2])
    if p is None or not p.present or p.consent is not Consent.PROMPTED or p.prompts_sent != parsed[1]:
        return None
    return p


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


def _with_participant(state: CallState, participant: Participant) -> CallState:
    return replace(
        state,
        participants=tuple(participant if p.raw_id == participant.raw_id else p for p in state.participants),
    )

"""The recording gate, closed over what ACS reports.

Recording is commanded on only while everyone present is ``granted``, ``exempt`` or the service itself, and
the participant list can be trusted. Whatever ACS reports is enforced: a recording ACS says is active while
that does not hold is paused, whatever was commanded; a pause that fails for good stops the recording.
Nobody is prompted while ACS may be recording.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.decision import Decision
from recorder.domain.model import CallPhase, CallState, ConsentPolicy, RecordingStatus, RefusalAction

RECORDING_COMMANDS = frozenset({"StartRecording", "PauseRecording", "ResumeRecording", "StopRecording"})


def recording_allowed(state: CallState) -> bool:
    return (
        state.phase is CallPhase.CONNECTED
        and state.identities_known
        and not state.participants_unclear
        and state.consent_complete
    )


def command_recording(state: CallState, status: RecordingStatus, command: fx.Command) -> Decision:
    """Issue a recording command: ACS may be recording until it answers and reports again."""
    issued = replace(
        state,
        recording=status,
        recording_pending=state.recording_pending + 1,
        recording_report_fresh=False,
    )
    return Decision(issued, (command,))


def gate(state: CallState, at: datetime) -> Decision:
    """Bring what is commanded in line with consent, given what ACS last reported."""
    if state.phase is not CallPhase.CONNECTED:
        return Decision(state)
    reported_active = state.recording_reported == "active"
    if state.recording in (RecordingStatus.NONE, RecordingStatus.FAILED) and reported_active:
        state = replace(state, recording=RecordingStatus.ACTIVE)  # ACS records after all: adopt it
    # ACS says it records although our last command (answered) said otherwise: command it again
    contradicted = reported_active and state.recording_pending == 0 and state.recording_report_fresh
    status = state.recording
    if status is RecordingStatus.STOPPED:
        if not contradicted:
            return Decision(state)
        return _again(state, RecordingStatus.STOPPED, fx.StopRecording(), at)
    if recording_allowed(state):
        if status is RecordingStatus.NONE:
            return command_recording(state, RecordingStatus.ACTIVE, fx.StartRecording())
        if status is RecordingStatus.PAUSED:
            return command_recording(state, RecordingStatus.ACTIVE, fx.ResumeRecording())
        return Decision(state)
    if status is RecordingStatus.ACTIVE:
        return command_recording(state, RecordingStatus.PAUSED, fx.PauseRecording())
    if status is RecordingStatus.PAUSED and contradicted:
        return _again(state, RecordingStatus.PAUSED, fx.PauseRecording(), at)
    return Decision(state)


def _again(state: CallState, status: RecordingStatus, command: fx.Command, at: datetime) -> Decision:
    issued = command_recording(state, status, command)
    incident = fx.Incident("recording_reported_active", f"ACS reports recording; {status} again", at)
    return Decision(issued.state, issued.commands, (incident,))


def recording_reported(
    state: CallState, recording_id: str, active: bool, reported_at: datetime
) -> tuple[CallState, tuple[fx.Record, ...]]:
    """Apply one report of ACS's recording state, by its event time; each report is a segment."""
    if state.recording_id is not None and recording_id != state.recording_id:
        incident = fx.Incident("foreign_recording", f"a report for recording {recording_id}", reported_at)
        return state, (incident,)
    reported = "active" if active else "inactive"
    latest = state.recording_reported_at
    if reported == state.recording_reported and reported_at == latest:
        return state, ()  # the same report again
    kind = _segment_kind(state, active, reported_at)
    adopted = replace(state, recording_id=state.recording_id or recording_id)
    segment = fx.SegmentRecorded(kind, recording_id, reported_at)
    if latest is not None and reported_at < latest:
        return adopted, (segment,)  # older than what we know: evidence, not the current state
    first = adopted.recording_first_at
    newest = replace(
        adopted,
        recording_reported=reported,
        recording_reported_at=reported_at,
        recording_report_fresh=True,
        recording_first_at=reported_at if first is None or reported_at < first else first,
    )
    return newest, (segment,)


def _segment_kind(state: CallState, active: bool, reported_at: datetime) -> str:
    if active:
        first = state.recording_first_at
        return "started" if first is None or reported_at < first else "resumed"
    latest = state.recording_reported_at
    if state.recording is RecordingStatus.PAUSED or (latest is not None and reported_at < latest):
        return "paused"  # ours, or one that a later report already followed
    return "stopped"  # ACS ended it (the call is over, or a failure): we never asked for a pause


def recording_read(state: CallState, read: ev.StateRead) -> tuple[CallState, tuple[fx.Record, ...]]:
    """A recording state read from ACS: applied only where it differs from what we know."""
    if read.recording is None or read.recording_id is None:
        return state, ()
    if state.recording_id is not None and read.recording_id != state.recording_id:
        return state, ()
    if read.recording == "gone":
        if state.recording in (RecordingStatus.NONE, RecordingStatus.STOPPED, RecordingStatus.FAILED):
            return state, ()
        stopped = replace(state, recording=RecordingStatus.STOPPED, recording_reported="inactive")
        gone = fx.Incident("recording_gone", "ACS no longer knows the recording", read.at)
        return stopped, (gone, fx.SegmentRecorded("stopped", read.recording_id, read.at))
    newer = state.recording_reported_at is None or read.at > state.recording_reported_at
    if not newer:
        return state, ()
    if read.recording == state.recording_reported:
        answered = state.recording_answered_at
        if state.recording_report_fresh or state.recording_pending or (answered and read.at < answered):
            return state, ()  # nothing new, our command has not been answered yet, or asked before it was
        # our last command was accepted, yet ACS still says what it said before it: it stands, as reported now
        return replace(state, recording_reported_at=read.at, recording_report_fresh=True), ()
    applied, records = recording_reported(state, read.recording_id, read.recording == "active", read.at)
    found = fx.Incident("recording_read", f"ACS reports the recording {read.recording}", read.at)
    return applied, (found, *records)


def recording_command_done(state: CallState, event: ev.CommandDone | ev.RecordingStarted) -> CallState:
    pending = max(0, state.recording_pending - 1)
    if isinstance(event, ev.RecordingStarted):
        return replace(
            state,
            recording_pending=pending,
            recording_id=state.recording_id or event.recording_id,
            recording_answered_at=event.at,
        )
    if event.command not in RECORDING_COMMANDS:
        return state
    return replace(state, recording_pending=pending, recording_answered_at=event.at)


def recording_command_failed(state: CallState, event: ev.CommandFailed, policy: ConsentPolicy) -> Decision:
    """A recording command failed for good. Fail safe: never a silent continue."""
    failed = replace(state, recording_pending=max(0, state.recording_pending - 1))
    incident = fx.Incident(f"{event.command}_failed", event.reason, event.at)
    if event.command == "StartRecording":
        if failed.recording_id is None and failed.recording_reported != "active":
            failed = replace(failed, recording=RecordingStatus.FAILED)
        return Decision(failed, records=(incident,))
    if event.command == "ResumeRecording":  # stays paused: safe, and said so
        return Decision(replace(failed, recording=RecordingStatus.FAILED), records=(incident,))
    if event.command == "PauseRecording":
        if failed.recording_id is None:
            return Decision(failed, records=(incident,))  # nothing was ever started
        stop = command_recording(failed, RecordingStatus.STOPPED, fx.StopRecording())
        hang_up: tuple[fx.Command, ...] = ()
        if policy.on_refusal is RefusalAction.HANG_UP:
            hang_up = (fx.HangUp("the recording could not be paused"),)
        return Decision(stop.state, stop.commands + hang_up, (incident,))
    # StopRecording: if it may still record someone who did not agree, ending the call is all that is left
    if failed.phase is CallPhase.CONNECTED and failed.may_be_recording and not recording_allowed(failed):
        return Decision(failed, (fx.HangUp("the recording could not be stopped"),), (incident,))
    return Decision(failed, records=(incident,))


def start_recording_failed(state: CallState, event: ev.StartRecordingFailed) -> Decision:
    incident = fx.Incident("start_recording_failed", f"recording {event.recording_id}", event.at)
    ours = state.recording_id is None or state.recording_id == event.recording_id
    if ours and state.recording_reported != "active" and state.recording is not RecordingStatus.STOPPED:
        return Decision(replace(state, recording=RecordingStatus.FAILED), records=(incident,))
    return Decision(state, records=(incident,))

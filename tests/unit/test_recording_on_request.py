"""New call origins (connect, outbound), a requested stop, and how a call ends: state by event, pure."""

from __future__ import annotations

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.consent import decide, new_connected_call, new_outbound_call
from recorder.domain.model import CallPhase, RecordingStatus
from recorder.services.publishing.event_log import event_id
from tests.unit.test_consent import POLICY, A, B, at, connected, grant, kinds, run


def test_an_ongoing_call_is_joined_with_connect_call_then_everyone_is_asked() -> None:
    start = new_connected_call("call-1", "server-9", "en-US")
    assert start.commands == (fx.ConnectCall("server-9"),)
    assert start.state.phase is CallPhase.ANSWERING
    joined = run(
        start.state,
        ev.CallAnswered(at(0), "conn-9"),
        ev.CallConnected(at(0), "conn-9"),
        ev.ParticipantsUpdated(at(0), 1, (A, B)),
    )
    assert joined.state.call_connection_id == "conn-9"
    assert kinds(joined) == ["PromptParticipant", "PromptParticipant"]


def test_an_outbound_call_learns_its_server_call_id_when_placed() -> None:
    start = new_outbound_call("call-2", A, "+18005550100", "en-US")
    assert start.commands == (fx.CreateCall(A, "+18005550100"),)
    assert start.state.server_call_id == ""
    placed = decide(start.state, ev.CallPlaced(at(0), "conn-2", "server-2"), POLICY).state
    assert (placed.server_call_id, placed.call_connection_id) == ("server-2", "conn-2")
    answered = run(placed, ev.CallConnected(at(1), "conn-2"), ev.ParticipantsUpdated(at(1), 1, (A,)))
    assert kinds(answered) == ["PromptParticipant"]


def test_a_refused_connect_ends_the_call_as_failed_with_the_reason() -> None:
    start = new_connected_call("call-3", "nowhere", "en-US").state
    failed = decide(start, ev.CommandFailed(at(1), "ConnectCall", "ACS answered 404"), POLICY)
    assert failed.state.phase is CallPhase.ENDED
    assert failed.records == (fx.CallEnded(at(1), "ConnectCall failed: ACS answered 404", failed=True),)
    assert failed.commands == ()
    # later callbacks change nothing
    assert decide(failed.state, ev.CallConnected(at(2), "x"), POLICY).state == failed.state


def test_a_failed_command_after_connecting_does_not_end_the_call() -> None:
    state = connected(A).state
    assert decide(state, ev.CommandFailed(at(1), "ConnectCall", "late"), POLICY).state == state


def test_a_requested_stop_stops_a_running_recording_for_good() -> None:
    recording = run(connected(A).state, grant(A), ev.RecordingStarted(at(2), "rec-1")).state
    assert recording.recording is RecordingStatus.ACTIVE
    stopped = decide(recording, ev.StopRequested(at(3), "key:app"), POLICY)
    assert kinds(stopped) == ["StopRecording"]
    assert stopped.state.recording is RecordingStatus.STOPPED
    # a newcomer who consents does not bring the recording back
    later = run(stopped.state, ev.ParticipantsUpdated(at(4), 2, (A, B)), grant(B, when=5))
    assert not any(isinstance(c, fx.StartRecording | fx.ResumeRecording) for c in later.commands)
    assert decide(stopped.state, ev.StopRequested(at(6), "key:app"), POLICY).commands == ()


def test_a_stop_before_consent_completes_means_recording_never_starts() -> None:
    waiting = connected(A).state
    stopped = decide(waiting, ev.StopRequested(at(1), "key:app"), POLICY)
    assert stopped.commands == () and stopped.state.recording is RecordingStatus.STOPPED
    assert not any(isinstance(c, fx.StartRecording) for c in decide(stopped.state, grant(A), POLICY).commands)


def test_a_paused_recording_is_stopped_too() -> None:
    paused = run(
        connected(A).state,
        grant(A),
        ev.RecordingStarted(at(2), "rec"),
        ev.ParticipantsUpdated(at(3), 2, (A, B)),
    ).state
    assert paused.recording is RecordingStatus.PAUSED
    assert kinds(decide(paused, ev.StopRequested(at(4), "key:app"), POLICY)) == ["StopRecording"]


def test_a_disconnect_records_that_the_call_ended() -> None:
    ended = decide(connected(A).state, ev.CallDisconnected(at(9)), POLICY)
    assert fx.CallEnded(at(9), "disconnected") in ended.records


def test_published_event_ids_are_stable_and_distinct() -> None:
    assert event_id("call-1", 1) == event_id("call-1", 1)
    assert len({event_id("call-1", 1), event_id("call-1", 2), event_id("call-2", 1)}) == 3

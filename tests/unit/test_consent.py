"""The consent state machine, state by event. Pure: no database, no network."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.consent import Decision, decide, new_inbound_call
from recorder.domain.model import (
    CallPhase,
    CallState,
    Consent,
    ConsentPolicy,
    Prompt,
    RecordingStatus,
    RefusalAction,
)

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PROMPT = Prompt("consent", "3", "en-US", text="Press 1 to agree, 2 to decline.")
POLICY = ConsentPolicy(
    prompts={"en-US": PROMPT}, default_locale="en-US", exempt={"8:acs:agent": "agent-identity"}
)
A, B, C = "4:+14255550101", "4:+14255550102", "4:+14255550103"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(state: CallState, *events: ev.CallEvent, policy: ConsentPolicy = POLICY) -> Decision:
    decision = Decision(state)
    for event in events:
        decision = decision.then(decide(decision.state, event, policy))
    return decision


def connected(*present: str) -> Decision:
    start = new_inbound_call("call-1", "server-1", "ctx", "en-US").state
    return run(
        start,
        ev.CallAnswered(at(0), "conn-1"),
        ev.CallConnected(at(0), "conn-1"),
        ev.ParticipantsUpdated(at(0), 1, present),
    )


def recording(*present: str) -> CallState:
    """Everyone granted, the recording started and ACS reported it active."""
    state = run(connected(*present).state, *(grant(p) for p in present)).state
    started = (ev.RecordingStarted(at(2), "rec-1"), ev.RecordingStateChanged(at(2), "rec-1", True))
    return run(state, *started).state


def grant(raw_id: str, attempt: int = 1, when: float = 1) -> ev.RecognizeCompleted:
    return ev.RecognizeCompleted(at(when), fx.consent_context(raw_id, attempt), ("one",))


def silence(raw_id: str, attempt: int, when: float = 1) -> ev.RecognizeFailed:
    return ev.RecognizeFailed(at(when), fx.consent_context(raw_id, attempt), 8510)


def kinds(decision: Decision) -> list[str]:
    return [type(c).__name__ for c in decision.commands]


def outcomes(decision: Decision) -> list[tuple[str, str]]:
    return [(r.participant, r.outcome) for r in decision.records if isinstance(r, fx.ConsentRecorded)]


def test_an_inbound_call_is_answered_and_nothing_else() -> None:
    decision = new_inbound_call("call-1", "server-1", "ctx", "en-US")
    assert decision.commands == (fx.AnswerCall("ctx"),)
    assert decision.state.phase is CallPhase.ANSWERING


def test_connecting_prompts_every_participant_present_with_the_configured_prompt() -> None:
    decision = connected(A, B)
    prompts = [c for c in decision.commands if isinstance(c, fx.PromptParticipant)]
    assert [(p.raw_id, p.attempt, p.prompt) for p in prompts] == [(A, 1, PROMPT), (B, 1, PROMPT)]
    assert all(p.consent is Consent.PROMPTED for p in decision.state.participants)


def test_participants_seen_before_the_call_connects_are_prompted_on_connect() -> None:
    start = new_inbound_call("call-1", "server-1", "ctx", "en-US").state
    before = run(start, ev.ParticipantsUpdated(at(0), 1, (A,)), ev.CallAnswered(at(0), "conn-1"))
    assert before.commands == ()
    after = decide(before.state, ev.CallConnected(at(0), "conn-1"), POLICY)
    assert kinds(after) == ["PromptParticipant"]
    assert after.state.call_connection_id == "conn-1"


def test_nobody_is_prompted_before_the_service_knows_its_own_identities() -> None:
    start = new_inbound_call("call-1", "server-1", "ctx", "en-US").state
    connected_only = run(start, ev.CallConnected(at(0), "conn-1"), ev.ParticipantsUpdated(at(0), 1, (A,)))
    assert connected_only.commands == ()
    answered = decide(connected_only.state, ev.CallAnswered(at(0), "conn-1"), POLICY)
    assert kinds(answered) == ["PromptParticipant"]


def test_recording_starts_once_only_after_the_last_of_three_consents() -> None:
    decision = connected(A, B, C)
    first_two = run(decision.state, grant(A), grant(B))
    assert "StartRecording" not in kinds(first_two)
    last = run(first_two.state, grant(C, when=2))
    assert kinds(last).count("StartRecording") == 1
    assert last.state.recording is RecordingStatus.ACTIVE
    again = run(last.state, grant(C, when=3))  # a duplicate answer changes nothing
    assert again.commands == () and again.records == ()


def test_a_grant_is_written_to_the_ledger_with_prompt_and_times() -> None:
    decision = run(connected(A).state, grant(A, when=4))
    (record,) = [r for r in decision.records if isinstance(r, fx.ConsentRecorded)]
    assert record == fx.ConsentRecorded(
        A, Consent.GRANTED, "dtmf", at(4), prompt=PROMPT, prompted_at=at(0), dtmf="one"
    )
    assert "WatchForWithdrawal" in kinds(decision)


def test_a_decline_leaves_the_call_unrecorded_by_default() -> None:
    decision = run(
        connected(A, B).state, grant(A), ev.RecognizeCompleted(at(2), fx.consent_context(B, 1), ("two",))
    )
    assert outcomes(decision) == [(A, "granted"), (B, "declined")]
    assert "StartRecording" not in kinds(decision)
    assert "HangUp" not in kinds(decision)


def test_a_decline_hangs_up_when_the_policy_says_so() -> None:
    policy = replace(POLICY, on_refusal=RefusalAction.HANG_UP)
    decision = run(
        connected(A).state, ev.RecognizeCompleted(at(1), fx.consent_context(A, 1), ("two",)), policy=policy
    )
    assert kinds(decision) == ["HangUp"]


def test_silence_reprompts_twice_then_records_no_response() -> None:
    state = connected(A).state
    first = run(state, silence(A, 1))
    assert [(c.raw_id, c.attempt) for c in first.commands if isinstance(c, fx.PromptParticipant)] == [(A, 2)]
    second = run(first.state, silence(A, 2))
    assert [(c.raw_id, c.attempt) for c in second.commands if isinstance(c, fx.PromptParticipant)] == [(A, 3)]
    third = run(second.state, silence(A, 3, when=30))
    assert third.commands == ()
    assert outcomes(third) == [(A, "no_response")]
    assert third.state.participant(A).consent is Consent.NO_RESPONSE  # type: ignore[union-attr]


def test_the_reprompt_count_is_configurable() -> None:
    policy = replace(POLICY, reprompts=0)
    decision = run(connected(A).state, silence(A, 1), policy=policy)
    assert outcomes(decision) == [(A, "no_response")]


def test_an_unmapped_key_counts_as_an_attempt_and_asks_again() -> None:
    decision = run(connected(A).state, ev.RecognizeCompleted(at(1), fx.consent_context(A, 1), ("five",)))
    assert kinds(decision) == ["PromptParticipant"]
    assert decision.records == ()


def test_custom_keys_map_to_consent() -> None:
    policy = replace(POLICY, grant_tone="five", decline_tone="six")
    decision = run(
        connected(A).state, ev.RecognizeCompleted(at(1), fx.consent_context(A, 1), ("five",)), policy=policy
    )
    assert outcomes(decision) == [(A, "granted")]


def test_an_answer_to_an_old_prompt_is_ignored() -> None:
    state = run(connected(A).state, silence(A, 1)).state  # now on attempt 2
    assert run(state, grant(A, attempt=1)).records == ()
    assert outcomes(run(state, grant(A, attempt=2))) == [(A, "granted")]


def test_foreign_operation_contexts_are_ignored() -> None:
    state = connected(A).state
    for context in ("", "something-else", "consent|x|" + A, "consent|1|4:+19999999999"):
        decision = decide(state, ev.RecognizeCompleted(at(1), context, ("one",)), POLICY)
        assert decision == Decision(state)


def test_exempt_identities_are_recorded_as_exempt_with_the_reason_and_not_prompted() -> None:
    decision = connected(A, "8:acs:agent")
    records = [r for r in decision.records if isinstance(r, fx.ConsentRecorded)]
    assert [(r.participant, r.outcome, r.reason) for r in records] == [
        ("8:acs:agent", "exempt", "agent-identity")
    ]
    assert [c.raw_id for c in decision.commands if isinstance(c, fx.PromptParticipant)] == [A]
    assert kinds(run(decision.state, grant(A))).count("StartRecording") == 1


def test_stale_participant_snapshots_are_ignored() -> None:
    state = connected(A).state
    assert decide(state, ev.ParticipantsUpdated(at(1), 1, (A, B)), POLICY) == Decision(state)


def test_a_late_joiner_is_prompted_only_once_acs_reports_the_pause() -> None:
    decision = decide(recording(A), ev.ParticipantsUpdated(at(5), 2, (A, B)), POLICY)
    assert kinds(decision) == ["PauseRecording"]
    accepted = decide(decision.state, ev.CommandDone(at(5), "PauseRecording"), POLICY)
    assert accepted.commands == ()  # ACS still says it records
    paused = decide(accepted.state, ev.RecordingStateChanged(at(5), "rec-1", False), POLICY)
    assert kinds(paused) == ["PromptParticipant"]
    resumed = decide(paused.state, grant(B, when=6), POLICY)
    assert "ResumeRecording" in kinds(resumed)
    assert resumed.state.recording is RecordingStatus.ACTIVE


def test_recording_resumes_when_an_unconsented_participant_leaves() -> None:
    paused = decide(recording(A), ev.ParticipantsUpdated(at(5), 2, (A, B)), POLICY)
    left = decide(paused.state, ev.ParticipantsUpdated(at(6), 3, (A,)), POLICY)
    assert kinds(left) == ["ResumeRecording"]


def test_a_participant_who_comes_back_without_answering_is_asked_again() -> None:
    state = decide(connected(A, B).state, ev.ParticipantsUpdated(at(2), 2, (A,)), POLICY).state
    back = decide(state, ev.ParticipantsUpdated(at(3), 3, (A, B)), POLICY)
    assert [(c.raw_id, c.attempt) for c in back.commands if isinstance(c, fx.PromptParticipant)] == [(B, 2)]


def test_someone_who_granted_left_and_came_back_can_still_withdraw() -> None:
    state = recording(A, B)
    left = decide(state, ev.ParticipantsUpdated(at(5), 2, (B,)), POLICY)
    back = decide(left.state, ev.ParticipantsUpdated(at(6), 3, (A, B)), POLICY)
    assert fx.WatchForWithdrawal(A) in back.commands
    assert not any(isinstance(c, fx.PromptParticipant) for c in back.commands)


def test_withdrawal_pauses_and_keeps_recording_paused_while_they_stay() -> None:
    tone = ev.ContinuousToneReceived(at(9), f"withdraw|{A}", "nine")
    withdrawn = decide(recording(A, B), tone, POLICY)
    assert kinds(withdrawn) == ["PauseRecording"]
    assert outcomes(withdrawn) == [(A, "withdrawn")]
    confirmed = (ev.CommandDone(at(9), "PauseRecording"), ev.RecordingStateChanged(at(9), "rec-1", False))
    paused = run(withdrawn.state, *confirmed).state
    still = decide(paused, ev.ParticipantsUpdated(at(10), 2, (A, B, C)), POLICY)
    assert kinds(still) == ["PromptParticipant"]
    assert "ResumeRecording" not in kinds(run(still.state, grant(C, when=11)))
    gone = run(still.state, grant(C, when=11), ev.ParticipantsUpdated(at(12), 3, (B, C)))
    assert "ResumeRecording" in kinds(gone)


def test_other_continuous_tones_do_nothing() -> None:
    tone = ev.ContinuousToneReceived(at(9), f"withdraw|{A}", "five")
    assert decide(recording(A), tone, POLICY).commands == ()


def test_disconnect_stops_recording_and_closes_open_consents() -> None:
    state = run(connected(A, B).state, grant(A)).state
    assert state.recording is RecordingStatus.NONE
    ended = decide(state, ev.CallDisconnected(at(20)), POLICY)
    assert outcomes(ended) == [(B, "no_response")]
    assert ended.state.phase is CallPhase.ENDED
    assert ended.commands == ()
    assert kinds(decide(recording(A), ev.CallDisconnected(at(20)), POLICY)) == ["StopRecording"]


def test_nothing_but_recording_reports_changes_an_ended_call() -> None:
    ended = decide(connected(A).state, ev.CallDisconnected(at(20)), POLICY).state
    for event in (grant(A), ev.ParticipantsUpdated(at(21), 9, (A, B)), ev.CallConnected(at(21), "x")):
        assert decide(ended, event, POLICY) == Decision(ended)


def test_recording_reports_become_segments_started_paused_resumed_stopped() -> None:
    state = run(connected(A).state, grant(A), ev.RecordingStarted(at(2), "rec-1")).state
    kinds_seen = []
    steps: list[ev.CallEvent] = [
        ev.RecordingStateChanged(at(3), "rec-1", True),
        ev.RecordingStateChanged(at(3), "rec-1", True),  # a repeat
        ev.ParticipantsUpdated(at(4), 2, (A, B)),  # a late joiner: we pause
        ev.CommandDone(at(4), "PauseRecording"),
        ev.RecordingStateChanged(at(4), "rec-1", False),
        grant(B, when=5),  # we resume
        ev.RecordingStateChanged(at(5), "rec-1", True),
    ]
    for event in steps:
        decision = decide(state, event, POLICY)
        kinds_seen += [r.kind for r in decision.records if isinstance(r, fx.SegmentRecorded)]
        state = decision.state
    state = decide(state, ev.CallDisconnected(at(9)), POLICY).state
    final = decide(state, ev.RecordingStateChanged(at(9), "rec-1", False), POLICY)
    kinds_seen += [r.kind for r in final.records if isinstance(r, fx.SegmentRecorded)]
    assert kinds_seen == ["started", "paused", "resumed", "stopped"]


def test_a_failed_start_marks_recording_failed_and_does_not_loop() -> None:
    state = run(connected(A).state, grant(A)).state
    failed = decide(state, ev.CommandFailed(at(3), "StartRecording", "403"), POLICY)
    assert failed.state.recording is RecordingStatus.FAILED
    assert decide(failed.state, ev.ParticipantsUpdated(at(4), 2, (A,)), POLICY).commands == ()


@pytest.mark.parametrize("context", ["consent|1|" + A, "withdraw|" + A])
def test_operation_contexts_round_trip(context: str) -> None:
    parsed = fx.parse_context(context)
    assert parsed is not None and parsed[2] == A

"""The closed-loop gate, event by event: what ACS reports and reads is enforced, whatever was commanded."""

from __future__ import annotations

from dataclasses import replace

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.consent import decide, new_inbound_call
from recorder.domain.model import CallPhase, CallState, Consent, RecordingStatus, RefusalAction
from recorder.domain.overdue import overdue_answer
from tests.unit.test_consent import (
    POLICY,
    PROMPT,
    A,
    B,
    at,
    connected,
    grant,
    kinds,
    outcomes,
    recording,
    run,
)

CALLEE, APP = "4:+18005550100", "8:acs:app"


def incidents(decision: object) -> list[str]:
    return [r.kind for r in getattr(decision, "records", ()) if isinstance(r, fx.Incident)]


def paused_for(newcomer: str) -> CallState:
    """Recording, then a newcomer: the pause is commanded and accepted, ACS has not reported it yet."""
    state = run(recording(A), ev.ParticipantsUpdated(at(5), 2, (A, newcomer))).state
    return run(state, ev.CommandDone(at(5), "PauseRecording")).state


def test_the_callee_and_the_identity_that_answered_are_the_service_never_asked_never_in_the_ledger() -> None:
    start = new_inbound_call("c", "s", "ctx", "en-US", callee=CALLEE).state
    decision = run(
        start,
        ev.CallAnswered(at(0), "conn", (APP,)),
        ev.CallConnected(at(0), "conn"),
        ev.ParticipantsUpdated(at(0), 1, (CALLEE, APP, A)),
    )
    assert [c.raw_id for c in decision.commands if isinstance(c, fx.PromptParticipant)] == [A]
    assert outcomes(decision) == []
    consent = {p.raw_id: p.consent for p in decision.state.participants}
    assert consent == {CALLEE: Consent.SERVICE, APP: Consent.SERVICE, A: Consent.PROMPTED}
    assert "StartRecording" in kinds(run(decision.state, grant(A)))


def test_configured_own_identities_are_the_service_too() -> None:
    policy = replace(POLICY, own_identities=frozenset({"8:acs:bot"}))
    decision = run(connected().state, ev.ParticipantsUpdated(at(1), 2, ("8:acs:bot", A)), policy=policy)
    assert [c.raw_id for c in decision.commands if isinstance(c, fx.PromptParticipant)] == [A]


def test_an_identity_learned_later_stops_being_asked() -> None:
    state = connected(A, APP).state
    learned = decide(state, ev.StateRead(at(2), connected=True, own_identities=(APP,)), POLICY)
    assert learned.state.participant(APP).consent is Consent.SERVICE  # type: ignore[union-attr]
    assert "StartRecording" in kinds(run(learned.state, grant(A)))


def test_acs_reporting_the_recording_active_while_someone_lacks_consent_pauses_it_again() -> None:
    state = run(paused_for(B), ev.RecordingStateChanged(at(6), "rec-1", False)).state
    resumed_by_acs = decide(state, ev.RecordingStateChanged(at(7), "rec-1", True), POLICY)
    assert kinds(resumed_by_acs) == ["PauseRecording"]
    assert "recording_reported_active" in incidents(resumed_by_acs)


def test_the_newcomer_is_asked_once_acs_reports_the_pause_and_not_while_it_may_record() -> None:
    state = paused_for(B)
    assert not any(isinstance(c, fx.PromptParticipant) for c in run(state).commands)
    reported = decide(state, ev.RecordingStateChanged(at(6), "rec-1", False), POLICY)
    assert kinds(reported) == ["PromptParticipant"]


def test_a_read_that_still_says_active_after_our_pause_was_accepted_pauses_again() -> None:
    read = ev.StateRead(at(8), connected=True, recording_id="rec-1", recording="active")
    assert kinds(decide(paused_for(B), read, POLICY)) == ["PauseRecording"]


def test_a_read_asked_before_acs_accepted_our_pause_does_not_contradict_it() -> None:
    pausing = run(recording(A), ev.ParticipantsUpdated(at(5), 2, (A, B))).state
    accepted = run(pausing, ev.CommandDone(at(7), "PauseRecording")).state
    asked_before = ev.StateRead(at(6), connected=True, recording_id="rec-1", recording="active")
    decision = decide(accepted, asked_before, POLICY)
    assert kinds(decision) == [] and incidents(decision) == []
    asked_after = ev.StateRead(at(8), connected=True, recording_id="rec-1", recording="active")
    assert kinds(decide(decision.state, asked_after, POLICY)) == ["PauseRecording"]


def test_a_read_saying_inactive_settles_a_lost_report_and_the_newcomer_is_asked() -> None:
    read = ev.StateRead(at(8), connected=True, recording_id="rec-1", recording="inactive")
    decision = decide(paused_for(B), read, POLICY)
    assert kinds(decision) == ["PromptParticipant"]
    assert [r.kind for r in decision.records if isinstance(r, fx.SegmentRecorded)] == ["paused"]


def test_recording_reports_apply_by_acs_time_and_an_older_one_is_evidence_only() -> None:
    state = run(paused_for(B), ev.RecordingStateChanged(at(6), "rec-1", False)).state
    older = decide(state, ev.RecordingStateChanged(at(3), "rec-1", True, at(3)), POLICY)
    assert older.state.recording_reported == "inactive"
    assert older.commands == ()
    assert [r.kind for r in older.records if isinstance(r, fx.SegmentRecorded)] == ["resumed"]


def test_a_pause_that_fails_for_good_stops_the_recording_and_hangs_up_when_the_policy_says_so() -> None:
    failed = ev.CommandFailed(at(6), "PauseRecording", "ACS answered 500")
    stopped = decide(paused_for(B), failed, POLICY)
    assert kinds(stopped) == ["StopRecording"]
    assert stopped.state.recording is RecordingStatus.STOPPED
    policy = replace(POLICY, on_refusal=RefusalAction.HANG_UP)
    assert kinds(decide(paused_for(B), failed, policy)) == ["StopRecording", "HangUp"]


def test_a_stop_that_fails_while_someone_unconsented_may_be_recorded_ends_the_call() -> None:
    stopping = decide(paused_for(B), ev.CommandFailed(at(6), "PauseRecording", "500"), POLICY).state
    stopping = replace(stopping, recording_reported="active")
    assert kinds(decide(stopping, ev.CommandFailed(at(7), "StopRecording", "500"), POLICY)) == ["HangUp"]


def test_a_start_reported_failed_that_acs_did_start_is_adopted_and_paused_for_a_newcomer() -> None:
    state = run(connected(A).state, grant(A), ev.CommandFailed(at(2), "StartRecording", "500")).state
    assert state.recording is RecordingStatus.FAILED
    adopted = run(state, ev.RecordingStateChanged(at(3), "rec-9", True)).state
    assert (adopted.recording, adopted.recording_id) == (RecordingStatus.ACTIVE, "rec-9")
    assert kinds(decide(adopted, ev.ParticipantsUpdated(at(4), 2, (A, B)), POLICY)) == ["PauseRecording"]


def test_start_recording_failed_is_kept_as_an_incident() -> None:
    state = run(connected(A).state, grant(A), ev.RecordingStarted(at(2), "rec-1")).state
    failed = decide(state, ev.StartRecordingFailed(at(3), "rec-1"), POLICY)
    assert failed.state.recording is RecordingStatus.FAILED
    assert incidents(failed) == ["start_recording_failed"]


def test_an_update_without_a_sequence_number_pauses_reads_and_resumes_once_read() -> None:
    unordered = ev.ParticipantsUpdated(at(5), None, (A, B))
    held = decide(recording(A), unordered, POLICY)
    assert kinds(held) == ["PauseRecording", "ReadCallState"]
    assert held.state.participants_unclear
    assert decide(held.state, unordered, POLICY).commands == ()  # a read is on its way already
    read = ev.StateRead(at(6), connected=True, participants=(A,), recording_id="rec-1", recording="inactive")
    settled = run(held.state, ev.CommandDone(at(5), "PauseRecording"), read)
    assert not settled.state.participants_unclear
    assert "ResumeRecording" in kinds(settled)


def test_an_update_with_an_unreadable_identifier_fails_safe_too() -> None:
    held = decide(recording(A), ev.ParticipantsUpdated(at(5), 2, (A,), unreadable=1), POLICY)
    assert kinds(held) == ["PauseRecording", "ReadCallState"]


def test_a_read_of_a_call_acs_no_longer_knows_ends_it() -> None:
    ended = decide(recording(A), ev.StateRead(at(9), connected=False), POLICY)
    assert ended.state.phase is CallPhase.ENDED
    assert "StopRecording" in kinds(ended)


def test_a_read_showing_a_newcomer_the_callbacks_missed_pauses() -> None:
    read = ev.StateRead(at(9), connected=True, participants=(A, B))
    decision = decide(recording(A), read, POLICY)
    assert kinds(decision) == ["PauseRecording"]
    assert "participants_read" in incidents(decision)


def test_a_callback_older_than_the_list_we_read_is_ignored() -> None:
    state = decide(recording(A), ev.StateRead(at(9), connected=True, participants=(A, B)), POLICY).state
    stale = ev.ParticipantsUpdated(at(10), 5, (A,), reported_at=at(8))
    assert decide(state, stale, POLICY).state.participant(B).present  # type: ignore[union-attr]


def test_a_recognition_acs_cancelled_is_asked_again() -> None:
    cancelled = decide(connected(A).state, ev.RecognizeCanceled(at(1), fx.consent_context(A, 1)), POLICY)
    assert [(c.raw_id, c.attempt) for c in cancelled.commands if isinstance(c, fx.PromptParticipant)] == [
        (A, 2)
    ]


def test_a_prompt_acs_refused_for_good_is_asked_again_then_given_up() -> None:
    state = connected(A).state
    for attempt in (1, 2, 3):
        failed = decide(state, ev.CommandFailed(at(attempt), "PromptParticipant", "400", A, attempt), POLICY)
        state = failed.state
    assert outcomes(failed) == [(A, "no_response")]
    assert state.participant(A).consent is Consent.NO_RESPONSE  # type: ignore[union-attr]


def test_a_withheld_prompt_is_asked_again_without_counting_an_attempt() -> None:
    withheld = decide(connected(A).state, ev.PromptWithheld(at(1), A, 1), POLICY)
    p = withheld.state.participant(A)
    assert p is not None and (p.consent, p.attempts) == (Consent.PROMPTED, 1)
    assert [(c.raw_id, c.attempt) for c in withheld.commands if isinstance(c, fx.PromptParticipant)] == [
        (A, 2)
    ]


def test_only_the_head_of_the_media_queue_is_judged_and_from_its_turn() -> None:
    state = connected(A, B).state  # both prompted at 0: A first
    wait = POLICY.silence_timeout_seconds + POLICY.answer_margin_seconds
    assert overdue_answer(state, at(wait - 1), POLICY) is None
    assert overdue_answer(state, at(wait), POLICY) == ev.AnswerOverdue(at(wait), A, 1)
    moved = replace(state, media_turn_at=at(5))
    assert overdue_answer(moved, at(wait + 1), POLICY) is None
    assert overdue_answer(replace(state, phase=CallPhase.ENDED), at(99), POLICY) is None


def test_an_overdue_answer_is_asked_again_and_the_next_in_the_queue_gets_its_turn() -> None:
    state = connected(A, B).state
    decision = decide(state, ev.AnswerOverdue(at(30), A, 1), POLICY)
    assert [(c.raw_id, c.attempt) for c in decision.commands if isinstance(c, fx.PromptParticipant)] == [
        (A, 2)
    ]
    assert decision.state.media_turn_at == at(30)
    assert (
        decide(decision.state, ev.AnswerOverdue(at(31), A, 1), POLICY).commands == ()
    )  # already asked again


def test_someone_who_granted_and_rejoins_is_listened_to_again_without_being_asked() -> None:
    left = run(recording(A, B), ev.ParticipantsUpdated(at(5), 2, (B,))).state
    back = decide(left, ev.ParticipantsUpdated(at(6), 3, (A, B)), POLICY)
    assert back.commands == (fx.WatchForWithdrawal(A),)


# -- what the audit keeps, and the bookkeeping the gate relies on (found by mutation testing) --------------


def test_each_incident_says_what_failed_why_and_when() -> None:
    failed = decide(connected(A).state, ev.CommandFailed(at(1), "PromptParticipant", "400", A, 1), POLICY)
    assert fx.Incident("PromptParticipant_failed", "400", at(1)) in failed.records
    refused = decide(recording(A), ev.CommandFailed(at(4), "HangUp", "ACS answered 500"), POLICY)
    assert refused.records == (fx.Incident("HangUp_failed", "ACS answered 500", at(4)),)
    unordered = decide(recording(A), ev.ParticipantsUpdated(at(5), None, (A,)), POLICY)
    assert fx.Incident("participants_unclear", "a participant update with no sequenceNumber", at(5)) in (
        unordered.records
    )
    unreadable = decide(recording(A), ev.ParticipantsUpdated(at(5), 2, (A,), unreadable=2), POLICY)
    assert fx.Incident("participants_unclear", "a participant update with 2 unreadable", at(5)) in (
        unreadable.records
    )
    overdue = decide(connected(A).state, ev.AnswerOverdue(at(9), A, 1), POLICY)
    assert overdue.records[0] == fx.Incident("answer_overdue", "no outcome for prompt 1", at(9))
    started = run(connected(A).state, grant(A), ev.RecordingStarted(at(2), "rec-1")).state
    gone = decide(started, ev.StartRecordingFailed(at(3), "rec-1"), POLICY)
    assert gone.records == (fx.Incident("start_recording_failed", "recording rec-1", at(3)),)


def test_a_failed_recording_command_is_no_longer_in_flight() -> None:
    state = paused_for(B)
    assert state.recording_pending == 0
    pausing = run(state, ev.RecordingStateChanged(at(6), "rec-1", True)).state  # ACS says active: pause again
    assert pausing.recording_pending == 1
    failed = decide(pausing, ev.CommandFailed(at(7), "PauseRecording", "500"), POLICY)
    assert failed.state.recording_pending == 1  # the pause is no longer in flight; the stop now is
    started = run(connected(A).state, grant(A)).state
    assert started.recording_pending == 1
    assert (
        decide(started, ev.CommandFailed(at(2), "StartRecording", "500"), POLICY).state.recording_pending == 0
    )


def test_a_start_recording_failed_for_another_recording_changes_nothing_but_is_kept() -> None:
    state = run(connected(A).state, grant(A), ev.RecordingStarted(at(2), "rec-1")).state
    other = decide(state, ev.StartRecordingFailed(at(3), "rec-other"), POLICY)
    assert other.state.recording is RecordingStatus.ACTIVE
    reported = run(state, ev.RecordingStateChanged(at(2), "rec-1", True)).state
    assert (
        decide(reported, ev.StartRecordingFailed(at(3), "rec-1"), POLICY).state.recording
        is RecordingStatus.ACTIVE
    )


def test_a_rejoin_keeps_answers_given_and_starts_a_new_round_for_the_rest() -> None:
    state = run(
        connected(A, B).state, grant(A), ev.RecognizeFailed(at(1), fx.consent_context(B, 1), 8511)
    ).state
    left = decide(state, ev.ParticipantsUpdated(at(2), 2, ()), POLICY).state
    back = decide(left, ev.ParticipantsUpdated(at(3), 3, (A, B)), POLICY).state
    a, b = back.participant(A), back.participant(B)
    assert a is not None and (a.present, a.consent) == (True, Consent.GRANTED)
    assert b is not None and (b.present, b.consent, b.attempts) == (True, Consent.PROMPTED, 1)


def test_an_outbound_call_knows_the_number_it_calls_from_as_itself() -> None:
    from recorder.domain.consent import new_connected_call, new_outbound_call

    placed = new_outbound_call("c-1", "4:+14255550999", "+18005550123", "fr-FR")
    assert (placed.state.call_id, placed.state.locale) == ("c-1", "fr-FR")
    assert placed.state.own_identities == frozenset({"4:+18005550123"})
    assert new_outbound_call("c-2", "4:+14255550999", None, "en-US").state.own_identities == frozenset()
    joined = new_connected_call("c-3", "server-3", "en-US")
    assert (joined.state.call_id, joined.state.server_call_id, joined.state.locale) == (
        "c-3",
        "server-3",
        "en-US",
    )


def test_a_withheld_prompt_gives_back_exactly_one_attempt_and_only_for_its_own_prompt() -> None:
    second = run(connected(A).state, ev.RecognizeFailed(at(1), fx.consent_context(A, 1), 8510)).state
    withheld = decide(second, ev.PromptWithheld(at(2), A, 2), POLICY)
    p = withheld.state.participant(A)
    assert p is not None and (p.attempts, p.prompts_sent) == (2, 3)
    assert decide(second, ev.PromptWithheld(at(2), A, 1), POLICY).commands == ()  # not the current prompt
    granted = run(connected(A).state, grant(A)).state
    assert decide(granted, ev.PromptWithheld(at(2), A, 1), POLICY).state == granted


def test_no_response_after_the_last_attempt_is_recorded_with_how_and_when() -> None:
    state = connected(A).state
    for attempt in (1, 2):
        state = decide(
            state, ev.RecognizeFailed(at(attempt), fx.consent_context(A, attempt), 8510), POLICY
        ).state
    last = decide(state, ev.RecognizeFailed(at(7), fx.consent_context(A, 3), 8510), POLICY)
    (record,) = [r for r in last.records if isinstance(r, fx.ConsentRecorded)]
    assert (record.outcome, record.method, record.decided_at, record.dtmf) == (
        "no_response",
        "timeout",
        at(7),
        None,
    )


def test_the_head_of_the_queue_is_the_earliest_prompt_still_unanswered() -> None:
    state = connected(A, B).state  # both asked at 0, A first
    a, b = state.participant(A), state.participant(B)
    assert a is not None and b is not None
    wait = POLICY.silence_timeout_seconds + POLICY.answer_margin_seconds
    b_first = replace(state, participants=(*state.participants[:-2], replace(a, prompted_at=at(3)), b))
    assert overdue_answer(b_first, at(wait), POLICY) == ev.AnswerOverdue(at(wait), B, 1)
    a_answered = replace(
        state, participants=(*state.participants[:-2], replace(a, consent=Consent.GRANTED), b)
    )
    assert overdue_answer(a_answered, at(wait), POLICY) == ev.AnswerOverdue(at(wait), B, 1)


def test_a_read_settles_an_unclear_update_even_when_nothing_changed_or_it_is_older() -> None:
    held = decide(recording(A), ev.ParticipantsUpdated(at(5), None, (A,)), POLICY).state
    same = decide(held, ev.StateRead(at(6), connected=True, participants=(A,)), POLICY).state
    assert not same.participants_unclear
    older = replace(held, participants_at=at(9))
    assert not decide(
        older, ev.StateRead(at(6), connected=True, participants=(A, B)), POLICY
    ).state.participants_unclear
    same_time = decide(recording(A), ev.StateRead(at(0), connected=True, participants=(A, B)), POLICY)
    assert same_time.state.participant(B) is None  # taken when the last list was: not newer, not applied


def test_a_recording_acs_no_longer_knows_is_stopped_and_a_call_it_no_longer_knows_ends() -> None:
    gone = decide(
        recording(A), ev.StateRead(at(9), connected=True, recording_id="rec-1", recording="gone"), POLICY
    )
    assert gone.state.recording is RecordingStatus.STOPPED
    assert gone.records[:2] == (
        fx.Incident("recording_gone", "ACS no longer knows the recording", at(9)),
        fx.SegmentRecorded("stopped", "rec-1", at(9)),
    )
    other = ev.StateRead(at(9), connected=True, recording_id="rec-other", recording="gone")
    assert decide(recording(A), other, POLICY).records == ()
    never = ev.StateRead(at(9), connected=True, recording_id="rec-1", recording="gone")
    assert decide(connected(A).state, never, POLICY).state.recording is RecordingStatus.NONE
    ended = decide(recording(A), ev.StateRead(at(9), connected=False), POLICY)
    assert ended.records[0] == fx.Incident("call_gone", "ACS no longer knows the call", at(9))
    found = decide(
        paused_for(B), ev.StateRead(at(9), connected=True, recording_id="rec-1", recording="active"), POLICY
    )
    assert found.state.recording_reported_at == at(9)


def test_ledger_rows_carry_how_when_and_which_prompt() -> None:
    state = connected(A, B).state
    ended = decide(run(state, grant(A)).state, ev.CallDisconnected(at(20)), POLICY)
    (row,) = [r for r in ended.records if isinstance(r, fx.ConsentRecorded)]
    assert row == fx.ConsentRecorded(
        B, Consent.NO_RESPONSE, "call_ended", at(20), prompt=PROMPT, prompted_at=at(0)
    )
    left = decide(state, ev.ParticipantsUpdated(at(3), 2, (A,)), POLICY).state  # B left while being asked
    closed = decide(left, ev.CallDisconnected(at(20)), POLICY).records
    assert [r.participant for r in closed if isinstance(r, fx.ConsentRecorded)] == [A, B]
    for attempt in (1, 2):
        state = decide(state, ev.RecognizeCanceled(at(attempt), fx.consent_context(A, attempt)), POLICY).state
    last = decide(state, ev.RecognizeCanceled(at(5), fx.consent_context(A, 3)), POLICY)
    (given_up,) = [r for r in last.records if isinstance(r, fx.ConsentRecorded)]
    assert (given_up.method, given_up.decided_at, given_up.prompt) == ("recognize_canceled", at(5), PROMPT)
    assert last.state.media_turn_at == at(5)
    withdrawn = decide(recording(A), ev.ContinuousToneReceived(at(9), f"withdraw|{A}", "nine"), POLICY)
    (row,) = [r for r in withdrawn.records if isinstance(r, fx.ConsentRecorded)]
    assert (row.outcome, row.method, row.decided_at, row.prompt, row.dtmf) == (
        "withdrawn",
        "dtmf",
        at(9),
        PROMPT,
        "nine",
    )
    prompts = [c for c in connected(A).commands if isinstance(c, fx.PromptParticipant)]
    assert prompts == [fx.PromptParticipant(A, 1, PROMPT, POLICY.silence_timeout_seconds)]

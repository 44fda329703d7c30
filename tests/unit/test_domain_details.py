"""The consent domain's less travelled paths, event by event: failures of our own commands, reads of ACS,
late and stray callbacks, and what the ledger, the audit incidents and the call view keep of them.

Written against the mutants mutation testing left alive (README, "How the gate is tested"); each test
states what a user of the service relies on.
"""

from __future__ import annotations

from dataclasses import replace

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.consent import decide, new_inbound_call, new_outbound_call
from recorder.domain.model import (
    CallPhase,
    CallState,
    Consent,
    Prompt,
    RecordingStatus,
    RefusalAction,
)
from recorder.domain.overdue import overdue_answer
from tests.unit.test_closed_loop_domain import APP, paused_for
from tests.unit.test_consent import (
    POLICY,
    PROMPT,
    A,
    B,
    C,
    at,
    connected,
    grant,
    kinds,
    recording,
    run,
)

AGENT = "8:acs:agent"  # exempt in POLICY


def prompted(decision: object) -> list[tuple[str, int]]:
    commands = getattr(decision, "commands", ())
    return [(c.raw_id, c.attempt) for c in commands if isinstance(c, fx.PromptParticipant)]


def ledger(decision: object) -> list[fx.ConsentRecorded]:
    return [r for r in getattr(decision, "records", ()) if isinstance(r, fx.ConsentRecorded)]


def asked_again_after_acs_paused(state: CallState) -> CallState:
    """``paused_for(B)`` once ACS has reported the pause: B has been prompted."""
    return run(state, ev.RecordingStateChanged(at(6), "rec-1", False)).state


# -- our recording commands failing for good ------------------------------------------------------------


def test_every_recording_command_that_fails_for_good_is_an_incident_with_its_reason_and_time() -> None:
    starting = run(connected(A).state, grant(A)).state
    start = decide(starting, ev.CommandFailed(at(3), "StartRecording", "403"), POLICY)
    assert start.records == (fx.Incident("StartRecording_failed", "403", at(3)),)
    pause = decide(paused_for(B), ev.CommandFailed(at(6), "PauseRecording", "500"), POLICY)
    assert pause.records == (fx.Incident("PauseRecording_failed", "500", at(6)),)
    stopping = run(recording(A), ev.StopRequested(at(5), "key:app")).state
    stop = decide(stopping, ev.CommandFailed(at(6), "StopRecording", "500"), POLICY)
    assert stop.records == (fx.Incident("StopRecording_failed", "500", at(6)),)
    assert stop.commands == ()  # everyone present agreed: nobody is recorded against their will


def test_a_stop_that_fails_while_someone_unconsented_may_be_recorded_hangs_up_and_says_why() -> None:
    stopping = decide(paused_for(B), ev.CommandFailed(at(6), "PauseRecording", "500"), POLICY).state
    stopping = replace(stopping, recording_reported="active")
    failed = decide(stopping, ev.CommandFailed(at(7), "StopRecording", "500"), POLICY)
    assert kinds(failed) == ["HangUp"]
    assert failed.records == (fx.Incident("StopRecording_failed", "500", at(7)),)


def test_a_stop_that_fails_while_acs_records_nobody_leaves_the_call_up() -> None:
    state = asked_again_after_acs_paused(paused_for(B))  # B is being asked; ACS reported the pause
    stopping = decide(state, ev.StopRequested(at(7), "key:app"), POLICY).state
    failed = decide(stopping, ev.CommandFailed(at(8), "StopRecording", "500"), POLICY)
    assert failed.commands == ()
    assert failed.records == (fx.Incident("StopRecording_failed", "500", at(8)),)


def test_a_resume_that_fails_for_good_leaves_the_call_unrecorded_and_said_so() -> None:
    state = asked_again_after_acs_paused(paused_for(B))
    resuming = decide(state, grant(B, when=7), POLICY)
    assert "ResumeRecording" in kinds(resuming)
    failed = decide(resuming.state, ev.CommandFailed(at(8), "ResumeRecording", "500"), POLICY)
    assert failed.commands == ()
    assert failed.records == (fx.Incident("ResumeRecording_failed", "500", at(8)),)
    assert failed.state.recording is RecordingStatus.FAILED
    # nothing records now: a newcomer is asked straight away, with no pause sent for a recording not running
    newcomer = decide(failed.state, ev.ParticipantsUpdated(at(9), 3, (A, B, C)), POLICY)
    assert kinds(newcomer) == ["PromptParticipant"]
    assert "ResumeRecording" not in kinds(run(newcomer.state, grant(C, when=10)))


def test_a_pause_that_fails_before_the_recording_ever_started_stops_nothing_and_hangs_up_nobody() -> None:
    policy = replace(POLICY, on_refusal=RefusalAction.HANG_UP)
    starting = run(connected(A).state, grant(A), policy=policy).state  # the start is still in flight
    pausing = decide(starting, ev.ParticipantsUpdated(at(2), 2, (A, B)), policy)
    assert kinds(pausing) == ["PauseRecording"]
    never = ev.CommandFailed(at(3), "PauseRecording", "no recording to change: it never started")
    failed = decide(pausing.state, never, policy)
    assert failed.commands == ()
    assert failed.records == (fx.Incident("PauseRecording_failed", never.reason, at(3)),)


def test_nobody_is_asked_while_any_recording_command_is_still_in_flight() -> None:
    starting = run(connected(A).state, grant(A)).state
    pausing = decide(starting, ev.ParticipantsUpdated(at(2), 2, (A, B)), POLICY)
    assert kinds(pausing) == ["PauseRecording"]  # the start and the pause are both in flight
    for start_answered in (
        ev.RecordingStarted(at(3), "rec-1"),
        ev.CommandFailed(at(3), "StartRecording", "500"),
    ):
        answered = decide(pausing.state, start_answered, POLICY)
        assert prompted(answered) == []  # the pause is still in flight: ACS may still record B
        done = decide(answered.state, ev.CommandDone(at(4), "PauseRecording"), POLICY)
        assert prompted(done) == [(B, 1)]


def test_a_start_reported_failed_after_acs_started_it_is_not_given_up() -> None:
    state = run(
        connected(A).state,
        grant(A),
        ev.RecordingStateChanged(at(2), "rec-1", True),  # ACS started it; our command's answer is late
        ev.ParticipantsUpdated(at(3), 2, (A, B)),
        ev.CommandDone(at(3), "PauseRecording"),
        ev.RecordingStateChanged(at(4), "rec-1", False),
    ).state
    failed = decide(state, ev.CommandFailed(at(5), "StartRecording", "timeout"), POLICY)
    assert failed.state.recording is RecordingStatus.PAUSED
    assert prompted(failed) == [(B, 1)]
    assert "ResumeRecording" in kinds(decide(failed.state, grant(B, when=6), POLICY))


def test_acs_recording_again_after_our_pause_is_paused_again_and_resumed_once_everyone_agrees() -> None:
    state = asked_again_after_acs_paused(paused_for(B))
    again = decide(state, ev.RecordingStateChanged(at(7), "rec-1", True), POLICY)
    assert kinds(again) == ["PauseRecording"]
    assert fx.Incident("recording_reported_active", "ACS reports recording; paused again", at(7)) in (
        again.records
    )
    confirmed = run(
        again.state, ev.CommandDone(at(8), "PauseRecording"), ev.RecordingStateChanged(at(8), "rec-1", False)
    )
    assert "ResumeRecording" in kinds(decide(confirmed.state, grant(B, when=9), POLICY))


def test_acs_recording_again_after_our_stop_is_stopped_again_and_said_so() -> None:
    stopped = run(recording(A), ev.StopRequested(at(5), "key:app"), ev.CommandDone(at(5), "StopRecording"))
    again = decide(stopped.state, ev.RecordingStateChanged(at(6), "rec-1", True), POLICY)
    assert kinds(again) == ["StopRecording"]
    assert again.state.recording is RecordingStatus.STOPPED
    assert fx.Incident("recording_reported_active", "ACS reports recording; stopped again", at(6)) in (
        again.records
    )


def test_a_start_failure_reported_for_another_recording_is_kept_as_an_incident() -> None:
    state = run(connected(A).state, grant(A), ev.RecordingStarted(at(2), "rec-1")).state
    other = decide(state, ev.StartRecordingFailed(at(3), "rec-other"), POLICY)
    assert other.records == (fx.Incident("start_recording_failed", "recording rec-other", at(3)),)


# -- failures of the other commands ---------------------------------------------------------------------


def test_a_call_that_cannot_be_answered_or_placed_ends_as_failed_with_the_reason() -> None:
    inbound = new_inbound_call("call-1", "server-1", "ctx", "en-US").state
    refused = decide(inbound, ev.CommandFailed(at(1), "AnswerCall", "ACS answered 400"), POLICY)
    assert refused.state.phase is CallPhase.ENDED
    assert refused.records == (fx.CallEnded(at(1), "AnswerCall failed: ACS answered 400", failed=True),)
    outbound = new_outbound_call("call-2", A, "+18005550100", "en-US").state
    unplaced = decide(outbound, ev.CommandFailed(at(1), "CreateCall", "ACS answered 403"), POLICY)
    assert unplaced.state.phase is CallPhase.ENDED
    assert unplaced.records == (fx.CallEnded(at(1), "CreateCall failed: ACS answered 403", failed=True),)


def test_a_prompt_failure_for_someone_who_answered_left_or_is_unknown_only_becomes_an_incident() -> None:
    granted = run(connected(A, B).state, grant(A)).state
    late = decide(granted, ev.CommandFailed(at(2), "PromptParticipant", "timeout", A, 1), POLICY)
    assert late.state == granted
    assert late.records == (fx.Incident("PromptParticipant_failed", "timeout", at(2)),)
    left = run(granted, ev.ParticipantsUpdated(at(3), 2, (A,))).state  # B left while being asked
    assert decide(left, ev.CommandFailed(at(4), "PromptParticipant", "400", B, 1), POLICY).state == left
    unknown = ev.CommandFailed(at(4), "PromptParticipant", "400", "4:+19999999999", 1)
    assert decide(granted, unknown, POLICY).state == granted


def test_giving_up_after_prompts_acs_refused_is_in_the_ledger_with_how_and_when() -> None:
    state = connected(A).state
    for attempt in (1, 2):
        state = decide(
            state, ev.CommandFailed(at(attempt), "PromptParticipant", "400", A, attempt), POLICY
        ).state
    last = decide(state, ev.CommandFailed(at(7), "PromptParticipant", "400", A, 3), POLICY)
    (row,) = ledger(last)
    assert (row.outcome, row.method, row.decided_at, row.prompt) == (
        "no_response",
        "prompt_failed",
        at(7),
        PROMPT,
    )


# -- answers, keys and the media queue ------------------------------------------------------------------


def test_a_wrong_key_on_the_last_attempt_is_no_response_with_the_key_pressed() -> None:
    policy = replace(POLICY, reprompts=0)
    wrong = ev.RecognizeCompleted(at(4), fx.consent_context(A, 1), ("five",))
    (row,) = ledger(run(connected(A).state, wrong, policy=policy))
    assert row == fx.ConsentRecorded(
        A, Consent.NO_RESPONSE, "dtmf", at(4), prompt=PROMPT, prompted_at=at(0), dtmf="five"
    )


def test_a_recognition_completed_without_a_key_asks_again_then_gives_up_without_one() -> None:
    empty = ev.RecognizeCompleted(at(4), fx.consent_context(A, 1), ())
    assert prompted(decide(connected(A).state, empty, POLICY)) == [(A, 2)]
    (row,) = ledger(run(connected(A).state, empty, policy=replace(POLICY, reprompts=0)))
    assert (row.outcome, row.method, row.dtmf) == ("no_response", "dtmf", None)


def test_a_recognition_that_failed_other_than_by_silence_is_recorded_as_such() -> None:
    failed = ev.RecognizeFailed(at(4), fx.consent_context(A, 1), 8511)
    (row,) = ledger(run(connected(A).state, failed, policy=replace(POLICY, reprompts=0)))
    assert (row.outcome, row.method, row.decided_at) == ("no_response", "recognize_failed", at(4))


def test_the_next_prompt_in_the_media_queue_is_judged_from_when_the_one_before_was_answered() -> None:
    state = run(connected(A, B).state, grant(A, when=25)).state  # both asked at 0; B waited behind A
    wait = POLICY.silence_timeout_seconds + POLICY.answer_margin_seconds
    assert overdue_answer(state, at(25 + wait - 1), POLICY) is None
    assert overdue_answer(state, at(25 + wait), POLICY) == ev.AnswerOverdue(at(25 + wait), B, 1)


def test_an_overdue_answer_for_someone_who_answered_left_or_is_unknown_changes_nothing() -> None:
    granted = run(connected(A, B).state, grant(A)).state
    assert decide(granted, ev.AnswerOverdue(at(30), A, 1), POLICY).state == granted
    left = run(granted, ev.ParticipantsUpdated(at(3), 2, (A,))).state  # B left while being asked
    assert decide(left, ev.AnswerOverdue(at(30), B, 1), POLICY).state == left
    assert decide(granted, ev.AnswerOverdue(at(30), "4:+19999999999", 1), POLICY).state == granted


def test_giving_up_on_overdue_answers_is_in_the_ledger_with_how_and_when() -> None:
    state = connected(A).state
    for attempt in (1, 2):
        state = decide(state, ev.AnswerOverdue(at(30 * attempt), A, attempt), POLICY).state
    last = decide(state, ev.AnswerOverdue(at(90), A, 3), POLICY)
    (row,) = ledger(last)
    assert (row.outcome, row.method, row.decided_at, row.prompted_at) == (
        "no_response",
        "no_outcome",
        at(90),
        at(60),
    )


def test_each_call_is_asked_in_its_own_language_or_else_the_default_one() -> None:
    french = Prompt("consent", "3", "fr-FR", text="Tapez 1 pour accepter, 2 pour refuser.")
    policy = replace(POLICY, prompts={"en-US": PROMPT, "fr-FR": french})

    def prompt_heard(locale: str) -> Prompt:
        start = new_inbound_call("call-1", "server-1", "ctx", locale).state
        joined = run(
            start,
            ev.CallAnswered(at(0), "conn-1"),
            ev.CallConnected(at(0), "conn-1"),
            ev.ParticipantsUpdated(at(0), 1, (A,)),
            policy=policy,
        )
        (command,) = [c for c in joined.commands if isinstance(c, fx.PromptParticipant)]
        return command.prompt

    assert prompt_heard("fr-FR") == french
    assert prompt_heard("de-DE") == PROMPT


# -- withdrawal ------------------------------------------------------------------------------------------


def test_tones_heard_outside_a_withdrawal_watch_withdraw_nobody() -> None:
    state = recording(A)
    for context in ("", "something-else", fx.consent_context(A, 1), "withdraw|"):
        tone = ev.ContinuousToneReceived(at(9), context, "nine")
        assert decide(state, tone, POLICY).state == state


def test_a_withdrawal_is_in_the_ledger_with_the_prompt_it_answered() -> None:
    withdrawn = decide(recording(A), ev.ContinuousToneReceived(at(9), f"withdraw|{A}", "nine"), POLICY)
    assert ledger(withdrawn) == [
        fx.ConsentRecorded(A, Consent.WITHDRAWN, "dtmf", at(9), prompt=PROMPT, prompted_at=at(0), dtmf="nine")
    ]


def test_someone_who_withdrew_left_and_came_back_is_not_asked_again_and_keeps_the_call_paused() -> None:
    tone = ev.ContinuousToneReceived(at(9), f"withdraw|{A}", "nine")
    confirmed = (ev.CommandDone(at(9), "PauseRecording"), ev.RecordingStateChanged(at(9), "rec-1", False))
    paused = run(recording(A, B), tone, *confirmed).state
    left = run(paused, ev.ParticipantsUpdated(at(10), 2, (B,)))
    assert "ResumeRecording" in kinds(left)
    resumed = run(left.state, ev.CommandDone(at(10), "ResumeRecording")).state
    back = decide(resumed, ev.ParticipantsUpdated(at(11), 3, (A, B)), POLICY)
    assert kinds(back) == ["PauseRecording"]
    assert back.state.participant(A).consent is Consent.WITHDRAWN  # type: ignore[union-attr]


# -- who is there: snapshots, reads, the call view --------------------------------------------------------


def test_every_unclear_participant_update_is_an_incident_even_while_a_read_is_on_its_way() -> None:
    held = decide(recording(A), ev.ParticipantsUpdated(at(5), None, (A,)), POLICY).state
    again = decide(held, ev.ParticipantsUpdated(at(6), None, (A, B)), POLICY)
    assert again.records == (
        fx.Incident("participants_unclear", "a participant update with no sequenceNumber", at(6)),
    )


def test_a_read_that_finds_people_the_callbacks_missed_says_how_many_and_when() -> None:
    found = decide(recording(A), ev.StateRead(at(9), connected=True, participants=(B,)), POLICY)
    assert fx.Incident("participants_read", "1 joined, 1 left, unreported", at(9)) in found.records


def test_an_exempt_participant_is_in_the_ledger_and_the_call_view_with_the_reason() -> None:
    joined = connected(A, AGENT)
    assert ledger(joined) == [
        fx.ConsentRecorded(AGENT, Consent.EXEMPT, "policy", at(0), reason="agent-identity")
    ]
    agent = joined.state.participant(AGENT)
    assert agent is not None and (agent.consent, agent.exempt_reason) == (Consent.EXEMPT, "agent-identity")


def test_when_the_call_ends_everyone_is_shown_gone_open_consents_closed_and_the_recording_stopped() -> None:
    state = run(
        recording(A), ev.ParticipantsUpdated(at(5), 2, (A, B)), ev.ParticipantsUpdated(at(6), 3, (B,))
    )
    ended = decide(state.state, ev.CallDisconnected(at(20)), POLICY).state
    assert [(p.raw_id, p.present, p.consent) for p in ended.participants] == [
        (A, False, Consent.GRANTED),
        (B, False, Consent.NO_RESPONSE),
    ]
    assert ended.recording is RecordingStatus.STOPPED


def test_a_call_acs_no_longer_knows_ends_at_the_time_of_the_read() -> None:
    gone = decide(connected(A).state, ev.StateRead(at(9), connected=False), POLICY)
    assert fx.CallEnded(at(9), "disconnected") in gone.records
    (row,) = ledger(gone)
    assert (row.outcome, row.method, row.decided_at) == ("no_response", "call_ended", at(9))


def test_someone_who_came_back_and_was_not_asked_again_before_the_end_cites_no_prompt() -> None:
    state = run(
        connected(A, B).state,
        ev.ParticipantsUpdated(at(1), 2, (A,)),  # B leaves while being asked
        grant(A, when=2),
        ev.RecordingStarted(at(3), "rec-1"),
        ev.RecordingStateChanged(at(3), "rec-1", True),
        ev.ParticipantsUpdated(at(4), 3, (A, B)),  # B is back: a new round, asked once ACS has paused
    ).state
    (row,) = ledger(decide(state, ev.CallDisconnected(at(5)), POLICY))
    assert row == fx.ConsentRecorded(
        B, Consent.NO_RESPONSE, "call_ended", at(5), prompt=None, prompted_at=None
    )


# -- joining the call ------------------------------------------------------------------------------------


def test_an_inbound_call_is_known_by_its_ids_and_locale_from_the_start() -> None:
    state = new_inbound_call("call-7", "server-7", "ctx", "fr-FR").state
    assert (state.call_id, state.server_call_id, state.locale) == ("call-7", "server-7", "fr-FR")


def test_the_connection_id_is_known_from_whichever_of_answer_and_connected_comes_first() -> None:
    start = new_inbound_call("call-1", "server-1", "ctx", "en-US").state
    assert decide(start, ev.CallConnected(at(0), "conn-1"), POLICY).state.call_connection_id == "conn-1"


def test_a_read_of_a_call_whose_answer_was_lost_lets_its_people_be_asked() -> None:
    start = new_inbound_call("call-1", "server-1", "ctx", "en-US").state
    no_answer = run(
        start, ev.CallConnected(at(0), "conn-1"), ev.ParticipantsUpdated(at(0), 1, (APP, A))
    ).state
    read = decide(no_answer, ev.StateRead(at(2), connected=True, own_identities=(APP,)), POLICY)
    assert prompted(read) == [(A, 1)]


def test_a_read_of_a_call_whose_connected_callback_was_lost_lets_its_people_be_asked() -> None:
    start = new_inbound_call("call-1", "server-1", "ctx", "en-US").state
    answered = run(start, ev.CallAnswered(at(0), "conn-1"), ev.ParticipantsUpdated(at(0), 1, (A,))).state
    read = decide(answered, ev.StateRead(at(2), connected=True), POLICY)
    assert read.state.phase is CallPhase.CONNECTED
    assert prompted(read) == [(A, 1)]


def test_a_read_that_did_not_ask_about_the_call_does_not_connect_it() -> None:
    start = new_inbound_call("call-1", "server-1", "ctx", "en-US").state
    read = decide(start, ev.StateRead(at(2), participants=(A,)), POLICY)
    assert read.state.phase is CallPhase.ANSWERING
    assert read.commands == ()


# -- ACS's reports and reads of the recording -------------------------------------------------------------


def test_a_report_for_another_recording_changes_nothing_and_is_kept_as_an_incident() -> None:
    state = recording(A)
    foreign = decide(state, ev.RecordingStateChanged(at(5), "rec-other", False), POLICY)
    assert foreign.state == state
    assert foreign.records == (fx.Incident("foreign_recording", "a report for recording rec-other", at(5)),)


def test_segments_name_the_recording_and_carry_acs_time() -> None:
    state = run(connected(A).state, grant(A), ev.RecordingStarted(at(2), "rec-1")).state
    report = decide(state, ev.RecordingStateChanged(at(5), "rec-1", True, reported_at=at(3)), POLICY)
    assert report.records == (fx.SegmentRecorded("started", "rec-1", at(3)),)


def test_a_pause_acs_made_by_itself_and_reported_after_its_resume_is_a_pause_not_the_end() -> None:
    state = recording(A)  # reported active at 2
    resumed = decide(state, ev.RecordingStateChanged(at(5), "rec-1", True, reported_at=at(4)), POLICY)
    late = decide(resumed.state, ev.RecordingStateChanged(at(5), "rec-1", False, reported_at=at(3)), POLICY)
    assert late.records == (fx.SegmentRecorded("paused", "rec-1", at(3)),)


def test_a_read_that_finds_the_recording_active_before_its_callback_is_applied_and_said_so() -> None:
    state = run(connected(A).state, grant(A), ev.RecordingStarted(at(2), "rec-1")).state
    read = decide(
        state, ev.StateRead(at(3), connected=True, recording_id="rec-1", recording="active"), POLICY
    )
    assert read.records == (
        fx.Incident("recording_read", "ACS reports the recording active", at(3)),
        fx.SegmentRecorded("started", "rec-1", at(3)),
    )
    assert read.state.recording_reported == "active"


def test_a_read_that_brought_back_no_recording_state_says_nothing_about_the_recording() -> None:
    state = recording(A)
    read = decide(state, ev.StateRead(at(9), connected=True, participants=(A,), recording_id="rec-1"), POLICY)
    assert read.state == state and read.records == ()


def test_a_read_taken_while_our_pause_is_in_flight_is_not_acs_contradicting_the_pause() -> None:
    pausing = decide(recording(A), ev.ParticipantsUpdated(at(5), 2, (A, B)), POLICY).state
    read = ev.StateRead(at(6), connected=True, recording_id="rec-1", recording="active")
    done = run(pausing, read, ev.CommandDone(at(7), "PauseRecording"))
    assert done.commands == () and done.records == ()
    assert prompted(decide(done.state, ev.RecordingStateChanged(at(8), "rec-1", False), POLICY)) == [(B, 1)]


def test_once_acs_no_longer_knows_the_recording_nothing_is_stopped_again_and_a_newcomer_is_asked() -> None:
    gone = run(
        recording(A), ev.StateRead(at(9), connected=True, recording_id="rec-1", recording="gone")
    ).state
    newcomer = decide(gone, ev.ParticipantsUpdated(at(10), 2, (A, B)), POLICY)
    assert kinds(newcomer) == ["PromptParticipant"]
    assert newcomer.records == ()

"""Model-based test of the consent gate against a model of what ACS actually does (``acs_model``).

Hypothesis drives random interleavings of joins, leaves, answers, silence, cancelled prompts, withdrawals,
callbacks delivered out of order, dropped or delivered again, commands that succeed, fail for good, or fail
after ACS did them, recording changes ACS makes by itself, and the reconciliation loop's reads and overdue
prompts. ``decide`` is the service; the commands it issues run against the modelled ACS in order.

The invariants read the model's truth, never the service's state:
- while ACS records, everyone present has granted (their own last key) and not withdrawn, or is exempt or the
  service itself, or the service has not yet had its chance: a read of ACS's truth since the change, and every
  command it issued after that read executed;
- nobody is prompted while ACS records them (unless ACS started recording by itself and nobody could know);
- the service's own identities are never prompted;
- nothing is asked twice for the same attempt, recording is started at most once, each decision is one ledger
  row, and the state agrees with the ledger.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.consent import decide, new_inbound_call
from recorder.domain.model import Consent, ConsentPolicy, RecordingStatus
from recorder.domain.overdue import overdue_answer
from tests.unit.acs_model import APP, CALLEE, DECLINE, GRANT, OWN, RECORDING_ID, ModelledAcs
from tests.unit.test_consent import PROMPT

AGENT = "8:acs:agent"
PEOPLE = ("4:+1555000001", "4:+1555000002", AGENT)
POLICY = ConsentPolicy(
    prompts={"en-US": PROMPT},
    default_locale="en-US",
    exempt={AGENT: "agent-identity"},
    silence_timeout_seconds=1,
    answer_margin_seconds=2,
)
MODES = ["ok", "ok", "ok", "ok", "fail", "fail_after"]
# a key, silence, or ACS cancelling the prompt; mostly the grant key, so that calls get recorded
OUTCOMES = (
    [("pressed", GRANT)] * 5
    + [("pressed", DECLINE)] * 2
    + [
        ("pressed", "seven"),
        ("silence", ""),
        ("canceled", ""),
    ]
)


class ConsentAgainstAcs(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.acs = ModelledAcs()
        decision = new_inbound_call("call", "server", "ctx", "en-US", callee=CALLEE)
        self.state = decision.state
        self.outbox: list[fx.Command] = list(decision.commands)
        self.delivered: list[ev.CallEvent] = []
        self.prompts: Counter[tuple[str, int]] = Counter()
        self.starts = 0
        self.ledger: Counter[tuple[str, str]] = Counter()
        self.unsafe_since: dict[str, int] = {}
        self.read_at = -1  # the step of the last read of ACS's truth
        self.drained_since_read = False  # every command issued up to and after that read has been executed
        self.start_failed_but_done = False

    # -- the service --------------------------------------------------------------------------------------

    def feed(self, event: ev.CallEvent) -> None:
        decision = decide(self.state, event, POLICY)
        self.state = decision.state
        for command in decision.commands:
            if isinstance(command, fx.PromptParticipant):
                assert command.raw_id not in OWN, "the service prompted itself"
                self.prompts[(command.raw_id, command.attempt)] += 1
            elif isinstance(command, fx.StartRecording):
                self.starts += 1
        self.outbox.extend(decision.commands)
        for record in decision.records:
            if isinstance(record, fx.ConsentRecorded):
                assert record.participant not in OWN, "the service wrote itself into the ledger"
                self.ledger[(record.participant, record.outcome)] += 1
        if not self.outbox:
            self.drained_since_read = True

    def step(self) -> None:
        self.acs.step += 1

    @initialize(first=st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=3, unique=True))
    def an_answered_call(self, first: list[str]) -> None:
        """Who is there when the service answers; the answer is dispatched, its callbacks are in flight."""
        for person in first:
            self.acs.join(person)
        self.dispatch("ok")

    @rule()
    def a_fair_moment(self) -> None:
        """Every callback in flight arrives in order, every command runs, and the reconciliation loop reads
        ACS once and its commands run too: the network and ACS behave for a while."""
        self.drain()
        if self.state.call_connection_id is not None:
            self.reconcile()
            self.drain()

    def drain(self) -> None:
        for _ in range(20):
            if not self.acs.in_flight and not self.outbox:
                return
            while self.acs.in_flight:
                self.deliver_event(self.acs.in_flight.pop(0))
            if self.outbox:
                self.dispatch("ok")

    fair_again = a_fair_moment

    # -- people and ACS -----------------------------------------------------------------------------------

    @precondition(lambda self: len(self.acs.present) < len(PEOPLE))
    @rule(data=st.data())
    def join(self, data: st.DataObject) -> None:
        self.join_person(data.draw(st.sampled_from([p for p in PEOPLE if p not in self.acs.present])))

    def join_person(self, person: str) -> None:
        self.step()
        self.acs.join(person)

    @precondition(lambda self: bool(self.acs.present))
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        self.leave_person(data.draw(st.sampled_from(self.acs.present)))

    def leave_person(self, person: str) -> None:
        self.step()
        self.acs.leave(person)

    @precondition(lambda self: bool(self.acs.media))
    @rule(outcome=st.sampled_from(OUTCOMES))
    def the_prompted_person_answers(self, outcome: tuple[str, str]) -> None:
        self.step()
        self.acs.media_outcome(*outcome)

    # rules are drawn evenly: a second name for the common ones keeps calls moving among the faults
    answers_too = the_prompted_person_answers

    @precondition(lambda self: any(self.acs.consents(p) for p in self.acs.present))
    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        self.withdraw_person(
            data.draw(st.sampled_from([p for p in self.acs.present if self.acs.consents(p)]))
        )

    def withdraw_person(self, person: str) -> None:
        self.step()
        pending = any(isinstance(c, fx.WatchForWithdrawal) and c.raw_id == person for c in self.outbox)
        known = self.state.participant(person)
        armable = known is not None and known.present and known.consent is Consent.GRANTED and not pending
        self.acs.press_withdraw(person, could_be_heard=armable)

    @rule(unreadable=st.booleans())
    def acs_sends_an_update_that_cannot_be_ordered_or_read(self, unreadable: bool) -> None:
        self.step()
        self.acs.unclear_snapshot(unreadable)

    @rule()
    def a_second_passes(self) -> None:
        self.step()
        self.acs.tick()

    @rule(state=st.sampled_from(["active", "active", "inactive"]))
    def acs_changes_the_recording(self, state: str) -> None:
        self.step()
        self.acs.spurious(state)

    @precondition(lambda self: self.acs.connected and not self.acs.ended)
    @rule()
    def everyone_hangs_up(self) -> None:
        self.step()
        self.acs.hang_up()

    # -- callbacks: any order, lost, or again ----------------------------------------------------------------

    @precondition(lambda self: bool(self.acs.in_flight))
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        self.deliver_event(self.acs.in_flight.pop(data.draw(st.integers(0, len(self.acs.in_flight) - 1))))

    def deliver_event(self, event: ev.CallEvent) -> None:
        self.step()
        if isinstance(event, ev.ContinuousToneReceived):
            withdrawal = self.acs.withdrawals.get(event.operation_context.removeprefix("withdraw|"))
            if withdrawal is not None:
                withdrawal.delivered = True
        if event is self.acs.spurious_report:
            self.acs.spurious_report = None
        self.delivered.append(event)
        self.feed(event)

    @precondition(lambda self: bool(self.acs.in_flight))
    @rule(data=st.data())
    def lose(self, data: st.DataObject) -> None:
        self.lose_event(data.draw(st.integers(0, len(self.acs.in_flight) - 1)))

    def lose_event(self, index: int) -> None:
        self.step()
        event = self.acs.in_flight.pop(index)
        if isinstance(event, ev.ContinuousToneReceived):
            withdrawal = self.acs.withdrawals.get(event.operation_context.removeprefix("withdraw|"))
            if withdrawal is not None:
                withdrawal.excused = True  # nobody can know a key press whose only report was lost
        lost_start = (
            isinstance(event, ev.RecordingStateChanged) and event.active and self.start_failed_but_done
        )
        if lost_start and self.state.recording_id is None:
            self.acs.start_unknowable = True

    @precondition(lambda self: bool(self.delivered))
    @rule(data=st.data())
    def deliver_again(self, data: st.DataObject) -> None:
        self.step()
        event = data.draw(st.sampled_from(self.delivered))
        starts, ledger, prompts = self.starts, Counter(self.ledger), Counter(self.prompts)
        self.feed(event)
        if isinstance(event, ev.RecognizeCompleted | ev.RecognizeFailed | ev.ParticipantsUpdated):
            assert (self.starts, self.ledger, self.prompts) == (starts, ledger, prompts)

    # -- the outbox runs the service's commands against ACS, in order ---------------------------------------

    @precondition(lambda self: bool(self.outbox))
    @rule(mode=st.sampled_from(MODES))
    def dispatch(self, mode: str) -> None:
        self.step()
        command = self.outbox.pop(0)
        if (
            isinstance(command, fx.PromptParticipant) and self.state.may_be_recording
        ):  # as the dispatcher does
            self.feed(ev.PromptWithheld(self.acs.now(), command.raw_id, command.attempt))
            return
        if isinstance(command, fx.HangUp | fx.AnswerCall):
            mode = "ok"  # the last resort never fails here; an unanswered call records nothing anyway
        if isinstance(command, fx.ReadCallState) and mode == "fail_after":
            mode = "ok"
        result = self.execute(command, mode)
        if result is not None:
            self.feed(result)
        if not self.outbox:
            self.drained_since_read = True

    def execute(self, command: fx.Command, mode: str) -> ev.CallEvent | None:
        now = self.acs.now()
        name = type(command).__name__
        failed = ev.CommandFailed(now, name, "ACS answered 500")
        if isinstance(command, fx.PromptParticipant | fx.WatchForWithdrawal):
            attempt = command.attempt if isinstance(command, fx.PromptParticipant) else 0
            failed = ev.CommandFailed(now, name, "ACS answered 400", command.raw_id, attempt)
        if mode == "fail":
            return failed
        done = self.acs_does(command)
        if done is None:  # ACS refused it: not possible in the call as it is
            return failed
        if mode == "fail_after":  # ACS did it, and answered an error
            self.start_failed_but_done = isinstance(command, fx.StartRecording)
            return failed
        return done

    def acs_does(self, command: fx.Command) -> ev.CallEvent | None:
        acs, now = self.acs, self.acs.now()
        match command:
            case fx.AnswerCall():
                acs.connected = True
                acs.send(ev.CallConnected(now, "conn"))
                acs.snapshot()
                return ev.CallAnswered(now, "conn", (APP,))
            case fx.PromptParticipant():
                if command.raw_id not in acs.present or acs.ended:
                    return None
                unknowable = acs.spurious_unseen or acs.start_unknowable
                assert acs.recording != "active" or unknowable, f"{command.raw_id} prompted while recorded"
                if not acs.media:
                    acs.head_since = acs.clock
                acs.media.append((command.raw_id, command.attempt))
                return ev.CommandDone(now, "PromptParticipant")
            case fx.WatchForWithdrawal():
                if command.raw_id not in acs.present:
                    return None
                acs.armed.add(command.raw_id)
                return ev.CommandDone(now, "WatchForWithdrawal")
            case fx.StartRecording():
                if acs.recording != "none" or acs.ended:
                    return None
                acs.set_recording("active")
                return ev.RecordingStarted(now, RECORDING_ID)
            case fx.PauseRecording() | fx.ResumeRecording() | fx.StopRecording():
                return self.recording_command(command)
            case fx.HangUp():
                if not acs.ended:
                    acs.hang_up()
                return None
            case fx.ReadCallState():
                return acs.read(self.state.recording_id)
        return None

    def recording_command(self, command: fx.Command) -> ev.CallEvent | None:
        acs = self.acs
        if acs.recording not in ("active", "inactive"):
            return None  # no recording: 404
        wanted = {fx.PauseRecording: "inactive", fx.ResumeRecording: "active", fx.StopRecording: "stopped"}
        target = wanted[type(command)]
        if acs.recording != target:
            acs.set_recording(target)
        return ev.CommandDone(acs.now(), type(command).__name__)

    # -- the reconciliation loop --------------------------------------------------------------------------

    @precondition(lambda self: self.state.call_connection_id is not None)
    @rule()
    def reconcile(self) -> None:
        self.step()
        overdue = overdue_answer(self.state, self.acs.now(), POLICY)
        if overdue is not None:
            self.feed(overdue)
        known = self.state.recording_id if self.state.recording is not RecordingStatus.STOPPED else None
        read = self.acs.read(known)
        if read.recording == "active":
            self.acs.spurious_report = None
        self.read_at, self.drained_since_read = self.acs.step, False
        self.feed(read)

    # -- the truth ------------------------------------------------------------------------------------------

    @invariant()
    def while_acs_records_everyone_present_agreed(self) -> None:
        if self.acs.recording != "active" or self.acs.start_unknowable:
            self.unsafe_since.clear()
            return
        unsafe = [p for p in self.acs.unconsented_present() if p != AGENT]
        self.unsafe_since = {p: self.unsafe_since.get(p, self.acs.step) for p in unsafe}
        for person, since in self.unsafe_since.items():
            had_its_chance = self.read_at > since and self.drained_since_read
            assert not had_its_chance, f"ACS records {person} without their consent since step {since}"

    @invariant()
    def nothing_is_done_twice(self) -> None:
        assert all(n == 1 for n in self.prompts.values())
        assert self.starts <= 1
        for (_, outcome), n in self.ledger.items():
            if outcome in ("granted", "declined", "exempt", "withdrawn"):
                assert n == 1

    @invariant()
    def the_state_agrees_with_the_ledger(self) -> None:
        for p in self.state.participants:
            if p.consent in (Consent.GRANTED, Consent.DECLINED, Consent.EXEMPT):
                assert self.ledger[(p.raw_id, p.consent.value)] >= 1
            assert p.consent is not Consent.SERVICE or p.raw_id in OWN


# derandomized: every run explores the same examples, so a mutant it kills is killed every time
EXAMPLES = int(os.environ.get("RECORDER_MODEL_EXAMPLES", "2000"))
ConsentAgainstAcs.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=50, deadline=None, derandomize=True
)
TestConsentAgainstAcs = ConsentAgainstAcs.TestCase


A, B = PEOPLE[0], PEOPLE[1]
# Adversarial schedules, each through the same model and invariants: the cases issue 13 names, so that each
# is explored on every run whatever the random exploration above happens to draw.
SCHEDULES: dict[str, list[tuple[Any, ...]]] = {
    "a decline is not a grant": [("call", A), ("fair",), ("answer", DECLINE), ("fair",)],
    "a late joiner is asked before being recorded": [
        *[("call", A), ("fair",), ("answer", GRANT), ("fair",)],
        *[("join", B), ("fair",), ("answer", GRANT), ("fair",), ("recording", "active")],
    ],
    "withdrawal pauses": [("call", A), ("fair",), ("answer", GRANT), ("fair",), ("withdraw", A), ("fair",)],
    "withdrawal after leaving and coming back": [
        *[("call", A, B), ("fair",), ("answer", GRANT), ("answer", GRANT), ("fair",)],
        *[("leave", A), ("fair",), ("join", A), ("fair",), ("withdraw", A), ("fair",)],
    ],
    "ACS resumes by itself": [
        *[("call", A), ("fair",), ("answer", GRANT), ("fair",), ("join", B), ("fair",), ("answer", DECLINE)],
        *[("fair",), ("acs", "active"), ("fair",)],
    ],
    "a pause that fails for good": [
        *[("call", A), ("fair",), ("answer", GRANT), ("fair",), ("join", B), ("deliver",)],
        *[("dispatch", "fail"), ("fair",), ("recording", "stopped")],
    ],
    "a start that failed but happened": [
        *[("call", A), ("fair",), ("answer", GRANT), ("deliver",), ("dispatch", "fail_after"), ("fair",)],
        *[("join", B), ("fair",)],
    ],
    "a lost answer is asked again": [
        *[("call", A), ("fair",), ("answer", GRANT), ("lose",), ("fair",), ("tick", 3), ("fair",)],
        *[("answer", GRANT), ("fair",), ("recording", "active")],
    ],
    "a lost join is read back": [
        *[("call", A), ("fair",), ("answer", GRANT), ("fair",), ("join", B), ("lose",), ("fair",), ("fair",)],
        *[("answer", GRANT), ("fair",), ("recording", "active")],
    ],
    "an update without a sequence number pauses at once": [
        *[("call", A), ("fair",), ("answer", GRANT), ("fair",), ("join", B), ("lose",), ("unclear", False)],
        *[("drain",), ("recording", "inactive"), ("fair",), ("media", B)],
    ],
    "an update with an unreadable identifier pauses at once": [
        *[("call", A), ("fair",), ("answer", GRANT), ("fair",), ("join", B), ("lose",), ("unclear", True)],
        *[("drain",), ("recording", "inactive"), ("fair",), ("media", B)],
    ],
    "a prompt that fails for good is asked again": [
        *[("call", A), ("deliver",), ("deliver",), ("dispatch", "fail"), ("drain",), ("media", A)],
    ],
    "a cancelled prompt is asked again": [
        *[("call", A), ("fair",), ("no_answer", "canceled"), ("fair",), ("answer", GRANT), ("fair",)],
        ("recording", "active"),
    ],
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule(name: str) -> None:
    machine = ConsentAgainstAcs()
    for step in SCHEDULES[name]:
        run_step(machine, *step)
        machine.while_acs_records_everyone_present_agreed()
        machine.nothing_is_done_twice()
        machine.the_state_agrees_with_the_ledger()


def run_step(machine: ConsentAgainstAcs, action: str, *args: Any) -> None:
    if action == "call":
        machine.an_answered_call(list(args))
    elif action == "fair":
        machine.a_fair_moment()
    elif action in ("answer", "no_answer"):
        machine.the_prompted_person_answers(("pressed", args[0]) if action == "answer" else (args[0], ""))
    elif action == "join":
        machine.join_person(args[0])
    elif action == "leave":
        machine.leave_person(args[0])
    elif action == "withdraw":
        machine.withdraw_person(args[0])
    elif action == "acs":
        machine.acs_changes_the_recording(args[0])
    elif action == "deliver":
        machine.deliver_event(machine.acs.in_flight.pop(0))
    elif action == "lose":
        machine.lose_event(len(machine.acs.in_flight) - 1)
    elif action == "dispatch":
        machine.dispatch(args[0])
    elif action == "drain":
        machine.drain()
    elif action == "unclear":
        machine.acs_sends_an_update_that_cannot_be_ordered_or_read(args[0])
    elif action == "media":
        assert [target for target, _ in machine.acs.media] == [args[0]], machine.acs.media
    elif action == "tick":
        for _ in range(args[0] if args else 1):
            machine.a_second_passes()
    else:
        assert action == "recording"
        assert machine.acs.recording == args[0], (machine.acs.recording, machine.state)

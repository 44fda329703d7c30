"""Model-based test of the consent state machine under event chaos.

Hypothesis drives random interleavings of joins, leaves, answers, silence, withdrawals, duplicate and stale
deliveries, recording reports and ACS failures against ``decide``. After every step it checks the promises:
recording is never commanded on while someone present lacks granted/exempt consent, a newcomer is never
prompted while recording runs, every decision has exactly one ledger row, and no command is issued twice.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.consent import decide, new_inbound_call
from recorder.domain.model import ALLOWS_RECORDING, CallPhase, Consent, RecordingStatus
from tests.unit.test_consent import POLICY, at

PEOPLE = ("4:+1555000001", "4:+1555000002", "4:+1555000003", "8:acs:agent")


class ConsentUnderChaos(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        decision = new_inbound_call("call", "server", "ctx", "en-US")
        self.state = decision.state
        self.present: list[str] = []
        self.sequence = 0
        self.delivered: list[ev.CallEvent] = []
        self.prompts: Counter[tuple[str, int]] = Counter()
        self.outstanding: dict[str, int] = {}  # who has an unanswered prompt, and its attempt
        self.ledger: Counter[tuple[str, str]] = Counter()
        self.starts = 0
        self.last_commands: tuple[fx.Command, ...] = ()
        self.recording_on_before = False

    def deliver(self, event: ev.CallEvent) -> None:
        self.recording_on_before = self.state.recording is RecordingStatus.ACTIVE
        decision = decide(self.state, event, POLICY)
        self.state = decision.state
        self.delivered.append(event)
        self.last_commands = decision.commands
        for command in decision.commands:
            if isinstance(command, fx.PromptParticipant):
                self.prompts[(command.raw_id, command.attempt)] += 1
                self.outstanding[command.raw_id] = command.attempt
            elif isinstance(command, fx.StartRecording):
                self.starts += 1
        for record in decision.records:
            if isinstance(record, fx.ConsentRecorded):
                self.ledger[(record.participant, record.outcome)] += 1
                self.outstanding.pop(record.participant, None)

    @rule()
    def connect(self) -> None:
        self.deliver(ev.CallConnected(at(0), "conn"))

    @rule(person=st.sampled_from(PEOPLE))
    def join(self, person: str) -> None:
        if person not in self.present:
            self.present.append(person)
        self.sequence += 1
        self.deliver(ev.ParticipantsUpdated(at(1), self.sequence, tuple(self.present)))

    @rule(person=st.sampled_from(PEOPLE))
    def leave(self, person: str) -> None:
        if person in self.present:
            self.present.remove(person)
            self.outstanding.pop(person, None)
        self.sequence += 1
        self.deliver(ev.ParticipantsUpdated(at(1), self.sequence, tuple(self.present)))

    @precondition(lambda self: bool(self.outstanding))
    @rule(data=st.data(), tone=st.sampled_from(["one", "one", "two", "seven"]))
    def answer(self, data: st.DataObject, tone: str) -> None:
        person = data.draw(st.sampled_from(sorted(self.outstanding)))
        attempt = self.outstanding.pop(person)
        self.deliver(ev.RecognizeCompleted(at(2), fx.consent_context(person, attempt), (tone,)))

    @precondition(lambda self: bool(self.outstanding))
    @rule(data=st.data(), sub_code=st.sampled_from([8510, 8532, 8511]))
    def silence(self, data: st.DataObject, sub_code: int) -> None:
        person = data.draw(st.sampled_from(sorted(self.outstanding)))
        attempt = self.outstanding.pop(person)
        self.deliver(ev.RecognizeFailed(at(2), fx.consent_context(person, attempt), sub_code))

    @rule(person=st.sampled_from(PEOPLE), tone=st.sampled_from(["nine", "five"]))
    def continuous_tone(self, person: str, tone: str) -> None:
        self.deliver(ev.ContinuousToneReceived(at(3), f"withdraw|{person}", tone))

    @precondition(lambda self: bool(self.delivered))
    @rule(data=st.data())
    def redeliver_an_old_event(self, data: st.DataObject) -> None:
        """At-least-once and out of order: any earlier event may arrive again, now."""
        event = data.draw(st.sampled_from(self.delivered))
        starts, ledger = self.starts, Counter(self.ledger)
        prompts = Counter(self.prompts)
        self.deliver(event)
        if isinstance(event, ev.RecognizeCompleted | ev.RecognizeFailed | ev.ParticipantsUpdated):
            assert self.starts == starts
            assert self.ledger == ledger
            assert self.prompts == prompts

    @rule(active=st.booleans())
    def recording_report(self, active: bool) -> None:
        self.deliver(ev.RecordingStateChanged(at(4), "rec", active))

    @rule()
    def recording_started(self) -> None:
        self.deliver(ev.RecordingStarted(at(4), "rec"))

    @rule(command=st.sampled_from(["StartRecording", "PromptParticipant", "PauseRecording"]))
    def acs_fails(self, command: str) -> None:
        self.deliver(ev.CommandFailed(at(5), command, "ACS answered 500"))

    @rule()
    def disconnect(self) -> None:
        self.deliver(ev.CallDisconnected(at(6)))

    @invariant()
    def never_recording_without_everyones_consent(self) -> None:
        if self.state.recording is RecordingStatus.ACTIVE:
            assert self.state.phase is CallPhase.CONNECTED
            assert self.state.present
            assert all(p.consent in ALLOWS_RECORDING for p in self.state.present)

    @invariant()
    def commands_respect_consent_and_order(self) -> None:
        kinds = [type(c) for c in self.last_commands]
        if fx.StartRecording in kinds or fx.ResumeRecording in kinds:
            assert self.state.consent_complete
        if self.recording_on_before and fx.PromptParticipant in kinds:
            assert kinds.index(fx.PauseRecording) < kinds.index(fx.PromptParticipant)

    @invariant()
    def nothing_is_done_twice(self) -> None:
        assert all(n == 1 for n in self.prompts.values())
        assert self.starts <= 1
        decided = [
            (who, outcome) for (who, outcome), n in self.ledger.items() if outcome in ("granted", "declined")
        ]
        assert all(self.ledger[d] == 1 for d in decided)
        assert all(n == 1 for (_, outcome), n in self.ledger.items() if outcome in ("exempt", "withdrawn"))

    @invariant()
    def the_state_agrees_with_the_ledger(self) -> None:
        for p in self.state.participants:
            if p.consent in (Consent.GRANTED, Consent.DECLINED, Consent.EXEMPT):
                assert self.ledger[(p.raw_id, p.consent.value)] >= 1


ConsentUnderChaos.TestCase.settings = settings(max_examples=2000, stateful_step_count=30, deadline=None)
TestConsentUnderChaos = ConsentUnderChaos.TestCase

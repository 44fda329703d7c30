"""A model of what ACS actually does, independent of the service: the oracle of the model-based test.

It keeps the truth the service can only learn about through callbacks, command results and reads: who is in
the call, what each person last pressed, whether the recording is running, the call's media queue (one
operation at a time), which people continuous DTMF listens to, and the callbacks in flight (which may be
delivered in any order, dropped or delivered twice). It never looks at the service's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from recorder.domain import effects as fx
from recorder.domain import events as ev

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CALLEE = "4:+18005550100"  # the number that was called: ACS lists it among the participants
APP = "8:acs:resource_app"  # the application's own identity, answeredBy
OWN = (CALLEE, APP)
RECORDING_ID = "rec"
GRANT, DECLINE, WITHDRAW = "one", "two", "nine"


SILENCE_TIMEOUT_S = 1  # ACS ends a prompt nobody answers after this long (the policy's silence timeout)


@dataclass
class Withdrawal:
    pressed_at: int
    heard: bool  # continuous DTMF was listening: a callback went out
    excused: bool = False  # the key went unheard through no fault of the service (not yet armed), or lost
    delivered: bool = False  # the service has the callback: from now on the withdrawal is its to enforce


@dataclass
class ModelledAcs:
    connected: bool = False
    ended: bool = False
    present: list[str] = field(default_factory=list)  # people (the own identities are added once answered)
    pressed: dict[str, str] = field(default_factory=dict)  # the last answer each person gave to a prompt
    withdrawals: dict[str, Withdrawal] = field(default_factory=dict)
    recording: str = "none"  # none | active | inactive | stopped
    media: list[tuple[str, int]] = field(default_factory=list)  # (target, attempt), the head is running
    armed: set[str] = field(default_factory=set)
    in_flight: list[ev.CallEvent] = field(default_factory=list)
    sequence: int = 0
    # ACS started recording by itself, and the service has not seen that report yet (nor read the recording)
    spurious_report: ev.CallEvent | None = None
    start_unknowable: bool = False  # ACS started although it answered an error, and its report was lost
    step: int = 0  # every action; a millisecond each, so that event times follow the order of events
    clock: int = 0  # seconds, advanced by ``tick``
    head_since: int = 0  # when the head of the media queue got its turn

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.clock, milliseconds=self.step)

    def tick(self) -> None:
        """A second passes: a prompt nobody answered within its silence timeout ends with silence."""
        self.clock += 1
        if self.media and self.clock - self.head_since >= SILENCE_TIMEOUT_S:
            self.media_outcome("silence")

    # -- what the people and ACS do -----------------------------------------------------------------------

    def snapshot(self) -> None:
        """A ParticipantsUpdated, once the call has been answered (before that ACS has nowhere to send it)."""
        if not self.connected or self.ended:
            return
        self.sequence += 1
        listed = (*OWN, *self.present)
        self.send(ev.ParticipantsUpdated(self.now(), self.sequence, listed, self.now()))

    def unclear_snapshot(self, unreadable: bool) -> None:
        """A ParticipantsUpdated without its optional sequenceNumber, or with one identifier without rawId."""
        if not self.connected or self.ended:
            return
        listed = (*OWN, *self.present)
        if unreadable and self.present:
            update = ev.ParticipantsUpdated(self.now(), self.sequence, listed[:-1], self.now(), unreadable=1)
        else:
            update = ev.ParticipantsUpdated(self.now(), None, listed, self.now())
        self.send(update)

    def send(self, event: ev.CallEvent) -> None:
        self.in_flight.append(event)

    def join(self, person: str) -> None:
        if person not in self.present and not self.ended:
            self.present.append(person)
            self.withdrawals.pop(person, None)
            self.snapshot()

    def leave(self, person: str) -> None:
        if person not in self.present:
            return
        self.present.remove(person)
        self.armed.discard(person)
        for operation in [m for m in self.media if m[0] == person]:
            self.media.remove(operation)
            self.send(ev.RecognizeFailed(self.now(), fx.consent_context(*operation), 8558))
        self.snapshot()

    def media_outcome(self, kind: str, tone: str = "") -> None:
        """The running prompt ends: a key pressed, silence, or ACS cancels it."""
        person, attempt = self.media.pop(0)
        self.head_since = self.clock
        context = fx.consent_context(person, attempt)
        if kind == "pressed":
            self.pressed[person] = tone
            self.send(ev.RecognizeCompleted(self.now(), context, (tone,)))
        elif kind == "silence":
            self.send(ev.RecognizeFailed(self.now(), context, 8510))
        else:
            self.send(ev.RecognizeCanceled(self.now(), context))

    def press_withdraw(self, person: str, could_be_heard: bool) -> None:
        """``could_be_heard``: the service knew they were in the call and had agreed, and had nothing left to
        send to listen to them: if continuous DTMF is not listening then, it is the service's failure."""
        if person not in self.present or not self.consents(person):
            return
        heard = person in self.armed
        self.withdrawals[person] = Withdrawal(self.step, heard, excused=not heard and not could_be_heard)
        if heard:
            self.send(ev.ContinuousToneReceived(self.now(), f"withdraw|{person}", WITHDRAW))

    def spurious(self, state: str) -> None:
        """ACS changes the recording by itself (or another application does)."""
        if self.recording in ("active", "inactive") and self.recording != state:
            self.set_recording(state)
            if state == "active":
                self.spurious_report = self.in_flight[-1]

    @property
    def spurious_unseen(self) -> bool:
        return self.spurious_report is not None

    def set_recording(self, state: str, *, report: bool = True) -> None:
        self.recording = state
        if report:
            active = state == "active"
            self.send(ev.RecordingStateChanged(self.now(), RECORDING_ID, active, self.now()))

    def hang_up(self) -> None:
        if self.recording in ("active", "inactive"):
            self.set_recording("stopped")
        self.present.clear()
        self.media.clear()
        self.armed.clear()
        self.ended = True
        self.send(ev.CallDisconnected(self.now()))

    # -- the truth the invariants read --------------------------------------------------------------------

    def consents(self, person: str) -> bool:
        """The person's own last answer was the grant key, and they have not pressed the withdrawal key since
        (a key pressed where nobody could hear it through no fault of the service does not count)."""
        withdrawal = self.withdrawals.get(person)
        withdrew = withdrawal is not None and not withdrawal.excused
        if withdrawal is not None and withdrawal.heard and not withdrawal.delivered:
            withdrew = False  # on its way: nobody can act on a key press before it arrives
        return self.pressed.get(person) == GRANT and not withdrew

    def unconsented_present(self) -> list[str]:
        return [p for p in self.present if not self.consents(p)]

    def read(self, recording_id: str | None) -> ev.StateRead:
        """What get_call_properties / list_participants / get_recording_properties answer now; the recording
        can be read only by its id, as the service knows it."""
        if self.ended:
            return ev.StateRead(self.now(), connected=False)
        recording = None
        if recording_id is not None:
            recording = {"none": "gone", "stopped": "gone"}.get(self.recording, self.recording)
        return ev.StateRead(
            self.now(),
            connected=self.connected,
            participants=(*OWN, *self.present) if self.connected else None,
            own_identities=(APP,) if self.connected else (),
            recording_id=recording_id,
            recording=recording,
        )

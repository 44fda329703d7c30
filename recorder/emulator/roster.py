"""Who is in a call, as ACS reports it: joins, leaves, holds, continuous DTMF, and ``ParticipantsUpdated``.

Every snapshot lists the call's own identities (knob ``self_listed``), carries a ``sequenceNumber`` that may
skip values (``sequence_gaps``), and shows ``isOnHold`` for whoever a targeted prompt put on hold. ACS sends
``IncomingCall`` for every call to any identity or number of the resource, so a scripted participant who
belongs to the resource (an agent) rings as a call leg of its own (``incoming_call_for_resource_identities``).
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

from recorder.emulator import events
from recorder.emulator.scenario import TONE_WORDS, CallScenario, ParticipantScript
from recorder.emulator.state import Call, Participant

if TYPE_CHECKING:
    from recorder.emulator.engine import Emulator


class Roster:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def start(self, call: Call) -> None:
        """The call is answered: the first snapshot, then every scripted join, leave and key press."""
        now_ms = call.ms(time.monotonic())
        schedule = self.emulator.schedule
        for participant in call.participants.values():
            script = participant.script
            if participant.left:
                continue  # their leg was answered by the application: they never join
            if script.join_at_ms <= 0:
                participant.set_present(True, now_ms)
            else:
                schedule(call, script.join_at_ms, partial(self.join, call, participant))
            if script.leave_at_ms is not None:
                schedule(call, script.leave_at_ms, partial(self.leave, call, participant))
            if script.rejoin_at_ms is not None:
                schedule(call, script.rejoin_at_ms, partial(self.join, call, participant, again=True))
            for tone in script.continuous_tones:
                schedule(call, tone.at_ms, partial(self.continuous_tone, call, participant, tone.key))
        self.updated(call)

    def updated(self, call: Call, *, sequenced: bool = True, unreadable: str | None = None) -> None:
        """Send the full snapshot; ``sequenced=False`` leaves ``sequenceNumber`` out (optional in ACS);
        ``unreadable`` names a participant whose identifier goes out without its ``rawId``."""
        sequence = call.next_sequence_number() if sequenced else None
        models = call.participant_models()
        for model in models:
            if model["identifier"]["rawId"] == unreadable:
                model["identifier"] = {k: v for k, v in model["identifier"].items() if k != "rawId"}
        fields = events.participants_fields(models, sequence)
        self.emulator.emit(call, "ParticipantsUpdated", fields, result=events.CONNECTED)

    def join(self, call: Call, participant: Participant, *, again: bool = False) -> None:
        if again and not participant.present:
            participant.left = False  # a rejoin: back as a newcomer
        if participant.present or participant.left:
            return
        participant.set_present(True, call.ms(time.monotonic()))
        self.updated(call)

    def leave(self, call: Call, participant: Participant) -> None:
        if not participant.present:
            participant.left = True  # leaving before joining means never joining
            return
        participant.set_present(False, call.ms(time.monotonic()))
        participant.on_hold = False
        self.emulator.media.participant_left(call, participant.raw_id)
        if call.present():
            self.updated(call)
        else:
            self.emulator.disconnect(call, events.ENDED_BY_PARTICIPANT)

    def set_hold(self, call: Call, raw_ids: tuple[str, ...], on_hold: bool) -> tuple[str, ...]:
        """Put ``raw_ids`` on hold (or take them off); a change is reported. Returns who changed."""
        changed = []
        for raw_id in raw_ids:
            participant = call.participants.get(raw_id)
            if participant is not None and participant.present and participant.on_hold != on_hold:
                participant.on_hold = on_hold
                changed.append(raw_id)
        if changed:
            self.updated(call)
        return tuple(changed)

    def continuous_tone(self, call: Call, participant: Participant, key: str) -> None:
        if not participant.present:
            return
        if key == "9":
            # The participant withdraws consent whether or not the service is listening.
            participant.withdraw(call.ms(time.monotonic()))
        if participant.continuous_armed:  # only where the service started continuous DTMF
            call.dtmf_sequence_id += 1
            self.emulator.emit(
                call,
                "ContinuousDtmfRecognitionToneReceived",
                events.tone_fields(TONE_WORDS[key], call.dtmf_sequence_id),
                operation_context=participant.continuous_context,
            )

    def tone_failed(self, call: Call, participant: Participant) -> bool:
        """ACS could not read a key this participant pressed; reported only where DTMF is being watched."""
        if not (participant.present and participant.continuous_armed):
            return False
        self.emulator.emit(
            call,
            "ContinuousDtmfRecognitionToneFailed",
            result=events.TONE_FAILED,
            operation_context=participant.continuous_context,
        )
        return True

    # Calls to the resource's own identities ---------------------------------------------------------

    def ring_resource_identities(self, call: Call) -> None:
        """IncomingCall for each scripted participant (other than the caller and callee) of the resource."""
        scenario = call.scenario
        for participant in call.participants.values():
            raw_id = participant.raw_id
            if raw_id not in (scenario.caller, scenario.callee):
                self.ring(call, raw_id, scenario.caller)

    def ring(self, call: Call, target: str, caller: str) -> Call | None:
        """If ``target`` belongs to the resource, announce a call leg to it; answering that leg is the
        application taking the call in the target's place (the target then never joins ``call``)."""
        if not (call.behaviour.incoming_call_for_resource_identities and self.emulator.owns(target)):
            return None
        scenario = CallScenario(
            caller=caller,
            callee=target,
            participants=(ParticipantScript(raw_id=caller),),
            behaviour=call.scenario.behaviour,
        )
        leg = self.emulator.create_call(scenario, "inbound")
        leg.leg_of, leg.leg_target = call.server_call_id, target
        call.legs.append(leg.server_call_id)
        return leg

    def leg_answered(self, leg: Call) -> None:
        main = self.emulator.state.calls.get(leg.leg_of or "")
        participant = main.participants.get(leg.leg_target or "") if main is not None else None
        if main is None or participant is None:
            return
        main.legs_answered_by_application.append(participant.raw_id)
        if not participant.present:
            participant.left = True

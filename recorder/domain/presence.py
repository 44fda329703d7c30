"""Who is in the call: ACS's participant snapshots and reads, the call's own identities, rejoins.

The service's own identities (the number called, the identity that answered, configured ones) are listed by
ACS among the participants. They are kept as ``service``: never prompted, never in the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.decision import Decision
from recorder.domain.model import ALLOWS_RECORDING, CallState, Consent, ConsentPolicy, Participant

UNASKED = frozenset({Consent.PENDING, Consent.PROMPTED})


def is_own(state: CallState, policy: ConsentPolicy, raw_id: str) -> bool:
    return raw_id in state.own_identities or raw_id in policy.own_identities


def learn_own_identities(state: CallState, identities: Iterable[str]) -> CallState:
    """Remember who the service is in this call; anyone already listed as such becomes the service."""
    own = state.own_identities | frozenset(i for i in identities if i)
    participants = tuple(
        replace(p, consent=Consent.SERVICE) if p.raw_id in own and p.consent in UNASKED else p
        for p in state.participants
    )
    return replace(state, own_identities=own, participants=participants)


def participants_updated(state: CallState, event: ev.ParticipantsUpdated, policy: ConsentPolicy) -> Decision:
    if event.sequence_number is None or event.unreadable:
        return _unclear(state, event)
    if event.sequence_number <= state.participants_sequence:
        return Decision(state)  # a stale or repeated snapshot
    reported_at = event.reported_at or event.at
    sequenced = replace(state, participants_sequence=event.sequence_number)
    if state.participants_at is not None and reported_at < state.participants_at:
        return Decision(sequenced)  # older than the list we read from ACS
    return apply_snapshot(sequenced, event.participants, reported_at, policy)


def _unclear(state: CallState, event: ev.ParticipantsUpdated) -> Decision:
    """Unknown or unreadable: fail safe. Recording is held paused until ACS's own list has been read."""
    what = "no sequenceNumber" if event.sequence_number is None else f"{event.unreadable} unreadable"
    incident = fx.Incident("participants_unclear", f"a participant update with {what}", event.at)
    if state.participants_unclear:
        return Decision(state, records=(incident,))  # a read is already on its way
    return Decision(replace(state, participants_unclear=True), (fx.ReadCallState(),), (incident,))


def apply_snapshot(state: CallState, raw_ids: Iterable[str], at: datetime, policy: ConsentPolicy) -> Decision:
    """Everyone in ``raw_ids`` is present, nobody else; newcomers are added, rejoiners re-armed."""
    listed = list(dict.fromkeys(raw_ids))
    now_present = set(listed)
    updated: list[Participant] = []
    commands: list[fx.Command] = []
    records: list[fx.Record] = []
    for p in state.participants:
        if p.raw_id not in now_present:
            updated.append(replace(p, present=False))
        elif p.present:
            updated.append(p)
        else:
            updated.append(_rejoined(p))
            if p.consent is Consent.GRANTED:  # continuous DTMF ended when they left: listen again
                commands.append(fx.WatchForWithdrawal(p.raw_id))
    known = {p.raw_id for p in state.participants}
    for raw_id in listed:
        if raw_id in known:
            continue
        newcomer, record = _newcomer(state, raw_id, at, policy)
        updated.append(newcomer)
        records.extend(record)
    new_state = replace(state, participants=tuple(updated), participants_at=at)
    return Decision(new_state, tuple(commands), tuple(records))


def _newcomer(
    state: CallState, raw_id: str, at: datetime, policy: ConsentPolicy
) -> tuple[Participant, tuple[fx.Record, ...]]:
    if is_own(state, policy, raw_id):
        return Participant(raw_id, consent=Consent.SERVICE), ()
    reason = policy.exemption(raw_id)
    if reason is None:
        return Participant(raw_id), ()
    record = fx.ConsentRecorded(raw_id, Consent.EXEMPT, "policy", at, reason=reason)
    return Participant(raw_id, consent=Consent.EXEMPT, exempt_reason=reason), (record,)


def _rejoined(p: Participant) -> Participant:
    """Someone who left comes back: a consent that never became an answer is asked for again."""
    if p.consent in ALLOWS_RECORDING or p.consent in (Consent.DECLINED, Consent.WITHDRAWN):
        return replace(p, present=True)
    return replace(p, present=True, consent=Consent.PENDING, attempts=0, prompted_at=None, prompt=None)


def participants_read(state: CallState, read: ev.StateRead, policy: ConsentPolicy) -> Decision:
    """ACS's participant list, read now: it settles an unclear update, and corrects what callbacks missed."""
    if read.participants is None:
        return Decision(state)
    listed = set(read.participants)
    present = {p.raw_id for p in state.participants if p.present}
    if listed == present and not state.participants_unclear:
        return Decision(state)
    newer = state.participants_at is None or read.at > state.participants_at
    if not newer and not state.participants_unclear:
        return Decision(state)
    settled = replace(state, participants_unclear=False)
    if listed == present:
        return Decision(settled)
    found = fx.Incident("participants_read", _difference(present, listed), read.at)
    decision = apply_snapshot(settled, read.participants, read.at, policy)
    return Decision(decision.state, decision.commands, (found, *decision.records))


def _difference(before: set[str], after: set[str]) -> str:
    """Counts only: the audit chain keeps no numbers that erasure could not reach."""
    return f"{len(after - before)} joined, {len(before - after)} left, unreported"

"""Calls and their participants as the domain's ``CallState``, their consent ledger and recording
segments, and the inbox that de-duplicates their events. Never commits: the unit of work does."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from recorder.db.tables.calls import Call, CallParticipant, ConsentEntry, InboxEvent, RecordingSegment
from recorder.domain import effects as fx
from recorder.domain.model import CallPhase, CallState, Consent, Participant, Prompt, RecordingStatus

# What a call's state keeps in its row, and a participant's in theirs, under the same names and as they are
# (the rest is converted where the two functions below map them)
CALL_COLUMNS = (
    "server_call_id",
    "call_connection_id",
    "locale",
    "recording_id",
    "recording_reported",
    "recording_reported_at",
    "recording_first_at",
    "recording_pending",
    "recording_report_fresh",
    "recording_answered_at",
    "participants_sequence",
    "participants_at",
    "participants_unclear",
    "identities_known",
    "media_turn_at",
)
PARTICIPANT_COLUMNS = ("present", "consent", "attempts", "prompts_sent", "prompted_at", "exempt_reason")
PASS_LOCK_ID = 0x72636E6C  # "rcnl": one instance (or worker) reconciles at a time on PostgreSQL


class CallRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        # rows loaded by get(), for save(): the session's identity map holds them only weakly
        self._rows: dict[str, Call] = {}
        self._participants: dict[str, dict[str, CallParticipant]] = {}

    def add(
        self,
        state: CallState,
        now: datetime,
        *,
        direction: str,
        caller: str | None = None,
        callee: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        row = Call(
            id=state.call_id,
            server_call_id=state.server_call_id,
            correlation_id=correlation_id,
            direction=direction,
            caller=caller,
            callee=callee,
            created_at=now,
        )
        _write_call(row, state, now)
        self.session.add(row)
        self.session.flush()

    def get(self, call_id: str, *, lock: bool = False) -> CallState | None:
        """Load a call; ``lock`` holds its row until commit so one call's events apply one at a time."""
        query = select(Call).where(Call.id == call_id)
        if lock:
            query = query.with_for_update()
        row = self.session.scalars(query).one_or_none()
        if row is None:
            return None
        # Not joined into the locked SELECT: after waiting for the lock, PostgreSQL returns the call row as
        # the holder committed it but joined rows from before the wait, so a join would read participants
        # the holder had already changed (tests/e2e/test_chaos.py caught it: pause and resume in turn).
        participants = list(
            self.session.scalars(
                select(CallParticipant).where(CallParticipant.call_id == call_id).order_by(CallParticipant.id)
            )
        )
        self._rows[call_id] = row
        self._participants[call_id] = {p.raw_id: p for p in participants}
        return _state_of(row, participants)

    def live(self) -> list[tuple[CallState, str]]:
        """Every call ACS may still be running for us (connected or answering with a connection id), with
        its direction: one query for the calls, one for their participants. Not locked: a loop reads."""
        rows = list(
            self.session.scalars(
                select(Call).where(Call.phase != CallPhase.ENDED, Call.call_connection_id.is_not(None))
            )
        )
        by_call: dict[str, list[CallParticipant]] = {row.id: [] for row in rows}
        if rows:
            query = (
                select(CallParticipant)
                .where(CallParticipant.call_id.in_(list(by_call)))
                .order_by(CallParticipant.id)
            )
            for p in self.session.scalars(query):
                by_call[p.call_id].append(p)
        return [(_state_of(row, by_call[row.id]), row.direction) for row in rows]

    def save(self, state: CallState, now: datetime) -> None:
        row = self._rows.get(state.call_id) or self.session.get_one(Call, state.call_id)
        if row.phase != CallPhase.ENDED and state.phase is CallPhase.ENDED:
            row.ended_at = now
        _write_call(row, state, now)
        existing = self._participants.get(state.call_id)
        if existing is None:
            query = select(CallParticipant).where(CallParticipant.call_id == state.call_id)
            existing = {p.raw_id: p for p in self.session.scalars(query)}
        for p in state.participants:
            target = existing.get(p.raw_id) or CallParticipant(call_id=state.call_id, raw_id=p.raw_id)
            for name in PARTICIPANT_COLUMNS:
                setattr(target, name, getattr(p, name))
            target.prompt = None if p.prompt is None else dataclasses.asdict(p.prompt)
            self.session.add(target)
        self.session.flush()

    def id_for_connection(self, call_connection_id: str) -> str | None:
        return self.session.scalar(select(Call.id).where(Call.call_connection_id == call_connection_id))

    def connection_of(self, call_id: str) -> str | None:
        return self.session.scalar(select(Call.call_connection_id).where(Call.id == call_id))

    def row(self, call_id: str) -> Call | None:
        return self.session.get(Call, call_id)

    def live_for_server_call(self, server_call_id: str) -> str | None:
        """The first call with that server call id the service has not ended (connected or connecting)."""
        return self.session.scalar(
            select(Call.id)
            .where(Call.server_call_id == server_call_id, Call.phase != CallPhase.ENDED)
            .order_by(Call.created_at)
            .limit(1)
        )

    def anyone_consented(self, call_id: str, outcomes: Iterable[str]) -> bool:
        """Someone in the call is (or was last) of one of these consent outcomes."""
        query = exists().where(
            CallParticipant.call_id == call_id, CallParticipant.consent.in_(sorted(outcomes))
        )
        return bool(self.session.scalar(select(query)))

    @contextmanager
    def pass_lock(self) -> Iterator[bool]:
        """One reconciliation pass at a time across instances and workers (PostgreSQL; SQLite has one
        process): a session-level advisory lock on a connection of its own, so it is held for the whole pass
        while the pass's units of work come and go."""
        engine = self.session.get_bind().engine
        if engine.dialect.name != "postgresql":
            yield True
            return
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            got = bool(connection.scalar(select(func.pg_try_advisory_lock(PASS_LOCK_ID))))
            try:
                yield got
            finally:
                if got:
                    connection.scalar(select(func.pg_advisory_unlock(PASS_LOCK_ID)))


class LedgerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, state: CallState, record: fx.ConsentRecorded, event_id: str | None, now: datetime) -> None:
        prompt = record.prompt
        self.session.add(
            ConsentEntry(
                call_id=state.call_id,
                call_connection_id=state.call_connection_id,
                server_call_id=state.server_call_id,
                participant=record.participant,
                outcome=record.outcome,
                method=record.method,
                reason=record.reason,
                dtmf=record.dtmf,
                prompt_id=prompt.id if prompt else None,
                prompt_version=prompt.version if prompt else None,
                locale=prompt.locale if prompt else None,
                prompt_sha256=prompt.sha256 if prompt else None,
                prompted_at=record.prompted_at,
                decided_at=record.decided_at,
                event_id=event_id,
                recorded_at=now,
            )
        )

    def add_segment(self, call_id: str, record: fx.SegmentRecorded, event_id: str | None) -> None:
        self.session.add(
            RecordingSegment(
                call_id=call_id,
                recording_id=record.recording_id,
                kind=record.kind,
                at=record.at,
                event_id=event_id,
            )
        )


class InboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, channel: str, event_id: str, event_type: str, call_id: str | None, now: datetime) -> bool:
        """Insert-or-ignore; True only for the first delivery of this event id."""
        values = {
            "channel": channel,
            "event_id": event_id,
            "event_type": event_type,
            "call_id": call_id,
            "received_at": now,
        }
        insert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        inbox = InboxEvent.metadata.tables["inbox"]  # Core, not the ORM: this runs once per event
        statement = insert(inbox).values(**values).on_conflict_do_nothing().returning(inbox.c.event_id)
        return self.session.execute(statement).first() is not None


def _write_call(row: Call, state: CallState, now: datetime) -> None:
    for name in CALL_COLUMNS:  # server_call_id too: an outbound call learns it once ACS has placed it
        setattr(row, name, getattr(state, name))
    row.phase = state.phase
    row.recording = state.recording
    row.own_identities = sorted(state.own_identities)
    row.updated_at = now


def _state_of(row: Call, participants: list[CallParticipant]) -> CallState:
    return CallState(
        call_id=row.id,
        phase=CallPhase(row.phase),
        recording=RecordingStatus(row.recording),
        own_identities=frozenset(row.own_identities or ()),
        participants=tuple(
            Participant(
                raw_id=p.raw_id,
                consent=Consent(p.consent),
                prompt=None if p.prompt is None else Prompt(**p.prompt),
                **{name: getattr(p, name) for name in PARTICIPANT_COLUMNS if name != "consent"},
            )
            for p in participants
        ),
        **{name: getattr(row, name) for name in CALL_COLUMNS},
    )

"""Repositories over one SQLAlchemy session. They never commit: the unit of work does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from recorder.db import codec
from recorder.db.call_repository import CallRepository
from recorder.db.tables.audit import AuditEntry, AuditPending
from recorder.db.tables.calls import ConsentEntry, InboxEvent, OutboxCommand, RecordingSegment
from recorder.domain import audit_chain
from recorder.domain import effects as fx
from recorder.domain.model import CallState

__all__ = ["AuditRepository", "CallRepository", "InboxRepository", "LedgerRepository", "OutboxRepository"]

AUDIT_LOCK_ID = 0x61756474  # "audt": serializes chain appends across PostgreSQL connections


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


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, call_id: str, command: fx.Command, now: datetime) -> str:
        kind, payload = codec.encode(command)
        command_id = str(uuid.uuid4())
        self.session.add(
            OutboxCommand(
                id=command_id,
                call_id=call_id,
                kind=kind,
                payload=payload,
                status="pending",
                attempts=0,
                available_at=now,
                created_at=now,
            )
        )
        return command_id

    def next_ready(self, now: datetime, limit: int) -> list[OutboxCommand]:
        """The first unfinished command of each call whose turn has come and that nobody is running."""
        first_per_call = (
            select(func.min(OutboxCommand.seq))
            .where(OutboxCommand.status == "pending")
            .group_by(OutboxCommand.call_id)
            .scalar_subquery()
        )
        query = (
            select(OutboxCommand)
            .where(OutboxCommand.seq.in_(first_per_call))
            .where(OutboxCommand.available_at <= now)
            .where((OutboxCommand.claimed_until.is_(None)) | (OutboxCommand.claimed_until < now))
            .order_by(OutboxCommand.seq)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def claim_ready(self, now: datetime, limit: int, lease: timedelta) -> list[tuple[str, str]]:
        """Claim up to ``limit`` ready commands, at most one per call: ``[(command id, call id)]``.

        PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so instances polling together take different rows instead
        of queueing on each other's locks; ``status = 'pending'`` is in the outer query because PostgreSQL
        re-checks it on a row another instance has just finished. A call's next command is never ready
        while its first is pending or leased (claimed, in flight), so per-call order holds across
        instances. SQLite: the unit of work's BEGIN IMMEDIATE already serialises whole claims.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            rows = self.next_ready(now, limit)
            return [(c.id, c.call_id) for c in rows if self.claim(c.id, now, lease)]
        first_per_call = (
            select(func.min(OutboxCommand.seq))
            .where(OutboxCommand.status == "pending")
            .group_by(OutboxCommand.call_id)
            .scalar_subquery()
        )
        ready = self.session.execute(
            select(OutboxCommand.id, OutboxCommand.call_id)
            .where(OutboxCommand.seq.in_(first_per_call), OutboxCommand.status == "pending")
            .where(OutboxCommand.available_at <= now)
            .where((OutboxCommand.claimed_until.is_(None)) | (OutboxCommand.claimed_until < now))
            .order_by(OutboxCommand.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if ready:
            self.session.execute(
                update(OutboxCommand)
                .where(OutboxCommand.id.in_([command_id for command_id, _ in ready]))
                .values(**_claimed(now, lease))
            )
        return [(command_id, call_id) for command_id, call_id in ready]

    def claim(self, command_id: str, now: datetime, lease: timedelta) -> bool:
        result = self.session.execute(
            update(OutboxCommand)
            .where(OutboxCommand.id == command_id, OutboxCommand.status == "pending")
            .where((OutboxCommand.claimed_until.is_(None)) | (OutboxCommand.claimed_until < now))
            .values(**_claimed(now, lease))
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    def finish(self, command_id: str, status: str, now: datetime, error: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "completed_at": now, "claimed_until": None}
        if error is not None:
            values["last_error"] = error
        self.session.execute(update(OutboxCommand).where(OutboxCommand.id == command_id).values(**values))

    def retry_later(self, command_id: str, available_at: datetime, error: str) -> None:
        self.session.execute(
            update(OutboxCommand)
            .where(OutboxCommand.id == command_id)
            .values(available_at=available_at, claimed_until=None, last_error=error)
        )

    def stats(self, now: datetime) -> tuple[int, float]:
        """Pending depth and the age in seconds of the oldest pending command."""
        depth, oldest = self.session.execute(
            select(func.count(), func.min(OutboxCommand.created_at)).where(OutboxCommand.status == "pending")
        ).one()
        if oldest is None:
            return int(depth), 0.0
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=now.tzinfo)
        return int(depth), max(0.0, (now - oldest).total_seconds())


def _claimed(now: datetime, lease: timedelta) -> dict[str, Any]:
    """A claim's SET clause; its right-hand sides read the row as it was before the claim."""
    return {
        "claimed_until": now + lease,
        "attempts": OutboxCommand.attempts + 1,
        "first_attempt_at": func.coalesce(
            OutboxCommand.first_attempt_at, literal(now, type_=OutboxCommand.first_attempt_at.type)
        ),
        # still leased by an attempt that never reported back: it crashed, maybe after ACS ran the command
        "in_doubt": OutboxCommand.claimed_until.is_not(None),
    }


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def append(
        self, actor: str, action: str, call_id: str | None, data: dict[str, Any], now: datetime
    ) -> int:
        seq, prev = self._lock_and_read_head()
        self._link(seq + 1, prev, now, actor, action, call_id, data)
        self.session.flush()
        return seq + 1

    def defer(
        self, actor: str, action: str, call_id: str | None, data: dict[str, Any], now: datetime
    ) -> None:
        """Write an entry for the sealer to chain: no global lock held until this transaction commits."""
        pending = AuditPending.metadata.tables["audit_pending"]
        self.session.execute(
            insert(pending).values(at=now, actor=actor, action=action, call_id=call_id, data=data)
        )

    def pending(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(AuditPending)) or 0)

    def seal(self, limit: int = 1000) -> int:
        """Chain the oldest pending entries, in the order they were written; the caller commits."""
        if self.session.scalar(select(AuditPending.id).limit(1)) is None:
            return 0
        seq, prev = self._lock_and_read_head()
        rows = self.session.scalars(select(AuditPending).order_by(AuditPending.id).limit(limit)).all()
        for row in rows:
            seq += 1
            prev = self._link(seq, prev, row.at, row.actor, row.action, row.call_id, row.data)
        self.session.flush()
        self.session.execute(delete(AuditPending).where(AuditPending.id.in_([r.id for r in rows])))
        return len(rows)

    def _lock_and_read_head(self) -> tuple[int, str]:
        """Serialize chain appends across connections, then read the last (seq, hash)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": AUDIT_LOCK_ID})
        last = self.session.execute(
            select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc())
        ).first()
        return (int(last[0]), str(last[1])) if last else (0, audit_chain.GENESIS)

    def _link(
        self,
        seq: int,
        prev: str,
        at: datetime,
        actor: str,
        action: str,
        call_id: str | None,
        data: dict[str, Any],
    ) -> str:
        """Add the entry at ``seq`` after the one whose hash is ``prev``; returns its own hash."""
        digest = audit_chain.entry_hash(prev, audit_chain.canonical(seq, at, actor, action, call_id, data))
        self.session.add(
            AuditEntry(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                call_id=call_id,
                data=data,
                prev_hash=prev,
                hash=digest,
            )
        )
        return digest

    def entries(self, batch: int = 5000) -> Iterator[audit_chain.ChainEntry]:
        last = 0
        while True:
            rows = self.session.scalars(
                select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
            ).all()
            if not rows:
                return
            for r in rows:
                yield audit_chain.ChainEntry(
                    r.seq, r.at, r.actor, r.action, r.call_id, r.data, r.prev_hash, r.hash
                )
            last = rows[-1].seq

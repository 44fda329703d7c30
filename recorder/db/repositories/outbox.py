"""The command outbox: queued with the state change, claimed under a lease, settled by the dispatcher.
Commands are kept as their class name and their fields as JSON."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session

from recorder.db import leases
from recorder.db.leases import backlog, lease_values, unleased
from recorder.db.tables.calls import OutboxCommand
from recorder.domain import effects as fx
from recorder.domain.model import Prompt


@dataclass(frozen=True)
class QueuedCommand:
    command: fx.Command
    attempts: int
    in_doubt: bool
    first_attempt_at: datetime | None


COMMAND_TYPES: dict[str, type[fx.Command]] = {
    cls.__name__: cls
    for cls in (
        fx.AnswerCall,
        fx.ConnectCall,
        fx.CreateCall,
        fx.PromptParticipant,
        fx.WatchForWithdrawal,
        fx.StartRecording,
        fx.PauseRecording,
        fx.ResumeRecording,
        fx.StopRecording,
        fx.HangUp,
        fx.ReadCallState,
    )
}


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, call_id: str, command: fx.Command, now: datetime) -> str:
        kind, payload = type(command).__name__, dataclasses.asdict(command)
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

    def load(self, command_id: str) -> QueuedCommand:
        """A claimed command as the dispatcher runs it."""
        row = self.session.scalars(select(OutboxCommand).where(OutboxCommand.id == command_id)).one()
        return QueuedCommand(decode(row.kind, row.payload), row.attempts, row.in_doubt, row.first_attempt_at)

    def claim_ready(self, now: datetime, limit: int, lease: timedelta) -> list[tuple[str, str]]:
        """Claim up to ``limit`` ready commands, at most one per call: ``[(command id, call id)]``.

        Ready: the first unfinished command of its call, its turn come, nobody running it. A call's next
        command is never ready while its first is pending or leased (claimed, in flight), so per-call order
        holds across instances. PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so instances polling together take
        different rows instead of queueing on each other's locks; ``status = 'pending'`` is in the outer
        query because PostgreSQL re-checks it on a row another instance has just finished. SQLite: the unit
        of work's BEGIN IMMEDIATE already serialises whole claims; each row is taken by the one lease rule.
        """
        first_per_call = (
            select(func.min(OutboxCommand.seq))
            .where(OutboxCommand.status == "pending")
            .group_by(OutboxCommand.call_id)
            .scalar_subquery()
        )
        ready = (
            select(OutboxCommand.id, OutboxCommand.call_id)
            .where(OutboxCommand.seq.in_(first_per_call), OutboxCommand.status == "pending")
            .where(OutboxCommand.available_at <= now)
            .where(unleased(OutboxCommand, now))
            .order_by(OutboxCommand.seq)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name != "postgresql":
            rows = self.session.execute(ready).all()
            return [(c, call) for c, call in rows if self.claim(c, now, lease)]
        taken = self.session.execute(ready.with_for_update(skip_locked=True)).all()
        if taken:
            self.session.execute(
                update(OutboxCommand)
                .where(OutboxCommand.id.in_([command_id for command_id, _ in taken]))
                .values(**lease_values(OutboxCommand, now, lease), **_first_attempt(now))
            )
        return [(command_id, call_id) for command_id, call_id in taken]

    def claim_next(self, call_id: str, now: datetime, lease: timedelta) -> str | None:
        """Claim the call's first unfinished command if it is ready (its turn come, nobody running it), for
        the caller to run at once. The caller holds the call's lock; the dispatcher's own claims skip a row
        taken here (the lease), and this UPDATE takes nothing they hold (its WHERE reads the row again)."""
        head = self.session.scalar(
            select(OutboxCommand.id)
            .where(OutboxCommand.call_id == call_id, OutboxCommand.status == "pending")
            .order_by(OutboxCommand.seq)
            .limit(1)
        )
        return head if head is not None and self.claim(head, now, lease) else None

    def claim(self, command_id: str, now: datetime, lease: timedelta) -> bool:
        """Lease the command if it is pending, its turn has come and nobody holds it."""
        ready = (OutboxCommand.id == command_id) & (OutboxCommand.status == "pending")
        ready &= OutboxCommand.available_at <= now
        return leases.claim(self.session, OutboxCommand, ready, now, lease, **_first_attempt(now))

    def finish(self, command_id: str, status: str, now: datetime, error: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "completed_at": now, "claimed_until": None}
        if error is not None:
            values["last_error"] = error
        self.session.execute(update(OutboxCommand).where(OutboxCommand.id == command_id).values(**values))

    def retry_later(self, command_id: str, available_at: datetime, error: str) -> None:
        leases.release(
            self.session, OutboxCommand, OutboxCommand.id == command_id, available_at, last_error=error
        )

    def stats(self, now: datetime) -> tuple[int, float]:
        """Pending depth and the age in seconds of the oldest pending command."""
        return backlog(self.session, OutboxCommand, now)


def _first_attempt(now: datetime) -> dict[str, Any]:
    """More of a claim's SET clause; its right-hand sides read the row as it was before the claim."""
    return {
        "first_attempt_at": func.coalesce(
            OutboxCommand.first_attempt_at, literal(now, type_=OutboxCommand.first_attempt_at.type)
        ),
        # still leased by an attempt that never reported back: it crashed, maybe after ACS ran the command
        "in_doubt": OutboxCommand.claimed_until.is_not(None),
    }


def decode(kind: str, payload: dict[str, Any]) -> fx.Command:
    fields = dict(payload)
    if "prompt" in fields:
        fields["prompt"] = Prompt(**fields["prompt"])
    return COMMAND_TYPES[kind](**fields)

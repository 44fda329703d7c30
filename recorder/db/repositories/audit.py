"""The audit hash chain: pending entries, linking under one lock, reading it back."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from recorder.db.tables.audit import AuditEntry, AuditPending
from recorder.domain import audit_chain

AUDIT_LOCK_ID = 0x61756474  # "audt": serializes chain appends across PostgreSQL connections


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

    def seal_pending(self) -> None:
        """Chain every pending entry (an auditor's read, an anchor, an erasure must see them all)."""
        while self.seal():
            pass

    def head(self) -> tuple[int, str] | None:
        """The chain's last (seq, hash); None while it is empty."""
        row = self.session.execute(
            select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc())
        ).first()
        return (int(row[0]), str(row[1])) if row else None

    def _lock_and_read_head(self) -> tuple[int, str]:
        """Serialize chain appends across connections, then read the last (seq, hash)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": AUDIT_LOCK_ID})
        return self.head() or (0, audit_chain.GENESIS)

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
        entry = audit_chain.link(prev, seq, at, actor, action, call_id, data)
        self.session.add(AuditEntry(**vars(entry)))  # the row's columns are the entry's fields
        return entry.hash

    def entries(self, batch: int = 5000) -> Iterator[audit_chain.ChainEntry]:
        last = 0
        while True:
            rows = self.session.scalars(
                select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
            ).all()
            if not rows:
                return
            yield from (_chain_entry(r) for r in rows)
            last = rows[-1].seq

    def containing(self, forms: Iterable[str]) -> list[audit_chain.ChainEntry]:
        """Entries whose data, as text, contains any of ``forms`` (candidates: the caller checks)."""
        text = cast(AuditEntry.data, Text)
        rows = self.session.scalars(
            select(AuditEntry)
            .where(or_(*(text.contains(form, autoescape=True) for form in forms)))
            .order_by(AuditEntry.seq)
        )
        return [_chain_entry(r) for r in rows]

    def tombstone(self, seq: int, data: dict[str, Any]) -> None:
        """The one change the audit triggers allow: an entry's data replaced by its tombstone."""
        self.session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(data=data))


def _chain_entry(r: AuditEntry) -> audit_chain.ChainEntry:
    return audit_chain.ChainEntry(r.seq, r.at, r.actor, r.action, r.call_id, r.data, r.prev_hash, r.hash)

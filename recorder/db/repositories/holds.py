"""Legal holds on calls. Never commits: the unit of work does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from recorder.db.tables.compliance import LegalHold


class HoldRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def is_on_hold(self, call_id: str) -> bool:
        """True while the call has a hold that nobody has released."""
        return self.active(call_id) is not None

    def active(self, call_id: str) -> LegalHold | None:
        query = select(LegalHold).where(LegalHold.call_id == call_id, LegalHold.released_at.is_(None))
        return self.session.scalars(query.limit(1)).first()

    def of(self, call_id: str) -> list[LegalHold]:
        """Every hold the call has had, oldest first."""
        query = select(LegalHold).where(LegalHold.call_id == call_id).order_by(LegalHold.id)
        return list(self.session.scalars(query))

    def place(self, call_id: str, reason: str, actor: str, now: datetime, blob_hold: str) -> LegalHold:
        hold = LegalHold(call_id=call_id, reason=reason, set_by=actor, set_at=now, blob_hold=blob_hold)
        self.session.add(hold)
        self.session.flush()
        return hold

    def release(self, hold_id: int, actor: str, now: datetime, reason: str) -> LegalHold:
        hold = self.session.get_one(LegalHold, hold_id)
        hold.released_at, hold.released_by, hold.release_reason = now, actor, reason
        self.session.flush()
        return hold

"""Which calls a service key may act on: those it started and those it was granted. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from recorder.db.tables.access import ApiKey, CallGrant
from recorder.db.tables.recording_requests import RecordingRequest


class GrantRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def may_act(self, key_id: str, call_id: str, starting_kinds: Sequence[str]) -> bool:
        """The key started the call (a request of one of ``starting_kinds``) or was granted it."""
        started = exists().where(
            RecordingRequest.call_id == call_id,
            RecordingRequest.key_id == key_id,
            RecordingRequest.kind.in_(starting_kinds),
        )
        granted = exists().where(CallGrant.call_id == call_id, CallGrant.key_id == key_id)
        return bool(self.session.scalar(select(started | granted)))

    def key_exists(self, key_id: str) -> bool:
        return self.session.get(ApiKey, key_id) is not None

    def grant(self, call_id: str, key_id: str, actor: str, now: datetime) -> tuple[CallGrant, bool]:
        """The grant, and whether it is new (granting twice keeps the first grant)."""
        row = self.session.get(CallGrant, (call_id, key_id))
        if row is not None:
            return row, False
        row = CallGrant(call_id=call_id, key_id=key_id, granted_by=actor, granted_at=now)
        self.session.add(row)
        self.session.flush()
        return row, True

    def revoke(self, call_id: str, key_id: str) -> bool:
        query = delete(CallGrant).where(CallGrant.call_id == call_id, CallGrant.key_id == key_id)
        return bool(getattr(self.session.execute(query), "rowcount", 0))

"""What an erasure reads and rewrites: every place a participant's raw id stands. Never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from recorder.db.tables.calls import Call, CallParticipant, ConsentEntry
from recorder.db.tables.compliance import ErasureTombstone


class ErasureRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def calls_of(self, raw_id: str) -> set[str]:
        """Every call the raw id took part in, consented in, called or was called in."""
        calls = set(
            self.session.scalars(select(CallParticipant.call_id).where(CallParticipant.raw_id == raw_id))
        )
        calls |= set(
            self.session.scalars(select(ConsentEntry.call_id).where(ConsentEntry.participant == raw_id))
        )
        named = or_(Call.caller == raw_id, Call.callee == raw_id)
        return calls | set(self.session.scalars(select(Call.id).where(named)))

    def ledger_rows(self, raw_id: str) -> list[int]:
        query = select(ConsentEntry.id).where(ConsentEntry.participant == raw_id)
        return sorted(self.session.scalars(query).all())

    def pseudonymise(self, raw_id: str, pseudonym: str) -> None:
        self.session.execute(
            update(ConsentEntry)
            .where(ConsentEntry.participant == raw_id)
            .values(participant=pseudonym, dtmf=None, reason=None)
        )
        participants = update(CallParticipant).where(CallParticipant.raw_id == raw_id)
        self.session.execute(participants.values(raw_id=pseudonym))
        self.session.execute(update(Call).where(Call.caller == raw_id).values(caller=pseudonym))
        self.session.execute(update(Call).where(Call.callee == raw_id).values(callee=pseudonym))

    def record(
        self, subject: str, by: str, at: datetime, seq: int, rows: list[int], entries: list[int]
    ) -> None:
        """What the erasure left behind: hashes only."""
        tombstone = ErasureTombstone(
            subject_sha256=subject,
            requested_by=by,
            erased_at=at,
            audit_seq=seq,
            ledger_rows=rows,
            audit_entries=entries,
        )
        self.session.add(tombstone)
        self.session.flush()

"""A participant's erasure request: their identity leaves the ledger, the calls and the audit trail, while the
audit chain still verifies.

- Ledger rows, participants and calls keep their shape; the raw id becomes ``erased:<first 16 hex of
  sha256(raw id)>`` and the pressed key and free-text reason are cleared.
- Audit entries are append-only, so their content cannot be re-hashed after redaction. Instead an erasure
  entry is appended first, listing every affected entry's seq, hash and the sha256 of its old content; then
  each affected entry's ``data`` becomes a tombstone ``{"erased": true, "erasure_seq": N, ...}`` (the one
  UPDATE the database triggers allow). ``audit_chain.verify`` accepts a tombstone only if the erasure entry
  at N, itself hash-checked, lists it with that hash; the hashes that link the chain never change.
- Nothing is erased while any of the participant's calls is on legal hold: the request is refused whole.
- A number the service holds nothing about (no call, ledger row or audit entry) is refused as unknown: erasing
  it would write that number's pseudonym into the chain for good. ``force`` (admins only, decided by the web)
  erases anyway, and the erasure entry says it was forced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, quote_plus

from sqlalchemy import Text, cast, or_, select, update
from sqlalchemy.orm import Session

from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.calls import Call, CallParticipant, ConsentEntry
from recorder.db.tables.compliance import ErasureTombstone
from recorder.db.unit_of_work import UnitOfWork
from recorder.domain import audit_chain
from recorder.services.compliance.holds import is_on_hold
from recorder.services.errors import Conflict, NotFound


class ErasureRefused(Conflict):
    """The participant's calls are on legal hold; ``details["calls"]`` names them."""


class UnknownParticipant(NotFound):
    """Nothing is held about this participant, so there is nothing to erase (unless forced)."""

    def __init__(self) -> None:
        super().__init__(
            "unknown_participant",
            "the service holds no data for this participant: no call, consent or audit entry names it; "
            'nothing was erased (an admin can force the erasure with "force": true)',
        )


def subject_hash(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode()).hexdigest()


def erase_participant(
    uow: UnitOfWork, raw_id: str, actor: str, now: datetime, *, force: bool = False
) -> dict[str, Any]:
    """Erase one participant; the caller commits. Raises ErasureRefused on a legal hold and, unless
    ``force``, UnknownParticipant when nothing names them; either way nothing is written."""
    session = uow.session
    subject = subject_hash(raw_id)
    pseudonym = f"erased:{subject[:16]}"
    call_ids = _calls_not_on_hold(session, raw_id)
    ledger_ids = sorted(
        session.scalars(select(ConsentEntry.id).where(ConsentEntry.participant == raw_id)).all()
    )
    uow.audit.seal_pending()  # entries still pending would escape the tombstones
    listed = [_listed(e) for e in _audit_entries_mentioning(uow, raw_id)]
    if not (call_ids or ledger_ids or listed or force):
        raise UnknownParticipant()
    erasure = {
        "subject_sha256": subject,
        "entries": listed,
        "ledger_rows": ledger_ids,
        "calls": len(call_ids),
        "forced": force,
    }
    erasure_seq = uow.audit.append(actor, audit_chain.ERASURE_ACTION, None, erasure, now)
    for item in listed:
        tombstone = {"erased": True, "erasure_seq": erasure_seq, "content_sha256": item["content_sha256"]}
        session.execute(update(AuditEntry).where(AuditEntry.seq == item["seq"]).values(data=tombstone))
    _pseudonymise(session, raw_id, pseudonym)
    session.add(
        ErasureTombstone(
            subject_sha256=subject,
            requested_by=actor,
            erased_at=now,
            audit_seq=erasure_seq,
            ledger_rows=ledger_ids,
            audit_entries=[item["seq"] for item in listed],
        )
    )
    session.flush()
    return {
        "subject_sha256": subject,
        "pseudonym": pseudonym,
        "erasure_seq": erasure_seq,
        "ledger_rows": len(ledger_ids),
        "audit_entries": len(listed),
        "calls": len(call_ids),
        "forced": force,
    }


def _calls_not_on_hold(session: Session, raw_id: str) -> set[str]:
    """The participant's calls; raises ErasureRefused (nothing written) when any is on legal hold."""
    call_ids = set(session.scalars(select(CallParticipant.call_id).where(CallParticipant.raw_id == raw_id)))
    call_ids |= set(session.scalars(select(ConsentEntry.call_id).where(ConsentEntry.participant == raw_id)))
    call_ids |= set(session.scalars(select(Call.id).where(or_(Call.caller == raw_id, Call.callee == raw_id))))
    held = sorted(c for c in call_ids if is_on_hold(session, c))
    if held:
        connections = [session.get_one(Call, c).call_connection_id or c for c in held]
        raise ErasureRefused("legal_hold", "calls of this participant are on legal hold", calls=connections)
    return call_ids


def _listed(e: AuditEntry) -> dict[str, Any]:
    content = audit_chain.canonical(e.seq, e.at, e.actor, e.action, e.call_id, e.data)
    return {"seq": e.seq, "hash": e.hash, "content_sha256": hashlib.sha256(content).hexdigest()}


def _pseudonymise(session: Session, raw_id: str, pseudonym: str) -> None:
    session.execute(
        update(ConsentEntry)
        .where(ConsentEntry.participant == raw_id)
        .values(participant=pseudonym, dtmf=None, reason=None)
    )
    session.execute(update(CallParticipant).where(CallParticipant.raw_id == raw_id).values(raw_id=pseudonym))
    session.execute(update(Call).where(Call.caller == raw_id).values(caller=pseudonym))
    session.execute(update(Call).where(Call.callee == raw_id).values(callee=pseudonym))


def _audit_entries_mentioning(uow: UnitOfWork, raw_id: str) -> list[AuditEntry]:
    """Entries whose data names the raw id, as itself or URL-encoded (the query strings of audited reads)."""
    forms = {raw_id, quote(raw_id, safe=""), quote_plus(raw_id)}
    text = cast(AuditEntry.data, Text)
    candidates = uow.session.scalars(
        select(AuditEntry)
        .where(or_(*(text.contains(form, autoescape=True) for form in forms)))
        .order_by(AuditEntry.seq)
    )
    return [
        e
        for e in candidates
        if not audit_chain.is_tombstone(e.data) and any(form in json.dumps(e.data) for form in forms)
    ]


class Erasures:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Callable[[], datetime]) -> None:
        self._uow, self._clock = unit_of_work, clock

    def erase(self, raw_id: str, actor: str, *, force: bool = False) -> dict[str, Any]:
        """Erase a participant in one transaction; nothing written when refused (see erase_participant)."""
        with self._uow() as uow:
            result = erase_participant(uow, raw_id, actor, self._clock(), force=force)
            uow.commit()
        return result
